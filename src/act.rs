//! Acting on a verdict: the one step every transport goes through — plain
//! HTTP tool calls and the adapter's sandbox runs (`src/pipeline.rs`), MCP
//! over streamable HTTP (`src/mcp/gateway.rs`) and `cpos stdio`
//! (`src/mcp/stdio.rs`). Its order never changes:
//!
//! 1. a verdict that refuses by itself is answered ([`Refusal::for_verdict`]);
//! 2. a `human` verdict waits for a person, or is queued (async mode);
//! 3. the decision goes on the tape ahead of the call;
//!
//! and only the tape's receipt ([`Recorded`]) lets anything run: forwarding,
//! a sandbox run, the release of a held call. The caller records the outcome.
//! The step asks for what it uses — the tape and the queue — not the whole
//! application state.

use http::header::{self, HeaderValue};

use crate::escalation::gate::{escalate, NotApproved};
use crate::escalation::review::ReviewView;
use crate::escalation::{Entry, Queue};
use crate::policy::{Decision, Verdict};
use crate::problem::Problem;
use crate::refusal::Refusal;
use crate::tape::{ActionSummary, Recorded, Tape, TapeRecord};
use std::sync::Arc;

/// Seconds an async-pending caller is told to wait before retrying.
const PENDING_RETRY_SECONDS: u32 = 30;

/// A call the act step did not run, and why.
#[derive(Debug)]
pub struct Refused {
    /// The typed reason (code, status, JSON-RPC code).
    pub refusal: Refusal,
    /// What happened and what to do.
    pub message: String,
    /// The escalation entry, when a person was asked.
    pub entry: Option<Entry>,
}

impl Refused {
    /// A refusal with its standard message for `decision`'s reasons.
    pub fn new(refusal: Refusal, decision: Option<&Decision>) -> Refused {
        let reasons = decision.map(|d| d.reasons.join(", ")).unwrap_or_default();
        Refused {
            refusal,
            message: refusal.message(&reasons),
            entry: None,
        }
    }

    /// The HTTP answer: the refusal, the decision behind it and, for an
    /// escalation, its id and status (and `Retry-After` while pending).
    pub fn into_problem(self, decision: Option<&Decision>) -> Problem {
        let r = self.refusal;
        let mut problem = Problem::new(r.status(), r.code(), self.message);
        if let Some(decision) = decision {
            problem = problem.with(
                "decision",
                serde_json::json!({
                    "route": decision.route,
                    "risk": decision.risk,
                    "reasons": decision.reasons,
                    "rules": decision.rules,
                }),
            );
        }
        if let Some(entry) = self.entry {
            problem = problem.with("escalation_id", entry.id.into());
            problem = problem.with("escalation_status", entry.status.as_str().into());
        }
        if matches!(r, Refusal::EscalationPending | Refusal::EscalationLimited) {
            problem = problem.with("retry_after_seconds", PENDING_RETRY_SECONDS.into());
            problem.headers.push((
                header::RETRY_AFTER,
                HeaderValue::from(PENDING_RETRY_SECONDS),
            ));
        }
        problem
    }
}

impl From<NotApproved> for Refused {
    fn from(not: NotApproved) -> Refused {
        Refused {
            refusal: not.refusal,
            message: not.message,
            entry: not.entry,
        }
    }
}

/// The act step's inputs: where decisions are recorded and who decides
/// `human` calls.
#[derive(Clone, Copy)]
pub struct Actor<'a> {
    /// The decision tape.
    pub tape: &'a Tape,
    /// The escalation queue, when one runs.
    pub escalations: Option<&'a Arc<Queue>>,
}

impl Actor<'_> {
    /// Steps 1–3 for one call: the receipt that lets it run, or why not.
    /// `sandbox_here` says whether a `sandbox` verdict can run here.
    pub async fn permit(
        &self,
        decision: &Decision,
        agent: Option<&str>,
        action: &ActionSummary,
        record: TapeRecord,
        sandbox_here: bool,
        view: impl FnOnce() -> Option<ReviewView>,
    ) -> Result<Recorded, Refused> {
        self.clear(decision, agent, action, sandbox_here, view)
            .await?;
        self.record_ahead(record).await
    }

    /// Steps 1–2: `Ok` when the verdict lets the call go ahead — `allow`,
    /// `sandbox` where it can run, or `human` once a person approved it.
    /// `view` builds the reviewer's view of a call that is queued (only then).
    pub async fn clear(
        &self,
        decision: &Decision,
        agent: Option<&str>,
        action: &ActionSummary,
        sandbox_here: bool,
        view: impl FnOnce() -> Option<ReviewView>,
    ) -> Result<(), Refused> {
        let queue_here = self.escalations.is_some();
        if let Some(refusal) = Refusal::for_verdict(decision.route, queue_here, sandbox_here) {
            return Err(Refused::new(refusal, Some(decision)));
        }
        if let (Verdict::Human, Some(queue)) = (decision.route, self.escalations) {
            Box::pin(escalate(queue, agent, action, decision, view)).await?;
        }
        Ok(())
    }

    /// Step 3: the decision on the tape, or nothing runs.
    pub fn record_ahead(
        &self,
        record: TapeRecord,
    ) -> impl std::future::Future<Output = Result<Recorded, Refused>> + Send + '_ {
        let request_id = record.request_id.clone().unwrap_or_default();
        let recorded = self.tape.write_ahead(record);
        async move {
            recorded.await.map_err(|e| {
                tracing::error!(error = %e, request_id, "tape refused a decision record; not acting");
                Refused::new(Refusal::TapeUnavailable, None)
            })
        }
    }
}
