//! The connector registry on the admin plane. Reading needs
//! `connectors:read`, changing `connectors:manage` (checked by the admin
//! gates). Every change is on the tape before it takes effect; records hold
//! ids, counts and the definition's SHA-256, never the definition.
//!
//! - `GET /connectors`: registered connectors
//! - `POST /connectors/reviews`: submit a definition (JSON); unsafe ones are
//!   refused with their findings and not stored
//! - `GET /connectors/reviews[?status=pending|approved|rejected]`
//! - `POST /connectors/reviews/{id}/approve` `{"confirm": true}`: registers
//!   and serves it at once
//! - `POST /connectors/reviews/{id}/reject` `{"reason": "…"}`
//! - `POST /connectors/{id}/disable` `{"reason": "…"}`: refused at once

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use serde_json::{json, Value};

use super::AdminState;
use crate::connectors::definition::Definition;
use crate::connectors::registry::{Registry, RegistryError};
use crate::problem::{json_response, tape_unavailable, Problem};
use crate::proxy::ProxyBody;
use crate::tape::TapeRecord;

fn problem(
    status: StatusCode,
    code: &'static str,
    message: impl Into<String>,
) -> Response<ProxyBody> {
    Problem::new(status, code, message.into()).into_response()
}

/// Serves `/connectors…`.
pub async fn handle(
    state: &AdminState,
    head: &http::request::Parts,
    body: &Bytes,
    who: &str,
) -> Response<ProxyBody> {
    let registry = &state.app.connectors;
    let segments: Vec<&str> = head
        .uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let input: Value = match body.is_empty() {
        true => json!({}),
        false => match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    format!("the body must be JSON ({e})"),
                )
            }
        },
    };
    match (&head.method, segments.as_slice()) {
        (&Method::GET, ["connectors"]) => {
            let connectors = registry.connectors();
            json_response(
                StatusCode::OK,
                &json!({"ok": true, "count": connectors.len(), "connectors": connectors}),
            )
        }
        (&Method::GET, ["connectors", "reviews"]) => {
            let status = head
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("status=")));
            let reviews = registry.reviews(status);
            json_response(
                StatusCode::OK,
                &json!({"ok": true, "count": reviews.len(), "reviews": reviews}),
            )
        }
        (&Method::POST, ["connectors", "reviews"]) => submit(state, &input, who).await,
        (&Method::POST, ["connectors", "reviews", id, "approve"]) => {
            approve(state, id, &input, who).await
        }
        (&Method::POST, ["connectors", "reviews", id, "reject"]) => {
            reject(state, id, &input, who).await
        }
        (&Method::POST, ["connectors", id, "disable"]) => disable(state, id, &input, who).await,
        _ => problem(
            StatusCode::NOT_FOUND,
            "not_found",
            "connector endpoints: GET /connectors, GET|POST /connectors/reviews, POST /connectors/reviews/{id}/approve|reject, POST /connectors/{id}/disable",
        ),
    }
}

/// A tape record of a registry change: ids and hashes only.
fn record(event: &'static str, who: &str, detail: Value) -> TapeRecord {
    TapeRecord {
        event,
        principal: Some(who.to_owned()),
        detail: Some(detail),
        ..TapeRecord::default()
    }
}

fn summary(definition: &Definition) -> Value {
    json!({
        "connector_id": definition.connector_id,
        "transport": definition.transport,
        "allowed_tools": definition.allowed_tools.len(),
        "blocked_tools": definition.blocked_tools.len(),
        "env_secret_files": definition.env_secret_files.len(),
        "requires_human_approval": definition.requires_human_approval,
        "sensitivity_level": definition.sensitivity_level,
        "definition_sha256": definition.sha256(),
    })
}

async fn submit(state: &AdminState, input: &Value, who: &str) -> Response<ProxyBody> {
    let tape = &state.app.tape;
    match Registry::review(input, who) {
        Ok(review) => {
            // On the tape before it is stored.
            let mut detail = summary(&review.definition);
            detail["review_id"] = review.review_id.clone().into();
            detail["warnings"] = review.findings.len().into();
            if tape
                .record(record("connector_review_submitted", who, detail))
                .await
                .is_err()
            {
                return tape_unavailable();
            }
            if let Err(e) = state.app.connectors.store(&review) {
                return registry_error(e);
            }
            json_response(StatusCode::CREATED, &json!({"ok": true, "review": review}))
        }
        Err(RegistryError::Unsafe(report)) => {
            let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
            let detail = json!({"status": "refused", "codes": codes});
            if tape
                .record(record("connector_review_refused", who, detail))
                .await
                .is_err()
            {
                return tape_unavailable();
            }
            json_response(
                StatusCode::BAD_REQUEST,
                &json!({
                    "ok": false,
                    "error": "security_check_failed_not_stored",
                    "message": "the definition failed the security check and was not stored; fix every error finding and submit again",
                    "findings": report.findings,
                }),
            )
        }
        Err(e) => registry_error(e),
    }
}

