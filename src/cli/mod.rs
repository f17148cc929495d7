//! Command-line interface: one binary, several jobs. `anyhow` lives here only.

mod admin_client;
mod config_cmd;
mod connectors_cmd;
mod escalations_cmd;
mod mcp_cmd;
mod policy_cmd;
mod preflight_cmd;
mod sandbox_cmd;
mod secret_scan_cmd;
mod serve;
mod sign_cmd;
mod stdio_cmd;
mod tape_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, Overrides, Profile};

/// CPOS Engine-Zero sidecar: a security proxy between AI agents and their tools.
#[derive(Debug, Parser)]
#[command(
    name = "cpos",
    version,
    about,
    after_help = "Start with `cpos serve` (embedded defaults, demo upstream) and `curl localhost:7878/`.\nDocs: docs/GETTING-STARTED.md"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sidecar: the data plane (proxy) and the admin plane.
    Serve(serve::ServeArgs),
    /// Interpose on a stdio MCP server for a local agent: `cpos stdio -- <server command>`.
    Stdio(stdio_cmd::StdioArgs),
    /// The human escalation queue: list, show, approve, reject (through the admin API).
    Escalations(escalations_cmd::EscalationsArgs),
    /// Sandbox runner: validate a diff, check bubblewrap.
    #[command(subcommand)]
    Sandbox(sandbox_cmd::SandboxCommand),
    /// MCP gateway operations: tool pins.
    #[command(subcommand)]
    Mcp(mcp_cmd::McpCommand),
    /// MCP connectors: the static security check, and the registry's
    /// review queue (submit, approve, reject, list, disable).
    Connectors(connectors_cmd::ConnectorsArgs),
    /// Check the configuration against what the active profile requires.
    Preflight(preflight_cmd::PreflightArgs),
    /// Test or explain the classification policy.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Scan files for secrets (exit 1 on findings).
    SecretScan(secret_scan_cmd::SecretScanArgs),
    /// Sign a request with an HMAC key (prints headers or a curl command).
    Sign(sign_cmd::SignArgs),
    /// Verify or read the decision tape.
    #[command(subcommand)]
    Tape(tape_cmd::TapeCommand),
    /// Show configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
}

/// Options every configuration-reading subcommand accepts.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Default: ./cpos.toml when it exists.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Security profile: dev, audit or hardened (overrides the file and CPOS_PROFILE).
    #[arg(long, value_name = "PROFILE")]
    profile: Option<Profile>,
}

impl ConfigArgs {
    fn load(&self, mut overrides: Overrides) -> anyhow::Result<Config> {
        overrides.profile = self.profile;
        Ok(Config::load(self.config.as_deref(), &overrides)?)
    }
}

/// Parses the command line and runs the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Preflight(_)
            | Command::Policy(_)
            | Command::SecretScan(_)
            | Command::Sign(_)
            | Command::Tape(_)
            | Command::Config(_)
    ) {
        quiet_on_closed_pipe();
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Stdio(args) => stdio_cmd::run(args),
        Command::Mcp(cmd) => mcp_cmd::run(cmd),
        Command::Connectors(cmd) => connectors_cmd::run(cmd),
        Command::Sandbox(cmd) => sandbox_cmd::run(cmd),
        Command::Escalations(args) => escalations_cmd::run(args),
        Command::Preflight(args) => preflight_cmd::run(args),
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::SecretScan(args) => secret_scan_cmd::run(args),
        Command::Sign(args) => sign_cmd::run(args),
        Command::Tape(cmd) => tape_cmd::run(cmd),
        Command::Config(cmd) => config_cmd::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Lets a report printed into a pipe that closes early (`cpos policy
/// explain | head -1`) end the process quietly, as other command-line tools
/// do, instead of panicking on the write. Only for the subcommands that
/// print a report and exit: the servers keep SIGPIPE ignored, so a peer that
/// goes away is an error to handle, not the end of the process.
fn quiet_on_closed_pipe() {
    // SAFETY: restores a signal's default disposition before any thread is
    // started; nothing else in the process relies on SIGPIPE being ignored.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Installs the process-wide rustls crypto provider (ring) exactly once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
