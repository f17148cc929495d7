//! Reload without a restart: SIGHUP and the admin plane's `POST /reload`
//! both re-read the configuration and apply it here.
//!
//! Everything reloadable is built first — policy, routes, TLS certificates,
//! gates (client pins, allowlist, trusted proxies, rate limits, keys, tokens,
//! scopes) — then the reload goes on the tape, and only then is everything
//! swapped in, each part whole (`arc-swap`). If any part fails, or the tape
//! cannot record it, nothing changes and the error names why. Open connections,
//! in-flight streams and held calls keep what they started with. Sections
//! that need a restart (listeners, limits, tape, sandbox, …) are named in
//! the summary and keep their running values.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;

use crate::config::Config;
use crate::proxy::RouteTable;
use crate::server::tls::TlsHandle;
use crate::state::AppState;
use crate::tape::{Outcome, TapeRecord};

/// Where a reload reads the configuration from (the file and overrides
/// `serve` started with).
pub type ConfigSource = std::sync::Arc<dyn Fn() -> anyhow::Result<Config> + Send + Sync>;

/// Re-reads and applies configuration; one reload at a time.
pub struct Reloader {
    source: Option<ConfigSource>,
    /// The built-in demo upstream, when it was started.
    demo: Option<SocketAddr>,
    /// Stdio MCP servers bridged at start: their route, and the address.
    stdio: Vec<(crate::config::Route, SocketAddr)>,
    /// The data plane's TLS configuration, when TLS is on.
    tls: Option<TlsHandle>,
    busy: tokio::sync::Mutex<()>,
    /// The files the running configuration was read from, and their mtimes.
    watched: Mutex<Vec<(PathBuf, Option<SystemTime>)>>,
}

/// A reload built and checked, not yet in force.
struct Prepared {
    config: Config,
    policy: crate::policy::Policy,
    /// The configuration's routes as served (checked into a table with the
    /// registered connectors' while preparing).
    routes: Vec<crate::config::Route>,
    tls: Option<Arc<rustls::ServerConfig>>,
    gates: crate::gate::GateSwap,
    summary: Reloaded,
}

impl Prepared {
    /// Swaps every part in; nothing here can fail.
    fn commit(self, app: &AppState, tls: Option<&TlsHandle>) -> Reloaded {
        app.gates.commit(self.gates);
        app.policy.store(Arc::new(self.policy));
        app.connectors.set_base(self.routes);
        if let Err(e) = app.connectors.publish(&app.routes) {
            tracing::error!(error = %e, "routes: the table did not build; the previous one stays");
        }
        if let (Some(handle), Some(config)) = (tls, self.tls) {
            handle.store(config);
        }
        app.config.store(Arc::new(self.config));
        self.summary
    }
}

/// What one reload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reloaded {
    /// Policy rules now in force.
    pub rules: usize,
    /// Where the policy came from.
    pub policy: String,
    /// Routes now in force.
    pub routes: usize,
    /// True when the TLS certificate and key were re-read.
    pub tls: bool,
    /// Changed sections that keep their running values until a restart.
    pub restart_needed: Vec<&'static str>,
}

impl std::fmt::Display for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "policy {} ({} rules), {} routes, gates and credentials{} reloaded",
            self.policy,
            self.rules,
            self.routes,
            if self.tls { ", TLS certificate" } else { "" }
        )?;
        if !self.restart_needed.is_empty() {
            write!(
                f,
                "; changes to {} take effect after a restart",
                self.restart_needed.join(", ")
            )?;
        }
        Ok(())
    }
}

