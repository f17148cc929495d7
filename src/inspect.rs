//! Reading a request body the sidecar must look at (JSON tool calls), with a
//! size cap and a deadline; everything else is streamed untouched.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::config::InspectMode;
use crate::problem::Problem;

/// True when the request declares a JSON body.
pub fn declares_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let essence = ct.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
        })
        .unwrap_or(false)
}

/// True when a request that carries a body should have it read and
/// classified on a route with this inspection mode.
pub fn wants_inspection(mode: InspectMode, headers: &HeaderMap) -> bool {
    match mode {
        InspectMode::All => true,
        InspectMode::Json => declares_json(headers),
    }
}

/// Collects the whole body, refusing it when it exceeds `limit` bytes or
/// does not arrive within `timeout`.
pub async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Problem> {
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await;
    match collected {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "request body exceeds the {limit}-byte inspection limit; send less, \
                 or raise limits.max_inspect_body_bytes"
            ),
        )),
        Ok(Err(_)) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "body_read_failed",
            "the request body could not be read (the client closed or reset the stream)",
        )),
        Err(_) => Err(Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} ms; send it faster, \
                 or raise limits.body_read_timeout_ms",
                timeout.as_millis()
            ),
        )),
    }
}
