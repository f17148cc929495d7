//! The MCP peers of the end-to-end tests: the official TypeScript SDK
//! client (tests/mcp/client.mjs) and helpers to start servers beside it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use serde_json::{json, Value};

/// tests/mcp, with its npm packages installed.
pub fn peers() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk").is_dir(),
        "the MCP peers are not installed: run tests/run.sh, or `npm ci --prefix tests/mcp`"
    );
    dir
}

/// A node process that is killed when the test ends.
pub struct Node(pub Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the SDK client with a plan; returns its report.
pub fn client(plan: Value) -> Value {
    let out = Command::new("node")
        .arg(peers().join("client.mjs"))
        .arg(plan.to_string())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "client report not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(report.get("error").is_none(), "client failed: {report}");
    report
}

pub fn http_plan(url: &str, steps: Value) -> Value {
    json!({"transport": "http", "url": url, "steps": steps})
}

pub fn tool_names(step: &Value) -> Vec<String> {
    step["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {step}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

pub fn mcp_route(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\nprefix = \"/mcp\"\nupstream = \"http://127.0.0.1:{port}\"\nprotocol = \"mcp\"\n{extra}\n"
    )
}
