//! `cpos escalations list|show|approve|reject`: the escalation queue from the
//! command line, through the admin API.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use super::admin_client::{refused, AdminArgs, AdminClient};

/// The escalation queue.
#[derive(Debug, Args)]
pub struct EscalationsArgs {
    #[command(flatten)]
    admin: AdminArgs,
    #[command(subcommand)]
    command: EscalationsCommand,
}

#[derive(Debug, Subcommand)]
enum EscalationsCommand {
    /// List escalations, newest first.
    List {
        /// Only this status: pending, approved, rejected, expired, cancelled.
        #[arg(long)]
        status: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one escalation: while pending, the call in full (secrets
    /// masked) and why it was held.
    Show {
        /// The escalation id (`esc_…`).
        id: String,
        /// Print JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Approve: a held call is forwarded; an async one may be retried once.
    Approve {
        /// The escalation id.
        id: String,
        /// Your name, when the admin plane has no authentication.
        #[arg(long)]
        by: Option<String>,
        /// Why (optional).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject: the call is refused with your reason.
    Reject {
        /// The escalation id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
        /// Your name, when the admin plane has no authentication.
        #[arg(long)]
        by: Option<String>,
    },
}

pub fn run(args: EscalationsArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let admin = AdminClient::new(&args.admin)?;
        let call = |method: Method, path: String, body: Value| {
            let admin = &admin;
            async move { admin.call(method, &path, body).await }
        };
        let (status, value) = match &args.command {
            EscalationsCommand::List { status, .. } => {
                let query = status
                    .as_deref()
                    .map(|s| format!("?status={s}"))
                    .unwrap_or_default();
                call(Method::GET, format!("/escalations{query}"), Value::Null).await?
            }
            EscalationsCommand::Show { id, .. } => {
                call(Method::GET, format!("/escalations/{id}"), Value::Null).await?
            }
            EscalationsCommand::Approve { id, by, reason } => {
                call(
                    Method::POST,
                    format!("/escalations/{id}/approve"),
                    json!({"by": by, "reason": reason}),
                )
                .await?
            }
            EscalationsCommand::Reject { id, reason, by } => {
                call(
                    Method::POST,
                    format!("/escalations/{id}/reject"),
                    json!({"by": by, "reason": reason}),
                )
                .await?
            }
        };
        if refused(status, &value) {
            return Ok(ExitCode::from(1));
        }
        match &args.command {
            EscalationsCommand::List { json: false, .. } => {
                let entries = value["escalations"].as_array().cloned().unwrap_or_default();
                if entries.is_empty() {
                    println!("no escalations");
                }
                for e in entries {
                    let action = &e["action"];
                    let target = action["tool"]
                        .as_str()
                        .map(|t| format!("tool {t}"))
                        .unwrap_or_else(|| {
                            format!(
                                "{} {}",
                                action["method"].as_str().unwrap_or(""),
                                action["path"].as_str().unwrap_or("")
                            )
                        });
                    println!(
                        "{}  {:<9}  {:<8}  {}  {}  [{}]",
                        e["id"].as_str().unwrap_or(""),
                        e["status"].as_str().unwrap_or(""),
                        e["risk"].as_str().unwrap_or(""),
                        action["connector"].as_str().unwrap_or(""),
                        target,
                        e["reasons"]
                            .as_array()
                            .map(|r| r
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .unwrap_or_default()
                    );
                }
            }
            EscalationsCommand::Show { json: false, .. } => {
                print!("{}", show(&value["escalation"]))
            }
            EscalationsCommand::Approve { id, .. } => println!("approved {id}"),
            EscalationsCommand::Reject { id, .. } => println!("rejected {id}"),
            _ => println!("{}", serde_json::to_string_pretty(&value)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// One escalation in a terminal layout: what it is, why it was held, and
/// (while pending) the call in full as the sidecar shows it.
fn show(e: &Value) -> String {
    use std::fmt::Write;
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  risk {}  mode {}",
        text(&e["id"]),
        text(&e["status"]),
        text(&e["risk"]),
        text(&e["mode"])
    );
    let review = &e["review"];
    let _ = writeln!(out, "agent      {}", text(&e["agent"]));
    if review.is_object() {
        let _ = writeln!(out, "principal  {}", text(&review["principal"]));
        let _ = writeln!(out, "client     {}", text(&review["client_ip"]));
    }
    if let (Some(held), Some(left)) = (e["held_ms"].as_u64(), e["expires_in_ms"].as_u64()) {
        let _ = writeln!(
            out,
            "held       {}s, expires in {}s",
            held / 1000,
            left / 1000
        );
    }
    let action = &e["action"];
    let _ = writeln!(
        out,
        "action     {} · {} · {}",
        text(&action["kind"]),
        text(&action["connector"]),
        action["tool"]
            .as_str()
            .map(|t| format!("tool {t}"))
            .unwrap_or_else(|| format!("{} {}", text(&action["method"]), text(&action["path"])))
    );
    if !review.is_object() {
        let _ = writeln!(
            out,
            "(the call's content is shown only while it is pending)"
        );
        if let Some(by) = e["decided_by"].as_str() {
            let _ = writeln!(out, "decided by {by}: {}", text(&e["reason"]));
        }
        return out;
    }
    if let Some(description) = review["tool_description"].as_str() {
        let _ = writeln!(out, "tool says  {description}");
    }
    if let (Some(method), Some(path)) = (review["method"].as_str(), review["path"].as_str()) {
        let _ = writeln!(out, "request    {method} {path}");
    }
    let _ = writeln!(out, "\nwhy it was held:");
    for why in review["why"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  - {} ({}, {}): {}\n      matched: {}",
            text(&why["reason"]),
            text(&why["rule"]),
            text(&why["risk"]),
            text(&why["description"]),
            text(&why["matched"])
        );
    }
    for line in review["commands"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "\ncommand    {}", text(&line["line"]));
        for part in line["parts"].as_array().into_iter().flatten() {
            let mark = if part["flagged"] == true { "!" } else { " " };
            let _ = writeln!(out, "  {mark} {}", text(&part["text"]));
        }
    }
    if let Some(args) = review.get("arguments").filter(|a| !a.is_null()) {
        let _ = writeln!(
            out,
            "\narguments:\n{}",
            serde_json::to_string_pretty(args).unwrap_or_default()
        );
    }
    for file in review["changed_files"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "changes    {}", text(file));
    }
    for secret in review["secrets"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "secret     {} (masked above)", text(secret));
    }
    if let Some(note) = e["approval_note"].as_str() {
        let _ = writeln!(out, "\n{note}");
    }
    out
}
