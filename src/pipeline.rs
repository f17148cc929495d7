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

use crate::act::Actor;
use crate::action::{ActionContract, Kind};
use crate::body_args;
use crate::canonical::{canonicalize, recorded_path};
use crate::escalation::review::ReviewView;
use crate::gate::scopes::Plane;
use crate::gate::{Admission, Refusal};
use crate::inspect;
use crate::intake::{Adapter, IntakeNote};
use crate::mcp::gateway::{CallRecord, McpNote, WriteAhead};
use crate::mcp::{self, ListingFilter};
use crate::metrics::{RefusalLabels, RequestLabels, RouteLabels, RouteName};
use crate::policy::{Decision, Verdict};
use crate::problem::{json_response, tape_unavailable, Problem};
use crate::proxy::{ProxyBody, ResolvedRoute};
use crate::sandbox::service::{SandboxService, VALIDATE_PATH};
use crate::server::ConnInfo;
use crate::state::AppState;
use crate::tape::{ActionSummary, Outcome, Recorded, TapeRecord};

/// Response header carrying the request id that also names the tape record.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-cpos-request-id");

/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What the steps learn about a request, for its tape record and response.
struct Context {
    request_id: String,
    /// Shared with the write-ahead record, not copied into it; filled in
    /// with `Arc::make_mut` (which copies only while a record holds it).
    action: Arc<ActionSummary>,
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
    /// A `decision` record for this request is on the tape.
    recorded_ahead: bool,
}

impl Context {
    /// A request's context before any step ran. Written out rather than
    /// derived: a default `Arc<ActionSummary>` would be allocated only to
    /// be replaced.
    fn new(request_id: String, action: Arc<ActionSummary>) -> Context {
        Context {
            request_id,
            action,
            code: None,
            calls: Vec::new(),
            detail: None,
            upstream_status: None,
            gate: None,
            client_ip: None,
            admission: None,
            decision: None,
            recorded_ahead: false,
        }
    }

    /// The tape record of what is known so far. After a write-ahead
    /// `decision` record (which holds the action, principal and verdict),
    /// the `request` record carries only the outcome under the same id.
    fn into_record(
        self,
        event: &'static str,
        request_id: String,
        outcome: Option<Outcome>,
    ) -> TapeRecord {
        if self.recorded_ahead {
            return TapeRecord {
                event,
                request_id: Some(request_id),
                outcome,
                detail: self.detail,
                ..TapeRecord::default()
            };
        }
        TapeRecord {
            event,
            request_id: Some(request_id),
            action: Some(self.action),
            outcome,
            gate: self.gate,
            client_ip: self.client_ip,
            principal: self
                .admission
                .as_ref()
                .and_then(|a| a.principal.as_deref().map(str::to_owned)),
            audit: self.admission.as_ref().and_then(|a| a.audit),
            state: self.admission.as_ref().and_then(|a| a.state),
            detail: self.detail,
            ..TapeRecord::default()
        }
        .with_verdict(self.decision.as_ref())
    }

    /// The write-ahead record of the decision about to be acted on.
    fn decision_record(&self) -> TapeRecord {
        self.decision_record_for(self.decision.as_ref())
    }

