//! Many replicas over one real `redis-server` (started here on a free
//! loopback port, persistence off): rate limits and replay nonces hold
//! across sidecars, a Redis that goes away is the configured behaviour
//! (fail closed, or local decisions marked on the tape) with no request
//! waiting past the deadline, and everything comes back by itself.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::redis::RedisServer;
use common::*;
use cpos::client::{fresh_nonce, signature_headers, unix_now, SigningKey};
use http::{Method, Request};
use http_body_util::Full;

const SECRET: &str = "replica-secret-41d9a7c3";

/// Key registry, URL file and route shared by every replica of a test.
fn shared_config(dir: &Path, redis: &RedisServer, upstream: std::net::SocketAddr) -> String {
    std::fs::write(dir.join("key"), format!("{SECRET}\n")).unwrap();
    std::fs::write(dir.join("key-b"), "other-secret-5c1e\n").unwrap();
    std::fs::write(
        dir.join("keys.json"),
        serde_json::json!({"keys": {
            "k-a": {"secret_file": "key", "scopes": ["*"]},
            "k-b": {"secret_file": "key-b", "scopes": ["*"]},
        }})
        .to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("redis-url"), redis.url()).unwrap();
    format!(
        "[gates.auth]\nmode = \"hmac\"\nkey_registry_file = \"{keys}\"\n\n\
         [[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{upstream}\"\n\n\
         [state]\nbackend = \"redis\"\nredis_url_file = \"{url}\"\n",
        keys = dir.join("keys.json").display(),
        url = dir.join("redis-url").display(),
    )
}

/// A replica in its own directory (own tape), sharing `shared`.
fn replica(root: &Path, name: &str, shared: &str, extra: &str) -> Sidecar {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    Sidecar::start_with(
        &dir,
        &format!("{shared}{extra}"),
        &[("CPOS_LISTEN__HEALTH", "127.0.0.1:0")],
    )
}

fn key(id: &str) -> SigningKey {
    SigningKey {
        key_id: id.into(),
        secret: match id {
            "k-a" => SECRET.as_bytes().to_vec(),
            _ => b"other-secret-5c1e".to_vec(),
        },
        agent_id: None,
    }
}

/// A signed GET of `path` with `nonce`, on the data plane or (`admin`) the
/// admin plane.
async fn get(sidecar: &Sidecar, admin: bool, k: &str, path: &str, nonce: &str) -> Answer {
    let url = match admin {
        true => sidecar.admin_url(path),
        false => sidecar.url(path),
    };
    let mut builder = Request::builder().method(Method::GET).uri(url);
    for (name, value) in signature_headers(&key(k), &Method::GET, path, b"", unix_now(), nonce) {
        builder = builder.header(name, value);
    }
    let req = builder.body(Full::new(Bytes::new())).unwrap();
    collect(http1().request(req).await.unwrap()).await
}

