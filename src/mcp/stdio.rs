//! The stdio interposer: `cpos stdio -- <server command>` stands where an
//! agent's MCP configuration launches a server. It spawns the real server,
//! relays newline-delimited JSON-RPC both ways, reviews every request from
//! the agent exactly as the HTTP gateway does, filters `tools/list` results
//! coming back, and records every decision on the tape. Refused requests are
//! answered on the agent's side and never reach the server.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::downstream::{line_safe_json, screen, Dropped};
use super::intercept::{review, Connector, PinChange, Plan};
use super::jsonrpc::{self, Envelope};
use super::listing::ListingFilter;
use crate::policy::{Decision, Policy};
use crate::state::RequestIds;
use crate::tape::{ActionSummary, Outcome, Tape, TapeRecord};

/// Time the server gets to exit after its stdin closes or we are signalled.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// What the interposer needs besides the server command.
pub struct Interposer {
    /// Connector name on the tape and in pins.
    pub listing: ListingFilter,
    /// What calls to a changed tool get.
    pub pin_change: PinChange,
    /// The classification policy.
    pub policy: Arc<Policy>,
    /// The decision tape.
    pub tape: Tape,
    /// Largest message accepted from the agent.
    pub max_message_bytes: usize,
    /// The agent, when its launcher declares one (`CPOS_AGENT_ID`).
    pub agent: Option<String>,
}

/// How the server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerExit {
    /// Exit code, when it exited.
    pub code: Option<i32>,
    /// Signal number, when a signal ended it.
    pub signal: Option<i32>,
}

impl ServerExit {
    /// The exit code the interposer itself exits with (128 + signal).
    pub fn exit_code(&self) -> i32 {
        self.code.or(self.signal.map(|s| 128 + s)).unwrap_or(1)
    }
}

/// Why the interposer could not run.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    /// The server command could not be started.
    #[error("could not start the MCP server `{command}`: {reason}; check the command after `--`")]
    Spawn {
        /// argv[0].
        command: String,
        /// The OS error.
        reason: String,
    },
    /// Waiting for the server failed.
    #[error("waiting for the MCP server failed: {0}")]
    Wait(std::io::Error),
}

/// Outcome of reading one line with a size cap.
enum Line {
    /// A complete line (without its newline) is in the buffer.
    Complete,
    /// The line exceeded the cap and was skipped up to its newline.
    TooLong(usize),
    /// End of input.
    Eof,
}

impl Interposer {
    /// Runs the server under the interposer until it exits; returns how.
    pub async fn run(self, command: &[String]) -> Result<ServerExit, StdioError> {
        let (program, args) = command.split_first().ok_or_else(|| StdioError::Spawn {
            command: String::new(),
            reason: "no command given".into(),
        })?;
        let mut child = spawn_server(program, args).map_err(|e| StdioError::Spawn {
            command: program.clone(),
            reason: e.to_string(),
        })?;
        let (Some(server_in), Some(server_out)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(StdioError::Spawn {
                command: program.clone(),
                reason: "its stdio could not be captured".into(),
            });
        };
        tracing::info!(command = %program, pid = child.id(), connector = %self.listing.connector, "MCP server started under the interposer");

        let (out_tx, out_rx) = mpsc::channel::<Bytes>(256);
        let writer = tokio::spawn(write_agent(out_rx));
        let this = Arc::new(self);
        let mut from_agent = tokio::spawn(this.clone().agent_to_server(server_in, out_tx.clone()));
        let from_server = tokio::spawn(server_to_agent(
            BufReader::new(server_out),
            out_tx,
            this.listing.clone(),
        ));

        let exit = wait_child(&mut child, &mut from_agent).await;
        from_agent.abort();
        let exit = exit?;
        // Everything the server wrote before exiting reaches the agent.
        let _ = from_server.await;
        let _ = writer.await;
        let record = TapeRecord {
            event: "mcp_server_exit",
            detail: Some(serde_json::json!({
                "connector": &*this.listing.connector,
                "exit_code": exit.code,
                "signal": exit.signal,
            })),
            ..TapeRecord::default()
        };
        if let Err(e) = this.tape.append(record).await {
            tracing::error!(error = %e, "tape append failed");
        }
        match (exit.code, exit.signal) {
            (Some(0), _) => tracing::info!("MCP server exited"),
            (code, signal) => tracing::warn!(?code, ?signal, "MCP server exited abnormally"),
        }
        Ok(exit)
    }

