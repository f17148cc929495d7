//! Generated-diff validation, as the original CPOS loop: an ephemeral copy
//! of the workspace, `git apply --check` then apply, then each validation
//! command in the sandbox, stopping at the first failure. A failure yields
//! retry metadata (what failed, which command, its exit code); nothing is
//! re-run automatically.

use std::path::Path;
use std::process::Stdio;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::runner::{RunError, RunResult, Runner};
use super::workspace::ephemeral_copy;
use super::CommandPolicy;

/// Why a validation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The diff does not apply to the workspace.
    PatchApply,
    /// A validation command exited non-zero.
    ValidationCommand,
    /// The sandbox cannot start (strict mode fails closed).
    SandboxUnavailable,
    /// A command is not allowed to run.
    PolicyRejected,
    /// A command hit the wall-clock limit.
    Timeout,
}

impl FailureKind {
    /// The stable code.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::PatchApply => "patch_apply",
            FailureKind::ValidationCommand => "validation_command",
            FailureKind::SandboxUnavailable => "sandbox_unavailable",
            FailureKind::PolicyRejected => "policy_rejected",
            FailureKind::Timeout => "timeout",
        }
    }
}

/// One command's run.
#[derive(Debug)]
pub struct Step {
    /// The argv.
    pub argv: Vec<String>,
    /// How it ended, with its output.
    pub result: RunResult,
}

/// The outcome of a validation.
#[derive(Debug)]
pub struct Validation {
    /// Every step passed.
    pub passed: bool,
    /// Why not.
    pub failure: Option<FailureKind>,
    /// What went wrong, for people (never command output).
    pub message: Option<String>,
    /// The commands that ran, in order.
    pub steps: Vec<Step>,
    /// Size of the diff.
    pub diff_bytes: u64,
    /// SHA-256 of the diff.
    pub diff_sha256: String,
    /// `git apply` output when the patch did not apply (returned, never persisted).
    pub apply_output: Option<String>,
}

impl Validation {
    /// A validation refused before anything ran.
    pub fn rejected(message: String) -> Validation {
        Validation {
            passed: false,
            failure: Some(FailureKind::PolicyRejected),
            message: Some(message),
            steps: Vec::new(),
            diff_bytes: 0,
            diff_sha256: hex::encode(Sha256::digest(b"")),
            apply_output: None,
        }
    }

    /// Metadata only: for the tape.
    pub fn metadata(&self) -> serde_json::Value {
        serde_json::json!({
            "passed": self.passed,
            "failure_kind": self.failure.map(FailureKind::as_str),
            "diff_bytes": self.diff_bytes,
            "diff_sha256": self.diff_sha256,
            "steps": self.steps.iter().map(|s| {
                let mut m = s.result.metadata();
                m["program"] = s.argv.first().cloned().unwrap_or_default().into();
                m["argc"] = s.argv.len().into();
                m
            }).collect::<Vec<_>>(),
        })
    }

    /// What to retry: the failure, the command and its exit code.
    pub fn retry(&self) -> Option<serde_json::Value> {
        let failure = self.failure?;
        let last = self.steps.last();
        Some(serde_json::json!({
            "failure_kind": failure.as_str(),
            "command": last.map(|s| s.argv.clone()),
            "exit_code": last.and_then(|s| s.result.exit_code),
            "automatic_retry": false,
        }))
    }
}

