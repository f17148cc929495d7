//! Idle HTTP/1.1 connections to one cleartext upstream, kept with its route.
//!
//! A forwarded request takes the most recently used idle connection, or
//! opens one; its response body hands the connection back once it has been
//! read to the end. A body that fails or is dropped early takes its
//! connection with it (hyper closes it). Unlike a general pooled client
//! there is no pool key to hash and no task per request to return the
//! connection: hyper's connection task is the only one.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::Authority;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::ProxyBody;

/// A connection's request side.
pub type Sender = SendRequest<ProxyBody>;

/// How many idle connections are kept, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Idle connections kept (0: none, every request opens its own).
    pub max_idle: usize,
    /// Idle connections are closed after this.
    pub idle_timeout: Duration,
}

/// The idle connections of one route's upstream.
#[derive(Default)]
pub struct Http1Pool {
    idle: Mutex<Vec<Idle>>,
    /// A sweeper task is closing expired connections.
    sweeping: AtomicBool,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

impl std::fmt::Debug for Http1Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http1Pool")
            .field("idle", &self.idle.lock().map_or(0, |idle| idle.len()))
            .finish()
    }
}

impl Http1Pool {
    /// The most recently returned connection that is still open and fresh.
    pub fn checkout(&self, limits: Limits) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < limits.idle_timeout {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Keeps `sender` for the next request, within the limits; starts the
    /// sweeper that closes connections left idle too long.
    fn give_back(self: &Arc<Self>, sender: Sender, limits: Limits) {
        if sender.is_closed() || limits.max_idle == 0 {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() >= limits.max_idle {
            idle.remove(0);
        }
        idle.push(Idle {
            sender,
            since: Instant::now(),
        });
        if !self.sweeping.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep(Arc::downgrade(self), limits.idle_timeout));
        }
    }
}

/// Closes idle connections past their timeout until none is left.
async fn sweep(pool: Weak<Http1Pool>, timeout: Duration) {
    loop {
        tokio::time::sleep(timeout).await;
        let Some(pool) = pool.upgrade() else { return };
        let mut idle = pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|entry| !entry.sender.is_closed() && entry.since.elapsed() < timeout);
        if idle.is_empty() {
            // Cleared under the lock, so a connection given back meanwhile
            // starts a new sweeper.
            pool.sweeping.store(false, Ordering::Relaxed);
            return;
        }
    }
}

/// Opens a connection to `authority` (port 80 when it names none).
pub async fn connect(authority: &Authority, timeout: Duration) -> std::io::Result<Sender> {
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect((host, port)))
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {} ms", timeout.as_millis()),
            )
        })??;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    Ok(sender)
}

/// A response body that returns its connection to the pool at its end.
pub struct PooledBody {
    inner: Incoming,
    lease: Option<Lease>,
}

struct Lease {
    sender: Sender,
    pool: Arc<Http1Pool>,
    limits: Limits,
}

impl PooledBody {
    /// Wraps `inner`, read from `sender`'s connection.
    pub fn new(inner: Incoming, sender: Sender, pool: Arc<Http1Pool>, limits: Limits) -> Self {
        let mut body = PooledBody {
            inner,
            lease: Some(Lease {
                sender,
                pool,
                limits,
            }),
        };
        // An empty body may never be polled: the connection is free now.
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.pool.give_back(lease.sender, lease.limits);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            None => self.release(),
            Some(Err(_)) => self.lease = None,
            Some(Ok(_)) if self.inner.is_end_stream() => self.release(),
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
