//! `cpos mcp pins list|accept|reset`: review and accept tool definition changes.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::ConfigArgs;
use crate::config::Overrides;
use crate::mcp::PinStore;

/// MCP gateway operations.
#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Tool pins: the accepted definition of every tool, and pending changes.
    #[command(subcommand)]
    Pins(PinsCommand),
}

/// Tool pin operations (on `mcp.pins_file`; a running sidecar picks changes up within a second).
#[derive(Debug, Subcommand)]
pub enum PinsCommand {
    /// List pins; changed tools are marked CHANGED and are withheld from agents.
    List(ListArgs),
    /// Accept the changed definition of tools (all changed tools of the connector when none named).
    Accept(TargetArgs),
    /// Forget pins (all of the connector's when no tool named); the next listing pins afresh.
    Reset(TargetArgs),
}

/// `cpos mcp pins list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Only this connector.
    #[arg(long, value_name = "NAME")]
    connector: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `cpos mcp pins accept|reset`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The connector (route name, or the `cpos stdio --name`).
    connector: String,
    /// Tool names; none means every tool of the connector.
    tools: Vec<String>,
}

pub fn run(command: McpCommand) -> anyhow::Result<ExitCode> {
    let McpCommand::Pins(command) = command;
    match command {
        PinsCommand::List(args) => {
            let store = open(&args.config)?;
            let mut pins = store.snapshot();
            if let Some(only) = &args.connector {
                pins.connectors.retain(|name, _| name == only);
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&pins)?);
                return Ok(ExitCode::SUCCESS);
            }
            if pins.connectors.is_empty() {
                println!("no tools pinned yet (a connector's first tools/list pins its tools)");
            }
            for (connector, tools) in &pins.connectors {
                println!("{connector}");
                for (tool, pin) in tools {
                    match &pin.changed {
                        Some(change) => println!(
                            "  {tool:<36} CHANGED  pinned {}  new {} seen {}",
                            &pin.sha256[..16],
                            &change.sha256[..16.min(change.sha256.len())],
                            change.seen_at
                        ),
                        None => println!(
                            "  {tool:<36} ok       pinned {}  at {}",
                            &pin.sha256[..16.min(pin.sha256.len())],
                            pin.pinned_at
                        ),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        PinsCommand::Accept(args) => {
            let store = open(&args.config)?;
            let accepted = store.accept(&args.connector, &args.tools)?;
            if accepted.is_empty() {
                println!(
                    "nothing to accept: no changed tool {}on `{}` (see `cpos mcp pins list`)",
                    if args.tools.is_empty() {
                        ""
                    } else {
                        "of those named "
                    },
                    args.connector
                );
                return Ok(ExitCode::from(1));
            }
            for tool in accepted {
                println!("accepted {}/{tool}", args.connector);
            }
            Ok(ExitCode::SUCCESS)
        }
        PinsCommand::Reset(args) => {
            let store = open(&args.config)?;
            let removed = store.reset(&args.connector, &args.tools)?;
            println!("removed {removed} pin(s) of `{}`", args.connector);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn open(config: &ConfigArgs) -> anyhow::Result<PinStore> {
    let config = config.load(Overrides::default())?;
    Ok(PinStore::open(&config.mcp.pins_file)?)
}