    /// Reads the agent's messages, reviews them, answers refusals and
    /// forwards the rest. Returns at the agent's end of input.
    async fn agent_to_server(self: Arc<Self>, mut server_in: ChildStdin, out: mpsc::Sender<Bytes>) {
        let ids = RequestIds::new();
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut buf = Vec::new();
        loop {
            let started = Instant::now();
            let request_id = ids.next();
            let line = match read_line(&mut stdin, &mut buf, self.max_message_bytes).await {
                Ok(line) => line,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the agent's input failed");
                    break;
                }
            };
            let framing = match line {
                Line::Eof => break,
                Line::TooLong(n) => Err(jsonrpc::FramingError {
                    code: jsonrpc::INVALID_REQUEST,
                    error: "message_too_large",
                    message: format!(
                        "Invalid Request: the message is {n} bytes, over the {}-byte limit (limits.max_inspect_body_bytes)",
                        self.max_message_bytes
                    ),
                }),
                Line::Complete if buf.iter().all(u8::is_ascii_whitespace) => continue,
                // A bare CR ends a line for readline and Python readers:
                // such a line would be framed differently by the server.
                Line::Complete if buf.contains(&b'\r') => Err(jsonrpc::FramingError {
                    code: jsonrpc::PARSE_ERROR,
                    error: "invalid_framing",
                    message: "Parse error: a carriage return inside a line; send one message per \\n-terminated line".into(),
                }),
                Line::Complete => jsonrpc::parse(&buf),
            };
            let env = match framing {
                Ok(env) => env,
                Err(e) => {
                    let _ = out.send(line_bytes(&e.response())).await;
                    let summary = ActionSummary {
                        kind: "mcp.message",
                        connector: self.listing.connector.to_string(),
                        body_bytes: Some(buf.len() as u64),
                        ..ActionSummary::default()
                    };
                    self.record(request_id, summary, None, Some(e.error), started)
                        .await;
                    continue;
                }
            };
            let connector = Connector {
                name: &self.listing.connector,
                filter: &self.listing.filter,
                pins: self.listing.pins.as_deref(),
                pin_change: self.pin_change,
            };
            let plan = review(&env, &connector, &self.policy, self.agent.as_deref());
            let decision_id = |i: usize| {
                if env.batch {
                    format!("{request_id}.{i}")
                } else {
                    request_id.clone()
                }
            };
            let errors = plan.errors(&env, decision_id);
            // What the server reads is re-serialised from what was reviewed
            // (never the agent's bytes), and only once every decision in the
            // line is on the tape.
            let mut errors = errors;
            let forward = plan.forward_canonical(&env);
            let recorded = match &forward {
                Some(_) => self.record_ahead(&plan, &decision_id).await,
                None => true,
            };
            if !recorded {
                errors = tape_refusals(&env, &plan, &decision_id);
            }
            if let Some(forward) = forward.filter(|_| recorded) {
                let mut line = forward.to_vec();
                line.push(b'\n');
                if let Err(e) = server_in.write_all(&line).await {
                    tracing::warn!(error = %e, "the MCP server stopped reading its input");
                    break;
                }
                let _ = server_in.flush().await;
            }
            if !errors.is_empty() {
                // A batch is answered with an array, a single message with
                // an object; refusals in a partly forwarded batch come as
                // their own array beside the server's.
                let answer = if env.batch {
                    Value::Array(errors)
                } else {
                    errors.into_iter().next().unwrap_or(Value::Null)
                };
                let _ = out.send(line_bytes(&answer)).await;
            }
            for (i, message_review) in plan.reviews.into_iter().enumerate() {
                let id = decision_id(i);
                let code = message_review.refusal.as_ref().map(|r| r.code);
                self.record(
                    id,
                    message_review.summary,
                    message_review.decision,
                    code,
                    started,
                )
                .await;
            }
        }
        // End of the agent's input: close the server's, so it can exit.
        drop(server_in);
    }

    /// Writes every message's decision ahead of forwarding; false (and
    /// nothing may be forwarded) when the tape cannot take them.
    async fn record_ahead(&self, plan: &Plan, decision_id: &impl Fn(usize) -> String) -> bool {
        for (i, message_review) in plan.reviews.iter().enumerate() {
            let record = TapeRecord {
                event: "decision",
                request_id: Some(decision_id(i)),
                action: Some(message_review.summary.clone().into()),
                ..TapeRecord::default()
            }
            .with_verdict(message_review.decision.as_ref());
            // The act step's recording (no queue or sandbox on stdio yet:
            // the review already refused `human` and `sandbox` verdicts).
            let actor = crate::act::Actor {
                tape: &self.tape,
                escalations: None,
            };
            if actor.record_ahead(record).await.is_err() {
                return false;
            }
        }
        true
    }

    async fn record(
        &self,
        request_id: String,
        action: ActionSummary,
        decision: Option<Decision>,
        code: Option<&'static str>,
        started: Instant,
    ) {
        let record = TapeRecord {
            event: "request",
            request_id: Some(request_id),
            action: Some(action.into()),
            outcome: Some(Outcome {
                code,
                duration_us: started.elapsed().as_micros() as u64,
                // No HTTP status on stdio.
                status: 0,
                upstream_status: None,
            }),
            ..TapeRecord::default()
        }
        .with_verdict(decision.as_ref());
        if let Err(e) = self.tape.record(record).await {
            tracing::error!(error = %e, "tape append failed");
        }
    }
}

