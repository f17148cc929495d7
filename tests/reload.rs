//! Reload without a restart: credential files are polled (a token removed
//! from the registry stops working within seconds, no signal needed), and
//! SIGHUP or `POST /reload` re-reads the configuration — a new policy,
//! allowlist, key set or certificate applies to the next request while an
//! in-flight stream completes and a held call survives; a configuration
//! that does not load is refused whole and the running one stays; the
//! process never dies of SIGHUP.

mod common;

use std::time::Duration;

use common::{http1, upstream, Sidecar};
use sha2::{Digest, Sha256};

fn registry(tokens: &[(&str, &str)]) -> String {
    let entries: Vec<serde_json::Value> = tokens
        .iter()
        .map(|(principal, token)| {
            serde_json::json!({"principal": principal, "token_sha256": hex::encode(Sha256::digest(token.as_bytes())), "scopes": ["read:metrics"]})
        })
        .collect();
    serde_json::json!({ "tokens": entries }).to_string()
}

async fn call(sidecar: &Sidecar, token: &str, tool: &str) -> u16 {
    let request = http::Request::post(sidecar.url(&format!("/tools/{tool}")))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{\"x\": 1}",
        )))
        .unwrap();
    common::collect(http1().request(request).await.unwrap())
        .await
        .status
}

const POLICY: &str = r#"
[[rules]]
id = "local.no-frobnicate"
description = "The frobnicate tool is retired"
risk = "high"
route = "deny"
reason = "retired_tool"
[rules.when]
tools = ["frobnicate"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn credentials_follow_their_files_and_sighup_reloads_the_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let tokens = dir.path().join("tokens.json");
    std::fs::write(
        &tokens,
        registry(&[
            ("alice", "token-alice-1234567890"),
            ("bob", "token-bob-1234567890"),
        ]),
    )
    .unwrap();
    let base = format!(
        "[gates.auth]\nmode = \"bearer\"\ntoken_registry_file = \"{}\"\n\n\
         [[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n",
        tokens.display()
    );
    let sidecar = Sidecar::start(dir.path(), &base);
    assert_eq!(call(&sidecar, "token-alice-1234567890", "echo").await, 200);
    let unknown = call(&sidecar, "token-carol-1234567890", "echo").await;
    assert!(unknown == 401 || unknown == 403, "{unknown}");
    assert_eq!(
        call(&sidecar, "token-alice-1234567890", "frobnicate").await,
        200
    );

    // Alice's token is revoked, Carol's added: no signal, just the file.
    std::fs::write(
        &tokens,
        registry(&[
            ("bob", "token-bob-1234567890"),
            ("carol", "token-carol-1234567890"),
        ]),
    )
    .unwrap();
    let mut revoked = false;
    for _ in 0..60 {
        if call(&sidecar, "token-alice-1234567890", "echo").await == unknown {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(revoked, "a token removed from the registry still works");
    assert_eq!(call(&sidecar, "token-carol-1234567890", "echo").await, 200);

    // SIGHUP with a broken configuration: refused whole, the process lives.
    let config = dir.path().join("cpos.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{good}\n[policy]\nfile = \"{}\"\n",
            dir.path().join("missing.toml").display()
        ),
    )
    .unwrap();
    common::signal(sidecar.child.id(), "HUP");
    common::wait_for("the failed reload in the log", || {
        sidecar.stderr().contains("reload refused")
    });
    assert_eq!(
        call(&sidecar, "token-bob-1234567890", "frobnicate").await,
        200,
        "the old policy stays"
    );

    // SIGHUP with a new policy: the next request is decided by it.
    let policy = dir.path().join("local-policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    std::fs::write(
        &config,
        format!("{good}\n[policy]\nfile = \"{}\"\n", policy.display()),
    )
    .unwrap();
    common::signal(sidecar.child.id(), "HUP");
    common::wait_for("the reload in the log", || {
        sidecar.stderr().contains("configuration reloaded")
    });
    assert_eq!(
        call(&sidecar, "token-bob-1234567890", "frobnicate").await,
        403
    );
    assert_eq!(call(&sidecar, "token-bob-1234567890", "echo").await, 200);

    let request = http::Request::get(sidecar.admin_url("/metrics"))
        .header("authorization", "Bearer token-bob-1234567890")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let metrics = common::collect(http1().request(request).await.unwrap()).await;
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(
        text.contains("cpos_reloads_total{code=\"failed\"}"),
        "{text}"
    );
    assert!(text.contains("cpos_reloads_total{code=\"ok\"}"), "{text}");

    // The policy file itself changes, no signal: the file watcher applies it.
    std::fs::write(&policy, POLICY.replace("frobnicate", "defrobnicate")).unwrap();
    let mut applied = false;
    for _ in 0..100 {
        if call(&sidecar, "token-bob-1234567890", "frobnicate").await == 200 {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(applied, "a changed policy file was not picked up");
    assert_eq!(
        call(&sidecar, "token-bob-1234567890", "defrobnicate").await,
        403
    );
}

/// A data-plane call from `xff` (the sidecar trusts 127.0.0.1 as a proxy).
async fn call_from(sidecar: &Sidecar, token: &str, xff: &str, tool: &str) -> common::Answer {
    let request = http::Request::post(sidecar.url(&format!("/tools/{tool}")))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("x-forwarded-for", xff)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"{\"x\": 1}",
        )))
        .unwrap();
    common::collect(http1().request(request).await.unwrap()).await
}

