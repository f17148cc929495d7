//! Load harness: one run measures a small JSON POST
//!   1. directly against a hyper upstream,
//!   2. through nginx as a plain reverse proxy,
//!   3. through `cpos serve` (tape on),
//!
//! at a fixed rate (open loop: latency per request, HDR histogram) and
//! closed-loop (peak throughput), and prints ratios.
//!
//! Run: `cargo bench --bench load` (env: BENCH_SECONDS=5 BENCH_RATE=1000
//! BENCH_CONNS=32 BENCH_TARGETS=direct,nginx,cpos CPOS_BENCH_ARGS="...").
//! Add `baseline` to BENCH_TARGETS with `BENCH_BASELINE_BIN=/path/to/cpos`
//! to measure an earlier build in the same run (before/after figures).
//! `BENCH_GATES=1` turns every edge gate on for cpos (fingerprint header from
//! a trusted proxy, IP allowlist, rate limits, HMAC with a key registry) and
//! signs each request in the load client.
//! nginx comes from Debian's `nginx-light` package (installed if missing and
//! running as root).
//!
//! `haproxy` in BENCH_TARGETS adds HAProxy as a second plain reverse proxy
//! (`http-reuse always`; Debian's `haproxy`, installed if missing and
//! running as root). `BENCH_WORKERS=N` gives every proxy N workers (nginx
//! `worker_processes`, HAProxy `nbthread`, cpos `runtime.worker_threads`),
//! for per-core comparisons; unset, each uses its default.
//!
//! `cpos-redis` in BENCH_TARGETS runs cpos with shared state in a
//! `redis-server` the harness starts on a free loopback port (persistence
//! off): `BENCH_GATES=1 BENCH_TARGETS=direct,cpos,cpos-redis` compares
//! memory-backed and Redis-backed gates in the same run.
//!
//! `hyper` in BENCH_TARGETS adds a bare hyper-util reverse proxy on one
//! thread (`support::servers`): the floor of the HTTP stack cpos is built
//! on, measured in the same run as nginx, HAProxy and cpos.
//!
//! `BENCH_SCENARIO=mcp` measures MCP instead: `tools/call` of the reference
//! server's cheap `echo` tool (`@modelcontextprotocol/server-everything`
//! from tests/mcp, streamable HTTP, one session, SSE answers), direct vs
//! through cpos with an MCP route and the default policy (add
//! `BENCH_GATES=1` for every gate). `BENCH_MCP_UPSTREAM=rust-json` or
//! `rust-sse` swaps the Node server for a fast Rust one answering in JSON
//! or SSE, so the gateway's own cost shows.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::servers::{start_mcp_upstream, start_plain_proxy, start_static_upstream, McpAnswer};
use support::{env_or, free_port, spawn_cpos, start_redis};
use tokio::sync::Mutex;

const BODY: &str = r#"{"tool":"echo","arguments":{"text":"hello from the load harness"}}"#;

/// Signing key and pinned fingerprint used when `BENCH_GATES=1`.
const BENCH_SECRET: &str = "bench-secret-0123456789";
const BENCH_PIN: &str = "abababababababababababababababababababababababababababababababab";

/// The MCP session every target uses (`BENCH_SCENARIO=mcp`).
static MCP_SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// JSON-RPC ids, unique within the session.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn mcp_scenario() -> bool {
    std::env::var("BENCH_SCENARIO").is_ok_and(|v| v == "mcp")
}

/// The fast Rust MCP upstream asked for with `BENCH_MCP_UPSTREAM`, if any.
fn fast_mcp_upstream() -> Option<McpAnswer> {
    match std::env::var("BENCH_MCP_UPSTREAM").ok()?.as_str() {
        "rust-json" => Some(McpAnswer::Json),
        "rust-sse" | "rust" => Some(McpAnswer::Sse),
        _ => None,
    }
}

fn bench_path() -> &'static str {
    if mcp_scenario() {
        "/mcp"
    } else {
        "/tools/echo"
    }
}

fn gates_on() -> bool {
    std::env::var("BENCH_GATES").is_ok_and(|v| v == "1")
}

