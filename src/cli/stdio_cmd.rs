//! `cpos stdio -- <server command>`: the stdio MCP interposer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::ConfigArgs;
use crate::config::Overrides;
use crate::mcp::stdio::Interposer;
use crate::mcp::{ListingFilter, PinStore, ToolFilter};
use crate::metrics::Metrics;
use crate::tape::Tape;

/// Run a stdio MCP server behind the gateway's review, for a local agent.
#[derive(Debug, Args)]
#[command(
    after_help = "Put it where the agent's MCP configuration launches the server, e.g.\n  \"command\": \"cpos\", \"args\": [\"stdio\", \"--name\", \"files\", \"--\", \"npx\", \"-y\", \"@modelcontextprotocol/server-filesystem\", \"/work\"]\n\nstdin/stdout carry the protocol; logs go to stderr. Refused calls are answered with\nJSON-RPC errors and never reach the server. Exits with the server's exit code."
)]
pub struct StdioArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Connector name on the tape and in tool pins (default: the program's file name).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Tools the agent may see and call (glob; repeat; default all).
    #[arg(long = "tools-allow", value_name = "GLOB")]
    tools_allow: Vec<String>,
    /// Tools removed from listings and refused (glob; repeat; wins over allow).
    #[arg(long = "tools-deny", value_name = "GLOB")]
    tools_deny: Vec<String>,
    /// Tape directory (overrides tape.dir; one process per tape).
    #[arg(long, value_name = "DIR")]
    tape_dir: Option<PathBuf>,
    /// The MCP server command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub fn run(args: StdioArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load(Overrides {
        tape_dir: args.tape_dir,
        ..Overrides::default()
    })?;
    super::serve::init_logging(config.log.format, &config.log.level);
    let policy = crate::policy::Policy::from_settings(&config.policy)?;
    let name = args.name.unwrap_or_else(|| {
        std::path::Path::new(&args.command[0])
            .file_name()
            .map_or_else(|| "stdio".into(), |n| n.to_string_lossy().into_owned())
    });
    let filter = ToolFilter::new(&args.tools_allow, &args.tools_deny)
        .map_err(|e| anyhow::anyhow!("--tools-allow / --tools-deny: {e}"))?;
    let pins = if config.mcp.pinning {
        Some(Arc::new(PinStore::open(&config.mcp.pins_file)?))
    } else {
        None
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = runtime.block_on(async move {
        let metrics = Metrics::new();
        let (tape, tape_thread) = open_tape(&config.tape, &name, &metrics)?;
        let interposer = Interposer {
            listing: ListingFilter {
                connector: Arc::from(name.as_str()),
                filter: Arc::new(filter),
                pins,
                tape: Some(tape.clone()),
            },
            pin_change: config.mcp.pin_changes,
            policy: Arc::new(policy),
            tape,
            max_message_bytes: config.limits.max_inspect_body_bytes,
            agent: std::env::var("CPOS_AGENT_ID").ok(),
        };
        let exit = interposer.run(&args.command).await?;
        // Every handle is gone with the interposer: the writer drains and exits.
        tokio::task::spawn_blocking(move || tape_thread.join()).await?;
        anyhow::Ok(exit.exit_code())
    })?;
    // The agent's stdin may still be blocked in a read; do not wait for it.
    runtime.shutdown_background();
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}

/// The configured tape, or, while another agent's `cpos stdio` writes it,
/// a tape of this run's own beside it (`<tape.dir>/runs/<name>-<pid>`), so
/// several agents run side by side. Both verify with `cpos tape verify`.
fn open_tape(
    settings: &crate::config::TapeSettings,
    name: &str,
    metrics: &Metrics,
) -> anyhow::Result<(Tape, crate::tape::TapeThread)> {
    match Tape::open(settings, metrics.tape.clone()) {
        Ok((tape, thread, _)) => Ok((tape, thread)),
        Err(crate::tape::TapeError::Busy(_)) => {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut own = settings.clone();
            own.dir = settings
                .dir
                .join("runs")
                .join(format!("{safe}-{}", std::process::id()));
            tracing::info!(tape = %own.dir.display(), "the shared tape is in use by another agent's cpos; this run records to its own");
            let (tape, thread, _) = Tape::open(&own, metrics.tape.clone())?;
            Ok((tape, thread))
        }
        Err(e) => Err(e.into()),
    }
}
