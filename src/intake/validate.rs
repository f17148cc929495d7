//! Validation of the adapter intake envelope. Every error is collected (not
//! fail-fast), each `{code, field, message}`, and values are never echoed.
//! Codes are the original CPOS Engine-Zero's.

use serde::Serialize;
use serde_json::Value;

/// Event types the adapter accepts.
pub const EVENT_TYPES: &[&str] = &[
    "agent_intent",
    "command_request",
    "execution_result",
    "proposed_action",
    "proposed_diff",
];

/// Risk levels metadata may declare.
pub const RISK_LEVELS: &[&str] = &["critical", "high", "low", "medium"];

const BOOL_KEYS: &[&str] = &[
    "requires_human_approval",
    "touches_secrets",
    "touches_production",
    "destructive",
    "success",
    "requires_publish",
    "opens_port",
];
const INT_KEYS: &[&str] = &["exit_code", "duration_ms"];
const RAW_OUTPUT_KEYS: &[&str] = &[
    "stdout",
    "stderr",
    "output",
    "raw_output",
    "logs",
    "traceback",
];
const RESULT_KEYS: &[&str] = &[
    "status",
    "output_redacted",
    "summary",
    "result_kind",
    "failure_kind",
    "artifact_refs",
    "metrics",
];

/// One validation error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Stable code.
    pub code: &'static str,
    /// The field it concerns.
    pub field: String,
    /// What is expected.
    pub message: String,
}

