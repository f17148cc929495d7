//! cpos's memory as users see it: resident set idle, after its first
//! request (which builds the secret rule set, once), with 512 busy
//! connections, with 10,000 idle keep-alive connections (just opened, and
//! once parked), and after they have all closed (is the memory given
//! back?), against the targets of docs/PERFORMANCE.md.
//!
//! Run: `cargo bench --bench memory` (env: BENCH_BUSY_CONNS=512,
//! BENCH_IDLE_CONNS=10000). cpos runs as its own process on embedded
//! defaults in front of a static upstream, with the connection limits
//! raised so that every connection is admitted and none idles out.

mod support;

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use support::servers::start_static_upstream;
use support::{env_or, spawn_cpos};

/// Resident memory of a process, in KiB: all of it, and its private
/// (anonymous) part, which excludes the binary's shared, reclaimable pages.
#[derive(Clone, Copy)]
struct Rss {
    total: u64,
    anon: u64,
}

impl Rss {
    fn of(pid: u32) -> Rss {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Rss {
            total: field("VmRSS:"),
            anon: field("RssAnon:"),
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to run there.
    }
    let busy: usize = env_or("BENCH_BUSY_CONNS", 512);
    let idle: usize = env_or("BENCH_IDLE_CONNS", 10_000);
    raise_open_files(2 * idle as u64 + 1024);
    let upstream = start_static_upstream();
    let dir = tempfile::tempdir().unwrap();
    let (addr, mut child) = start_cpos(dir.path(), upstream, busy.max(idle) * 2);
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(500));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut rows = vec![("idle", Rss::of(pid), 16.0)];
    runtime.block_on(async {
        // Warm: one request has built what is built once, on first use
        // (the secret rule set); what connections take is measured from here.
        drop(open(addr, 1, 1).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
        rows.push(("warm", Rss::of(pid), 0.0));

        // Busy: every connection sends requests at once, 20 each.
        let mut conns = open(addr, busy, busy).await;
        let sent = futures_util::future::join_all(conns.iter_mut().map(|c| async move {
            let mut ok = 0;
            for _ in 0..20 {
                ok += usize::from(get(c).await);
            }
            ok
        }))
        .await;
        let ok: usize = sent.iter().sum();
        assert_eq!(ok, busy * 20, "every request through cpos answered");
        rows.push(("busy", Rss::of(pid), 64.0));
        drop(conns);
        tokio::time::sleep(Duration::from_secs(1)).await;

        // Idle keep-alive: each connection made one request and stays open.
        // Read 1 s after the last one opened, then once they have been
        // quiet long enough to be parked (1 s) and the freed memory
        // trimmed (checked every 5 s).
        let conns = open(addr, idle, 256).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        rows.push(("just opened", Rss::of(pid), 0.0));
        tokio::time::sleep(Duration::from_secs(7)).await;
        rows.push(("idle keep-alive", Rss::of(pid), 150.0));
        drop(conns);
    });
    // cpos compares open connections with their peak every 5 s.
    std::thread::sleep(Duration::from_secs(7));
    rows.push(("closed", Rss::of(pid), 0.0));

    let (warm, after) = (rows[1].1.total, rows[5].1.total);
    let peak = rows[3].1.total.max(rows[4].1.total);
    let parked = rows[4].1.total;
    println!("\n## cpos memory (VmRSS; private = RssAnon)\n");
    println!("| state | RSS MiB | private MiB | target |");
    println!("|---|---:|---:|---|");
    for (name, rss, target) in &rows {
        let label = match *name {
            "busy" => format!("{busy} busy connections"),
            "just opened" => format!("{idle} keep-alive connections, 1 s after the last opened"),
            "idle keep-alive" => format!("{idle} idle keep-alive connections, 8 s on (parked)"),
            "warm" => "after the first request (secret rule set built)".to_owned(),
            "closed" => "7 s after they all closed".to_owned(),
            other => other.to_owned(),
        };
        let target = if matches!(*name, "just opened" | "warm") {
            "—".to_owned()
        } else if *target > 0.0 {
            let met = (rss.total as f64 / 1024.0) <= *target;
            format!("≤ {target} MiB: {}", if met { "met" } else { "missed" })
        } else {
            // What the idle connections took above the warm process, and
            // how much of it came back.
            let returned =
                peak.saturating_sub(after) as f64 / peak.saturating_sub(warm).max(1) as f64;
            format!(
                "{:.0} % of what they took returned (≥ 90 %: {})",
                returned * 100.0,
                if returned >= 0.9 { "met" } else { "missed" }
            )
        };
        println!(
            "| {label} | {:.1} | {:.1} | {target} |",
            rss.total as f64 / 1024.0,
            rss.anon as f64 / 1024.0
        );
    }
    println!(
        "\nper idle keep-alive connection: {:.1} KiB just opened, {:.1} KiB parked",
        rows[3].1.total.saturating_sub(warm) as f64 / idle.max(1) as f64,
        parked.saturating_sub(warm) as f64 / idle.max(1) as f64
    );
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
}

/// Opens `n` connections to `addr`, `at_once` at a time, each having made
/// one GET that was answered.
async fn open(addr: SocketAddr, n: usize, at_once: usize) -> Vec<SendRequest<Empty<Bytes>>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(at_once));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                assert!(get(&mut sender).await, "a GET through cpos answered");
                sender
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// One GET on `sender`, its body read; true when answered 200.
async fn get(sender: &mut SendRequest<Empty<Bytes>>) -> bool {
    if sender.ready().await.is_err() {
        return false;
    }
    let req = Request::get("/api/items?q=memory")
        .header("host", "cpos")
        .body(Empty::new())
        .unwrap();
    match sender.send_request(req).await {
        Ok(resp) => {
            let ok = resp.status() == 200;
            ok && resp.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

/// cpos on embedded defaults in front of `upstream`, admitting `max`
/// connections and idling none out during the run.
fn start_cpos(dir: &std::path::Path, upstream: SocketAddr, max: usize) -> (SocketAddr, Child) {
    let config = dir.join("memory.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmax_connections = {max}\nmax_connections_per_ip = {max}\nidle_timeout_ms = 600000\n"
        ),
    )
    .unwrap();
    let args: Vec<std::ffi::OsString> = vec![
        "--upstream".into(),
        format!("http://{upstream}").into(),
        "--tape-dir".into(),
        dir.join("tape").into(),
        "--config".into(),
        config.into(),
    ];
    spawn_cpos(env!("CARGO_BIN_EXE_cpos"), dir, &args, &[])
}

/// Lifts this process's open-file limit (inherited by cpos) to `want`, or
/// as far as the hard limit allows.
fn raise_open_files(want: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < want {
            limit.rlim_cur = want.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
