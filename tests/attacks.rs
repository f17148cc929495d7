//! The one-request-path guarantee, tried as an attacker would: every call is
//! seen as a lenient tool will see it, classified, and recorded before it
//! runs. A Python upstream with the default `json` module (it accepts BOMs,
//! NaN, duplicate keys and UTF-16, and routes decoded, normalised paths)
//! logs every request it would act on; each test proves the dangerous call
//! never reached it and that the tape holds the refusal.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use common::{collect, http1, post_json, upstream, Sidecar, TestClient};
use http::Request;
use http_body_util::Full;

/// The lenient Python upstream and the log of what it acted on.
struct Lenient {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Lenient {
    fn start(dir: &Path) -> Lenient {
        let log = dir.join("upstream.log");
        std::fs::write(&log, "").unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/upstreams/lenient_upstream.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed (tests/run.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Lenient {
            child,
            port: line.trim().parse().expect("the upstream prints its port"),
            log,
        }
    }

    /// Every request the upstream acted on.
    fn seen(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// True when any request that reached the upstream carried `needle` in a
    /// command or routed to a path containing it.
    fn ran(&self, needle: &str) -> bool {
        self.seen().iter().any(|e| {
            e["path"].as_str().unwrap().contains(needle)
                || e["commands"].to_string().contains(needle)
        })
    }
}

impl Drop for Lenient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tools_route(port: u16) -> String {
    format!(
        "[escalation]\nenabled = false\n\n[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://127.0.0.1:{port}\"\ntool_path_prefix = \"/tools/\"\n"
    )
}

async fn send(
    client: &TestClient,
    method: &str,
    url: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> common::Answer {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap();
    collect(client.request(req).await.unwrap()).await
}

/// Sends raw bytes on a fresh connection; returns the status line's code.
fn raw(addr: std::net::SocketAddr, request: &[u8]) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut buf = [0u8; 512];
    let n = stream.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"))
}

/// The `request` record answering `request_id`.
fn record_of(sidecar: &Sidecar, answer: &common::Answer) -> serde_json::Value {
    let id = answer.headers["x-cpos-request-id"].to_str().unwrap();
    sidecar
        .requests()
        .into_iter()
        .find(|r| r["request_id"] == id)
        .unwrap_or_else(|| panic!("no request record for {id}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_are_decided_as_the_tool_routes_them() {
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    let sidecar = Sidecar::start(dir.path(), &tools_route(up.port));
    let client = http1();
    for path in [
        "/tools/%64elete_file",
        "/tools/./delete_file",
        "//tools/delete_file",
        "/tools//delete_file",
        "/x/../tools/delete_file",
        "/tools/x/%2e%2e/delete_file",
    ] {
        let answer = post_json(&client, &sidecar.url(path), "{}").await;
        assert_eq!(answer.status, 403, "{path}: {:?}", answer.body);
        assert_eq!(answer.json()["error"], "human_approval_required", "{path}");
        let record = record_of(&sidecar, &answer);
        assert_eq!(record["action"]["tool"], "delete_file", "{path}");
        assert_eq!(record["action"]["path"], "/tools/delete_file", "{path}");
    }
    for (path, code) in [
        ("/tools%2Fdelete_file", "path_encoded_separator"),
        ("/tools/delete_file%00", "path_control_character"),
        ("/tools/%zzdelete_file", "path_bad_escape"),
        ("/tools%5cdelete_file", "path_encoded_separator"),
    ] {
        let answer = post_json(&client, &sidecar.url(path), "{}").await;
        assert_eq!(answer.status, 400, "{path}");
        assert_eq!(answer.json()["error"], code, "{path}");
        assert_eq!(record_of(&sidecar, &answer)["outcome"]["code"], code);
    }
    assert!(!up.ran("delete_file"), "{:?}", up.seen());

    // What is decided is what is forwarded: the upstream gets the canonical path.
    let (echo, _) = upstream::start().await;
    let dir2 = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start(dir2.path(), &tools_route(echo.port()));
    let answer = post_json(&client, &sidecar.url("//tools/./%65cho?a=%2F"), "{}").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["uri"], "/tools/echo?a=%2F");
}

#[tokio::test(flavor = "multi_thread")]
async fn scopes_and_tool_limits_see_the_canonical_path() {
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    // A token registry: the SHA-256 of the token, its principal and scopes.
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(b"s3cret-token-for-tests"));
    std::fs::write(
        dir.path().join("tokens.json"),
        serde_json::json!({"tokens": [{"principal": "ci", "token_sha256": sha, "scopes": ["write:tools", "read:tools"]}]}).to_string(),
    )
    .unwrap();
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[gates.auth]\nmode = \"bearer\"\ntoken_registry_file = \"{}\"\nscopes = [{{ prefix = \"/tools/admin\", read = \"read:admin\", write = \"write:admin\" }}, {{ prefix = \"/tools\", read = \"read:tools\", write = \"write:tools\" }}]\n{}",
            dir.path().join("tokens.json").display(),
            tools_route(up.port)
        ),
    );
    let client = http1();
    for path in [
        "/tools/%61dmin/reset",
        "/tools/./admin/reset",
        "//tools/admin/reset",
    ] {
        let req = Request::post(sidecar.url(path))
            .header("authorization", "Bearer s3cret-token-for-tests")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let answer = collect(client.request(req).await.unwrap()).await;
        assert_eq!(answer.status, 403, "{path}");
        assert_eq!(answer.json()["error"], "scope_denied", "{path}");
    }
    assert!(!up.ran("admin"), "{:?}", up.seen());
    // The same token may call the tools its scopes cover, as `ci`.
    let req = Request::post(sidecar.url("/tools/echo"))
        .header("authorization", "Bearer s3cret-token-for-tests")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = collect(client.request(req).await.unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(record_of(&sidecar, &answer)["principal"], "ci");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_that_are_not_strict_json_are_refused_never_forwarded() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    let sidecar = Sidecar::start(dir.path(), &tools_route(up.port));
    let client = http1();
    let utf16: Vec<u8> =
        r#"{"command":"rm -rf /"}"#.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"command":"rm -rf /"}"#).unwrap();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("trailing data", br#"{"command":"rm -rf /"}x"#.to_vec()),
        (
            "two documents",
            br#"{"command":"ls"}{"command":"rm -rf /"}"#.to_vec(),
        ),
        ("a BOM", b"\xEF\xBB\xBF{\"command\":\"rm -rf /\"}".to_vec()),
        ("NaN", br#"{"command":"rm -rf /","n":NaN}"#.to_vec()),
        ("UTF-16", utf16),
        (
            "a lone surrogate",
            br#"{"command":"rm -rf /","x":"\ud800"}"#.to_vec(),
        ),
        (
            "invalid UTF-8",
            b"{\"command\":\"rm -rf /\",\"x\":\"\xff\"}".to_vec(),
        ),
        (
            "duplicate keys",
            br#"{"command":"ls","command":"rm -rf /"}"#.to_vec(),
        ),
    ];
    for (what, body) in bodies {
        for content_type in ["text/plain", "application/octet-stream", "application/json"] {
            let answer = send(
                &client,
                "POST",
                &sidecar.url("/tools/exec"),
                content_type,
                body.clone(),
            )
            .await;
            assert_eq!(
                answer.status, 400,
                "{what} as {content_type}: {:?}",
                answer.body
            );
            assert_eq!(answer.json()["error"], "invalid_json", "{what}");
        }
    }
    // A compressed body is classified after decompression.
    let req = Request::post(sidecar.url("/tools/exec"))
        .header("content-type", "text/plain")
        .header("content-encoding", "gzip")
        .body(Full::new(Bytes::from(gz.finish().unwrap())))
        .unwrap();
    let answer = collect(client.request(req).await.unwrap()).await;
    assert_eq!(answer.status, 403, "{:?}", answer.body);
    assert_eq!(answer.json()["error"], "policy_denied");
    assert!(!up.ran("rm -rf"), "{:?}", up.seen());
    assert!(up.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_are_found_wherever_a_tool_would_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    let sidecar = Sidecar::start(dir.path(), &tools_route(up.port));
    let client = http1();
    let mut deep = serde_json::json!({"command": "rm -rf /"});
    for _ in 0..40 {
        deep = serde_json::json!({"next": deep});
    }
    let json_bodies = [
        serde_json::json!({"steps": [{"name": "a"}, {"command": "rm -rf /"}]}),
        serde_json::json!([{"command": "rm -rf /"}]),
        serde_json::json!({"commands": ["cargo test", "rm -rf /"]}),
        serde_json::json!({"command": ["rm", "-rf", "/"]}),
        serde_json::json!({"note": "cleanup; rm -rf / --no-preserve-root"}),
        // Readers that split lines on `\r` or U+2028 (Python's
        // `splitlines`) run what follows, even inside quotes.
        serde_json::json!({"command": "echo ok\rrm -rf /"}),
        serde_json::json!({"command": "echo 'notes\u{2028}rm -rf / #'"}),
        serde_json::json!({"command": "rm${IFS}-rf${IFS}/"}),
        serde_json::json!({"command": "eval \"rm -rf /\""}),
        // A JSON document in a string, as OpenAI-style tool calls carry
        // their arguments: the tool parses it and runs what is inside.
        serde_json::json!({"name": "shell", "arguments": "{\"command\": \"rm -rf /\"}"}),
        deep,
    ];
    for body in json_bodies {
        let answer = post_json(&client, &sidecar.url("/tools/exec"), &body.to_string()).await;
        assert_eq!(answer.status, 403, "{body}: {:?}", answer.body);
    }
    // An MCP `tools/call` sent to a plain route is judged by its tool: a
    // terminal tool runs its `input`.
    let rpc = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "run_in_terminal", "arguments": {"input": "rm -rf /"}}});
    // So is each call of a batch, whichever place it holds.
    let ping = serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "ping", "arguments": {}}});
    for body in [rpc.clone(), serde_json::json!([ping, rpc])] {
        let answer = post_json(&client, &sidecar.url("/rpc"), &body.to_string()).await;
        assert_eq!(
            answer.status, 403,
            "JSON-RPC on a plain route: {body}: {:?}",
            answer.body
        );
    }
    // The instance-metadata address, however it is written, is refused.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/latest/meta-data/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
    ] {
        let body = serde_json::json!({"url": url}).to_string();
        let answer = post_json(&client, &sidecar.url("/tools/fetch"), &body).await;
        assert_eq!(answer.status, 403, "{url}: {:?}", answer.body);
    }
    // Query string, form fields and multipart fields are arguments too.
    let answer = send(
        &client,
        "GET",
        &sidecar.url("/tools/exec?command=rm+-rf+%2F"),
        "text/plain",
        "",
    )
    .await;
    assert_eq!(answer.status, 403, "query");
    let answer = send(
        &client,
        "POST",
        &sidecar.url("/tools/exec"),
        "application/x-www-form-urlencoded",
        "command=rm+-rf+%2F",
    )
    .await;
    assert_eq!(answer.status, 403, "form");
    let multipart = "--BOUND\r\nContent-Disposition: form-data; name=\"command\"\r\n\r\nrm -rf /\r\n--BOUND--\r\n";
    let answer = send(
        &client,
        "POST",
        &sidecar.url("/tools/exec"),
        "multipart/form-data; boundary=BOUND",
        multipart,
    )
    .await;
    assert_eq!(answer.status, 403, "multipart");
    // A JSON body declared as a form: the form reading finds one odd key,
    // a lenient tool parses the JSON. Ambiguous, so refused.
    let answer = send(
        &client,
        "POST",
        &sidecar.url("/tools/exec"),
        "application/x-www-form-urlencoded",
        r#"{"command": "rm -rf /"}"#,
    )
    .await;
    assert_eq!(answer.status, 400, "JSON as a form: {:?}", answer.body);
    assert_eq!(answer.json()["error"], "invalid_json", "{:?}", answer.body);

    // Over HTTP/2 a GET or OPTIONS may carry a body without a length.
    let h2 = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .http2_only(true)
        .build::<_, http_body_util::StreamBody<_>>(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        );
    for method in ["GET", "OPTIONS", "DELETE"] {
        let frames = futures_util::stream::iter(vec![Ok::<_, std::convert::Infallible>(
            hyper::body::Frame::data(Bytes::from_static(br#"{"command":"rm -rf /"}"#)),
        )]);
        let req = Request::builder()
            .method(method)
            .uri(sidecar.url("/tools/exec"))
            .body(http_body_util::StreamBody::new(frames))
            .unwrap();
        assert!(req.headers().get("content-length").is_none());
        let answer = collect(h2.request(req).await.unwrap()).await;
        assert_eq!(answer.status, 403, "h2 {method} with a body");
    }
    assert!(!up.ran("rm -rf"), "{:?}", up.seen());
}

#[tokio::test(flavor = "multi_thread")]
async fn methods_and_identity_come_from_what_the_sidecar_knows() {
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    std::fs::write(dir.path().join("token"), "s3cret-token-for-tests").unwrap();
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[gates.auth]\nmode = \"bearer\"\ntoken_file = \"{}\"\ntoken_principal = \"ci-agent\"\n[gates.rate_limit]\nenabled = true\nwindow_seconds = 60\nrequests = 1000\nmutation_requests = 1000\n[[gates.rate_limit.overrides]]\nprincipal = \"ci-agent\"\nrequests = 3\nmutation_requests = 3\n{}",
            dir.path().join("token").display(),
            tools_route(up.port)
        ),
    );
    let auth = "authorization: Bearer s3cret-token-for-tests\r\n";
    // Lower-case and unregistered methods, CONNECT and TRACE: 405.
    for line in [
        "post /tools/exec HTTP/1.1",
        "PoSt /tools/exec HTTP/1.1",
        "TRACE /tools/exec HTTP/1.1",
        "CONNECT 127.0.0.1:1 HTTP/1.1",
    ] {
        let status = raw(
            sidecar.data,
            format!("{line}\r\nhost: t\r\n{auth}content-length: 2\r\n\r\n{{}}").as_bytes(),
        );
        assert_eq!(status, 405, "{line}");
    }
    // A method override would make the tool see another method: 400.
    let status = raw(
        sidecar.data,
        format!(
            "GET /tools/exec HTTP/1.1\r\nhost: t\r\n{auth}x-http-method-override: DELETE\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status, 400);
    // Two X-Agent-Id headers: 400.
    let status = raw(
        sidecar.data,
        format!(
            "GET /tools/exec HTTP/1.1\r\nhost: t\r\n{auth}x-agent-id: a\r\nx-agent-id: b\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(status, 400);
    // The principal is the token's, whatever X-Agent-Id says: rotating it
    // does not reset the per-principal limit.
    let client = http1();
    let mut statuses = Vec::new();
    for i in 0..5 {
        let req = Request::get(sidecar.url("/tools/read"))
            .header("authorization", "Bearer s3cret-token-for-tests")
            .header("x-agent-id", format!("agent-{i}"))
            .header("x-forwarded-for", "10.1.2.3")
            .header("x-cpos-injected", "1")
            .body(Full::default())
            .unwrap();
        statuses.push(collect(client.request(req).await.unwrap()).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let records = sidecar.requests();
    assert!(records
        .iter()
        .filter(|r| r["outcome"]["status"] == 200)
        .all(|r| r["principal"] == "ci-agent"));
    let seen = up.seen();
    assert!(seen.iter().all(|e| e["method"] != "DELETE"));
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(records
        .iter()
        .any(|r| r["outcome"]["code"] == "method_not_allowed"));
}

#[test]
fn a_connection_that_sends_nothing_is_closed_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start(dir.path(), "[limits]\nheader_read_timeout_ms = 300\nidle_timeout_ms = 60000\nmax_connections_per_ip = 4\n");
    let mut silent = std::net::TcpStream::connect(sidecar.data).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(silent.read(&mut buf), Ok(0)),
        "closed, not timed out on our side"
    );
    // A per-IP cap: the fifth concurrent connection is closed at once.
    let held: Vec<_> = (0..4)
        .map(|_| std::net::TcpStream::connect(sidecar.data).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = std::net::TcpStream::connect(sidecar.data).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = extra.write_all(b"GET / HTTP/1.1\r\nhost: t\r\n\r\n");
    // Closed at once: end of stream or a reset, never an answer or a
    // timeout (which would mean it was served or left hanging).
    let closed = match extra.read(&mut buf) {
        Ok(n) => n == 0,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "the connection over the per-IP cap was closed");
    drop(held);
}

/// Slowloris on a keep-alive connection: one byte of a request head every
/// 1.2 s. Each pause is longer than the 1 s after which an idle connection
/// is parked, yet the head's time keeps counting from its first byte: the
/// connection is closed at the header read timeout.
#[test]
fn a_head_trickled_in_is_closed_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start(
        dir.path(),
        "[limits]\nheader_read_timeout_ms = 1500\nidle_timeout_ms = 60000\n",
    );
    let mut stream = std::net::TcpStream::connect(sidecar.data).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    assert!(
        stream.read(&mut buf).unwrap() > 0,
        "the first request is answered"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    stream.write_all(b"GET /x HTTP/1.1\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(1200)))
        .unwrap();
    let closed_after = loop {
        match stream.read(&mut buf) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // End of stream, a reset, or the server's 408: closed.
            _ => break started.elapsed(),
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "still open after 8 s of trickling"
        );
        if stream.write_all(b"x").is_err() {
            break started.elapsed();
        }
    };
    assert!(
        closed_after < Duration::from_secs(4),
        "closed after {closed_after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_runs_when_the_tape_cannot_record_it() {
    let dir = tempfile::tempdir().unwrap();
    let up = Lenient::start(dir.path());
    // The tape may grow to 16 KiB and no further: writes past it fail
    // (EFBIG), as on a full disk. SIGXFSZ is ignored so the write fails
    // instead of killing the process.
    let sidecar = Sidecar::start_under(
        dir.path(),
        &tools_route(up.port),
        "trap '' XFSZ; ulimit -f 32",
    );
    let client = http1();
    let mut statuses = Vec::new();
    for i in 0..60 {
        let answer = post_json(
            &client,
            &sidecar.url("/tools/echo"),
            &format!(r#"{{"text":"call-{i:03}"}}"#),
        )
        .await;
        statuses.push(answer.status);
    }
    assert!(statuses.contains(&503), "the tape filled up: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    let ready = collect(
        client
            .request(
                Request::get(sidecar.admin_url("/readyz"))
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ready.status, 503, "readiness reports the tape");
    // Every call the upstream ran has its decision on the tape.
    let decisions = sidecar
        .tape()
        .into_iter()
        .filter(|r| r["event"] == "decision")
        .count();
    let ran = up.seen().len();
    assert!(ran > 0);
    assert!(
        ran <= decisions,
        "{ran} calls ran, {decisions} decisions recorded"
    );
    // A call whose outcome could not be recorded after it ran is answered
    // 503 too, so the upstream may have run more calls than got a 200.
    assert!(ran >= statuses.iter().filter(|s| **s == 200).count());
    // The tape is intact.
    let (code, out, _) = common::cpos(
        &["tape", "verify", dir.path().join("tape").to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_still_gets_its_outcome_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[[routes]]\nname = \"t\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n"),
    );
    let client = http1();
    let req = Request::get(sidecar.url("/slow"))
        .body(Full::default())
        .unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(200), client.request(req)).await;
    assert!(gave_up.is_err());
    common::wait_for("the outcome record", || {
        sidecar
            .requests()
            .iter()
            .any(|r| r["outcome"]["code"] == "client_closed_request")
    });
    let records = sidecar.tape();
    let id = records.iter().find(|r| r["event"] == "decision").unwrap()["request_id"].clone();
    assert!(records.iter().any(|r| r["event"] == "request"
        && r["request_id"] == id
        && r["outcome"]["status"] == 499));
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_huge_segments_in_paths_are_recorded_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[limits]\nmax_header_bytes = 131072\n[[routes]]\nname = \"t\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n"),
    );
    let client = http1();
    let token = "ghp_R4nd0mT0kenV4lue1234567890abcdefABCD";
    let answer = common::get(&client, &sidecar.url(&format!("/tools/fetch/{token}"))).await;
    assert_eq!(answer.status, 200);
    let long = "a".repeat(60_000);
    let answer = common::get(&client, &sidecar.url(&format!("/files/{long}"))).await;
    assert_eq!(answer.status, 200);
    let text = sidecar.tape_text();
    assert!(!text.contains(token), "the token never reaches the tape");
    assert!(text.lines().all(|l| l.len() < 4096), "records stay small");
    assert!(text.contains("/tools/fetch/sha256:"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tape_start_up_verifies_the_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let extra = format!("[[routes]]\nname = \"t\"\nprefix = \"/\"\nupstream = \"http://{up}\"\n");
    let start =
        |dir: &Path| Sidecar::start_with(dir, &extra, &[("CPOS_TAPE__SEGMENT_MAX_BYTES", "4096")]);
    let mut sidecar = start(dir.path());
    let client = http1();
    for i in 0..40 {
        common::get(&client, &sidecar.url(&format!("/r{i}"))).await;
    }
    assert_eq!(sidecar.terminate(), Some(0));
    let tape = dir.path().join("tape");
    let mut segments: Vec<_> = std::fs::read_dir(&tape)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    segments.sort();
    assert!(segments.len() >= 3, "{segments:?}");
    let serve = |dir: &Path| {
        let (code, _, err) = common::cpos(
            &["serve", "--config", dir.join("cpos.toml").to_str().unwrap()],
            dir,
        );
        (code, err)
    };
    let first = std::fs::read(&segments[0]).unwrap();

    // A flipped byte in an early segment.
    let mut bytes = first.clone();
    let at = bytes.windows(3).position(|w| w == b"/r0").unwrap() + 2;
    bytes[at] = b'9';
    std::fs::write(&segments[0], &bytes).unwrap();
    let (code, err) = serve(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tape-000001.jsonl"), "{err}");

    // A record with an injected duplicate key (same hash, other meaning).
    let text = String::from_utf8(first.clone()).unwrap();
    let injected = text.replacen(
        "\"event\":\"decision\"",
        "\"event\":\"forged\",\"event\":\"decision\"",
        1,
    );
    std::fs::write(&segments[0], injected).unwrap();
    let (code, err) = serve(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("canonical"), "{err}");

    // The first records deleted.
    let rest: String = text.lines().skip(2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&segments[0], rest).unwrap();
    let (code, err) = serve(dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not start at genesis"), "{err}");

    // The first segment deleted: refused, unless an anchor says where the
    // kept part starts.
    std::fs::remove_file(&segments[0]).unwrap();
    let (code, err) = serve(dir.path());
    assert_eq!(code, 2, "{err}");
    let second = std::fs::read_to_string(&segments[1]).unwrap();
    let first_record: serde_json::Value =
        serde_json::from_str(second.lines().next().unwrap()).unwrap();
    let anchor = first_record["_chain"]["prev_hash"].as_str().unwrap();
    let mut sidecar = Sidecar::start_with(
        dir.path(),
        &extra,
        &[
            ("CPOS_TAPE__SEGMENT_MAX_BYTES", "4096"),
            ("CPOS_TAPE__ANCHOR", anchor),
        ],
    );
    assert_eq!(
        common::get(&client, &sidecar.url("/after")).await.status,
        200
    );
    assert_eq!(sidecar.terminate(), Some(0));
}