/// JSON-RPC errors for every request of a line that could not be recorded.
fn tape_refusals(
    env: &Envelope,
    plan: &Plan,
    decision_id: &impl Fn(usize) -> String,
) -> Vec<Value> {
    env.messages
        .iter()
        .zip(&plan.reviews)
        .enumerate()
        .filter_map(|(i, (message, _))| {
            let id = message.id()?.clone();
            Some(jsonrpc::error_response(
                id,
                super::intercept::codes::TAPE_UNAVAILABLE,
                "the decision tape cannot be written, so nothing is run; check disk space and the sidecar's log",
                serde_json::json!({"error": "tape_unavailable", "decision_id": decision_id(i)}),
            ))
        })
        .collect()
}

/// Largest line accepted from the server.
const MAX_SERVER_LINE: usize = 16 << 20;

/// Relays the server's output to the agent line by line, each line screened
/// (parsed strictly, listings filtered, re-serialised on one line); a line
/// that cannot be read one way only reaches the agent as an error.
async fn server_to_agent(
    mut server_out: BufReader<tokio::process::ChildStdout>,
    out: mpsc::Sender<Bytes>,
    listing: ListingFilter,
) {
    let mut line = Vec::new();
    loop {
        let screened = match read_line(&mut server_out, &mut line, MAX_SERVER_LINE).await {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::Complete) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Complete) => screen(&line, &listing),
            Ok(Line::TooLong(n)) => Err(Dropped {
                reason: format!("a line of {n} bytes, over the {MAX_SERVER_LINE}-byte limit"),
            }),
        };
        let mut bytes = match screened {
            Ok(bytes) => bytes,
            Err(dropped) => {
                listing.report_dropped(&dropped);
                line_safe_json(&dropped.to_error(&listing.connector))
            }
        };
        bytes.push(b'\n');
        if out.send(Bytes::from(bytes)).await.is_err() {
            break;
        }
    }
}

