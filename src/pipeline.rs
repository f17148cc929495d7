//! The request path, top to bottom. Every data-plane request goes through
//! [`handle`]: edge gates → target → body → authentication → classify →
//! act → tape.
//! Each step is a small module; this file only fixes their order and turns
//! their refusals into responses and tape records.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::action::{ActionContract, Kind};
use crate::escalation::gate::escalate;
use crate::gate::scopes::Plane;
use crate::gate::{Admission, Refusal};
use crate::inspect;
use crate::intake::{Adapter, IntakeNote};
use crate::mcp::gateway::{CallRecord, McpNote};
use crate::mcp::{self, ListingFilter};
use crate::metrics::{CodeLabels, RequestLabels, RouteLabels, RouteName};
use crate::policy::{Decision, Route};
use crate::problem::Problem;
use crate::proxy::{ProxyBody, ResolvedRoute};
use crate::sandbox::service::{SandboxService, VALIDATE_PATH};
use crate::server::ConnInfo;
use crate::state::AppState;
use crate::tape::{ActionSummary, Outcome, TapeRecord};

/// Response header carrying the request id that also names the tape record.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-cpos-request-id");

/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the steps learn about a request, for its tape record and response.
struct Context {
    request_id: String,
    action: ActionSummary,
    /// Refusal code of an answer given with a success status (JSON-RPC errors).
    code: Option<&'static str>,
    /// Per-message decisions of an MCP batch.
    calls: Vec<CallRecord>,
    /// Metadata-only details (sandbox runs).
    detail: Option<serde_json::Value>,
    /// The upstream's status, when it was called.
    upstream_status: Option<u16>,
    gate: Option<&'static str>,
    client_ip: Option<String>,
    admission: Option<Admission>,
    decision: Option<Decision>,
}

impl Context {
    /// Notes a gate refusal and turns it into the client's problem.
    fn refused(&mut self, refusal: Refusal) -> Problem {
        self.gate = Some(refusal.gate);
        self.client_ip = refusal.client_ip.map(|ip| ip.to_string());
        *refusal.problem
    }
}

