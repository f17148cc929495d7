//! `cpos preflight`: every check the active profile requires, each with a
//! verdict and the reason, so a gap is visible before traffic arrives.

use std::path::Path;

use serde::Serialize;

use crate::config::{Config, FsyncPolicy, Profile};

/// How much a failed check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks start-up in this profile.
    Critical,
    /// Should be fixed; does not block.
    Warning,
    /// Informational.
    Info,
}

/// One check and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable check name.
    pub name: &'static str,
    /// True when the check passed.
    pub ok: bool,
    /// Importance of a failure.
    pub severity: Severity,
    /// Why it passed or failed, and what to do.
    pub message: String,
}

/// The preflight report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when no critical check failed.
    pub ok: bool,
    /// The active profile.
    pub profile: Profile,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// Runs every check for `config`'s profile.
pub fn run(config: &Config) -> Report {
    let hardened = config.profile == Profile::Hardened;
    let must = |strict: bool| {
        if strict {
            Severity::Critical
        } else {
            Severity::Warning
        }
    };
    let mut checks = Vec::new();
    let mut check = |name, ok: bool, severity, message: String| {
        checks.push(Check {
            name,
            ok,
            severity,
            message,
        })
    };

    check(
        "config_valid",
        true,
        Severity::Critical,
        "configuration parsed and validated".into(),
    );

    match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => {
            let result =
                crate::server::tls::server_config(cert, key, &crate::sidecar::client_auth(config));
            check(
                "tls_material_loads",
                result.is_ok(),
                Severity::Critical,
                result
                    .err()
                    .unwrap_or_else(|| "certificate and key load and match".into()),
            );
        }
        _ => check(
            "tls_enabled",
            false,
            must(hardened),
            "data plane is plain TCP; set tls.cert_file and tls.key_file".into(),
        ),
    }

    let tape_dir = &config.tape.dir;
    let writable = dir_writable(tape_dir);
    check(
        "tape_dir_writable",
        writable.is_ok(),
        Severity::Critical,
        writable
            .err()
            .unwrap_or_else(|| format!("{} is writable", tape_dir.display())),
    );
    if tape_dir.exists() {
        let files = crate::tape::list_segments(tape_dir)
            .map(|s| s.into_iter().map(|(_, p)| p).collect::<Vec<_>>())
            .unwrap_or_default();
        match crate::tape::verify::verify_files(&files) {
            Ok(report) if report.ok => check(
                "tape_chain_verifies",
                true,
                Severity::Critical,
                format!("{} records verify", report.records),
            ),
            Ok(report) => {
                let torn_only = report
                    .failure
                    .as_ref()
                    .is_some_and(|f| f.reason.starts_with("incomplete last line"));
                check(
                    "tape_chain_verifies",
                    torn_only,
                    Severity::Critical,
                    match report.failure {
                        Some(f) if torn_only => format!(
                            "torn last line in {} will be truncated and recorded on start",
                            f.file.display()
                        ),
                        Some(f) => format!(
                            "record seq {} ({} line {}): {}; run `cpos tape verify`",
                            f.seq,
                            f.file.display(),
                            f.line,
                            f.reason
                        ),
                        None => "tape does not verify".into(),
                    },
                )
            }
            Err(e) => check(
                "tape_chain_verifies",
                false,
                Severity::Critical,
                format!("reading the tape: {e}"),
            ),
        }
    }
    check(
        "tape_fsync_always",
        config.tape.fsync == FsyncPolicy::Always,
        must(hardened),
        format!(
            "tape.fsync = {:?}; `always` makes every answered request durable",
            config.tape.fsync
        )
        .to_lowercase(),
    );
    gate_checks(config, hardened, &mut check);

    let policy = crate::policy::Policy::from_settings(&config.policy);
    check(
        "policy_loads",
        policy.is_ok(),
        Severity::Critical,
        match policy {
            Ok(p) => format!("{} rules from {}", p.len(), p.origin()),
            Err(e) => e.to_string(),
        },
    );
    check(
        "policy_defaults_kept",
        !config.policy.replaces_defaults(),
        Severity::Warning,
        match config.policy.replaces_defaults() {
            true => {
                "policy.replace_defaults (or policy.file) leaves the embedded default policy out: \
                     only your files classify; prefer policy.files, which layer on it"
                    .into()
            }
            false => format!(
                "the embedded default policy, with {} file(s) layered on it",
                config.policy.files.len()
            ),
        },
    );

    // The admin plane passes the same gates as the data plane: off loopback
    // it needs signed requests (a bearer token would cross the network in
    // clear, since the admin listener has no TLS).
    let admin_loopback = config.listen.admin.ip().is_loopback();
    let admin_signed = config.gates.auth.mode == crate::config::AuthMode::Hmac;
    check(
        "admin_on_loopback",
        admin_loopback || !config.admin.enabled || admin_signed,
        must(hardened),
        match (admin_loopback, admin_signed) {
            (true, _) => format!("admin plane listens on {}", config.listen.admin),
            (false, true) => format!(
                "admin plane listens on {} and every admin request must be HMAC-signed",
                config.listen.admin
            ),
            (false, false) => format!(
                "admin plane listens on {} without signed requests; keep it on loopback, or set gates.auth.mode = \"hmac\" (probes use listen.health)",
                config.listen.admin
            ),
        },
    );
    let gated = config.gates.auth.mode != crate::config::AuthMode::Off
        || config.gates.ip_allow.enabled
        || config.gates.client_cert.mode == crate::config::GateMode::Enforce;
    check(
        "data_plane_exposed",
        config.listen.data.ip().is_loopback() || gated,
        must(hardened),
        if gated {
            format!(
                "data plane listens on {} behind its gates",
                config.listen.data
            )
        } else {
            format!(
                "data plane listens on {} with every gate off: anyone who can reach it can call your tools; bind 127.0.0.1 or turn on gates.auth / gates.ip_allow",
                config.listen.data
            )
        },
    );
    let demo = config.routes.iter().any(|r| r.upstream == "builtin:demo");
    check(
        "no_demo_upstream",
        !demo,
        must(hardened),
        if demo {
            "a route uses builtin:demo; configure [[routes]] with your real upstreams".into()
        } else {
            "every route has a real upstream".into()
        },
    );

    let open_mcp: Vec<&str> = config
        .routes
        .iter()
        .filter(|r| r.protocol == crate::config::Protocol::Mcp && r.tools_allow.is_empty())
        .map(|r| r.name.as_str())
        .collect();
    check(
        "mcp_tool_allowlists",
        open_mcp.is_empty(),
        must(hardened),
        if open_mcp.is_empty() {
            "every MCP route lists the tools agents may call (tools_allow)".into()
        } else {
            format!(
                "MCP route(s) {} let agents call every tool the server offers; list them in tools_allow",
                open_mcp.join(", ")
            )
        },
    );
    check(
        "webhook_summary",
        !(hardened && config.escalation.webhook_summary),
        must(hardened),
        if config.escalation.webhook_summary {
            "escalation.webhook_summary sends masked call content to the webhook; the hardened profile keeps webhooks to metadata".into()
        } else {
            "the escalation webhook carries metadata only".into()
        },
    );

    if config.sandbox.enabled {
        let runner = crate::sandbox::Runner::new(config.sandbox.clone());
        let strict = config.sandbox.mode == crate::config::SandboxMode::Strict;
        let (ok, message) = match runner.availability() {
            Ok(bwrap) => (true, format!("{} works here (mode {:?})", bwrap.display(), config.sandbox.mode)),
            Err(why) if strict => (false, format!("{why}; strict mode refuses every sandbox run (sandbox_unavailable) until bubblewrap works (Debian: apt-get install bubblewrap)")),
            Err(why) => (false, format!("{why}; mode {:?} runs commands WITHOUT isolation", config.sandbox.mode)),
        };
        check("sandbox_available", ok, must(hardened), message);
        let workspace = &config.sandbox.workspace;
        let (ok, message) = match crate::sandbox::masking::own_paths_inside(workspace, &config.own_paths()) {
            Ok(inside) if inside.is_empty() => (true, format!("the workspace {} holds none of the sidecar's own files", workspace.display())),
            Ok(inside) => (false, format!(
                "the workspace {} holds the sidecar's own {}; sandboxed commands do not see them (masked), but set sandbox.workspace to the project directory alone",
                workspace.display(),
                inside.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            )),
            Err(why) => (false, format!("{why}; set sandbox.workspace to the project directory alone")),
        };
        check("sandbox_workspace", ok, must(hardened), message);
    }

    state_checks(config, hardened, &mut check);

    let ok = checks
        .iter()
        .all(|c| c.ok || c.severity != Severity::Critical);
    Report {
        ok,
        profile: config.profile,
        checks,
    }
}