fn code(answer: &Answer) -> String {
    answer.json()["error"].as_str().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_one_limit_and_one_nonce_space() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let (up, _) = upstream::start().await;
    let shared = format!(
        "{}\n[gates.rate_limit]\nenabled = true\nwindow_seconds = 60\nrequests = 1000\nmutation_requests = 1000\n\
         [[gates.rate_limit.overrides]]\nprincipal = \"k-a\"\nrequests = 10\nmutation_requests = 10\n",
        shared_config(dir.path(), &redis, up)
    );
    let a = replica(dir.path(), "a", &shared, "");
    let b = replica(dir.path(), "b", &shared, "");

    // A nonce used on A is refused on B (and on A), per key: k-b may use it.
    let nonce = fresh_nonce();
    assert_eq!(get(&a, false, "k-a", "/x", &nonce).await.status, 200);
    let replay = get(&b, false, "k-a", "/x", &nonce).await;
    assert_eq!(
        (replay.status, code(&replay).as_str()),
        (409, "hmac_nonce_replay")
    );
    assert_eq!(get(&a, false, "k-a", "/x", &nonce).await.status, 409);
    assert_eq!(get(&b, false, "k-b", "/x", &nonce).await.status, 200);

    // k-a may make 10 requests a minute in all: one is spent; three more
    // one after another, alternating replicas, with the shared headers…
    for (i, remaining) in ["8", "7", "6"].into_iter().enumerate() {
        let replica = if i % 2 == 0 { &b } else { &a };
        let answer = get(replica, false, "k-a", "/x", &fresh_nonce()).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["x-ratelimit-limit"], "10");
        assert_eq!(answer.headers["x-ratelimit-remaining"], remaining);
    }
    // …then 24 at once from both sides: exactly the 6 left pass.
    let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let replica = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { get(&replica, false, "k-a", "/x", &fresh_nonce()).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == 429 {
            assert_eq!(code(&answer), "rate_limited");
            let retry: u64 = answer.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=6).contains(&retry), "one token per 6 s: {retry}");
        }
        statuses.push(answer.status);
    }
    let passed = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(
        (passed, statuses.len() - passed),
        (6, 18),
        "exactly the limit across both replicas: {statuses:?}"
    );
    // Each replica's tape has its own refusals, and no secret.
    for replica in [&a, &b] {
        let tape = replica.tape_text();
        assert!(tape.contains("\"rate_limited\""));
        assert!(!tape.contains(SECRET));
        assert!(
            !tape.contains("local_fallback"),
            "Redis answered throughout"
        );
    }
    // Redis holds hashes of nonces, never the nonces.
    let keys = redis.cli(&["KEYS", "*"]);
    assert!(keys.contains("cpos:nonce:3:k-a:") && !keys.contains(&nonce));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_going_away_is_the_configured_behaviour_and_it_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start();
    let (up, _) = upstream::start().await;
    let shared = shared_config(dir.path(), &redis, up);
    let closed = replica(
        dir.path(),
        "closed",
        &shared,
        "on_failure = \"fail_closed\"\n",
    );
    let local = replica(
        dir.path(),
        "local",
        &shared,
        "on_failure = \"fallback_local\"\n",
    );
    assert_eq!(
        get(&closed, false, "k-a", "/x", &fresh_nonce())
            .await
            .status,
        200
    );
    assert_eq!(
        get(&local, false, "k-a", "/x", &fresh_nonce()).await.status,
        200
    );

    // Preflight says whether Redis answers, and what requests get if not.
    let preflight = || {
        let config = closed.dir.join("cpos.toml");
        let (_, out, _) = cpos(
            &["preflight", "--json", "--config", config.to_str().unwrap()],
            &closed.dir,
        );
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "shared_state")
            .cloned()
            .unwrap()
    };
    assert_eq!(preflight()["ok"], true);

    redis.stop();
    let check = preflight();
    assert_eq!(check["ok"], false);
    assert!(check["message"]
        .as_str()
        .unwrap()
        .contains("503 state_unavailable"));
    // Fail closed: 503 state_unavailable, each within the deadline (50 ms)
    // plus the request's own time — nobody waits on a dead Redis.
    for _ in 0..5 {
        let started = Instant::now();
        let answer = get(&closed, false, "k-a", "/x", &fresh_nonce()).await;
        assert_eq!(
            (answer.status, code(&answer).as_str()),
            (503, "state_unavailable")
        );
        assert!(started.elapsed() < Duration::from_millis(1_000));
    }
    let refused = closed.tape().pop().unwrap();
    assert_eq!(refused["gate"], "state");
    // Fallback: decided on the replica's own state, and the tape says so.
    let answer = get(&local, false, "k-a", "/x", &fresh_nonce()).await;
    assert_eq!(answer.status, 200);
    let last = local.requests().pop().unwrap();
    assert_eq!(last["state"], "local_fallback");
    // Replay protection still holds on the replica itself.
    let nonce = fresh_nonce();
    assert_eq!(get(&local, false, "k-a", "/x", &nonce).await.status, 200);
    assert_eq!(get(&local, false, "k-a", "/x", &nonce).await.status, 409);
    // Readiness (the unauthenticated health listener): the fail-closed
    // replica is out of rotation, the other one is not.
    let readyz = |sidecar: &Sidecar| {
        let url = format!("http://{}/readyz", sidecar.health.unwrap());
        let out = std::process::Command::new("curl")
            .args(["-s", "-w", "\n%{http_code}", &url])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        (
            status.to_owned(),
            body["checks"]["state"].as_str().unwrap().to_owned(),
        )
    };
    wait_for("readiness to see Redis gone", || {
        readyz(&closed) == ("503".into(), "redis_unavailable".into())
    });
    assert_eq!(readyz(&local), ("200".into(), "local_fallback".into()));
    // The admin plane fails closed too: its nonces are shared as well.
    let admin = get(&closed, true, "k-a", "/metrics", &fresh_nonce()).await;
    assert_eq!(admin.status, 503);

    // Redis back on its port: shared state again, without a restart.
    redis.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = get(&closed, false, "k-a", "/x", &fresh_nonce()).await;
        if answer.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never recovered: {}",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert_eq!(
            get(&local, false, "k-a", "/x", &fresh_nonce()).await.status,
            200
        );
        if local.requests().pop().unwrap()["state"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fallback replica never went back to Redis"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nonce = fresh_nonce();
    assert_eq!(get(&local, false, "k-a", "/x", &nonce).await.status, 200);
    let replay = get(&closed, false, "k-a", "/x", &nonce).await;
    assert_eq!(
        (replay.status, code(&replay).as_str()),
        (409, "hmac_nonce_replay"),
        "a nonce used on one replica is refused on the other again"
    );
    let metrics = get(&closed, true, "k-a", "/metrics", &fresh_nonce()).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("cpos_state_redis_up 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_redis_trips_the_breaker_and_requests_do_not_pile_up() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let (up, _) = upstream::start().await;
    let shared = shared_config(dir.path(), &redis, up);
    let a = replica(
        dir.path(),
        "a",
        &shared,
        // A limit so high its GCRA interval is below the float precision
        // of a millisecond timestamp still admits (a bucket never has a
        // zero lifetime).
        "on_failure = \"fail_closed\"\ntimeout_ms = 50\nbreaker_failures = 3\nbreaker_cooldown_ms = 5000\n\
         [gates.rate_limit]\nenabled = true\nrequests = 1000000000\nmutation_requests = 1000000000\n",
    );
    assert_eq!(
        get(&a, false, "k-a", "/x", &fresh_nonce()).await.status,
        200
    );

    // DEBUG SLEEP blocks the whole server: connected, but silent.
    let port = redis.port;
    let sleeper = std::thread::spawn(move || {
        std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string(), "DEBUG", "SLEEP", "3"])
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    for _ in 0..10 {
        let answer = get(&a, false, "k-a", "/x", &fresh_nonce()).await;
        assert_eq!(
            (answer.status, code(&answer).as_str()),
            (503, "state_unavailable")
        );
    }
    // At most a few deadlines were spent; then the open breaker answers at
    // once (ten requests did not each wait out the 3 s sleep, nor 50 ms).
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    sleeper.join().unwrap();
    // The admin plane needs Redis for its nonce too: read metrics from the
    // process's log instead once it is back. The breaker opened, was logged…
    wait_for("the breaker to be logged", || {
        a.stderr().contains("circuit breaker open")
    });
    // …and after the cooldown a probe closes it again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if get(&a, false, "k-a", "/x", &fresh_nonce()).await.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the breaker never closed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = get(&a, true, "k-a", "/metrics", &fresh_nonce()).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let failures: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("cpos_state_redis_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert!(failures >= 10, "{text}");
    assert!(text.contains("cpos_state_breaker_open 0"));
    assert!(a.stderr().contains("circuit breaker closed"));
}

/// Escalation replicas: auth off, so only the queue uses Redis.
fn queue_config(
    dir: &Path,
    redis: &RedisServer,
    up: std::net::SocketAddr,
    replica: &str,
) -> String {
    std::fs::write(dir.join("redis-url"), redis.url()).unwrap();
    format!(
        "[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n\n\
         [escalation]\nenabled = true\nmode = \"hold\"\nhold_timeout_ms = 30000\n\n\
         [state]\nbackend = \"redis\"\nredis_url_file = \"{}\"\nreplica_id = \"{replica}\"\n",
        dir.join("redis-url").display()
    )
}

const RISKY: &str = r#"{"command": "git push origin main"}"#;

async fn admin(sidecar: &Sidecar, path: &str) -> serde_json::Value {
    common::get(&http1(), &sidecar.admin_url(path)).await.json()
}

async fn decide(sidecar: &Sidecar, id: &str, verb: &str) -> Answer {
    post_json(
        &http1(),
        &sidecar.admin_url(&format!("/escalations/{id}/{verb}")),
        r#"{"reason": "checked by a person"}"#,
    )
    .await
}

/// Waits until `sidecar` lists a pending entry other than `seen`.
async fn new_pending(sidecar: &Sidecar, seen: &[String]) -> serde_json::Value {
    for _ in 0..400 {
        let list = admin(sidecar, "/escalations?status=pending").await;
        if let Some(entry) = list["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| !seen.contains(&e["id"].as_str().unwrap().to_owned()))
        {
            return entry.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no new pending escalation appeared");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_held_on_one_replica_is_released_once_by_a_decision_on_another() {
    let root = tempfile::tempdir().unwrap();
    let redis = RedisServer::start();
    let (up, upstream) = upstream::start().await;
    let dir = |name: &str| {
        let d = root.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let (dir_a, dir_b) = (dir("a"), dir("b"));
    let mut a = Sidecar::start(&dir_a, &queue_config(&dir_a, &redis, up, "replica-a"));
    let b = Sidecar::start(&dir_b, &queue_config(&dir_b, &redis, up, "replica-b"));
    let hits = || upstream.hits.load(std::sync::atomic::Ordering::SeqCst);
    let hold = |sidecar: &Sidecar| {
        let url = sidecar.url("/tools/exec");
        tokio::spawn(async move { post_json(&http1(), &url, RISKY).await })
    };

    // Held on A; B's dashboard lists it, with where its full review is.
    let held = hold(&a);
    let entry = new_pending(&b, &[]).await;
    let first = entry["id"].as_str().unwrap().to_owned();
    assert_eq!(entry["replica"], "replica-a");
    assert!(
        entry["review"].is_null(),
        "views never leave the holding replica"
    );
    assert!(entry["review_note"].as_str().unwrap().contains("replica-a"));
    assert!(
        admin(&a, &format!("/escalations/{first}")).await["escalation"]["review"]
            .to_string()
            .contains("git push")
    );
    assert_eq!(hits(), 0, "nothing forwarded while held");

    // Approved through B: A forwards it, once.
    let started = Instant::now();
    assert_eq!(decide(&b, &first, "approve").await.status, 200);
    let answer = held.await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "released by the published decision, not by the 1 s safety poll: {:?}",
        started.elapsed()
    );
    assert_eq!(hits(), 1);
    let again = decide(&a, &first, "approve").await;
    assert_eq!(
        again.status, 409,
        "decided once, whichever replica is asked"
    );
    assert_eq!(again.json()["status"], "approved");

    // Two people deciding at once on two replicas: exactly one wins.
    let held = hold(&a);
    let second = new_pending(&b, std::slice::from_ref(&first)).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (on_a, on_b) = tokio::join!(
        decide(&a, &second, "approve"),
        decide(&b, &second, "reject")
    );
    let mut statuses = [on_a.status, on_b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let answer = held.await.unwrap();
    if on_a.status == 200 {
        assert_eq!(answer.status, 200);
        assert_eq!(hits(), 2);
    } else {
        assert_eq!(answer.status, 403);
        assert_eq!(hits(), 1);
    }
    let forwarded = hits();

    // B's tape records the decision it took; nothing of the call's content.
    assert!(b
        .tape()
        .iter()
        .any(|r| r["event"] == "escalation_decided"
            && r["detail"]["escalation_id"] == first.as_str()));
    for sidecar in [&a, &b] {
        assert!(!sidecar.tape_text().contains("git push"));
    }

    // A dies holding a call; when it comes back it cancels what it abandoned.
    let abandoned = hold(&a);
    let third = new_pending(&b, &[first.clone(), second.clone()]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a.kill9();
    let _ = abandoned.await;
    a = Sidecar::start(&dir_a, &queue_config(&dir_a, &redis, up, "replica-a"));
    let entry = admin(&b, &format!("/escalations/{third}")).await;
    assert_eq!(entry["escalation"]["status"], "cancelled", "{entry}");
    assert_eq!(decide(&b, &third, "approve").await.status, 409);
    assert_eq!(hits(), forwarded, "an abandoned call is never forwarded");
    drop(a);
}

#[tokio::test(flavor = "multi_thread")]
async fn rediss_is_verified_against_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start_tls(pki(dir.path()));
    let (up, _) = upstream::start().await;
    let shared = shared_config(dir.path(), &redis, up);
    assert!(std::fs::read_to_string(dir.path().join("redis-url"))
        .unwrap()
        .starts_with("rediss://"));
    let ca = format!(
        "redis_ca_file = \"{}\"\n",
        dir.path().join("ca.pem").display()
    );
    let a = replica(dir.path(), "a", &shared, &ca);
    let b = replica(dir.path(), "b", &shared, &ca);
    let nonce = fresh_nonce();
    assert_eq!(get(&a, false, "k-a", "/x", &nonce).await.status, 200);
    assert_eq!(get(&b, false, "k-a", "/x", &nonce).await.status, 409);
    // Without the CA the server's certificate is not trusted: fail closed.
    let untrusted = replica(dir.path(), "c", &shared, "on_failure = \"fail_closed\"\n");
    let answer = get(&untrusted, false, "k-a", "/x", &fresh_nonce()).await;
    assert_eq!(
        (answer.status, code(&answer).as_str()),
        (503, "state_unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_a_call_needing_a_person_is_refused_or_held_locally_as_configured() {
    let root = tempfile::tempdir().unwrap();
    let mut redis = RedisServer::start();
    let (up, upstream) = upstream::start().await;
    let start = |name: &str, on_failure: &str| {
        let dir = root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "{}on_failure = \"{on_failure}\"\n",
            queue_config(&dir, &redis, up, name)
        );
        Sidecar::start(&dir, &config)
    };
    let closed = start("closed", "fail_closed");
    let local = start("local", "fallback_local");
    redis.stop();

    // Fail closed: nobody could release it elsewhere, so it is refused now.
    let started = Instant::now();
    let refused = post_json(&http1(), &closed.url("/tools/exec"), RISKY).await;
    assert_eq!(refused.status, 503, "{}", refused.json());
    assert_eq!(refused.json()["error"], "escalation_unavailable");
    // Refused at once, not after the 30 s hold: the bound leaves room for a
    // loaded CI machine's Redis connect timeouts.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(upstream.hits.load(std::sync::atomic::Ordering::SeqCst), 0);

    // Fallback: held on this replica, decided through its own admin API.
    let url = local.url("/tools/exec");
    let held = tokio::spawn(async move { post_json(&http1(), &url, RISKY).await });
    let entry = new_pending(&local, &[]).await;
    assert!(
        entry["replica"].is_null(),
        "kept by this replica alone: {entry}"
    );
    let id = entry["id"].as_str().unwrap().to_owned();
    assert_eq!(decide(&local, &id, "approve").await.status, 200);
    assert_eq!(held.await.unwrap().status, 200);
    assert_eq!(upstream.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}
