//! MCP streamable HTTP through the gateway: a POST's JSON-RPC messages are
//! reviewed one by one, refused requests are answered here under their own
//! ids, the rest is forwarded, and the answer comes back streamed — with
//! `tools/list` results filtered and refusals merged in. GET (the server's
//! SSE stream) and DELETE (end of session) are plain streamed forwards.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::intercept::{review, Connector, Plan};
use super::jsonrpc::{self, Envelope};
use super::listing::ListingFilter;
use super::sse::{events, ScreenedStream};
use crate::act::Actor;
use crate::escalation::review::ReviewView;
use crate::policy::Decision;
use crate::problem::json_response;
use crate::problem::Problem;
use crate::proxy::{ProxyBody, ResolvedRoute};
use crate::server::ConnInfo;
use crate::state::AppState;
use crate::tape::{ActionSummary, Recorded, TapeRecord};

/// Largest JSON response body read to filter a listing or merge refusals.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// What the gateway learnt, for the tape.
#[derive(Debug, Default)]
pub struct McpNote {
    /// The message's action (single messages) or the batch's.
    pub action: Option<ActionSummary>,
    /// The decision on a single request.
    pub decision: Option<Decision>,
    /// The refusal code of a single request answered here.
    pub code: Option<&'static str>,
    /// One record per message of a batch.
    pub calls: Vec<CallRecord>,
    /// The upstream's status, when it was called.
    pub upstream_status: Option<u16>,
    /// Metadata of a command tool's sandbox run.
    pub detail: Option<Value>,
    /// The single message's decision record is on the tape (its outcome
    /// record then carries only the outcome).
    pub recorded_ahead: bool,
}

/// The decision on one message of a batch.
#[derive(Debug)]
pub struct CallRecord {
    /// `<request id>.<index>`, also in the refusal's `data.decision_id`.
    pub decision_id: String,
    /// What the message asked for.
    pub action: ActionSummary,
    /// The policy's decision, when it was classified.
    pub decision: Option<Decision>,
    /// The refusal code, when it was answered here.
    pub code: Option<&'static str>,
}

/// What the gateway needs to put its decisions on the tape before acting.
#[derive(Debug, Clone, Copy)]
pub struct WriteAhead<'a> {
    /// The HTTP request's own summary (method, path, body size and hash).
    pub base: &'a ActionSummary,
    /// The authenticated principal.
    pub principal: Option<&'a str>,
    /// The client address (behind trusted proxies, the resolved one).
    pub client_ip: Option<std::net::IpAddr>,
}

/// A message's action merged with the HTTP request that carried it.
pub fn merge_action(base: &ActionSummary, action: ActionSummary) -> ActionSummary {
    ActionSummary {
        method: base.method.clone(),
        path: base.path.clone(),
        query_sha256: base.query_sha256.clone(),
        body_bytes: base.body_bytes,
        body_sha256: base.body_sha256.clone(),
        ..action
    }
}

/// Writes the decisions of a POST ahead of acting on them: the message's
/// (single) or one per message (batch).
async fn record_decisions(
    actor: Actor<'_>,
    request_id: &str,
    ahead: WriteAhead<'_>,
    note: &McpNote,
) -> Result<Recorded, Problem> {
    let principal = ahead.principal.map(str::to_owned);
    let failed = |refused: crate::act::Refused| refused.into_problem(None);
    if note.calls.is_empty() {
        let action = match &note.action {
            Some(action) => merge_action(ahead.base, action.clone()),
            None => ahead.base.clone(),
        };
        let record = TapeRecord {
            event: "decision",
            request_id: Some(request_id.to_owned()),
            action: Some(action.into()),
            principal,
            ..TapeRecord::default()
        }
        .with_verdict(note.decision.as_ref());
        return actor.record_ahead(record).await.map_err(failed);
    }
    // A batch: one record per message; the last receipt covers the batch,
    // each earlier record having been accepted before it.
    let mut receipt = None;
    for call in &note.calls {
        let record = TapeRecord {
            event: "decision",
            request_id: Some(call.decision_id.clone()),
            action: Some(call.action.clone().into()),
            principal: principal.clone(),
            ..TapeRecord::default()
        }
        .with_verdict(call.decision.as_ref());
        receipt = Some(actor.record_ahead(record).await.map_err(failed)?);
    }
    receipt.ok_or_else(crate::problem::tape_problem)
}