/// Configuration text turning every gate on.
fn gates_config(dir: &Path) -> String {
    std::fs::write(dir.join("secret"), BENCH_SECRET).unwrap();
    std::fs::write(dir.join("pins"), BENCH_PIN).unwrap();
    std::fs::write(
        dir.join("keys.json"),
        r#"{"keys": {"bench": {"secret_file": "secret", "scopes": ["*"]}}}"#,
    )
    .unwrap();
    format!(
            "[gates]\ntrusted_proxies = [\"127.0.0.1\"]\n\
             [gates.client_cert]\nmode = \"enforce\"\npin_file = \"{d}/pins\"\n\
             [gates.ip_allow]\nenabled = true\nallow = [\"127.0.0.0/8\"]\n\
             [gates.rate_limit]\nenabled = true\nrequests = 1000000000\nmutation_requests = 1000000000\n\
             [gates.auth]\nmode = \"hmac\"\nkey_registry_file = \"{d}/keys.json\"\n",
            d = dir.display()
        )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to run there.
    }
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rate: u64 = env_or("BENCH_RATE", 1000);
    let conns: usize = env_or("BENCH_CONNS", 32);
    let targets: String = env_or("BENCH_TARGETS", "direct,nginx,cpos".to_owned());

    let dir = tempfile::tempdir().unwrap();
    let (upstream, node) = if mcp_scenario() {
        let (addr, node) = match fast_mcp_upstream() {
            Some(answer) => (start_mcp_upstream(answer), None),
            None => {
                let (addr, node) = start_everything(dir.path());
                (addr, Some(node))
            }
        };
        MCP_SESSION.set(open_session(addr)).unwrap();
        (addr, node)
    } else {
        (start_static_upstream(), None)
    };
    let mut results = Vec::new();
    let mut rss = None;
    let mut redis_server: Option<(String, Child)> = None;
    let mut plain_proxy = None;
    if node.is_some() {
        // A JIT-compiled server is slow for its first seconds: warm it up
        // unmeasured so neither target pays for it.
        let _ = measure("warm-up", upstream, 2, rate, conns);
    }
    // Rounds interleave the targets, so drift in the upstream (a Node server
    // warming, its session store growing) is shared, not pinned on one.
    let rounds: usize = env_or("BENCH_ROUNDS", if mcp_scenario() { 3 } else { 1 });
    let order: Vec<&str> = targets.split(',').collect();
    for target in (0..rounds).flat_map(|_| order.iter().copied()) {
        let (addr, child) = match target {
            "direct" => (upstream, None),
            "hyper" => (
                *plain_proxy.get_or_insert_with(|| start_plain_proxy(upstream)),
                None,
            ),
            "haproxy" => match start_haproxy(dir.path(), upstream) {
                Some((addr, child)) => (addr, Some(child)),
                None => {
                    eprintln!("haproxy not available; skipping the HAProxy baseline");
                    continue;
                }
            },
            "nginx" => match start_nginx(dir.path(), upstream) {
                Some((addr, child)) => (addr, Some(child)),
                None => {
                    eprintln!("nginx not available; skipping the nginx baseline");
                    continue;
                }
            },
            "cpos" | "baseline" | "cpos-redis" => {
                // One Redis for every round (its state persists across them,
                // as a deployment's would).
                let redis_url = (target == "cpos-redis")
                    .then(|| redis_server.get_or_insert_with(start_redis).0.clone());
                let (addr, child) = start_cpos(dir.path(), upstream, target, redis_url);
                rss = Some(rss_kib(child.id()));
                (addr, Some(child))
            }
            other => panic!("unknown target {other}"),
        };
        let result = measure(target, addr, seconds, rate, conns);
        if target == "cpos" {
            if let Some(child) = &child {
                rss = rss.map(|idle| (idle.0, rss_kib(child.id()).0));
            }
        }
        if let Some(mut child) = child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
        merge(&mut results, result);
    }
    for mut child in node.into_iter().chain(redis_server.map(|(_, c)| c)) {
        let _ = child.kill();
        let _ = child.wait();
    }
    report(&results, rate, conns, seconds, rss);
}

/// Adds a round's figures to its target's: histograms merge, peak rates average.
fn merge(results: &mut Vec<Measured>, round: Measured) {
    match results.iter_mut().find(|r| r.target == round.target) {
        None => results.push(round),
        Some(r) => {
            r.fixed.add(&round.fixed).unwrap();
            r.peak.add(&round.peak).unwrap();
            r.fixed_errors += round.fixed_errors;
            r.peak_errors += round.peak_errors;
            r.peak_rps = (r.peak_rps * r.rounds as f64 + round.peak_rps) / (r.rounds + 1) as f64;
            r.rounds += 1;
        }
    }
}