/// Where a request is served.
enum Target<'a> {
    /// The adapter intake, by the sidecar itself.
    Adapter(&'a Adapter),
    /// Diff validation in the sandbox, by the sidecar itself.
    Sandbox(&'a SandboxService),
    /// An upstream route.
    Upstream(&'a ResolvedRoute),
}

/// Handles one data-plane request and always yields a response.
pub async fn handle(
    state: Arc<AppState>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let request_id = state.request_ids.next();
    let route = state.routes.find(req.uri().path()).cloned();
    let mut ctx = Context {
        request_id,
        action: describe(&req, route.as_deref()),
        code: None,
        calls: Vec::new(),
        detail: None,
        upstream_status: None,
        gate: None,
        client_ip: None,
        admission: None,
        decision: None,
    };

    let result = decide_and_act(&state, &conn, route.as_deref(), req, &mut ctx).await;

    let (mut response, outcome) = match result {
        Ok(response) => {
            let outcome = Outcome {
                code: ctx.code,
                duration_us: started.elapsed().as_micros() as u64,
                status: response.status().as_u16(),
                upstream_status: ctx.upstream_status,
            };
            (response, outcome)
        }
        Err(problem) => {
            let outcome = Outcome {
                code: Some(problem.code),
                duration_us: started.elapsed().as_micros() as u64,
                status: problem.status.as_u16(),
                upstream_status: None,
            };
            let response = match route.as_deref() {
                Some(r) if r.mcp.is_some() => mcp::gateway::problem_response(problem),
                _ => problem.into_response(),
            };
            (response, outcome)
        }
    };
    let request_id = std::mem::take(&mut ctx.request_id);
    let calls = std::mem::take(&mut ctx.calls);
    let admission = ctx.admission.take();
    let decision = ctx.decision.take();
    let record = TapeRecord {
        event: "request",
        request_id: Some(request_id.clone()),
        action: Some(ctx.action),
        outcome: Some(outcome.clone()),
        gate: ctx.gate,
        client_ip: ctx.client_ip,
        principal: admission
            .as_ref()
            .and_then(|a| a.principal.as_deref().map(str::to_owned)),
        audit: admission.as_ref().and_then(|a| a.audit),
        risk: decision.as_ref().map(|d| d.risk.as_str()),
        route: decision.as_ref().map(|d| d.route.as_str()),
        reasons: decision.map(tape_reasons).unwrap_or_default(),
        detail: ctx.detail.take(),
        ..TapeRecord::default()
    };
    let mut recorded = state.tape.record(record).await;
    for call in calls {
        if recorded.is_err() {
            break;
        }
        recorded = state.tape.record(call_record(call, &outcome)).await;
    }
    if let Err(e) = recorded {
        // Fail closed: an answer the tape cannot record is not given.
        tracing::error!(error = %e, request_id, "tape append failed; refusing the request");
        response = tape_unavailable();
    }
    if let Some(rate) = admission.and_then(|a| a.rate) {
        for (name, value) in rate.headers() {
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    record_metrics(&state, route.as_deref(), &outcome, started);
    with_request_id(response, &request_id)
}

/// The decision steps, in order. Each returns early with a [`Problem`].
async fn decide_and_act(
    state: &AppState,
    conn: &ConnInfo,
    route: Option<&ResolvedRoute>,
    req: Request<Incoming>,
    ctx: &mut Context,
) -> Result<Response<ProxyBody>, Problem> {
    let (mut head, body) = req.into_parts();

    // 1. Edge gates on the head: client certificate → IP allowlist → per-IP rate limit.
    let admission = state
        .gates
        .admit(conn, &mut head)
        .map_err(|r| ctx.refused(r))?;
    let admission = ctx.admission.insert(admission);

    // 2. Target: the adapter intake is served here; the rest goes upstream.
    let target = match (&state.adapter, route) {
        (Some(adapter), _) if adapter.handles(head.uri.path()) => Target::Adapter(adapter),
        _ if head.uri.path() == VALIDATE_PATH && head.method == Method::POST => {
            match &state.sandbox {
                Some(sandbox) => Target::Sandbox(sandbox),
                None => {
                    return Err(Problem::new(
                        StatusCode::NOT_FOUND,
                        "sandbox_disabled",
                        "the sandbox runner is off on this sidecar; set sandbox.enabled = true",
                    ))
                }
            }
        }
        (_, Some(route)) => Target::Upstream(route),
        (_, None) => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "no route matches this path; add a [[routes]] entry whose prefix covers it",
            ))
        }
    };

    // 3. Body: JSON bodies are read (capped, with a deadline) to be hashed and
    //    classified, signed bodies to be verified; every other body streams.
    let inspect = match target {
        Target::Adapter(_) | Target::Sandbox(_) => true,
        Target::Upstream(route) if route.mcp.is_some() => head.method == Method::POST,
        Target::Upstream(route) => {
            inspect::wants_inspection(route.inspect, &head.method, &head.headers)
        }
    };
    let signed = state.gates.signs_body();
    let (body, inspected, body_sha256): (ProxyBody, Option<Bytes>, Option<String>) =
        if inspect || signed {
            let limit = if inspect {
                state.max_inspect_body_bytes
            } else {
                state.max_signed_body_bytes
            };
            let bytes = inspect::read_body(body, limit, state.body_read_timeout).await?;
            let sha = hex::encode(Sha256::digest(&bytes));
            if inspect {
                ctx.action.body_bytes = Some(bytes.len() as u64);
                ctx.action.body_sha256 = Some(sha.clone());
            }
            let kept = inspect.then(|| bytes.clone());
            (
                Full::new(bytes).map_err(|e| match e {}).boxed(),
                kept,
                Some(sha),
            )
        } else {
            (body.map_err(Into::into).boxed(), None, None)
        };

    // 4. Authentication and scope, then the per-principal rate limit.
    state
        .gates
        .authenticate(
            Plane::Data,
            &head,
            body_sha256.as_deref().unwrap_or(EMPTY_SHA256),
            admission,
        )
        .map_err(|r| ctx.refused(r))?;
    state.gates.strip_credentials(&mut head);

    let route = match target {
        // 5a. The adapter classifies and records intake contracts itself.
        Target::Adapter(adapter) => {
            return serve_adapter(state, adapter, &head, inspected.unwrap_or_default(), ctx).await;
        }
        // 5c. Diff validation runs in the sandbox; only metadata is recorded.
        Target::Sandbox(sandbox) => {
            ctx.action.kind = "sandbox.validate";
            ctx.action.connector = "sandbox".into();
            let validation = sandbox
                .validate_body(&inspected.unwrap_or_default())
                .await?;
            ctx.detail = Some(validation.metadata());
            ctx.code = validation.failure.map(|f| f.as_str());
            return Ok(json_response(
                StatusCode::OK,
                &crate::sandbox::service::answer(&validation),
            ));
        }
        Target::Upstream(route) => route,
    };

    // 5b. MCP: every JSON-RPC request in the body is reviewed on its own.
    if let (Some(tools), &Method::POST) = (&route.mcp, &head.method) {
        let listing = ListingFilter {
            connector: route.name.0.clone(),
            filter: tools.clone(),
            pins: state.pins.clone(),
        };
        let agent = agent_header(&head).or_else(|| {
            ctx.admission
                .as_ref()?
                .principal
                .as_deref()
                .map(str::to_owned)
        });
        let mut note = McpNote::default();
        let result = mcp::gateway::post(
            state,
            conn,
            route,
            listing,
            head,
            inspected.unwrap_or_default(),
            agent.as_deref(),
            &ctx.request_id,
            &mut note,
        )
        .await;
        if let Some(action) = note.action {
            ctx.action = ActionSummary {
                method: ctx.action.method.take(),
                path: ctx.action.path.take(),
                query_sha256: ctx.action.query_sha256.take(),
                body_bytes: ctx.action.body_bytes,
                body_sha256: ctx.action.body_sha256.take(),
                ..action
            };
        } else if !note.calls.is_empty() {
            ctx.action.kind = "mcp.batch";
            ctx.action.connector = route.name.0.to_string();
            ctx.action.message_count = Some(note.calls.len() as u64);
        }
        ctx.decision = note.decision;
        ctx.code = note.code;
        ctx.calls = note.calls;
        ctx.upstream_status = note.upstream_status;
        ctx.detail = note.detail;
        return result;
    }

    // 5. Classify: the action contract, then the policy's decision.
    // Whatever its declared type, a body that parses as JSON is classified
    // as arguments; one declared JSON that does not parse is refused.
    let arguments =
        match &inspected {
            Some(bytes) if !bytes.is_empty() => {
                match serde_json::from_slice::<serde_json::Value>(bytes) {
                    Ok(value) => Some(value),
                    Err(_) if inspect::declares_json(&head.headers) => return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_json",
                        "the body is declared JSON but does not parse, so it cannot be classified",
                    )),
                    Err(_) => None,
                }
            }
            _ => None,
        };
    let contract = ActionContract {
        kind: Kind::HttpRequest,
        agent: agent_header(&head),
        connector: Some(route.name.0.to_string()),
        tool: route.tool(head.uri.path()).map(str::to_owned),
        method: Some(head.method.as_str().to_owned()),
        path: Some(head.uri.path().to_owned()),
        arguments,
        ..ActionContract::default()
    };
    ctx.action.arg_keys = contract.arg_keys();
    ctx.action.tool = contract.tool.clone();
    if let Some(tool) = &contract.tool {
        // Per-tool rate limits (overrides with `tool = "write_*"`).
        let mutation = crate::gate::rate_limit::is_mutation(&head.method);
        let limited = match ctx.admission.as_mut() {
            Some(admission) => state.gates.limit_tool(admission, tool, mutation),
            None => Ok(()),
        };
        limited.map_err(|r| ctx.refused(r))?;
    }
    let decision = ctx.decision.insert(state.policy.classify(&contract));

    // 6. Act on the decision: `allow` reaches the upstream, and so does a
    //    `human` call a person approves in the escalation queue.
    match (&state.escalations, decision.route) {
        (Some(queue), Route::Human) => {
            let agent = contract
                .agent
                .as_deref()
                .or(ctx.admission.as_ref().and_then(|a| a.principal.as_deref()));
            let decision = decision.clone();
            escalate(queue, agent, &ctx.action, &decision)
                .await
                .map_err(|not| escalation_problem(not, &decision))?;
        }
        _ => {
            if let Some(problem) = refusal_for(decision) {
                return Err(problem);
            }
        }
    }
    let req = Request::from_parts(head, body);
    let response = state
        .upstream
        .forward(route, conn.peer, conn.proto(), req)
        .await
        .map_err(|e| {
            tracing::warn!(route = %route.name.0, error = %e, "upstream failure");
            e.problem(route)
        })?;
    ctx.upstream_status = Some(response.status().as_u16());
    Ok(response.map(|body| body.map_err(Into::into).boxed()))
}