/// Validates `diff` against the runner's workspace with `commands`.
pub async fn validate(
    runner: &Runner,
    policy: &CommandPolicy,
    diff: &str,
    commands: &[Vec<String>],
) -> Validation {
    let mut validation = Validation {
        passed: false,
        failure: None,
        message: None,
        steps: Vec::new(),
        diff_bytes: diff.len() as u64,
        diff_sha256: hex::encode(Sha256::digest(diff.as_bytes())),
        apply_output: None,
    };
    let fail = |mut v: Validation, kind, message: String| {
        v.failure = Some(kind);
        v.message = Some(message);
        v
    };
    // 1. Every command is checked before anything runs.
    for argv in commands {
        if let Err(rejected) = policy.check(argv) {
            return fail(
                validation,
                FailureKind::PolicyRejected,
                rejected.to_string(),
            );
        }
    }
    // 2. Strict mode fails closed before touching anything.
    if let (Err(why), crate::config::SandboxMode::Strict) =
        (runner.availability(), runner.settings().mode)
    {
        let message = RunError::Unavailable(why.to_owned()).to_string();
        return fail(validation, FailureKind::SandboxUnavailable, message);
    }
    // 3. An ephemeral copy, removed when `copy` drops (every return below).
    let uid = (unsafe { libc::geteuid() } == 0).then_some(runner.settings().run_as_uid);
    let copy = match ephemeral_copy(&runner.settings().workspace, uid, runner.masked()) {
        Ok(copy) => copy,
        Err(e) => {
            let message = format!("the workspace could not be copied: {e}");
            return fail(validation, FailureKind::SandboxUnavailable, message);
        }
    };
    let ws = copy.path().join("ws");
    // 4. The diff: check, then apply.
    if !diff.trim().is_empty() {
        for check in [true, false] {
            if let Err(output) = git_apply(copy.path(), diff, check).await {
                validation.apply_output = Some(output);
                let message = "the diff does not apply to the workspace (git apply --check)".into();
                return fail(validation, FailureKind::PatchApply, message);
            }
        }
        // Files git created belong to the sandbox user like the rest.
        if let Some(uid) = uid {
            if let Err(e) = super::workspace::chown_tree(&ws, uid) {
                let message = format!("the patched workspace could not be handed over: {e}");
                return fail(validation, FailureKind::SandboxUnavailable, message);
            }
        }
    }
    // 5. The commands, in the sandbox, until the first failure.
    for argv in commands {
        let result = match runner.run(argv, &ws, true).await {
            Ok(result) => result,
            Err(RunError::Unavailable(why)) => {
                return fail(validation, FailureKind::SandboxUnavailable, why)
            }
            Err(e) => return fail(validation, FailureKind::ValidationCommand, e.to_string()),
        };
        let (timed_out, passed) = (result.timed_out, result.passed());
        let exit = result.exit_code;
        validation.steps.push(Step {
            argv: argv.clone(),
            result,
        });
        if timed_out {
            let message = format!("`{}` did not finish in time and was killed", argv.join(" "));
            return fail(validation, FailureKind::Timeout, message);
        }
        if !passed {
            let message = format!("`{}` failed (exit code {exit:?})", argv.join(" "));
            return fail(validation, FailureKind::ValidationCommand, message);
        }
    }
    validation.passed = true;
    drop(copy);
    validation
}

/// `git apply [--check]` of `diff` to `<copy>/ws`, as patch would: with a
/// clean environment, no system or global configuration, and an empty
/// repository of our own (`<copy>/git`) instead of the workspace's `.git`,
/// so no filter driver, hook or attribute-driven command the workspace
/// declares can run outside the sandbox.
async fn git_apply(copy: &Path, diff: &str, check: bool) -> Result<(), String> {
    let git_dir = copy.join("git");
    for dir in ["objects", "refs"] {
        std::fs::create_dir_all(git_dir.join(dir)).map_err(|e| format!("git: {e}"))?;
    }
    std::fs::write(git_dir.join("HEAD"), "ref: refs/heads/main\n")
        .map_err(|e| format!("git: {e}"))?;
    let mut command = tokio::process::Command::new("git");
    command
        .arg("apply")
        .args(check.then_some("--check"))
        .arg("-")
        .current_dir(copy.join("ws"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", copy)
        .env("GIT_DIR", &git_dir)
        .env("GIT_WORK_TREE", copy.join("ws"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| format!("git: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(diff.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