async fn admin(sidecar: &Sidecar, method: http::Method, path: &str, body: &str) -> common::Answer {
    let request = http::Request::builder()
        .method(method)
        .uri(sidecar.admin_url(path))
        .header("content-type", "application/json")
        .header("authorization", "Bearer token-admin-1234567890")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_owned(),
        )))
        .unwrap();
    common::collect(http1().request(request).await.unwrap()).await
}

fn admin_registry(agents: &[&str]) -> String {
    let mut entries = vec![serde_json::json!({
        "principal": "admin",
        "token_sha256": hex::encode(Sha256::digest(b"token-admin-1234567890")),
        "scopes": ["read:metrics", "escalations:read", "escalations:decide", "admin:reload"],
    })];
    for agent in agents {
        entries.push(serde_json::json!({
            "principal": agent,
            "token_sha256": hex::encode(Sha256::digest(format!("token-{agent}-1234567890").as_bytes())),
            "scopes": ["tools:call"],
        }));
    }
    serde_json::json!({ "tokens": entries }).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_reload_swaps_allowlist_keys_and_policy_while_a_stream_and_a_held_call_go_on() {
    use http_body_util::BodyExt;
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let tokens = dir.path().join("tokens.json");
    std::fs::write(&tokens, admin_registry(&["bob", "carol"])).unwrap();
    let policy = dir.path().join("local-policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let extra = |allow: &str, policy_files: &str| {
        format!(
            "[gates]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n\
             [gates.ip_allow]\nenabled = true\nallow = [{allow}]\n\n\
             [gates.auth]\nmode = \"bearer\"\ntoken_registry_file = \"{}\"\n\n\
             [policy]\nfiles = [{policy_files}]\n\n\
             [escalation]\n\n\
             [[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n",
            tokens.display()
        )
    };
    let first = extra("\"10.1.0.0/16\", \"127.0.0.1/32\"", "");
    let sidecar = Sidecar::start(dir.path(), &first);
    let config = dir.path().join("cpos.toml");
    let prelude = std::fs::read_to_string(&config)
        .unwrap()
        .replace(&first, "");

    assert_eq!(
        call_from(&sidecar, "token-carol-1234567890", "10.1.2.3", "frobnicate")
            .await
            .status,
        200
    );

    // In flight across the reload: a streamed response and a held call.
    let request = http::Request::get(sidecar.url("/sse"))
        .header("authorization", "Bearer token-bob-1234567890")
        .header("x-forwarded-for", "10.1.2.3")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let mut stream = http1().request(request).await.unwrap().into_body();
    let event = stream.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(
        event,
        bytes::Bytes::from_static(b"event: first\ndata: 1\n\n")
    );
    let held_url = sidecar.url("/tools/exec");
    let held = tokio::spawn(async move {
        let request = http::Request::post(held_url)
            .header("content-type", "application/json")
            .header("authorization", "Bearer token-bob-1234567890")
            .header("x-forwarded-for", "10.1.2.3")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                br#"{"command": "git push origin main"}"#,
            )))
            .unwrap();
        common::collect(http1().request(request).await.unwrap()).await
    });
    let mut id = None;
    for _ in 0..200 {
        let list = admin(
            &sidecar,
            http::Method::GET,
            "/escalations?status=pending",
            "",
        )
        .await
        .json();
        if let Some(found) = list["escalations"][0]["id"].as_str() {
            id = Some(found.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let id = id.expect("the git push is held for a person");

    // The new configuration: 10.1.0.0/16 is no longer allowed, Bob's token
    // is revoked, and a local policy retires `frobnicate`.
    std::fs::write(&tokens, admin_registry(&["carol"])).unwrap();
    let second = extra("\"127.0.0.1/32\"", &format!("\"{}\"", policy.display()));
    std::fs::write(&config, format!("{prelude}{second}")).unwrap();
    let reloaded = admin(&sidecar, http::Method::POST, "/reload", "{}").await;
    assert_eq!(
        reloaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&reloaded.body)
    );
    assert!(reloaded.json()["summary"]
        .as_str()
        .unwrap()
        .contains("reloaded"));

    let moved = call_from(&sidecar, "token-carol-1234567890", "10.1.2.3", "echo").await;
    assert_eq!(moved.status, 403, "the old allowlist still applies");
    assert_eq!(moved.json()["error"], "ip_denied");
    let revoked = call_from(&sidecar, "token-bob-1234567890", "127.0.0.1", "echo").await;
    assert_eq!(revoked.status, 403, "a revoked token still works");
    assert_eq!(revoked.json()["error"], "auth_invalid");
    let retired = call_from(
        &sidecar,
        "token-carol-1234567890",
        "127.0.0.1",
        "frobnicate",
    )
    .await;
    assert_eq!(retired.status, 403, "the new policy does not apply");

    // What was in flight completes.
    state.release.notify_one();
    let rest = stream.collect().await.unwrap().to_bytes();
    assert_eq!(
        rest,
        bytes::Bytes::from_static(b"event: second\ndata: 2\n\n")
    );
    let approved = admin(
        &sidecar,
        http::Method::POST,
        &format!("/escalations/{id}/approve"),
        "{}",
    )
    .await;
    assert_eq!(
        approved.status,
        200,
        "{}",
        String::from_utf8_lossy(&approved.body)
    );
    assert_eq!(
        held.await.unwrap().status,
        200,
        "the held call survives the reload"
    );

    // A broken policy is refused whole: the answer says why, the old rules stay.
    let broken = extra(
        "\"127.0.0.1/32\"",
        &format!("\"{}\"", dir.path().join("missing.toml").display()),
    );
    std::fs::write(&config, format!("{prelude}{broken}")).unwrap();
    let refused = admin(&sidecar, http::Method::POST, "/reload", "{}").await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["error"], "reload_refused");
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("missing.toml"),
        "{:?}",
        refused.json()
    );
    let still = call_from(
        &sidecar,
        "token-carol-1234567890",
        "127.0.0.1",
        "frobnicate",
    )
    .await;
    assert_eq!(
        still.status, 403,
        "the running policy stays after a refused reload"
    );

    // The admin's two reloads (the file watcher may have seen the same
    // changes first; it records as "file change").
    let reloads: Vec<_> = sidecar
        .tape()
        .into_iter()
        .filter(|r| r["event"] == "config_reload" && r["principal"] == "admin")
        .map(|r| {
            (
                r["outcome"]["code"].as_str().unwrap().to_owned(),
                r["principal"].clone(),
            )
        })
        .collect();
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    assert_eq!(reloads[0].0, "ok");
    assert_eq!(reloads[1].0, "failed");
    assert_eq!(reloads[0].1, "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_renewed_certificate_is_served_to_new_connections_after_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old_dir).unwrap();
    std::fs::create_dir_all(&new_dir).unwrap();
    let (old, renewed) = (common::pki(&old_dir), common::pki(&new_dir));
    let (cert, key) = (dir.path().join("tls.pem"), dir.path().join("tls.key"));
    std::fs::copy(&old.server_cert, &cert).unwrap();
    std::fs::copy(&old.server_key, &key).unwrap();
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let get = || {
        http::Request::get("/health")
            .header("host", "127.0.0.1")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    };
    let (answer, _) = common::tls_request(sidecar.data, &old.ca_der, &[b"http/1.1"], get()).await;
    assert_eq!(answer.status, 200);

    // The certificate is renewed on disk (a rotated Secret) and reloaded.
    std::fs::copy(&renewed.server_cert, &cert).unwrap();
    std::fs::copy(&renewed.server_key, &key).unwrap();
    let reloaded = common::post_json(&http1(), &sidecar.admin_url("/reload"), "{}").await;
    assert_eq!(
        reloaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&reloaded.body)
    );
    assert_eq!(reloaded.json()["reloaded"]["tls"], true);
    let (answer, _) =
        common::tls_request(sidecar.data, &renewed.ca_der, &[b"http/1.1"], get()).await;
    assert_eq!(answer.status, 200, "the renewed certificate is served");

    // A key that does not match the certificate is refused whole.
    std::fs::copy(&old.server_key, &key).unwrap();
    let refused = common::post_json(&http1(), &sidecar.admin_url("/reload"), "{}").await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.json()["message"].as_str().unwrap().contains("tls"),
        "{:?}",
        refused.json()
    );
    let (answer, _) =
        common::tls_request(sidecar.data, &renewed.ca_der, &[b"http/1.1"], get()).await;
    assert_eq!(answer.status, 200, "the running certificate stays");
}
