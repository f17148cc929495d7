//! Builds the metadata-only contract the adapter returns and stores, and the
//! [`ActionContract`] the policy classifies (which holds the raw values, in
//! memory only).

use serde_json::{json, Map, Value};

use super::digest::stable_digest;
use super::validate::event_type;
use crate::action::{ActionContract, Kind, Metadata, Risk};
use crate::policy::{Decision, Verdict};

/// Lists are truncated to this many items, as in the original.
const MAX_ITEMS: usize = 100;

fn strings(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .take(MAX_ITEMS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn kind(event: &str) -> Kind {
    match event {
        "command_request" => Kind::CommandRequest,
        "proposed_diff" => Kind::ProposedDiff,
        "execution_result" => Kind::ExecutionResult,
        "agent_intent" => Kind::AgentIntent,
        _ => Kind::ProposedAction,
    }
}

/// The agent name, after the original's default.
pub fn agent_name(body: &Value) -> String {
    match body.get("agent_name").and_then(Value::as_str) {
        Some(name) if !name.is_empty() => name.chars().take(200).collect(),
        _ => "external-agent".into(),
    }
}

/// The contract the policy sees (raw values, memory only).
pub fn action_contract(body: &Value) -> ActionContract {
    let meta = body.get("metadata").and_then(Value::as_object);
    let flag = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_bool);
    let text = |k: &str| match body.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    ActionContract {
        kind: kind(event_type(body)),
        agent: Some(agent_name(body)),
        connector: Some("agent-adapter".into()),
        commands: strings(body, "commands"),
        changed_files: strings(body, "changed_files"),
        texts: ["intent", "proposed_action", "proposed_diff"]
            .iter()
            .filter_map(|k| text(k))
            .collect(),
        tool: proposed_tool(body).map(|(tool, _)| tool),
        arguments: proposed_tool(body).and_then(|(_, args)| args),
        metadata: Metadata {
            risk: meta
                .and_then(|m| m.get("risk"))
                .and_then(|r| serde_json::from_value(r.clone()).ok()),
            confidence: meta
                .and_then(|m| m.get("confidence"))
                .and_then(Value::as_f64),
            touches_secrets: flag("touches_secrets"),
            touches_production: flag("touches_production"),
            destructive: flag("destructive"),
            requires_publish: flag("requires_publish"),
            opens_port: flag("opens_port"),
            requires_human_approval: flag("requires_human_approval"),
            environment: meta
                .and_then(|m| m.get("environment"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        ..ActionContract::default()
    }
}

/// A `proposed_action` that is a tool call — `{"tool": …, "arguments": …}`
/// (or `name`/`tool_name`, `args`/`parameters`/`input`), as an object or a
/// JSON string — as its tool name and arguments, so the tool rules judge it.
fn proposed_tool(body: &Value) -> Option<(String, Option<Value>)> {
    let parsed;
    let action = match body.get("proposed_action")? {
        Value::Object(_) => body.get("proposed_action")?,
        Value::String(text) if text.trim_start().starts_with('{') => {
            parsed = serde_json::from_str::<Value>(text).ok()?;
            &parsed
        }
        _ => return None,
    };
    let tool = ["tool", "tool_name", "name", "function"]
        .iter()
        .find_map(|k| action.get(*k).and_then(Value::as_str))?;
    let arguments = ["arguments", "args", "parameters", "params", "input"]
        .iter()
        .find_map(|k| action.get(*k))
        .cloned();
    Some((tool.chars().take(200).collect(), arguments))
}

fn digest_or_null(body: &Value, key: &str) -> Value {
    match body.get(key) {
        None | Some(Value::Null) => Value::Null,
        Some(v) => json!(stable_digest(v)),
    }
}

/// The original's risk heuristic, raised to the policy's risk.
fn contract_risk(body: &Value, contract: &ActionContract, decision: &Decision) -> Risk {
    let m = &contract.metadata;
    let heuristic = match m.risk {
        Some(r) => r,
        None if m.touches_secrets == Some(true)
            || m.touches_production == Some(true)
            || m.destructive == Some(true) =>
        {
            Risk::High
        }
        None if matches!(contract.kind, Kind::ProposedDiff | Kind::CommandRequest)
            || !contract.commands.is_empty()
            || body
                .get("proposed_diff")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty()) =>
        {
            Risk::Medium
        }
        None => Risk::Low,
    };
    heuristic.max(decision.risk)
}

fn result_summary(body: &Value) -> Value {
    if event_type(body) != "execution_result" {
        return Value::Null;
    }
    let meta = body.get("metadata").and_then(Value::as_object);
    let get = |k: &str| meta.and_then(|m| m.get(k));
    let int = |k: &str| get(k).and_then(|v| v.as_i64().or_else(|| v.as_bool().map(i64::from)));
    let failure_kind = get("failure_kind")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(80).collect::<String>());
    json!({
        "success": get("success").and_then(Value::as_bool),
        "exit_code": int("exit_code"),
        "duration_ms": int("duration_ms"),
        "failure_kind": failure_kind,
        "result_digest": digest_or_null(body, "execution_result"),
        "raw_outputs_stored": false,
        "secret_values_stored": false,
    })
}

/// The metadata-only contract (schema `cpos.external_agent_action_contract.v1`).
pub fn metadata_contract(body: &Value, contract: &ActionContract, decision: &Decision) -> Value {
    let commands: Vec<Value> = body
        .get("commands")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .take(MAX_ITEMS)
                .map(|c| json!(stable_digest(c)))
                .collect()
        })
        .unwrap_or_default();
    let mut metadata_keys: Vec<&String> = body
        .get("metadata")
        .and_then(Value::as_object)
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    metadata_keys.sort();
    let requires_human = decision.requires_human();
    let (adapter_decision, next_step) = match decision.route {
        Verdict::Deny => ("deny", "refused_by_policy"),
        Verdict::Human => ("requires_review", "human_review"),
        Verdict::Sandbox => ("sandbox", "sandbox_validation"),
        Verdict::Allow => ("allow", "safe_autonomy_metadata_recorded"),
    };
    let mut c = Map::new();
    c.insert(
        "schema".into(),
        json!("cpos.external_agent_action_contract.v1"),
    );
    c.insert("agent_name".into(), json!(agent_name(body)));
    c.insert("event_type".into(), json!(event_type(body)));
    c.insert(
        "risk".into(),
        json!(contract_risk(body, contract, decision)),
    );
    c.insert("changed_files".into(), json!(contract.changed_files));
    c.insert(
        "changed_file_count".into(),
        json!(contract.changed_files.len()),
    );
    c.insert("command_count".into(), json!(contract.commands.len()));
    c.insert(
        "input_digests".into(),
        json!({
            "intent": digest_or_null(body, "intent"),
            "proposed_action": digest_or_null(body, "proposed_action"),
            "proposed_diff": digest_or_null(body, "proposed_diff"),
            "commands": commands,
            "execution_result": digest_or_null(body, "execution_result"),
        }),
    );
    c.insert("metadata_keys".into(), json!(metadata_keys));
    c.insert("result_summary".into(), result_summary(body));
    c.insert(
        "decision".into(),
        json!({
            "route": decision.route,
            "risk": decision.risk,
            "severity": decision.severity(),
            "requires_human": requires_human,
            "reasons": decision.reasons,
            "rules": decision.rules,
            "recommended_mode": decision.recommended_mode(),
            "secret_findings": decision.secrets,
        }),
    );
    c.insert("adapter_decision".into(), json!(adapter_decision));
    c.insert("requires_human_approval".into(), json!(requires_human));
    c.insert("next_step".into(), json!(next_step));
    for flag in [
        "execute_automatically",
        "raw_request_stored",
        "raw_diff_stored",
        "raw_outputs_stored",
        "secret_values_stored",
        "destructive_actions_performed",
    ] {
        c.insert(flag.into(), json!(false));
    }
    let mut value = Value::Object(c);
    let sha = stable_digest(&value).sha256;
    value["contract_sha256"] = json!(sha);
    value
}
