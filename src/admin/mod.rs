//! The admin plane: a separate listener (default `127.0.0.1:9901`) with
//! `/healthz`, `/readyz`, `/metrics`, `/integrity`, `/escalations`, `/ui`
//! and `POST /reload`. Everything but `/healthz` passes the same edge gates
//! as the data plane, with the admin scopes (`read:metrics`,
//! `read:integrity`, `escalations:*`, `admin:reload`). Probes that cannot
//! sign use the separate health listener ([`health`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

mod connectors;
mod escalations;
mod ui;

use crate::gate::scopes::Plane;
use crate::gate::Refusal;
use crate::pipeline::EMPTY_SHA256;
use crate::problem::{json_response, tape_unavailable};
use crate::proxy::ProxyBody;
use crate::server::ConnInfo;
use crate::state::AppState;
use crate::tape::{ActionSummary, Outcome, Recovery, TapeRecord};

/// Largest admin request body (decisions are small JSON documents).
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Runs the gate chain for an admin request; returns who it is and the
/// (small) body.
async fn admit(
    state: &AdminState,
    conn: &ConnInfo,
    head: &mut http::request::Parts,
    body: Incoming,
) -> Result<(crate::gate::Admission, Bytes), Refusal> {
    let gates = &state.app.gates;
    let mut admission = gates.admit(conn, head)?;
    let bytes = crate::inspect::read_body(body, MAX_ADMIN_BODY, state.app.body_read_timeout)
        .await
        .map_err(|problem| Refusal::new("auth", problem))?;
    let sha = if bytes.is_empty() {
        EMPTY_SHA256.to_owned()
    } else {
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    };
    gates
        .authenticate(Plane::Admin, head, &sha, &mut admission)
        .await?;
    Ok((admission, bytes))
}

/// Records an admin refusal on the tape and answers it.
async fn refuse(
    state: &AdminState,
    refusal: Refusal,
    head: &http::request::Parts,
    started: std::time::Instant,
) -> Response<ProxyBody> {
    let app = &state.app;
    let request_id = app.request_ids.next();
    let record = TapeRecord {
        event: "request",
        request_id: Some(request_id),
        action: Some(
            ActionSummary {
                kind: "admin.request",
                connector: "admin".into(),
                method: Some(head.method.as_str().to_owned()),
                path: Some(head.uri.path().to_owned()),
                ..ActionSummary::default()
            }
            .into(),
        ),
        gate: Some(refusal.gate),
        client_ip: refusal.client_ip.map(|ip| ip.to_string()),
        outcome: Some(Outcome {
            code: Some(refusal.problem.code),
            duration_us: started.elapsed().as_micros() as u64,
            status: refusal.problem.status.as_u16(),
            upstream_status: None,
        }),
        ..TapeRecord::default()
    };
    app.metrics
        .refusals
        .get_or_create(&crate::metrics::RefusalLabels {
            gate: refusal.gate,
            code: refusal.problem.code,
        })
        .inc();
    if app.tape.record(record).await.is_err() {
        return tape_unavailable();
    }
    refusal.problem.into_response()
}

/// What the admin endpoints read.
pub struct AdminState {
    /// The data plane's state.
    pub app: Arc<AppState>,
    /// True once listeners are bound; false again when draining.
    pub ready: AtomicBool,
    /// What start-up recovery did to the tape, if anything.
    pub recovery: Option<Recovery>,
    /// Applies `POST /reload` (and SIGHUP).
    pub reloader: crate::reload::Reloader,
}

/// The health plane (`listen.health`): `GET /healthz` and `/readyz` only,
/// without authentication, for probes that cannot sign requests. It tells
/// nothing beyond up/ready and changes nothing.
pub fn health<B>(state: &AdminState, req: &Request<B>) -> Response<ProxyBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => {
            json_response(StatusCode::OK, &serde_json::json!({"ok": true}))
        }
        (&Method::GET | &Method::HEAD, "/readyz") => readyz(state),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({
                "ok": false,
                "error": "not_found",
                "message": "the health listener answers GET /healthz and /readyz only; the rest is on the admin plane",
            }),
        ),
    }
}

