//! The dashboard (`GET /ui` on the admin plane): pending calls with
//! approve / reject buttons, live updates over SSE (`/ui/events`), recent
//! decisions, tape integrity and refusal counters. Plain HTML, CSS and a
//! little JavaScript embedded in the binary — no build step, no CDN — served
//! as separate files so the CSP allows no inline script or style.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::{BodyExt, Full};

use crate::proxy::ProxyBody;

const PAGE: &str = include_str!("ui.html");
const SCRIPT: &str = include_str!("ui.js");
const STYLE: &str = include_str!("ui.css");

/// Only the dashboard's own files and its own API: no inline code, no
/// other origin, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; \
                       frame-ancestors 'none'";

/// The static shell (page, script, style) for `GET path`, when it is one;
/// it carries no data and is served before authentication.
pub fn shell(method: &http::Method, path: &str) -> Option<Response<ProxyBody>> {
    if method != http::Method::GET {
        return None;
    }
    match path {
        "/ui" => Some(page()),
        "/ui/app.js" => Some(script()),
        "/ui/app.css" => Some(style()),
        _ => None,
    }
}

/// The page.
pub fn page() -> Response<ProxyBody> {
    asset(PAGE, "text/html; charset=utf-8")
}

/// `/ui/app.js`.
pub fn script() -> Response<ProxyBody> {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `/ui/app.css`.
pub fn style() -> Response<ProxyBody> {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_inline_is_allowed_or_needed() {
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
        assert!(!PAGE.contains("<script>") && !PAGE.contains("<style>"));
        for inline in ["style=", "onclick=", "onload=", "onerror=", "javascript:"] {
            assert!(!PAGE.contains(inline), "{inline}");
        }
        assert!(!SCRIPT.contains("innerHTML"), "values are rendered as text");
    }
}
