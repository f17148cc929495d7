//! `cpos policy test|explain`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use crate::action::ActionContract;
use crate::policy::{testing, Policy};

/// Test or explain the classification policy.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run policy test cases (a contract in, expected route/risk/reasons/rules out).
    #[command(
        after_help = "Exit status: 0 all cases pass, 1 a case fails (or a rule lacks cases with --require-coverage)."
    )]
    Test {
        /// Test files or directories of *.toml files. Default: policies/tests.
        paths: Vec<PathBuf>,
        /// Policy to test. Default: the embedded default policy.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Fail when a rule lacks a positive or a negative case.
        #[arg(long)]
        require_coverage: bool,
    },
    /// Classify one contract (JSON, from FILE or stdin) and show every rule that fired and why.
    #[command(
        after_help = "Example:\n  echo '{\"kind\":\"intake.command_request\",\"commands\":[\"echo ok && rm -rf /\"]}' | cpos policy explain"
    )]
    Explain {
        /// Contract file; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        /// Policy to use. Default: the embedded default policy.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn load(policy: Option<&PathBuf>) -> anyhow::Result<Policy> {
    Ok(match policy {
        Some(path) => Policy::load(path)?,
        None => Policy::embedded()?,
    })
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Test {
            paths,
            policy,
            require_coverage,
        } => {
            let policy = load(policy.as_ref())?;
            let paths = if paths.is_empty() {
                vec![PathBuf::from("policies/tests")]
            } else {
                paths
            };
            let files = testing::expand(&paths)?;
            let report = testing::run(&policy, &files).map_err(anyhow::Error::msg)?;
            let failed: Vec<_> = report.failed().collect();
            for case in &failed {
                println!("FAIL {} :: {}", case.file.display(), case.name);
                for f in &case.failures {
                    println!("     {f}");
                }
            }
            let uncovered = report.uncovered(&policy);
            println!(
                "{} passed, {} failed ({} rules, {} without both positive and negative cases)",
                report.cases.len() - failed.len(),
                failed.len(),
                policy.len(),
                uncovered.len()
            );
            if require_coverage && !uncovered.is_empty() {
                println!("uncovered: {}", uncovered.join(", "));
            }
            Ok(
                if failed.is_empty() && (!require_coverage || uncovered.is_empty()) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                },
            )
        }
        PolicyCommand::Explain { file, policy, json } => {
            let policy = load(policy.as_ref())?;
            let text = match file.as_deref() {
                Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(path)?,
                _ => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    s
                }
            };
            let contract: ActionContract = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("not an action contract: {e}"))?;
            let (decision, firings) = policy.explain(&contract);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"decision": decision, "fired": firings})
                    )?
                );
            } else {
                println!(
                    "route: {}  risk: {}  reasons: {}",
                    decision.route.as_str(),
                    decision.risk.as_str(),
                    if decision.reasons.is_empty() {
                        "-".to_owned()
                    } else {
                        decision.reasons.join(", ")
                    }
                );
                if firings.is_empty() {
                    println!(
                        "no rule fired ({} rules in {})",
                        policy.len(),
                        policy.origin()
                    );
                }
                for f in &firings {
                    println!(
                        "  {} [{} / {}] {}",
                        f.rule,
                        f.route.as_str(),
                        f.risk.as_str(),
                        f.description
                    );
                    println!("      because {}", f.evidence);
                }
                for r in decision
                    .reasons
                    .iter()
                    .filter(|r| *r == "low_confidence" || *r == "medium_confidence")
                {
                    println!(
                        "  {r}: declared confidence {:?}",
                        contract.metadata.confidence
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
