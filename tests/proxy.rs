//! End-to-end: the real `cpos serve` in front of a real upstream, spoken to
//! over HTTP/1.1, h2c and TLS (h2 and http/1.1 via ALPN).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::{BodyExt, Full};

fn route(upstream: std::net::SocketAddr) -> String {
    format!("[[routes]]\nname = \"tools\"\nprefix = \"/\"\nupstream = \"http://{upstream}\"\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn http1_forwarding_sets_forwarded_headers_and_records_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let answer = post_json(&client, &sidecar.url("/tools/run?q=needle42"), r#"{"x":1}"#).await;
    assert_eq!(answer.status, 200);
    let echo = answer.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["uri"], "/tools/run?q=needle42");
    assert_eq!(echo["body"], r#"{"x":1}"#);
    let headers = &echo["headers"];
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["host"], sidecar.data.to_string(), "Host preserved");
    assert_eq!(
        headers["forwarded"],
        format!("for=127.0.0.1;proto=http;host=\"{}\"", sidecar.data)
    );
    let request_id = answer.headers["x-cpos-request-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let records = sidecar.requests();
    let record = records
        .iter()
        .find(|r| r["request_id"] == request_id.as_str())
        .expect("a tape record per request");
    assert_eq!(record["action"]["connector"], "tools");
    assert_eq!(record["action"]["path"], "/tools/run");
    assert_eq!(record["action"]["body_bytes"], 7);
    assert_eq!(record["outcome"]["status"], 200);
    let text = sidecar.tape_text();
    assert!(
        !text.contains("needle42"),
        "query values never reach the tape"
    );
    assert!(
        !text.contains(r#"{\"x\":1}"#) && !text.contains("\"x\":1"),
        "bodies never reach the tape"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hop_by_hop_headers_are_stripped_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let req = Request::get(sidecar.url("/echo"))
        .header("connection", "keep-alive, x-client-hop")
        .header("x-client-hop", "secret")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("te", "trailers")
        .header("x-end-to-end", "kept")
        .body(Full::default())
        .unwrap();
    let answer = collect(client.request(req).await.unwrap()).await;
    let headers = answer.json()["headers"].clone();
    for gone in ["x-client-hop", "keep-alive", "proxy-authorization", "te"] {
        assert!(
            headers.get(gone).is_none(),
            "{gone} must not reach the upstream: {headers}"
        );
    }
    assert_eq!(headers["x-end-to-end"], "kept");

    let answer = get(&client, &sidecar.url("/hop")).await;
    assert_eq!(answer.status, 200);
    assert!(answer.headers.get("x-upstream-hop").is_none());
    assert!(answer.headers.get("keep-alive").is_none());
    assert_eq!(answer.headers["x-upstream-kept"], "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_clients_are_served_and_forwarded_as_http1() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let answer = post_json(&h2c(), &sidecar.url("/h2"), "{}").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.version, http::Version::HTTP_2);
    let echo = answer.json();
    assert_eq!(echo["version"], "HTTP/1.1");
    assert_eq!(
        echo["headers"]["host"],
        sidecar.data.to_string(),
        "h2 :authority becomes Host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_alpn_h2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let pki = pki(dir.path());
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n\n{}",
            pki.server_cert.display(),
            pki.server_key.display(),
            route(up)
        ),
    );
    for alpn in [&b"h2"[..], &b"http/1.1"[..]] {
        let req = Request::get(format!("https://127.0.0.1:{}/tls", sidecar.data.port()))
            .body(Full::default())
            .unwrap();
        let (answer, negotiated) = tls_request(sidecar.data, &pki.ca_der, &[alpn], req).await;
        assert_eq!(negotiated.as_deref(), Some(alpn));
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json()["headers"]["x-forwarded-proto"], "https");
    }

    // An HTTP/1.1 TLS connection quiet long enough to be parked (1 s)
    // serves its next request on the same TLS session.
    let tls = tls_connect(sidecar.data, &pki.ca_der, &[b"http/1.1"]).await;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let url = format!("https://127.0.0.1:{}/tls", sidecar.data.port());
    for wait in [0, 2500] {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let req = Request::get(&url).body(Full::<Bytes>::default()).unwrap();
        let answer = collect(sender.send_request(req).await.unwrap()).await;
        assert_eq!(answer.status, 200, "after {wait} ms quiet");
    }
    assert!(!conn.is_finished(), "the same connection served both");
}

#[tokio::test(flavor = "multi_thread")]
async fn sse_events_arrive_while_the_upstream_is_still_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let req = Request::get(sidecar.url("/sse"))
        .body(Full::default())
        .unwrap();
    let response = client.request(req).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    // The upstream holds its second event until released: the first must
    // already be here, so nothing buffers the stream.
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("first event arrives before the stream ends")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(first, Bytes::from_static(b"event: first\ndata: 1\n\n"));
    state.release.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, Bytes::from_static(b"event: second\ndata: 2\n\n"));
}