struct Measured {
    target: String,
    rounds: usize,
    fixed: Histogram<u64>,
    fixed_errors: u64,
    peak_rps: f64,
    peak: Histogram<u64>,
    peak_errors: u64,
}

fn measure(target: &str, addr: SocketAddr, seconds: u64, rate: u64, conns: usize) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let url = format!("http://{addr}{}", bench_path());
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(conns * 2)
            .build(HttpConnector::new());
        // Warm-up: open connections, fill pools.
        closed_loop(&client, &url, conns, Duration::from_millis(500)).await;
        let (fixed, fixed_errors) =
            fixed_rate(&client, &url, rate, Duration::from_secs(seconds)).await;
        let started = Instant::now();
        let (peak, peak_errors) =
            closed_loop(&client, &url, conns, Duration::from_secs(seconds)).await;
        let peak_rps = peak.len() as f64 / started.elapsed().as_secs_f64();
        eprintln!("{target}: done");
        Measured {
            target: target.to_owned(),
            rounds: 1,
            fixed,
            fixed_errors,
            peak_rps,
            peak,
            peak_errors,
        }
    })
}

async fn one(client: &Client<HttpConnector, Full<Bytes>>, url: &str) -> bool {
    let mut req = Request::post(url).header("content-type", "application/json");
    let body = match MCP_SESSION.get() {
        Some(session) => {
            req = req
                .header("accept", "application/json, text/event-stream")
                .header("mcp-session-id", session.as_str())
                .header("mcp-protocol-version", "2025-03-26");
            let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Bytes::from(format!(
                r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello from the load harness"}}}}}}"#
            ))
        }
        None => Bytes::from_static(BODY.as_bytes()),
    };
    if gates_on() {
        let key = cpos::client::SigningKey {
            key_id: "bench".into(),
            secret: BENCH_SECRET.as_bytes().to_vec(),
            agent_id: None,
        };
        let headers = cpos::client::signature_headers(
            &key,
            &http::Method::POST,
            bench_path(),
            &body,
            cpos::client::unix_now(),
            &cpos::client::fresh_nonce(),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req = req.header("x-ssl-client-sha256", BENCH_PIN);
    }
    let req = req.body(Full::new(body)).unwrap();
    match client.request(req).await {
        Ok(resp) => {
            let ok = resp.status() == 200;
            ok && resp.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

/// Requests sent every 1/rate s without waiting for answers.
async fn fixed_rate(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    rate: u64,
    duration: Duration,
) -> (Histogram<u64>, u64) {
    let histogram = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = tokio::time::Instant::now();
    let total = rate * duration.as_secs();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + period * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let client = client.clone();
        let url = url.to_owned();
        let histogram = histogram.clone();
        let errors = errors.clone();
        tasks.push(tokio::spawn(async move {
            // The sender never waits for answers (open loop), so latency
            // counts from the actual send: tokio's 1 ms timer granularity
            // would dominate a "from scheduled time" figure.
            let sent = tokio::time::Instant::now();
            let ok = one(&client, &url).await;
            let us = sent.elapsed().as_micros() as u64;
            if ok {
                histogram.lock().await.record(us.max(1)).unwrap();
            } else {
                errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let h = histogram.lock().await.clone();
    (h, errors.load(std::sync::atomic::Ordering::Relaxed))
}

async fn closed_loop(
    client: &Client<HttpConnector, Full<Bytes>>,
    url: &str,
    conns: usize,
    duration: Duration,
) -> (Histogram<u64>, u64) {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new(3).unwrap();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if one(&client, &url).await {
                    h.record((t.elapsed().as_micros() as u64).max(1)).unwrap();
                } else {
                    errors += 1;
                }
            }
            (h, errors)
        }));
    }
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut errors = 0;
    for t in tasks {
        let (h, e) = t.await.unwrap();
        all.add(h).unwrap();
        errors += e;
    }
    (all, errors)
}

fn nginx_binary() -> Option<String> {
    for candidate in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(candidate).exists() {
            return Some(candidate.to_owned());
        }
    }
    let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
    if root {
        eprintln!("installing nginx-light for the baseline…");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "nginx-light"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
        if Path::new("/usr/sbin/nginx").exists() {
            return Some("/usr/sbin/nginx".to_owned());
        }
    }
    None
}

fn start_nginx(dir: &Path, upstream: SocketAddr) -> Option<(SocketAddr, Child)> {
    let nginx = nginx_binary()?;
    let port = free_port();
    let prefix = dir.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).unwrap();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes {workers};\nerror_log {p}/logs/error.log warn;\npid {p}/nginx.pid;\nuser root;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               upstream up {{ server {upstream}; keepalive 128; }}\n\
               server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://up;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }}\n  }}\n}}\n",
            p = prefix.display(),
            workers = workers().map_or("auto".to_owned(), |n| n.to_string()),
        ),
    )
    .unwrap();
    let child = Command::new(nginx)
        .args([
            "-c",
            conf.to_str().unwrap(),
            "-p",
            prefix.to_str().unwrap(),
            "-g",
            "daemon off;",
        ])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    listening(port, child)
}

