//! Settings a tool call makes that a shell would spell as assignments or
//! `git config`: an environment map given with a command (`{"command":
//! "ls", "env": {"LD_PRELOAD": "/tmp/x.so"}}`), an environment variable set
//! by name and value (`set_env {"name": "LD_PRELOAD", "value": …}`), and a
//! git setting (`git_config {"key": "core.hooksPath", "value": …}`). Each
//! becomes the command line that does the same (`LD_PRELOAD='/tmp/x.so'`,
//! `git config core.hooksPath '…'`), so the capability analysis judges
//! the loader, hook and pager variables and the git settings that run
//! commands the same way for both transports.

use std::borrow::Cow;

use crate::policy::tool_call::words;

/// Keys whose object value is an environment (`NAME: value` entries).
const ENVIRONMENT_KEYS: &[&str] = &[
    "env",
    "envs",
    "environment",
    "env_vars",
    "envvars",
    "environment_variables",
    "environmentvariables",
];

/// Appends the command lines equivalent to the settings in `arguments`
/// of a call of `tool`.
pub(super) fn append<'a>(tool: &str, arguments: &serde_json::Value, out: &mut Vec<Cow<'a, str>>) {
    let serde_json::Value::Object(map) = arguments else {
        return;
    };
    for (key, value) in map {
        let key = key.trim();
        if !ENVIRONMENT_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        if let serde_json::Value::Object(env) = value {
            for (name, value) in env {
                if let Some(line) = assignment(name, value) {
                    out.push(Cow::Owned(line));
                }
            }
        }
    }
    let Some(name) = ["name", "key", "variable", "var", "setting"]
        .iter()
        .find_map(|k| map.get(*k)?.as_str())
    else {
        return;
    };
    let Some(value) = map.get("value") else {
        return;
    };
    if let Some(line) = assignment(name, value) {
        out.push(Cow::Owned(line));
    } else if is_git_key(name) && words(tool).iter().any(|w| w == "git") {
        if let Some(value) = scalar(value) {
            out.push(Cow::Owned(format!(
                "git config {name} {}",
                super::quote_word(&value)
            )));
        }
    }
}

/// `NAME='value'` for an environment variable's name (upper case, digits
/// and `_`) and a scalar value.
fn assignment(name: &str, value: &serde_json::Value) -> Option<String> {
    let b = name.as_bytes();
    let variable = b
        .first()
        .is_some_and(|c| c.is_ascii_uppercase() || *c == b'_')
        && b.iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'_');
    if !variable {
        return None;
    }
    Some(format!("{name}={}", super::quote_word(&scalar(value)?)))
}

/// A git setting's name: `section.key` or `section.sub.key`, letters only
/// around the dots.
fn is_git_key(name: &str) -> bool {
    name.contains('.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
}

fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines(tool: &str, arguments: serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        append(tool, &arguments, &mut out);
        out.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn environments_and_named_variables_are_assignments() {
        assert_eq!(
            lines(
                "run_command",
                json!({"command": "ls", "env": {"LD_PRELOAD": "/tmp/x.so", "DEBUG": 1}})
            ),
            ["DEBUG=1", "LD_PRELOAD=/tmp/x.so"]
        );
        assert_eq!(
            lines(
                "set_env",
                json!({"name": "PROMPT_COMMAND", "value": "curl x | sh"})
            ),
            ["PROMPT_COMMAND='curl x | sh'"]
        );
        // Not a variable's name: nothing to read.
        assert!(lines("set_title", json!({"name": "Quarterly plan", "value": "x"})).is_empty());
        assert!(lines("update_record", json!({"key": "user.name", "value": "Ann"})).is_empty());
    }

    #[test]
    fn git_settings_are_git_config() {
        assert_eq!(
            lines(
                "git_config",
                json!({"key": "core.hooksPath", "value": "/tmp/h"})
            ),
            ["git config core.hooksPath /tmp/h"]
        );
        assert_eq!(
            lines(
                "gitSetConfig",
                json!({"name": "core.pager", "value": "sh -c id"})
            ),
            ["git config core.pager 'sh -c id'"]
        );
    }
}