/// Serves an adapter request and notes what it did for the tape.
async fn serve_adapter(
    state: &AppState,
    adapter: &Adapter,
    head: &http::request::Parts,
    body: Bytes,
    ctx: &mut Context,
) -> Result<Response<ProxyBody>, Problem> {
    let principal = ctx.admission.as_ref().and_then(|a| a.principal.clone());
    let mut note = IntakeNote::default();
    let result = adapter.handle(&state.policy, head, &body, principal.as_deref(), &mut note);
    ctx.action.kind = note.kind.unwrap_or("adapter.request");
    ctx.action.connector = "agent-adapter".into();
    ctx.action.contract_sha256 = note.contract_sha256;
    ctx.action.command_count = note.command_count;
    ctx.action.changed_file_count = note.changed_file_count;
    let sandboxed = note
        .decision
        .as_ref()
        .is_some_and(|d| d.route == Route::Sandbox)
        && ctx.action.kind == "intake.command_request";
    ctx.decision = note.decision;
    let mut value = result?;
    // A command request the policy routes to the sandbox runs there now and
    // is answered with its execution result (output to the caller only).
    if let (true, Some(sandbox)) = (sandboxed, &state.sandbox) {
        let validation = sandbox.run_command_request(&body).await;
        ctx.detail = Some(validation.metadata());
        ctx.code = validation.failure.map(|f| f.as_str());
        value["status"] = "sandbox_executed".into();
        value["execution_result"] = crate::sandbox::service::execution_result(&validation);
    }
    Ok(json_response(StatusCode::OK, &value))
}

