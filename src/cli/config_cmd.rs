//! `cpos config show|defaults`.

use std::process::ExitCode;

use clap::Subcommand;

use super::ConfigArgs;
use crate::config::{Overrides, DEFAULTS_TOML};

/// Show configuration.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults ← profile ← file ← env) as TOML.
    Show {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Print the embedded defaults, a starting point for cpos.toml.
    Defaults,
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Show { config } => {
            let config = config.load(Overrides::default())?;
            print!("{}", toml::to_string_pretty(&config)?);
        }
        ConfigCommand::Defaults => print!("{DEFAULTS_TOML}"),
    }
    Ok(ExitCode::SUCCESS)
}
