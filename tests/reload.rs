//! Reload without a restart: credential files are polled (a token removed
//! from the registry stops working within seconds, no signal needed), and
//! SIGHUP re-reads the configuration — a new policy applies to the next
//! request, a configuration that does not load is refused whole and the
//! running one stays; the process never dies of SIGHUP.

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
        sidecar.stderr().contains("reload on SIGHUP refused")
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
        sidecar.stderr().contains("reloaded on SIGHUP")
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
        text.contains("cpos_reloads_total{code=\"failed\"} 1"),
        "{text}"
    );
    assert!(text.contains("cpos_reloads_total{code=\"ok\"}"), "{text}");
}
