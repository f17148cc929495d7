//! The gates' shared step: the replay nonce and every rate-limit bucket a
//! request takes from, in one atomic Lua script and one round trip. The
//! script is sent once and then called by its SHA (re-sent on `NOSCRIPT`,
//! after a Redis restart).

use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::{Redis, Unavailable};
use crate::gate::rate_limit::{RateKey, RateVerdict};

/// A replay nonce to claim: single use within its key's namespace.
#[derive(Debug, Clone)]
pub struct NonceClaim {
    /// The signing key's id ("" for the single-secret mode).
    pub namespace: Arc<str>,
    /// The nonce, as sent.
    pub nonce: String,
    /// How long it must be remembered, in milliseconds.
    pub ttl_ms: u64,
}

/// What the shared step decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted; the tightest bucket's verdict, when there was a bucket.
    Admitted(Option<RateVerdict>),
    /// The nonce was already used (on any replica).
    Replayed,
    /// A bucket is empty; nothing was taken from the others.
    Limited(RateVerdict),
}

/// One bucket to take a token from.
pub struct Bucket {
    /// Which bucket.
    pub key: RateKey,
    /// The mutation bucket rather than the default one.
    pub mutation: bool,
    /// Requests per window.
    pub limit: u32,
}

/// The shared gate step over one Redis.
pub struct SharedGate {
    redis: Arc<Redis>,
    script: redis::Script,
}

impl SharedGate {
    /// The step on `redis`.
    pub fn new(redis: Arc<Redis>) -> SharedGate {
        SharedGate {
            redis,
            script: redis::Script::new(include_str!("gate.lua")),
        }
    }

    /// The connection (for its failure setting and health).
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// Claims `nonce` and takes a token from every bucket, all or nothing.
    pub async fn run(
        &self,
        buckets: &[Bucket],
        window_ms: u64,
        nonce: Option<&NonceClaim>,
    ) -> Result<Outcome, Unavailable> {
        let mut invocation = self.script.prepare_invoke();
        for bucket in buckets {
            invocation.key(self.bucket_key(&bucket.key, bucket.mutation));
        }
        if let Some(claim) = nonce {
            invocation.key(self.nonce_key(claim));
        }
        invocation
            .arg(buckets.len())
            .arg(nonce.map_or(0, |c| c.ttl_ms.max(1)))
            .arg(window_ms.max(1));
        for bucket in buckets {
            invocation.arg(bucket.limit.max(1));
        }
        let [status, limit, remaining, reset_ms, retry_ms]: [i64; 5] = self
            .redis
            .call(|mut conn| async move {
                let v: Vec<i64> = invocation.invoke_async(&mut conn).await?;
                v.try_into().map_err(|_| {
                    redis::RedisError::from((
                        redis::ErrorKind::Client,
                        "gate script answered an unexpected shape",
                    ))
                })
            })
            .await?;
        let verdict = |allowed: bool| RateVerdict {
            allowed,
            limit: limit as u32,
            remaining: remaining.max(0) as u32,
            reset_secs: ceil_secs(reset_ms),
            retry_after_secs: if allowed {
                0
            } else {
                ceil_secs(retry_ms).max(1)
            },
        };
        Ok(match status {
            0 if buckets.is_empty() => Outcome::Admitted(None),
            0 => Outcome::Admitted(Some(verdict(true))),
            1 => Outcome::Replayed,
            _ => Outcome::Limited(verdict(false)),
        })
    }

    /// `rl:<kind>:<d|m>:…`; names are length-prefixed so no two keys
    /// collide whatever characters a principal or tool holds.
    fn bucket_key(&self, key: &RateKey, mutation: bool) -> String {
        let class = if mutation { "m" } else { "d" };
        match key {
            RateKey::Ip(ip) => self.redis.key(&["rl", "ip", class, &ip.to_string()]),
            RateKey::Principal(p) => self.redis.key(&["rl", "p", class, p]),
            RateKey::Tool(p, tool) => {
                let len = p.len().to_string();
                self.redis.key(&["rl", "t", class, &len, p, tool])
            }
        }
    }

    /// `nonce:<len>:<key id>:<sha256(nonce)>`: one namespace per signing
    /// key, and a fixed-size name whatever the client sent.
    fn nonce_key(&self, claim: &NonceClaim) -> String {
        let digest = Sha256::digest(claim.nonce.as_bytes());
        let len = claim.namespace.len().to_string();
        self.redis
            .key(&["nonce", &len, &claim.namespace, &hex::encode(&digest[..16])])
    }
}

fn ceil_secs(ms: i64) -> u64 {
    (ms.max(0) as u64).div_ceil(1000)
}
