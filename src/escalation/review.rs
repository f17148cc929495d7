//! What a reviewer sees of a held call: the action in full — method and
//! path, tool and arguments, command lines split as the classifier split
//! them, changed files — and why it was held, in words. Built from the raw
//! action when the call is queued, with every value through the secret
//! masker and long values cut; kept **in memory only** beside the queue
//! entry and dropped when the entry is decided, expires or the process ends.
//! The store, the tape and the logs never see it.

use serde::Serialize;
use serde_json::Value;

use crate::action::ActionContract;
use crate::policy::Policy;
use crate::secrets::{mask_json, mask_text};

/// Longest string shown whole; longer ones are cut and their size given.
const MAX_SHOWN_CHARS: usize = 2_000;

/// One held call as a reviewer sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReviewView {
    /// `http.request`, `mcp.tools_call`, `intake.command_request`, …
    pub kind: String,
    /// The route or MCP connector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// HTTP method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Canonical path (what the upstream would receive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The tool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The MCP tool's description as the agent was shown it (pinned), masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_description: Option<String>,
    /// The arguments, masked, long strings cut.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// Command lines, each with the simple commands the classifier saw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandView>,
    /// Files the action changes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed_files: Vec<String>,
    /// Per file of a proposed diff: lines added and removed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff_files: Vec<DiffFile>,
    /// The intent the agent declared, masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Why it was held: one entry per rule that fired.
    pub why: Vec<Why>,
    /// Secrets found in the action (detector and where, never the value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// The principal its credentials name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The client address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// One command line.
#[derive(Debug, Clone, Serialize)]
pub struct CommandView {
    /// The line, masked.
    pub line: String,
    /// Its simple commands (program and arguments), masked; `flagged` when
    /// a rule's evidence names it.
    pub parts: Vec<CommandPart>,
}

/// One simple command of a line.
#[derive(Debug, Clone, Serialize)]
pub struct CommandPart {
    /// `program arg…`.
    pub text: String,
    /// A rule fired on it.
    pub flagged: bool,
}

/// One file of a proposed diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffFile {
    /// The path (`+++ b/…`, or `--- a/…` for a deletion).
    pub path: String,
    /// Lines added.
    pub added: usize,
    /// Lines removed.
    pub removed: usize,
}

/// The files of a unified diff with their line counts.
pub fn diff_files(diff: &str) -> Vec<DiffFile> {
    let mut files: Vec<DiffFile> = Vec::new();
    let mut old_path = String::new();
    for line in diff.lines() {
        if let Some(path) = line.strip_prefix("--- ") {
            old_path = path.trim_start_matches("a/").to_owned();
        } else if let Some(path) = line.strip_prefix("+++ ") {
            let path = match path {
                "/dev/null" => old_path.clone(),
                p => p.trim_start_matches("b/").to_owned(),
            };
            files.push(DiffFile {
                path: cut(&mask_text(&path)),
                added: 0,
                removed: 0,
            });
        } else if let Some(file) = files.last_mut() {
            if line.starts_with('+') {
                file.added += 1;
            } else if line.starts_with('-') {
                file.removed += 1;
            }
        }
    }
    files
}

/// One reason a call was held.
#[derive(Debug, Clone, Serialize)]
pub struct Why {
    /// The rule id.
    pub rule: String,
    /// The category (`git_publish`, `destructive_operation`, …).
    pub reason: String,
    /// What the rule means, from the policy.
    pub description: String,
    /// What matched, masked.
    pub matched: String,
    /// The rule's risk.
    pub risk: String,
    /// The rule's route.
    pub route: String,
}

