//! End-to-end: the adapter intake (the original's four example payloads,
//! validation codes, approve/reject, scoreboard, restart) and policy
//! decisions on proxied tool calls — with no secret, diff or body on the tape.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::json;

fn route(upstream: std::net::SocketAddr) -> String {
    format!("[adapter]\nstore_file = \"adapter/actions.jsonl\"\n\n[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{upstream}\"\n")
}

const AWS_KEY: &str = "AKIAZ7QKX4RT2M9PLQKE";
const DB_PASSWORD: &str = "s3cr3t-Pa55w0rd-xyz";

#[tokio::test(flavor = "multi_thread")]
async fn the_original_example_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let url = sidecar.url("/agent-adapter/intake");
    let metadata = json!({"risk": "medium", "requires_human_approval": true, "touches_secrets": false, "touches_production": false, "destructive": false});

    let command = json!({
        "agent_name": "codex-or-hermes", "event_type": "command_request",
        "commands": ["PYTHONPATH=. .venv/bin/python -m pytest tests/test_agent_adapter.py -q"],
        "changed_files": ["cpos/agent_adapter.py", "tests/test_agent_adapter.py"], "metadata": metadata,
    });
    let a = post_json(&client, &url, &command.to_string()).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["status"], "pending_review");
    let c = &v["contract"];
    assert_eq!(c["schema"], "cpos.external_agent_action_contract.v1");
    assert_eq!(c["adapter_decision"], "requires_review");
    assert_eq!(c["command_count"], 1);
    assert_eq!(c["changed_file_count"], 2);
    assert_eq!(
        c["metadata_keys"],
        json!([
            "destructive",
            "requires_human_approval",
            "risk",
            "touches_production",
            "touches_secrets"
        ])
    );
    assert_eq!(c["input_digests"]["commands"][0]["size_bytes"], 70);
    assert_eq!(c["decision"]["recommended_mode"], "assisted_autonomy");
    assert!(c["decision"]["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("policy_requires_confirmation")));
    assert_eq!(c["raw_request_stored"], false);
    assert_eq!(c["contract_sha256"].as_str().unwrap().len(), 64);

    let diff = json!({
        "agent_name": "diff-review-agent", "event_type": "proposed_diff",
        "proposed_diff": "--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n # CPOS\n+Adapter docs.\n",
        "changed_files": ["README.md"], "metadata": metadata,
    });
    let a = post_json(&client, &url, &diff.to_string()).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.json()["contract"]["input_digests"]["proposed_diff"]["size_bytes"],
        69
    );

    let result = json!({
        "agent_name": "codex-or-hermes", "event_type": "execution_result",
        "execution_result": {"status": "passed", "output_redacted": true, "summary": "12 tests passed", "result_kind": "validation"},
        "metadata": {"success": true, "exit_code": 0, "failure_kind": "", "duration_ms": 900},
    });
    let a = post_json(&client, &url, &result.to_string()).await;
    assert_eq!(a.status, 200);
    let summary = &a.json()["contract"]["result_summary"];
    assert_eq!(summary["success"], true);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["failure_kind"], serde_json::Value::Null);

    let raw = json!({
        "agent_name": "codex-or-hermes", "event_type": "execution_result",
        "execution_result": {"stdout": "RAW OUTPUT MUST NOT BE STORED"},
    });
    let a = post_json(&client, &url, &raw.to_string()).await;
    assert_eq!(a.status, 400);
    let v = a.json();
    assert_eq!(v["error"], "schema_validation_failed");
    let codes: Vec<&str> = v["validation"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "execution_result_raw_output_key_forbidden",
            "execution_result_unknown_key"
        ]
    );
    assert!(
        !String::from_utf8_lossy(&a.body).contains("RAW OUTPUT"),
        "values are never echoed"
    );

    // Not JSON at all.
    let req = http::Request::post(&url)
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"not json",
        )))
        .unwrap();
    let a = collect(client.request(req).await.unwrap()).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (400, "invalid_json")
    );

    assert_eq!(
        state.hits.load(Ordering::SeqCst),
        0,
        "the adapter never forwards"
    );
    let tape = sidecar.tape_text();
    assert!(
        !tape.contains("RAW OUTPUT") && !tape.contains("Adapter docs") && !tape.contains("pytest")
    );
    let kinds: Vec<String> = sidecar
        .tape()
        .iter()
        .map(|r| r["action"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "intake.command_request",
            "intake.proposed_diff",
            "intake.execution_result",
            "intake.execution_result",
            "adapter.request"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_diff_holding_secrets_needs_a_person_and_never_reaches_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let diff = format!("--- a/config.py\n+++ b/config.py\n+AWS_KEY = '{AWS_KEY}'\n+DATABASE_URL = 'postgres://app:{DB_PASSWORD}@db/prod'\n");
    let body = json!({"agent_name": "a", "event_type": "proposed_diff", "proposed_diff": diff, "changed_files": ["config.py"]});
    let a = post_json(
        &http1(),
        &sidecar.url("/agent-adapter/intake"),
        &body.to_string(),
    )
    .await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["status"], "pending_review");
    assert!(v["contract"]["decision"]["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("secret_material")));
    let findings = v["contract"]["decision"]["secret_findings"]
        .as_array()
        .unwrap();
    assert!(
        findings.iter().any(|f| f["detector"] == "aws_access_key"),
        "{findings:?}"
    );
    let response = String::from_utf8_lossy(&a.body).to_string();
    let store = std::fs::read_to_string(dir.path().join("cpos/adapter/actions.jsonl")).unwrap();
    let tape = sidecar.tape_text();
    for secret in [AWS_KEY, DB_PASSWORD] {
        assert!(!response.contains(secret), "response echoes a secret");
        assert!(!store.contains(secret), "store holds a secret");
        assert!(!tape.contains(secret), "tape holds a secret");
    }
    assert!(
        !tape.contains("config.py'") && !tape.contains("AWS_KEY"),
        "no diff text on the tape"
    );
    let record = sidecar.tape().pop().unwrap();
    assert_eq!(record["route"], "human");
    assert!(record["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("secrets.detected")));

    // The reviewer sees the diff's files with line counts and why, masked,
    // from memory; once decided, it is gone.
    let actions = get(&http1(), &sidecar.url("/agent-adapter/actions"))
        .await
        .json();
    let review = &actions["reviews"][0]["review"];
    assert_eq!(review["diff_files"][0]["path"], "config.py", "{review}");
    assert_eq!(review["diff_files"][0]["added"], 2);
    assert!(review["why"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["reason"] == "secret_material"));
    for secret in [AWS_KEY, DB_PASSWORD] {
        assert!(
            !review.to_string().contains(secret),
            "the view shows a secret: {review}"
        );
    }
    let id = actions["reviews"][0]["task_id"].as_str().unwrap();
    post_json(
        &http1(),
        &sidecar.url(&format!("/agent-adapter/actions/{id}/reject")),
        r#"{"reason": "secrets in the diff"}"#,
    )
    .await;
    let after = get(&http1(), &sidecar.url("/agent-adapter/actions"))
        .await
        .json();
    assert!(after.to_string().find(id).is_none() || after["reviews"][0]["review"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn approve_reject_scoreboard_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let mut sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let intake = sidecar.url("/agent-adapter/intake");
    let mut ids = Vec::new();
    for cmd in ["git push origin main", "kubectl delete ns old", "ls -la"] {
        let body = json!({"agent_name": "a", "event_type": "command_request", "commands": [cmd]});
        ids.push(
            post_json(&client, &intake, &body.to_string()).await.json()["task_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    for (success, kind) in [(true, ""), (false, "test_failure"), (false, "")] {
        let body = json!({"event_type": "execution_result", "execution_result": {"status": "done"}, "metadata": {"success": success, "failure_kind": kind}});
        assert_eq!(
            post_json(&client, &intake, &body.to_string()).await.status,
            200
        );
    }
    let listed = get(&client, &sidecar.url("/agent-adapter/actions"))
        .await
        .json();
    assert_eq!(listed["count"], 6);
    assert_eq!(
        listed["reviews"][0]["approval_endpoint"],
        format!(
            "/agent-adapter/actions/{}/approve",
            listed["reviews"][0]["task_id"].as_str().unwrap()
        )
    );

    let approve = |id: &str| sidecar.url(&format!("/agent-adapter/actions/{id}/approve"));
    let a = post_json(&client, &approve(&ids[0]), "{}").await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (400, "confirm_required")
    );
    let a = post_json(&client, &approve(&ids[0]), r#"{"confirm": "yes"}"#).await;
    assert_eq!(a.status, 400, "confirm must be literally true");
    let a = post_json(&client, &approve(&ids[0]), r#"{"confirm": true}"#).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["status"], "approved_contract_only");
    let a = post_json(&client, &approve(&ids[0]), r#"{"confirm": true}"#).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (404, "pending_external_agent_action_not_found")
    );
    let a = post_json(
        &client,
        &sidecar.url(&format!("/agent-adapter/actions/{}/reject", ids[1])),
        r#"{"reason": "not now"}"#,
    )
    .await;
    assert_eq!(a.json()["status"], "rejected");
    let a = post_json(&client, &approve("act_unknown"), r#"{"confirm": true}"#).await;
    assert_eq!(a.status, 404);

    let board = get(&client, &sidecar.url("/agent-adapter/execution-results"))
        .await
        .json();
    assert_eq!(board["completed_results"], 3);
    assert_eq!(board["success_results"], 1);
    assert_eq!(board["failure_results"], 2);
    assert_eq!(board["success_rate"], 33.3);
    assert_eq!(
        board["failure_kind_counts"],
        json!({"test_failure": 1, "unknown": 1})
    );
    assert_eq!(board["recent_results"].as_array().unwrap().len(), 3);

    // Decisions survive a restart.
    assert_eq!(sidecar.terminate(), Some(0));
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let listed = get(&client, &sidecar.url("/agent-adapter/actions"))
        .await
        .json();
    assert_eq!(listed["count"], 4);
    let open: Vec<&str> = listed["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task_id"].as_str().unwrap())
        .collect();
    assert!(
        !open.contains(&ids[0].as_str())
            && !open.contains(&ids[1].as_str())
            && open.contains(&ids[2].as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxied_tool_calls_are_classified_and_refused_before_the_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("{}\n[escalation]\nmode = \"async\"\n", route(up)),
    );
    let client = http1();
    let url = sidecar.url("/tools/exec");

    let a = post_json(&client, &url, r#"{"command": "echo ok && rm -rf /"}"#).await;
    assert_eq!(a.status, 403);
    let v = a.json();
    assert_eq!(v["error"], "policy_denied");
    assert_eq!(v["decision"]["route"], "deny");
    assert_eq!(v["decision"]["rules"][0], "destructive.rm-recursive-system");

    let a = post_json(&client, &url, r#"{"command": "git push origin main"}"#).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (403, "escalation_pending")
    );
    assert_eq!(
        state.hits.load(Ordering::SeqCst),
        0,
        "refused calls never reach the upstream"
    );

    let a = post_json(&client, &url, r#"{"command": "ls -la", "cwd": "/work"}"#).await;
    assert_eq!(a.status, 200);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);

    let a = post_json(&client, &url, r#"{"command": "#).await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (400, "invalid_json")
    );

    let records = sidecar.tape();
    assert_eq!(records[0]["route"], "deny");
    assert_eq!(records[0]["risk"], "critical");
    assert_eq!(records[0]["outcome"]["code"], "policy_denied");
    assert_eq!(records[0]["action"]["arg_keys"], json!(["command"]));
    assert_eq!(records[2]["route"], "allow");
    assert_eq!(records[2]["action"]["arg_keys"], json!(["command", "cwd"]));
    let tape = sidecar.tape_text();
    assert!(
        !tape.contains("rm -rf") && !tape.contains("git push") && !tape.contains("/work"),
        "argument values never reach the tape"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_tool_apis_get_tool_rules_and_per_tool_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[gates.rate_limit]\nenabled = true\nrequests = 100\nmutation_requests = 100\n[[gates.rate_limit.overrides]]\ntool = \"write_*\"\nrequests = 1\nmutation_requests = 1\n\n[gates.auth]\nmode = \"bearer\"\ntoken_file = \"{}\"\n\n[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\ntool_path_prefix = \"/tools/\"\n\n[escalation]\nmode = \"async\"\n",
            {
                let token = dir.path().join("token");
                std::fs::write(&token, "tok-123456").unwrap();
                token.display().to_string()
            }
        ),
    );
    let send = |path: &str| {
        let req = http::Request::post(sidecar.url(path))
            .header("authorization", "Bearer tok-123456")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                b"{\"path\":\"a.txt\"}",
            )))
            .unwrap();
        let client = http1();
        async move { collect(client.request(req).await.unwrap()).await }
    };
    let a = send("/tools/delete_file").await;
    assert_eq!(
        (a.status, a.json()["decision"]["rules"][0].as_str().unwrap()),
        (403, "destructive.tool")
    );
    assert_eq!(send("/tools/write_file").await.status, 200);
    let a = send("/tools/write_file").await;
    assert_eq!(
        (a.status, a.json()["error"].as_str().unwrap()),
        (429, "rate_limited"),
        "per-tool limit"
    );
    assert_eq!(
        send("/tools/read_file").await.status,
        200,
        "other tools are not limited by it"
    );
    let records = sidecar.tape();
    assert_eq!(records[0]["action"]["tool"], "delete_file");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mislabelled_body_cannot_dodge_classification() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n\n[[routes]]\nname = \"uploads\"\nprefix = \"/uploads\"\nupstream = \"http://{up}\"\ninspect = \"json\"\n"
        ),
    );
    let client = http1();
    let send = |path: &str, content_type: Option<&str>, body: &'static str| {
        let mut req = http::Request::post(sidecar.url(path));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req
            .body(http_body_util::Full::new(bytes::Bytes::from_static(
                body.as_bytes(),
            )))
            .unwrap();
        let client = client.clone();
        async move { collect(client.request(req).await.unwrap()).await }
    };
    let evasive = r#"{"command": "rm -rf /"}"#;
    for ct in [Some("text/plain"), Some("application/octet-stream"), None] {
        let a = send("/tools/exec", ct, evasive).await;
        assert_eq!(
            (a.status, a.json()["error"].as_str().unwrap()),
            (403, "policy_denied"),
            "{ct:?}"
        );
    }
    assert_eq!(state.hits.load(Ordering::SeqCst), 0);
    // Plain text that is not JSON is hashed and forwarded.
    assert_eq!(
        send("/tools/exec", Some("text/plain"), "hello")
            .await
            .status,
        200
    );
    // A route that opted into `inspect = "json"` streams other bodies unread.
    assert_eq!(
        send("/uploads/blob", Some("application/octet-stream"), evasive)
            .await
            .status,
        200
    );
    let records = sidecar.requests();
    assert_eq!(records[3]["action"]["body_bytes"], 5);
    assert!(records[3]["action"]["body_sha256"].is_string());
    assert!(
        records[4]["action"].get("body_sha256").is_none(),
        "not inspected"
    );
}

/// A `proposed_action` that is a tool call is judged on its arguments:
/// money to an untrusted IBAN needs a person, a balance read does not, and
/// the recipient never reaches the tape.
#[tokio::test(flavor = "multi_thread")]
async fn a_proposed_tool_call_is_judged_on_its_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let iban = "US133000000121212121212";
    let send = json!({"agent_name": "a", "event_type": "proposed_action",
        "proposed_action": {"tool": "send_money", "arguments": {"recipient": iban, "amount": 900}}});
    let v = post_json(
        &http1(),
        &sidecar.url("/agent-adapter/intake"),
        &send.to_string(),
    )
    .await
    .json();
    assert_eq!(v["status"], "pending_review", "{v}");
    assert!(v["contract"]["decision"]["reasons"]
        .as_array()
        .unwrap()
        .contains(&json!("external_destination")));
    // As a JSON string too.
    let read = json!({"agent_name": "a", "event_type": "proposed_action",
        "proposed_action": json!({"name": "get_balance", "args": {}}).to_string()});
    let v = post_json(
        &http1(),
        &sidecar.url("/agent-adapter/intake"),
        &read.to_string(),
    )
    .await
    .json();
    assert_ne!(v["status"], "pending_review", "{v}");
    assert!(
        !sidecar.tape_text().contains(iban),
        "the tape holds the IBAN"
    );
}