/// Handles one admin request.
pub async fn handle(
    state: Arc<AdminState>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if req.uri().path() == "/healthz" {
        return json_response(StatusCode::OK, &serde_json::json!({"ok": true}));
    }
    let started = std::time::Instant::now();
    if let Err(problem) = browser_safe(&req) {
        let code = problem.code;
        let response = problem.into_response();
        state
            .app
            .metrics
            .refusals
            .get_or_create(&crate::metrics::RefusalLabels {
                gate: "request",
                code,
            })
            .inc();
        return response;
    }
    let (mut head, body) = req.into_parts();
    // The dashboard's static shell holds no data: a browser loads it before
    // it has a token (then sends the token as a header on every API call).
    if let Some(shell) = ui::shell(&head.method, head.uri.path()) {
        return match state.app.gates.admit(&conn, &mut head) {
            Ok(_) => shell,
            Err(refusal) => refuse(&state, refusal, &head, started).await,
        };
    }
    let (admission, body) = match admit(&state, &conn, &mut head, body).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(&state, refusal, &head, started).await,
    };
    let path = head.uri.path().to_owned();
    if path == "/escalations"
        || path.starts_with("/escalations/")
        || path == "/ui"
        || path.starts_with("/ui/")
    {
        let who = admission.principal.as_deref().unwrap_or("admin").to_owned();
        return escalations::handle(&state, &head, &body, &who).await;
    }
    if path == "/connectors" || path.starts_with("/connectors/") {
        let who = admission.principal.as_deref().unwrap_or("admin").to_owned();
        return connectors::handle(&state, &head, &body, &who).await;
    }
    if path == "/reload" {
        let who = admission.principal.as_deref().unwrap_or("admin").to_owned();
        return reload(&state, &head.method, &who).await;
    }
    let req = Request::from_parts(head, ());
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"ok": false, "error": "method_not_allowed", "message": "admin endpoints are read with GET"}),
        );
    }
    match req.uri().path() {
        "/readyz" => readyz(&state),
        "/metrics" => metrics(&state),
        "/integrity" => integrity(&state),
        _ => json_response(
            StatusCode::NOT_FOUND,
            &serde_json::json!({
                "ok": false,
                "error": "not_found",
                "message": "admin endpoints: /healthz /readyz /metrics /integrity /escalations /ui /connectors /reload",
            }),
        ),
    }
}

/// What a browser can be made to send must not change anything: the admin
/// plane answers only `Host`s that cannot be rebound (IP literals and
/// `localhost`), takes state changes only as JSON (which a cross-origin page
/// cannot send without a preflight), and refuses a foreign `Origin`.
fn browser_safe<B>(req: &Request<B>) -> Result<(), crate::problem::Problem> {
    use crate::problem::Problem;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or("");
    if !host.is_empty() && !unrebindable(host) {
        return Err(Problem::new(
            StatusCode::MISDIRECTED_REQUEST,
            "admin_host_refused",
            "the admin plane answers only an IP address or localhost as Host (DNS rebinding); use http://127.0.0.1:<port>",
        ));
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return Ok(());
    }
    if !crate::inspect::declares_json(req.headers()) {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_required",
            "admin changes are sent as JSON: set `Content-Type: application/json`",
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let own = [format!("http://{host}"), format!("https://{host}")];
        if !own.iter().any(|o| origin.as_bytes() == o.as_bytes()) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "cross_origin_refused",
                "a page from another origin cannot change the admin plane",
            ));
        }
    }
    Ok(())
}

/// True for `Host` values DNS rebinding cannot point elsewhere.
fn unrebindable(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => {
            return rest
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// `POST /reload`: re-reads the configuration and applies it, as SIGHUP
/// does; a configuration that fails is refused whole (422, with the error).
async fn reload(state: &AdminState, method: &Method, who: &str) -> Response<ProxyBody> {
    if method != Method::POST {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &serde_json::json!({"ok": false, "error": "method_not_allowed", "message": "POST /reload with Content-Type: application/json and an empty JSON object"}),
        );
    }
    match state.reloader.reload(&state.app, who).await {
        Ok(done) => json_response(
            StatusCode::OK,
            &serde_json::json!({"ok": true, "summary": done.to_string(), "reloaded": done}),
        ),
        Err(e) => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &serde_json::json!({
                "ok": false,
                "error": "reload_refused",
                "message": format!("{e:#}; the running configuration stays"),
            }),
        ),
    }
}

