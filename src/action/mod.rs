//! The action contract: the one normalised shape every route sees, built
//! from an MCP `tools/call`, an adapter intake payload or a plain HTTP call.
//! Raw values (commands, argument values, diff text) live here in memory for
//! classification only; what is persisted is [`crate::tape::ActionSummary`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub mod jsonrpc;
pub mod nested_json;
mod tool_input;
mod tool_settings;

/// What kind of action a contract describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Kind {
    /// An MCP `tools/call`.
    #[serde(rename = "mcp.tools_call")]
    McpToolsCall,
    /// Adapter intake: commands the agent wants to run.
    #[serde(rename = "intake.command_request")]
    CommandRequest,
    /// Adapter intake: a diff the agent proposes.
    #[serde(rename = "intake.proposed_diff")]
    ProposedDiff,
    /// Adapter intake: the result of something the agent ran.
    #[serde(rename = "intake.execution_result")]
    ExecutionResult,
    /// Adapter intake: a stated intent.
    #[serde(rename = "intake.agent_intent")]
    AgentIntent,
    /// Adapter intake: a proposed action in prose.
    #[serde(rename = "intake.proposed_action")]
    ProposedAction,
    /// Any other MCP request (`resources/read`, `prompts/get`, `initialize`…);
    /// its JSON-RPC method is the contract's `method`.
    #[serde(rename = "mcp.request")]
    McpRequest,
    /// A plain HTTP tool call.
    #[default]
    #[serde(rename = "http.request")]
    HttpRequest,
}

impl Kind {
    /// The kind's name as it appears in policies and on the tape.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::McpToolsCall => "mcp.tools_call",
            Kind::McpRequest => "mcp.request",
            Kind::CommandRequest => "intake.command_request",
            Kind::ProposedDiff => "intake.proposed_diff",
            Kind::ExecutionResult => "intake.execution_result",
            Kind::AgentIntent => "intake.agent_intent",
            Kind::ProposedAction => "intake.proposed_action",
            Kind::HttpRequest => "http.request",
        }
    }
}

/// Risk levels, ordered.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Risk {
    /// Routine.
    #[default]
    Low,
    /// Worth a second look.
    Medium,
    /// Needs a person.
    High,
    /// Never without a person, often never.
    Critical,
}

impl Risk {
    /// The level's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
            Risk::Critical => "critical",
        }
    }
}

/// What the agent declared about its own action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// Declared risk.
    pub risk: Option<Risk>,
    /// The agent's confidence, 0..1.
    pub confidence: Option<f64>,
    /// Touches secrets.
    pub touches_secrets: Option<bool>,
    /// Touches production.
    pub touches_production: Option<bool>,
    /// Destroys or overwrites.
    pub destructive: Option<bool>,
    /// Publishes (push, release).
    pub requires_publish: Option<bool>,
    /// Opens a port.
    pub opens_port: Option<bool>,
    /// The agent asks for a person.
    pub requires_human_approval: Option<bool>,
    /// Target environment (`production`, `staging`, …).
    pub environment: Option<String>,
}

/// One action, normalised.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionContract {
    /// What kind of action.
    pub kind: Kind,
    /// The agent it comes from.
    pub agent: Option<String>,
    /// The connector / upstream / route it is addressed to.
    pub connector: Option<String>,
    /// Tool name (MCP, HTTP tool APIs).
    pub tool: Option<String>,
    /// HTTP method, or the JSON-RPC method of an `mcp.request`.
    pub method: Option<String>,
    /// HTTP path.
    pub path: Option<String>,
    /// Command lines the action would run (classification only).
    pub commands: Vec<String>,
    /// Files the action changes.
    pub changed_files: Vec<String>,
    /// Tool arguments / JSON body (classification only).
    pub arguments: Option<serde_json::Value>,
    /// Free text: a diff, an intent, a proposed action (classification only).
    pub texts: Vec<String>,
    /// What the agent declared.
    pub metadata: Metadata,
}

