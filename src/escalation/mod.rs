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
pub mod shared;
pub mod store;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

pub use entry::{Entry, Mode, Status};
pub use store::{EscalationStore, FileStore, NoStore, StoreError};

use crate::config::state::OnFailure;
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

/// The queue: entries in memory, persisted through the store; with shared
/// state, in Redis (the memory then caches what this replica has seen).
pub struct Queue {
    settings: EscalationSettings,
    store: Box<dyn EscalationStore>,
    shared: Option<shared::SharedQueue>,
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

/// How often a held call on a shared queue looks in Redis for its decision,
/// should the published one have been missed (a reconnecting subscriber).
const SHARED_POLL: Duration = Duration::from_secs(1);

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
            shared: None,
            entries: Mutex::new(entries),
            views: Mutex::new(HashMap::new()),
            draining: Default::default(),
            waiters: Mutex::new(HashMap::new()),
            events: broadcast::channel(256).0,
            webhook,
        })
    }

    /// Opens the queue in shared state: every replica sees every entry,
    /// and a decision taken on any of them releases the call where it is
    /// held. The holds this replica abandoned (it restarted) are cancelled.
    pub async fn open_shared(
        settings: EscalationSettings,
        redis: Arc<crate::shared::Redis>,
    ) -> Arc<Queue> {
        let mut queue = Queue::open(settings, Box::new(NoStore))
            .unwrap_or_else(|_| unreachable!("a store that holds nothing cannot fail to load"));
        queue.shared = Some(shared::SharedQueue::new(redis));
        let queue = Arc::new(queue);
        if let Some(shared) = &queue.shared {
            shared.follow(Arc::downgrade(&queue));
        }
        match queue.cancel_abandoned().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                cancelled = n,
                "held calls this replica abandoned when it stopped were cancelled"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not look for abandoned held calls; they expire on their own")
            }
        }
        queue
    }

    async fn cancel_abandoned(&self) -> Result<usize, StoreError> {
        let Some(shared) = &self.shared else {
            return Ok(0);
        };
        let mut cancelled = 0;
        for entry in shared.pending().await? {
            if entry.mode == Mode::Hold && entry.replica.as_deref() == Some(shared.replica()) {
                let ended = ended(
                    entry,
                    Status::Cancelled,
                    "the sidecar restarted while the call was held",
                );
                if let shared::Transition::Done = shared
                    .transition(&ended, self.settings.retain_ended_ms, None)
                    .await?
                {
                    cancelled += 1;
                }
            }
        }
        Ok(cancelled)
    }

    /// The configured mode.
    pub fn mode(&self) -> Mode {
        self.settings.mode
    }

    /// Live changes, as JSON entries (for the dashboard's SSE); with shared
    /// state, every replica's changes.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.events.subscribe()
    }

    /// True when `entry` lives in shared state (not on this replica alone).
    fn is_shared(&self, entry: &Entry) -> bool {
        self.shared.is_some() && entry.replica.is_some()
    }

    fn publish(&self, entry: &Entry) -> Result<(), StoreError> {
        self.store.save(entry)?;
        let _ = self
            .events
            .send(serde_json::to_string(entry).unwrap_or_default());
        Ok(())
    }

    /// A change published in shared state (by any replica, this one too):
    /// cached, shown on live dashboards, and handed to the call it decides.
    pub fn deliver(&self, entry: Entry) {
        let _ = self
            .events
            .send(serde_json::to_string(&entry).unwrap_or_default());
        let id = entry.id.clone();
        let ended = entry.status != Status::Pending;
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), entry.clone());
        if ended {
            self.wake(&id, entry);
        }
    }

    /// Hands the ended entry to the call waiting on it, if one does here.
    fn wake(&self, id: &str, entry: Entry) {
        self.forget_view(id);
        let waiter = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(tx) = waiter {
            let _ = tx.send(entry);
        }
    }

    /// Creates a pending entry.
    pub async fn create(&self, new: NewEntry) -> Result<Entry, CreateError> {
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
        let mut entry = Entry {
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
            replica: None,
        };
        match &self.shared {
            Some(shared) => {
                entry.replica = Some(shared.replica().to_owned());
                if let Err(e) = shared.put(&entry).await {
                    match shared.redis().on_failure() {
                        OnFailure::FailClosed => return Err(CreateError::Store(e.into())),
                        OnFailure::FallbackLocal => {
                            tracing::warn!(id = %entry.id, error = %e, "shared state unavailable: this call waits for a decision on this replica only");
                            entry.replica = None;
                            self.publish(&entry)?;
                        }
                    }
                }
            }
            None => self.publish(&entry)?,
        }
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
    pub async fn drain(&self) -> usize {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let held: Vec<String> = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for id in &held {
            self.finish(id, Status::Cancelled, "the sidecar is shutting down")
                .await;
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
    pub async fn hold(self: &Arc<Self>, id: &str) -> Option<Entry> {
        let (tx, mut rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), tx);
        let mut guard = CancelOnDrop {
            queue: self.clone(),
            id: id.to_owned(),
            armed: true,
        };
        let deadline =
            tokio::time::Instant::now() + Duration::from_millis(self.settings.hold_timeout_ms);
        let shared = self
            .get_cached(id)
            .is_some_and(|e| self.is_shared(&e))
            .then_some(())
            .and(self.shared.as_ref());
        let decided = loop {
            // A decision may have arrived before the waiter was in place.
            if let Some(entry) = self.get_cached(id).filter(|e| e.status != Status::Pending) {
                break Some(entry);
            }
            let poll = match shared {
                Some(_) => deadline.min(tokio::time::Instant::now() + SHARED_POLL),
                None => deadline,
            };
            match tokio::time::timeout_at(poll, &mut rx).await {
                Ok(Ok(entry)) => break Some(entry),
                Ok(Err(_)) => break None,
                Err(_) if tokio::time::Instant::now() >= deadline => break None,
                Err(_) => {
                    if let Some(Ok(Some(entry))) = match shared {
                        Some(s) => Some(s.get(id).await),
                        None => None,
                    } {
                        if entry.status != Status::Pending {
                            break Some(entry);
                        }
                    }
                }
            }
        };
        guard.armed = false;
        match decided {
            Some(entry) => {
                self.forget_view(id);
                self.waiters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(id);
                Some(entry)
            }
            None => {
                self.finish(id, Status::Expired, "no decision within the hold timeout")
                    .await
            }
        }
    }

    /// Ends a pending entry without a person (expiry, cancellation). With
    /// shared state this is a compare-and-set too: a person's decision that
    /// won the race is what the caller gets.
    async fn finish(&self, id: &str, status: Status, why: &str) -> Option<Entry> {
        let current = self.get_cached(id)?;
        let ended = match (&self.shared, self.is_shared(&current)) {
            (Some(shared), true) if current.status == Status::Pending => {
                let ended = ended(current.clone(), status, why);
                match shared
                    .transition(&ended, self.settings.retain_ended_ms, None)
                    .await
                {
                    Ok(shared::Transition::Done) => ended,
                    Ok(shared::Transition::NotPending(entry)) => *entry,
                    Ok(shared::Transition::NotFound) => ended,
                    Err(e) => {
                        tracing::error!(error = %e, id, "escalation could not be ended in shared state; it expires there on its own");
                        ended
                    }
                }
            }
            _ => {
                let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                let entry = entries.get_mut(id)?;
                if entry.status == Status::Pending {
                    *entry = ended(entry.clone(), status, why);
                    if let Err(e) = self.publish(entry) {
                        tracing::error!(error = %e, "escalation store write failed");
                    }
                }
                entry.clone()
            }
        };
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), ended.clone());
        // The waiter gets the ended entry (not a closed channel it could misread).
        self.wake(id, ended.clone());
        Some(ended)
    }

    /// A person's decision. Rejections need a reason.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<Entry, DecideError> {
        let current = self.get(id).await.map_err(DecideError::Store)?;
        let current = current.ok_or(DecideError::NotFound)?;
        let decided = self.decided(current, approve, by, reason)?;
        match (&self.shared, self.is_shared(&decided)) {
            (Some(shared), true) => {
                let approval_ttl = (approve && decided.mode == Mode::Async)
                    .then_some(self.settings.approval_ttl_ms);
                match shared
                    .transition(&decided, self.settings.retain_ended_ms, approval_ttl)
                    .await
                    .map_err(|e| DecideError::Store(e.into()))?
                {
                    shared::Transition::Done => {}
                    shared::Transition::NotFound => return Err(DecideError::NotFound),
                    shared::Transition::NotPending(entry) => {
                        return Err(DecideError::NotPending(entry))
                    }
                }
            }
            _ => {
                let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
                let entry = entries.get_mut(id).ok_or(DecideError::NotFound)?;
                if entry.status != Status::Pending {
                    return Err(DecideError::NotPending(Box::new(entry.clone())));
                }
                *entry = decided.clone();
                self.publish(entry).map_err(DecideError::Store)?;
            }
        }
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), decided.clone());
        self.wake(id, decided.clone());
        Ok(decided)
    }

    /// `current` with a person's decision applied, or why it cannot be.
    fn decided(
        &self,
        mut entry: Entry,
        approve: bool,
        by: &str,
        reason: Option<String>,
    ) -> Result<Entry, DecideError> {
        if entry.status == Status::Pending
            && entry.mode == Mode::Async
            && now_ms() > entry.expires_ms
        {
            entry.status = Status::Expired;
        }
        if entry.status != Status::Pending {
            return Err(DecideError::NotPending(Box::new(entry)));
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
        Ok(entry)
    }

    /// Async mode: consumes the approval of the identical call, if any
    /// (with shared state, whichever replica approved it).
    pub async fn take_approval(&self, agent: Option<&str>, action_sha256: &str) -> Option<Entry> {
        if let Some(shared) = &self.shared {
            match shared.take_approval(agent, action_sha256).await {
                Ok(Some(entry)) => return Some(entry),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "shared approvals unavailable; only this replica's own are checked")
                }
            }
        }
        let now = now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.values_mut().find(|e| {
            e.mode == Mode::Async
                && e.status == Status::Approved
                && !e.used
                && e.replica.is_none()
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

    /// Entries, newest first, optionally of one status; with shared state,
    /// every replica's.
    pub async fn list(&self, status: Option<Status>) -> Result<Vec<Entry>, StoreError> {
        let cached = || -> Vec<Entry> {
            let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            entries.values().cloned().collect()
        };
        let mut out: Vec<Entry> = match &self.shared {
            Some(shared) => match shared.list(status == Some(Status::Pending), 1_000).await {
                Ok(mut all) => {
                    // …and what this replica keeps alone.
                    all.extend(cached().into_iter().filter(|e| e.replica.is_none()));
                    all
                }
                // Redis away, deciding locally: what this replica knows.
                Err(_) if shared.redis().on_failure() == OnFailure::FallbackLocal => cached(),
                Err(e) => return Err(e.into()),
            },
            None => cached(),
        };
        out.retain(|e| status.is_none_or(|s| e.status == s));
        out.sort_by_key(|e| std::cmp::Reverse(e.created_ms));
        Ok(out)
    }

    /// Expires pending async entries past their time and forgets ended
    /// entries older than `retain_ended_ms` (memory and store); returns how
    /// many were forgotten. Run periodically. With shared state, the
    /// pending entries of every replica past their time expire too (a
    /// replica that died holding calls leaves none pending for ever).
    pub async fn prune(&self, now: u64) -> Result<usize, StoreError> {
        if let Some(shared) = &self.shared {
            for entry in shared.pending().await? {
                let grace = match entry.mode {
                    Mode::Hold => 5_000,
                    Mode::Async => 0,
                };
                if now > entry.expires_ms + grace {
                    let ended = ended(entry, Status::Expired, "nobody decided before it expired");
                    shared
                        .transition(&ended, self.settings.retain_ended_ms, None)
                        .await?;
                }
            }
            let longest = self
                .settings
                .hold_timeout_ms
                .max(self.settings.pending_ttl_ms);
            shared
                .trim(now.saturating_sub(self.settings.retain_ended_ms + longest))
                .await?;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for entry in entries.values_mut() {
            if entry.status == Status::Pending
                && entry.mode == Mode::Async
                && entry.replica.is_none()
                && now > entry.expires_ms
            {
                *entry = ended(
                    entry.clone(),
                    Status::Expired,
                    "nobody decided before it expired",
                );
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

    /// What a reviewer sees of a pending entry (gone once it ends; on the
    /// replica holding the call only).
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

    fn get_cached(&self, id: &str) -> Option<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// One entry (with shared state, from any replica).
    pub async fn get(&self, id: &str) -> Result<Option<Entry>, StoreError> {
        let cached = self.get_cached(id);
        match &self.shared {
            // Kept by this replica alone: Redis has nothing to say.
            Some(_) if cached.as_ref().is_some_and(|e| e.replica.is_none()) => Ok(cached),
            Some(shared) => match shared.get(id).await {
                Ok(Some(entry)) => Ok(Some(entry)),
                Ok(None) => Ok(cached),
                Err(_) if shared.redis().on_failure() == OnFailure::FallbackLocal => Ok(cached),
                Err(e) => Err(e.into()),
            },
            None => Ok(cached),
        }
    }
}

/// `entry`, ended without a person.
fn ended(mut entry: Entry, status: Status, why: &str) -> Entry {
    entry.status = status;
    entry.reason = Some(why.into());
    entry.decided_at = Some(crate::tape::now_rfc3339());
    entry
}

/// Cancels a held entry when the waiting request is dropped.
struct CancelOnDrop {
    queue: Arc<Queue>,
    id: String,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            let queue = self.queue.clone();
            let id = std::mem::take(&mut self.id);
            let cancel = async move {
                queue
                    .finish(&id, Status::Cancelled, "the client disconnected while held")
                    .await;
            };
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(cancel);
                }
                Err(_) => tracing::warn!("a held call was dropped outside the runtime"),
            }
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

    #[tokio::test]
    async fn ended_entries_are_pruned_from_memory_and_store_pending_ones_stay() {
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
        let decided = queue.create(test_entry("a")).await.unwrap();
        queue
            .decide(&decided.id, false, "admin", Some("no".into()))
            .await
            .unwrap();
        let forgotten = queue.create(test_entry("b")).await.unwrap();
        let fresh = queue.create(test_entry("c")).await.unwrap();
        let now = now_ms();
        let get = |id: &str| queue.get_cached(id);
        // Nothing is old enough yet; the async entries past their TTL expire.
        assert_eq!(queue.prune(now + 2_000).await.unwrap(), 0);
        assert_eq!(get(&forgotten.id).unwrap().status, Status::Expired);
        // Past the retention, every ended entry goes, from memory and file.
        assert_eq!(queue.prune(now + 10_000).await.unwrap(), 3);
        assert!(get(&decided.id).is_none() && get(&fresh.id).is_none());
        let reopened = Queue::open(settings, Box::new(FileStore::open(&path).unwrap())).unwrap();
        assert!(reopened.list(None).await.unwrap().is_empty());
        // A pending entry is never pruned.
        let pending = reopened.create(test_entry("d")).await.unwrap();
        assert_eq!(reopened.prune(now_ms()).await.unwrap(), 0);
        assert!(reopened.get_cached(&pending.id).is_some());
    }
}
