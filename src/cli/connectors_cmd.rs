//! `cpos connectors check FILE…`: the static security check of MCP
//! connector definitions, before anyone registers them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;

use crate::connectors::{check, Severity};

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
}

pub fn run(cmd: ConnectorsCommand) -> anyhow::Result<ExitCode> {
    let ConnectorsCommand::Check { files, json } = cmd;
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
