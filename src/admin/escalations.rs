//! The escalation API on the admin plane: list (with `?status=`), show one,
//! approve, reject (reason required), the dashboard page and its live
//! event stream. Reading needs `escalations:read`, deciding
//! `escalations:decide` (checked by the admin gates). Every decision is a
//! tape record; deciding an entry that is no longer pending is a 409 with
//! its current status.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};

use super::{ui, AdminState};
use crate::escalation::{DecideError, Status};
use crate::problem::{json_response, tape_unavailable};
use crate::proxy::ProxyBody;
use crate::tape::TapeRecord;

fn problem(status: StatusCode, code: &str, message: impl Into<String>) -> Response<ProxyBody> {
    json_response(
        status,
        &json!({"ok": false, "error": code, "message": message.into()}),
    )
}

/// Serves `/escalations…` and `/ui…`.
pub async fn handle(
    state: &AdminState,
    head: &http::request::Parts,
    body: &Bytes,
    who: &str,
) -> Response<ProxyBody> {
    let Some(queue) = state.app.escalations.as_deref() else {
        return problem(
            StatusCode::NOT_FOUND,
            "escalations_disabled",
            "the escalation queue is off on this sidecar; set escalation.enabled = true",
        );
    };
    let path = head.uri.path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (&head.method, segments.as_slice()) {
        (&Method::GET, ["ui"]) => ui::page(),
        (&Method::GET, ["ui", "app.js"]) => ui::script(),
        (&Method::GET, ["ui", "app.css"]) => ui::style(),
        (&Method::GET, ["ui", "events"]) => events(queue),
        (&Method::GET, ["ui", "summary"]) => json_response(StatusCode::OK, &summary(state)),
        (&Method::GET, ["escalations"]) => {
            let status = head.uri.query().and_then(|q| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("status="))
                    .and_then(|s| serde_json::from_value::<Status>(json!(s)).ok())
            });
            let entries = match queue.list(status).await {
                Ok(entries) => entries,
                Err(e) => return store_unavailable(e),
            };
            let entries: Vec<Value> = entries.iter().map(|e| reviewed(queue, e)).collect();
            json_response(
                StatusCode::OK,
                &json!({"ok": true, "count": entries.len(), "escalations": entries}),
            )
        }
        (&Method::GET, ["escalations", id]) => match queue.get(id).await {
            Err(e) => store_unavailable(e),
            Ok(Some(entry)) => json_response(
                StatusCode::OK,
                &json!({"ok": true, "escalation": reviewed(queue, &entry)}),
            ),
            Ok(None) => problem(StatusCode::NOT_FOUND, "escalation_not_found", format!("no escalation `{id}`")),
        },
        (&Method::POST, ["escalations", id, verb @ ("approve" | "reject")]) => {
            decide(state, queue, id, *verb == "approve", body, who).await
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "escalation endpoints: GET /escalations[?status=pending], GET /escalations/{id}, POST /escalations/{id}/approve|reject, GET /ui",
        ),
    }
}

/// An entry as an authenticated reviewer sees it: while it is pending, its
/// review view (the action in full, secrets masked, from memory only), how
/// long it has waited and how long it has left.
fn reviewed(queue: &crate::escalation::Queue, entry: &crate::escalation::Entry) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or_default();
    if entry.status != Status::Pending {
        return value;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    value["held_ms"] = now.saturating_sub(entry.created_ms).into();
    value["expires_in_ms"] = entry.expires_ms.saturating_sub(now).into();
    match (queue.view(&entry.id), &entry.replica) {
        (Some(view), _) => value["review"] = serde_json::to_value(view).unwrap_or_default(),
        // Held by another replica: its view stays in that replica's memory.
        (None, Some(replica)) => {
            value["review_note"] = format!(
                "the full review (arguments, commands) is on the dashboard of replica `{replica}`, which holds this call"
            )
            .into()
        }
        (None, None) => {}
    }
    if entry.mode == crate::escalation::Mode::Async {
        value["approval_note"] = format!(
            "approval is single-use: it lets the agent's identical retry (action {}…) through once within the approval TTL",
            &entry.action_sha256[..entry.action_sha256.len().min(12)]
        )
        .into();
    }
    value
}