    /// The write-ahead record of `decision`.
    fn decision_record_for(&self, decision: Option<&Decision>) -> TapeRecord {
        TapeRecord {
            event: "decision",
            request_id: Some(self.request_id.clone()),
            action: Some(self.action.clone()),
            principal: self
                .admission
                .as_ref()
                .and_then(|a| a.principal.as_deref().map(str::to_owned)),
            audit: self.admission.as_ref().and_then(|a| a.audit),
            state: self.admission.as_ref().and_then(|a| a.state),
            ..TapeRecord::default()
        }
        .with_verdict(decision)
    }

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
    mut req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    // 0. One canonical request: what is routed, decided and forwarded.
    let canonical = canonicalize(&mut req, state.config.load().request.method_override);
    let route = match canonical {
        Ok(()) => state.routes.load().find(req.uri().path()).cloned(),
        Err(_) => None,
    };
    // The context lives in a guard that records an outcome even when the
    // client goes away while the call runs (the future is then dropped).
    let mut guard = OutcomeGuard {
        tape: &state.tape,
        started,
        ctx: Some(Context::new(
            state.request_ids.next(),
            describe(&req, route.as_deref()).into(),
        )),
    };
    let result = match canonical {
        Ok(()) => {
            let ctx = guard
                .ctx
                .as_mut()
                .expect("held until the request is answered");
            decide_and_act(&state, &conn, route.as_deref(), req, ctx).await
        }
        Err(problem) => Err(problem),
    };
    let mut ctx = guard.disarm();

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
                upstream_status: ctx.upstream_status,
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
    let rate = ctx.admission.as_ref().and_then(|a| a.rate);
    let verdict = ctx.decision.as_ref().map(|d| d.route.as_str());
    let stage = refusal_stage(ctx.gate, verdict, outcome.code);
    let record = ctx.into_record("request", request_id.clone(), Some(outcome.clone()));
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
    if let Some(rate) = rate {
        for (name, value) in rate.headers() {
            response.headers_mut().entry(name).or_insert(value);
        }
    }
    record_metrics(&state, route.as_deref(), &outcome, stage, started);
    // One line per request when `log.requests` is on (target
    // `cpos::request`): metadata only, as on the tape.
    if state.config.load().log.requests {
        log_request(&request_id, route.as_deref(), verdict, stage, &outcome);
    }
    with_request_id(response, &request_id)
}

/// The request line: kept out of [`handle`] so the request's future does
/// not carry the formatter's state.
#[inline(never)]
fn log_request(
    request_id: &str,
    route: Option<&ResolvedRoute>,
    verdict: Option<&str>,
    stage: Option<&str>,
    outcome: &Outcome,
) {
    tracing::info!(
        target: "cpos::request",
        request_id,
        route = route.map_or("-", |r| &*r.name.0),
        verdict = verdict.unwrap_or("-"),
        status = outcome.status,
        code = outcome.code.unwrap_or("-"),
        refused_by = stage.unwrap_or("-"),
        upstream_status = outcome.upstream_status,
        duration_us = outcome.duration_us,
        "request"
    );
}

/// Owns a request's context while it is decided and acted on; dropped
/// still holding it (the client went away mid-call), it records the
/// outcome.
struct OutcomeGuard<'a> {
    tape: &'a crate::tape::Tape,
    started: Instant,
    /// `None` once disarmed.
    ctx: Option<Context>,
}

impl OutcomeGuard<'_> {
    /// The context, once the request is answered.
    fn disarm(&mut self) -> Context {
        self.ctx
            .take()
            .expect("a request's context is taken once, when it is answered")
    }
}

impl Drop for OutcomeGuard<'_> {
    fn drop(&mut self) {
        let Some(ctx) = self.ctx.take() else {
            return;
        };
        let request_id = ctx.request_id.clone();
        let outcome = Outcome {
            code: Some("client_closed_request"),
            duration_us: self.started.elapsed().as_micros() as u64,
            status: 499,
            upstream_status: ctx.upstream_status,
        };
        self.tape
            .record_detached(ctx.into_record("request", request_id, Some(outcome)));
    }
}

/// The act step's inputs, from the application state.
fn actor(state: &AppState) -> Actor<'_> {
    Actor {
        tape: &state.tape,
        escalations: state.escalations.as_ref(),
    }
}