fn readyz(state: &AdminState) -> Response<ProxyBody> {
    let listening = state.ready.load(Ordering::Relaxed);
    let tape = state.app.tape.is_healthy();
    // Shared state: unreachable Redis makes a fail-closed replica unready
    // (it could only refuse); a fallback replica stays ready on its own state.
    let (shared, shared_ok) = match &state.app.redis {
        None => ("memory", true),
        Some(redis) if redis.is_up() => ("redis", true),
        Some(redis) => match redis.on_failure() {
            crate::config::state::OnFailure::FailClosed => ("redis_unavailable", false),
            crate::config::state::OnFailure::FallbackLocal => ("local_fallback", true),
        },
    };
    let ok = listening && tape && shared_ok;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(
        status,
        &serde_json::json!({
            "ok": ok,
            "checks": {"listeners": listening, "tape": tape, "upstream_pool": true, "state": shared},
        }),
    )
}

fn metrics(state: &AdminState) -> Response<ProxyBody> {
    let app = &state.app;
    // Gauges of state owned elsewhere are read now, when scraped.
    app.metrics
        .tape_queue_depth
        .set(app.tape.queue_depth() as i64);
    if let Some(redis) = &app.redis {
        let m = &app.metrics;
        m.state_redis_up.set(i64::from(redis.is_up()));
        m.state_breaker_open.set(i64::from(redis.breaker_open()));
        let failures = redis.failures();
        m.state_redis_failures
            .inc_by(failures.saturating_sub(m.state_redis_failures.get()));
    }
    if let Some(queue) = &app.escalations {
        for (status, count) in queue.counts() {
            app.metrics
                .escalations
                .get_or_create(&crate::metrics::StateLabels {
                    state: status.as_str(),
                })
                .set(count as i64);
        }
    }
    let text = app.metrics.render();
    let mut response = Response::new(Full::new(Bytes::from(text)).map_err(|e| match e {}).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        // prometheus-client writes the OpenMetrics text format (`# EOF`).
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

fn integrity(state: &AdminState) -> Response<ProxyBody> {
    let head = state.app.tape.head();
    let writer_running = state.app.tape.is_open();
    let config = state.app.config.load();
    let tape = &config.tape;
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

#[cfg(test)]
mod browser_tests {
    use super::*;

    fn req(method: Method, host: &str, ct: Option<&str>, origin: Option<&str>) -> Request<()> {
        let mut b = Request::builder()
            .method(method)
            .uri("/escalations/x/approve")
            .header("host", host);
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        if let Some(o) = origin {
            b = b.header("origin", o);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn blind_cross_origin_and_rebinding_requests_are_refused() {
        let json = Some("application/json");
        assert!(browser_safe(&req(Method::POST, "127.0.0.1:9901", json, None)).is_ok());
        assert!(browser_safe(&req(
            Method::POST,
            "[::1]:9901",
            json,
            Some("http://[::1]:9901")
        ))
        .is_ok());
        assert!(browser_safe(&req(Method::GET, "localhost:9901", None, None)).is_ok());
        let code = |r: Request<()>| browser_safe(&r).unwrap_err().code;
        assert_eq!(
            code(req(
                Method::POST,
                "127.0.0.1:9901",
                Some("text/plain"),
                None
            )),
            "content_type_required"
        );
        assert_eq!(
            code(req(Method::POST, "127.0.0.1:9901", None, None)),
            "content_type_required"
        );
        assert_eq!(
            code(req(
                Method::POST,
                "127.0.0.1:9901",
                json,
                Some("http://evil.test")
            )),
            "cross_origin_refused"
        );
        assert_eq!(
            code(req(Method::GET, "evil.test:9901", None, None)),
            "admin_host_refused"
        );
    }
}
