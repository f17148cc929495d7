//! `cpos config show|defaults`.

use std::process::ExitCode;

use clap::Subcommand;

use super::ConfigArgs;
use crate::config::reference::keys;
use crate::config::{Config, Overrides, Profile};

/// Show configuration.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (defaults ← profile ← file ← env) as TOML.
    Show {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List every key: its type, default and environment variable.
    Keys {
        /// Defaults under this profile: dev, audit or hardened.
        #[arg(long, default_value = "dev")]
        profile: crate::config::Profile,
        /// One JSON object per key instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print every key with its default (under a profile), a starting point
    /// for cpos.toml; keys unset by default are listed as comments.
    Defaults {
        /// Show the defaults this profile gives: dev, audit or hardened.
        #[arg(long, default_value = "dev")]
        profile: crate::config::Profile,
    },
}

pub fn run(cmd: ConfigCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConfigCommand::Show { config } => {
            let config = config.load(Overrides::default())?;
            print!("{}", toml::to_string_pretty(&config)?);
        }
        ConfigCommand::Keys { profile, json } => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for k in keys(profile) {
                let env = k.env.as_deref().unwrap_or("-");
                let written = match json {
                    true => writeln!(
                        out,
                        "{}",
                        serde_json::json!({"key": k.key, "type": k.kind, "default": k.default, "env": k.env})
                    ),
                    false => writeln!(out, "{:<44} {:<8} {:<24} {env}", k.key, k.kind, k.default),
                };
                // A closed pipe (`| head`) ends the listing, not with a panic.
                if written.is_err() {
                    break;
                }
            }
        }
        ConfigCommand::Defaults { profile } => print!("{}", defaults(profile)?),
    }
    Ok(ExitCode::SUCCESS)
}

/// Every key at its default under `profile`, as TOML.
fn defaults(profile: Profile) -> anyhow::Result<String> {
    let config = Config::from_toml(&format!("profile = \"{profile}\""))?;
    let mut out = format!(
        "# cpos defaults under the `{profile}` profile: every key, as `cpos serve` uses it\n\
         # when neither a file nor a CPOS_* variable sets it (docs/CONFIG.md).\n\
         # Relative state paths are under data_dir. Keys unset by default are at the end.\n\n"
    );
    out.push_str(&toml::to_string_pretty(&config)?);
    out.push_str("\n# Unset by default:\n");
    for key in keys(profile).iter().filter(|k| k.default == "unset") {
        out.push_str(&format!("# {} = …\n", key.key));
    }
    Ok(out)
}
