//! One accepted connection, after TLS: HTTP/2 (by ALPN or the h2c preface)
//! or HTTP/1.1, closed when idle or at shutdown.
//!
//! An HTTP/1.1 keep-alive connection that has been quiet for
//! [`PARK_AFTER`] is *parked*: hyper's connection is ended without closing
//! the socket (`poll_without_shutdown`), which frees its read and write
//! buffers (~24 KiB), and the task waits on the bare socket. When bytes
//! arrive they are put back in front of the stream and a new hyper
//! connection serves them, so a parked connection holds only its socket
//! and its task. Nothing is lost: hyper only ends an idle connection (no
//! request in flight), and bytes of a request head it had already read
//! come back with its parts.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::activity::{ActiveIo, Activity, GuardedBody};
use super::prefixed::Prefixed;
use super::trim::ConnectionCount;
use super::{ConnInfo, ServeOptions};
use crate::proxy::ProxyBody;

/// How long an HTTP/1.1 keep-alive connection stays quiet, with no request
/// in flight, before it is parked (its buffers released).
pub(super) const PARK_AFTER: Duration = Duration::from_secs(1);

/// What a client sends first on an HTTP/2 connection without TLS (h2c).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The HTTP version of a connection, when known before its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    /// Negotiated by ALPN: HTTP/2.
    Http2,
    /// Negotiated by ALPN: HTTP/1.1.
    Http1,
    /// No ALPN: told by whether the client opens with the h2c preface.
    Sniff,
}

/// What a listener serves requests with: called per request with the
/// connection's details.
pub(super) trait Handler<Fut>:
    Fn(Request<Incoming>, Arc<ConnInfo>) -> Fut + Clone + Send + Sync + Unpin + 'static
{
}

impl<H, Fut> Handler<Fut> for H where
    H: Fn(Request<Incoming>, Arc<ConnInfo>) -> Fut + Clone + Send + Sync + Unpin + 'static
{
}

/// Everything one connection's loop needs besides its stream.
pub(super) struct Conn<H> {
    pub(super) info: Arc<ConnInfo>,
    pub(super) options: ServeOptions,
    pub(super) handler: H,
    pub(super) shutdown: watch::Receiver<bool>,
    pub(super) count: Arc<ConnectionCount>,
}

/// A request's response future, boxed: hyper keeps room for one in-flight
/// future per connection for the connection's whole life, so an unboxed
/// one (5.6 KiB of request state) would be held by every idle connection.
type ResponseFuture = std::pin::Pin<
    Box<dyn Future<Output = Result<Response<GuardedBody<ProxyBody>>, Infallible>> + Send>,
>;

/// The hyper service of one connection: the request handler, with every
/// request counted as in flight until its response body is done.
#[derive(Clone)]
struct ConnService<H> {
    handler: H,
    info: Arc<ConnInfo>,
    activity: Arc<Activity>,
}

impl<H, Fut> hyper::service::Service<Request<Incoming>> for ConnService<H>
where
    H: Fn(Request<Incoming>, Arc<ConnInfo>) -> Fut,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    type Response = Response<GuardedBody<ProxyBody>>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<Incoming>) -> ResponseFuture {
        let guard = self.activity.begin();
        // A combinator, not an `async` block: a block awaiting the captured
        // future would hold it twice (its capture and its awaitee),
        // doubling what is boxed and copied.
        Box::pin((self.handler)(req, self.info.clone()).map(move |response| {
            Ok::<_, Infallible>(response.map(|body| GuardedBody::new(body, guard)))
        }))
    }
}

/// Serves `io` until the client leaves, it idles out, or shutdown.
pub(super) async fn serve<I, H, Fut>(io: I, protocol: Protocol, mut conn: Conn<H>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler<Fut>,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let activity = Activity::new();
    let mut io = Prefixed::new(ActiveIo::new(io, activity.clone()));
    let service = ConnService {
        handler: conn.handler.clone(),
        info: conn.info.clone(),
        activity: activity.clone(),
    };
    let http2 = match protocol {
        Protocol::Http2 => true,
        Protocol::Http1 => false,
        Protocol::Sniff => {
            // The first-request deadline bounds a client that sends nothing.
            let deadline = activity
                .idle_at(conn.options.idle_timeout, conn.options.header_read_timeout)
                .unwrap_or_else(Instant::now);
            let sniffed = tokio::select! {
                sniffed = opens_with_h2_preface(&mut io) => sniffed,
                _ = sleep_until(deadline) => None,
                _ = conn.shutdown.wait_for(|stop| *stop) => None,
            };
            match sniffed {
                Some(http2) => http2,
                None => return,
            }
        }
    };
    if http2 {
        serve_http2(io, service, &activity, &mut conn).await;
    } else {
        serve_http1(io, service, &activity, &mut conn).await;
    }
}

/// Reads until the first bytes either are the h2c preface (`Some(true)`)
/// or cannot be (`Some(false)`), and puts them back; `None` when the
/// client closed or failed first.
async fn opens_with_h2_preface<T: AsyncRead + Unpin>(io: &mut Prefixed<T>) -> Option<bool> {
    let mut first = [0u8; H2_PREFACE.len()];
    let mut n = 0;
    loop {
        match io.read(&mut first[n..]).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => n += read,
        }
        let matches = first[..n] == H2_PREFACE[..n];
        if !matches || n == H2_PREFACE.len() {
            io.put_back(&first[..n]);
            return Some(matches);
        }
    }
}

/// What ended one hyper HTTP/1.1 connection on the stream.
enum Ended {
    /// The client left, the connection idled out or failed, or shutdown.
    Closed,
    /// Quiet for [`PARK_AFTER`]: the stream is kept, hyper's buffers freed.
    Parked,
}

