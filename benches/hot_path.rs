//! Criterion micro-benchmarks of the per-request hot path.
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use cpos::config::Route;
use cpos::proxy::{strip_hop_by_hop, RouteTable};
use cpos::tape::{ActionSummary, Outcome, TapeRecord};

fn tape_record() -> TapeRecord {
    TapeRecord {
        event: "request",
        request_id: Some("5f3a9c21-1b".into()),
        action: Some(
            ActionSummary {
                kind: "http.request",
                connector: "tools".into(),
                method: Some("POST".into()),
                path: Some("/tools/echo".into()),
                body_bytes: Some(64),
                body_sha256: Some("a".repeat(64)),
                ..ActionSummary::default()
            }
            .into(),
        ),
        outcome: Some(Outcome {
            code: None,
            duration_us: 180,
            status: 200,
            upstream_status: Some(200),
        }),
        seq: 42,
        ts: "2026-11-25T19:30:35.123456Z".into(),
        ..TapeRecord::default()
    }
}

fn benches(c: &mut Criterion) {
    let record = tape_record();
    let mut buf = Vec::with_capacity(1024);
    let prev = cpos::tape::GENESIS;
    c.bench_function("tape/serialise+chain-hash one record", |b| {
        b.iter(|| {
            buf.clear();
            serde_json::to_writer(&mut buf, black_box(&record)).unwrap();
            black_box(cpos::tape::row_hash(prev, &buf));
        })
    });

    let routes: Vec<Route> = ["/", "/api", "/mcp", "/agent-adapter", "/tools/v2"]
        .iter()
        .enumerate()
        .map(|(i, p)| Route {
            name: format!("r{i}"),
            prefix: (*p).into(),
            upstream: "http://127.0.0.1:1".into(),
            strip_prefix: false,
            host: Default::default(),
            http2: false,
            inspect: Default::default(),
            tool_path_prefix: None,
            protocol: Default::default(),
            tools_allow: Vec::new(),
            tools_deny: Vec::new(),
            command: Vec::new(),
            env_secret_files: Default::default(),
            requires_human_approval: false,
            enabled: true,
        })
        .collect();
    let table = RouteTable::build(&routes, None).unwrap();
    c.bench_function("routes/find among 5 prefixes", |b| {
        b.iter(|| black_box(table.find(black_box("/tools/v2/run"))))
    });

    let mut headers = http::HeaderMap::new();
    for (k, v) in [
        ("host", "127.0.0.1:7878"),
        ("content-type", "application/json"),
        ("content-length", "64"),
        ("user-agent", "agent/1.0"),
        ("accept", "*/*"),
        ("x-agent-id", "agent-7"),
    ] {
        headers.insert(k, v.parse().unwrap());
    }
    c.bench_function("headers/strip hop-by-hop (typical request)", |b| {
        b.iter(|| {
            let mut h = headers.clone();
            strip_hop_by_hop(&mut h);
            black_box(h)
        })
    });
}

criterion_group!(hot_path, benches);

/// The whole gate chain on a typical signed POST: client certificate (header
/// from a trusted proxy), IP allowlist, per-IP rate limit, HMAC + scope +
/// replay, per-principal rate limit.
fn gate_chain(c: &mut Criterion) {
    use cpos::gate::scopes::Plane;
    use cpos::gate::Gates;
    use futures_util::FutureExt;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    // Criterion signs millions of requests: a short replay window lets
    // their nonces expire (the default 300 s fills the 1M-nonce cache and
    // the chain answers `nonce_cache_full`).
    let config = support::gates_config(
        dir.path(),
        "timestamp_window_seconds = 1\nnonce_cache_capacity = 4000000\n",
    );
    let gates = Gates::from_config(&config.gates, Arc::new(cpos::clock::SystemClock)).unwrap();
    let conn = support::proxy_conn();
    let body_sha = support::body_sha256();
    c.bench_function("gates/full chain on a signed POST", |b| {
        b.iter_batched(
            support::signed_head,
            |mut head| {
                let mut admission = gates.admit(&conn, &mut head).unwrap();
                // In-process state never waits: the future is ready at once.
                gates
                    .authenticate(Plane::Data, &head, &body_sha, &mut admission)
                    .now_or_never()
                    .expect("memory-backed gates never wait")
                    .unwrap();
                black_box(admission)
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(gate_benches, gate_chain);
criterion_main!(hot_path, gate_benches, classification_benches);

/// Classification with the default policy, and secret scanning.
fn classification(c: &mut Criterion) {
    use cpos::action::{ActionContract, Kind};
    let policy = cpos::policy::Policy::embedded().unwrap();
    let mcp = ActionContract {
        kind: Kind::McpToolsCall,
        connector: Some("files".into()),
        tool: Some("read_file".into()),
        arguments: Some(
            serde_json::json!({"path": "src/main.rs", "encoding": "utf-8", "max_bytes": 65536}),
        ),
        ..ActionContract::default()
    };
    c.bench_function("policy/classify an MCP tools/call", |b| {
        b.iter(|| black_box(policy.classify(black_box(&mcp))))
    });
    let five = ActionContract {
        kind: Kind::CommandRequest,
        commands: vec![
            "cd app && git status && cargo build --release | tee build.log; ls -la target".into(),
        ],
        ..ActionContract::default()
    };
    c.bench_function("policy/classify a 5-command line", |b| {
        b.iter(|| black_box(policy.classify(black_box(&five))))
    });

    let mut text = String::new();
    while text.len() < 4096 {
        text.push_str("fn main() { let url = \"https://example.com/api\"; println!(\"{}\", url); } // plain code\n");
    }
    text.truncate(4096);
    c.bench_function("secrets/scan 4 KiB argument", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            cpos::secrets::scan_text(black_box(&text), "arguments.content", &mut out);
            black_box(out)
        })
    });
}

criterion_group!(classification_benches, classification);