impl ReviewView {
    /// The view of `contract` under `policy`.
    pub fn build(
        policy: &Policy,
        contract: &ActionContract,
        principal: Option<&str>,
        client_ip: Option<String>,
    ) -> ReviewView {
        let (decision, firings) = policy.explain(contract);
        let why: Vec<Why> = firings
            .into_iter()
            .map(|f| Why {
                rule: f.rule,
                reason: f.reason,
                description: f.description,
                matched: cut(&mask_text(&f.evidence)),
                risk: f.risk.as_str().to_owned(),
                route: f.route.as_str().to_owned(),
            })
            .collect();
        let commands = contract
            .commands
            .iter()
            .map(|line| CommandView {
                line: cut(&mask_text(line)),
                parts: crate::policy::shell::split(line)
                    .into_iter()
                    .map(|simple| {
                        let text = std::iter::once(simple.program.as_str())
                            .chain(simple.args.iter().map(String::as_str))
                            .collect::<Vec<_>>()
                            .join(" ");
                        let flagged = why.iter().any(|w| w.matched.contains(&simple.program));
                        CommandPart {
                            text: cut(&mask_text(&text)),
                            flagged,
                        }
                    })
                    .collect(),
            })
            .collect();
        ReviewView {
            kind: contract.kind.as_str().to_owned(),
            connector: contract.connector.clone(),
            method: contract.method.clone(),
            path: contract.path.clone(),
            tool: contract.tool.clone(),
            tool_description: None,
            arguments: contract.arguments.as_ref().map(|a| cut_json(&mask_json(a))),
            commands,
            changed_files: contract
                .changed_files
                .iter()
                .map(|f| cut(&mask_text(f)))
                .collect(),
            diff_files: Vec::new(),
            intent: None,
            why,
            secrets: decision
                .secrets
                .iter()
                .map(|f| format!("{} at {}", f.detector, f.location))
                .collect(),
            principal: principal.map(str::to_owned),
            client_ip,
        }
    }
}

impl ReviewView {
    /// Adds the MCP tool's description as the agent was shown it.
    pub fn with_tool_description(mut self, description: Option<String>) -> ReviewView {
        self.tool_description = description.map(|d| cut(&mask_text(&d)));
        self
    }

    /// Adds what an adapter intake payload declares: its intent and the
    /// files of its proposed diff with their line counts.
    pub fn with_intake(mut self, payload: &Value) -> ReviewView {
        self.intent = payload
            .get("intent")
            .and_then(Value::as_str)
            .map(|i| cut(&mask_text(i)));
        if let Some(diff) = payload.get("proposed_diff").and_then(Value::as_str) {
            self.diff_files = diff_files(diff);
        }
        self
    }
}

/// `text`, cut to [`MAX_SHOWN_CHARS`] with its full size noted.
fn cut(text: &str) -> String {
    if text.chars().count() <= MAX_SHOWN_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(MAX_SHOWN_CHARS).collect();
    format!("{head}… [{} bytes in all]", text.len())
}

fn cut_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(cut(s)),
        Value::Array(items) => Value::Array(items.iter().map(cut_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), cut_json(v))).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Kind;

    #[test]
    fn diff_files_are_counted_per_file() {
        let diff = "--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1,2 +1,2 @@\n-a\n+b\n+c\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n";
        assert_eq!(
            diff_files(diff),
            [
                DiffFile {
                    path: "src/x.rs".into(),
                    added: 2,
                    removed: 1
                },
                DiffFile {
                    path: "gone.txt".into(),
                    added: 0,
                    removed: 1
                },
            ]
        );
    }

    #[test]
    fn a_held_push_shows_the_command_masked_and_why() {
        let policy = Policy::embedded().unwrap();
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let contract = ActionContract {
            kind: Kind::HttpRequest,
            connector: Some("demo".into()),
            tool: Some("exec".into()),
            method: Some("POST".into()),
            path: Some("/tools/exec".into()),
            arguments: Some(serde_json::json!({
                "command": format!("git push https://x:{token}@github.com/o/r main --force"),
                "note": "<b>bold</b>".to_owned() + &"x".repeat(3000),
            })),
            commands: vec![format!(
                "cd /w && git push https://x:{token}@github.com/o/r main --force"
            )],
            ..ActionContract::default()
        };
        let view = ReviewView::build(
            &policy,
            &contract,
            Some("agent-7"),
            Some("127.0.0.1".into()),
        );
        let text = serde_json::to_string(&view).unwrap();
        assert!(!text.contains(token), "{text}");
        assert!(text.contains("git push"), "{text}");
        assert!(
            view.why
                .iter()
                .any(|w| w.reason == "git_publish" && !w.description.is_empty()),
            "{text}"
        );
        let parts = &view.commands[0].parts;
        assert!(
            parts
                .iter()
                .any(|p| p.flagged && p.text.starts_with("git push")),
            "{parts:?}"
        );
        assert!(
            parts.iter().any(|p| !p.flagged && p.text.starts_with("cd")),
            "{parts:?}"
        );
        let note = view.arguments.as_ref().unwrap()["note"].as_str().unwrap();
        assert!(note.ends_with("bytes in all]") && note.starts_with("<b>bold</b>"));
    }
}
