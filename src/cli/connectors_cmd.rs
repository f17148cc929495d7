//! `cpos connectors`: the static security check of MCP connector
//! definitions (`check`, offline), and the registry's review queue through
//! the admin API (`submit`, `reviews`, `approve`, `reject`, `list`,
//! `disable`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::admin_client::{refused, AdminArgs, AdminClient};
use crate::connectors::{check, Severity};

/// MCP connectors: check definitions, and register them through review.
#[derive(Debug, Args)]
pub struct ConnectorsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    command: ConnectorsCommand,
}

/// MCP connector definitions.
#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// Check definitions without connecting to anything (exit 1 when one is refused).
    #[command(
        after_help = "A file holds one definition (a JSON object or TOML table), a JSON array of them, or\nTOML [[connectors]] tables. Fields: connector_id, name, transport (stdio | https | sse |\nhttp with allow_plain_http_loopback), command or url, allowed_tools, blocked_tools,\nsensitivity_level, requires_human_approval, env_secret_files, status, metadata."
    )]
    Check {
        /// Definition files (.json or .toml).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Print one JSON report per definition.
        #[arg(long)]
        json: bool,
    },
    /// Submit definitions for review (a running sidecar checks them again;
    /// unsafe ones are refused and not stored).
    Submit {
        /// Definition files (.json or .toml).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List reviews, newest first.
    Reviews {
        /// Only this status: pending, approved, rejected.
        #[arg(long)]
        status: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a review: the connector is registered and served at once.
    Approve {
        /// The review id (`rev_…`).
        id: String,
        /// Required: you confirm the connector goes live now.
        #[arg(long)]
        confirm: bool,
    },
    /// Reject a review, with your reason.
    Reject {
        /// The review id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// List registered connectors.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable a connector now: every request to it is refused.
    Disable {
        /// The connector id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

pub fn run(args: ConnectorsArgs) -> anyhow::Result<ExitCode> {
    let (files, json) = match args.command {
        ConnectorsCommand::Check { files, json } => (files, json),
        command => return registry(&args.admin, command),
    };
    let mut refused = 0;
    for file in &files {
        for definition in definitions(file)? {
            let report = check(&definition);
            let id = definition
                .get("connector_id")
                .and_then(Value::as_str)
                .unwrap_or("(no connector_id)");
            if !report.ok {
                refused += 1;
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"file": file, "connector_id": id, "ok": report.ok, "findings": report.findings})
                );
                continue;
            }
            let verdict = if report.ok { "OK" } else { "REFUSED" };
            println!("{}: {id}: {verdict}", file.display());
            for f in &report.findings {
                let severity = match f.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let field = f
                    .field
                    .as_deref()
                    .map(|f| format!(" [{f}]"))
                    .unwrap_or_default();
                println!("  {severity} {}{field}: {}", f.code, f.message);
            }
        }
    }
    Ok(if refused > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The definitions a file holds.
fn definitions(file: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let value: Value = if file.extension().is_some_and(|e| e == "toml") {
        let table: toml::Value = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not TOML: {e}", file.display()))?;
        serde_json::to_value(table)?
    } else {
        serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", file.display()))?
    };
    Ok(match value {
        Value::Array(items) => items,
        Value::Object(mut table) if table.get("connectors").is_some_and(Value::is_array) => {
            match table.remove("connectors") {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            }
        }
        other => vec![other],
    })
}

/// The review queue and registry, through the admin API.
fn registry(admin: &AdminArgs, command: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let admin = AdminClient::new(admin)?;
        let mut failed = false;
        match command {
            ConnectorsCommand::Check { .. } => {}
            ConnectorsCommand::Submit { files } => {
                for file in &files {
                    for definition in definitions(file)? {
                        let (status, value) =
                            admin.call(Method::POST, "/connectors/reviews", definition).await?;
                        if refused(status, &value) {
                            failed = true;
                            for f in value["findings"].as_array().into_iter().flatten() {
                                eprintln!("  {} {}: {}", f["severity"].as_str().unwrap_or(""), f["code"].as_str().unwrap_or(""), f["message"].as_str().unwrap_or(""));
                            }
                            continue;
                        }
                        let review = &value["review"];
                        println!(
                            "{}  {}  pending review ({} warning(s)); approve with `cpos connectors approve {} --confirm`",
                            review["review_id"].as_str().unwrap_or(""),
                            review["connector_id"].as_str().unwrap_or(""),
                            review["findings"].as_array().map_or(0, Vec::len),
                            review["review_id"].as_str().unwrap_or(""),
                        );
                    }
                }
            }
            ConnectorsCommand::Reviews { status, json } => {
                let query = status.map(|s| format!("?status={s}")).unwrap_or_default();
                let (status, value) = admin.call(Method::GET, &format!("/connectors/reviews{query}"), Value::Null).await?;
                failed = refused(status, &value);
                if !failed && json {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else if !failed {
                    for r in value["reviews"].as_array().into_iter().flatten() {
                        println!(
                            "{}  {:<8}  {}  {}  by {}",
                            r["review_id"].as_str().unwrap_or(""),
                            r["status"].as_str().unwrap_or(""),
                            r["connector_id"].as_str().unwrap_or(""),
                            r["definition"]["transport"].as_str().unwrap_or(""),
                            r["submitted_by"].as_str().unwrap_or(""),
                        );
                    }
                }
            }
            ConnectorsCommand::Approve { id, confirm } => {
                if !confirm {
                    anyhow::bail!("approving serves the connector at once: add --confirm");
                }
                let (status, value) = admin.call(Method::POST, &format!("/connectors/reviews/{id}/approve"), json!({"confirm": true})).await?;
                failed = refused(status, &value);
                if !failed {
                    println!("registered; served at {}", value["path"].as_str().unwrap_or(""));
                }
            }
            ConnectorsCommand::Reject { id, reason } => {
                let (status, value) = admin.call(Method::POST, &format!("/connectors/reviews/{id}/reject"), json!({"reason": reason})).await?;
                failed = refused(status, &value);
                if !failed {
                    println!("rejected {id}");
                }
            }
            ConnectorsCommand::List { json } => {
                let (status, value) = admin.call(Method::GET, "/connectors", Value::Null).await?;
                failed = refused(status, &value);
                if !failed && json {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                } else if !failed {
                    for c in value["connectors"].as_array().into_iter().flatten() {
                        let d = &c["definition"];
                        println!(
                            "{}  {:<8}  {}  tools: {}",
                            d["connector_id"].as_str().unwrap_or(""),
                            d["status"].as_str().unwrap_or(""),
                            d["transport"].as_str().unwrap_or(""),
                            d["allowed_tools"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
                        );
                    }
                }
            }
            ConnectorsCommand::Disable { id, reason } => {
                let (status, value) = admin.call(Method::POST, &format!("/connectors/{id}/disable"), json!({"reason": reason})).await?;
                failed = refused(status, &value);
                if !failed {
                    println!("disabled {id}");
                }
            }
        }
        Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
    })
}