/// Argument keys whose string (or string-array) values are command lines.
const COMMAND_KEYS: &[&str] = &[
    "command",
    "commands",
    "cmd",
    "cmds",
    "script",
    "scripts",
    "shell",
    "bash",
    "sh",
    "command_line",
    "commandline",
    "cmdline",
    "run",
    "exec",
    "argv",
];

impl ActionContract {
    /// Command lines: the declared ones plus those found in command-like
    /// arguments, anywhere in the arguments (objects, arrays, any depth up to
    /// the strict-JSON limit) and in the JSON documents their strings hold
    /// (`nested`, from [`nested_json::documents`]), plus what a tool that
    /// runs its input is given (a `shell` tool's string arguments; an
    /// `execute_code` tool's, as inline code).
    /// Borrowed where the contract holds the line as it is; an argv array
    /// is joined into a new one.
    pub fn all_commands<'a>(&'a self, nested: &'a [serde_json::Value]) -> Vec<Cow<'a, str>> {
        self.commands_with(nested, &self.tool_calls(nested))
    }

    /// [`ActionContract::all_commands`] for the tool calls already worked
    /// out (`calls`, from [`ActionContract::tool_calls`]).
    pub fn commands_with<'a>(
        &'a self,
        nested: &'a [serde_json::Value],
        calls: &[(&'a str, &'a serde_json::Value)],
    ) -> Vec<Cow<'a, str>> {
        let mut out: Vec<Cow<'_, str>> = self
            .commands
            .iter()
            .map(|c| Cow::Borrowed(c.as_str()))
            .collect();
        for args in self.arguments.iter().chain(nested) {
            collect_commands(args, &mut out, 0);
        }
        for (tool, args) in calls {
            tool_input::append(tool, args, &mut out, is_command_key);
            tool_settings::append(tool, args, &mut out);
        }
        out
    }

    /// The tool calls the action makes, as names and arguments: the
    /// JSON-RPC `tools/call` messages its arguments hold (a body sent to a
    /// plain route, [`jsonrpc`]) when there are any, else its own tool
    /// with its arguments and with each JSON document they hold (`nested`).
    pub fn tool_calls<'a>(
        &'a self,
        nested: &'a [serde_json::Value],
    ) -> Vec<(&'a str, &'a serde_json::Value)> {
        static NONE: serde_json::Value = serde_json::Value::Null;
        let mut calls: Vec<_> = match &self.arguments {
            Some(args) => jsonrpc::tools_calls(args).collect(),
            None => Vec::new(),
        };
        if calls.is_empty() {
            if let Some(tool) = &self.tool {
                calls.push((tool.as_str(), self.arguments.as_ref().unwrap_or(&NONE)));
                calls.extend(nested.iter().map(|doc| (tool.as_str(), doc)));
            }
        }
        calls
    }

    /// Sorted, de-duplicated top-level argument keys.
    pub fn arg_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = match &self.arguments {
            Some(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        keys.sort();
        keys
    }
}

fn is_command_key(key: &str) -> bool {
    // Trimmed once, not per candidate: every argument key of every call
    // comes through here.
    let key = key.trim();
    COMMAND_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key))
}

