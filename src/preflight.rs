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
    let admin_loopback = config.listen.admin.ip().is_loopback();
    check(
        "admin_on_loopback",
        admin_loopback || !config.admin.enabled,
        must(hardened),
        format!(
            "admin plane listens on {}; keep it on loopback until admin authentication is configured",
            config.listen.admin
        ),
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

    let ok = checks
        .iter()
        .all(|c| c.ok || c.severity != Severity::Critical);
    Report {
        ok,
        profile: config.profile,
        checks,
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
