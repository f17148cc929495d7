//! `cpos sandbox validate`: diff validation from the command line, with the
//! same runner, allowlist and modes as `POST /sandbox/validate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::ConfigArgs;
use crate::config::Overrides;
use crate::sandbox::service::{answer, SandboxService};

/// Sandbox operations.
#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Apply a diff to an ephemeral copy of the workspace and run validation commands in the sandbox.
    Validate(ValidateArgs),
    /// Say whether bubblewrap works here and which mode is in force.
    Check(CheckArgs),
}

/// `cpos sandbox validate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Prints the result as JSON (output included); exit 0 when every command passed, 1 otherwise.\nExample: cpos sandbox validate --diff fix.diff --command 'pytest -q' --workspace ."
)]
pub struct ValidateArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// The diff to apply (unified format; `-` for stdin). None: run the commands on the workspace as is.
    #[arg(long, value_name = "FILE")]
    diff: Option<PathBuf>,
    /// A validation command (repeat; quoted like a shell would, but no shell runs it).
    #[arg(long = "command", value_name = "CMD", required = true)]
    commands: Vec<String>,
    /// The workspace (overrides sandbox.workspace).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

/// `cpos sandbox check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

pub fn run(command: SandboxCommand) -> anyhow::Result<ExitCode> {
    match command {
        SandboxCommand::Check(args) => {
            let config = args.config.load(Overrides::default())?;
            let service = SandboxService::new(&config).map_err(anyhow::Error::msg)?;
            match service.runner.availability() {
                Ok(bwrap) => {
                    println!(
                        "sandbox ok: {} works here (mode {:?})",
                        bwrap.display(),
                        config.sandbox.mode
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!(
                        "sandbox unavailable: {why} (mode {:?})",
                        config.sandbox.mode
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        SandboxCommand::Validate(args) => {
            let mut config = args.config.load(Overrides::default())?;
            if let Some(ws) = args.workspace {
                config.sandbox.workspace = ws;
            }
            let diff = match &args.diff {
                None => String::new(),
                Some(p) if p.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())?,
                Some(p) => std::fs::read_to_string(p)?,
            };
            let body = serde_json::json!({"diff": diff, "commands": args.commands});
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let service = SandboxService::new(&config).map_err(anyhow::Error::msg)?;
            let result = runtime.block_on(service.validate_body(
                body.to_string().as_bytes(),
                &crate::tape::Recorded::operator_cli(),
            ));
            match result {
                Ok(validation) => {
                    println!("{}", serde_json::to_string_pretty(&answer(&validation))?);
                    Ok(if validation.passed {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
                Err(problem) => {
                    anyhow::bail!("{}: {}", problem.code, problem.message)
                }
            }
        }
    }
}
