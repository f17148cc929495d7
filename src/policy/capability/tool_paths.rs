//! What a tool call's path arguments reach, with the path patterns the
//! shell analysis uses, so `read_file /proc/self/environ` and
//! `cat /proc/self/environ` are one fact and one list to keep:
//! - any tool given a credential location reads it (a read, an upload, an
//!   attachment, a resource URI): `reads_sensitive`;
//! - a `file://` URL outside the workspace is a local read: `reads_outside`;
//! - a tool that writes, given a start-up file, a scheduler entry or a git
//!   hook, installs something that runs later: `persists`; given an
//!   account or privilege file (`/etc/sudoers`, a binary directory):
//!   `privilege`.
//!
//! Only values shaped like a path are looked at: one line, short, naming
//! a directory or a dotfile; prose with spaces only when it starts at a root.

use std::borrow::Cow;

use super::paths::{outside_workspace, system_readable};
use super::patterns::patterns;
use super::{Capabilities, Capability};
use crate::policy::tool_call::{read_only, words};

/// Words of a tool name that say it writes, moves or creates files.
const WRITE_WORDS: &[&str] = &[
    "write",
    "edit",
    "create",
    "append",
    "save",
    "put",
    "patch",
    "replace",
    "insert",
    "move",
    "mv",
    "rename",
    "copy",
    "cp",
    "upload",
    "mkdir",
    "chmod",
    "chown",
    "symlink",
    "link",
    "overwrite",
    "modify",
    "update",
    "apply",
    "store",
];

/// The longest value read as a path.
const MAX_PATH: usize = 1024;

/// What `values` (the calls' string arguments, at any depth) reach, given
/// the `tools` called, and the first value that reached something, for
/// evidence.
pub fn tool_path_facts<'a>(tools: &[&str], values: &[&'a str]) -> (Capabilities, Option<&'a str>) {
    let mut caps = Capabilities::default();
    let mut first = None;
    let mut writes = None;
    for &value in values {
        let Some(path) = as_path(value) else {
            continue;
        };
        let path = &*path;
        let before = caps;
        let p = patterns();
        if p.is_sensitive(path) {
            caps.add(Capability::ReadsSensitive, "names a credential location");
        }
        if value.starts_with("file://") && outside_workspace(path) && !system_readable(path) {
            caps.add(
                Capability::ReadsOutside,
                "a file:// URL outside the workspace",
            );
        }
        // The places first (screened sets, cheap on ordinary paths); the
        // tool's name, split into words, only for a path that is one.
        let persists = p.persistence.is_match(path);
        let privileged = p.privileged_files.is_match(path);
        if (persists || privileged)
            && *writes.get_or_insert_with(|| tools.iter().any(|t| writes_files(t)))
        {
            if persists {
                caps.add(
                    Capability::Persists,
                    "a writing tool is given a start-up file, scheduler entry or hook",
                );
            }
            if privileged {
                caps.add(
                    Capability::Privilege,
                    "a writing tool is given an account, privilege or binary file",
                );
            }
        }
        if caps != before && first.is_none() {
            first = Some(value);
        }
    }
    (caps, first)
}

/// True when the tool's name says it writes files.
fn writes_files(tool: &str) -> bool {
    let words = words(tool);
    !read_only(&words) && words.iter().any(|w| WRITE_WORDS.contains(&w.as_str()))
}

/// The path `value` names, if it is shaped like one: `file://` dropped;
/// one line; a directory separator or a leading dot or `~`; spaces only in
/// a path that starts at a root (`/Users/a/Library/Application Support`,
/// `C:\Users\a\AppData`). A Windows path is read with `/` separators,
/// as the path lists are written.
fn as_path(value: &str) -> Option<Cow<'_, str>> {
    let path = value.strip_prefix("file://").unwrap_or(value);
    let shaped = !path.is_empty()
        && path.len() <= MAX_PATH
        && !path.contains(['\n', '\r'])
        && (path.contains(['/', '\\']) || path.starts_with(['.', '~']));
    let b = path.as_bytes();
    let drive =
        b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/');
    let rooted = drive || path.starts_with(['/', '~']) || path.starts_with("$HOME");
    if !shaped || (!rooted && path.contains(' ')) {
        return None;
    }
    Some(match drive || path.starts_with("\\\\") {
        true => Cow::Owned(path.replace('\\', "/")),
        false => Cow::Borrowed(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tool: &str, value: &str) -> Vec<&'static str> {
        let (caps, _) = tool_path_facts(&[tool], &[value]);
        caps.iter().map(Capability::as_str).collect()
    }

    #[test]
    fn credential_locations_through_any_tool() {
        for (tool, path) in [
            ("read_file", "/proc/self/environ"),
            ("read_file", "~/.ssh/id_ed25519"),
            ("read_text_file", "../../home/dev/.aws/credentials"),
            ("upload", "/home/ann/.bash_history"),
            ("attach", "file:///etc/shadow"),
            ("get_file", "/run/secrets/db_password"),
            ("open", "config/service-account.json"),
            (
                "read_file",
                "/Users/ann/Library/Application Support/Google/Chrome/Default/Login Data",
            ),
        ] {
            assert!(
                facts(tool, path).contains(&"reads_sensitive"),
                "{tool} {path}"
            );
        }
        for (tool, path) in [
            ("read_file", "src/keyboard.rs"),
            ("read_file", "docs/ssh-setup.md"),
            ("send_email", "the key is in the usual place, see .ssh docs"),
            ("read_file", "/proc/self/status"),
        ] {
            assert!(facts(tool, path).is_empty(), "{tool} {path}");
        }
    }

    #[test]
    fn writing_tools_given_start_up_files_hooks_and_account_files() {
        assert_eq!(facts("edit_file", ".git/hooks/pre-commit"), ["persists"]);
        assert_eq!(facts("write_file", "~/.zshrc"), ["persists"]);
        assert_eq!(facts("create_file", "/etc/cron.d/job"), ["persists"]);
        assert!(facts("write_file", "/etc/sudoers.d/x").contains(&"privilege"));
        assert_eq!(facts("move_file", "/usr/bin/git"), ["privilege"]);
        // Reading them changes nothing; writing in the project is ordinary.
        assert!(facts("read_file", ".git/hooks/pre-commit").is_empty());
        assert!(facts("read_file", "/etc/cron.d/job").is_empty());
        assert!(facts("write_file", "src/hooks/pre_commit.rs").is_empty());
        assert!(facts("write_file", "/tmp/notes.md").is_empty());
        // Windows: the Startup folder, a PowerShell profile, credentials.
        assert_eq!(
            facts(
                "write_file",
                r"C:\Users\a\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\x.bat"
            ),
            ["persists"]
        );
        assert_eq!(
            facts(
                "edit_file",
                r"C:\Users\a\Documents\WindowsPowerShell\Microsoft.PowerShell_profile.ps1"
            ),
            ["persists"]
        );
        assert_eq!(
            facts("read_file", r"C:\Users\a\.aws\credentials"),
            ["reads_sensitive"]
        );
        assert!(facts("write_file", r"C:\Users\a\src\app\main.rs").is_empty());
    }

    #[test]
    fn file_urls_outside_the_workspace_are_reads() {
        assert_eq!(
            facts("fetch", "file:///var/log/auth.log"),
            ["reads_outside"]
        );
        assert!(facts("fetch", "file:///etc/passwd").contains(&"reads_outside"));
        assert!(facts("fetch", "file:///workspace/README.md").is_empty());
        assert!(facts("fetch", "file:///etc/hosts").is_empty());
        assert!(facts("fetch", "https://example.com/var/log").is_empty());
    }
}
