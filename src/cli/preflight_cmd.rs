//! `cpos preflight`.

use std::process::ExitCode;

use clap::Args;

use super::ConfigArgs;
use crate::config::Overrides;

/// Check the configuration against the active profile; exit 1 on a blocking failure.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: PreflightArgs) -> anyhow::Result<ExitCode> {
    super::install_crypto_provider();
    let config = args.config.load(Overrides::default())?;
    let report = crate::preflight::run(&config);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("profile: {}", report.profile);
        for c in &report.checks {
            let verdict = match (c.ok, c.severity) {
                (true, _) => "pass",
                (false, crate::preflight::Severity::Critical) => "FAIL",
                (false, _) => "warn",
            };
            println!("  {verdict:4}  {:28} {}", c.name, c.message);
        }
        println!(
            "{}",
            if report.ok {
                "preflight passed"
            } else {
                "preflight FAILED: fix the FAIL lines above before serving traffic"
            }
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