fn err(code: &'static str, field: &str, message: &str) -> FieldError {
    FieldError {
        code,
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

fn string_array(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// The event type after the original's default (`proposed_action`).
pub fn event_type(body: &Value) -> &str {
    match body.get("event_type") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Null) | None => "proposed_action",
        Some(Value::String(_)) => "proposed_action",
        Some(_) => "",
    }
}

/// Validates the envelope; an empty list means valid.
pub fn validate(body: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let Some(obj) = body.as_object() else {
        errors.push(err(
            "payload_must_be_object",
            "$",
            "the request body must be a JSON object",
        ));
        return errors;
    };
    let event = event_type(body);
    if !EVENT_TYPES.contains(&event) {
        errors.push(err(
            "unsupported_event_type",
            "event_type",
            "event_type must be one of agent_intent, command_request, execution_result, proposed_action, proposed_diff",
        ));
    }
    if !string_array(obj.get("commands")) {
        errors.push(err(
            "commands_must_be_string_array",
            "commands",
            "commands must be an array of strings",
        ));
    }
    if !string_array(obj.get("changed_files")) {
        errors.push(err(
            "changed_files_must_be_string_array",
            "changed_files",
            "changed_files must be an array of strings",
        ));
    }
    match obj.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(meta)) => {
            if let Some(risk) = meta.get("risk") {
                if !risk.as_str().is_some_and(|r| RISK_LEVELS.contains(&r)) {
                    errors.push(err(
                        "metadata_risk_invalid",
                        "metadata.risk",
                        "metadata.risk must be low, medium, high or critical",
                    ));
                }
            }
            for key in BOOL_KEYS {
                if meta.get(*key).is_some_and(|v| !v.is_boolean()) {
                    errors.push(FieldError {
                        code: "metadata_bool_invalid",
                        field: format!("metadata.{key}"),
                        message: format!("metadata.{key} must be true or false"),
                    });
                }
            }
            for key in INT_KEYS {
                if meta
                    .get(*key)
                    .is_some_and(|v| !(v.is_i64() || v.is_u64() || v.is_boolean()))
                {
                    errors.push(FieldError {
                        code: "metadata_int_invalid",
                        field: format!("metadata.{key}"),
                        message: format!("metadata.{key} must be an integer"),
                    });
                }
            }
            if meta.get("confidence").is_some_and(|v| !v.is_number()) {
                errors.push(err(
                    "metadata_confidence_invalid",
                    "metadata.confidence",
                    "metadata.confidence must be a number between 0 and 1",
                ));
            }
        }
        Some(_) => errors.push(err(
            "metadata_must_be_object",
            "metadata",
            "metadata must be an object",
        )),
    }
    match event {
        "command_request" => {
            let non_empty = obj
                .get("commands")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if !non_empty {
                errors.push(err(
                    "command_request_requires_commands",
                    "commands",
                    "a command_request needs a non-empty commands array",
                ));
            }
        }
        "proposed_diff" => {
            let non_empty = obj
                .get("proposed_diff")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            if !non_empty {
                errors.push(err(
                    "proposed_diff_requires_string",
                    "proposed_diff",
                    "a proposed_diff needs the diff as a non-empty string",
                ));
            }
        }
        "execution_result" => match obj.get("execution_result") {
            None | Some(Value::Null) => errors.push(err(
                "execution_result_required",
                "execution_result",
                "an execution_result event needs an execution_result object",
            )),
            Some(Value::Object(result)) => {
                let mut keys: Vec<&String> = result.keys().collect();
                keys.sort();
                if keys.iter().any(|k| RAW_OUTPUT_KEYS.contains(&k.as_str())) {
                    errors.push(err(
                        "execution_result_raw_output_key_forbidden",
                        "execution_result",
                        "raw output (stdout, stderr, output, raw_output, logs, traceback) is never accepted; send a redacted summary",
                    ));
                }
                if keys.iter().any(|k| !RESULT_KEYS.contains(&k.as_str())) {
                    errors.push(err(
                        "execution_result_unknown_key",
                        "execution_result",
                        "execution_result keys are limited to status, output_redacted, summary, result_kind, failure_kind, artifact_refs, metrics",
                    ));
                }
            }
            Some(_) => errors.push(err(
                "execution_result_must_be_object",
                "execution_result",
                "execution_result must be an object",
            )),
        },
        _ => {}
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn codes(v: Value) -> Vec<&'static str> {
        validate(&v).into_iter().map(|e| e.code).collect()
    }

    #[test]
    fn every_code() {
        assert_eq!(
            codes(json!({"event_type": "nope"})),
            ["unsupported_event_type"]
        );
        assert_eq!(
            codes(json!({"event_type": "command_request", "commands": [1], "changed_files": "x"})),
            [
                "commands_must_be_string_array",
                "changed_files_must_be_string_array"
            ]
        );
        assert_eq!(
            codes(json!({"event_type": "command_request", "commands": []})),
            ["command_request_requires_commands"]
        );
        assert_eq!(codes(json!({"metadata": []})), ["metadata_must_be_object"]);
        assert_eq!(
            codes(json!({"metadata": {"risk": "HIGH", "destructive": "yes", "exit_code": 1.5}})),
            [
                "metadata_risk_invalid",
                "metadata_bool_invalid",
                "metadata_int_invalid"
            ]
        );
        assert_eq!(
            codes(json!({"event_type": "proposed_diff", "proposed_diff": ""})),
            ["proposed_diff_requires_string"]
        );
        assert_eq!(
            codes(json!({"event_type": "execution_result"})),
            ["execution_result_required"]
        );
        assert_eq!(
            codes(json!({"event_type": "execution_result", "execution_result": "ok"})),
            ["execution_result_must_be_object"]
        );
        assert_eq!(
            codes(
                json!({"event_type": "execution_result", "execution_result": {"stdout": "secret output"}})
            ),
            [
                "execution_result_raw_output_key_forbidden",
                "execution_result_unknown_key"
            ]
        );
        assert!(codes(json!({"event_type": "command_request", "commands": ["ls"], "metadata": {"success": true, "exit_code": 0}})).is_empty());
    }

    #[test]
    fn errors_never_echo_values() {
        let errors = validate(
            &json!({"event_type": "zzz-secret-zzz", "metadata": {"risk": "zzz-secret-zzz"}}),
        );
        assert!(!serde_json::to_string(&errors)
            .unwrap()
            .contains("zzz-secret-zzz"));
    }
}
