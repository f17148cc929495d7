//! The static check of a connector definition: the original CPOS codes,
//! tightened where they let unsafe definitions through (a shell named by
//! path, plain HTTP off loopback, secrets under any key or in any value).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

/// How bad a finding is: errors block the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The definition is refused.
    Error,
    /// A person should look.
    Warning,
}

/// One problem with a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: Severity,
    /// Stable code (`shell_wrapper_blocked`, …).
    pub code: &'static str,
    /// The field it is about (a JSON path), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

/// The check's verdict on one definition.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No finding of severity `error`.
    pub ok: bool,
    /// Every finding, in the order the fields are checked.
    pub findings: Vec<Finding>,
}

const TRANSPORTS: &[&str] = &["stdio", "https", "sse", "http"];
const STATUSES: &[&str] = &["active", "disabled", "revoked"];
const SENSITIVITIES: &[&str] = &["public", "internal", "private", "restricted"];
const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "fish",
    "dash",
    "ksh",
    "csh",
    "tcsh",
    "ash",
    "busybox",
    "cmd",
    "cmd.exe",
    "powershell",
    "powershell.exe",
    "pwsh",
    "pwsh.exe",
    "env",
];

static ENV_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z_][A-Z0-9_]*$").expect("env name pattern"));
static TOOL_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_.:-]+$").expect("tool name pattern"));
static SHELL_META: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[;&|`$<>\n\r]").expect("shell meta pattern"));
static DANGEROUS_TOOL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(shell|exec|command|terminal|ssh|delete|remove|write_file|filesystem)")
        .expect("dangerous tool pattern")
});
static SECRET_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(secret|token|password|passwd|credential|key)").expect("secret path pattern")
});

/// Checks one definition (a JSON object). Never connects, never reads the
/// files it names.
pub fn check(definition: &Value) -> Report {
    let mut findings = Vec::new();
    let mut error = |code, field: Option<&str>, message: String| {
        findings.push(Finding {
            severity: Severity::Error,
            code,
            field: field.map(str::to_owned),
            message,
        })
    };
    let Some(def) = definition.as_object() else {
        error(
            "definition_not_object",
            None,
            "a connector definition is a JSON object (or a TOML table)".into(),
        );
        return report(findings);
    };
    let text = |key: &str| def.get(key).and_then(Value::as_str).unwrap_or("").trim();

    for key in ["connector_id", "name"] {
        if text(key).is_empty() {
            let code = if key == "name" {
                "name_required"
            } else {
                "connector_id_required"
            };
            error(
                code,
                Some(key),
                format!("`{key}` must be a non-empty string"),
            );
        }
    }
    let transport = text("transport");
    // Fields with a fixed set of values (an absent one takes its default).
    let sensitivity = def
        .get("sensitivity_level")
        .and_then(Value::as_str)
        .unwrap_or("internal");
    let status = def
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("active");
    for (field, value, allowed, code) in [
        ("transport", transport, TRANSPORTS, "invalid_transport"),
        ("status", status, STATUSES, "invalid_status"),
        (
            "sensitivity_level",
            sensitivity,
            SENSITIVITIES,
            "invalid_sensitivity",
        ),
    ] {
        if !allowed.contains(&value) {
            error(
                code,
                Some(field),
                format!("`{field}` is `{value}`; use one of {}", allowed.join(", ")),
            );
        }
    }
    for key in ["env", "secrets"] {
        if def.contains_key(key) {
            error(
                "raw_env_or_secrets_blocked",
                Some(key),
                format!("`{key}` would put values in the definition; name files instead: env_secret_files = {{ ENV_NAME = \"/run/secrets/…\" }}"),
            );
        }
    }
    let mut warnings = Vec::new();
    check_env_files(def.get("env_secret_files"), &mut error, &mut warnings);
    check_raw_secrets(definition, &mut error);
    check_transport(def, transport, &mut error, &mut warnings);
    let approval = def
        .get("requires_human_approval")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    check_tools(def, approval, &mut error);
    if matches!(sensitivity, "private" | "restricted") && !approval {
        error(
            "sensitive_requires_approval",
            Some("requires_human_approval"),
            format!("a `{sensitivity}` connector needs requires_human_approval = true"),
        );
    }
    findings.extend(warnings);
    report(findings)
}

fn report(findings: Vec<Finding>) -> Report {
    Report {
        ok: findings.iter().all(|f| f.severity != Severity::Error),
        findings,
    }
}

fn warning(code: &'static str, field: &str, message: String) -> Finding {
    Finding {
        severity: Severity::Warning,
        code,
        field: Some(field.to_owned()),
        message,
    }
}

fn check_env_files(
    files: Option<&Value>,
    error: &mut impl FnMut(&'static str, Option<&str>, String),
    warnings: &mut Vec<Finding>,
) {
    let Some(files) = files else { return };
    let Some(files) = files.as_object() else {
        error(
            "env_secret_files_invalid",
            Some("env_secret_files"),
            "`env_secret_files` maps ENV_NAME to a file path".into(),
        );
        return;
    };
    for (name, path) in files {
        let field = format!("env_secret_files.{name}");
        if !ENV_NAME.is_match(name) {
            error(
                "invalid_env_name",
                Some(&field),
                format!("`{name}` is not an environment variable name (A-Z, 0-9, _)"),
            );
        }
        let path = path.as_str().unwrap_or("").trim();
        if path.is_empty() {
            error(
                "secret_file_required",
                Some(&field),
                format!("`{name}` needs the path of the file holding its value"),
            );
        } else if SECRET_PATH.is_match(path)
            && !["/run/", "/var/run/", "/tmp/", "/home/"]
                .iter()
                .any(|p| path.starts_with(p))
        {
            warnings.push(warning(
                "secret_path_review",
                &field,
                format!(
                    "`{path}` looks like a secret outside a secrets mount; check who can read it"
                ),
            ));
        }
    }
}

/// Secrets written into the definition: a secret-looking key with a value,
/// or a value any detector recognises, at any depth outside
/// `env_secret_files` (which holds paths).
fn check_raw_secrets(
    definition: &Value,
    error: &mut impl FnMut(&'static str, Option<&str>, String),
) {
    let mut scanned = definition.clone();
    if let Some(def) = scanned.as_object_mut() {
        def.remove("env_secret_files");
    }
    let mut found = Vec::new();
    crate::secrets::scan_json(&scanned, "", &mut found);
    for finding in found {
        let field = finding.location.trim_start_matches('.').to_owned();
        error(
            "raw_secret_like_value",
            Some(&field),
            format!(
                "`{field}` holds a secret ({}); put it in a file and name it in env_secret_files",
                finding.detector
            ),
        );
    }
}

fn check_transport(
    def: &serde_json::Map<String, Value>,
    transport: &str,
    error: &mut impl FnMut(&'static str, Option<&str>, String),
    warnings: &mut Vec<Finding>,
) {
    let has_url = def
        .get("url")
        .and_then(Value::as_str)
        .is_some_and(|u| !u.trim().is_empty());
    let argv: Option<Vec<&str>> = def
        .get("command")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|w| w.as_str().unwrap_or("")).collect());
    match transport {
        "stdio" => {
            let Some(argv) = argv.filter(|a| !a.is_empty() && !a[0].trim().is_empty()) else {
                error(
                    "stdio_command_required",
                    Some("command"),
                    "a stdio connector needs `command`, a non-empty argv list".into(),
                );
                return;
            };
            for (i, word) in argv.iter().enumerate() {
                if SHELL_META.is_match(word) {
                    error(
                        "shell_meta_blocked",
                        Some(&format!("command[{i}]")),
                        format!("`{word}` holds shell syntax; argv is run without a shell, list each argument"),
                    );
                }
            }
            let program = argv[0].rsplit(['/', '\\']).next().unwrap_or(argv[0]);
            if SHELLS.contains(&program.to_ascii_lowercase().as_str()) {
                error(
                    "shell_wrapper_blocked",
                    Some("command[0]"),
                    format!(
                        "`{}` is a shell (or runs anything); run the server's own program",
                        argv[0]
                    ),
                );
            }
            if has_url {
                warnings.push(warning(
                    "stdio_url_ignored",
                    "url",
                    "a stdio connector ignores `url`".into(),
                ));
            }
        }
        "https" | "sse" | "http" => {
            if argv.is_some_and(|a| !a.is_empty()) {
                warnings.push(warning(
                    "remote_command_ignored",
                    "command",
                    format!("a {transport} connector ignores `command`"),
                ));
            }
            let url = def.get("url").and_then(Value::as_str).unwrap_or("").trim();
            if url.is_empty() {
                error(
                    "url_required",
                    Some("url"),
                    format!("a {transport} connector needs `url`"),
                );
                return;
            }
            let Ok(parsed) = url.parse::<http::Uri>() else {
                error(
                    "url_host_required",
                    Some("url"),
                    format!("`{url}` is not a URL"),
                );
                return;
            };
            let Some(host) = parsed.host().filter(|h| !h.is_empty()) else {
                error(
                    "url_host_required",
                    Some("url"),
                    format!("`{url}` names no host"),
                );
                return;
            };
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            let plain_allowed = def
                .get("allow_plain_http_loopback")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match parsed.scheme_str() {
                Some("https") if transport != "http" => {}
                Some("http") if transport == "http" && loopback && plain_allowed => {}
                Some("http") if transport == "http" && !loopback => error(
                    "https_required",
                    Some("url"),
                    format!("plain http is allowed only to 127.0.0.1 or ::1, not `{host}`"),
                ),
                Some("http") if transport == "http" => error(
                    "https_required",
                    Some("allow_plain_http_loopback"),
                    "plain http to loopback needs allow_plain_http_loopback = true".into(),
                ),
                _ => error(
                    "https_required",
                    Some("url"),
                    format!("`{url}`: a {transport} connector is reached over https"),
                ),
            }
        }
        _ => {}
    }
}

fn check_tools(
    def: &serde_json::Map<String, Value>,
    approval: bool,
    error: &mut impl FnMut(&'static str, Option<&str>, String),
) {
    let names = |key: &str| -> Option<Vec<&str>> {
        def.get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|t| t.as_str().unwrap_or("")).collect())
    };
    let allowed = names("allowed_tools").filter(|a| !a.is_empty());
    let Some(allowed) = allowed else {
        error(
            "allowed_tools_required",
            Some("allowed_tools"),
            "list the tools agents may call (`allowed_tools`); an empty list allows nothing".into(),
        );
        return;
    };
    let blocked = match def.get("blocked_tools") {
        None => Vec::new(),
        Some(_) => match names("blocked_tools") {
            Some(b) => b,
            None => {
                error(
                    "blocked_tools_invalid",
                    Some("blocked_tools"),
                    "`blocked_tools` is a list of tool names".into(),
                );
                Vec::new()
            }
        },
    };
    for (list, tools) in [("allowed_tools", &allowed), ("blocked_tools", &blocked)] {
        for (i, tool) in tools.iter().enumerate() {
            if !TOOL_NAME.is_match(tool) {
                error(
                    "invalid_tool_name",
                    Some(&format!("{list}[{i}]")),
                    format!("`{tool}` is not a tool name (letters, digits, _ . : -)"),
                );
            }
        }
    }
    for (i, tool) in allowed.iter().enumerate() {
        if blocked.contains(tool) {
            error(
                "allow_block_overlap",
                Some(&format!("allowed_tools[{i}]")),
                format!("`{tool}` is both allowed and blocked"),
            );
        }
        if !approval && DANGEROUS_TOOL.is_match(tool) {
            error(
                "dangerous_tool_requires_approval",
                Some(&format!("allowed_tools[{i}]")),
                format!(
                    "`{tool}` can run commands or change files: set requires_human_approval = true"
                ),
            );
        }
    }
}

/// Codes that do not apply to a `[[routes]]` MCP upstream: its tool lists
/// are optional globs (the policy decides when they are empty).
const NOT_FOR_ROUTES: &[&str] = &["allowed_tools_required", "invalid_tool_name"];

/// The connector check applied to an MCP route of the configuration (at
/// load and at every reload): its command, upstream URL and tool lists. A
/// plain `http://` upstream is accepted on loopback only (the sidecar
/// pattern); anything else needs https.
pub fn check_route(route: &crate::config::Route) -> Vec<Finding> {
    let stdio = route.upstream == "stdio";
    let transport = match route.upstream.split_once("://") {
        _ if stdio => "stdio",
        Some(("https", _)) => "https",
        _ => "http",
    };
    let mut definition = serde_json::json!({
        "connector_id": route.name,
        "name": route.name,
        "transport": transport,
        "allowed_tools": route.tools_allow,
        "blocked_tools": route.tools_deny,
        "allow_plain_http_loopback": true,
    });
    match stdio {
        true => {
            definition["command"] = serde_json::json!(route.command);
            definition["env_secret_files"] = serde_json::json!(route.env_secret_files);
        }
        false => definition["url"] = serde_json::json!(route.upstream),
    }
    check(&definition)
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error && !NOT_FOR_ROUTES.contains(&f.code))
        .collect()
}