/// Shared state: where it lives, and whether Redis answers now.
fn state_checks(
    config: &Config,
    hardened: bool,
    check: &mut impl FnMut(&'static str, bool, Severity, String),
) {
    use crate::config::state::{OnFailure, StateBackend};
    let state = &config.state;
    if state.backend == StateBackend::Memory {
        check(
            "shared_state",
            true,
            Severity::Info,
            "rate limits, replay nonces and escalations live in this process; with several replicas set state.backend = \"redis\" (docs/REPLICAS.md)".into(),
        );
        return;
    }
    let client = state.url().and_then(|url| {
        redis::Client::open(url.as_str()).map_err(|e| format!("not a Redis URL: {e}"))
    });
    let client = match client {
        Ok(client) => client,
        Err(why) => {
            check("shared_state", false, Severity::Critical, why);
            return;
        }
    };
    let info = client.get_connection_info();
    let addr = info.addr().to_string();
    let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
    let loopback =
        addr.starts_with("127.") || addr.starts_with("localhost") || addr.starts_with("::1");
    check(
        "shared_state_tls",
        tls || loopback,
        if hardened {
            Severity::Critical
        } else {
            Severity::Warning
        },
        match (tls, loopback) {
            (true, _) => format!("Redis at {addr} over TLS (rediss://)"),
            (false, true) => format!("Redis at {addr} on loopback"),
            (false, false) => format!("Redis at {addr} in clear text; use a rediss:// URL"),
        },
    );
    let deadline = std::time::Duration::from_millis(state.timeout_ms.max(250));
    let answer = client
        .get_connection_with_timeout(deadline)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    let (ok, severity, message) = match (answer, state.on_failure) {
        (Ok(_), on_failure) => (
            true,
            Severity::Info,
            format!("Redis at {addr} answers; while it does not, requests get {}", behaviour(on_failure)),
        ),
        // Not critical: the sidecar starts, unready, and serves once Redis does.
        (Err(e), OnFailure::FailClosed) => (
            false,
            Severity::Warning,
            format!("Redis at {addr} does not answer ({e}); requests are refused with 503 state_unavailable until it does"),
        ),
        (Err(e), OnFailure::FallbackLocal) => (
            false,
            Severity::Warning,
            format!("Redis at {addr} does not answer ({e}); each replica decides on its own state until it does"),
        ),
    };
    check("shared_state", ok, severity, message);
}

fn behaviour(on_failure: crate::config::state::OnFailure) -> &'static str {
    match on_failure {
        crate::config::state::OnFailure::FailClosed => "503 state_unavailable (fail_closed)",
        crate::config::state::OnFailure::FallbackLocal => {
            "this replica's own decisions, marked on the tape (fallback_local)"
        }
    }
}

