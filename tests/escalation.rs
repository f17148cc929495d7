//! The human escalation queue end to end: a held call waits for a person's
//! decision made from another connection; async approvals let the identical
//! call through once; entries survive a restart; decisions need credentials.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::{http1, post_json, upstream, Sidecar};
use serde_json::{json, Value};

const RISKY: &str = r#"{"command": "git push origin main"}"#;

fn config(up: std::net::SocketAddr, extra: &str) -> String {
    format!(
        "[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n\n[escalation]\n{extra}\n"
    )
}

async fn admin_get(sidecar: &Sidecar, path: &str) -> Value {
    common::get(&http1(), &sidecar.admin_url(path)).await.json()
}

async fn pending_id(sidecar: &Sidecar) -> String {
    for _ in 0..200 {
        let list = admin_get(sidecar, "/escalations?status=pending").await;
        if let Some(id) = list["escalations"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no pending escalation appeared");
}

async fn decide(sidecar: &Sidecar, id: &str, verb: &str, body: Value) -> common::Answer {
    post_json(
        &http1(),
        &sidecar.admin_url(&format!("/escalations/{id}/{verb}")),
        &body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_call_is_forwarded_once_on_approval_and_refused_on_rejection() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &config(up, ""));
    let url = sidecar.url("/tools/exec");

    // Approve from another connection while the call is held.
    let held = tokio::spawn({
        let url = url.clone();
        async move { post_json(&http1(), &url, RISKY).await }
    });
    let id = pending_id(&sidecar).await;
    assert_eq!(
        state.hits.load(Ordering::SeqCst),
        0,
        "nothing forwarded while held"
    );
    let metrics = common::get(&http1(), &sidecar.admin_url("/metrics")).await;
    assert!(
        String::from_utf8_lossy(&metrics.body).contains("cpos_escalations{state=\"pending\"} 1")
    );
    let mut entry = admin_get(&sidecar, &format!("/escalations/{id}")).await;
    assert_eq!(entry["escalation"]["action"]["tool"], "exec");
    // The content is only in the in-memory review view; the entry itself
    // (what the store keeps) is metadata.
    assert!(entry["escalation"]["review"]
        .to_string()
        .contains("git push"));
    entry["escalation"]
        .as_object_mut()
        .unwrap()
        .remove("review");
    assert!(
        !entry.to_string().contains("git push"),
        "entries hold metadata only"
    );
    let approved = decide(&sidecar, &id, "approve", json!({"by": "alice"})).await;
    assert_eq!(approved.status, 200);
    let answer = held.await.unwrap();
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        state.hits.load(Ordering::SeqCst),
        1,
        "forwarded exactly once"
    );
    // Deciding again: 409 with the current status.
    let again = decide(&sidecar, &id, "reject", json!({"reason": "too late"})).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["status"], "approved");
    // The decider is the authenticated principal (`admin` without admin
    // auth); a name in the body is only an unverified claim. The decision
    // was on the tape before the held call was released.
    let tape = sidecar.tape();
    let decided = tape
        .iter()
        .position(|r| r["event"] == "escalation_decided")
        .unwrap();
    assert_eq!(tape[decided]["principal"], "admin");
    assert_eq!(tape[decided]["detail"]["claimed_by"], "alice");
    let forwarded = tape
        .iter()
        .rposition(|r| r["event"] == "request" && r["outcome"]["status"] == 200)
        .unwrap();
    assert!(decided < forwarded);

    // Reject: the refusal carries the reason; the upstream is not called.
    let held = tokio::spawn({
        let url = url.clone();
        async move { post_json(&http1(), &url, RISKY).await }
    });
    let id = pending_id(&sidecar).await;
    let no_reason = decide(&sidecar, &id, "reject", json!({})).await;
    assert_eq!(no_reason.json()["error"], "reason_required");
    decide(
        &sidecar,
        &id,
        "reject",
        json!({"reason": "not on a Friday"}),
    )
    .await;
    let answer = held.await.unwrap();
    assert_eq!(answer.status, 403);
    let v = answer.json();
    assert_eq!(v["error"], "escalation_rejected");
    assert!(v["message"].as_str().unwrap().contains("not on a Friday"));
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);

    let decisions: Vec<_> = sidecar
        .tape()
        .into_iter()
        .filter(|r| r["event"] == "escalation_decided")
        .map(|r| r["detail"]["status"].clone())
        .collect();
    assert_eq!(decisions, [json!("approved"), json!("rejected")]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_call_expires_and_a_disconnected_client_cancels_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &config(up, "hold_timeout_ms = 600"));
    let url = sidecar.url("/tools/exec");
    let expired = post_json(&http1(), &url, RISKY).await;
    assert_eq!(expired.json()["error"], "escalation_expired");
    let list = admin_get(&sidecar, "/escalations?status=expired").await;
    assert_eq!(list["count"], 1);

    let dir2 = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start(dir2.path(), &config(up, "hold_timeout_ms = 60000"));
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move { post_json(&http1(), &url, RISKY).await });
    let id = pending_id(&sidecar).await;
    held.abort();
    let _ = held.await;
    let mut status = Value::Null;
    for _ in 0..200 {
        status = admin_get(&sidecar, &format!("/escalations/{id}")).await["escalation"]["status"]
            .clone();
        if status == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(status, "cancelled");
    // Approving it now changes nothing: the upstream is never called.
    assert_eq!(
        decide(&sidecar, &id, "approve", json!({})).await.status,
        409
    );
    assert_eq!(state.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn async_approval_lets_the_identical_call_through_once_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let extra = config(up, "mode = \"async\"");
    let mut sidecar = Sidecar::start(dir.path(), &extra);
    let url = sidecar.url("/tools/exec");
    let first = post_json(&http1(), &url, RISKY).await;
    assert_eq!(first.status, 403);
    assert!(first.headers.contains_key("retry-after"));
    let id = first.json()["escalation_id"].as_str().unwrap().to_owned();

    // Entries survive a restart, pending and decided alike.
    sidecar.terminate();
    drop(sidecar);
    let sidecar = Sidecar::start(dir.path(), &extra);
    let url = sidecar.url("/tools/exec");
    assert_eq!(
        admin_get(&sidecar, &format!("/escalations/{id}")).await["escalation"]["status"],
        "pending"
    );
    assert_eq!(
        decide(&sidecar, &id, "approve", json!({})).await.status,
        200
    );

    let different = post_json(&http1(), &url, r#"{"command": "git push origin release"}"#).await;
    assert_eq!(different.json()["error"], "escalation_pending");
    let identical = post_json(&http1(), &url, RISKY).await;
    assert_eq!(identical.status, 200);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    let once_more = post_json(&http1(), &url, RISKY).await;
    assert_eq!(once_more.json()["error"], "escalation_pending");
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);

    drop(sidecar);
    let sidecar = Sidecar::start(dir.path(), &extra);
    let decided = admin_get(&sidecar, &format!("/escalations/{id}")).await;
    assert_eq!(decided["escalation"]["status"], "approved");
    assert_eq!(decided["escalation"]["used"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn decisions_need_the_decide_scope() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let token = dir.path().join("token");
    std::fs::write(&token, "reader-token-123456").unwrap();
    let scopes = dir.path().join("scopes");
    std::fs::write(&scopes, "escalations:read").unwrap();
    let extra = format!(
        "{}\nmode = \"async\"\n\n[gates.auth]\nmode = \"bearer\"\ntoken_file = \"{}\"\nscopes_file = \"{}\"\n",
        config(up, ""),
        token.display(),
        scopes.display()
    );
    let sidecar = Sidecar::start(dir.path(), &extra);
    let client = http1();
    let post = |url: String, auth: Option<&'static str>| {
        let mut req = http::Request::post(url).header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        req.body(http_body_util::Full::new(bytes::Bytes::from_static(
            RISKY.as_bytes(),
        )))
        .unwrap()
    };
    let answer = common::collect(
        client
            .request(post(
                sidecar.url("/tools/exec"),
                Some("Bearer reader-token-123456"),
            ))
            .await
            .unwrap(),
    )
    .await;
    let id = answer.json()["escalation_id"].as_str().unwrap().to_owned();
    let url = sidecar.admin_url(&format!("/escalations/{id}/approve"));
    let anonymous = common::collect(client.request(post(url.clone(), None)).await.unwrap()).await;
    assert_eq!(anonymous.status, 401);
    let reader = common::collect(
        client
            .request(post(url, Some("Bearer reader-token-123456")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        reader.status,
        403,
        "{}",
        String::from_utf8_lossy(&reader.body)
    );
    assert_eq!(reader.json()["required_scope"], "escalations:decide");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_and_decides() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &config(up, ""));
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move { post_json(&http1(), &url, RISKY).await });
    let id = pending_id(&sidecar).await;
    let admin = format!("http://{}", sidecar.admin);
    let path = dir.path().to_owned();
    let cli = move |args: Vec<String>| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            common::cpos(&args, &path)
        })
    };
    let (code, out, err) = cli(vec![
        "escalations".into(),
        "--admin".into(),
        admin.clone(),
        "list".into(),
        "--status".into(),
        "pending".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&id) && out.contains("pending") && out.contains("tool exec"),
        "{out}"
    );
    let (code, out, err) = cli(vec![
        "escalations".into(),
        "--admin".into(),
        admin.clone(),
        "approve".into(),
        id.clone(),
        "--by".into(),
        "ops".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(held.await.unwrap().status, 200);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
    let (code, _, err) = cli(vec![
        "escalations".into(),
        "--admin".into(),
        admin,
        "reject".into(),
        id,
        "--reason".into(),
        "x".into(),
    ])
    .await
    .unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("escalation_not_pending"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_is_signed_metadata_and_retried_without_blocking_the_call() {
    use hmac::{Hmac, Mac};
    use std::sync::{Arc, Mutex};

    // A receiver that fails the first delivery, then accepts.
    let received: Arc<Mutex<Vec<(String, bytes::Bytes)>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    let seen = received.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let signature = req.headers()["x-cpos-signature"]
                                .to_str()
                                .unwrap()
                                .to_owned();
                            let body = http_body_util::BodyExt::collect(req.into_body())
                                .await
                                .unwrap()
                                .to_bytes();
                            let attempt = {
                                let mut seen = seen.lock().unwrap();
                                seen.push((signature, body));
                                seen.len()
                            };
                            let status = if attempt == 1 { 500 } else { 200 };
                            Ok::<_, std::convert::Infallible>(
                                http::Response::builder()
                                    .status(status)
                                    .body(http_body_util::Full::new(bytes::Bytes::new()))
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("hook-secret");
    std::fs::write(&secret, "webhook-secret-42").unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &config(
            up,
            &format!(
                "mode = \"async\"\nwebhook_url = \"http://{hook}/hook\"\nwebhook_secret_file = \"{}\"\ndashboard_url = \"https://cpos.example/ui\"",
                secret.display()
            ),
        ),
    );
    let answer = post_json(&http1(), &sidecar.url("/tools/exec"), RISKY).await;
    let id = answer.json()["escalation_id"].as_str().unwrap().to_owned();
    for _ in 0..200 {
        if received.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one failure, one retried delivery");
    let (signature, body) = &received[1];
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"webhook-secret-42").unwrap();
    mac.update(body);
    assert_eq!(
        signature,
        &format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["event"], "escalation_created");
    assert_eq!(event["id"], id);
    assert_eq!(event["link"], format!("https://cpos.example/ui#{id}"));
    assert!(event.get("summary").is_none(), "metadata only by default");
    assert!(!String::from_utf8_lossy(body).contains("git push"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rule_can_choose_async_while_the_queue_holds() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[rules]]\nid = \"deploy.async\"\ndescription = \"Deploys wait for a person without holding the call\"\n\
         risk = \"high\"\nroute = \"human\"\nreason = \"production\"\nescalation = \"async\"\n\
         [rules.when]\ntools = [\"deploy\"]\n",
    )
    .unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "{}\n[policy]\nfile = \"{}\"\n",
            config(up, ""),
            policy.display()
        ),
    );
    let answer = post_json(
        &http1(),
        &sidecar.url("/tools/deploy"),
        r#"{"env": "prod"}"#,
    )
    .await;
    assert_eq!(answer.json()["error"], "escalation_pending");
    let id = answer.json()["escalation_id"].as_str().unwrap().to_owned();
    assert_eq!(
        admin_get(&sidecar, &format!("/escalations/{id}")).await["escalation"]["mode"],
        "async"
    );
    assert_eq!(state.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_agent_cannot_flood_the_reviewers() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &config(up, "mode = \"async\"\nmax_pending_per_agent = 2"),
    );
    let client = http1();
    let mut answers = Vec::new();
    for branch in ["a", "b", "c"] {
        let body = format!(r#"{{"command": "git push origin {branch}"}}"#);
        answers.push(post_json(&client, &sidecar.url("/tools/exec"), &body).await);
    }
    let codes: Vec<_> = answers.iter().map(|a| a.json()["error"].clone()).collect();
    assert_eq!(
        codes,
        [
            json!("escalation_pending"),
            json!("escalation_pending"),
            json!("escalation_limited")
        ]
    );
    assert_eq!(answers[2].status, 429);
    assert!(answers[2].headers.contains_key("retry-after"));
    let pending = admin_get(&sidecar, "/escalations?status=pending").await;
    assert_eq!(pending["count"], 2, "the third call was not queued");
    assert_eq!(state.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reviewer_sees_the_held_call_in_full_with_secrets_masked_and_nothing_persists() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &config(up, ""));
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let command = format!("git push https://bot:{token}@github.com/acme/app.git main --force");
    let body = json!({"command": command, "note": "<img src=x onerror=alert(1)>"}).to_string();
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move { post_json(&http1(), &url, &body).await });
    let id = pending_id(&sidecar).await;

    // The API: the command (masked), the rules in words, who and from where.
    let entry = admin_get(&sidecar, &format!("/escalations/{id}")).await;
    let review = &entry["escalation"]["review"];
    let shown = review.to_string();
    assert!(!shown.contains(token), "{shown}");
    assert!(
        shown.contains("git push http") && shown.contains("[masked]"),
        "{shown}"
    );
    assert_eq!(review["method"], "POST");
    assert_eq!(review["path"], "/tools/exec");
    assert_eq!(review["arguments"]["note"], "<img src=x onerror=alert(1)>");
    let why = review["why"].as_array().unwrap();
    assert!(
        why.iter().any(|w| w["reason"] == "git_publish"
            && w["description"].as_str().is_some_and(|d| !d.is_empty())),
        "{review}"
    );
    assert_eq!(review["client_ip"], "127.0.0.1");
    assert!(entry["escalation"]["expires_in_ms"].as_u64().unwrap() > 0);

    // The CLI shows the same, laid out for a terminal.
    let (code, out, err) = common::cpos(
        &[
            "escalations",
            "--admin",
            &sidecar.admin_url(""),
            "show",
            &id,
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("why it was held") && out.contains("git push http"),
        "{out}"
    );
    assert!(!out.contains(token));

    // Decided: the content is gone from the API.
    decide(
        &sidecar,
        &id,
        "reject",
        json!({"reason": "no force pushes"}),
    )
    .await;
    assert_eq!(held.await.unwrap().status, 403);
    let after = admin_get(&sidecar, &format!("/escalations/{id}")).await;
    assert!(after["escalation"].get("review").is_none(), "{after}");

    // Nothing of it was persisted: tape, escalation store, logs.
    let store = std::fs::read_to_string(dir.path().join("cpos/escalations.jsonl")).unwrap();
    let persisted = [sidecar.tape_text(), store, sidecar.stderr()];
    for (what, text) in ["tape", "store", "log"].iter().zip(&persisted) {
        assert!(!text.contains(token), "the token reached the {what}");
        assert!(
            !text.contains("github.com/acme"),
            "the command reached the {what}"
        );
        assert!(!text.contains("onerror"), "an argument reached the {what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_mcp_tool_call_shows_its_tool_and_arguments_to_the_reviewer() {
    let dir = tempfile::tempdir().unwrap();
    // The upstream does not exist: the call is rejected before it could go.
    let sidecar = Sidecar::start(
        dir.path(),
        "[[routes]]\nname = \"tools\"\nprefix = \"/mcp\"\nupstream = \"http://127.0.0.1:9\"\nprotocol = \"mcp\"\n",
    );
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "shell", "arguments": {"command": "git push origin main --force"}}});
    let url = sidecar.url("/mcp");
    let held = tokio::spawn(async move { post_json(&http1(), &url, &call.to_string()).await });
    let id = pending_id(&sidecar).await;
    let entry = admin_get(&sidecar, &format!("/escalations/{id}")).await;
    let review = &entry["escalation"]["review"];
    assert_eq!(review["kind"], "mcp.tools_call", "{review}");
    assert_eq!(review["tool"], "shell");
    assert_eq!(
        review["arguments"]["command"],
        "git push origin main --force"
    );
    assert!(review["why"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["reason"] == "destructive_operation"));
    decide(&sidecar, &id, "reject", json!({"reason": "no"})).await;
    let answer = held.await.unwrap().json();
    assert_eq!(answer["id"], 7);
    assert!(answer["error"].is_object(), "{answer}");
    assert!(!sidecar.tape_text().contains("origin main"));
}

#[tokio::test(flavor = "multi_thread")]
async fn on_shutdown_held_calls_get_503_at_once_and_readyz_says_draining() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _state) = upstream::start().await;
    let mut sidecar = Sidecar::start(
        dir.path(),
        &format!("{}\n[shutdown]\ngrace_ms = 10000\n", config(up, "")),
    );
    let url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move { post_json(&http1(), &url, RISKY).await });
    let id = pending_id(&sidecar).await;
    // A slow call in flight keeps the drain going for a moment.
    let slow_url = sidecar.url("/slow");
    let slow = tokio::spawn(async move { common::get(&http1(), &slow_url).await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = std::time::Instant::now();
    common::signal(sidecar.child.id(), "TERM");
    // While draining, the admin plane answers: not ready.
    let mut draining = false;
    for _ in 0..50 {
        let ready = common::get(&http1(), &sidecar.admin_url("/readyz")).await;
        if ready.status == 503 {
            draining = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(draining, "/readyz never answered 503 while draining");
    // The held call is answered now, not at the end of the 10 s grace.
    let answer = held.await.unwrap();
    assert_eq!(
        answer.status,
        503,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.json()["error"], "escalation_unavailable");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The in-flight call finishes; the process exits cleanly.
    assert_eq!(slow.await.unwrap().status, 200);
    assert_eq!(sidecar.child.wait().unwrap().code(), Some(0));
    let store = std::fs::read_to_string(dir.path().join("cpos/escalations.jsonl")).unwrap();
    let last = store
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|e| e["id"] == id.as_str())
        .unwrap();
    assert_eq!(last["status"], "cancelled");
}
