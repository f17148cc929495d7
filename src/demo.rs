//! The built-in demo upstream (`builtin:demo`): a tiny loopback tool API so a
//! fresh `cpos serve` with no configuration proxies something real.
//!
//! - `GET /` describes the demo;
//! - `POST /tools/{name}` answers with the size and SHA-256 of what it got;
//! - `GET /events` streams five Server-Sent Events, 200 ms apart.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use sha2::{Digest, Sha256};

use crate::proxy::ProxyBody;

/// Starts the demo upstream on an ephemeral loopback port.
pub async fn start() -> std::io::Result<SocketAddr> {
    crate::server::loopback::serve(handle).await
}

async fn handle(req: Request<Incoming>) -> Response<ProxyBody> {
    let path = req.uri().path().to_owned();
    let response = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => json(
            StatusCode::OK,
            serde_json::json!({
                "service": "cpos demo upstream",
                "try": ["POST /tools/echo", "GET /events"],
            }),
        ),
        (Method::GET, "/events") => events(),
        (Method::POST, p) if p.starts_with("/tools/") => {
            let tool = p.trim_start_matches("/tools/").to_owned();
            match Limited::new(req.into_body(), 4 << 20).collect().await {
                Ok(body) => {
                    let body = body.to_bytes();
                    json(
                        StatusCode::OK,
                        serde_json::json!({
                            "ok": true,
                            "tool": tool,
                            "received_bytes": body.len(),
                            "sha256": hex::encode(Sha256::digest(&body)),
                        }),
                    )
                }
                Err(_) => json(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    serde_json::json!({"ok": false, "error": "too_large"}),
                ),
            }
        }
        (method, _) => json(
            StatusCode::OK,
            serde_json::json!({"ok": true, "method": method.as_str(), "path": path}),
        ),
    };
    response
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<ProxyBody> {
    crate::problem::json_response(status, &value)
}

fn events() -> Response<ProxyBody> {
    let stream = futures_util::stream::unfold(0u32, |n| async move {
        if n >= 5 {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let frame = Frame::data(Bytes::from(format!(
            "id: {n}\nevent: tick\ndata: {{\"n\":{n}}}\n\n"
        )));
        Some((Ok::<_, crate::proxy::BoxError>(frame), n + 1))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}