/// Serves one POST of JSON-RPC messages to an MCP route.
#[allow(clippy::too_many_arguments)]
pub async fn post(
    state: &AppState,
    conn: &ConnInfo,
    route: &ResolvedRoute,
    listing: ListingFilter,
    mut head: http::request::Parts,
    body: Bytes,
    agent: Option<&str>,
    request_id: &str,
    ahead: WriteAhead<'_>,
    note: &mut McpNote,
) -> Result<Response<ProxyBody>, Problem> {
    // 1. Framing: the whole body is valid JSON-RPC, or nothing is forwarded.
    let env = jsonrpc::parse(&body)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, e.error, e.message))?;

    // 2. Review every message: tool lists, pins, policy.
    let connector = Connector {
        name: &listing.connector,
        filter: &listing.filter,
        pins: listing.pins.as_deref(),
        pin_change: state.config.load().mcp.pin_changes,
    };
    // One policy for the whole request, even if a reload lands meanwhile.
    let policy = state.policy.load();
    let mut plan = review(&env, &connector, &policy, agent);
    for reviewed in &plan.reviews {
        let state_name = reviewed
            .decision
            .as_ref()
            .map_or("unclassified", |d| d.route.as_str());
        state
            .metrics
            .mcp_reviews
            .get_or_create(&crate::metrics::StateLabels { state: state_name })
            .inc();
    }
    // 2a. Requests the policy routes to a person wait in the escalation
    //     queue (hold) or are answered with its id (async).
    let actor = Actor {
        tape: &state.tape,
        escalations: state.escalations.as_ref(),
    };
    if actor.escalations.is_some() {
        for review in &mut plan.reviews {
            let Some(decision) = review.decision.clone() else {
                continue;
            };
            if decision.route != crate::policy::Verdict::Human {
                continue;
            }
            let view = || {
                review.contract.as_ref().map(|contract| {
                    let description = match (&listing.pins, &contract.tool) {
                        (Some(pins), Some(tool)) => pins.description(&listing.connector, tool),
                        _ => None,
                    };
                    ReviewView::build(
                        &policy,
                        contract,
                        ahead.principal,
                        ahead.client_ip.map(|ip| ip.to_string()),
                    )
                    .with_tool_description(description)
                })
            };
            match actor
                .clear(&decision, agent, &review.summary, false, view)
                .await
            {
                Ok(()) => review.refusal = None,
                Err(refused) => {
                    if let Some(refusal) = review.refusal.as_mut() {
                        refusal.code = refused.refusal.code();
                        refusal.rpc_code = refused.refusal.rpc_code();
                        refusal.message = match &refused.entry {
                            Some(entry) => format!("{} (escalation {})", refused.message, entry.id),
                            None => refused.message,
                        };
                    }
                }
            }
        }
    }
    let decision_id = |i: usize| {
        if env.batch {
            format!("{request_id}.{i}")
        } else {
            request_id.to_owned()
        }
    };
    let mut errors = plan.errors(&env, decision_id);
    take_note(&env, &plan, note, decision_id);

    // 2b. Declared command tools never reach the upstream: allowed (or
    //     sandbox-routed) calls run in the sandbox and their result is the
    //     answer; without a sandbox they are refused. Decisions are on the
    //     tape before anything runs.
    let mut recorded: Option<Recorded> = None;
    for (i, message) in env.messages.iter().enumerate() {
        let review = &plan.reviews[i];
        let Some(argv) = command_tool_argv(state, &listing.connector, message, review) else {
            continue;
        };
        let id = message.id().cloned().unwrap_or(Value::Null);
        let Some(sandbox) = &state.sandbox else {
            let refusal = crate::refusal::Refusal::SandboxUnavailable;
            plan.reviews[i].refusal = Some(super::intercept::Refusal {
                code: refusal.code(),
                rpc_code: refusal.rpc_code(),
                message: "this command tool runs only in the sandbox, which is off here (sandbox.enabled)".into(),
            });
            errors = plan.errors(&env, decision_id);
            continue;
        };
        // Never forwarded: the sandbox's answer takes its place.
        if plan.reviews[i].refusal.is_none() {
            plan.reviews[i].refusal = Some(super::intercept::Refusal {
                code: "sandbox_executed",
                rpc_code: 0,
                message: String::new(),
            });
            errors.push(Value::Null);
        }
        if recorded.is_none() {
            recorded = Some(record_decisions(actor, request_id, ahead, note).await?);
            note.recorded_ahead = !env.batch;
        }
        let Some(proof) = recorded.as_ref() else {
            continue;
        };
        let validation = sandbox.run_argv(argv, proof).await;
        let answer = command_tool_result(id.clone(), &validation);
        match errors.iter_mut().find(|e| e["id"] == id || e.is_null()) {
            Some(slot) => *slot = answer,
            None => errors.push(answer),
        }
        if !env.batch {
            note.code = validation.failure.map(|f| f.as_str());
            note.detail = Some(validation.metadata());
        }
    }

    // 3. Answer here what was refused; forward the rest.
    let Some(forward) = plan.forward_body(&env, &body) else {
        let answer = if env.batch {
            Value::Array(errors)
        } else {
            errors.into_iter().next().unwrap_or(Value::Null)
        };
        return Ok(json_response(StatusCode::OK, &answer));
    };
    head.headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(forward.len()));
    let recorded = match recorded {
        Some(proof) => proof,
        None => record_decisions(actor, request_id, ahead, note).await?,
    };
    note.recorded_ahead = !env.batch;
    let req = Request::from_parts(head, Full::new(forward).map_err(|e| match e {}).boxed());
    let response = state
        .upstream
        .forward(route, conn, req, &recorded)
        .await
        .map_err(|e| {
            tracing::warn!(route = %route.name.0, error = %e, "MCP upstream failure");
            e.problem(route)
        })?;
    note.upstream_status = Some(response.status().as_u16());

    // 4. Screen what the server sends back (listings filtered wherever they
    //    arrive) and merge the refusals into it.
    screen_response(response, errors, listing).await
}

