//! The HMAC key registry: a JSON file of key ids with paths to their secret
//! files (never secrets), statuses, scopes, validity and an optional bound
//! agent. Rotation: add the new key `active`, mark the old one `deprecated`
//! (still verifies), then `revoked`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use super::scopes::Scopes;

/// One usable-or-not key, with its secret loaded.
#[derive(Clone)]
pub struct Key {
    /// The key id (`X-CPOS-Key-Id`).
    pub id: Arc<str>,
    /// The secret bytes (empty when the file was unreadable or empty).
    pub secret: Vec<u8>,
    /// `active`, `deprecated`, `revoked`, …
    pub status: String,
    /// `key_status_<status>`, interned once at load.
    status_code: &'static str,
    /// Scopes granted.
    pub scopes: Scopes,
    /// Valid from (inclusive, epoch seconds).
    pub not_before: Option<i64>,
    /// Valid until (inclusive, epoch seconds).
    pub not_after: Option<i64>,
    /// The agent this key speaks for, when bound.
    pub agent: Option<Arc<str>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("status", &self.status)
            .field("agent", &self.agent)
            .finish()
    }
}

impl Key {
    /// `Ok` when the key may verify at `now`, else the original's error code.
    pub fn usable(&self, now: i64) -> Result<(), &'static str> {
        if self.status != "active" && self.status != "deprecated" {
            return Err(self.status_code);
        }
        if self.not_before.is_some_and(|nb| now < nb) {
            return Err("key_not_yet_valid");
        }
        if self.not_after.is_some_and(|na| now > na) {
            return Err("key_expired");
        }
        Ok(())
    }
}

/// All keys, by id.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    keys: HashMap<String, Key>,
    secret_files: Vec<std::path::PathBuf>,
}

#[derive(Deserialize)]
struct RawRegistry {
    keys: Option<HashMap<String, RawKey>>,
    #[serde(flatten)]
    bare: HashMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    secret_file: String,
    #[serde(default = "active")]
    status: String,
    #[serde(default)]
    scopes: Option<RawScopes>,
    #[serde(default)]
    not_before: Option<i64>,
    #[serde(default)]
    not_after: Option<i64>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawScopes {
    List(Vec<String>),
    Text(String),
}

fn active() -> String {
    "active".into()
}

impl KeyRegistry {
    /// Loads the registry and reads every secret file. Relative secret paths
    /// are resolved against the registry's directory.
    pub fn load(path: &Path) -> Result<KeyRegistry, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("gates.auth.key_registry_file {}: {e}", path.display()))?;
        let raw: RawRegistry = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a key registry: {e}", path.display()))?;
        let entries: HashMap<String, RawKey> = match raw.keys {
            Some(keys) => keys,
            None => raw
                .bare
                .into_iter()
                .map(|(id, v)| {
                    serde_json::from_value(v)
                        .map(|k| (id.clone(), k))
                        .map_err(|e| format!("{}: key `{id}`: {e}", path.display()))
                })
                .collect::<Result<_, _>>()?,
        };
        let base = path.parent().unwrap_or(Path::new("."));
        let mut keys = HashMap::new();
        let mut secret_files = Vec::new();
        for (id, raw) in entries {
            let _ = raw.metadata;
            let secret_path = base.join(&raw.secret_file);
            secret_files.push(secret_path.clone());
            let secret = std::fs::read_to_string(&secret_path)
                .map(|s| s.trim().as_bytes().to_vec())
                .unwrap_or_default();
            // No `scopes` key: every scope (as the original registry);
            // an empty list or string: none.
            let scopes = match raw.scopes {
                None => Scopes::all(),
                Some(RawScopes::List(list)) => Scopes::from_list(&list),
                Some(RawScopes::Text(text)) => Scopes::parse(&text),
            };
            keys.insert(
                id.clone(),
                Key {
                    id: Arc::from(id.as_str()),
                    secret,
                    status_code: intern(format!("key_status_{}", raw.status)),
                    status: raw.status,
                    scopes,
                    not_before: raw.not_before,
                    not_after: raw.not_after,
                    agent: raw.agent.map(|a| Arc::from(a.as_str())),
                },
            );
        }
        Ok(KeyRegistry { keys, secret_files })
    }

    /// The secret files the registry names (resolved against its folder).
    pub fn secret_files(&self) -> Vec<std::path::PathBuf> {
        self.secret_files.clone()
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<&Key> {
        self.keys.get(id)
    }

    /// Every key, sorted by id.
    pub fn keys(&self) -> Vec<&Key> {
        let mut keys: Vec<&Key> = self.keys.values().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        keys
    }
}

/// Stable `&'static str` error codes for arbitrary statuses: each distinct
/// code is allocated once for the life of the process.
fn intern(code: String) -> &'static str {
    static CODES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let codes = CODES.get_or_init(Default::default);
    let Ok(mut codes) = codes.lock() else {
        return "key_status_unusable";
    };
    if let Some(existing) = codes.get(code.as_str()) {
        return existing;
    }
    let leaked: &'static str = Box::leak(code.into_boxed_str());
    codes.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_the_original_format_and_checks_validity() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s1"), "secret-one\n").unwrap();
        let registry = dir.path().join("keys.json");
        std::fs::write(
            &registry,
            r#"{"keys": {
                "new": {"secret_file": "s1", "status": "active", "scopes": ["read:*"], "not_before": 100, "not_after": 200, "agent": "bot"},
                "old": {"secret_file": "missing", "status": "revoked", "scopes": "read:tasks,write:tasks"}
            }}"#,
        )
        .unwrap();
        let r = KeyRegistry::load(&registry).unwrap();
        let new = r.get("new").unwrap();
        assert_eq!(new.secret, b"secret-one");
        assert_eq!(new.usable(150), Ok(()));
        assert_eq!(new.usable(99), Err("key_not_yet_valid"));
        assert_eq!(new.usable(201), Err("key_expired"));
        assert_eq!(new.agent.as_deref(), Some("bot"));
        let old = r.get("old").unwrap();
        assert_eq!(old.usable(150), Err("key_status_revoked"));
        assert!(old.secret.is_empty());
        assert!(old.scopes.allows("write:tasks"));
        assert!(!format!("{new:?}").contains("secret-one"));
    }
}
