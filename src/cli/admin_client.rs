//! The admin API from the command line: where it is, how to authenticate
//! (HMAC key or bearer token), and one call that answers status and JSON or
//! an error saying what to check.

use std::path::PathBuf;

use clap::Args;
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

/// A connected admin client.
pub struct AdminClient {
    url: String,
    client: Client,
    bearer: Option<String>,
}

impl AdminClient {
    /// Reads the credentials `args` name.
    pub fn new(args: &AdminArgs) -> anyhow::Result<AdminClient> {
        let key = match (&args.key_id, &args.secret_file) {
            (Some(id), Some(file)) => Some(SigningKey {
                key_id: id.clone(),
                secret: std::fs::read(file)?.trim_ascii().to_vec(),
                agent_id: None,
            }),
            _ => None,
        };
        let bearer = match &args.token_file {
            Some(file) => Some(format!("Bearer {}", std::fs::read_to_string(file)?.trim())),
            None => None,
        };
        Ok(AdminClient {
            url: args.admin.clone(),
            client: Client::new(args.admin.clone(), key),
            bearer,
        })
    }

    /// One request (a null body sends none); the status and the JSON answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Value,
    ) -> anyhow::Result<(http::StatusCode, Value)> {
        let extra: Vec<(&str, &str)> = self
            .bearer
            .as_deref()
            .map(|b| vec![("authorization", b)])
            .unwrap_or_default();
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        let response = self
            .client
            .send(method, path, body, &extra)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot reach the admin API at {}: {e}; is `cpos serve` running, and is --admin right?",
                    self.url
                )
            })?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"message": String::from_utf8_lossy(&bytes)}));
        Ok((status, value))
    }
}

/// Prints a refused call's code and message to stderr; true when it was.
pub fn refused(status: http::StatusCode, value: &Value) -> bool {
    if status.is_success() {
        return false;
    }
    eprintln!(
        "{} ({}): {}",
        value["error"].as_str().unwrap_or("error"),
        status.as_u16(),
        value["message"].as_str().unwrap_or_default()
    );
    true
}
