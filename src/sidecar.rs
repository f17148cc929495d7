//! Wiring: builds the state from a configuration, binds the listeners, and
//! runs until told to stop, then drains and flushes the tape.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::clock::SystemClock;
use crate::config::state::StateBackend;
use crate::config::{Config, GateMode};
use crate::gate::Gates;
use crate::metrics::Metrics;
use crate::pipeline;
use crate::proxy::{RouteTable, UpstreamClient};
use crate::reload::{ConfigSource, Reloader};
use crate::server::tls::TlsHandle;
use crate::server::{self, ServeOptions};
use crate::state::{AppState, RequestIds};
use crate::tape::{Tape, TapeThread};

/// A running sidecar.
pub struct Running {
    /// Bound data-plane address.
    pub data_addr: SocketAddr,
    /// Bound admin address, when the admin plane is enabled.
    pub admin_addr: Option<SocketAddr>,
    /// Bound health address, when `listen.health` is set.
    pub health_addr: Option<SocketAddr>,
    admin: Arc<AdminState>,
    stop: watch::Sender<bool>,
    /// The admin and health planes stop after the data plane drained, so
    /// `/readyz` answers 503 while draining.
    admin_stop: watch::Sender<bool>,
    data_task: JoinHandle<usize>,
    admin_tasks: Vec<JoinHandle<usize>>,
    tape_thread: TapeThread,
}

/// The listeners, bound before any file is written so a start that fails
/// leaves nothing behind.
struct Listeners {
    data: TcpListener,
    admin: Option<TcpListener>,
    health: Option<TcpListener>,
}

impl Listeners {
    async fn bind(config: &Config) -> anyhow::Result<Listeners> {
        let bind = |addr: SocketAddr, key: &'static str| async move {
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} ({key}); is another cpos running?"))
        };
        Ok(Listeners {
            data: bind(config.listen.data, "listen.data").await?,
            admin: match config.admin.enabled {
                true => Some(bind(config.listen.admin, "listen.admin").await?),
                false => None,
            },
            health: match config.listen.health {
                Some(addr) => Some(bind(addr, "listen.health").await?),
                None => None,
            },
        })
    }
}

