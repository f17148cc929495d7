//! The human escalation queue: a call the policy routes to `human` waits
//! here for a person. In *hold* mode the call stays open until approve
//! (forwarded exactly once), reject (refused with the reason) or the hold
//! timeout (expired); a client that goes away cancels its entry. In *async*
//! mode the call is answered at once with the escalation id, and after
//! approval the identical call (same agent, same action hash) passes once
//! within the approval's TTL.

pub mod entry;
pub mod gate;
pub mod review;
pub mod store;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

pub use entry::{Entry, Mode, Status};
pub use store::{EscalationStore, FileStore, StoreError};

use crate::config::EscalationSettings;

/// Why an entry was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The agent already has this many pending entries.
    #[error("the agent already has {0} calls waiting for a person")]
    Limit(usize),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A decision that cannot be taken.
#[derive(Debug)]
pub enum DecideError {
    /// No such entry.
    NotFound,
    /// The entry is no longer pending; its current state.
    NotPending(Box<Entry>),
    /// The store failed.
    Store(StoreError),
}

/// What a new entry is made of.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Hold or async.
    pub mode: Mode,
    /// The agent, as declared.
    pub agent: Option<String>,
    /// The action's metadata summary (what the store keeps).
    pub action: serde_json::Value,
    /// Names the exact call (async approvals match on it).
    pub action_sha256: String,
    /// The decision's risk.
    pub risk: String,
    /// The decision's reasons.
    pub reasons: Vec<String>,
    /// What reviewers see, in memory only.
    pub view: Option<review::ReviewView>,
}

