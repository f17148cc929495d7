//! The tape record: metadata only, by construction. There is no field that
//! could hold a body, a secret value, a diff or command output.
//!
//! Fields are declared in **alphabetical order** so that serde's output is
//! already the canonical form (keys sorted, compact separators) that the hash
//! chain covers; a unit test holds this invariant.

use std::sync::Arc;

use serde::Serialize;

/// One line of the tape (without its `_chain`, which the writer adds).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TapeRecord {
    /// What was asked for, reduced to kind, names, sizes and hashes; shared,
    /// so the write-ahead record and the request's context hold one copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Arc<ActionSummary>>,
    /// A gate violation that audit mode recorded and let through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<&'static str>,
    /// Client address, recorded only where a refusal is about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Free-form, metadata-only details of non-request events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    /// `request`, `tape_recovered`, `escalation_decided`, …
    pub event: &'static str,
    /// The edge gate that refused the request, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<&'static str>,
    /// What the client got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Authenticated principal (key id or agent), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Ids of the policy rules that fired, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The request id also returned to the client as `x-cpos-request-id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<&'static str>,
    /// `allow`, `deny`, `sandbox` or `human`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'static str>,
    /// Position in the chain, from 1; assigned by the writer.
    pub seq: u64,
    /// `local_fallback` when shared state (Redis) was unreachable and this
    /// replica's own limits and nonces decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// RFC 3339 UTC time of the append, microsecond precision; assigned by the writer.
    pub ts: String,
}

impl TapeRecord {
    /// Fills `risk`, `route` and `reasons` (rule ids, then confidence gates)
    /// from a policy decision, when there is one.
    pub fn with_verdict(mut self, decision: Option<&crate::policy::Decision>) -> TapeRecord {
        if let Some(d) = decision {
            self.risk = Some(d.risk.as_str());
            self.route = Some(d.route.as_str());
            self.reasons = d.tape_reasons();
        }
        self
    }
}

/// The action a request carried, without any raw value.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActionSummary {
    /// The agent the action comes from, as declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Size of the tool arguments' canonical JSON, in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg_bytes: Option<u64>,
    /// Sorted argument or JSON keys (names only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub arg_keys: Vec<String>,
    /// SHA-256 of the tool arguments' canonical JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg_sha256: Option<String>,
    /// Request body size in bytes, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// SHA-256 of the request body, when it was inspected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// Files the action changes (count only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_file_count: Option<u64>,
    /// Commands the action carries (count only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_count: Option<u64>,
    /// The route / connector the request was addressed to.
    pub connector: String,
    /// SHA-256 of the adapter contract, when one was built.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_sha256: Option<String>,
    /// `http.request`, `mcp.tools_call`, `intake.command_request`, …
    pub kind: &'static str,
    /// Messages in a JSON-RPC batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_count: Option<u64>,
    /// HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Request path without its query string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// SHA-256 of the raw query string (its values may be secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_sha256: Option<String>,
    /// The JSON-RPC method of an MCP message (`tools/call`, `initialize`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_method: Option<String>,
    /// Tool name for tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// The answer given to the client.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Stable refusal or error code, absent on success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// Time from request head to response head, integer microseconds.
    pub duration_us: u64,
    /// HTTP status sent to the client.
    pub status: u16,
    /// Status the upstream answered with, when it was called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_serialisation_is_already_canonical() {
        let record = TapeRecord {
            action: Some(Arc::new(ActionSummary {
                agent: Some("a".into()),
                arg_bytes: Some(2),
                arg_keys: vec!["a".into(), "b".into()],
                arg_sha256: Some("22".into()),
                body_bytes: Some(3),
                body_sha256: Some("00".into()),
                changed_file_count: Some(1),
                command_count: Some(2),
                connector: "demo".into(),
                contract_sha256: Some("11".into()),
                kind: "http.request",
                message_count: Some(2),
                method: Some("POST".into()),
                path: Some("/x".into()),
                query_sha256: Some("11".into()),
                rpc_method: Some("tools/call".into()),
                tool: Some("t".into()),
            })),
            audit: Some("client_cert_denied"),
            client_ip: Some("127.0.0.1".into()),
            detail: Some(serde_json::json!({"z": 1, "a": "é"})),
            event: "request",
            gate: Some("ip_allow"),
            outcome: Some(Outcome {
                code: Some("x"),
                duration_us: 5,
                status: 200,
                upstream_status: Some(200),
            }),
            principal: Some("p".into()),
            reasons: vec!["r".into()],
            request_id: Some("id".into()),
            risk: Some("low"),
            route: Some("allow"),
            seq: 1,
            state: Some("local_fallback"),
            ts: "t".into(),
        };
        let direct = serde_json::to_string(&record).unwrap();
        let value: serde_json::Value = serde_json::from_str(&direct).unwrap();
        assert_eq!(direct, serde_json::to_string(&value).unwrap());
    }
}