/// Builds everything and starts serving. `source` is what a reload re-reads
/// (SIGHUP, `POST /reload`); without one, reloads are refused.
pub async fn start(config: Config, source: Option<ConfigSource>) -> anyhow::Result<Running> {
    let config = Arc::new(config);
    let metrics = Metrics::new();

    // Everything that can fail without touching the disk comes first.
    let policy = load_policy(&config)?;
    tracing::info!(
        policy = policy.origin(),
        rules = policy.len(),
        "policy loaded"
    );
    let redis = match config.state.backend {
        StateBackend::Memory => None,
        StateBackend::Redis => Some(Arc::new(
            crate::shared::Redis::open(&config.state).map_err(anyhow::Error::msg)?,
        )),
    };
    let gates = match &redis {
        None => Gates::from_config(&config.gates, Arc::new(SystemClock)),
        Some(redis) => Gates::with_shared_state(
            &config.gates,
            Arc::new(SystemClock),
            Arc::new(crate::shared::gate::SharedGate::new(redis.clone())),
        ),
    }
    .map_err(|e| anyhow::anyhow!("gates: {e}"))?;
    let upstream = UpstreamClient::new(&config.upstream).map_err(anyhow::Error::msg)?;
    let tls: Option<TlsHandle> = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => Some(Arc::new(arc_swap::ArcSwap::new(
            server::tls::server_config(cert, key, &client_auth(&config))
                .map_err(anyhow::Error::msg)?,
        ))),
        _ => None,
    };
    let listeners = Listeners::bind(&config).await?;
    let demo = if RouteTable::needs_demo(&config.routes) {
        Some(
            crate::demo::start()
                .await
                .context("starting the built-in demo upstream")?,
        )
    } else {
        None
    };
    // Stdio MCP servers are spawned and bridged to loopback HTTP here.
    let mut route_configs = config.routes.clone();
    let mut stdio = Vec::new();
    for route in route_configs.iter_mut().filter(|r| r.upstream == "stdio") {
        let addr =
            crate::mcp::stdio_upstream::start(&route.name, &route.command, &route.env_secret_files)
                .await
                .with_context(|| {
                    format!("route `{}`: starting its stdio MCP server", route.name)
                })?;
        stdio.push((route.clone(), addr));
        route.upstream = format!("http://{addr}");
    }
    // Checked here, served from the registry (which adds what it registered).
    RouteTable::build(&route_configs, demo).map_err(anyhow::Error::msg)?;

    // Then the files: the tape first, so nothing else is written if it fails.
    let (tape, tape_thread, recovery) = Tape::open(&config.tape, metrics.tape.clone())
        .with_context(|| format!("opening the tape in {}", config.tape.dir.display()))?;
    if let Some(r) = &recovery {
        tracing::warn!(segment = %r.segment, truncated_bytes = r.truncated_bytes, "tape had a torn last line; truncated and recorded");
    }
    let adapter = if config.adapter.enabled {
        Some(crate::intake::Adapter::open(
            &config.adapter.prefix,
            &config.adapter.store_file,
        )?)
    } else {
        None
    };
    let pins = open_pins(&config)?;
    let sandbox = match config.sandbox.enabled {
        true => Some(Arc::new(
            crate::sandbox::service::SandboxService::new(&config)
                .map_err(|e| {
                    anyhow::anyhow!("sandbox: {e}; set sandbox.workspace to the project directory")
                })?
                .counting(metrics.sandbox_runs.clone()),
        )),
        false => None,
    };
    let escalations = match (config.escalation.enabled, &redis) {
        (false, _) => None,
        (true, Some(redis)) => Some(
            crate::escalation::Queue::open_shared(config.escalation.clone(), redis.clone()).await,
        ),
        (true, None) => {
            let store = crate::escalation::FileStore::open(&config.escalation.store_file)?;
            Some(Arc::new(crate::escalation::Queue::open(
                config.escalation.clone(),
                Box::new(store),
            )?))
        }
    };
    let connectors = Arc::new(
        crate::connectors::registry::Registry::open(
            &config.connectors.store_file,
            &config.connectors.route_prefix,
            route_configs.clone(),
            demo,
        )
        .await
        .map_err(anyhow::Error::msg)?,
    );
    let routes = connectors.table().map_err(anyhow::Error::msg)?;
    let app = Arc::new(AppState {
        connectors,
        redis,
        escalations,
        sandbox,
        pins,
        routes: arc_swap::ArcSwap::from_pointee(routes),
        gates,
        policy: arc_swap::ArcSwap::from_pointee(policy),
        adapter,
        upstream,
        tape,
        metrics: metrics.clone(),
        request_ids: RequestIds::new(),
        max_inspect_body_bytes: config.limits.max_inspect_body_bytes,
        max_signed_body_bytes: config.gates.auth.max_signed_body_bytes,
        body_read_timeout: Duration::from_millis(config.limits.body_read_timeout_ms),
        config: arc_swap::ArcSwap::new(config.clone()),
    });
    spawn_housekeeping(&app);

    let options = ServeOptions {
        header_read_timeout: config.header_read_timeout(),
        max_header_bytes: config.limits.max_header_bytes,
        idle_timeout: Duration::from_millis(config.limits.idle_timeout_ms),
        max_connections: config.limits.max_connections,
        max_connections_per_ip: config.limits.max_connections_per_ip,
        grace: Duration::from_millis(config.shutdown.grace_ms),
    };
    let (stop, stopped) = watch::channel(false);
    let (admin_stop, admin_stopped) = watch::channel(false);

    let data_addr = listeners.data.local_addr()?;
    let data_task = {
        let app = app.clone();
        let handler = move |req, conn| pipeline::handle(app.clone(), conn, req);
        tokio::spawn(server::serve(
            listeners.data,
            tls.clone(),
            options.clone(),
            handler,
            stopped.clone(),
            Some(metrics.clone()),
        ))
    };

    let admin_state = Arc::new(AdminState {
        app: app.clone(),
        ready: Default::default(),
        recovery,
        reloader: Reloader::new(source, demo, stdio, tls),
    });
    let admin_options = ServeOptions {
        max_connections: 256,
        max_connections_per_ip: 256,
        ..options.clone()
    };
    let mut admin_tasks = Vec::new();
    // The admin plane, and the health plane (probes only), when bound.
    let mut serve_plane = |listener: Option<TcpListener>, health_only: bool| {
        let Some(listener) = listener else {
            return Ok(None);
        };
        let addr = listener.local_addr()?;
        let state = admin_state.clone();
        let handler = move |req, conn| {
            let state = state.clone();
            async move {
                match health_only {
                    true => admin::health(&state, &req),
                    false => admin::handle(state, conn, req).await,
                }
            }
        };
        admin_tasks.push(tokio::spawn(server::serve(
            listener,
            None,
            admin_options.clone(),
            handler,
            admin_stopped.clone(),
            None,
        )));
        anyhow::Ok(Some(addr))
    };
    let admin_addr = serve_plane(listeners.admin, false)?;
    let health_addr = serve_plane(listeners.health, true)?;
    // Files the configuration was read from are polled: a renewed
    // certificate, new pins or an updated ConfigMap apply without a signal.
    let watcher = Arc::downgrade(&admin_state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            let Some(state) = watcher.upgrade() else {
                return;
            };
            state.reloader.reload_if_changed(&state.app).await;
        }
    });
    admin_state.ready.store(true, Ordering::Relaxed);
    Ok(Running {
        data_addr,
        admin_addr,
        health_addr,
        admin: admin_state,
        stop,
        admin_stop,
        data_task,
        admin_tasks,
        tape_thread,
    })
}

