//! A connector definition as operators submit it (JSON), and the MCP route
//! it becomes once approved: connectors and `[[routes]]` MCP upstreams are
//! one concept, served and governed by the same code.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::{check, Report};
use crate::config::{HostMode, InspectMode, Protocol, Route};

/// One MCP server behind the sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Definition {
    /// Stable id; also its route name and the last segment of its path.
    pub connector_id: String,
    /// What people call it.
    pub name: String,
    /// `stdio`, `https`, `sse`, or `http` (loopback, with
    /// `allow_plain_http_loopback`).
    pub transport: String,
    /// stdio: the server's argv.
    #[serde(default)]
    pub command: Vec<String>,
    /// Remote transports: the MCP endpoint.
    #[serde(default)]
    pub url: Option<String>,
    /// Tools agents may see and call.
    #[serde(default)]
    pub allowed_tools: Vec<String>,
    /// Tools removed and refused (wins over allowed).
    #[serde(default)]
    pub blocked_tools: Vec<String>,
    /// `public`, `internal`, `private` or `restricted`.
    #[serde(default = "internal")]
    pub sensitivity_level: String,
    /// Every call goes to a person (default true).
    #[serde(default = "yes")]
    pub requires_human_approval: bool,
    /// stdio: variables read from files at spawn time, for that child only.
    #[serde(default)]
    pub env_secret_files: BTreeMap<String, PathBuf>,
    /// `active`, `disabled` or `revoked`.
    #[serde(default = "active")]
    pub status: String,
    /// `http` to a loopback address is allowed (a local tool).
    #[serde(default)]
    pub allow_plain_http_loopback: bool,
    /// Free-form, metadata only.
    #[serde(default)]
    pub metadata: Value,
}

fn internal() -> String {
    "internal".into()
}
fn active() -> String {
    "active".into()
}
fn yes() -> bool {
    true
}

impl Definition {
    /// The static check, then the typed definition; `Err` carries the
    /// report (errors block: nothing unsafe is ever parsed into use).
    pub fn parse(value: &Value) -> Result<(Definition, Report), Report> {
        let report = check(value);
        if !report.ok {
            return Err(report);
        }
        match serde_json::from_value::<Definition>(value.clone()) {
            Ok(definition) => Ok((definition, report)),
            Err(e) => Err(Report {
                ok: false,
                findings: vec![super::check::Finding {
                    severity: super::check::Severity::Error,
                    code: "definition_invalid",
                    field: None,
                    message: format!("the definition does not read as a connector: {e}"),
                }],
            }),
        }
    }

    /// The MCP route serving it at `<route_prefix>/<connector_id>`.
    pub fn route(&self, route_prefix: &str) -> Route {
        let stdio = self.transport == "stdio";
        Route {
            name: self.connector_id.clone(),
            prefix: format!(
                "{}/{}",
                route_prefix.trim_end_matches('/'),
                self.connector_id
            ),
            upstream: match stdio {
                true => "stdio".into(),
                false => self.url.clone().unwrap_or_default(),
            },
            strip_prefix: true,
            protocol: Protocol::Mcp,
            tools_allow: self.allowed_tools.clone(),
            tools_deny: self.blocked_tools.clone(),
            command: if stdio {
                self.command.clone()
            } else {
                Vec::new()
            },
            env_secret_files: if stdio {
                self.env_secret_files.clone()
            } else {
                BTreeMap::new()
            },
            requires_human_approval: self.requires_human_approval,
            enabled: self.status == "active",
            // A remote server gets its own name as Host; a local one ours.
            host: if stdio {
                HostMode::Preserve
            } else {
                HostMode::Upstream
            },
            http2: false,
            inspect: InspectMode::All,
            tool_path_prefix: None,
        }
    }

    /// SHA-256 of the definition's canonical JSON (what the tape records).
    pub fn sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_value(self).unwrap_or_default().to_string();
        hex::encode(Sha256::digest(json.as_bytes()))
    }
}