/// Sections read once at start: a change is reported, not applied, and the
/// running value is kept in the configuration in effect.
type Keep = fn(&mut Config, &Config);
const RESTART_ONLY: &[(&str, Keep)] = &[
    ("listen", |new, old| new.listen = old.listen.clone()),
    ("limits", |new, old| new.limits = old.limits.clone()),
    ("upstream", |new, old| new.upstream = old.upstream.clone()),
    ("mcp", |new, old| new.mcp = old.mcp.clone()),
    ("tape", |new, old| new.tape = old.tape.clone()),
    ("admin", |new, old| new.admin = old.admin.clone()),
    ("shutdown", |new, old| new.shutdown = old.shutdown.clone()),
    ("runtime", |new, old| new.runtime = old.runtime.clone()),
    ("log", |new, old| new.log = old.log.clone()),
    ("sandbox", |new, old| new.sandbox = old.sandbox.clone()),
    ("escalation", |new, old| {
        new.escalation = old.escalation.clone()
    }),
    ("adapter", |new, old| new.adapter = old.adapter.clone()),
    ("state", |new, old| new.state = old.state.clone()),
    ("connectors", |new, old| {
        new.connectors = old.connectors.clone()
    }),
];

impl Reloader {
    /// A reloader for a sidecar started with these parts.
    pub fn new(
        source: Option<ConfigSource>,
        demo: Option<SocketAddr>,
        stdio: Vec<(crate::config::Route, SocketAddr)>,
        tls: Option<TlsHandle>,
    ) -> Reloader {
        Reloader {
            source,
            demo,
            stdio,
            tls,
            busy: tokio::sync::Mutex::new(()),
            watched: Mutex::new(Vec::new()),
        }
    }

    /// Reloads when a file the configuration was read from changed since
    /// the last look: the config file, policy files, the TLS certificate
    /// and key, client pins and CA (a renewed certificate or an updated
    /// ConfigMap applies without a signal). Credential files are polled by
    /// the gates themselves. Run every few seconds.
    pub async fn reload_if_changed(&self, app: &AppState) {
        if self.source.is_none() {
            return;
        }
        let now = mtimes(watched_files(&app.config.load()));
        let changed = {
            let mut seen = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            let first_look = seen.is_empty();
            let changed = !first_look && *seen != now;
            *seen = now;
            changed
        };
        if changed {
            // Logged, counted and recorded by `reload`; a failure is
            // reported once per change, not every poll.
            let _ = self.reload(app, "file change").await;
        }
    }

    /// Re-reads the configuration source and applies it: everything is
    /// built first, the reload goes on the tape, and only then is it
    /// swapped in (a reload the tape cannot record does not happen). Counts
    /// the result in `cpos_reloads_total{code}`.
    pub async fn reload(&self, app: &AppState, by: &str) -> anyhow::Result<Reloaded> {
        // One reload at a time, from build to swap.
        let _one = self.busy.lock().await;
        let prepared = match &self.source {
            None => Err(anyhow::anyhow!(
                "this sidecar was started without a configuration source to re-read"
            )),
            // Reading the files and compiling the policy take tens of
            // milliseconds: on a blocking thread, so that requests on the
            // async workers (one, with `worker_threads = 1`) do not wait.
            Some(source) => {
                let source = source.clone();
                let read = move || -> anyhow::Result<(Config, crate::policy::Policy)> {
                    let new = source()?;
                    new.validate()?;
                    let policy = crate::policy::Policy::from_settings(&new.policy)?;
                    Ok((new, policy))
                };
                match tokio::task::spawn_blocking(read).await {
                    Ok(read) => read.and_then(|(new, policy)| self.prepare(app, new, policy)),
                    Err(e) => Err(anyhow::anyhow!("reading the configuration failed: {e}")),
                }
            }
        };
        let code = if prepared.is_ok() { "ok" } else { "failed" };
        let detail = match &prepared {
            Ok(p) => serde_json::json!({
                "rules": p.summary.rules, "routes": p.summary.routes,
                "tls": p.summary.tls, "restart_needed": p.summary.restart_needed,
            }),
            Err(e) => serde_json::json!({"error": format!("{e:#}")}),
        };
        let record = TapeRecord {
            event: "config_reload",
            principal: Some(by.to_owned()),
            detail: Some(detail),
            outcome: Some(Outcome {
                code: Some(code),
                status: if prepared.is_ok() { 200 } else { 422 },
                ..Outcome::default()
            }),
            ..TapeRecord::default()
        };
        let recorded = app.tape.record(record).await;
        let outcome = match (prepared, recorded) {
            (Ok(prepared), Ok(())) => Ok(prepared.commit(app, self.tls.as_ref())),
            (Ok(_), Err(e)) => Err(anyhow::anyhow!(
                "the tape cannot record the reload ({e}), so it was not applied"
            )),
            (Err(e), _) => Err(e),
        };
        // What was just read counts as seen: the file watcher does not
        // reload the same change again.
        *self.watched.lock().unwrap_or_else(|p| p.into_inner()) =
            mtimes(watched_files(&app.config.load()));
        let code = if outcome.is_ok() { "ok" } else { "failed" };
        app.metrics
            .reloads
            .get_or_create(&crate::metrics::CodeLabels { code })
            .inc();
        match &outcome {
            Ok(r) => tracing::info!(by, summary = %r, "configuration reloaded"),
            Err(e) => {
                tracing::error!(by, error = %format!("{e:#}"), "reload refused; the running configuration stays")
            }
        }
        outcome
    }