/// `child` once it accepts connections on `port` (2 s at most).
fn listening(port: u16, child: Child) -> Option<(SocketAddr, Child)> {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Some((addr, child));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Workers per proxy (`BENCH_WORKERS`), when set.
fn workers() -> Option<usize> {
    std::env::var("BENCH_WORKERS").ok()?.parse().ok()
}

/// HAProxy as a plain HTTP reverse proxy with upstream keep-alive.
fn start_haproxy(dir: &Path, upstream: SocketAddr) -> Option<(SocketAddr, Child)> {
    let haproxy = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(str::to_owned)
        .or_else(|| {
            let root = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
            if !root {
                return None;
            }
            eprintln!("installing haproxy for the baseline…");
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-qq", "haproxy"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
            Path::new("/usr/sbin/haproxy")
                .exists()
                .then(|| "/usr/sbin/haproxy".to_owned())
        })?;
    let port = free_port();
    let conf = dir.join("haproxy.cfg");
    let threads = workers().map_or(String::new(), |n| format!("  nbthread {n}\n"));
    std::fs::write(
        &conf,
        format!(
            "global\n{threads}  maxconn 4096\n\
             defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  http-reuse always\n  option forwardfor\n\
             frontend f\n  bind 127.0.0.1:{port}\n  default_backend b\n\
             backend b\n  server up {upstream}\n"
        ),
    )
    .unwrap();
    let child = Command::new(haproxy)
        .args(["-f", conf.to_str().unwrap(), "-db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    listening(port, child)
}

/// Starts this build's `cpos`, or for `baseline` the binary named by
/// `BENCH_BASELINE_BIN` (an earlier build, measured in the same run); with
/// `redis`, its state is shared in that Redis.
fn start_cpos(
    dir: &Path,
    upstream: SocketAddr,
    target: &str,
    redis: Option<String>,
) -> (SocketAddr, Child) {
    let baseline = target == "baseline";
    let extra: String = env_or("CPOS_BENCH_ARGS", String::new());
    let binary = if baseline {
        std::env::var("BENCH_BASELINE_BIN")
            .expect("BENCH_TARGETS has `baseline`: set BENCH_BASELINE_BIN")
    } else {
        env!("CARGO_BIN_EXE_cpos").to_owned()
    };
    let dir = &dir.join(target);
    std::fs::create_dir_all(dir).unwrap();
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if !mcp_scenario() {
        args.push("--upstream".into());
        args.push(format!("http://{upstream}").into());
    }
    args.push("--tape-dir".into());
    args.push(dir.join("tape").into());
    args.push("--config".into());
    args.push(cpos_config(dir, upstream, redis.as_deref()).into());
    args.extend(extra.split_whitespace().map(Into::into));
    let envs: Vec<(&str, String)> = workers()
        .map(|n| ("CPOS_RUNTIME__WORKER_THREADS", n.to_string()))
        .into_iter()
        .collect();
    let started = spawn_cpos(&binary, dir, &args, &envs);
    std::thread::sleep(Duration::from_millis(200));
    started
}

/// The cpos configuration for this run: gates and the MCP route as asked.
fn cpos_config(dir: &Path, upstream: SocketAddr, redis: Option<&str>) -> std::path::PathBuf {
    let mut text = String::new();
    if gates_on() {
        text.push_str(&gates_config(dir));
    }
    if let Some(url) = redis {
        text.push_str(&format!(
            "\n[state]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_failure = \"fail_closed\"\n"
        ));
    }
    if mcp_scenario() {
        text.push_str(&format!(
            "\n[mcp]\npins_file = \"{d}/pins.json\"\n\n[[routes]]\nname = \"everything\"\nprefix = \"/mcp\"\nupstream = \"http://{upstream}\"\nprotocol = \"mcp\"\n",
            d = dir.display()
        ));
    }
    let path = dir.join("cpos-bench.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// server-everything (from tests/mcp; `npm ci --prefix tests/mcp`) over
/// streamable HTTP on a loopback port.
fn start_everything(dir: &Path) -> (SocketAddr, Child) {
    let peers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp");
    let port = free_port();
    let log = std::fs::File::create(dir.join("everything.log")).unwrap();
    let mut child = Command::new("node")
        .arg("--require")
        .arg(peers.join("loopback.cjs"))
        .arg(peers.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node and the MCP peers (npm ci --prefix tests/mcp)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return (addr, child);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server-everything did not start");
}

/// Initializes an MCP session directly with the server; returns its id.
fn open_session(addr: SocketAddr) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let post = |body: &'static str, session: Option<&str>| {
            let mut req = Request::post(format!("http://{addr}/mcp"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream");
            if let Some(s) = session {
                req = req
                    .header("mcp-session-id", s)
                    .header("mcp-protocol-version", "2025-03-26");
            }
            req.body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap()
        };
        let init = client
            .request(post(
                r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"load","version":"1"}}}"#,
                None,
            ))
            .await
            .unwrap();
        let session = init.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let _ = init.into_body().collect().await;
        let done = client
            .request(post(
                r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                Some(&session),
            ))
            .await
            .unwrap();
        let _ = done.into_body().collect().await;
        session
    })
}

/// (idle RSS, RSS now) in KiB from /proc.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (kib, kib)
}

