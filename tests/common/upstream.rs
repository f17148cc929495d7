//! A real hyper upstream on an ephemeral loopback port, with endpoints the
//! tests need: echo of what arrived, a controllable SSE stream, a slow answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Notify;

type Body = BoxBody<Bytes, Infallible>;

/// Shared state of the test upstream.
#[derive(Default)]
pub struct Upstream {
    pub hits: AtomicUsize,
    /// Released by the test to let `/sse` send its remaining events.
    pub release: Notify,
}

/// Starts the upstream; returns its address and state.
pub async fn start() -> (SocketAddr, Arc<Upstream>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Upstream::default());
    let shared = state.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let state = shared.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(state.clone(), req));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, state)
}

fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

async fn handle(
    state: Arc<Upstream>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let path = req.uri().path().to_owned();
    if path.starts_with("/slow") {
        tokio::time::sleep(Duration::from_millis(800)).await;
        return Ok(Response::new(full("slow done")));
    }
    if path.starts_with("/sse") {
        let stream = futures_util::stream::unfold((0, state.clone()), |(n, state)| async move {
            match n {
                0 => Some((
                    Ok(Frame::data(Bytes::from_static(
                        b"event: first\ndata: 1\n\n",
                    ))),
                    (1, state),
                )),
                1 => {
                    state.release.notified().await;
                    Some((
                        Ok(Frame::data(Bytes::from_static(
                            b"event: second\ndata: 2\n\n",
                        ))),
                        (2, state),
                    ))
                }
                _ => None,
            }
        });
        let mut response = Response::new(StreamBody::new(stream).boxed());
        response
            .headers_mut()
            .insert("content-type", "text/event-stream".parse().unwrap());
        return Ok(response);
    }
    if path.starts_with("/big") {
        // 16 MiB: more than loopback socket buffers hold, so a client that
        // stops reading stalls the response part-way.
        return Ok(Response::new(full(vec![b'b'; 16 << 20])));
    }
    if path.starts_with("/hop") {
        let mut response = Response::new(full("hop"));
        let h = response.headers_mut();
        h.insert("connection", "x-upstream-hop".parse().unwrap());
        h.insert("x-upstream-hop", "1".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-upstream-kept", "1".parse().unwrap());
        return Ok(response);
    }
    // Echo: what arrived, as JSON.
    let method = req.method().to_string();
    let version = format!("{:?}", req.version());
    let uri = req.uri().to_string();
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let echo = serde_json::json!({
        "method": method,
        "uri": uri,
        "version": version,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    let mut response = Response::new(full(echo.to_string()));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    Ok(response)
}
