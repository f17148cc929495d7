//! Per-connection activity: bytes moving and requests in flight, so an idle
//! connection can be closed without cutting a held request or a quiet stream.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Shared activity counters of one connection.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
    /// Requests begun on this connection.
    begun: AtomicU64,
    /// Bytes read from the client.
    read: AtomicU64,
    /// `read` when the last response ended: more since means the client
    /// has begun another request whose head is not complete yet.
    read_at_rest: AtomicU64,
}

impl Activity {
    /// A fresh, active connection.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            begun: AtomicU64::new(0),
            read: AtomicU64::new(0),
            read_at_rest: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Marks a request in flight until the returned guard (and the response
    /// body holding it) is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// When the connection would become idle if nothing happens until then;
    /// `None` while a request is in flight. Until its first request begins,
    /// a connection gets `first` from its start, however many bytes trickle
    /// in (a connection that sends nothing must not hold a slot for long).
    pub fn idle_at(&self, idle: Duration, first: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        if self.begun.load(Ordering::Relaxed) == 0 {
            return Some(self.epoch + first);
        }
        Some(self.last() + idle)
    }

    /// When a connection that has served a request, and has none in
    /// flight nor a part of the next one's head, will have been quiet for
    /// `after`; `None` otherwise. (A client that stops halfway through a
    /// head is left to the header read timeout, which parking would
    /// restart.)
    pub fn quiet_at(&self, after: Duration) -> Option<Instant> {
        if self.in_flight.load(Ordering::Relaxed) > 0
            || self.begun.load(Ordering::Relaxed) == 0
            || self.read.load(Ordering::Relaxed) != self.read_at_rest.load(Ordering::Relaxed)
        {
            return None;
        }
        Some(self.last() + after)
    }

    fn last(&self) -> Instant {
        self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Held while a request is in flight.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        let read = self.0.read.load(Ordering::Relaxed);
        self.0.read_at_rest.store(read, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// An IO stream that records when bytes last moved.
    pub struct ActiveIo<T> {
        #[pin]
        inner: T,
        activity: Arc<Activity>,
    }
}

impl<T> ActiveIo<T> {
    /// Wraps `inner`, reporting to `activity`.
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        ActiveIo { inner, activity }
    }
}

impl<T: AsyncRead> AsyncRead for ActiveIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let result = this.inner.poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        if n > 0 {
            this.activity.touch();
            // Only this connection's task reads: no read-modify-write needed.
            let read = &this.activity.read;
            read.store(read.load(Ordering::Relaxed) + n, Ordering::Relaxed);
        }
        result
    }
}

impl<T: AsyncWrite> AsyncWrite for ActiveIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.project();
        let result = this.inner.poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.project();
        let result = this.inner.poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in flight until
    /// the body is finished or dropped.
    pub struct GuardedBody<B> {
        #[pin]
        inner: B,
        guard: Option<InFlight>,
    }
}

impl<B> GuardedBody<B> {
    /// Attaches `guard` to `inner`.
    pub fn new(inner: B, guard: InFlight) -> Self {
        GuardedBody {
            inner,
            guard: Some(guard),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for GuardedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let result = this.inner.as_mut().poll_frame(cx);
        // Done when the body says so: hyper may not ask for a last `None`
        // and may drop the body only after reading the client's next bytes.
        if matches!(result, Poll::Ready(None)) || this.inner.is_end_stream() {
            this.guard.take();
        }
        result
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
