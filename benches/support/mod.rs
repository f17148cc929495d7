//! What the benchmarks share: settings from the environment, free ports, a
//! `redis-server` of their own, and every edge gate on with a signed POST
//! to push through them.
#![allow(dead_code)] // each bench uses a part

pub mod servers;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cpos::client::{fresh_nonce, signature_headers, unix_now, SigningKey};
use cpos::server::ConnInfo;

/// `name` from the environment, parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` on a free loopback port, persistence off; its URL.
pub fn start_redis() -> (String, Child) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (Debian: apt-get install redis-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (format!("redis://127.0.0.1:{port}/"), child)
}

/// `cpos serve` on loopback ports of its own, in `dir`, with `args` after
/// the listen flags; returns once it prints its ready line, with the data
/// listener's address.
pub fn spawn_cpos(
    binary: &str,
    dir: &Path,
    args: &[std::ffi::OsString],
    envs: &[(&str, String)],
) -> (std::net::SocketAddr, Child) {
    use std::io::BufRead;
    let mut child = Command::new(binary)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cpos");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&line).expect("cpos ready line");
    (ready["data"].as_str().unwrap().parse().unwrap(), child)
}

/// Every gate on: the fingerprint header from a trusted proxy, an IP
/// allowlist, rate limits too high to refuse, HMAC with a key registry.
/// Writes its files into `dir`; `extra` is appended to the configuration.
pub fn gates_config(dir: &Path, extra: &str) -> cpos::config::Config {
    std::fs::write(dir.join("secret"), "bench-secret").unwrap();
    std::fs::write(dir.join("pins"), "ab".repeat(32)).unwrap();
    std::fs::write(
        dir.join("keys.json"),
        r#"{"keys": {"bench": {"secret_file": "secret", "scopes": ["*"]}}}"#,
    )
    .unwrap();
    cpos::config::Config::from_toml(&format!(
        "[gates]\ntrusted_proxies = [\"127.0.0.1\"]\n\
         [gates.client_cert]\nmode = \"enforce\"\npin_file = \"{d}/pins\"\n\
         [gates.ip_allow]\nenabled = true\nallow = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n\
         [gates.rate_limit]\nenabled = true\nrequests = 1000000000\nmutation_requests = 1000000000\n\
         [gates.auth]\nmode = \"hmac\"\nkey_registry_file = \"{d}/keys.json\"\n{extra}",
        d = dir.display()
    ))
    .unwrap()
}

/// The body every gate bench signs, and its SHA-256.
pub const BODY: &[u8] = br#"{"tool":"echo","arguments":{"text":"hello"}}"#;

/// The trusted proxy the signed requests come through.
pub fn proxy_conn() -> ConnInfo {
    ConnInfo::new("127.0.0.1:40000".parse().unwrap(), false, None)
}

/// SHA-256 of [`BODY`], hex.
pub fn body_sha256() -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(BODY))
}

/// The head of a POST of [`BODY`] signed now with a fresh nonce by the key
/// `gates_config` registers, carrying the pinned fingerprint.
pub fn signed_head() -> http::request::Parts {
    let key = SigningKey {
        key_id: "bench".into(),
        secret: b"bench-secret".to_vec(),
        agent_id: None,
    };
    let mut req = http::Request::post("/tools/echo")
        .header("x-ssl-client-sha256", "ab".repeat(32))
        .header("x-forwarded-for", "10.1.2.3")
        .header("content-type", "application/json");
    for (k, v) in signature_headers(
        &key,
        &http::Method::POST,
        "/tools/echo",
        BODY,
        unix_now(),
        &fresh_nonce(),
    ) {
        req = req.header(k, v);
    }
    req.body(()).unwrap().into_parts().0
}
