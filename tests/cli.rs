//! The command line as a user meets it: help everywhere, clear config
//! errors, preflight verdicts.

mod common;

use common::cpos;

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["preflight", "--help"],
        vec!["sign", "--help"],
        vec!["policy", "test", "--help"],
        vec!["policy", "explain", "--help"],
        vec!["secret-scan", "--help"],
        vec!["tape", "--help"],
        vec!["tape", "verify", "--help"],
        vec!["tape", "tail", "--help"],
        vec!["config", "show", "--help"],
        vec!["config", "defaults", "--help"],
    ] {
        let (code, out, _) = cpos(&args, dir.path());
        assert_eq!(code, 0, "{args:?}");
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

#[test]
fn a_bad_config_names_the_file_key_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[limits]\nmax_connections = \"lots\"\n").unwrap();
    let (code, _, err) = cpos(&["serve", "--config", file.to_str().unwrap()], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("limits.max_connections"), "{err}");
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains("expected"), "{err}");

    let (code, _, err) = cpos(&["serve", "--config", "missing.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("missing.toml not found"), "{err}");
}

#[test]
fn env_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cpos.toml"),
        "[limits]\nmax_connections = 7\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cpos"))
        .args(["config", "show"])
        .current_dir(dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("CPOS_LIMITS__IDLE_TIMEOUT_MS", "1234")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("max_connections = 7"), "{text}");
    assert!(text.contains("idle_timeout_ms = 1234"), "{text}");
}

#[test]
fn preflight_passes_on_dev_and_fails_hardened_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = cpos(&["preflight"], dir.path());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("preflight passed"));

    let (code, out, _) = cpos(
        &["preflight", "--profile", "hardened", "--json"],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["profile"], "hardened");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"tls_enabled"), "{failed:?}");
    assert!(failed.contains(&"no_demo_upstream"), "{failed:?}");

    // `serve` runs the same checks: hardened refuses to start, naming them.
    let (code, out, err) = cpos(
        &[
            "serve",
            "--profile",
            "hardened",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ],
        dir.path(),
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("hardened profile refuses to start") && err.contains("tls_enabled"),
        "{err}"
    );
}

#[test]
fn the_cli_s_own_environment_variables_do_not_break_serve() {
    let dir = tempfile::tempdir().unwrap();
    // Read by `cpos stdio`, `cpos escalations` and the sandbox, not config keys.
    let sidecar = common::Sidecar::start_with(
        dir.path(),
        "",
        &[
            ("CPOS_AGENT_ID", "coding-agent"),
            ("CPOS_ADMIN_URL", "http://127.0.0.1:9"),
            ("CPOS_ADMIN_TOKEN_FILE", "/nonexistent"),
            ("CPOS_SANDBOX_LOCAL_DEV", "1"),
        ],
    );
    let health = std::net::TcpStream::connect(sidecar.admin);
    assert!(health.is_ok(), "serve started and listens");
}

/// A report printed into a pipe whose reader has gone (`cpos policy explain
/// | head -1`) ends quietly: no panic, no backtrace on stderr.
#[test]
fn a_report_into_a_closed_pipe_ends_quietly() {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cpos"))
        .args(["policy", "explain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before cpos writes anything.
    drop(child.stdout.take());
    let contract = r#"{"kind":"intake.command_request","commands":["git status"]}"#;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(contract.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