    /// Builds every other reloadable part from `new` (validated, its
    /// policy compiled); nothing changes yet.
    fn prepare(
        &self,
        app: &AppState,
        new: Config,
        policy: crate::policy::Policy,
    ) -> anyhow::Result<Prepared> {
        let old = app.config.load_full();
        let routes = self.routes(&new)?;
        app.connectors
            .table_over(&routes, self.demo)
            .map_err(anyhow::Error::msg)
            .context("routes")?;
        let tls = self.tls_config(&old, &new)?;
        let gates = app
            .gates
            .prepare(&new.gates)
            .map_err(|e| anyhow::anyhow!("gates: {e}"))?;
        let summary = Reloaded {
            rules: policy.len(),
            policy: policy.origin().to_owned(),
            routes: new.routes.len(),
            tls: tls.is_some(),
            restart_needed: restart_needed(&old, &new),
        };
        Ok(Prepared {
            config: effective(&old, new),
            policy,
            routes,
            tls,
            gates,
            summary,
        })
    }

    /// The new route table; stdio servers and the demo upstream started at
    /// start-up are reused, and a new one needs a restart.
    fn routes(&self, new: &Config) -> anyhow::Result<Vec<crate::config::Route>> {
        let mut routes = new.routes.clone();
        for route in routes.iter_mut().filter(|r| r.upstream == "stdio") {
            let running = self.stdio.iter().find(|(started, _)| {
                started.name == route.name
                    && started.command == route.command
                    && started.env_secret_files == route.env_secret_files
            });
            match running {
                Some((_, addr)) => route.upstream = format!("http://{addr}"),
                None => anyhow::bail!(
                    "route `{}`: a new or changed stdio MCP server needs a restart",
                    route.name
                ),
            }
        }
        if RouteTable::needs_demo(&routes) && self.demo.is_none() {
            anyhow::bail!(
                "a route now uses builtin:demo, which was not started; restart to use it"
            );
        }
        Ok(routes)
    }

    /// The re-read TLS configuration, when TLS is on before and after.
    fn tls_config(
        &self,
        old: &Config,
        new: &Config,
    ) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
        if old.tls.enabled() != new.tls.enabled() {
            anyhow::bail!(
                "turning TLS on or off needs a restart (the listener's protocol changes)"
            );
        }
        let (Some(_), Some(cert), Some(key)) = (&self.tls, &new.tls.cert_file, &new.tls.key_file)
        else {
            return Ok(None);
        };
        let config =
            crate::server::tls::server_config(cert, key, &crate::sidecar::client_auth(new))
                .map_err(anyhow::Error::msg)?;
        Ok(Some(config))
    }
}

