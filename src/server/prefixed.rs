//! An IO stream with bytes already read from it put back in front: what
//! was read to choose the protocol, or to learn that a parked connection
//! woke up, is the next reader's first bytes.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pin_project_lite::pin_project! {
    /// `inner`, read after `prefix`.
    pub(super) struct Prefixed<T> {
        prefix: Bytes,
        #[pin]
        inner: T,
    }
}

impl<T> Prefixed<T> {
    /// `inner` with nothing in front.
    pub(super) fn new(inner: T) -> Self {
        Prefixed {
            prefix: Bytes::new(),
            inner,
        }
    }

    /// Puts a copy of `bytes` in front of what is still unread. (A copy:
    /// what hyper hands back is a view into its whole read buffer, which
    /// would stay allocated as long as the view lives.)
    pub(super) fn put_back(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut joined = Vec::with_capacity(bytes.len() + self.prefix.len());
        joined.extend_from_slice(bytes);
        joined.extend_from_slice(&self.prefix);
        self.prefix = joined.into();
    }

    /// True when bytes were put back and not yet read.
    pub(super) fn has_prefix(&self) -> bool {
        !self.prefix.is_empty()
    }
}

impl<T: AsyncRead> AsyncRead for Prefixed<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.project();
        if this.prefix.is_empty() {
            return this.inner.poll_read(cx, buf);
        }
        let n = this.prefix.len().min(buf.remaining());
        buf.put_slice(&this.prefix[..n]);
        this.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite> AsyncWrite for Prefixed<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().inner.poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn bytes_put_back_are_read_first_then_the_stream() {
        let mut io = Prefixed::new(&b"rest"[..]);
        io.put_back(b"ad");
        io.put_back(b"he");
        io.put_back(b"");
        assert!(io.has_prefix());
        let mut small = [0u8; 3];
        assert_eq!(io.read(&mut small).await.unwrap(), 3);
        assert_eq!(&small, b"hea");
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"drest");
        assert!(!io.has_prefix());
    }
}
