//! End-to-end tape guarantees: `cpos tape verify` proves the chain and names
//! the exact record a one-byte edit broke; a SIGKILL under load loses no
//! answered request with `fsync = "always"`.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::*;

fn route(upstream: std::net::SocketAddr) -> String {
    format!("[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{upstream}\"\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_passes_then_names_the_record_one_edited_byte_broke() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let mut sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    for i in 0..6 {
        get(&client, &sidecar.url(&format!("/r{i}"))).await;
    }
    assert_eq!(sidecar.terminate(), Some(0));
    let tape_dir = dir.path().join("tape");
    let tape_arg = tape_dir.to_str().unwrap();
    let (code, out, _) = cpos(&["tape", "verify", tape_arg], dir.path());
    assert_eq!(code, 0, "{out}");
    // Each forwarded request: its write-ahead decision, then its outcome.
    assert!(out.contains("OK: 12 records"), "{out}");

    let head = sidecar.tape().last().unwrap()["_chain"]["row_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, _, _) = cpos(
        &["tape", "verify", tape_arg, "--expected-head", &head],
        dir.path(),
    );
    assert_eq!(code, 0);
    let (code, out, _) = cpos(
        &[
            "tape",
            "verify",
            tape_arg,
            "--expected-head",
            &"0".repeat(64),
        ],
        dir.path(),
    );
    assert_eq!(code, 1, "{out}");

    // Edit exactly one byte inside record 7 (the decision for `/r3`, whose
    // path becomes `/r9`).
    let file = tape_dir.join("tape-000001.jsonl");
    let mut bytes = std::fs::read(&file).unwrap();
    let line_start: usize = bytes
        .split(|b| *b == b'\n')
        .take(6)
        .map(|l| l.len() + 1)
        .sum();
    let offset = line_start
        + bytes[line_start..]
            .windows(4)
            .position(|w| w == b"/r3\"")
            .unwrap()
        + 2;
    bytes[offset] = b'9';
    std::fs::write(&file, bytes).unwrap();
    let (code, out, _) = cpos(&["tape", "verify", tape_arg, "--json"], dir.path());
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["failure"]["seq"], 7);
    assert_eq!(report["failure"]["line"], 7);
    assert!(report["failure"]["file"]
        .as_str()
        .unwrap()
        .ends_with("tape-000001.jsonl"));
    assert_eq!(report["records"], 6, "the six records before it verify");

    // A tampered tape refuses to serve rather than extend a broken chain.
    let config = dir.path().join("cpos.toml");
    let (code, _, err) = cpos(&["serve", "--config", config.to_str().unwrap()], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("line 7 (seq 7)"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_under_load_keeps_every_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    // fsync = "always": every answered request must be on disk.
    let mut sidecar =
        Sidecar::start_with(dir.path(), &route(up), &[("CPOS_TAPE__FSYNC", "always")]);
    let answered = Arc::new(Mutex::new(HashSet::new()));
    let url = sidecar.url("/load");
    let mut workers = Vec::new();
    for _ in 0..4 {
        let answered = answered.clone();
        let url = url.clone();
        workers.push(tokio::spawn(async move {
            let client = http1();
            for _ in 0..10_000 {
                let req = http::Request::get(&url)
                    .body(http_body_util::Full::default())
                    .unwrap();
                match client.request(req).await {
                    Ok(resp) if resp.status() == 200 => {
                        let id = resp.headers()["x-cpos-request-id"]
                            .to_str()
                            .unwrap()
                            .to_owned();
                        answered.lock().unwrap().insert(id);
                    }
                    _ => break,
                }
            }
        }));
    }
    wait_for("requests under load", || {
        answered.lock().unwrap().len() > 200
    });
    sidecar.kill9();
    for w in workers {
        let _ = w.await;
    }
    let answered = answered.lock().unwrap().clone();

    // Restart on the same tape: recovery, then verify the whole chain.
    let mut sidecar =
        Sidecar::start_with(dir.path(), &route(up), &[("CPOS_TAPE__FSYNC", "always")]);
    assert_eq!(sidecar.terminate(), Some(0));
    let tape_dir = dir.path().join("tape");
    let (code, out, _) = cpos(&["tape", "verify", tape_dir.to_str().unwrap()], dir.path());
    assert_eq!(code, 0, "{out}");
    let recorded: HashSet<String> = sidecar
        .tape()
        .iter()
        .filter_map(|r| r["request_id"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = answered.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "{} answered requests missing from the tape",
        missing.len()
    );
    assert!(answered.len() > 200);
}
