//! What a tool that runs its input is given: a `shell`, `terminal` or
//! `run_command` tool runs its string arguments as command lines, whatever
//! their keys (`{"input": "rm -rf /"}`); an `execute_code`, `run_python` or
//! `code_interpreter` tool runs them as a program, which is judged as an
//! interpreter's inline code (`python3 -c '…'`). The tool's name decides,
//! read by words (`runInTerminal`, `execute-code`), so a new tool inherits
//! this from what it says it does.

use std::borrow::Cow;

use crate::policy::tool_call::{read_only, words};

/// Words of a tool name that say it runs command lines.
const SHELL_WORDS: &[&str] = &[
    "shell",
    "bash",
    "sh",
    "zsh",
    "fish",
    "terminal",
    "console",
    "cmd",
    "command",
    "commands",
    "commandline",
    "powershell",
    "pwsh",
    "tty",
    "pty",
];

/// Words that say a tool runs code, and the interpreter and code option it
/// stands for.
const CODE_WORDS: &[(&str, &str, &str)] = &[
    ("python", "python3", "-c"),
    ("py", "python3", "-c"),
    ("ipython", "python3", "-c"),
    ("jupyter", "python3", "-c"),
    ("notebook", "python3", "-c"),
    ("code", "python3", "-c"),
    ("interpreter", "python3", "-c"),
    ("repl", "python3", "-c"),
    ("javascript", "node", "-e"),
    ("js", "node", "-e"),
    ("node", "node", "-e"),
    ("typescript", "node", "-e"),
    ("ts", "node", "-e"),
    ("deno", "node", "-e"),
    ("ruby", "ruby", "-e"),
    ("perl", "perl", "-e"),
    ("php", "php", "-r"),
    ("lua", "lua", "-e"),
];

/// Verbs (or nouns) that make a code word mean "runs it", so `search_code`
/// or `format_python` are not code runners.
const RUN_WORDS: &[&str] = &[
    "run",
    "exec",
    "execute",
    "eval",
    "evaluate",
    "interpret",
    "interpreter",
    "repl",
    "jupyter",
    "notebook",
    "ipython",
];

/// Argument keys that describe the call rather than carry what it runs.
const METADATA_KEYS: &[&str] = &[
    "description",
    "desc",
    "explanation",
    "reason",
    "title",
    "comment",
    "name",
    "id",
    "cwd",
    "dir",
    "directory",
    "workdir",
    "working_directory",
    "path",
    "timeout",
    "language",
    "lang",
    "kernel",
    "session",
    "session_id",
];

/// How a tool runs its string arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runs {
    /// As command lines.
    Shell,
    /// As a program for this interpreter, with this code option.
    Code(&'static str, &'static str),
}

/// How `tool` runs its arguments, if it says it runs them; a `language`
/// (or `lang`) argument picks the interpreter.
fn runs(tool: &str, arguments: &serde_json::Map<String, serde_json::Value>) -> Option<Runs> {
    let words = words(tool);
    if words.is_empty() || read_only(&words) {
        return None;
    }
    let is = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let lone_runner = matches!(
        words.as_slice(),
        [w] if matches!(w.as_str(), "run" | "exec" | "execute" | "spawn" | "system")
    );
    if is(SHELL_WORDS) || lone_runner {
        return Some(Runs::Shell);
    }
    let code = |word: &str| {
        CODE_WORDS
            .iter()
            .find(|(name, _, _)| *name == word)
            .map(|(_, interpreter, flag)| Runs::Code(interpreter, flag))
    };
    let named = words.iter().find_map(|w| code(w))?;
    if !(is(RUN_WORDS) || words.len() == 1) {
        return None;
    }
    let language = ["language", "lang"]
        .iter()
        .find_map(|k| arguments.get(*k)?.as_str())
        .map(str::to_ascii_lowercase);
    Some(match language.as_deref() {
        Some("bash" | "sh" | "shell" | "zsh" | "powershell") => Runs::Shell,
        Some(other) => code(other).unwrap_or(named),
        None => named,
    })
}

/// Appends what `tool` runs to `out`: its top-level string arguments (not
/// the ones that describe the call, nor those already read as commands) as
/// command lines, or each as an interpreter's inline code.
pub(super) fn append<'a>(
    tool: &str,
    arguments: &'a serde_json::Value,
    out: &mut Vec<Cow<'a, str>>,
    already: impl Fn(&str) -> bool,
) {
    let serde_json::Value::Object(map) = arguments else {
        return;
    };
    let Some(runs) = runs(tool, map) else {
        return;
    };
    let values = map.iter().filter_map(|(key, value)| {
        let key = key.trim();
        let metadata = METADATA_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key));
        value.as_str().filter(|_| !metadata && !already(key))
    });
    for value in values {
        out.push(match runs {
            Runs::Shell => Cow::Borrowed(value),
            Runs::Code(interpreter, flag) => {
                Cow::Owned(format!("{interpreter} {flag} {}", super::quote_word(value)))
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(tool: &str, arguments: serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        append(tool, &arguments, &mut out, |k| k == "command");
        out.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn shell_tools_run_their_string_arguments() {
        let args = serde_json::json!({"input": "rm -rf /", "cwd": "/srv", "timeout": 5});
        for tool in [
            "shell",
            "run_in_terminal",
            "runShellCommand",
            "bash",
            "exec",
            "Console",
        ] {
            assert_eq!(given(tool, args.clone()), ["rm -rf /"], "{tool}");
        }
        // Already read as a command, or a tool that only looks: nothing more.
        assert!(given("shell", serde_json::json!({"command": "ls"})).is_empty());
        assert!(given(
            "get_terminal_output",
            serde_json::json!({"id": "1", "q": "x"})
        )
        .is_empty());
        assert!(given("list_commands", serde_json::json!({"filter": "rm -rf"})).is_empty());
    }

    #[test]
    fn code_tools_run_their_arguments_as_inline_code() {
        let args = serde_json::json!({"code": "import shutil; shutil.rmtree('/')"});
        for tool in [
            "execute_code",
            "run_python",
            "code_interpreter",
            "python",
            "jupyter_run_cell",
        ] {
            assert_eq!(
                given(tool, args.clone()),
                ["python3 -c 'import shutil; shutil.rmtree('\\''/'\\'')'"],
                "{tool}"
            );
        }
        let js = serde_json::json!({"language": "javascript", "source": "process.exit(1)"});
        assert_eq!(given("execute_code", js), ["node -e 'process.exit(1)'"]);
        let sh = serde_json::json!({"language": "bash", "code": "rm -rf /"});
        assert_eq!(given("run_code", sh), ["rm -rf /"]);
        // Code words without a run word: a formatter, a search.
        for tool in ["format_python", "search_code", "read_code", "review_code"] {
            assert!(
                given(tool, serde_json::json!({"code": "x"})).is_empty(),
                "{tool}"
            );
        }
    }
}
