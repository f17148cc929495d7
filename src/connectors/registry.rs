//! The connector registry and its review queue: definitions are submitted
//! (unsafe ones are refused and never stored), a person approves one with
//! `confirm: true` and it is served live at `<route_prefix>/<id>` without a
//! restart, or rejects it with a reason; a registered connector can be
//! disabled live. Everything persists in one JSON file (written whole,
//! atomically) and survives restarts.
//!
//! The route table the data plane uses is the configuration's routes plus
//! the registered connectors'; both change it only through [`Registry::table`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::Report;
use super::definition::Definition;
use crate::config::Route;
use crate::proxy::RouteTable;

/// A registered connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// The approved definition (its `status` is the connector's).
    pub definition: Definition,
    /// When it was registered, RFC 3339.
    pub registered_at: String,
    /// Who approved it.
    pub registered_by: String,
    /// The review that approved it.
    pub review_id: String,
    /// Why it was disabled, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

/// One submitted definition and its decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    /// `rev_…`.
    pub review_id: String,
    /// The connector it would register.
    pub connector_id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who submitted it.
    pub submitted_by: String,
    /// When, RFC 3339.
    pub submitted_at: String,
    /// Who decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// When, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The check's warnings (errors were refused at submission).
    pub findings: Vec<Value>,
    /// What was submitted.
    pub definition: Definition,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    connectors: BTreeMap<String, Registered>,
    reviews: BTreeMap<String, Review>,
}

/// Why a registry change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The static check found errors; nothing was stored.
    #[error("the definition failed the security check; it was not stored")]
    Unsafe(Report),
    /// No such review.
    #[error("no review `{0}`")]
    ReviewNotFound(String),
    /// The review was already decided.
    #[error("review `{0}` is already {1}")]
    ReviewNotPending(String, String),
    /// No such connector.
    #[error("no connector `{0}`")]
    ConnectorNotFound(String),
    /// The connector could not be started or routed.
    #[error("registration failed: {0}")]
    Registration(String),
    /// The registry file could not be written.
    #[error("connector registry {0}")]
    Store(String),
}

/// What the route table is built from besides the registry.
struct Base {
    routes: Vec<Route>,
    demo: Option<SocketAddr>,
}

/// The registry, its reviews and the live routes of its connectors.
pub struct Registry {
    path: PathBuf,
    route_prefix: String,
    stored: Mutex<Stored>,
    /// Registered connectors' routes as served (stdio ones bridged).
    live: Mutex<BTreeMap<String, Route>>,
    base: Mutex<Base>,
    publishing: Mutex<()>,
}

impl Registry {
    /// Opens the registry at `path` (absent: empty) and starts every
    /// registered connector; `base` is the configuration's routes as served.
    pub async fn open(
        path: &Path,
        route_prefix: &str,
        base: Vec<Route>,
        demo: Option<SocketAddr>,
    ) -> Result<Registry, String> {
        let stored: Stored = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("connector registry {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::default(),
            Err(e) => return Err(format!("connector registry {}: {e}", path.display())),
        };
        let mut live = BTreeMap::new();
        for (id, registered) in &stored.connectors {
            match serve(&registered.definition, route_prefix).await {
                Ok(route) => {
                    live.insert(id.clone(), route);
                }
                Err(e) => {
                    tracing::error!(connector = %id, error = %e, "a registered connector could not be started; its calls fail until it is re-registered")
                }
            }
        }
        Ok(Registry {
            path: path.to_owned(),
            route_prefix: route_prefix.to_owned(),
            stored: Mutex::new(stored),
            live: Mutex::new(live),
            base: Mutex::new(Base { routes: base, demo }),
            publishing: Mutex::new(()),
        })
    }

    /// The route table: the configuration's routes, then the connectors'.
    pub fn table(&self) -> Result<RouteTable, String> {
        let base = self.base.lock().unwrap_or_else(|p| p.into_inner());
        self.table_over(&base.routes, base.demo)
    }

    /// The table over another set of configuration routes (a reload being
    /// prepared); [`Registry::set_base`] makes them the base once in force.
    pub fn table_over(
        &self,
        routes: &[Route],
        demo: Option<SocketAddr>,
    ) -> Result<RouteTable, String> {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let mut all = routes.to_vec();
        all.extend(live.values().cloned());
        RouteTable::build(&all, demo)
    }

    /// The configuration's routes now in force.
    pub fn set_base(&self, routes: Vec<Route>) {
        self.base.lock().unwrap_or_else(|p| p.into_inner()).routes = routes;
    }

    /// Builds the table from the base and the connectors as they are now
    /// and swaps it in; one at a time, so a reload and a registration
    /// landing together cannot leave a table that misses either.
    pub fn publish(&self, routes: &arc_swap::ArcSwap<RouteTable>) -> Result<(), String> {
        let _one = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        routes.store(std::sync::Arc::new(self.table()?));
        Ok(())
    }

    /// Checks a definition and makes its pending review, not yet stored;
    /// an unsafe one is refused. [`Registry::store`] keeps it.
    pub fn review(definition: &Value, by: &str) -> Result<Review, RegistryError> {
        let (definition, report) = Definition::parse(definition).map_err(RegistryError::Unsafe)?;
        let review = Review {
            review_id: format!("rev_{}", &crate::client::fresh_nonce()[..16]),
            connector_id: definition.connector_id.clone(),
            status: "pending".into(),
            submitted_by: by.to_owned(),
            submitted_at: crate::tape::now_rfc3339(),
            decided_by: None,
            decided_at: None,
            reason: None,
            findings: report
                .findings
                .iter()
                .map(|f| serde_json::to_value(f).unwrap_or_default())
                .collect(),
            definition,
        };
        Ok(review)
    }

