//! Servers the load harness measures against, each on its own thread with a
//! one-thread runtime (one core's worth, like `BENCH_WORKERS=1`):
//!
//! - [`start_plain_proxy`]: a bare hyper-util reverse proxy — no gates, no
//!   classification, no tape. It is the floor of the HTTP stack cpos is built
//!   on, so a run shows which part of the gap to nginx is the stack and which
//!   is cpos's own work.
//! - [`start_mcp_upstream`]: a fast MCP server speaking streamable HTTP
//!   (`initialize`, `tools/list`, `tools/call` of `echo`), answering in JSON
//!   or as an SSE event, so the gateway's own cost is not hidden by a slow
//!   upstream's jitter.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// Runs `serve` for every connection accepted on a fresh loopback port, on
/// a thread of its own; returns the port's address.
fn spawn_server<F, Fut>(name: &str, serve: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::task::spawn_local(serve.clone()(stream));
                }
            });
        })
        .unwrap();
    rx.recv().unwrap()
}

/// A plain HTTP/1.1 reverse proxy to `upstream` with a pooled keep-alive
/// client: what hyper and hyper-util cost with nothing of cpos around them.
pub fn start_plain_proxy(upstream: SocketAddr) -> SocketAddr {
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    spawn_server("plain-proxy", move |stream| {
        let client = client.clone();
        async move {
            let svc = service_fn(move |mut req: Request<Incoming>| {
                let client = client.clone();
                async move {
                    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
                    let uri: Uri = format!("http://{upstream}{path}").parse().unwrap();
                    *req.uri_mut() = uri;
                    let answer = match client.request(req).await {
                        Ok(resp) => resp.map(|b| b.boxed()),
                        Err(_) => Response::builder()
                            .status(StatusCode::BAD_GATEWAY)
                            .body(Full::new(Bytes::new()).map_err(|e| match e {}).boxed())
                            .unwrap(),
                    };
                    Ok::<_, Infallible>(answer)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
    })
}

/// How the fast MCP upstream answers a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum McpAnswer {
    /// `application/json`.
    Json,
    /// One `text/event-stream` event.
    Sse,
}

/// The session id the fast MCP upstream hands out.
const SESSION: &str = "bench-session-0001";

/// A fast MCP server over streamable HTTP at `/mcp` with one tool, `echo`.
pub fn start_mcp_upstream(answer: McpAnswer) -> SocketAddr {
    spawn_server("mcp-upstream", move |stream| async move {
        let svc = service_fn(move |req: Request<Incoming>| async move {
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            Ok::<_, Infallible>(mcp_answer(answer, body.ok().as_deref()))
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), svc)
            .await;
    })
}

fn mcp_answer(answer: McpAnswer, body: Option<&[u8]>) -> Response<Full<Bytes>> {
    let message: serde_json::Value = match body.map(serde_json::from_slice) {
        Some(Ok(v)) => v,
        _ => return status(StatusCode::BAD_REQUEST),
    };
    let Some(id) = message.get("id").cloned() else {
        // A notification (`notifications/initialized`): accepted, no answer.
        return status(StatusCode::ACCEPTED);
    };
    let method = message["method"].as_str().unwrap_or_default();
    let result = match method {
        "initialize" => serde_json::json!({
            "protocolVersion": message["params"]["protocolVersion"].as_str().unwrap_or("2025-03-26"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "bench-mcp-upstream", "version": "1.0.0"},
        }),
        "tools/list" => serde_json::json!({"tools": [{
            "name": "echo",
            "description": "Echoes back the input",
            "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]},
        }]}),
        "tools/call" => {
            let text = message["params"]["arguments"]["message"]
                .as_str()
                .unwrap_or_default();
            serde_json::json!({"content": [{"type": "text", "text": format!("Echo: {text}")}]})
        }
        _ => serde_json::Value::Null,
    };
    let reply = if result.is_null() {
        serde_json::json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}})
    } else {
        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result})
    };
    let json = serde_json::to_string(&reply).unwrap();
    let (content_type, payload) = match answer {
        McpAnswer::Json => ("application/json", json),
        McpAnswer::Sse => (
            "text/event-stream",
            format!("event: message\ndata: {json}\n\n"),
        ),
    };
    Response::builder()
        .header("content-type", content_type)
        .header("mcp-session-id", SESSION)
        .body(Full::new(Bytes::from(payload)))
        .unwrap()
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("mcp-session-id", SESSION)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A static upstream: every request is read whole and answered with a
/// small JSON body.
pub fn start_static_upstream() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = service_fn(|req: Request<Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        let mut resp = Response::new(Full::new(Bytes::from_static(
                            br#"{"ok":true,"result":"hello"}"#,
                        )));
                        resp.headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok::<_, Infallible>(resp)
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}