async fn decide(
    state: &AdminState,
    queue: &crate::escalation::Queue,
    id: &str,
    approve: bool,
    body: &Bytes,
    who: &str,
) -> Response<ProxyBody> {
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("the body must be JSON ({e})"),
                )
            }
        }
    };
    let reason = input
        .get("reason")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if !approve && reason.is_none() {
        return problem(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "a rejection needs a reason: {\"reason\": \"…\"}",
        );
    }
    // Who decided: the authenticated principal, never a name in the body.
    // Without admin authentication that is `admin`; a name the caller gives
    // is kept beside it as an unverified claim.
    let by = who.to_owned();
    let claimed_by = input
        .get("by")
        .and_then(Value::as_str)
        .filter(|claimed| *claimed != who)
        .map(str::to_owned);
    // The decision is on the tape before it releases anything.
    let pending = match queue.get(id).await {
        Err(e) => return store_unavailable(e),
        Ok(None) => return decide_error(id, DecideError::NotFound),
        Ok(Some(entry)) if entry.status != Status::Pending => {
            return decide_error(id, DecideError::NotPending(Box::new(entry)))
        }
        Ok(Some(entry)) => entry,
    };
    let record = TapeRecord {
        event: "escalation_decided",
        principal: Some(by.clone()),
        detail: Some(json!({
            "escalation_id": pending.id,
            "status": if approve { "approved" } else { "rejected" },
            "action_sha256": pending.action_sha256,
            "mode": pending.mode,
            "claimed_by": claimed_by,
        })),
        ..TapeRecord::default()
    };
    if state.app.tape.record(record).await.is_err() {
        return tape_unavailable();
    }
    match queue.decide(id, approve, &by, reason).await {
        Ok(entry) => json_response(StatusCode::OK, &json!({"ok": true, "escalation": entry})),
        Err(e) => decide_error(id, e),
    }
}

/// The answer to a decision that cannot be taken.
fn decide_error(id: &str, error: DecideError) -> Response<ProxyBody> {
    match error {
        DecideError::NotFound => problem(
            StatusCode::NOT_FOUND,
            "escalation_not_found",
            format!("no escalation `{id}`"),
        ),
        DecideError::NotPending(entry) => json_response(
            StatusCode::CONFLICT,
            &json!({
                "ok": false,
                "error": "escalation_not_pending",
                "message": format!("escalation `{id}` is already {}; only pending entries can be decided", entry.status.as_str()),
                "status": entry.status.as_str(),
                "escalation": entry,
            }),
        ),
        DecideError::Store(e) => store_unavailable(e),
    }
}

/// 503: the queue's store (file or shared state) cannot answer.
fn store_unavailable(e: crate::escalation::StoreError) -> Response<ProxyBody> {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "escalation_store_unavailable",
        format!("{e}; retry shortly"),
    )
}

/// What the dashboard shows besides the queue: tape integrity, refusals.
fn summary(state: &AdminState) -> Value {
    let head = state.app.tape.head();
    json!({
        "tape": {
            "writer": if state.app.tape.is_open() { "running" } else { "stopped" },
            "head_seq": head.seq,
            "head_hash": head.row_hash,
        },
        "refusals": state.app.metrics.refusal_counts(),
    })
}

/// Server-Sent Events: each created or changed entry, as it happens.
fn events(queue: &crate::escalation::Queue) -> Response<ProxyBody> {
    let rx = queue.subscribe();
    let hello = futures_util::stream::once(async {
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b": connected\n\n")))
    });
    let updates = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(entry) => {
                    let event = format!("event: escalation\ndata: {entry}\n\n");
                    return Some((Ok::<_, Infallible>(Frame::data(Bytes::from(event))), rx));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    let stream = hello.chain(updates);
    let mut response = Response::new(StreamBody::new(stream).map_err(|e| match e {}).boxed());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