/// The queue: entries in memory, persisted through the store.
pub struct Queue {
    settings: EscalationSettings,
    store: Box<dyn EscalationStore>,
    entries: Mutex<HashMap<String, Entry>>,
    /// What reviewers see of pending entries: memory only, never stored.
    views: Mutex<HashMap<String, review::ReviewView>>,
    /// Set when the sidecar starts shutting down: nothing new is held.
    draining: std::sync::atomic::AtomicBool,
    waiters: Mutex<HashMap<String, oneshot::Sender<Entry>>>,
    events: broadcast::Sender<String>,
    webhook: Option<webhook::Webhook>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Queue {
    /// Opens the queue over `store`, restoring every saved entry.
    pub fn open(
        settings: EscalationSettings,
        store: Box<dyn EscalationStore>,
    ) -> Result<Queue, StoreError> {
        let mut entries = HashMap::new();
        for mut entry in store.load()? {
            // A held call did not survive the restart; its entry did.
            if entry.status == Status::Pending && entry.mode == Mode::Hold {
                entry.status = Status::Cancelled;
                entry.reason = Some("the sidecar restarted while the call was held".into());
                store.save(&entry)?;
            }
            entries.insert(entry.id.clone(), entry);
        }
        let webhook = webhook::Webhook::from_settings(&settings);
        Ok(Queue {
            settings,
            store,
            entries: Mutex::new(entries),
            views: Mutex::new(HashMap::new()),
            draining: Default::default(),
            waiters: Mutex::new(HashMap::new()),
            events: broadcast::channel(256).0,
            webhook,
        })
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// Live changes, as JSON entries (for the dashboard's SSE).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    fn publish(&self, entry: &Entry) -> Result<(), StoreError> {
        self.store.save(entry)?;
        let _ = self
            .events
            .send(serde_json::to_string(entry).unwrap_or_default());
        Ok(())
    }

    /// Creates a pending entry.
    pub fn create(&self, new: NewEntry) -> Result<Entry, CreateError> {
        let NewEntry {
            mode,
            agent,
            action,
            action_sha256,
            risk,
            reasons,
            view,
        } = new;
        let now = now_ms();
        let cap = self.settings.max_pending_per_agent;
        let pending = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.status == Status::Pending && e.expires_ms > now && e.agent == agent)
            .count();
        if pending >= cap {
            return Err(CreateError::Limit(cap));
        }
        let timeout = match mode {
            Mode::Hold => self.settings.hold_timeout_ms,
            Mode::Async => self.settings.pending_ttl_ms,
        };
        let entry = Entry {
            id: format!("esc_{}", &crate::client::fresh_nonce()[..16]),
            created_at: crate::tape::now_rfc3339(),
            created_ms: now,
            expires_ms: now + timeout,
            agent,
            action,
            action_sha256,
            risk,
            reasons,
            mode,
            status: Status::Pending,
            decided_by: None,
            decided_at: None,
            reason: None,
            approval_expires_ms: None,
            used: false,
        };
        self.publish(&entry)?;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry.id.clone(), entry.clone());
        if let Some(webhook) = &self.webhook {
            webhook.notify(&entry, view.as_ref());
        }
        if let Some(view) = view {
            self.views
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(entry.id.clone(), view);
        }
        Ok(entry)
    }

    /// Shutdown: no new call is held, and every held call is cancelled now
    /// (its client answered 503 and the entry recorded cancelled) instead of
    /// waiting out the grace period. Returns how many were cancelled.
    pub fn drain(&self) -> usize {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let held: Vec<String> = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|e| e.status == Status::Pending && e.mode == Mode::Hold)
            .map(|e| e.id.clone())
            .collect();
        for id in &held {
            self.finish(id, Status::Cancelled, "the sidecar is shutting down");
        }
        held.len()
    }

    /// True once [`Queue::drain`] ran.
    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits for the decision on a held entry; a timeout expires it. Drop
    /// the future (client gone) and the entry is cancelled. `None` for an
    /// unknown id.
    pub async fn hold(&self, id: &str) -> Option<Entry> {
        let (tx, rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), tx);
        let mut guard = CancelOnDrop {
            queue: self,
            id,
            armed: true,
        };
        let timeout = Duration::from_millis(self.settings.hold_timeout_ms);
        let outcome = tokio::time::timeout(timeout, rx).await;
        guard.armed = false;
        match outcome {
            Ok(Ok(entry)) => Some(entry),
            _ => self.finish(id, Status::Expired, "no decision within the hold timeout"),
        }
    }

    /// Ends a pending entry without a person (expiry, cancellation).
    fn finish(&self, id: &str, status: Status, why: &str) -> Option<Entry> {
        self.forget_view(id);
        // The status changes before the waiter hears of it, and the waiter
        // gets the ended entry (not a closed channel it could misread).
        let ended = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let entry = entries.get_mut(id)?;
            if entry.status == Status::Pending {
                entry.status = status;
                entry.reason = Some(why.into());
                entry.decided_at = Some(crate::tape::now_rfc3339());
                if let Err(e) = self.publish(entry) {
                    tracing::error!(error = %e, "escalation store write failed");
                }
            }
            entry.clone()
        };
        let waiter = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(tx) = waiter {
            let _ = tx.send(ended.clone());
        }
        Some(ended)
    }

    /// A person's decision. Rejections need a reason.
    pub fn decide(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<Entry, DecideError> {
        let decided = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            let entry = entries.get_mut(id).ok_or(DecideError::NotFound)?;
            if entry.status == Status::Pending
                && entry.mode == Mode::Async
                && now_ms() > entry.expires_ms
            {
                entry.status = Status::Expired;
            }
            if entry.status != Status::Pending {
                return Err(DecideError::NotPending(Box::new(entry.clone())));
            }
            entry.status = if approve {
                Status::Approved
            } else {
                Status::Rejected
            };
            entry.decided_by = Some(by.to_owned());
            entry.decided_at = Some(crate::tape::now_rfc3339());
            entry.reason = reason;
            if approve && entry.mode == Mode::Async {
                entry.approval_expires_ms = Some(now_ms() + self.settings.approval_ttl_ms);
            }
            self.publish(entry).map_err(DecideError::Store)?;
            entry.clone()
        };
        self.forget_view(id);
        let waiter = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(tx) = waiter {
            let _ = tx.send(decided.clone());
        }
        Ok(decided)
    }

    /// Async mode: consumes the approval of the identical call, if any.
    pub fn take_approval(&self, agent: Option<&str>, action_sha256: &str) -> Option<Entry> {
        let now = now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.values_mut().find(|e| {
            e.mode == Mode::Async
                && e.status == Status::Approved
                && !e.used
                && e.action_sha256 == action_sha256
                && e.agent.as_deref() == agent
                && e.approval_expires_ms.is_some_and(|t| now <= t)
        })?;
        entry.used = true;
        if let Err(e) = self.publish(entry) {
            tracing::error!(error = %e, "escalation store write failed");
        }
        Some(entry.clone())
    }

    /// How many entries are held in memory in each status.
    pub fn counts(&self) -> [(Status, usize); 5] {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut counts = [
            (Status::Pending, 0),
            (Status::Approved, 0),
            (Status::Rejected, 0),
            (Status::Expired, 0),
            (Status::Cancelled, 0),
        ];
        for entry in entries.values() {
            if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == entry.status) {
                slot.1 += 1;
            }
        }
        counts
    }

    /// Entries, newest first, optionally of one status.
    pub fn list(&self, status: Option<Status>) -> Vec<Entry> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Entry> = entries
            .values()
            .filter(|e| status.is_none_or(|s| e.status == s))
            .cloned()
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.created_ms));
        out
    }

    /// Expires pending async entries past their time and forgets ended
    /// entries older than `retain_ended_ms` (memory and store); returns how
    /// many were forgotten. Run periodically.
    pub fn prune(&self, now: u64) -> Result<usize, StoreError> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for entry in entries.values_mut() {
            if entry.status == Status::Pending
                && entry.mode == Mode::Async
                && now > entry.expires_ms
            {
                entry.status = Status::Expired;
                entry.reason = Some("nobody decided before it expired".into());
                entry.decided_at = Some(crate::tape::now_rfc3339());
                self.publish(entry)?;
            }
        }
        let retain = self.settings.retain_ended_ms;
        let before = entries.len();
        entries.retain(|_, e| {
            let last = e
                .created_ms
                .max(e.expires_ms)
                .max(e.approval_expires_ms.unwrap_or(0));
            e.status == Status::Pending || now <= last.saturating_add(retain)
        });
        let pruned = before - entries.len();
        if pruned > 0 {
            let mut kept: Vec<Entry> = entries.values().cloned().collect();
            kept.sort_by_key(|e| e.created_ms);
            self.store.rewrite(&kept)?;
        }
        Ok(pruned)
    }

    /// What a reviewer sees of a pending entry (gone once it ends).
    pub fn view(&self, id: &str) -> Option<review::ReviewView> {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn forget_view(&self, id: &str) {
        self.views
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// One entry.
    pub fn get(&self, id: &str) -> Option<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

/// Cancels a held entry when the waiting request is dropped.
struct CancelOnDrop<'a> {
    queue: &'a Queue,
    id: &'a str,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.finish(
                self.id,
                Status::Cancelled,
                "the client disconnected while held",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_entry(agent: &str) -> NewEntry {
        NewEntry {
            mode: Mode::Async,
            agent: Some(agent.into()),
            action: serde_json::json!({}),
            action_sha256: "h".into(),
            risk: "high".into(),
            reasons: vec![],
            view: None,
        }
    }

    #[test]
    fn ended_entries_are_pruned_from_memory_and_store_pending_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escalations.jsonl");
        let settings = EscalationSettings {
            mode: crate::config::EscalationMode::Async,
            pending_ttl_ms: 1_000,
            approval_ttl_ms: 1_000,
            retain_ended_ms: 5_000,
            ..EscalationSettings::default()
        };
        let queue =
            Queue::open(settings.clone(), Box::new(FileStore::open(&path).unwrap())).unwrap();
        let create = |agent: &str| queue.create(test_entry(agent)).unwrap();
        let decided = create("a");
        queue
            .decide(&decided.id, false, "admin", Some("no".into()))
            .unwrap();
        let forgotten = create("b");
        let fresh = create("c");
        let now = now_ms();
        // Nothing is old enough yet; the async entries past their TTL expire.
        assert_eq!(queue.prune(now + 2_000).unwrap(), 0);
        assert_eq!(queue.get(&forgotten.id).unwrap().status, Status::Expired);
        // Past the retention, every ended entry goes, from memory and file.
        assert_eq!(queue.prune(now + 10_000).unwrap(), 3);
        assert!(queue.get(&decided.id).is_none() && queue.get(&fresh.id).is_none());
        let reopened = Queue::open(settings, Box::new(FileStore::open(&path).unwrap())).unwrap();
        assert!(reopened.list(None).is_empty());
        // A pending entry is never pruned.
        let pending = reopened.create(test_entry("d")).unwrap();
        assert_eq!(reopened.prune(now_ms()).unwrap(), 0);
        assert!(reopened.get(&pending.id).is_some());
    }
}