/// The refusal of an escalated call that was not approved.
fn escalation_problem(not: crate::escalation::gate::NotApproved, decision: &Decision) -> Problem {
    let mut problem = Problem::new(not.status, not.code, not.message).with(
        "decision",
        serde_json::json!({
            "route": decision.route,
            "risk": decision.risk,
            "reasons": decision.reasons,
            "rules": decision.rules,
        }),
    );
    if let Some(entry) = not.entry {
        problem = problem.with("escalation_id", entry.id.into());
        problem = problem.with("escalation_status", entry.status.as_str().into());
    }
    if not.code == "escalation_pending" {
        problem = problem.with("retry_after_seconds", 30.into());
        problem
            .headers
            .push((header::RETRY_AFTER, HeaderValue::from_static("30")));
    }
    problem
}

/// The refusal for a decision that does not allow forwarding.
fn refusal_for(decision: &Decision) -> Option<Problem> {
    let detail = serde_json::json!({
        "route": decision.route,
        "risk": decision.risk,
        "reasons": decision.reasons,
        "rules": decision.rules,
    });
    let reasons = decision.reasons.join(", ");
    let problem = match decision.route {
        Route::Allow => return None,
        Route::Deny => Problem::new(
            StatusCode::FORBIDDEN,
            "policy_denied",
            format!("the policy refuses this action ({reasons})"),
        ),
        Route::Human => Problem::new(
            StatusCode::FORBIDDEN,
            "human_approval_required",
            format!("this action needs a person's approval ({reasons}); no escalation queue is enabled on this sidecar, so it is refused"),
        ),
        Route::Sandbox => Problem::new(
            StatusCode::FORBIDDEN,
            "sandbox_unavailable",
            format!("the policy routes this action to the sandbox ({reasons}), which this sidecar does not run; it is refused"),
        ),
    };
    Some(problem.with("decision", detail))
}

