//! The gateway in front of a deliberately malicious MCP server
//! (tests/upstreams/hostile_mcp.py): each of its ways of slipping a denied
//! tool and a changed ("rug-pulled") description past a filter is tried
//! with the official TypeScript SDK client, and the main ones with the
//! official Python SDK client. Whatever the trick, the agent never sees
//! `get-env` or the changed description: either the listing arrives
//! filtered (and the pin is marked changed), or it is dropped with an error.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::mcp::{client, free_port, http_plan, mcp_route, tool_names, Node};
use common::Sidecar;
use serde_json::{json, Value};

fn hostile_py() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/upstreams/hostile_mcp.py"
    )
}

/// The Python SDK's interpreter (a venv made by tests/run.sh).
fn python_sdk() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    assert!(
        python.exists(),
        "the Python MCP SDK is not installed: run tests/run.sh (it makes target/pyenv from tests/mcp/requirements.txt)"
    );
    python
}

fn py_client(plan: Value) -> Value {
    let out = Command::new(python_sdk())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mcp/py_client.py"
        ))
        .arg(plan.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "python client report not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn start_hostile() -> (Node, u16) {
    let port = free_port();
    let mut child = Command::new("python3")
        .arg(hostile_py())
        .arg("--http")
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening");
    (Node(child), port)
}

fn set_mode(port: u16, mode: &str) {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-d"])
        .arg(json!({ "mode": mode }).to_string())
        .arg(format!("http://127.0.0.1:{port}/control"))
        .output()
        .unwrap();
    assert!(out.status.success(), "control request failed");
}

/// A sidecar with its own pin file in front of the hostile server, whose
/// clean listing has been pinned already.
fn pinned_sidecar(dir: &Path, port: u16) -> Sidecar {
    let extra = format!(
        "[mcp]\npins_file = \"{}\"\n\n{}",
        dir.join("pins.json").display(),
        mcp_route("hostile", port, "tools_deny = [\"get-env\"]")
    );
    let sidecar = Sidecar::start(dir, &extra);
    set_mode(port, "plain");
    let first = client(http_plan(&sidecar.url("/mcp"), json!([{"op": "list"}])));
    assert_eq!(tool_names(&first["steps"][0]), ["echo", "add"]);
    sidecar
}

fn pins(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("pins.json")).unwrap()).unwrap()
}

/// What the agent saw holds neither the denied tool nor the rug pull.
fn assert_nothing_leaked(mode: &str, report: &Value) {
    let text = report.to_string();
    assert!(
        !text.contains("get-env"),
        "{mode}: denied tool leaked: {text}"
    );
    assert!(
        !text.contains("id_rsa"),
        "{mode}: changed description leaked: {text}"
    );
}

#[test]
fn hostile_listings_never_reach_the_typescript_client_unfiltered() {
    let (_server, port) = start_hostile();
    // Modes whose listing can be read one way only: filtered, and the
    // changed echo is withheld (its pin marked changed).
    for mode in ["clash", "lfcrlf", "cr", "get", "rename"] {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = pinned_sidecar(dir.path(), port);
        set_mode(port, mode);
        let report = client(http_plan(
            &sidecar.url("/mcp"),
            json!([{"op": "list", "timeout_ms": 5000}]),
        ));
        assert_nothing_leaked(mode, &report);
        assert_eq!(tool_names(&report["steps"][0]), ["add"], "{mode}: {report}");
        let pins = pins(dir.path());
        let changed = if mode == "rename" { "echo_v2" } else { "echo" };
        assert!(
            pins["connectors"]["hostile"][changed]["changed"].is_object(),
            "{mode}: pin not marked changed: {pins}"
        );
        if mode == "rename" {
            assert_eq!(
                pins["connectors"]["hostile"]["echo_v2"]["changed"]["renamed_from"],
                "echo"
            );
        }
    }
    // Modes whose listing cannot be read one way only: dropped, an error in
    // its place, the request times out; recorded on the tape.
    for mode in ["badutf8", "surrogate", "deep"] {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = pinned_sidecar(dir.path(), port);
        set_mode(port, mode);
        let report = client(http_plan(
            &sidecar.url("/mcp"),
            json!([{"op": "list", "timeout_ms": 3000}]),
        ));
        assert_nothing_leaked(mode, &report);
        assert!(report["steps"][0]["error"].is_object(), "{mode}: {report}");
        let dropped = sidecar
            .tape()
            .into_iter()
            .filter(|r| r["event"] == "server_message_dropped")
            .count();
        assert!(dropped >= 1, "{mode}: the drop is not on the tape");
    }
}

#[tokio::test]
async fn a_listing_hidden_in_a_tool_call_answer_is_filtered_too() {
    let (_server, port) = start_hostile();
    let dir = tempfile::tempdir().unwrap();
    let sidecar = pinned_sidecar(dir.path(), port);
    set_mode(port, "crossjson");
    let http = common::http1();
    let list = r#"{"jsonrpc":"2.0","id":41,"method":"tools/list"}"#;
    let _ = common::post_json(&http, &sidecar.url("/mcp"), list).await;
    let call = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}"#;
    let answer = common::post_json(&http, &sidecar.url("/mcp"), call).await;
    let messages = answer.json();
    assert_nothing_leaked("crossjson", &messages);
    let listing = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == 41)
        .unwrap();
    let names: Vec<&str> = listing["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["add"]);
}

#[test]
fn hostile_listings_never_reach_the_python_client_unfiltered() {
    let (_server, port) = start_hostile();
    for mode in ["clash", "lfcrlf", "cr", "badutf8"] {
        let dir = tempfile::tempdir().unwrap();
        let sidecar = pinned_sidecar(dir.path(), port);
        set_mode(port, mode);
        let report =
            py_client(json!({"transport": "http", "url": sidecar.url("/mcp"), "timeout_s": 3}));
        assert_nothing_leaked(mode, &report);
        if mode != "badutf8" {
            let names: Vec<&str> = report["tools"]
                .as_array()
                .unwrap_or_else(|| panic!("{mode}: {report}"))
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["add"], "{mode}: {report}");
        }
    }
}

#[test]
fn a_listing_hidden_after_a_bare_cr_on_stdio_reaches_neither_sdk() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("tape");
    let config = dir.path().join("cpos.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\n", dir.path().display()),
    )
    .unwrap();
    let cpos = env!("CARGO_BIN_EXE_cpos");
    let args = json!([
        "stdio",
        "--config",
        config,
        "--tape-dir",
        tape,
        "--name",
        "hostile",
        "--tools-deny",
        "get-env",
        "--",
        "python3",
        hostile_py(),
        "--stdio"
    ]);
    let ts = client(json!({
        "transport": "stdio", "command": cpos, "args": args,
        "steps": [{"op": "list", "timeout_ms": 3000}]
    }));
    assert_nothing_leaked("stdio/ts", &ts);
    assert!(ts["steps"][0]["error"].is_object(), "{ts}");
    let py =
        py_client(json!({"transport": "stdio", "command": cpos, "args": args, "timeout_s": 3}));
    assert_nothing_leaked("stdio/python", &py);
    assert!(py.get("tools").is_none(), "{py}");
    let dropped = common::tape_records(&tape)
        .into_iter()
        .filter(|r| r["event"] == "server_message_dropped")
        .count();
    assert!(dropped >= 2, "the drops are not on the tape");
}