/// What an MCP upstream answered (a POST's or the GET stream's), screened
/// before the agent sees it, with `errors` (refusals) merged in: an event
/// stream event by event, a JSON answer whole. Error statuses and other
/// types pass as they are (no client reads messages out of them).
pub async fn screen_response(
    response: Response<ProxyBody>,
    errors: Vec<Value>,
    listing: ListingFilter,
) -> Result<Response<ProxyBody>, Problem> {
    let (mut parts, body) = response.into_parts();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("text/event-stream") {
        parts.headers.remove(header::CONTENT_LENGTH);
        let prefix = (!errors.is_empty()).then(|| events(&errors));
        let stream = ScreenedStream::new(body, prefix, listing);
        return Ok(Response::from_parts(parts, stream.boxed()));
    }
    if content_type.starts_with("application/json") && parts.status.is_success() {
        let bytes = read_limited(body).await?;
        let merged = merge_json(&bytes, errors, &listing);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Ok(Response::from_parts(
            parts,
            Full::new(merged).map_err(|e| match e {}).boxed(),
        ));
    }
    if parts.status == StatusCode::ACCEPTED && !errors.is_empty() {
        // Only notifications were forwarded; the refusals are the answer.
        return Ok(json_response(StatusCode::OK, &Value::Array(errors)));
    }
    Ok(Response::from_parts(parts, body))
}

/// The argv of a `tools/call` to a declared command tool that the policy
/// allows or routes to the sandbox (denied and held calls stay refused).
fn command_tool_argv(
    state: &AppState,
    connector: &str,
    message: &jsonrpc::Message,
    message_review: &super::intercept::Review,
) -> Option<Vec<String>> {
    let decision = message_review.decision.as_ref()?;
    let runnable = match decision.route {
        crate::policy::Verdict::Sandbox => true,
        crate::policy::Verdict::Allow => message_review.refusal.is_none(),
        crate::policy::Verdict::Human => message_review.refusal.is_none(),
        crate::policy::Verdict::Deny => false,
    };
    if !runnable {
        return None;
    }
    let tool = message_review.summary.tool.as_deref()?;
    let config = state.config.load();
    let spec = config
        .sandbox
        .command_tools
        .iter()
        .find(|t| t.connector == connector && t.tool == tool)?;
    let value = message
        .params()?
        .get("arguments")?
        .get(&spec.argv_argument)?;
    match value {
        Value::Array(words) => words
            .iter()
            .map(|w| w.as_str().map(str::to_owned))
            .collect(),
        Value::String(line) => shlex::split(line),
        _ => None,
    }
}

