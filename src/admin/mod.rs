//! The admin plane: a separate listener (default `127.0.0.1:9901`) with
//! `/healthz`, `/readyz`, `/metrics` and `/integrity`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use crate::pipeline::json_response;
use crate::proxy::ProxyBody;
use crate::state::AppState;
use crate::tape::Recovery;

/// What the admin endpoints read.
pub struct AdminState {
    /// The data plane's state.
    pub app: Arc<AppState>,
    /// True once listeners are bound; false again when draining.
    pub ready: AtomicBool,
    /// What start-up recovery did to the tape, if anything.
    pub recovery: Option<Recovery>,
}

/// Handles one admin request.
pub async fn handle(state: Arc<AdminState>, req: Request<Incoming>) -> Response<ProxyBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"ok": false, "error": "method_not_allowed", "message": "admin endpoints are read with GET"}),
        );
    }
    match req.uri().path() {
        "/healthz" => json_response(StatusCode::OK, &serde_json::json!({"ok": true})),
        "/readyz" => readyz(&state),
        "/metrics" => metrics(&state),
        "/integrity" => integrity(&state),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({
                "ok": false,
                "error": "not_found",
                "message": "admin endpoints: /healthz /readyz /metrics /integrity",
            }),
        ),
    }
}

fn readyz(state: &AdminState) -> Response<ProxyBody> {
    let listening = state.ready.load(Ordering::Relaxed);
    let tape = state.app.tape.is_open();
    let ok = listening && tape;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        &serde_json::json!({
            "ok": ok,
            "checks": {"listeners": listening, "tape": tape, "upstream_pool": true},
        }),
    )
}

fn metrics(state: &AdminState) -> Response<ProxyBody> {
    let text = state.app.metrics.render();
    let mut response = Response::new(Full::new(Bytes::from(text)).map_err(|e| match e {}).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn integrity(state: &AdminState) -> Response<ProxyBody> {
    let head = state.app.tape.head();
    let writer_running = state.app.tape.is_open();
    let tape = &state.app.config.tape;
    json_response(
        StatusCode::OK,
        &serde_json::json!({
            "ok": writer_running,
            "tape": {
                "dir": tape.dir,
                "fsync": tape.fsync,
                "writer": if writer_running { "running" } else { "stopped" },
                "verified_at_start": true,
                "head_seq": head.seq,
                "head_hash": head.row_hash,
                "segment": head.segment,
                "recovered_at_start": state.recovery.as_ref().map(|r| serde_json::json!({
                    "segment": r.segment,
                    "truncated_bytes": r.truncated_bytes,
                })),
            },
        }),
    )
}
