//! Refusals and errors as clients see them: a status, a stable machine code
//! and a message saying what to do, rendered as a JSON problem body.

use std::borrow::Cow;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::proxy::ProxyBody;

/// A refusal: everything a client and the tape need to know about it.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine code (`upstream_unavailable`, `rate_limited`, …).
    pub code: &'static str,
    /// Human-readable explanation and next step.
    pub message: Cow<'static, str>,
    /// Extra JSON members (`retry_after_seconds`, `required_scope`, …).
    pub extra: Option<serde_json::Map<String, serde_json::Value>>,
    /// Extra response headers (`Retry-After`, …).
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
}

impl Problem {
    /// A problem with a status, code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
            extra: None,
            headers: Vec::new(),
        }
    }

    /// Adds one extra member to the JSON body.
    pub fn with(mut self, key: &str, value: serde_json::Value) -> Problem {
        self.extra
            .get_or_insert_with(Default::default)
            .insert(key.to_owned(), value);
        self
    }

    /// The JSON body: `{"ok": false, "error": code, "message": …, …extra}`.
    pub fn body(&self) -> Bytes {
        let mut map = serde_json::Map::new();
        map.insert("ok".into(), false.into());
        map.insert("error".into(), self.code.into());
        map.insert("message".into(), self.message.as_ref().into());
        if let Some(extra) = &self.extra {
            map.extend(extra.clone());
        }
        Bytes::from(serde_json::Value::Object(map).to_string())
    }

    /// Renders the problem as an HTTP response.
    pub fn into_response(self) -> Response<ProxyBody> {
        let body = self.body();
        let mut response = Response::new(Full::new(body).map_err(|e| match e {}).boxed());
        *response.status_mut() = self.status;
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// A small JSON response (used by the admin plane too).
pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(value.to_string()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The refusal given when the tape cannot record a decision.
pub fn tape_problem() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "tape_unavailable",
        "the decision tape cannot be written, so nothing is run; check disk space and the sidecar's log",
    )
}

/// The answer given when the tape cannot record a decision.
pub fn tape_unavailable() -> Response<ProxyBody> {
    tape_problem().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_code_message_and_extras() {
        let p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "slow down")
            .with("retry_after_seconds", 3.into());
        let v: serde_json::Value = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], "rate_limited");
        assert_eq!(v["retry_after_seconds"], 3);
    }
}