/// Records the decision about to be acted on (a sandbox run of the
/// adapter or the validation endpoint), or refuses to act.
async fn write_ahead(state: &AppState, ctx: &mut Context) -> Result<Recorded, Problem> {
    let recorded = actor(state)
        .record_ahead(ctx.decision_record())
        .await
        .map_err(|refused| refused.into_problem(None))?;
    ctx.recorded_ahead = true;
    Ok(recorded)
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
    if !state.gates.is_trusted_proxy(conn.peer.ip()) {
        crate::proxy::strip_untrusted_forwarding(&mut head.headers);
    }

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

    // 3. Body: every body on an inspecting route is read (capped, with a
    //    deadline) to be hashed and classified — any method, with or without
    //    a length — and signed bodies to be verified; the rest streams.
    let has_body = !http_body::Body::is_end_stream(&body);
    let inspect = match target {
        Target::Adapter(_) | Target::Sandbox(_) => true,
        Target::Upstream(route) if route.mcp.is_some() => {
            // Streamable HTTP is POST (messages), GET (the server's stream)
            // and DELETE (end of session); messages only ever in a POST.
            let served = matches!(head.method, Method::POST | Method::GET | Method::DELETE);
            if !served || (has_body && head.method != Method::POST) {
                return Err(Problem::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "mcp_method_not_allowed",
                    "an MCP endpoint takes POST (JSON-RPC messages in the body), GET and DELETE",
                ));
            }
            // A disabled connector's stream and sessions are closed too
            // (its messages are answered one by one, in JSON-RPC).
            if head.method != Method::POST && route.mcp.as_ref().is_some_and(|f| !f.active) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "connector_not_active",
                    "this connector is disabled or revoked; an operator re-registers it through the review queue",
                ));
            }
            head.method == Method::POST
        }
        Target::Upstream(route) => {
            has_body && inspect::wants_inspection(route.inspect, &head.headers)
        }
    };
    let signed = state.gates.signs_body() && has_body;
    let (body, inspected, body_sha256): (ProxyBody, Option<Bytes>, Option<String>) =
        if inspect || signed {
            let limit = if inspect {
                state.max_inspect_body_bytes
            } else {
                state.max_signed_body_bytes
            };
            let bytes = inspect::read_body(body, limit, state.body_read_timeout).await?;
            let sha = hex::encode(Sha256::digest(&bytes));
            let action = Arc::make_mut(&mut ctx.action);
            action.body_bytes = Some(bytes.len() as u64);
            action.body_sha256 = Some(sha.clone());
            // A body read for its signature is classified too.
            let kept = Some(bytes.clone());
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
        .await
        .map_err(|r| ctx.refused(r))?;
    let agent = agent_header(&head);
    state.gates.strip_credentials(&mut head);
    crate::proxy::strip_cpos_headers(&mut head.headers);

    let route = match target {
        // 5a. The adapter classifies and records intake contracts itself.
        Target::Adapter(adapter) => {
            return Box::pin(serve_adapter(
                state,
                adapter,
                &head,
                inspected.unwrap_or_default(),
                ctx,
            ))
            .await;
        }
        // 5c. Diff validation runs in the sandbox; only metadata is recorded.
        Target::Sandbox(sandbox) => {
            let action = Arc::make_mut(&mut ctx.action);
            action.kind = "sandbox.validate";
            action.connector = "sandbox".into();
            let recorded = Box::pin(write_ahead(state, ctx)).await?;
            let validation =
                Box::pin(sandbox.validate_body(&inspected.unwrap_or_default(), &recorded)).await?;
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
        let listing = listing_filter(state, route, tools);
        let agent = agent.clone().or_else(|| {
            ctx.admission
                .as_ref()?
                .principal
                .as_deref()
                .map(str::to_owned)
        });
        let mut note = McpNote::default();
        let result = Box::pin(mcp::gateway::post(
            state,
            conn,
            route,
            listing,
            head,
            inspected.unwrap_or_default(),
            agent.as_deref(),
            &ctx.request_id,
            WriteAhead {
                base: &ctx.action,
                principal: ctx.admission.as_ref().and_then(|a| a.principal.as_deref()),
                client_ip: ctx.admission.as_ref().map(|a| a.client_ip),
            },
            &mut note,
        ))
        .await;
        if let Some(action) = note.action {
            ctx.action = mcp::gateway::merge_action(&ctx.action, action).into();
        } else if !note.calls.is_empty() {
            let action = Arc::make_mut(&mut ctx.action);
            action.kind = "mcp.batch";
            action.connector = route.name.0.to_string();
            action.message_count = Some(note.calls.len() as u64);
        }
        ctx.decision = note.decision;
        ctx.code = note.code;
        ctx.calls = note.calls;
        ctx.upstream_status = note.upstream_status;
        ctx.detail = note.detail;
        ctx.recorded_ahead = note.recorded_ahead;
        return result;
    }

    // 5. Classify: the action contract — query, JSON, form or multipart
    //    fields as arguments, read as the tool will read them — then the
    //    policy's decision. What cannot be read one way only was refused.
    let call = match &inspected {
        Some(bytes) => {
            let decoded = body_args::decoded_body(
                &head.headers,
                bytes,
                state.config.load().request.content_encoding,
                state.max_inspect_body_bytes,
            )?;
            body_args::call_arguments(&head.headers, head.uri.query(), &decoded)?
        }
        None => body_args::call_arguments(&head.headers, head.uri.query(), &[])?,
    };
    let contract = ActionContract {
        kind: Kind::HttpRequest,
        agent,
        connector: Some(route.name.0.to_string()),
        // A JSON-RPC `tools/call` sent to a plain route names its tool too.
        tool: route.tool(head.uri.path()).map(str::to_owned).or_else(|| {
            let body = call.arguments.as_ref()?;
            let (name, _) = crate::action::jsonrpc::tools_calls(body).next()?;
            Some(name.to_owned())
        }),
        method: Some(head.method.as_str().to_owned()),
        path: Some(head.uri.path().to_owned()),
        arguments: call.arguments,
        texts: call.text.into_iter().collect(),
        ..ActionContract::default()
    };
    let action = Arc::make_mut(&mut ctx.action);
    action.arg_keys = contract.arg_keys();
    action.tool = contract.tool.clone();
    if let Some(tool) = &contract.tool {
        // Per-tool rate limits (overrides with `tool = "write_*"`).
        let mutation = crate::gate::rate_limit::is_mutation(&head.method);
        let limited = match ctx.admission.as_mut() {
            Some(admission) => state.gates.limit_tool(admission, tool, mutation).await,
            None => Ok(()),
        };
        limited.map_err(|r| ctx.refused(r))?;
    }
    let policy = state.policy.load();
    let decision = policy.classify(&contract);

    // 6. Act: `allow` goes ahead, `human` once a person approves it, the
    //    rest is refused; the decision is on the tape before a byte goes
    //    upstream, and `forward` takes the tape's receipt.
    let agent = contract
        .agent
        .as_deref()
        .or(ctx.admission.as_ref().and_then(|a| a.principal.as_deref()));
    let record = ctx.decision_record_for(Some(&decision));
    let admission = ctx.admission.as_ref();
    let view = || {
        Some(ReviewView::build(
            &policy,
            &contract,
            admission.and_then(|a| a.principal.as_deref()),
            admission.map(|a| a.client_ip.to_string()),
        ))
    };
    let permitted = actor(state)
        .permit(&decision, agent, &ctx.action, record, false, view)
        .await
        .map_err(|refused| refused.into_problem(Some(&decision)));
    ctx.decision = Some(decision);
    let recorded = permitted?;
    ctx.recorded_ahead = true;

    // 7. Forward exactly the canonical request.
    let req = Request::from_parts(head, body);
    let response = state
        .upstream
        .forward(route, conn, req, &recorded)
        .await
        .map_err(|e| {
            tracing::warn!(route = %route.name.0, error = %e, "upstream failure");
            e.problem(route)
        })?;
    ctx.upstream_status = Some(response.status().as_u16());
    match &route.mcp {
        // The server's own stream (GET) is screened like a POST's answer:
        // a listing is filtered wherever it arrives.
        Some(tools) => {
            let listing = listing_filter(state, route, tools);
            Box::pin(mcp::gateway::screen_response(response, Vec::new(), listing)).await
        }
        None => Ok(response),
    }
}

/// What screening an MCP route's answers needs.
fn listing_filter(
    state: &AppState,
    route: &ResolvedRoute,
    tools: &Arc<crate::mcp::ToolFilter>,
) -> ListingFilter {
    ListingFilter {
        connector: route.name.0.clone(),
        filter: tools.clone(),
        pins: state.pins.clone(),
        tape: Some(state.tape.clone()),
    }
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
    let result = adapter.handle(
        &state.policy.load(),
        head,
        &body,
        principal.as_deref(),
        &mut note,
    );
    let action = Arc::make_mut(&mut ctx.action);
    action.kind = note.kind.unwrap_or("adapter.request");
    action.connector = "agent-adapter".into();
    action.contract_sha256 = note.contract_sha256;
    action.command_count = note.command_count;
    action.changed_file_count = note.changed_file_count;
    let sandboxed = note
        .decision
        .as_ref()
        .is_some_and(|d| d.route == Verdict::Sandbox)
        && ctx.action.kind == "intake.command_request";
    ctx.decision = note.decision;
    let mut value = result?;
    // A command request the policy routes to the sandbox runs there now and
    // is answered with its execution result (output to the caller only).
    if let (true, Some(sandbox)) = (sandboxed, &state.sandbox) {
        let recorded = write_ahead(state, ctx).await?;
        let validation = sandbox.run_command_request(&body, &recorded).await;
        ctx.detail = Some(validation.metadata());
        ctx.code = validation.failure.map(|f| f.as_str());
        value["status"] = "sandbox_executed".into();
        value["execution_result"] = crate::sandbox::service::execution_result(&validation);
    }
    Ok(json_response(StatusCode::OK, &value))
}

/// The outcome record of one message of an MCP batch (its decision was
/// written ahead as a `decision` record under the same id).
fn call_record(call: CallRecord, outcome: &Outcome) -> TapeRecord {
    TapeRecord {
        event: "message",
        request_id: Some(call.decision_id),
        action: Some(call.action.into()),
        outcome: Some(Outcome {
            code: call.code,
            ..outcome.clone()
        }),
        ..TapeRecord::default()
    }
    .with_verdict(call.decision.as_ref())
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
        path: Some(recorded_path(req.uri().path())),
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

/// Which step refused a request: an edge gate, the policy, the upstream,
/// or the request itself (malformed, too large, ambiguous).
fn refusal_stage(
    gate: Option<&'static str>,
    verdict: Option<&'static str>,
    code: Option<&'static str>,
) -> Option<&'static str> {
    let code = code?;
    Some(match (gate, verdict) {
        (Some(gate), _) => gate,
        _ if code.starts_with("upstream_") => "upstream",
        _ if code.starts_with("tape_") => "tape",
        (None, Some("deny" | "human" | "sandbox")) => "policy",
        _ => "request",
    })
}

fn record_metrics(
    state: &AppState,
    route: Option<&ResolvedRoute>,
    outcome: &Outcome,
    stage: Option<&'static str>,
    started: Instant,
) {
    let metrics = &state.metrics;
    let route_name = route.map_or_else(|| RouteName(Arc::from("-")), |r| r.name.clone());
    let kind = match outcome.code {
        None => "forwarded",
        Some(code) if code.starts_with("upstream_") => "upstream_error",
        Some(_) => "refused",
    };
    if let (Some(code), Some(gate)) = (outcome.code, stage) {
        metrics
            .refusals
            .get_or_create(&RefusalLabels { gate, code })
            .inc();
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

fn with_request_id(mut response: Response<ProxyBody>, request_id: &str) -> Response<ProxyBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}
