//! Listeners: TCP (optionally rustls TLS), HTTP/1.1 and HTTP/2 on one port
//! (see `connection`), connection limits, header and idle timeouts, and
//! graceful draining on shutdown.

mod activity;
mod connection;
pub mod loopback;
mod prefixed;
pub mod tls;
mod trim;

pub use trim::configure_allocator;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

pub use activity::{ActiveIo, Activity, GuardedBody, InFlight};

use crate::metrics::Metrics;
use crate::proxy::ProxyBody;

/// First back-off after a failed accept; doubled per failure in a row.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// Longest back-off after failed accepts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Open connections per client address, capped.
struct PerIpConnections {
    max: usize,
    open: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
}

/// One counted connection; uncounted when dropped.
struct PerIpSlot {
    table: Arc<PerIpConnections>,
    ip: std::net::IpAddr,
}

impl PerIpConnections {
    fn new(max: usize) -> PerIpConnections {
        PerIpConnections {
            max: max.max(1),
            open: Default::default(),
        }
    }

    /// Counts a connection from `ip`, or `None` when it has `max` open.
    /// (Taken once per accepted connection, never per request.)
    fn open(self: &Arc<Self>, ip: std::net::IpAddr) -> Option<PerIpSlot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PerIpSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for PerIpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What the request path knows about the connection a request came on.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub peer: SocketAddr,
    /// True when the connection is TLS.
    pub tls: bool,
    /// Fingerprints of the client certificate verified in the mTLS handshake.
    pub client_cert: Option<crate::gate::client_cert::CertFingerprints>,
    /// The peer's address as text, formatted once per connection for the
    /// forwarding headers of every request on it.
    pub peer_ip: Box<str>,
}

impl ConnInfo {
    /// The connection of `peer`, plain or TLS.
    pub fn new(
        peer: SocketAddr,
        tls: bool,
        client_cert: Option<crate::gate::client_cert::CertFingerprints>,
    ) -> ConnInfo {
        ConnInfo {
            peer,
            tls,
            client_cert,
            peer_ip: peer.ip().to_string().into(),
        }
    }

    /// `https` or `http`, for `X-Forwarded-Proto`.
    pub fn proto(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }
}

/// Connection limits and timeouts of one listener.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Time allowed for the TLS handshake and for each request head.
    pub header_read_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
    /// Close connections idle this long.
    pub idle_timeout: Duration,
    /// Concurrent connections.
    pub max_connections: usize,
    /// Concurrent connections from one client address.
    pub max_connections_per_ip: usize,
    /// How long in-flight requests may run on after shutdown starts.
    pub grace: Duration,
}

/// Serves `listener` until `shutdown` flips to true, then drains open
/// connections for up to `options.grace`. Returns how many connections were
/// still open when the grace period ended.
pub async fn serve<H, Fut>(
    listener: TcpListener,
    tls: Option<tls::TlsHandle>,
    options: ServeOptions,
    handler: H,
    mut shutdown: watch::Receiver<bool>,
    metrics: Option<Arc<Metrics>>,
) -> usize
where
    H: Fn(Request<Incoming>, Arc<ConnInfo>) -> Fut + Clone + Send + Sync + Unpin + 'static,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let max = options.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let per_ip = Arc::new(PerIpConnections::new(options.max_connections_per_ip));
    let count = Arc::new(trim::ConnectionCount::new(
        permits.clone(),
        max,
        metrics.as_ref().map(|m| m.parked_connections.clone()),
    ));
    let trimmer = tokio::spawn(trim::trim_after_closes(count.clone(), shutdown.clone()));
    let mut accept_backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                accept_backoff = ACCEPT_BACKOFF_MIN;
                pair
            }
            Err(e) => {
                // EMFILE and friends: count, log once per streak, back off
                // (doubling) instead of spinning.
                if let Some(m) = &metrics {
                    m.accept_errors.inc();
                }
                if accept_backoff == ACCEPT_BACKOFF_MIN {
                    tracing::warn!(error = %e, "accept failed; backing off (see cpos_accept_errors_total)");
                }
                tokio::time::sleep(accept_backoff).await;
                accept_backoff = (accept_backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        let Some(slot) = per_ip.open(peer.ip()) else {
            if let Some(m) = &metrics {
                m.per_ip_refused.inc();
            }
            tracing::debug!(%peer, "per-IP connection cap reached; closing");
            drop(stream);
            continue;
        };
        count.accepted();
        let _ = stream.set_nodelay(true);
        let tls = tls.as_ref().map(|t| TlsAcceptor::from(t.load_full()));
        let conn = connection::Conn {
            info: Arc::new(ConnInfo::new(peer, false, None)),
            options: options.clone(),
            handler: handler.clone(),
            shutdown: shutdown.clone(),
            count: count.clone(),
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            if let Some(m) = &metrics {
                m.connections.inc();
                m.open_connections.inc();
            }
            serve_tcp(stream, tls, conn).await;
            if let Some(m) = &metrics {
                m.open_connections.dec();
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    trimmer.abort();
    let drained = tokio::time::timeout(options.grace, permits.acquire_many(max as u32)).await;
    match drained {
        Ok(_) => 0,
        Err(_) => max - permits.available_permits(),
    }
}

async fn serve_tcp<H, Fut>(stream: TcpStream, tls: Option<TlsAcceptor>, conn: connection::Conn<H>)
where
    H: connection::Handler<Fut>,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    use connection::Protocol;
    let Some(acceptor) = tls else {
        // Boxed per transport: a plain connection's task does not reserve
        // room for a TLS session it never has.
        return Box::pin(connection::serve(stream, Protocol::Sniff, conn)).await;
    };
    let peer = conn.info.peer;
    match tokio::time::timeout(conn.options.header_read_timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let session = stream.get_ref().1;
            let client_cert = session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| crate::gate::client_cert::CertFingerprints::of(leaf));
            let protocol = match session.alpn_protocol() {
                Some(b"h2") => Protocol::Http2,
                Some(_) => Protocol::Http1,
                None => Protocol::Sniff,
            };
            let conn = connection::Conn {
                info: Arc::new(ConnInfo::new(peer, true, client_cert)),
                ..conn
            };
            Box::pin(connection::serve(stream, protocol, conn)).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}
