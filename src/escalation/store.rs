//! Where escalations persist. The embedded default is a local append-only
//! JSON-lines file (the latest line per id wins); a shared backend (Redis)
//! implements the same small trait.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::entry::Entry;

/// The store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("escalation store {path}: {reason}")]
pub struct StoreError {
    path: String,
    reason: String,
}

impl From<crate::shared::Unavailable> for StoreError {
    fn from(e: crate::shared::Unavailable) -> StoreError {
        StoreError {
            path: "redis".into(),
            reason: e.0,
        }
    }
}

/// Persistence of escalation entries.
pub trait EscalationStore: Send + Sync {
    /// Every entry as last saved.
    fn load(&self) -> Result<Vec<Entry>, StoreError>;
    /// Saves the entry's current state.
    fn save(&self, entry: &Entry) -> Result<(), StoreError>;
    /// Replaces everything stored with `entries` (after pruning).
    fn rewrite(&self, entries: &[Entry]) -> Result<(), StoreError>;
}

/// A JSON-lines file, one line per change, fsynced.
pub struct FileStore {
    path: PathBuf,
    file: Mutex<File>,
}

impl FileStore {
    /// Opens (creating) the file.
    pub fn open(path: &Path) -> Result<FileStore, StoreError> {
        let err = |e: std::io::Error| StoreError {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(err)?;
        Ok(FileStore {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    fn error(&self, reason: String) -> StoreError {
        StoreError {
            path: self.path.display().to_string(),
            reason,
        }
    }
}

impl EscalationStore for FileStore {
    fn load(&self) -> Result<Vec<Entry>, StoreError> {
        let file = File::open(&self.path).map_err(|e| self.error(e.to_string()))?;
        let mut latest: HashMap<String, Entry> = HashMap::new();
        let mut order = Vec::new();
        for (n, line) in BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| self.error(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Entry>(&line) {
                Ok(entry) => {
                    if !latest.contains_key(&entry.id) {
                        order.push(entry.id.clone());
                    }
                    latest.insert(entry.id.clone(), entry);
                }
                // A torn last line after a crash loses only that change.
                Err(e) => {
                    tracing::warn!(line = n + 1, error = %e, "skipping an unreadable escalation line")
                }
            }
        }
        Ok(order
            .into_iter()
            .filter_map(|id| latest.remove(&id))
            .collect())
    }

    fn rewrite(&self, entries: &[Entry]) -> Result<(), StoreError> {
        let err = |e: std::io::Error| self.error(e.to_string());
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let temp = self.path.with_extension("jsonl.tmp");
        let mut out = File::create(&temp).map_err(err)?;
        for entry in entries {
            let mut line = serde_json::to_vec(entry).map_err(|e| self.error(e.to_string()))?;
            line.push(b'\n');
            out.write_all(&line).map_err(err)?;
        }
        out.sync_all().map_err(err)?;
        std::fs::rename(&temp, &self.path).map_err(err)?;
        *file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(err)?;
        Ok(())
    }

    fn save(&self, entry: &Entry) -> Result<(), StoreError> {
        let mut line = serde_json::to_vec(entry).map_err(|e| self.error(e.to_string()))?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(|e| self.error(e.to_string()))
    }
}

/// No persistence of its own: with shared state, Redis is the store, and
/// what one replica keeps alone (Redis unreachable) lives in its memory.
pub struct NoStore;

impl EscalationStore for NoStore {
    fn load(&self) -> Result<Vec<Entry>, StoreError> {
        Ok(Vec::new())
    }
    fn save(&self, _: &Entry) -> Result<(), StoreError> {
        Ok(())
    }
    fn rewrite(&self, _: &[Entry]) -> Result<(), StoreError> {
        Ok(())
    }
}
