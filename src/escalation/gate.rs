//! The `human` route on the request path: find a one-time async approval,
//! or create an entry and hold the call / answer with its id.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{CreateError, Entry, Mode, NewEntry, Queue, Status};
use crate::policy::Decision;
use crate::refusal::Refusal;
use crate::tape::ActionSummary;

/// Why an escalated call does not go ahead (now).
#[derive(Debug)]
pub struct NotApproved {
    /// `EscalationRejected`, `…Expired`, `…Cancelled`, `…Pending` or `…Unavailable`.
    pub refusal: Refusal,
    /// What happened and what to do.
    pub message: String,
    /// The entry, when there is one.
    pub entry: Option<Entry>,
}

/// SHA-256 naming the exact call: who, what target, which arguments.
pub fn action_sha256(agent: Option<&str>, action: &ActionSummary) -> String {
    let key = serde_json::json!({
        "agent": agent,
        "kind": action.kind,
        "connector": action.connector,
        "tool": action.tool,
        "method": action.method,
        "path": action.path,
        "query_sha256": action.query_sha256,
        "body_sha256": action.body_sha256,
        "arg_sha256": action.arg_sha256,
        "rpc_method": action.rpc_method,
    });
    hex::encode(Sha256::digest(key.to_string().as_bytes()))
}

/// Escalates a call the policy routed to `human`: `Ok` when a person has
/// approved it (now, while held, or earlier for the identical async call).
/// `view` builds what a reviewer sees; it runs only when an entry is made.
pub async fn escalate(
    queue: &Arc<Queue>,
    agent: Option<&str>,
    action: &ActionSummary,
    decision: &Decision,
    view: impl FnOnce() -> Option<super::review::ReviewView>,
) -> Result<Entry, NotApproved> {
    let hash = action_sha256(agent, action);
    if let Some(entry) = queue.take_approval(agent, &hash).await {
        return Ok(entry);
    }
    if queue.is_draining() {
        return Err(shutting_down(None));
    }
    let summary = serde_json::to_value(action).unwrap_or_default();
    // A rule may choose the mode; otherwise the queue's setting holds.
    let mode = decision.escalation.unwrap_or(queue.mode());
    let entry = queue
        .create(NewEntry {
            mode,
            agent: agent.map(str::to_owned),
            action: summary,
            action_sha256: hash,
            risk: decision.risk.as_str().to_owned(),
            reasons: decision.reasons.clone(),
            view: view(),
        })
        .await
        .map_err(|e| match e {
            CreateError::Limit(_) => NotApproved {
                refusal: Refusal::EscalationLimited,
                message: format!(
                    "{e}; retry after they are decided (escalation.max_pending_per_agent)"
                ),
                entry: None,
            },
            CreateError::Store(e) => NotApproved {
                refusal: Refusal::EscalationUnavailable,
                message: format!(
                    "the escalation queue cannot record this call ({e}); it is refused"
                ),
                entry: None,
            },
        })?;
    tracing::info!(id = %entry.id, mode = ?entry.mode, reasons = ?entry.reasons, "call escalated to a person");
    if mode == Mode::Async {
        return Err(NotApproved {
            refusal: Refusal::EscalationPending,
            message: format!(
                "this call needs a person's approval ({}); escalation {} is pending — retry the identical call after it is approved",
                decision.reasons.join(", "),
                entry.id
            ),
            entry: Some(entry),
        });
    }
    let decided = queue.hold(&entry.id).await.unwrap_or(entry);
    let why = decided.reason.clone().unwrap_or_default();
    let (refusal, message) = match decided.status {
        Status::Approved => return Ok(decided),
        Status::Rejected => (
            Refusal::EscalationRejected,
            format!("a person rejected this call: {why}"),
        ),
        Status::Expired => (
            Refusal::EscalationExpired,
            Refusal::EscalationExpired.message(""),
        ),
        Status::Pending | Status::Cancelled if queue.is_draining() => {
            return Err(shutting_down(Some(decided)));
        }
        Status::Pending | Status::Cancelled => (
            Refusal::EscalationCancelled,
            format!("the escalation ended without a decision: {why}"),
        ),
    };
    Err(NotApproved {
        refusal,
        message,
        entry: Some(decided),
    })
}

/// A call that needs a person while the sidecar shuts down: 503, retry
/// elsewhere (another replica, or after the restart).
fn shutting_down(entry: Option<Entry>) -> NotApproved {
    NotApproved {
        refusal: Refusal::EscalationUnavailable,
        message: "the sidecar is shutting down, so no person can decide this call here; retry it against another replica or after the restart".into(),
        entry,
    }
}
