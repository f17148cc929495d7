//! `cpos sign`: the headers (or a curl command) for a CPOS-signed request.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use http::Method;

use crate::client::{fresh_nonce, signature_headers, unix_now, SigningKey};

/// Sign a request with a CPOS HMAC key and print its headers or a curl command.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  cpos sign POST http://127.0.0.1:7878/tools/echo --body req.json \\\n    --key-id 2026-11-active --secret-file secrets/active --curl | sh"
)]
pub struct SignArgs {
    /// HTTP method.
    method: String,
    /// Full URL; its path and query are signed exactly as written.
    url: String,
    /// File holding the exact body bytes to send.
    #[arg(long, value_name = "FILE")]
    body: Option<PathBuf>,
    /// Key id (X-CPOS-Key-Id).
    #[arg(long, value_name = "ID")]
    key_id: String,
    /// File holding the shared secret (surrounding whitespace is ignored).
    #[arg(long, value_name = "FILE")]
    secret_file: PathBuf,
    /// Agent the request speaks for (X-Agent-Id).
    #[arg(long, value_name = "AGENT")]
    agent_id: Option<String>,
    /// Print a ready-to-run curl command instead of headers.
    #[arg(long)]
    curl: bool,
}

pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let method: Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("`{}` is not an HTTP method", args.method))?;
    let uri: http::Uri = args
        .url
        .parse()
        .map_err(|e| anyhow::anyhow!("`{}` is not a URL: {e}", args.url))?;
    let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
    let body = match &args.body {
        Some(path) => {
            std::fs::read(path).map_err(|e| anyhow::anyhow!("--body {}: {e}", path.display()))?
        }
        None => Vec::new(),
    };
    let secret = std::fs::read_to_string(&args.secret_file)
        .map_err(|e| anyhow::anyhow!("--secret-file {}: {e}", args.secret_file.display()))?;
    let key = SigningKey {
        key_id: args.key_id,
        secret: secret.trim().as_bytes().to_vec(),
        agent_id: args.agent_id,
    };
    let headers = signature_headers(
        &key,
        &method,
        path_and_query,
        &body,
        unix_now(),
        &fresh_nonce(),
    );
    if args.curl {
        let mut cmd = format!("curl -sS -X {method} '{}'", args.url);
        for (name, value) in &headers {
            cmd.push_str(&format!(" -H '{name}: {value}'"));
        }
        if let Some(path) = &args.body {
            cmd.push_str(&format!(
                " -H 'content-type: application/json' --data-binary @'{}'",
                path.display()
            ));
        }
        println!("{cmd}");
    } else {
        for (name, value) in &headers {
            println!("{name}: {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
