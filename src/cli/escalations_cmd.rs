//! `cpos escalations list|show|approve|reject`: the escalation queue from the
//! command line, through the admin API.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use http::Method;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use crate::client::{Client, SigningKey};

/// Where the admin API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    /// The admin plane's address.
    #[arg(
        long,
        default_value = "http://127.0.0.1:9901",
        env = "CPOS_ADMIN_URL",
        global = true
    )]
    admin: String,
    /// Bearer token file (gates.auth.mode = "bearer").
    #[arg(
        long,
        value_name = "FILE",
        env = "CPOS_ADMIN_TOKEN_FILE",
        global = true
    )]
    token_file: Option<PathBuf>,
    /// HMAC key id (gates.auth.mode = "hmac"), with --secret-file.
    #[arg(long, value_name = "ID", global = true)]
    key_id: Option<String>,
    /// HMAC secret file.
    #[arg(long, value_name = "FILE", global = true)]
    secret_file: Option<PathBuf>,
}

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
    /// Show one escalation (JSON).
    Show {
        /// The escalation id (`esc_…`).
        id: String,
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
        let admin = &args.admin;
        let key = match (&admin.key_id, &admin.secret_file) {
            (Some(id), Some(file)) => Some(SigningKey {
                key_id: id.clone(),
                secret: std::fs::read(file)?.trim_ascii().to_vec(),
                agent_id: None,
            }),
            _ => None,
        };
        let bearer = match &admin.token_file {
            Some(file) => Some(format!("Bearer {}", std::fs::read_to_string(file)?.trim())),
            None => None,
        };
        let client = Client::new(admin.admin.clone(), key);
        let call = |method: Method, path: String, body: Value| {
            let client = client.clone();
            let bearer = bearer.clone();
            async move {
                let extra: Vec<(&str, &str)> = bearer
                    .as_deref()
                    .map(|b| vec![("authorization", b)])
                    .unwrap_or_default();
                let body = if body.is_null() { String::new() } else { body.to_string() };
                let response = client
                    .send(method, &path, body, &extra)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot reach the admin API at {}: {e}; is `cpos serve` running, and is --admin right?", admin.admin))?;
                let status = response.status();
                let bytes = response.into_body().collect().await?.to_bytes();
                let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(&bytes)}));
                anyhow::Ok((status, value))
            }
        };
        let (status, value) = match &args.command {
            EscalationsCommand::List { status, .. } => {
                let query = status.as_deref().map(|s| format!("?status={s}")).unwrap_or_default();
                call(Method::GET, format!("/escalations{query}"), Value::Null).await?
            }
            EscalationsCommand::Show { id } => call(Method::GET, format!("/escalations/{id}"), Value::Null).await?,
            EscalationsCommand::Approve { id, by, reason } => {
                call(Method::POST, format!("/escalations/{id}/approve"), json!({"by": by, "reason": reason})).await?
            }
            EscalationsCommand::Reject { id, reason, by } => {
                call(Method::POST, format!("/escalations/{id}/reject"), json!({"by": by, "reason": reason})).await?
            }
        };
        if !status.is_success() {
            eprintln!(
                "{} ({}): {}",
                value["error"].as_str().unwrap_or("error"),
                status.as_u16(),
                value["message"].as_str().unwrap_or_default()
            );
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
                    let target = action["tool"].as_str().map(|t| format!("tool {t}")).unwrap_or_else(|| {
                        format!("{} {}", action["method"].as_str().unwrap_or(""), action["path"].as_str().unwrap_or(""))
                    });
                    println!(
                        "{}  {:<9}  {:<8}  {}  {}  [{}]",
                        e["id"].as_str().unwrap_or(""),
                        e["status"].as_str().unwrap_or(""),
                        e["risk"].as_str().unwrap_or(""),
                        action["connector"].as_str().unwrap_or(""),
                        target,
                        e["reasons"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()
                    );
                }
            }
            EscalationsCommand::Approve { id, .. } => println!("approved {id}"),
            EscalationsCommand::Reject { id, .. } => println!("rejected {id}"),
            _ => println!("{}", serde_json::to_string_pretty(&value)?),
        }
        Ok(ExitCode::SUCCESS)
    })
}
