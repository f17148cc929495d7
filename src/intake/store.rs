//! Adapter actions awaiting a decision: metadata-only entries, kept in memory
//! and appended to a JSON Lines file so they survive a restart.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One adapter action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `act_…`.
    pub id: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// `pending_review`, `metadata_recorded`, `sandbox_pending`, `approved_contract_only`, `rejected`.
    pub status: String,
    /// The metadata-only contract returned to the agent.
    pub contract: Value,
    /// Who decided, when decided.
    #[serde(default)]
    pub decided_by: Option<String>,
    /// Decision note, when decided (at most 200 characters).
    #[serde(default)]
    pub reason: Option<String>,
}

impl Entry {
    /// True while the action awaits a decision.
    pub fn is_open(&self) -> bool {
        matches!(
            self.status.as_str(),
            "pending_review" | "metadata_recorded" | "sandbox_pending"
        )
    }
}

/// The store.
pub struct ActionStore {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, Entry>>,
}

/// The store file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("adapter action store {path}: {message}")]
pub struct StoreError {
    path: String,
    message: String,
}

impl ActionStore {
    /// Opens (and replays) the store file.
    pub fn open(path: &Path) -> Result<ActionStore, StoreError> {
        let fail = |message: String| StoreError {
            path: path.display().to_string(),
            message,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        }
        let mut entries = BTreeMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                // A torn last line from a crash is skipped; every other
                // line is a full snapshot of one entry.
                if let Ok(entry) = serde_json::from_str::<Entry>(line) {
                    entries.insert(entry.id.clone(), entry);
                }
            }
        }
        Ok(ActionStore {
            path: path.to_path_buf(),
            entries: Mutex::new(entries),
        })
    }

    fn persist(&self, entry: &Entry) -> Result<(), StoreError> {
        let fail = |message: String| StoreError {
            path: self.path.display().to_string(),
            message,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| fail(e.to_string()))?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| fail(e.to_string()))?;
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| fail(e.to_string()))
    }

    /// Adds a new entry.
    pub fn insert(&self, entry: Entry) -> Result<(), StoreError> {
        self.persist(&entry)?;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(entry.id.clone(), entry);
        }
        Ok(())
    }

    /// Entries still awaiting a decision, oldest first.
    pub fn open_entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .map(|e| e.values().filter(|e| e.is_open()).cloned().collect())
            .unwrap_or_default()
    }

    /// Every entry.
    pub fn all(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .map(|e| e.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Decides an open entry; `Ok(None)` when it is unknown or already decided.
    pub fn decide(
        &self,
        id: &str,
        status: &str,
        by: Option<&str>,
        reason: Option<&str>,
    ) -> Result<Option<Entry>, StoreError> {
        let updated = {
            let Ok(entries) = self.entries.lock() else {
                return Ok(None);
            };
            match entries.get(id) {
                Some(e) if e.is_open() => {
                    let mut e = e.clone();
                    e.status = status.to_owned();
                    e.decided_by = by.map(str::to_owned);
                    e.reason = reason.map(|r| r.chars().take(200).collect());
                    e
                }
                _ => return Ok(None),
            }
        };
        self.persist(&updated)?;
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(updated.id.clone(), updated.clone());
        }
        Ok(Some(updated))
    }
}