async fn serve_http1<T, H, Fut>(
    mut io: Prefixed<ActiveIo<T>>,
    mut service: ConnService<H>,
    activity: &Activity,
    conn: &mut Conn<H>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler<Fut>,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(conn.options.header_read_timeout)
        .max_buf_size(conn.options.max_header_bytes.max(8192))
        .keep_alive(true);
    loop {
        let mut http = builder.serve_connection(TokioIo::new(io), service);
        let ended = run_until_closed_or_parked(&mut http, activity, conn).await;
        (io, service) = {
            let parts = http.into_parts();
            let mut io = parts.io.into_inner();
            // Bytes hyper read past the last request: the start of the next.
            io.put_back(&parts.read_buf);
            // Dropped here, not at the end of the loop: `read_buf` keeps
            // hyper's whole read buffer alive.
            (io, parts.service)
        };
        if matches!(ended, Ended::Closed) {
            break;
        }
        if !io.has_prefix() {
            conn.count.park();
            let woke = wait_for_bytes(&mut io, activity, conn).await;
            conn.count.unpark();
            if !woke {
                break;
            }
        }
    }
    // hyper was asked not to shut the stream down (so that it could be
    // parked); a TLS close_notify or a TCP FIN is sent here instead.
    let _ = tokio::time::timeout(conn.options.header_read_timeout, io.shutdown()).await;
}

/// Drives one hyper HTTP/1.1 connection until it ends: closes it gracefully
/// when idle past `idle_timeout` or at shutdown, parks it when quiet past
/// [`PARK_AFTER`].
async fn run_until_closed_or_parked<T, H, Fut>(
    http: &mut http1::Connection<TokioIo<Prefixed<ActiveIo<T>>>, ConnService<H>>,
    activity: &Activity,
    conn: &mut Conn<H>,
) -> Ended
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler<Fut>,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let options = &conn.options;
    let (mut closing, mut parking) = (false, false);
    loop {
        let now = Instant::now();
        let idle_at = activity.idle_at(options.idle_timeout, options.header_read_timeout);
        let park_at = activity.quiet_at(PARK_AFTER);
        // Re-check at least every PARK_AFTER: requests begin and end
        // between checks without waking this loop.
        let wake = [idle_at, park_at]
            .into_iter()
            .flatten()
            .fold(now + PARK_AFTER.min(options.idle_timeout), Instant::min);
        tokio::select! {
            result = std::future::poll_fn(|cx| http.poll_without_shutdown(cx)) => {
                if let Err(e) = result {
                    tracing::debug!(peer = %conn.info.peer, error = %e, "connection ended with an error");
                    return Ended::Closed;
                }
                return if parking { Ended::Parked } else { Ended::Closed };
            }
            _ = conn.shutdown.wait_for(|stop| *stop), if !closing => {
                closing = true;
                std::pin::Pin::new(&mut *http).graceful_shutdown();
            }
            _ = sleep_until(wake), if !closing => {
                let now = Instant::now();
                if idle_at.is_some_and(|at| at <= now) {
                    closing = true;
                } else if activity.quiet_at(PARK_AFTER).is_some_and(|at| at <= now) {
                    // No request in flight and nothing moved: hyper is
                    // between requests, and ends the connection at once.
                    (closing, parking) = (true, true);
                }
                if closing {
                    std::pin::Pin::new(&mut *http).graceful_shutdown();
                }
            }
        }
    }
}

/// Waits on a parked connection for its next bytes (true, put back for
/// the next hyper connection), or until it closes, idles out or shutdown
/// starts (false).
async fn wait_for_bytes<T, H>(
    io: &mut Prefixed<ActiveIo<T>>,
    activity: &Activity,
    conn: &mut Conn<H>,
) -> bool
where
    T: AsyncRead + Unpin,
{
    let Some(deadline) =
        activity.idle_at(conn.options.idle_timeout, conn.options.header_read_timeout)
    else {
        return true;
    };
    // Small on purpose: it lives in every parked connection's task; hyper
    // reads the rest of the request itself.
    let mut first = [0u8; 64];
    tokio::select! {
        read = io.read(&mut first) => match read {
            Ok(n) if n > 0 => {
                io.put_back(&first[..n]);
                true
            }
            _ => false,
        },
        _ = sleep_until(deadline) => false,
        _ = conn.shutdown.wait_for(|stop| *stop) => false,
    }
}

async fn serve_http2<T, H, Fut>(
    io: Prefixed<ActiveIo<T>>,
    service: ConnService<H>,
    activity: &Activity,
    conn: &mut Conn<H>,
) where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler<Fut>,
    Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
{
    let options = &conn.options;
    let http = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_header_list_size(options.max_header_bytes as u32)
        .keep_alive_interval(Some(options.idle_timeout / 2))
        .keep_alive_timeout(Duration::from_secs(20))
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(http);
    let mut closing = false;
    loop {
        let idle_at = activity.idle_at(options.idle_timeout, options.header_read_timeout);
        let recheck = Instant::now() + options.idle_timeout;
        let wake = idle_at.map_or(recheck, |at| at.min(recheck));
        tokio::select! {
            result = http.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(peer = %conn.info.peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = conn.shutdown.wait_for(|stop| *stop), if !closing => {
                closing = true;
                http.as_mut().graceful_shutdown();
            }
            _ = sleep_until(wake), if !closing => {
                if activity.idle_at(options.idle_timeout, options.header_read_timeout).is_some_and(|at| at <= Instant::now()) {
                    closing = true;
                    http.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
