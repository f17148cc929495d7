//! Shared state for many replicas: one Redis connection (multiplexed,
//! reconnecting with back-off) behind a per-call deadline and a circuit
//! breaker. What a caller does when Redis cannot answer is its
//! [`OnFailure`] setting; this module only says [`Unavailable`].

pub mod breaker;
pub mod gate;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use self::breaker::Breaker;
use crate::config::state::{OnFailure, StateSettings};

/// Redis could not answer in time (down, slow, or the breaker is open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared state (Redis) unavailable: {0}")]
pub struct Unavailable(pub String);

/// The client `settings` describe: the URL (from its file), verified
/// against `redis_ca_file` when set, else the system's roots.
pub fn client(settings: &StateSettings) -> Result<redis::Client, String> {
    let url = settings.url()?;
    let bad = |e: redis::RedisError| format!("state.redis_url is not a usable Redis URL: {e}");
    match &settings.redis_ca_file {
        None => redis::Client::open(url.as_str()).map_err(bad),
        Some(ca) => {
            let root = std::fs::read(ca)
                .map_err(|e| format!("state.redis_ca_file {}: {e}", ca.display()))?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root),
            };
            redis::Client::build_with_tls(url.as_str(), certificates).map_err(bad)
        }
    }
}

/// The shared-state connection.
pub struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    breaker: Breaker,
    on_failure: OnFailure,
    replica: String,
    failures: AtomicU64,
    /// The last call's outcome.
    up: AtomicBool,
}

impl Redis {
    /// Connects lazily: the sidecar starts (and answers per `on_failure`)
    /// even when Redis is not up yet. Errors are configuration errors.
    pub fn open(settings: &StateSettings) -> Result<Redis, String> {
        let client = client(settings)?;
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        // The deadline is ours (one timer per call, in `call`), not the
        // connection's as well.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(2))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("state: {e}"))?;
        Ok(Redis {
            conn,
            client,
            prefix: settings.key_prefix.clone(),
            timeout,
            breaker: Breaker::new(
                settings.breaker_failures,
                Duration::from_millis(settings.breaker_cooldown_ms),
            ),
            on_failure: settings.on_failure,
            replica: settings.replica(),
            failures: AtomicU64::new(0),
            up: AtomicBool::new(false),
        })
    }

    /// Runs one Redis exchange under the deadline and the breaker.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.permit() {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(Unavailable("circuit breaker open".into()));
        }
        match tokio::time::timeout(self.timeout, f(self.conn.clone())).await {
            Ok(Ok(value)) => {
                if self.breaker.is_open() {
                    tracing::info!("shared state (Redis) answers again; circuit breaker closed");
                }
                self.breaker.success();
                self.up.store(true, Ordering::Relaxed);
                Ok(value)
            }
            Ok(Err(e)) => Err(self.fail(e.to_string())),
            Err(_) => Err(self.fail(format!("no answer within {} ms", self.timeout.as_millis()))),
        }
    }

    fn fail(&self, cause: String) -> Unavailable {
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.up.store(false, Ordering::Relaxed);
        let was_open = self.breaker.is_open();
        self.breaker.failure();
        if !was_open && self.breaker.is_open() {
            tracing::warn!(
                on_failure = ?self.on_failure,
                %cause,
                "shared state (Redis) is not answering; circuit breaker open"
            );
        }
        Unavailable(cause)
    }

    /// One `PING`, for readiness and preflight.
    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.call(|mut c| async move { redis::cmd("PING").query_async::<()>(&mut c).await })
            .await
    }

    /// A key under this deployment's prefix.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                key.push(':');
            }
            key.push_str(part);
        }
        key
    }

    /// The configured failure behaviour.
    pub fn on_failure(&self) -> OnFailure {
        self.on_failure
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// True when the last call was answered (a background ping keeps this
    /// fresh without traffic).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// True while the breaker refuses calls.
    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// Calls that failed or were refused by the breaker, since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}
