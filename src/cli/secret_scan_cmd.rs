//! `cpos secret-scan`: find secrets in files; never prints their values.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::secrets::{self, Finding};

/// Scan files for secrets (names the detector, file and line, never the value).
#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 nothing found, 1 findings, 2 usage or I/O error.")]
pub struct SecretScanArgs {
    /// Files or directories to scan; `-` reads standard input
    /// (`git diff | cpos secret-scan -`).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Directory names to skip (repeatable); .git, target, node_modules, .venv, __pycache__ always are.
    #[arg(long, value_name = "DIR")]
    exclude: Vec<String>,
    /// Print JSON: {"ok", "count", "findings": [{"path", "line", "detector"}]}.
    #[arg(long)]
    json: bool,
}

const ALWAYS_EXCLUDED: &[&str] = &[
    ".git",
    "target",
    "node_modules",
    ".venv",
    "__pycache__",
    ".pytest_cache",
];

pub fn run(args: SecretScanArgs) -> anyhow::Result<ExitCode> {
    let mut findings: Vec<(String, Finding)> = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))?;
            scan_bytes("(stdin)", &bytes, &mut findings);
            continue;
        }
        if !path.exists() {
            anyhow::bail!("{} does not exist", path.display());
        }
        walk(path, &args.exclude, &mut findings)?;
    }
    if args.json {
        let list: Vec<serde_json::Value> = findings
            .iter()
            .map(|(path, f)| {
                let line = f
                    .location
                    .rsplit(':')
                    .next()
                    .and_then(|l| l.parse::<u64>().ok())
                    .unwrap_or(1);
                serde_json::json!({"path": path, "line": line, "detector": f.detector})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"ok": list.is_empty(), "count": list.len(), "findings": list})
            )?
        );
    } else {
        for (_, f) in &findings {
            println!("{}: {}", f.location, f.detector);
        }
        println!("{} finding(s)", findings.len());
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn walk(path: &Path, exclude: &[String], out: &mut Vec<(String, Finding)>) -> anyhow::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if path.is_dir() {
        if ALWAYS_EXCLUDED.contains(&name) || exclude.iter().any(|e| e == name) {
            return Ok(());
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            walk(&entry, exclude, out)?;
        }
        return Ok(());
    }
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    scan_bytes(&path.display().to_string(), &bytes, out);
    Ok(())
}

/// Scans one file's (or standard input's) bytes, named `display`.
fn scan_bytes(display: &str, bytes: &[u8], out: &mut Vec<(String, Finding)>) {
    if bytes.contains(&0) {
        return; // binary
    }
    let text = String::from_utf8_lossy(bytes);
    // The whole file at once: some formats span lines (netrc entries, PEM
    // blocks, `user = …` then `password = …`); findings name their line.
    let mut found = Vec::new();
    secrets::scan_text(&text, display, &mut found);
    out.extend(found.into_iter().map(|mut f| {
        if !text.contains('\n') {
            f.location = format!("{display}:1");
        }
        (display.to_owned(), f)
    }));
}