/// The tape record of one message's decision in an MCP batch.
fn call_record(call: CallRecord, outcome: &Outcome) -> TapeRecord {
    TapeRecord {
        event: "decision",
        request_id: Some(call.decision_id),
        action: Some(call.action),
        outcome: Some(Outcome {
            code: call.code,
            ..outcome.clone()
        }),
        risk: call.decision.as_ref().map(|d| d.risk.as_str()),
        route: call.decision.as_ref().map(|d| d.route.as_str()),
        reasons: call.decision.map(tape_reasons).unwrap_or_default(),
        ..TapeRecord::default()
    }
}

/// What the tape records as reasons: the rule ids, then confidence gates.
pub fn tape_reasons(decision: Decision) -> Vec<String> {
    let mut reasons = decision.rules;
    reasons.extend(
        decision
            .reasons
            .into_iter()
            .filter(|r| r == "low_confidence" || r == "medium_confidence"),
    );
    reasons
}

fn agent_header(head: &http::request::Parts) -> Option<String> {
    head.headers
        .get(crate::gate::hmac_auth::AGENT_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The metadata-only description of a request, before anything is decided.
fn describe(req: &Request<Incoming>, route: Option<&ResolvedRoute>) -> ActionSummary {
    ActionSummary {
        kind: "http.request",
        connector: route.map_or_else(|| "-".to_owned(), |r| r.name.0.to_string()),
        method: Some(req.method().as_str().to_owned()),
        path: Some(req.uri().path().to_owned()),
        query_sha256: req
            .uri()
            .query()
            .map(|q| hex::encode(Sha256::digest(q.as_bytes()))),
        body_bytes: req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        ..ActionSummary::default()
    }
}

fn record_metrics(
    state: &AppState,
    route: Option<&ResolvedRoute>,
    outcome: &Outcome,
    started: Instant,
) {
    let metrics = &state.metrics;
    let route_name = route.map_or_else(|| RouteName(Arc::from("-")), |r| r.name.clone());
    let kind = match outcome.code {
        None => "forwarded",
        Some(code) if code.starts_with("upstream_") => "upstream_error",
        Some(_) => "refused",
    };
    if let Some(code) = outcome.code {
        metrics.refusals.get_or_create(&CodeLabels { code }).inc();
    }
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route_name.clone(),
            outcome: kind,
        })
        .inc();
    metrics
        .request_seconds
        .get_or_create(&RouteLabels { route: route_name })
        .observe(started.elapsed().as_secs_f64());
}

/// The answer given when the tape cannot record a decision.
pub fn tape_unavailable() -> Response<ProxyBody> {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "tape_unavailable",
        "the decision tape cannot be written, so no request is answered; check disk space and the sidecar's log",
    )
    .into_response()
}

fn with_request_id(mut response: Response<ProxyBody>, request_id: &str) -> Response<ProxyBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
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
