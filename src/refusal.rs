//! Why the act step did not run a call — one enum, mapped here and only here
//! to the HTTP status, the JSON-RPC error code, the metric label and the
//! message, for every transport.

use http::StatusCode;

use crate::policy::Verdict;

/// A refusal of the act step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The policy's verdict is `deny`.
    PolicyDenied,
    /// `human`, and no escalation queue runs here.
    HumanApprovalRequired,
    /// `sandbox`, and this call cannot run in the sandbox here.
    SandboxUnavailable,
    /// A person rejected the held call.
    EscalationRejected,
    /// Nobody decided within the hold timeout.
    EscalationExpired,
    /// The hold ended without a decision (restart, client gone).
    EscalationCancelled,
    /// Async mode: queued; retry the identical call after approval.
    EscalationPending,
    /// The queue could not record the call.
    EscalationUnavailable,
    /// The agent already has as many calls waiting for a person as allowed.
    EscalationLimited,
    /// The tape could not record the decision.
    TapeUnavailable,
}

impl Refusal {
    /// The refusal a verdict means by itself, before any person is asked:
    /// `deny`; `human` where no queue runs; `sandbox` where the call cannot
    /// run in the sandbox. `None`: the call may go ahead (or to a person).
    pub fn for_verdict(verdict: Verdict, queue_here: bool, sandbox_here: bool) -> Option<Refusal> {
        match verdict {
            Verdict::Allow => None,
            Verdict::Human if queue_here => None,
            Verdict::Human => Some(Refusal::HumanApprovalRequired),
            Verdict::Sandbox if sandbox_here => None,
            Verdict::Sandbox => Some(Refusal::SandboxUnavailable),
            Verdict::Deny => Some(Refusal::PolicyDenied),
        }
    }

    /// The stable machine code (response `error`, tape `outcome.code`,
    /// metric label `code`).
    pub fn code(self) -> &'static str {
        match self {
            Refusal::PolicyDenied => "policy_denied",
            Refusal::HumanApprovalRequired => "human_approval_required",
            Refusal::SandboxUnavailable => "sandbox_unavailable",
            Refusal::EscalationRejected => "escalation_rejected",
            Refusal::EscalationExpired => "escalation_expired",
            Refusal::EscalationCancelled => "escalation_cancelled",
            Refusal::EscalationPending => "escalation_pending",
            Refusal::EscalationUnavailable => "escalation_unavailable",
            Refusal::EscalationLimited => "escalation_limited",
            Refusal::TapeUnavailable => "tape_unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::EscalationUnavailable | Refusal::TapeUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Refusal::EscalationLimited => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// The JSON-RPC error code on MCP transports (documented in docs/MCP.md).
    pub const fn rpc_code(self) -> i64 {
        match self {
            Refusal::PolicyDenied => -32010,
            Refusal::SandboxUnavailable => -32014,
            Refusal::TapeUnavailable => -32015,
            _ => -32013,
        }
    }

    /// What happened and what to do, for a call refused for `reasons`.
    pub fn message(self, reasons: &str) -> String {
        match self {
            Refusal::PolicyDenied => format!("the policy refuses this action ({reasons})"),
            Refusal::HumanApprovalRequired => format!(
                "this action needs a person's approval ({reasons}); no escalation queue is enabled on this sidecar, so it is refused"
            ),
            Refusal::SandboxUnavailable => format!(
                "the policy routes this action to the sandbox ({reasons}), which this sidecar does not run for it; it is refused"
            ),
            Refusal::EscalationRejected => "a person rejected this call".to_owned(),
            Refusal::EscalationExpired => {
                "nobody decided on this call within the hold timeout; it was not run".to_owned()
            }
            Refusal::EscalationCancelled => "the escalation ended without a decision".to_owned(),
            Refusal::EscalationPending => format!(
                "this call needs a person's approval ({reasons}); retry the identical call after it is approved"
            ),
            Refusal::EscalationUnavailable => {
                "the escalation queue cannot record this call; it is refused".to_owned()
            }
            Refusal::EscalationLimited => {
                "too many of your calls are already waiting for a person; retry after they are decided".to_owned()
            }
            Refusal::TapeUnavailable => "the decision tape cannot be written, so nothing is run; check disk space and the sidecar's log".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_one_code_status_and_rpc_code() {
        let all = [
            Refusal::PolicyDenied,
            Refusal::HumanApprovalRequired,
            Refusal::SandboxUnavailable,
            Refusal::EscalationRejected,
            Refusal::EscalationExpired,
            Refusal::EscalationCancelled,
            Refusal::EscalationPending,
            Refusal::EscalationUnavailable,
            Refusal::EscalationLimited,
            Refusal::TapeUnavailable,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), all.len(), "codes are distinct");
        assert_eq!(Refusal::TapeUnavailable.status(), 503);
        assert_eq!(Refusal::PolicyDenied.status(), 403);
        assert_eq!(Refusal::PolicyDenied.rpc_code(), -32010);
        assert_eq!(Refusal::TapeUnavailable.rpc_code(), -32015);
    }
}
