//! A streaming `text/event-stream` body that filters the `tools/list`
//! results it carries and passes every other event through byte for byte,
//! as soon as the event is complete. Once every awaited listing has gone
//! by, frames pass through untouched.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;

use super::listing::ListingFilter;
use crate::proxy::{BoxError, ProxyBody};

/// Largest single event held while looking for a listing.
const MAX_EVENT_BYTES: usize = 16 << 20;

/// The SSE body through the gateway.
pub struct ListingStream {
    inner: ProxyBody,
    prefix: Option<Bytes>,
    buf: BytesMut,
    ids: Vec<Value>,
    listing: ListingFilter,
}

impl ListingStream {
    /// Wraps `inner`; `prefix` (refusal events) is sent first, and results
    /// of the requests in `ids` are filtered.
    pub fn new(
        inner: ProxyBody,
        prefix: Option<Bytes>,
        ids: Vec<Value>,
        listing: ListingFilter,
    ) -> ListingStream {
        ListingStream {
            inner,
            prefix,
            buf: BytesMut::new(),
            ids,
            listing,
        }
    }

    /// Takes every complete event out of the buffer, filtered.
    fn drain_events(&mut self) -> Bytes {
        let mut out = BytesMut::new();
        while !self.ids.is_empty() {
            let Some(end) = event_end(&self.buf) else {
                break;
            };
            let event = self.buf.split_to(end);
            match self.filtered(&event) {
                Some(rewritten) => out.extend_from_slice(&rewritten),
                None => out.extend_from_slice(&event),
            }
        }
        if self.ids.is_empty() {
            out.extend_from_slice(&self.buf.split());
        }
        out.freeze()
    }

    /// The event rewritten when it carries an awaited listing.
    fn filtered(&mut self, event: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(event).ok()?;
        let mut data = String::new();
        let mut others = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
            } else if !line.is_empty() {
                others.push(line);
            }
        }
        let mut message: Value = serde_json::from_str(&data).ok()?;
        self.listing.apply(&mut message, &mut self.ids)?;
        let mut out = Vec::with_capacity(event.len());
        for line in others {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(message.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
        Some(out)
    }
}

/// Where the first complete event ends (after its blank line).
fn event_end(buf: &[u8]) -> Option<usize> {
    let lf = find(buf, b"\n\n").map(|i| i + 2);
    let crlf = find(buf, b"\r\n\r\n").map(|i| i + 4);
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Formats JSON-RPC messages as SSE events.
pub fn events(messages: &[Value]) -> Bytes {
    let mut out = String::new();
    for message in messages {
        out.push_str("event: message\ndata: ");
        out.push_str(&message.to_string());
        out.push_str("\n\n");
    }
    Bytes::from(out)
}

impl Body for ListingStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        loop {
            if this.ids.is_empty() && this.buf.is_empty() {
                return Pin::new(&mut this.inner).poll_frame(cx);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.buf.extend_from_slice(&data);
                        if this.buf.len() > MAX_EVENT_BYTES {
                            return Poll::Ready(Some(Err("an upstream SSE event exceeds 16 MiB while a tools/list result is awaited".into())));
                        }
                        let out = this.drain_events();
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    let rest = this.buf.split().freeze();
                    this.ids.clear();
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(Frame::data(rest))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.buf.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::{BodyExt, StreamBody};

    use super::super::tool_filter::ToolFilter;
    use super::*;

    #[tokio::test]
    async fn filters_the_listing_event_and_passes_the_rest_exactly() {
        let progress = "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n";
        let listing = "event: message\r\nid: 2\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"echo\"},{\"name\":\"get-env\"}]}}\r\n\r\n";
        let after = "event: message\ndata: {\"later\":true}\n\n";
        let whole = format!("{progress}{listing}{after}");
        // Cut the stream at awkward places.
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = whole
            .as_bytes()
            .chunks(7)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let inner = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
        let stream = ListingStream::new(
            inner,
            Some(events(&[serde_json::json!({"refused": 1})])),
            vec![5.into()],
            ListingFilter {
                connector: Arc::from("c"),
                filter: Arc::new(ToolFilter::new(&[], &["get-env".into()]).unwrap()),
                pins: None,
            },
        );
        let out = stream.collect().await.unwrap().to_bytes();
        let text = String::from_utf8(out.to_vec()).unwrap();
        let expected = format!(
            "event: message\ndata: {{\"refused\":1}}\n\n{progress}event: message\nid: 2\ndata: {}\n\n{after}",
            r#"{"id":5,"jsonrpc":"2.0","result":{"tools":[{"name":"echo"}]}}"#
        );
        assert_eq!(text, expected);
    }
}
