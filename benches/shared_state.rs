//! Memory-backed against Redis-backed gates, in one run: every edge gate on
//! (fingerprint from a trusted proxy, IP allowlist, rate limits, HMAC with
//! a key registry), a signed POST's head through `admit` + `authenticate`,
//! paced at `BENCH_RATE` calls a second (default 1,000), each call timed
//! into an HDR histogram. The Redis one is a real `redis-server` started
//! here on a free loopback port, persistence off; its gate step is one
//! round trip (nonce and buckets in one Lua script).
//!
//! Run: `cargo bench --bench shared_state` (env: BENCH_SECONDS=5
//! BENCH_RATE=1000 BENCH_ROUNDS=3). `cargo bench --bench load` with
//! `BENCH_TARGETS=direct,cpos,cpos-redis` measures the same end to end.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use cpos::gate::scopes::Plane;
use cpos::gate::Gates;
use hdrhistogram::Histogram;
use support::env_or;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rate: u64 = env_or("BENCH_RATE", 1000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().unwrap();
    let (url, mut redis) = support::start_redis();
    let config = |state: &str| support::gates_config(dir.path(), state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = || Arc::new(cpos::clock::SystemClock);
    let memory = Gates::from_config(&config("").gates, clock()).unwrap();
    let redis_config = config(&format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"{url}\"\non_failure = \"fail_closed\"\n"
    ));
    let _runtime = runtime.enter();
    let redis_conn = Arc::new(cpos::shared::Redis::open(&redis_config.state).unwrap());
    let shared = runtime.block_on(async {
        redis_conn.ping().await.expect("Redis answers");
        Gates::with_shared_state(
            &redis_config.gates,
            clock(),
            Arc::new(cpos::shared::gate::SharedGate::new(redis_conn.clone())),
        )
        .unwrap()
    });

    let mut results = [
        ("memory", Histogram::<u64>::new(3).unwrap()),
        ("redis", Histogram::<u64>::new(3).unwrap()),
        (
            "PING alone (the round trip's floor)",
            Histogram::<u64>::new(3).unwrap(),
        ),
    ];
    for _ in 0..rounds {
        for (i, gates) in [&memory, &shared].into_iter().enumerate() {
            let h = runtime.block_on(paced(gates, seconds, rate));
            results[i].1.add(&h).unwrap();
        }
        let h = runtime.block_on(paced_ping(&redis_conn, seconds, rate));
        results[2].1.add(&h).unwrap();
    }
    let _ = redis.kill();
    let _ = redis.wait();

    println!("\n## Gates at {rate} calls/s, {rounds} × {seconds} s each (µs per call)\n");
    println!("| state | p50 | p90 | p99 | p99.9 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, h) in &results {
        println!(
            "| {name} | {} | {} | {} | {} |",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999)
        );
    }
    let p50 = |i: usize| results[i].1.value_at_quantile(0.5) as i64;
    println!(
        "\n- Redis-backed gates add p50 +{} µs over memory-backed gates",
        p50(1) - p50(0)
    );
}

/// Calls `call` `rate` times a second for `seconds`; each call answers
/// the microseconds it measured (what it prepares is left out).
async fn pace(seconds: u64, rate: u64, mut call: impl AsyncFnMut() -> u64) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..seconds * rate {
        tick.tick().await;
        histogram.record(call().await).unwrap();
    }
    histogram
}

/// PINGs on the gates' own connection: what one paced round trip costs on
/// this machine, whatever is sent.
async fn paced_ping(redis: &cpos::shared::Redis, seconds: u64, rate: u64) -> Histogram<u64> {
    pace(seconds, rate, async || {
        let started = Instant::now();
        redis.ping().await.unwrap();
        started.elapsed().as_micros() as u64
    })
    .await
}

/// Gate passes: a signed POST's head through `admit` + `authenticate`
/// (the signing is outside the timing).
async fn paced(gates: &Gates, seconds: u64, rate: u64) -> Histogram<u64> {
    let conn = support::proxy_conn();
    let body_sha = support::body_sha256();
    pace(seconds, rate, async || {
        let mut head = support::signed_head();
        let started = Instant::now();
        let mut admission = gates.admit(&conn, &mut head).unwrap();
        gates
            .authenticate(Plane::Data, &head, &body_sha, &mut admission)
            .await
            .unwrap();
        started.elapsed().as_micros() as u64
    })
    .await
}
