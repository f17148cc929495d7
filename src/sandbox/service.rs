//! `POST /sandbox/validate` on the data plane: a diff and validation
//! commands in, pass/fail with a failure kind, per-command results and retry
//! metadata out. Command output goes back to the caller only; the tape gets
//! [`Validation::metadata`].

use serde_json::{json, Value};

use super::masking::own_paths_inside;
use super::{validate, CommandPolicy, Runner, Validation};
use crate::config::Config;
use crate::metrics::StateLabels;
use crate::problem::Problem;
use http::StatusCode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// The path served.
pub const VALIDATE_PATH: &str = "/sandbox/validate";

/// The runner and the command allowlist, built once from the settings.
pub struct SandboxService {
    /// Runs commands.
    pub runner: Runner,
    /// Which commands may run.
    pub policy: CommandPolicy,
    /// Runs by outcome (`cpos_sandbox_runs_total`).
    runs: Family<StateLabels, Counter>,
}

impl SandboxService {
    /// Builds the service (probing bubblewrap once), masking the sidecar's
    /// own files that lie inside the workspace; `Err` when the workspace is
    /// itself one of the sidecar's own directories.
    pub fn new(config: &Config) -> Result<SandboxService, String> {
        let settings = &config.sandbox;
        let masked = own_paths_inside(&settings.workspace, &config.own_paths())?;
        if !masked.is_empty() {
            tracing::warn!(workspace = %settings.workspace.display(), masked = ?masked,
                "the sandbox workspace holds the sidecar's own files; they are hidden from sandboxed commands (set sandbox.workspace to the project directory only)");
        }
        Ok(SandboxService {
            policy: CommandPolicy::new(settings.allowed_commands.clone()),
            runner: Runner::new(settings.clone()).with_masked(masked),
            runs: Family::default(),
        })
    }

    /// Counts runs into `runs` (the exported metric family).
    pub fn counting(mut self, runs: Family<StateLabels, Counter>) -> SandboxService {
        self.runs = runs;
        self
    }

    /// Validates on an ephemeral workspace copy and counts the outcome.
    async fn run(&self, diff: &str, commands: &[Vec<String>]) -> Validation {
        let validation = validate(&self.runner, &self.policy, diff, commands).await;
        self.count(&validation);
        validation
    }

    fn count(&self, validation: &Validation) {
        let state = match (validation.passed, validation.failure) {
            (true, _) => "passed",
            (false, Some(kind)) => kind.as_str(),
            (false, None) => "failed",
        };
        self.runs.get_or_create(&StateLabels { state }).inc();
    }

    /// Validates the request body `{"diff": "...", "commands": [["pytest","-q"], "cargo test"]}`.
    pub async fn validate_body(
        &self,
        body: &[u8],
        _recorded: &crate::tape::Recorded,
    ) -> Result<Validation, Problem> {
        let bad = |msg: String| Problem::new(StatusCode::BAD_REQUEST, "invalid_request", msg);
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("the body must be JSON ({e})")))?;
        let diff = value
            .get("diff")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(items) = value.get("commands").and_then(Value::as_array) else {
            return Err(bad(
                "`commands` must be a list of argv arrays or command strings".into(),
            ));
        };
        let mut commands = Vec::with_capacity(items.len());
        for item in items {
            let argv = match item {
                Value::String(line) => match self.policy.split(line) {
                    Ok(argv) => argv,
                    Err(rejected) => {
                        return Err(Problem::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "policy_rejected",
                            rejected.to_string(),
                        )
                        .with("token", rejected.token.into()))
                    }
                },
                Value::Array(words) => words
                    .iter()
                    .map(|w| w.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("an argv array must hold strings only".into()))?,
                _ => return Err(bad("each command is an argv array or a string".into())),
            };
            commands.push(argv);
        }
        Ok(self.run(diff, &commands).await)
    }
}

impl SandboxService {
    /// Runs the commands of an adapter `command_request` (already classified
    /// `sandbox`) on an ephemeral copy of the workspace.
    pub async fn run_command_request(
        &self,
        body: &[u8],
        _recorded: &crate::tape::Recorded,
    ) -> Validation {
        let payload: Value = serde_json::from_slice(body).unwrap_or_default();
        let lines: Vec<&str> = payload
            .get("commands")
            .and_then(Value::as_array)
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut commands = Vec::with_capacity(lines.len());
        for line in lines {
            match self.policy.split(line) {
                Ok(argv) => commands.push(argv),
                Err(rejected) => {
                    let validation = Validation::rejected(rejected.to_string());
                    self.count(&validation);
                    return validation;
                }
            }
        }
        self.run("", &commands).await
    }

    /// Runs one argv (an MCP command tool's) on an ephemeral copy of the workspace.
    pub async fn run_argv(
        &self,
        argv: Vec<String>,
        _recorded: &crate::tape::Recorded,
    ) -> Validation {
        self.run("", &[argv]).await
    }
}

/// The adapter's `execution_result`: the original's shape, output included
/// for the caller.
pub fn execution_result(validation: &Validation) -> Value {
    let mut result = answer(validation);
    result["event_type"] = "execution_result".into();
    result["status"] = if validation.passed {
        "passed"
    } else {
        "failed"
    }
    .into();
    result
}

/// The caller's answer: the metadata plus output, which only the caller sees.
pub fn answer(validation: &Validation) -> Value {
    let steps: Vec<Value> = validation
        .steps
        .iter()
        .map(|step| {
            let mut m = step.result.metadata();
            m["argv"] = json!(step.argv);
            m["stdout"] = String::from_utf8_lossy(&step.result.stdout).into();
            m["stderr"] = String::from_utf8_lossy(&step.result.stderr).into();
            m
        })
        .collect();
    json!({
        "ok": validation.passed,
        "passed": validation.passed,
        "failure_kind": validation.failure.map(|f| f.as_str()),
        "message": validation.message,
        "retry": validation.retry(),
        "diff_sha256": validation.diff_sha256,
        "diff_bytes": validation.diff_bytes,
        "apply_output": validation.apply_output,
        "steps": steps,
    })
}
