//! `cpos serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::ConfigArgs;
use crate::config::{LogFormat, Overrides};

/// Run the sidecar until SIGTERM or SIGINT, then drain and flush the tape.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints one JSON line on stdout once listening:\n  {\"event\":\"listening\",\"data\":\"127.0.0.1:7878\",\"admin\":\"127.0.0.1:9901\",...}\nLogs go to stderr (RUST_LOG or log.level to filter)."
)]
pub struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Data-plane address (overrides listen.data), e.g. 127.0.0.1:0 for an ephemeral port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Admin-plane address (overrides listen.admin).
    #[arg(long, value_name = "ADDR")]
    admin_listen: Option<SocketAddr>,
    /// Forward everything to this upstream instead of the configured routes.
    #[arg(long, value_name = "URL")]
    upstream: Option<String>,
    /// Tape directory (overrides tape.dir).
    #[arg(long, value_name = "DIR")]
    tape_dir: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        profile: None,
        data: args.listen,
        admin: args.admin_listen,
        upstream: args.upstream,
        tape_dir: args.tape_dir,
    };
    let config = args.config.load(overrides.clone())?;
    let config_args = args.config.clone();
    init_logging(config.log.format, &config.log.level);
    super::install_crypto_provider();
    refuse_unsafe_start(&config)?;
    crate::server::configure_allocator();
    // One worker is one thread: the current-thread scheduler, with no
    // cross-thread queues or wake-ups (the tape writer has its own thread).
    let mut builder = match config.runtime.worker_threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 0 {
                b.worker_threads(n);
            }
            b
        }
    };
    let runtime = builder.enable_all().thread_name("cpos-worker").build()?;
    runtime.block_on(async move {
        // Handlers first: a SIGTERM right after the ready line must drain, not kill.
        let stop = shutdown_signal()?;
        let source: crate::reload::ConfigSource = {
            let (args, overrides) = (config_args.clone(), overrides.clone());
            std::sync::Arc::new(move || args.load(overrides.clone()))
        };
        let running = crate::sidecar::start(config.clone(), Some(source)).await?;
        let ready = serde_json::json!({
            "event": "listening",
            "data": running.data_addr.to_string(),
            "admin": running.admin_addr.map(|a| a.to_string()),
            "health": running.health_addr.map(|a| a.to_string()),
            "tls": config.tls.enabled(),
            "profile": config.profile,
            "tape": config.tape.dir,
        });
        println!("{ready}");
        tracing::info!(data = %running.data_addr, admin = ?running.admin_addr, profile = %config.profile, "cpos is serving");
        // SIGHUP re-reads the configuration and swaps in what can change
        // without a restart; a configuration that fails is refused whole.
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = hup.recv() => {
                    // Logged, counted and recorded by the reloader.
                    let _ = running.reload("SIGHUP").await;
                }
            }
        }
        tracing::info!(grace_ms = config.shutdown.grace_ms, "shutting down: draining in-flight requests");
        running.shutdown().await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Installs the SIGTERM and SIGINT handlers now; the future resolves on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

pub(super) fn init_logging(format: LogFormat, level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // A log that cannot be written (disk full) must not take the sidecar
    // down: tracing's own error report would `eprintln!` to the same full
    // stderr and panic.
    // Colours only for a person at a terminal, never in files or collectors.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Checks that fail only because the profile is not `hardened` (TLS, gates,
/// fsync, a real upstream): expected in dev and audit.
const HARDENING_ONLY: &[&str] = &[
    "tls_enabled",
    "tape_fsync_always",
    "client_cert_enforced",
    "ip_allowlist_enabled",
    "rate_limit_enabled",
    "hmac_auth_required",
    "no_demo_upstream",
    "mcp_tool_allowlists",
];

/// Every failed preflight check goes to the log at start-up; under the
/// hardened profile a failed critical check refuses the start, naming it.
fn refuse_unsafe_start(config: &crate::config::Config) -> anyhow::Result<()> {
    use crate::preflight::Severity;
    let report = crate::preflight::run(config);
    // Outside `hardened`, what only that profile requires is one line at
    // info, so the warnings left are the ones that matter here.
    let hardened = config.profile == crate::config::Profile::Hardened;
    let (hardening, rest): (Vec<_>, Vec<_>) = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .partition(|c| !hardened && HARDENING_ONLY.contains(&c.name));
    if !hardening.is_empty() {
        let names: Vec<&str> = hardening.iter().map(|c| c.name).collect();
        tracing::info!(
            checks = names.join(", "),
            "not hardened (fine for {}): `cpos preflight --profile hardened` says what production needs",
            config.profile
        );
    }
    for check in rest {
        match check.severity {
            Severity::Critical => {
                tracing::error!(check = check.name, "preflight: {}", check.message)
            }
            Severity::Warning => tracing::warn!(check = check.name, "preflight: {}", check.message),
            Severity::Info => tracing::info!(check = check.name, "preflight: {}", check.message),
        }
    }
    if config.profile == crate::config::Profile::Hardened && !report.ok {
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok && c.severity == Severity::Critical)
            .map(|c| c.name)
            .collect();
        anyhow::bail!(
            "the hardened profile refuses to start: preflight failed ({}); `cpos preflight --profile hardened` says why and what to set",
            failed.join(", ")
        );
    }
    Ok(())
}