/// The files a configuration reads at (re)load, other than credentials.
fn watched_files(config: &Config) -> Vec<PathBuf> {
    let cert = &config.gates.client_cert;
    config
        .source
        .iter()
        .chain(&config.policy.files)
        .chain(&config.policy.file)
        .chain(&config.tls.cert_file)
        .chain(&config.tls.key_file)
        .chain(&cert.pin_file)
        .chain(&cert.ca_file)
        .cloned()
        .collect()
}

fn mtimes(files: Vec<PathBuf>) -> Vec<(PathBuf, Option<SystemTime>)> {
    files
        .into_iter()
        .map(|f| {
            let mtime = std::fs::metadata(&f).and_then(|m| m.modified()).ok();
            (f, mtime)
        })
        .collect()
}

/// Restart-only sections whose values changed.
fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let (old, new) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    RESTART_ONLY
        .iter()
        .map(|(section, _)| *section)
        .filter(|section| old.get(section) != new.get(section))
        .collect()
}

/// `new`, with the restart-only sections still at their running values, so
/// the configuration in effect is what the sidecar reports.
fn effective(old: &Config, mut new: Config) -> Config {
    for (_, keep) in RESTART_ONLY {
        keep(&mut new, old);
    }
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_only_sections_keep_their_running_values() {
        let old = Config::from_toml("").unwrap();
        let new = Config::from_toml(
            "[listen]\ndata = \"127.0.0.1:1\"\nadmin = \"127.0.0.1:2\"\n\
             [shutdown]\ngrace_ms = 1\n\
             [request]\nmethod_override = \"strip\"\n",
        )
        .unwrap();
        assert_eq!(restart_needed(&old, &new), ["listen", "shutdown"]);
        let kept = effective(&old, new);
        assert_eq!(kept.listen.data, old.listen.data);
        assert_eq!(kept.shutdown.grace_ms, old.shutdown.grace_ms);
        // A reloadable section takes the new value.
        assert_eq!(
            serde_json::to_value(&kept.request).unwrap()["method_override"],
            "strip"
        );
        // Every restart-only name is a section of the configuration.
        let value = serde_json::to_value(&old).unwrap();
        for (section, _) in RESTART_ONLY {
            assert!(value.get(section).is_some(), "{section}");
        }
    }

    /// On a one-thread runtime (`worker_threads = 1`), a reload that is
    /// still reading its files must not hold up requests: the reading and
    /// the policy compile run on a blocking thread.
    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_answered_while_a_reload_reads_its_files() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_toml(&format!(
            "[listen]\ndata = \"127.0.0.1:0\"\n[admin]\nenabled = false\n\
             [tape]\ndir = \"{0}/tape\"\n[sandbox]\nworkspace = \"{0}\"\n\
             [escalation]\nstore_file = \"{0}/escalations.jsonl\"\n\
             [adapter]\nstore_file = \"{0}/actions.jsonl\"\n",
            dir.path().display()
        ))
        .unwrap();
        // The source blocks until released: by the test once a request was
        // answered, or by a watchdog (so the old behaviour fails, not hangs).
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let released = Arc::new(AtomicBool::new(false));
        let again = config.clone();
        let source: ConfigSource = Arc::new(move || {
            let _ = wait.lock().unwrap().recv();
            Ok(again.clone())
        });
        let running = Arc::new(crate::sidecar::start(config, Some(source)).await.unwrap());
        let watchdog = {
            let (release, released) = (release.clone(), released.clone());
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(10));
                released.store(true, Ordering::SeqCst);
                let _ = release.send(());
            })
        };
        let reload = tokio::spawn({
            let running = running.clone();
            async move { running.reload("test").await.map(|_| ()) }
        });
        tokio::task::yield_now().await; // the reload starts reading
        let mut stream = tokio::net::TcpStream::connect(running.data_addr)
            .await
            .unwrap();
        stream
            .write_all(b"GET /nowhere HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
        assert!(
            !released.load(Ordering::SeqCst),
            "the request waited for the reload"
        );
        release.send(()).unwrap();
        reload.await.unwrap().unwrap();
        drop(watchdog);
    }
}
