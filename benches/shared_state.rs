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

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpos::client::{fresh_nonce, signature_headers, unix_now, SigningKey};
use cpos::config::Config;
use cpos::gate::scopes::Plane;
use cpos::gate::Gates;
use cpos::server::ConnInfo;
use hdrhistogram::Histogram;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds: u64 = env_or("BENCH_SECONDS", 5);
    let rate: u64 = env_or("BENCH_RATE", 1000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("secret"), "bench-secret").unwrap();
    std::fs::write(d.join("pins"), "ab".repeat(32)).unwrap();
    std::fs::write(
        d.join("keys.json"),
        r#"{"keys": {"bench": {"secret_file": "secret", "scopes": ["*"]}}}"#,
    )
    .unwrap();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut redis = Command::new("redis-server")
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

    let config = |state: &str| {
        Config::from_toml(&format!(
            "[gates]\ntrusted_proxies = [\"127.0.0.1\"]\n\
             [gates.client_cert]\nmode = \"enforce\"\npin_file = \"{d}/pins\"\n\
             [gates.ip_allow]\nenabled = true\nallow = [\"127.0.0.0/8\", \"10.0.0.0/8\"]\n\
             [gates.rate_limit]\nenabled = true\nrequests = 1000000000\nmutation_requests = 1000000000\n\
             [gates.auth]\nmode = \"hmac\"\nkey_registry_file = \"{d}/keys.json\"\n{state}",
            d = d.display()
        ))
        .unwrap()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = || Arc::new(cpos::clock::SystemClock);
    let memory = Gates::from_config(&config("").gates, clock()).unwrap();
    let redis_config = config(&format!(
        "[state]\nbackend = \"redis\"\nredis_url = \"redis://127.0.0.1:{port}/\"\non_failure = \"fail_closed\"\n"
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

/// `rate` PINGs a second on the gates' own connection: what one paced
/// round trip costs on this machine, whatever is sent.
async fn paced_ping(redis: &cpos::shared::Redis, seconds: u64, rate: u64) -> Histogram<u64> {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..seconds * rate {
        tick.tick().await;
        let started = Instant::now();
        redis.ping().await.unwrap();
        histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
    }
    histogram
}

/// `rate` gate passes a second for `seconds`, each timed (signing and the
/// pacing are outside the timing).
async fn paced(gates: &Gates, seconds: u64, rate: u64) -> Histogram<u64> {
    let conn = ConnInfo {
        peer: "127.0.0.1:40000".parse().unwrap(),
        tls: false,
        client_cert: None,
    };
    let key = SigningKey {
        key_id: "bench".into(),
        secret: b"bench-secret".to_vec(),
        agent_id: None,
    };
    let body = br#"{"tool":"echo","arguments":{"text":"hello"}}"#;
    let body_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body));
    let method = http::Method::POST;
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..seconds * rate {
        tick.tick().await;
        let mut req = http::Request::post("/tools/echo")
            .header("x-ssl-client-sha256", "ab".repeat(32))
            .header("x-forwarded-for", "10.1.2.3")
            .header("content-type", "application/json");
        for (k, v) in signature_headers(
            &key,
            &method,
            "/tools/echo",
            body,
            unix_now(),
            &fresh_nonce(),
        ) {
            req = req.header(k, v);
        }
        let mut head = req.body(()).unwrap().into_parts().0;
        let started = Instant::now();
        let mut admission = gates.admit(&conn, &mut head).unwrap();
        gates
            .authenticate(Plane::Data, &head, &body_sha, &mut admission)
            .await
            .unwrap();
        histogram
            .record(started.elapsed().as_micros() as u64)
            .unwrap();
    }
    histogram
}