fn collect_commands<'a>(value: &'a serde_json::Value, out: &mut Vec<Cow<'a, str>>, depth: usize) {
    if depth > crate::strict_json::MAX_DEPTH {
        return;
    }
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                if is_command_key(key) {
                    command_value(item, out, depth + 1);
                } else {
                    collect_commands(item, out, depth + 1);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                collect_commands(item, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// The value of a command-like key: a line, an argv array, a list of lines,
/// or a structure holding them.
fn command_value<'a>(value: &'a serde_json::Value, out: &mut Vec<Cow<'a, str>>, depth: usize) {
    match value {
        serde_json::Value::String(s) => out.push(Cow::Borrowed(s)),
        serde_json::Value::Array(items) => {
            let words: Vec<&str> = items.iter().filter_map(|v| v.as_str()).collect();
            if !words.is_empty() {
                // As an argv (`["bash", "-c", "rm -rf /"]`)…
                out.push(Cow::Owned(
                    words
                        .iter()
                        .map(|w| quote_word(w))
                        .collect::<Vec<_>>()
                        .join(" "),
                ));
                // …and, for lists of lines (`["make", "rm -rf /"]`), each line.
                if words.len() > 1 {
                    out.extend(
                        words
                            .iter()
                            .filter(|w| w.contains(char::is_whitespace))
                            .map(|w| Cow::Borrowed(*w)),
                    );
                }
            }
            for item in items.iter().filter(|v| !v.is_string()) {
                command_value(item, out, depth + 1);
            }
        }
        other => collect_commands(other, out, depth),
    }
}

fn quote_word(w: &str) -> String {
    if w.is_empty() || w.contains(|c: char| c.is_whitespace() || "'\"$`;&|<>()".contains(c)) {
        format!("'{}'", w.replace('\'', r"'\''"))
    } else {
        w.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_come_from_command_like_arguments() {
        let contract = ActionContract {
            arguments: Some(serde_json::json!({
                "command": "ls -la",
                "nested": {"argv": ["rm", "-rf", "/my dir"]},
                "text": "rm -rf / (just words)"
            })),
            commands: vec!["make".into()],
            ..ActionContract::default()
        };
        assert_eq!(
            contract.all_commands(&[]),
            // An argv, and its words with spaces as lines in case it was a
            // list of lines (`["make", "rm -rf /"]`).
            ["make", "ls -la", "rm -rf '/my dir'", "/my dir"]
        );
        assert_eq!(contract.arg_keys(), ["command", "nested", "text"]);
    }

    #[test]
    fn json_rpc_tool_calls_in_a_plain_body_are_the_calls_they_are() {
        let call = |name: &str, input: &str| {
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": name, "arguments": {"input": input}}})
        };
        // One message or a batch, with or without the route's own tool.
        for (tool, body) in [
            (None, call("run_in_terminal", "rm -rf /")),
            (Some("rpc"), call("run_in_terminal", "rm -rf /")),
            (
                None,
                serde_json::json!([call("echo", "x"), call("shell", "rm -rf /")]),
            ),
        ] {
            let contract = ActionContract {
                kind: Kind::HttpRequest,
                tool: tool.map(str::to_owned),
                arguments: Some(body.clone()),
                ..ActionContract::default()
            };
            assert_eq!(contract.all_commands(&[]), ["rm -rf /"], "{body}");
        }
        // A plain body is the route's own tool's arguments.
        let plain = ActionContract {
            tool: Some("shell".into()),
            arguments: Some(serde_json::json!({"input": "ls"})),
            ..ActionContract::default()
        };
        assert_eq!(plain.tool_calls(&[]).len(), 1);
        assert_eq!(plain.all_commands(&[]), ["ls"]);
    }

    #[test]
    fn commands_are_found_wherever_they_sit() {
        let mut nested = serde_json::json!({"command": "rm -rf /deep"});
        for _ in 0..20 {
            nested = serde_json::json!({"x": [nested]});
        }
        let contract = ActionContract {
            arguments: Some(serde_json::json!([
                {"steps": [{"command": "rm -rf /a"}, {"run": ["rm", "-rf", "/b"]}]},
                {"commands": ["make", "rm -rf /c"]},
                {"Command": ["bash", "-c", "rm -rf /d"]},
                nested
            ])),
            ..ActionContract::default()
        };
        let all = contract.all_commands(&[]);
        for line in [
            "rm -rf /a",
            "rm -rf /b",
            "rm -rf /c",
            "rm -rf /d",
            "rm -rf /deep",
        ] {
            assert!(
                all.iter().any(|c| c.contains(line)),
                "{line} missing from {all:?}"
            );
        }
    }
}