async fn approve(state: &AdminState, id: &str, input: &Value, who: &str) -> Response<ProxyBody> {
    if input.get("confirm") != Some(&Value::Bool(true)) {
        return problem(
            StatusCode::BAD_REQUEST,
            "confirm_required",
            "approving registers the connector and serves it at once: send {\"confirm\": true}",
        );
    }
    let registry = &state.app.connectors;
    let review = match registry.pending(id) {
        Ok(review) => review,
        Err(e) => return registry_error(e),
    };
    // On the tape before it is served.
    let mut detail = summary(&review.definition);
    detail["review_id"] = id.into();
    if state
        .app
        .tape
        .record(record("connector_registered", who, detail))
        .await
        .is_err()
    {
        return tape_unavailable();
    }
    let registered = match registry.approve(id, who).await {
        Ok(registered) => registered,
        Err(e) => return registry_error(e),
    };
    if let Err(e) = registry.publish(&state.app.routes) {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "registration_failed", e);
    }
    tracing::info!(connector = %registered.definition.connector_id, by = who, "connector registered");
    let prefix = state.app.config.load().connectors.route_prefix.clone();
    json_response(
        StatusCode::OK,
        &json!({
            "ok": true,
            "connector": registered,
            "path": format!("{}/{}", prefix.trim_end_matches('/'), registered.definition.connector_id),
        }),
    )
}

async fn reject(state: &AdminState, id: &str, input: &Value, who: &str) -> Response<ProxyBody> {
    let Some(reason) = input
        .get("reason")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return problem(
            StatusCode::BAD_REQUEST,
            "reason_required",
            "a rejection needs a reason: {\"reason\": \"…\"}",
        );
    };
    if let Err(e) = state.app.connectors.pending(id) {
        return registry_error(e);
    }
    let detail = json!({"review_id": id});
    if state
        .app
        .tape
        .record(record("connector_review_rejected", who, detail))
        .await
        .is_err()
    {
        return tape_unavailable();
    }
    match state.app.connectors.reject(id, who, reason) {
        Ok(review) => json_response(StatusCode::OK, &json!({"ok": true, "review": review})),
        Err(e) => registry_error(e),
    }
}

async fn disable(state: &AdminState, id: &str, input: &Value, who: &str) -> Response<ProxyBody> {
    let registry = &state.app.connectors;
    if !registry
        .connectors()
        .iter()
        .any(|c| c.definition.connector_id == id)
    {
        return registry_error(RegistryError::ConnectorNotFound(id.to_owned()));
    }
    let detail = json!({"connector_id": id});
    if state
        .app
        .tape
        .record(record("connector_disabled", who, detail))
        .await
        .is_err()
    {
        return tape_unavailable();
    }
    let reason = input
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Err(e) = registry.disable(id, reason) {
        return registry_error(e);
    }
    if let Err(e) = registry.publish(&state.app.routes) {
        return problem(StatusCode::INTERNAL_SERVER_ERROR, "registration_failed", e);
    }
    tracing::info!(connector = %id, by = who, "connector disabled");
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "connector_id": id, "status": "disabled"}),
    )
}

fn registry_error(e: RegistryError) -> Response<ProxyBody> {
    let (status, code) = match &e {
        RegistryError::Unsafe(_) => (StatusCode::BAD_REQUEST, "security_check_failed_not_stored"),
        RegistryError::ReviewNotFound(_) => (StatusCode::NOT_FOUND, "review_not_found"),
        RegistryError::ReviewNotPending(..) => (StatusCode::CONFLICT, "review_not_pending"),
        RegistryError::ConnectorNotFound(_) => (StatusCode::NOT_FOUND, "connector_not_found"),
        RegistryError::Registration(_) => (StatusCode::BAD_GATEWAY, "registration_failed"),
        RegistryError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "registry_store_unavailable",
        ),
    };
    problem(status, code, e.to_string())
}