fn gate_checks(
    config: &Config,
    hardened: bool,
    check: &mut impl FnMut(&'static str, bool, Severity, String),
) {
    use crate::config::{AuthMode, GateMode};
    let gates = &config.gates;
    let must = if hardened {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let built =
        crate::gate::Gates::from_config(gates, std::sync::Arc::new(crate::clock::SystemClock));
    check(
        "gates_load",
        built.is_ok(),
        Severity::Critical,
        built
            .err()
            .unwrap_or_else(|| "pin file, allowlist, rate limits and key registry parse".into()),
    );

    let cc = &gates.client_cert;
    check(
        "client_cert_enforced",
        cc.mode == GateMode::Enforce,
        must,
        format!("gates.client_cert.mode = {:?}", cc.mode).to_lowercase(),
    );
    if cc.mode != GateMode::Off {
        let pins = cc
            .pin_file
            .as_ref()
            .map(|p| crate::gate::client_cert::load_pins(p));
        let (ok, message) = match pins {
            None => (
                false,
                "gates.client_cert.pin_file is not set: every request is refused with 503"
                    .to_owned(),
            ),
            Some(Err(e)) => (false, e),
            Some(Ok(p)) if p.is_empty() => (false, "the pin file holds no fingerprints".to_owned()),
            Some(Ok(p)) => (true, format!("{} pinned fingerprint(s)", p.len())),
        };
        check("client_cert_pins_loaded", ok, must, message);
        let source =
            (cc.ca_file.is_some() && config.tls.enabled()) || !gates.trusted_proxies.is_empty();
        check(
            "client_cert_source",
            source,
            must,
            "certificates come from native mTLS (tls.* + gates.client_cert.ca_file) or a trusted proxy's header (gates.trusted_proxies)".into(),
        );
    }

    let ip = &gates.ip_allow;
    check(
        "ip_allowlist_enabled",
        ip.enabled,
        must,
        format!("gates.ip_allow.enabled = {}", ip.enabled),
    );
    if ip.enabled {
        check(
            "ip_allowlist_not_empty",
            !ip.allow.is_empty(),
            Severity::Critical,
            if ip.allow.is_empty() {
                "gates.ip_allow.allow is empty: every client is refused".into()
            } else {
                format!("{} allowed network(s)", ip.allow.len())
            },
        );
    }

    check(
        "rate_limit_enabled",
        gates.rate_limit.enabled,
        if hardened {
            Severity::Warning
        } else {
            Severity::Info
        },
        format!(
            "gates.rate_limit.enabled = {} ({} requests / {} mutations per {} s)",
            gates.rate_limit.enabled,
            gates.rate_limit.requests,
            gates.rate_limit.mutation_requests,
            gates.rate_limit.window_seconds
        ),
    );

    let auth = &gates.auth;
    check(
        "hmac_auth_required",
        auth.mode == AuthMode::Hmac,
        must,
        format!("gates.auth.mode = {:?}", auth.mode).to_lowercase(),
    );
    match auth.mode {
        AuthMode::Hmac => match (&auth.key_registry_file, &auth.hmac_secret_file) {
            (Some(path), _) => match crate::gate::key_registry::KeyRegistry::load(path) {
                Err(e) => check("hmac_key_registry", false, Severity::Critical, e),
                Ok(registry) => {
                    let now = crate::client::unix_now();
                    let keys = registry.keys();
                    let usable = keys
                        .iter()
                        .filter(|k| k.usable(now).is_ok() && !k.secret.is_empty())
                        .count();
                    let problems: Vec<String> = keys
                        .iter()
                        .filter_map(|k| match (k.usable(now), k.secret.is_empty()) {
                            (Err(code), _) => Some(format!("{}: {code}", k.id)),
                            (Ok(()), true) => Some(format!("{}: secret_unreadable_or_empty", k.id)),
                            _ => None,
                        })
                        .collect();
                    check(
                        "hmac_key_registry",
                        usable > 0,
                        Severity::Critical,
                        if keys.is_empty() {
                            "no_keys_loaded".into()
                        } else {
                            format!(
                                "{usable} usable key(s); {}",
                                if problems.is_empty() {
                                    "no problems".into()
                                } else {
                                    problems.join(", ")
                                }
                            )
                        },
                    );
                }
            },
            (None, Some(path)) => {
                let ok = std::fs::read_to_string(path).is_ok_and(|s| !s.trim().is_empty());
                check(
                    "hmac_secret",
                    ok,
                    Severity::Critical,
                    format!(
                        "{}: {}",
                        path.display(),
                        if ok {
                            "readable"
                        } else {
                            "missing, unreadable or empty"
                        }
                    ),
                );
            }
            (None, None) => check(
                "hmac_secret_or_registry_configured",
                false,
                Severity::Critical,
                "set gates.auth.key_registry_file (or hmac_secret_file)".into(),
            ),
        },
        AuthMode::Bearer => match &auth.token_registry_file {
            Some(path) => {
                let loaded = crate::gate::bearer_auth::BearerAuth::registry(path);
                check(
                    "bearer_token_loaded",
                    loaded.is_ok(),
                    Severity::Critical,
                    loaded
                        .err()
                        .unwrap_or_else(|| format!("{}: token registry loaded", path.display())),
                );
            }
            None => {
                let ok = auth.token_file.as_ref().is_some_and(|p| {
                    std::fs::read_to_string(p).is_ok_and(|s| !s.trim().is_empty())
                });
                check(
                    "bearer_token_loaded",
                    ok,
                    Severity::Critical,
                    "gates.auth.token_file (or token_registry_file) must hold a non-empty token"
                        .into(),
                );
            }
        },
        AuthMode::Off => {}
    }
    if let Some(path) = &auth.scopes_file {
        let ok = crate::gate::scopes::Scopes::from_file(path).is_some();
        check(
            "scopes_file_loaded",
            ok,
            Severity::Critical,
            format!(
                "{}: {}",
                path.display(),
                if ok {
                    "loaded"
                } else {
                    "missing or empty: requests fail closed (503)"
                }
            ),
        );
    }
}

fn dir_writable(dir: &Path) -> Result<(), String> {
    let probe_dir = if dir.exists() {
        dir.to_path_buf()
    } else {
        let mut ancestor = dir.parent();
        while let Some(a) = ancestor {
            if a.as_os_str().is_empty() || a.exists() {
                break;
            }
            ancestor = a.parent();
        }
        match ancestor {
            Some(a) if !a.as_os_str().is_empty() => a.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        }
    };
    let probe = probe_dir.join(format!(".cpos-preflight-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("{} is not writable: {e}", probe_dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardened_defaults_fail_without_tls_and_real_upstreams() {
        let mut config = Config::from_toml("profile = \"hardened\"").unwrap();
        config.profile = Profile::Hardened;
        config.tape.dir = std::env::temp_dir().join("cpos-preflight-test");
        let report = run(&config);
        assert!(!report.ok);
        let failed: Vec<_> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name)
            .collect();
        assert!(failed.contains(&"tls_enabled"), "{failed:?}");
        assert!(failed.contains(&"no_demo_upstream"), "{failed:?}");
    }

    #[test]
    fn dev_defaults_pass() {
        let mut config = Config::from_toml("").unwrap();
        config.tape.dir = std::env::temp_dir().join("cpos-preflight-dev-test");
        let report = run(&config);
        assert!(report.ok, "{report:?}");
    }
}