    /// Stores a review made by [`Registry::review`] (once it is recorded).
    pub fn store(&self, review: &Review) -> Result<(), RegistryError> {
        self.change(|stored| {
            stored
                .reviews
                .insert(review.review_id.clone(), review.clone());
            Ok(())
        })
    }

    /// Reviews, newest first, optionally of one status.
    pub fn reviews(&self, status: Option<&str>) -> Vec<Review> {
        let stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Review> = stored
            .reviews
            .values()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .cloned()
            .collect();
        out.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at));
        out
    }

    /// Registered connectors.
    pub fn connectors(&self) -> Vec<Registered> {
        let stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        stored.connectors.values().cloned().collect()
    }

    /// The pending review `id` (to record before deciding it).
    pub fn pending(&self, id: &str) -> Result<Review, RegistryError> {
        let stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let review = stored
            .reviews
            .get(id)
            .ok_or_else(|| RegistryError::ReviewNotFound(id.to_owned()))?;
        match review.status.as_str() {
            "pending" => Ok(review.clone()),
            other => Err(RegistryError::ReviewNotPending(
                id.to_owned(),
                other.to_owned(),
            )),
        }
    }

    /// Approves review `id`: starts the connector (a stdio server is
    /// spawned and bridged); [`Registry::publish`] then serves it. A
    /// connector of the same id is replaced.
    pub async fn approve(&self, id: &str, by: &str) -> Result<Registered, RegistryError> {
        let review = self.pending(id)?;
        let mut definition = review.definition.clone();
        definition.status = "active".into();
        let route = serve(&definition, &self.route_prefix)
            .await
            .map_err(RegistryError::Registration)?;
        let registered = Registered {
            definition,
            registered_at: crate::tape::now_rfc3339(),
            registered_by: by.to_owned(),
            review_id: id.to_owned(),
            disabled_reason: None,
        };
        self.change(|stored| {
            decide(stored, id, "approved", by)?;
            stored.connectors.insert(
                registered.definition.connector_id.clone(),
                registered.clone(),
            );
            Ok(())
        })?;
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(registered.definition.connector_id.clone(), route);
        Ok(registered)
    }

    /// Rejects review `id` with a reason.
    pub fn reject(&self, id: &str, by: &str, reason: &str) -> Result<Review, RegistryError> {
        self.change(|stored| {
            let review = decide(stored, id, "rejected", by)?;
            review.reason = Some(reason.to_owned());
            Ok(review.clone())
        })
    }

    /// Disables connector `id`: once published, every request to it is
    /// answered `connector_not_active`.
    pub fn disable(&self, id: &str, reason: Option<String>) -> Result<(), RegistryError> {
        self.change(|stored| {
            let registered = stored
                .connectors
                .get_mut(id)
                .ok_or_else(|| RegistryError::ConnectorNotFound(id.to_owned()))?;
            registered.definition.status = "disabled".into();
            registered.disabled_reason = reason;
            Ok(())
        })?;
        if let Some(route) = self
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            route.enabled = false;
        }
        Ok(())
    }

    /// Applies `f` to the stored state and writes it; on a write failure
    /// the change is undone in memory too.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut Stored) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut stored = self.stored.lock().unwrap_or_else(|p| p.into_inner());
        let before = serde_json::to_vec(&*stored).unwrap_or_default();
        let out = f(&mut stored)?;
        if let Err(e) = write_atomically(
            &self.path,
            &serde_json::to_vec_pretty(&*stored).unwrap_or_default(),
        ) {
            if let Ok(previous) = serde_json::from_slice(&before) {
                *stored = previous;
            }
            return Err(RegistryError::Store(format!(
                "{}: {e}",
                self.path.display()
            )));
        }
        Ok(out)
    }
}

/// Marks the pending review `id` decided (`status`, by whom, now), or says
/// why it cannot be.
fn decide<'a>(
    stored: &'a mut Stored,
    id: &str,
    status: &str,
    by: &str,
) -> Result<&'a mut Review, RegistryError> {
    let review = stored
        .reviews
        .get_mut(id)
        .ok_or_else(|| RegistryError::ReviewNotFound(id.to_owned()))?;
    if review.status != "pending" {
        return Err(RegistryError::ReviewNotPending(
            id.to_owned(),
            review.status.clone(),
        ));
    }
    review.status = status.into();
    review.decided_by = Some(by.to_owned());
    review.decided_at = Some(crate::tape::now_rfc3339());
    Ok(review)
}

/// The route serving `definition`: a stdio server is spawned and bridged
/// to loopback HTTP (its declared secret files read now, for it alone).
async fn serve(definition: &Definition, route_prefix: &str) -> Result<Route, String> {
    let mut route = definition.route(route_prefix);
    if route.upstream == "stdio" && route.enabled {
        let addr =
            crate::mcp::stdio_upstream::start(&route.name, &route.command, &route.env_secret_files)
                .await
                .map_err(|e| format!("connector `{}`: {e}", route.name))?;
        route.upstream = format!("http://{addr}");
    }
    if route.upstream == "stdio" {
        // Not active, so never started: a placeholder nobody reaches (every
        // request is answered `connector_not_active`).
        route.upstream = "http://127.0.0.1:9".into();
    }
    Ok(route)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