/// The single writer of the agent's stdout.
async fn write_agent(mut rx: mpsc::Receiver<Bytes>) {
    let mut stdout = tokio::io::stdout();
    while let Some(line) = rx.recv().await {
        if stdout.write_all(&line).await.is_err() || stdout.flush().await.is_err() {
            break;
        }
    }
}

/// Waits for the server to exit: by itself, after the agent's input ends
/// (plus a grace period), or after SIGTERM / SIGINT to the interposer.
async fn wait_child(
    child: &mut Child,
    from_agent: &mut tokio::task::JoinHandle<()>,
) -> Result<ServerExit, StdioError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(StdioError::Wait)?;
    let mut int = signal(SignalKind::interrupt()).map_err(StdioError::Wait)?;
    let status = tokio::select! {
        status = child.wait() => status,
        _ = from_agent => {
            tracing::info!("agent input ended; waiting for the MCP server to exit");
            stop(child, false).await
        }
        _ = term.recv() => stop(child, true).await,
        _ = int.recv() => stop(child, true).await,
    }
    .map_err(StdioError::Wait)?;
    use std::os::unix::process::ExitStatusExt;
    Ok(ServerExit {
        code: status.code(),
        signal: status.signal(),
    })
}

/// Stops the server: SIGTERM when asked, then SIGKILL after the grace period.
async fn stop(child: &mut Child, terminate: bool) -> std::io::Result<std::process::ExitStatus> {
    if terminate {
        if let Some(pid) = child.id() {
            // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
    }
    match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            tracing::warn!("MCP server did not exit within the grace period; killing it");
            child.start_kill()?;
            child.wait().await
        }
    }
}

/// Starts an MCP server with piped stdin/stdout and its stderr passed
/// through; killed if its handle is dropped.
pub fn spawn_server(program: &str, args: &[String]) -> std::io::Result<Child> {
    spawn_server_with(program, args, None)
}

/// Variables a server started by `cpos serve` keeps from the sidecar's
/// environment; everything else it gets is declared per route.
const BASE_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// Spawns a stdio MCP server. With `env`, the server gets the base
/// variables and exactly those, not the sidecar's environment; without, it
/// inherits (`cpos stdio`, where the agent's client chose the environment).
pub fn spawn_server_with(
    program: &str,
    args: &[String],
    env: Option<&[(String, String)]>,
) -> std::io::Result<Child> {
    let mut command = Command::new(program);
    if let Some(env) = env {
        command.env_clear();
        for name in BASE_ENV {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
    }
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
}

/// Reads one newline-terminated line into `buf`, capped at `limit` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut skipped = 0usize;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(match (buf.is_empty(), skipped) {
                (true, 0) => Line::Eof,
                (_, 0) => Line::Complete,
                (_, n) => Line::TooLong(n),
            });
        }
        let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if skipped > 0 || buf.len() + chunk.len() > limit {
            skipped += buf.len() + chunk.len();
            buf.clear();
        } else {
            buf.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(available.len());
        reader.consume(used);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(if skipped > 0 {
                Line::TooLong(skipped)
            } else {
                Line::Complete
            });
        }
    }
}

fn line_bytes(message: &Value) -> Bytes {
    let mut line = line_safe_json(message);
    line.push(b'\n');
    Bytes::from(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_capped_and_skipped_whole() {
        let input = b"{\"a\":1}\r\n0123456789abcdef\nshort\nlast-no-newline";
        let mut reader = BufReader::with_capacity(4, &input[..]);
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"{\"a\":1}");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::TooLong(16)
        ));
        assert!(matches!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"short");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 20).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"last-no-newline");
        assert!(matches!(
            read_line(&mut reader, &mut buf, 20).await.unwrap(),
            Line::Eof
        ));
    }
}
