//! An MCP server that speaks stdio, exposed over streamable HTTP so that an
//! MCP route (`upstream = "stdio"`, `command = [...]`) can front it: the
//! gateway forwards to this bridge on loopback like to any HTTP upstream.
//!
//! POST carries one message or a batch; requests get their answers as
//! `application/json` (ids are rewritten on the way in so concurrent clients
//! never collide, and restored on the way out); notifications and responses
//! get 202. GET opens an SSE stream of what the server sends on its own
//! (notifications, requests). When the server exits, pending and later
//! requests are answered with a JSON-RPC error saying so; it is reaped, never
//! left a zombie.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::{broadcast, oneshot};

use super::jsonrpc::{self, Shape};
use crate::proxy::ProxyBody;

/// How long a request waits for the server's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

struct Bridge {
    name: String,
    stdin: tokio::sync::Mutex<Option<ChildStdin>>,
    pending: Mutex<HashMap<String, (Value, oneshot::Sender<Value>)>>,
    next: AtomicU64,
    events: broadcast::Sender<Bytes>,
    exited: Mutex<Option<String>>,
}

/// Spawns `command` with only the base environment and the variables
/// `env_files` declares (each read from its file now), and serves it on an
/// ephemeral loopback port.
pub async fn start(
    name: &str,
    command: &[String],
    env_files: &std::collections::BTreeMap<String, std::path::PathBuf>,
) -> std::io::Result<SocketAddr> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut env = Vec::with_capacity(env_files.len());
    for (var, file) in env_files {
        // The error names the variable and the file, never a value.
        let value = std::fs::read_to_string(file).map_err(|e| {
            std::io::Error::other(format!(
                "env_secret_files.{var}: reading {}: {e}",
                file.display()
            ))
        })?;
        env.push((var.clone(), value.trim_end_matches(['\n', '\r']).to_owned()));
    }
    let mut child = super::stdio::spawn_server_with(program, args, Some(&env))
        .map_err(|e| std::io::Error::other(format!("could not start `{program}`: {e}")))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("no stdout"))?;
    let bridge = Arc::new(Bridge {
        name: name.to_owned(),
        stdin: tokio::sync::Mutex::new(child.stdin.take()),
        pending: Mutex::new(HashMap::new()),
        next: AtomicU64::new(1),
        events: broadcast::channel(256).0,
        exited: Mutex::new(None),
    });
    tracing::info!(route = name, command = %program, pid = child.id(), "stdio MCP server started");

    let reader = bridge.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            reader.on_server_line(&line);
        }
    });
    let watcher = bridge.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        let how = match status {
            Ok(s) => s.to_string(),
            Err(e) => e.to_string(),
        };
        tracing::error!(route = %watcher.name, status = %how, "stdio MCP server exited; its route now answers with errors");
        *watcher.exited.lock().unwrap_or_else(|p| p.into_inner()) = Some(how.clone());
        let pending: Vec<_> = watcher
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (_, (id, tx)) in pending {
            let _ = tx.send(exited_error(id, &how));
        }
    });

    crate::server::loopback::serve(move |req| {
        let bridge = bridge.clone();
        async move { bridge.handle(req).await }
    })
    .await
}

fn exited_error(id: Value, how: &str) -> Value {
    jsonrpc::error_response(
        id,
        -32000,
        &format!("the stdio MCP server has exited ({how}); restart the sidecar"),
        serde_json::json!({"error": "upstream_exited"}),
    )
}

impl Bridge {
    /// One line from the server: an answer to a pending request, or a
    /// message of its own for GET listeners.
    fn on_server_line(&self, line: &str) {
        let Ok(mut message) = serde_json::from_str::<Value>(line) else {
            tracing::warn!(route = %self.name, "the stdio MCP server wrote a line that is not JSON; dropped");
            return;
        };
        let is_answer = message.get("method").is_none()
            && (message.get("result").is_some() || message.get("error").is_some());
        if is_answer {
            let key = message.get("id").and_then(Value::as_str).map(str::to_owned);
            let waiter = key.and_then(|k| {
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&k)
            });
            if let Some((id, tx)) = waiter {
                message["id"] = id;
                let _ = tx.send(message);
                return;
            }
        }
        let mut event = b"event: message\ndata: ".to_vec();
        event.extend_from_slice(line.as_bytes());
        event.extend_from_slice(b"\n\n");
        let _ = self.events.send(Bytes::from(event));
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        match *req.method() {
            Method::POST => self.post(req).await,
            Method::GET => self.stream(),
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "POST or GET"),
        }
    }

    async fn post(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let Ok(body) = Limited::new(req.into_body(), 64 << 20).collect().await else {
            return plain(StatusCode::BAD_REQUEST, "unreadable body");
        };
        let env = match jsonrpc::parse(&body.to_bytes()) {
            Ok(env) => env,
            Err(e) => return json(StatusCode::BAD_REQUEST, &e.response()),
        };
        let exited = self
            .exited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut waits = Vec::new();
        let mut out = Vec::new();
        for message in env.messages {
            let mut value = Value::Object(message.value);
            if let Shape::Request { id } = message.shape {
                if let Some(how) = &exited {
                    waits.push(Waiting::Ready(exited_error(id, how)));
                    continue;
                }
                let key = format!("cpos-{}", self.next.fetch_add(1, Ordering::Relaxed));
                let (tx, rx) = oneshot::channel();
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(key.clone(), (id.clone(), tx));
                value["id"] = Value::String(key);
                waits.push(Waiting::Answer(id, rx));
            }
            out.push(value);
        }
        if !out.is_empty() {
            let mut lines = Vec::new();
            for value in &out {
                lines.extend_from_slice(value.to_string().as_bytes());
                lines.push(b'\n');
            }
            let mut stdin = self.stdin.lock().await;
            let written = match stdin.as_mut() {
                Some(pipe) => pipe.write_all(&lines).await.and(pipe.flush().await),
                None => Err(std::io::Error::other("closed")),
            };
            if written.is_err() {
                *stdin = None;
            }
        }
        if waits.is_empty() {
            return plain(StatusCode::ACCEPTED, "");
        }
        let mut answers = Vec::with_capacity(waits.len());
        for wait in waits {
            answers.push(match wait {
                Waiting::Ready(value) => value,
                Waiting::Answer(id, rx) => match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
                    Ok(Ok(value)) => value,
                    _ => jsonrpc::error_response(
                        id,
                        -32000,
                        "the stdio MCP server did not answer",
                        serde_json::json!({"error": "upstream_timeout"}),
                    ),
                },
            });
        }
        let answer = if env.batch {
            Value::Array(answers)
        } else {
            answers.pop().unwrap_or(Value::Null)
        };
        json(StatusCode::OK, &answer)
    }

    /// GET: the server's own messages as SSE, from now on.
    fn stream(&self) -> Response<ProxyBody> {
        let rx = self.events.subscribe();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(event) => return Some((Ok::<_, Infallible>(Frame::data(event)), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        let mut response = Response::new(StreamBody::new(stream).map_err(|e| match e {}).boxed());
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        response
    }
}

enum Waiting {
    Ready(Value),
    Answer(Value, oneshot::Receiver<Value>),
}

fn json(status: StatusCode, value: &Value) -> Response<ProxyBody> {
    crate::problem::json_response(status, value)
}

fn plain(status: StatusCode, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}
