//! One escalated call: metadata only, and its decision.

use serde::{Deserialize, Serialize};

/// Where an escalation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a person.
    Pending,
    /// A person approved it.
    Approved,
    /// A person rejected it.
    Rejected,
    /// Nobody decided in time.
    Expired,
    /// The client went away while it was held.
    Cancelled,
}

impl Status {
    /// The status's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
            Status::Cancelled => "cancelled",
        }
    }
}

pub use crate::config::EscalationMode as Mode;

/// An escalated call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `esc_…`.
    pub id: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Creation time, Unix milliseconds.
    pub created_ms: u64,
    /// When a pending entry expires, Unix milliseconds.
    pub expires_ms: u64,
    /// The agent, as declared or authenticated.
    pub agent: Option<String>,
    /// What was asked: kind, connector, tool or method+path, argument keys, hashes, sizes.
    pub action: serde_json::Value,
    /// SHA-256 naming the exact call (agent, target and argument hash).
    pub action_sha256: String,
    /// Risk level.
    pub risk: String,
    /// Why it needs a person.
    pub reasons: Vec<String>,
    /// Hold or async.
    pub mode: Mode,
    /// Where it stands.
    pub status: Status,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When, RFC 3339.
    pub decided_at: Option<String>,
    /// Why (required for rejections).
    pub reason: Option<String>,
    /// Async approvals: the identical call passes once until then (Unix ms).
    pub approval_expires_ms: Option<u64>,
    /// Async approvals: already used by the identical call.
    pub used: bool,
    /// With shared state: the replica holding the call (its dashboard has
    /// the full review view). Absent for entries kept by one replica only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}
