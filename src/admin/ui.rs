//! The dashboard page (`GET /ui` on the admin plane): pending calls with
//! approve / reject buttons, live updates over SSE (`/ui/events`), recent
//! decisions, tape integrity and refusal counters. Plain HTML, CSS and a
//! little JavaScript embedded in the binary: no build step, no CDN.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::{BodyExt, Full};

use crate::proxy::ProxyBody;

const PAGE: &str = include_str!("ui.html");

/// The page.
pub fn page() -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(PAGE.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