/// A raw HTTP/1.1 upstream that counts its connections, keeps them alive,
/// and closes one right after answering `/close` (no `Connection: close`:
/// what an upstream's idle timeout does to a pooled connection). Counts
/// connections accepted and connections the other side closed.
async fn counting_upstream() -> (std::net::SocketAddr, Arc<[AtomicUsize; 2]>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let count = counts.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            count[0].fetch_add(1, Ordering::SeqCst);
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        count[1].fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        let request: Vec<u8> = head.drain(..end + 4).collect();
                        let close = request.starts_with(b"GET /close ");
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() || close {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, counts)
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_connections_are_reused_and_a_closed_one_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (up, counts) = counting_upstream().await;
    let accepted = &counts[0];
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    for _ in 0..5 {
        let answer = get(&client, &sidecar.url("/a")).await;
        assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    }
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one kept-alive connection"
    );

    // The upstream closes the pooled connection; the next request opens one.
    assert_eq!(get(&client, &sidecar.url("/close")).await.status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = get(&client, &sidecar.url("/b")).await;
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    // Concurrent requests each get a connection, given back afterwards.
    let url = sidecar.url("/c");
    let calls = (0..8).map(|_| get(&client, &url));
    for answer in futures_util::future::join_all(calls).await {
        assert_eq!(answer.status, 200);
    }
    let opened = accepted.load(Ordering::SeqCst);
    assert!((2..=10).contains(&opened), "{opened} connections");
    for _ in 0..5 {
        assert_eq!(get(&client, &sidecar.url("/d")).await.status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), opened, "idle ones reused");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_upstream_connections_are_closed_after_the_pool_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (up, counts) = counting_upstream().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[upstream]\npool_idle_timeout_ms = 300\n\n{}", route(up)),
    );
    assert_eq!(get(&http1(), &sidecar.url("/a")).await.status, 200);
    assert_eq!(counts[1].load(Ordering::SeqCst), 0, "kept while fresh");
    wait_for("the idle connection to be closed", || {
        counts[1].load(Ordering::SeqCst) == 1
    });
    assert_eq!(get(&http1(), &sidecar.url("/b")).await.status, 200);
    assert_eq!(counts[0].load(Ordering::SeqCst), 2, "a new one afterwards");
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_upstream_gives_502_and_a_tape_record() {
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sidecar = Sidecar::start(dir.path(), &route(closed));
    let answer = get(&http1(), &sidecar.url("/anything")).await;
    assert_eq!(answer.status, 502);
    let body = answer.json();
    assert_eq!(body["error"], "upstream_unavailable");
    assert!(body["message"].as_str().unwrap().contains("running"));
    let records = sidecar.tape();
    let last = records.last().unwrap();
    assert_eq!(last["outcome"]["code"], "upstream_unavailable");
    assert_eq!(last["outcome"]["status"], 502);
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upstream_gives_504() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[upstream]\nresponse_timeout_ms = 200\n\n{}", route(up)),
    );
    let answer = get(&http1(), &sidecar.url("/slow")).await;
    assert_eq!(answer.status, 504);
    assert_eq!(answer.json()["error"], "upstream_timeout");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_inspected_body_is_refused_with_413() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[limits]\nmax_inspect_body_bytes = 64\n\n{}", route(up)),
    );
    let big = format!("{{\"k\":\"{}\"}}", "a".repeat(500));
    let answer = post_json(&http1(), &sidecar.url("/tools/x"), &big).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["error"], "body_too_large");
    assert_eq!(
        state.hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing forwarded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_path_without_a_route_is_404_no_route() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!("[[routes]]\nname = \"api\"\nprefix = \"/api\"\nupstream = \"http://{up}\"\nstrip_prefix = true\n"),
    );
    let answer = get(&http1(), &sidecar.url("/api/x?q=1")).await;
    assert_eq!(answer.json()["uri"], "/x?q=1");
    let answer = get(&http1(), &sidecar.url("/other")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"], "no_route");
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_plane_reports_health_metrics_and_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    get(&client, &sidecar.url("/a")).await;
    assert_eq!(
        get(&client, &sidecar.admin_url("/healthz")).await.status,
        200
    );
    let ready = get(&client, &sidecar.admin_url("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["checks"]["tape"], true);
    let metrics = String::from_utf8(
        get(&client, &sidecar.admin_url("/metrics"))
            .await
            .body
            .to_vec(),
    )
    .unwrap();
    assert!(
        metrics.contains("cpos_requests_total{route=\"tools\",outcome=\"forwarded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("cpos_tape_appends_total"));
    assert!(metrics.contains("cpos_open_connections"));
    let integrity = get(&client, &sidecar.admin_url("/integrity")).await.json();
    let records = sidecar.tape();
    assert_eq!(integrity["tape"]["head_seq"], records.len());
    assert_eq!(
        integrity["tape"]["head_hash"],
        records.last().unwrap()["_chain"]["row_hash"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (up, state) = upstream::start().await;
    let mut sidecar = Sidecar::start(dir.path(), &route(up));
    let client = http1();
    let url = sidecar.url("/slow");
    let in_flight = tokio::spawn(async move { get(&client, &url).await });
    // SIGTERM only once the request is in flight at the upstream.
    while state.hits.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let code = tokio::task::spawn_blocking(move || {
        let code = sidecar.terminate();
        (code, sidecar)
    })
    .await
    .unwrap();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the in-flight request completed");
    assert_eq!(answer.body, Bytes::from_static(b"slow done"));
    assert_eq!(code.0, Some(0));
    let records = code.1.requests();
    assert_eq!(records.last().unwrap()["action"]["path"], "/slow");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_heads_get_431_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(
        dir.path(),
        &format!(
            "[limits]\nmax_header_bytes = 8192\nidle_timeout_ms = 300\n\n{}",
            route(up)
        ),
    );
    let req = Request::get(sidecar.url("/x"))
        .header("x-big", "a".repeat(20_000))
        .body(Full::default())
        .unwrap();
    let answer = collect(http1().request(req).await.unwrap()).await;
    assert_eq!(answer.status, 431);

    // A keep-alive connection that goes quiet is closed by the sidecar.
    let mut stream = tokio::net::TcpStream::connect(sidecar.data).await.unwrap();
    stream
        .write_all(b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "idle connection closed by the sidecar");
}

/// Reads one HTTP/1.1 response with a `content-length` off `stream`.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .expect("content-length");
            if got.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_keep_alive_connections_are_parked_and_serve_their_next_request() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let sidecar = Sidecar::start(dir.path(), &route(up));
    let parked = || async {
        let text =
            String::from_utf8_lossy(&get(&http1(), &sidecar.admin_url("/metrics")).await.body)
                .to_string();
        text.lines()
            .find_map(|l| l.strip_prefix("cpos_parked_connections "))
            .map(|v| v.trim().parse::<u64>().unwrap())
            .unwrap()
    };
    let wait_parked = |want: u64| async move {
        for _ in 0..50 {
            if parked().await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cpos_parked_connections never reached {want}");
    };
    let mut stream = tokio::net::TcpStream::connect(sidecar.data).await.unwrap();
    let head = b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n";
    stream.write_all(head).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    assert_eq!(
        parked().await,
        0,
        "a connection is not parked right after a request"
    );

    // Quiet for a second: parked, and the next request on it is served.
    wait_parked(1).await;
    stream.write_all(head).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Half a request head, then quiet: not parked (parking would end
    // keep-alive for the request under way), served when the rest arrives,
    // and the connection stays open.
    stream.write_all(&head[..9]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stream.write_all(&head[9..]).await.unwrap();
    let answer = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );

    // A client that stops reading a large response for longer than the
    // park delay: the response arrives whole, and the connection serves
    // the next request.
    stream
        .write_all(b"GET /big HTTP/1.1\r\nhost: t\r\n\r\n")
        .await
        .unwrap();
    let mut got = vec![0u8; 64 << 10];
    let n = stream.read(&mut got).await.unwrap();
    let text = String::from_utf8_lossy(&got[..n]).to_string();
    let end = text.find("\r\n\r\n").expect("a response head") + 4;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut body = n - end;
    while body < 16 << 20 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut got))
            .await
            .expect("the rest of the body in time")
            .unwrap();
        assert!(n > 0, "closed after {body} body bytes");
        body += n;
    }
    assert_eq!(body, 16 << 20);
    stream.write_all(head).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));

    // Two pipelined requests on a parked connection: both answered.
    wait_parked(1).await;
    stream
        .write_all(&[&head[..], &head[..]].concat())
        .await
        .unwrap();
    let both = read_response(&mut stream).await;
    let both = if both.matches("HTTP/1.1 200").count() == 2 {
        both
    } else {
        both + &read_response(&mut stream).await
    };
    assert_eq!(both.matches("HTTP/1.1 200").count(), 2, "{both}");
    drop(stream);
    wait_parked(0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_info_log_line_per_request_and_openmetrics_from_the_admin_plane() {
    let dir = tempfile::tempdir().unwrap();
    let (up, _) = upstream::start().await;
    let routes =
        format!("[[routes]]\nname = \"tools\"\nprefix = \"/tools/\"\nupstream = \"http://{up}\"\n");
    let sidecar = Sidecar::start(dir.path(), &format!("[log]\nrequests = true\n\n{routes}"));
    let answer = get(&http1(), &sidecar.url("/tools/hello?q=find-me-value")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(get(&http1(), &sidecar.url("/elsewhere")).await.status, 404);
    common::wait_for("the request's log lines", || {
        let log = sidecar.stderr();
        log.lines().any(|l| {
            l.contains(" INFO ")
                && l.contains(" request ")
                && l.contains("route=\"tools\"")
                && l.contains("verdict=\"allow\"")
                && l.contains("status=200")
                && l.contains("duration_us=")
        }) && log
            .lines()
            .any(|l| l.contains("code=\"no_route\"") && l.contains("refused_by=\"request\""))
    });
    assert!(
        !sidecar.stderr().contains("find-me-value"),
        "the log holds metadata only"
    );
    assert!(
        !sidecar.stderr().contains('\u{1b}'),
        "no colours when stderr is not a terminal"
    );
    // In dev, what only the hardened profile requires is one info line,
    // not a warning each.
    let log = sidecar.stderr();
    assert!(log.contains("not hardened (fine for dev)"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.contains(" WARN ") && l.contains("tls_enabled")),
        "{log}"
    );

    let metrics = get(&http1(), &sidecar.admin_url("/metrics")).await;
    let content_type = metrics.headers["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = String::from_utf8_lossy(&metrics.body).to_string();
    assert!(text.trim_end().ends_with("# EOF"));
    for family in [
        "cpos_refusals_total{gate=\"request\",code=\"no_route\"} 1",
        "cpos_tape_queue_depth ",
        "cpos_tape_fsync_duration_seconds_count ",
    ] {
        assert!(text.contains(family), "{family} missing from\n{text}");
    }

    // The same line as JSON, for collectors.
    let json_dir = tempfile::tempdir().unwrap();
    let sidecar = Sidecar::start(
        json_dir.path(),
        &format!("[log]\nformat = \"json\"\nrequests = true\n\n{routes}"),
    );
    assert_eq!(get(&http1(), &sidecar.url("/tools/x")).await.status, 200);
    common::wait_for("a JSON request line", || {
        sidecar.stderr().lines().any(|l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| {
                v["fields"]["message"] == "request"
                    && v["fields"]["status"] == 200
                    && v["target"] == "cpos::request"
            })
        })
    });

    // Off by default: the tape holds every request; the log only what went wrong.
    let quiet_dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sidecar = Sidecar::start(
        quiet_dir.path(),
        &format!(
            "[log]\nformat = \"json\"\n\n{routes}\n[[routes]]\nname = \"dead\"\nprefix = \"/dead/\"\nupstream = \"http://{closed}\"\n"
        ),
    );
    assert_eq!(get(&http1(), &sidecar.url("/tools/x")).await.status, 200);
    assert_eq!(get(&http1(), &sidecar.url("/dead/x")).await.status, 502);
    common::wait_for("the upstream failure's warning", || {
        sidecar.stderr().contains("upstream failure")
    });
    let log = sidecar.stderr();
    assert!(!log.contains("cpos::request"), "{log}");
}
