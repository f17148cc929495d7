//! The escalation queue in Redis, shared by every replica: one key per
//! entry (its metadata JSON, as the file store keeps it), a sorted set of
//! pending ids and one of all ids, a single-use approval key per async
//! approval, and a channel on which every change is published. Decisions
//! are compare-and-set ([`decide.lua`](decide.lua)), so a call held on one
//! replica is released exactly once, whichever replica a person used.
//!
//! Review views (arguments, even masked) never go to Redis: they stay in
//! the memory of the replica holding the call.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;

use super::entry::{Entry, Status};
use super::Queue;
use crate::shared::{Redis, Unavailable};

/// How a compare-and-set decision went.
#[derive(Debug)]
pub enum Transition {
    /// Applied.
    Done,
    /// No such entry (never made, or pruned).
    NotFound,
    /// Someone else ended it first; its current state.
    NotPending(Box<Entry>),
}

/// The queue's Redis side.
pub struct SharedQueue {
    redis: Arc<Redis>,
    decide: redis::Script,
    channel: String,
}

impl SharedQueue {
    /// The queue's keys on `redis`.
    pub fn new(redis: Arc<Redis>) -> SharedQueue {
        SharedQueue {
            channel: redis.key(&["esc", "events"]),
            decide: redis::Script::new(include_str!("decide.lua")),
            redis,
        }
    }

    /// The connection.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    fn entry_key(&self, id: &str) -> String {
        self.redis.key(&["esc", "e", id])
    }

    fn approval_key(&self, agent: Option<&str>, action_sha256: &str) -> String {
        let agent = agent.unwrap_or("");
        let len = agent.len().to_string();
        self.redis
            .key(&["esc", "approval", action_sha256, &len, agent])
    }

    /// Stores a new pending entry and announces it.
    pub async fn put(&self, entry: &Entry) -> Result<(), Unavailable> {
        let json = serde_json::to_string(entry).unwrap_or_default();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set(self.entry_key(&entry.id), &json)
            .ignore()
            .zadd(
                self.redis.key(&["esc", "pending"]),
                &entry.id,
                entry.created_ms,
            )
            .ignore()
            .zadd(self.redis.key(&["esc", "all"]), &entry.id, entry.created_ms)
            .ignore()
            .publish(&self.channel, &json)
            .ignore();
        self.redis
            .call(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
    }

    /// Ends a pending entry with `decided` (its new state), if it is still
    /// pending. Ended entries live `retain_ms` more; an async approval gets
    /// its single-use key for `approval_ttl_ms`.
    pub async fn transition(
        &self,
        decided: &Entry,
        retain_ms: u64,
        approval_ttl_ms: Option<u64>,
    ) -> Result<Transition, Unavailable> {
        let json = serde_json::to_string(decided).unwrap_or_default();
        let mut invocation = self.decide.prepare_invoke();
        invocation
            .key(self.entry_key(&decided.id))
            .key(self.redis.key(&["esc", "pending"]))
            .key(self.approval_key(decided.agent.as_deref(), &decided.action_sha256))
            .arg(json)
            .arg(retain_ms.max(1))
            .arg(approval_ttl_ms.unwrap_or(0))
            .arg(&decided.id)
            .arg(&self.channel);
        let (code, current): (i64, Option<String>) = self
            .redis
            .call(|mut c| async move {
                let v: Vec<redis::Value> = invocation.invoke_async(&mut c).await?;
                let code = v
                    .first()
                    .map(redis::from_redis_value_ref::<i64>)
                    .transpose()?;
                let current = v
                    .get(1)
                    .map(redis::from_redis_value_ref::<String>)
                    .transpose()?;
                Ok((code.unwrap_or(0), current))
            })
            .await?;
        Ok(match code {
            1 => Transition::Done,
            2 => match current.and_then(|c| serde_json::from_str(&c).ok()) {
                Some(entry) => Transition::NotPending(Box::new(entry)),
                None => Transition::NotFound,
            },
            _ => Transition::NotFound,
        })
    }

    /// One entry.
    pub async fn get(&self, id: &str) -> Result<Option<Entry>, Unavailable> {
        let key = self.entry_key(id);
        let json: Option<String> = self
            .redis
            .call(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// The newest `limit` entries (all replicas'), or only the pending ones.
    pub async fn list(&self, pending_only: bool, limit: usize) -> Result<Vec<Entry>, Unavailable> {
        let set = self
            .redis
            .key(&["esc", if pending_only { "pending" } else { "all" }]);
        let ids: Vec<String> = self
            .redis
            .call(|mut c| async move {
                redis::cmd("ZREVRANGE")
                    .arg(set)
                    .arg(0)
                    .arg(limit.saturating_sub(1))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.entry_key(id)).collect();
        let values: Vec<Option<String>> = self
            .redis
            .call(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await?;
        Ok(values
            .into_iter()
            .flatten()
            .filter_map(|j| serde_json::from_str(&j).ok())
            .collect())
    }

    /// Consumes the single-use approval of the identical call: whichever
    /// replica the retry reaches, it passes once.
    pub async fn take_approval(
        &self,
        agent: Option<&str>,
        action_sha256: &str,
    ) -> Result<Option<Entry>, Unavailable> {
        let key = self.approval_key(agent, action_sha256);
        let id: Option<String> = self
            .redis
            .call(|mut c| async move { redis::cmd("GETDEL").arg(key).query_async(&mut c).await })
            .await?;
        let Some(id) = id else { return Ok(None) };
        let Some(mut entry) = self.get(&id).await? else {
            return Ok(None);
        };
        entry.used = true;
        let json = serde_json::to_string(&entry).unwrap_or_default();
        let key = self.entry_key(&id);
        let channel = self.channel.clone();
        // The approval is already consumed; marking it used is for people.
        let _ = self
            .redis
            .call(|mut c| async move {
                redis::pipe()
                    .cmd("SET")
                    .arg(key)
                    .arg(&json)
                    .arg("KEEPTTL")
                    .ignore()
                    .publish(channel, &json)
                    .ignore()
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        Ok(Some(entry))
    }

    /// Forgets ids of entries whose key expired (older than `before_ms`).
    pub async fn trim(&self, before_ms: u64) -> Result<(), Unavailable> {
        let all = self.redis.key(&["esc", "all"]);
        self.redis
            .call(|mut c| async move {
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(all)
                    .arg("-inf")
                    .arg(before_ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    /// Follows the events channel, handing every change to `queue` (its
    /// held calls and live dashboards), reconnecting with back-off, until
    /// the queue is gone.
    pub fn follow(&self, queue: Weak<Queue>) {
        let client = self.redis.client().clone();
        let channel = self.channel.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            while queue.strong_count() > 0 {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            backoff = Duration::from_millis(100);
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                let Some(queue) = queue.upgrade() else { return };
                                let Ok(json) = message.get_payload::<String>() else {
                                    continue;
                                };
                                if let Ok(entry) = serde_json::from_str::<Entry>(&json) {
                                    queue.deliver(entry);
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "escalation events: reconnecting"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        self.redis.replica()
    }

    /// Pending entries (every replica's).
    pub async fn pending(&self) -> Result<Vec<Entry>, Unavailable> {
        Ok(self
            .list(true, 10_000)
            .await?
            .into_iter()
            .filter(|e| e.status == Status::Pending)
            .collect())
    }
}
