//! Criterion micro-benchmarks of the per-request hot path.
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

use cpos::config::Route;
use cpos::proxy::{strip_hop_by_hop, RouteTable};
use cpos::tape::{ActionSummary, Outcome, TapeRecord};

fn tape_record() -> TapeRecord {
    TapeRecord {
        event: "request",
        request_id: Some("5f3a9c21-1b".into()),
        action: Some(ActionSummary {
            kind: "http.request",
            connector: "tools".into(),
            method: Some("POST".into()),
            path: Some("/tools/echo".into()),
            body_bytes: Some(64),
            body_sha256: Some("a".repeat(64)),
            ..ActionSummary::default()
        }),
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
criterion_main!(hot_path);