fn us(h: &Histogram<u64>, q: f64) -> u64 {
    h.value_at_quantile(q)
}

/// What `ours` adds over `theirs`: latency at the fixed rate, and the peak
/// throughput ratio.
fn compare(title: &str, ours: &Measured, theirs: &Measured, rate: u64) {
    let added = |q: f64| us(&ours.fixed, q) as i64 - us(&theirs.fixed, q) as i64;
    println!("\n## {title}\n");
    println!(
        "- added latency at {rate} req/s: p50 {:+} µs, p99 {:+} µs, p99.9 {:+} µs",
        added(0.5),
        added(0.99),
        added(0.999),
    );
    println!(
        "- peak throughput ratio {}/{}: {:.2}",
        ours.target,
        theirs.target,
        ours.peak_rps / theirs.peak_rps
    );
}

fn report(results: &[Measured], rate: u64, conns: usize, seconds: u64, rss: Option<(u64, u64)>) {
    println!(
        "\n## Fixed rate: {rate} req/s for {seconds} s (open loop, latency per request, µs)\n"
    );
    println!("| target | p50 | p99 | p99.9 | errors |");
    println!("|---|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.target,
            us(&r.fixed, 0.5),
            us(&r.fixed, 0.99),
            us(&r.fixed, 0.999),
            r.fixed_errors
        );
    }
    println!("\n## Peak: closed loop, {conns} connections, {seconds} s\n");
    println!("| target | req/s | p50 µs | p99 µs | p99.9 µs | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in results {
        println!(
            "| {} | {:.0} | {} | {} | {} | {} |",
            r.target,
            r.peak_rps,
            us(&r.peak, 0.5),
            us(&r.peak, 0.99),
            us(&r.peak, 0.999),
            r.peak_errors
        );
    }
    let find = |name: &str| results.iter().find(|r| r.target == name);
    for (ours, theirs, title) in [
        ("cpos", "direct", "cpos vs direct"),
        ("cpos", "nginx", "cpos vs nginx"),
        ("cpos", "haproxy", "cpos vs HAProxy"),
        (
            "cpos",
            "hyper",
            "cpos vs a bare hyper proxy (the stack's floor)",
        ),
        ("hyper", "nginx", "bare hyper proxy vs nginx"),
        (
            "cpos",
            "baseline",
            "cpos vs the baseline build (BENCH_BASELINE_BIN)",
        ),
        (
            "cpos-redis",
            "cpos",
            "Redis-backed vs memory-backed state (same run)",
        ),
    ] {
        if let (Some(ours), Some(theirs)) = (find(ours), find(theirs)) {
            compare(title, ours, theirs, rate);
        }
    }
    if let Some((idle, after)) = rss {
        println!(
            "- cpos RSS: {:.1} MiB idle, {:.1} MiB after load",
            idle as f64 / 1024.0,
            after as f64 / 1024.0
        );
    }
}