/// A `tools/call` result carrying a sandbox run's output.
fn command_tool_result(id: Value, validation: &crate::sandbox::Validation) -> Value {
    let mut text = String::new();
    for step in &validation.steps {
        text.push_str(&String::from_utf8_lossy(&step.result.stdout));
        text.push_str(&String::from_utf8_lossy(&step.result.stderr));
    }
    if let Some(message) = &validation.message {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(message);
    }
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {
            "content": [{"type": "text", "text": text}],
            "isError": !validation.passed,
            "structuredContent": crate::sandbox::service::execution_result(validation),
        },
    })
}

/// Reads a whole upstream body of at most [`MAX_RESPONSE_BYTES`].
async fn read_limited(mut body: ProxyBody) -> Result<Bytes, Problem> {
    let failed = |why: String| {
        Problem::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the MCP upstream's JSON answer could not be read in full ({why})"),
        )
    };
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failed(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_RESPONSE_BYTES {
                return Err(failed(format!("larger than {MAX_RESPONSE_BYTES} bytes")));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// A JSON answer screened, with refusals appended; an answer that cannot
/// be read one way only is replaced by an error.
fn merge_json(bytes: &[u8], errors: Vec<Value>, listing: &ListingFilter) -> Bytes {
    let screened = match super::downstream::screen(bytes, listing) {
        Ok(screened) => screened,
        Err(dropped) => {
            listing.report_dropped(&dropped);
            super::downstream::line_safe_json(&dropped.to_error(&listing.connector))
        }
    };
    if errors.is_empty() {
        return Bytes::from(screened);
    }
    let answer: Value = serde_json::from_slice(&screened).unwrap_or(Value::Null);
    let mut messages = match answer {
        Value::Array(items) => items,
        single => vec![single],
    };
    messages.extend(errors);
    Bytes::from(super::downstream::line_safe_json(&Value::Array(messages)))
}

fn take_note(
    env: &Envelope,
    plan: &Plan,
    note: &mut McpNote,
    decision_id: impl Fn(usize) -> String,
) {
    if !env.batch {
        if let Some(message_review) = plan.reviews.first() {
            note.action = Some(message_review.summary.clone());
            note.decision = message_review.decision.clone();
            note.code = message_review.refusal.as_ref().map(|r| r.code);
        }
        return;
    }
    note.calls = plan
        .reviews
        .iter()
        .enumerate()
        .map(|(i, message_review)| CallRecord {
            decision_id: decision_id(i),
            action: message_review.summary.clone(),
            decision: message_review.decision.clone(),
            code: message_review.refusal.as_ref().map(|r| r.code),
        })
        .collect();
}

/// Renders a refusal on an MCP route as a JSON-RPC error (id `null`: the
/// request was refused before its messages were read), keeping the status.
pub fn problem_response(problem: Problem) -> Response<ProxyBody> {
    let code = match problem.code {
        "invalid_json" => jsonrpc::PARSE_ERROR,
        "invalid_jsonrpc" | "body_too_large" | "body_timeout" | "body_read_failed" => {
            jsonrpc::INVALID_REQUEST
        }
        "tape_unavailable" => super::intercept::codes::TAPE_UNAVAILABLE,
        _ => -32000,
    };
    let mut data = serde_json::Map::new();
    data.insert("error".into(), problem.code.into());
    if let Some(extra) = &problem.extra {
        data.extend(extra.clone());
    }
    let body = jsonrpc::error_response(Value::Null, code, &problem.message, Value::Object(data));
    let mut response = json_response(problem.status, &body);
    for (name, value) in problem.headers {
        response.headers_mut().insert(name, value);
    }
    response
}