/// Background upkeep: rate-limit buckets shrink, ended escalations are
/// pruned, credential files are polled.
fn spawn_housekeeping(app: &Arc<AppState>) {
    if let Some(redis) = app.redis.clone() {
        // A ping a second keeps readiness and metrics true without traffic,
        // and is the probe that closes the breaker once Redis is back.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if Arc::strong_count(&redis) == 1 {
                    return;
                }
                let _ = redis.ping().await;
            }
        });
    }
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        // Forget full buckets so memory follows active keys, not all keys ever seen.
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            if let Some(limiter) = app.gates.rate_limiter() {
                limiter.shrink();
            }
        }
    });
    if let Some(queue) = app.escalations.clone() {
        // Ended entries leave memory and the store after their retention.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                match queue.prune(now).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "ended escalation entries pruned"),
                    Err(e) => tracing::error!(error = %e, "escalation pruning failed"),
                }
            }
        });
    }
    // Credential files are polled: a key or token removed from its file
    // stops working within two seconds, without a signal.
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { return };
            let code = match app.gates.refresh_credentials() {
                Ok(false) => continue,
                Ok(true) => {
                    tracing::info!("credential files changed; keys and tokens reloaded");
                    "ok"
                }
                Err(e) => {
                    tracing::error!(error = %e, "credential files changed but do not load; the previous keys and tokens stay");
                    "failed"
                }
            };
            app.metrics
                .reloads
                .get_or_create(&crate::metrics::CodeLabels { code })
                .inc();
        }
    });
}

/// The TLS listener's client-certificate settings.
pub fn client_auth(config: &Config) -> server::tls::ClientAuth<'_> {
    server::tls::ClientAuth {
        ca_file: config.gates.client_cert.ca_file.as_deref(),
        pinning: config.gates.client_cert.mode != GateMode::Off,
    }
}

/// The policy a configuration names (its file, or the embedded default).
fn load_policy(config: &Config) -> anyhow::Result<crate::policy::Policy> {
    Ok(crate::policy::Policy::from_settings(&config.policy)?)
}

impl Running {
    /// Re-reads the configuration and applies what can change without a
    /// restart (see [`crate::reload`]).
    pub async fn reload(&self, by: &str) -> anyhow::Result<crate::reload::Reloaded> {
        self.admin.reloader.reload(&self.admin.app, by).await
    }

    /// Stops accepting, drains in-flight requests for the grace period, and
    /// flushes the tape to stable storage.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        // Not ready from now on (the admin plane keeps answering 503), and
        // held calls are answered now rather than at the end of the grace.
        self.admin.ready.store(false, Ordering::Relaxed);
        if let Some(queue) = &self.admin.app.escalations {
            let cancelled = queue.drain().await;
            if cancelled > 0 {
                tracing::info!(
                    cancelled,
                    "held calls answered 503: the sidecar is shutting down"
                );
            }
        }
        let _ = self.stop.send(true);
        let left = self.data_task.await.unwrap_or(0);
        if left > 0 {
            tracing::warn!(
                connections = left,
                "grace period over; closing connections still open"
            );
        }
        let _ = self.admin_stop.send(true);
        for task in self.admin_tasks {
            let _ = task.await;
        }
        let tape = self.admin.app.tape.clone();
        tape.sync().await.context("flushing the tape")?;
        let head = tape.head();
        tracing::info!(head_seq = head.seq, head_hash = %head.row_hash, "tape flushed");
        if left == 0 {
            drop(tape);
            drop(self.admin);
            // Every handle is gone once connections drained: wait for the writer.
            let thread = self.tape_thread;
            let join = tokio::task::spawn_blocking(move || thread.join());
            let _ = tokio::time::timeout(Duration::from_secs(5), join).await;
        }
        Ok(())
    }
}

/// Opens the MCP tool pins when an MCP route and pinning are configured, and
/// keeps them in step with changes made by `cpos mcp pins` (polled by mtime).
fn open_pins(config: &Config) -> anyhow::Result<Option<Arc<crate::mcp::PinStore>>> {
    let any_mcp = config
        .routes
        .iter()
        .any(|r| r.protocol == crate::config::Protocol::Mcp);
    if !any_mcp || !config.mcp.pinning {
        return Ok(None);
    }
    let pins = Arc::new(crate::mcp::PinStore::open(&config.mcp.pins_file)?);
    let watched = Arc::downgrade(&pins);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let Some(pins) = watched.upgrade() else {
                return;
            };
            if let Err(e) = pins.refresh() {
                tracing::error!(error = %e, "tool pins could not be re-read; keeping the last good copy");
            }
        }
    });
    Ok(Some(pins))
}
