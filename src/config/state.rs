//! Where shared state lives: rate-limit buckets, replay nonces and the
//! escalation queue (see docs/REPLICAS.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `state.*`: in-process state, or Redis shared by every replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateSettings {
    /// `memory` (one process) or `redis` (shared by replicas).
    pub backend: StateBackend,
    /// `redis://` or `rediss://` URL; prefer `redis_url_file`, which keeps
    /// the password out of the configuration.
    pub redis_url: Option<String>,
    /// A file holding the URL (one line).
    pub redis_url_file: Option<PathBuf>,
    /// PEM CA certificate(s) a `rediss://` server is verified against,
    /// instead of the system's roots (a private CA).
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of every key, so deployments can share one Redis.
    pub key_prefix: String,
    /// What a request gets while Redis cannot answer.
    pub on_failure: OnFailure,
    /// Deadline of each Redis call, in milliseconds.
    pub timeout_ms: u64,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker refuses calls before it lets one probe
    /// through, in milliseconds.
    pub breaker_cooldown_ms: u64,
    /// This replica's name on held calls (default: the host name), so a
    /// restarted replica cancels the holds it abandoned.
    pub replica_id: Option<String>,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            backend: StateBackend::Memory,
            redis_url: None,
            redis_url_file: None,
            redis_ca_file: None,
            key_prefix: "cpos:".into(),
            on_failure: OnFailure::FallbackLocal,
            timeout_ms: 50,
            breaker_failures: 3,
            breaker_cooldown_ms: 1_000,
            replica_id: None,
        }
    }
}

/// The state backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    /// In this process only.
    #[default]
    Memory,
    /// Redis, shared by every replica.
    Redis,
}

/// What happens to a request while Redis is unreachable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Refuse with 503 `state_unavailable` (the hardened default).
    FailClosed,
    /// Decide with this replica's own state, marked on the tape.
    #[default]
    FallbackLocal,
}

impl StateSettings {
    /// The Redis URL, read from `redis_url_file` when set.
    pub fn url(&self) -> Result<String, String> {
        match (&self.redis_url_file, &self.redis_url) {
            (Some(file), _) => std::fs::read_to_string(file)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("state.redis_url_file {}: {e}", file.display()))
                .and_then(|url| match url.is_empty() {
                    true => Err(format!("state.redis_url_file {} is empty", file.display())),
                    false => Ok(url),
                }),
            (None, Some(url)) => Ok(url.clone()),
            (None, None) => Err(
                "state.backend = \"redis\" needs state.redis_url_file (or state.redis_url)".into(),
            ),
        }
    }

    /// This replica's name.
    pub fn replica(&self) -> String {
        self.replica_id.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "cpos".into())
        })
    }
}
