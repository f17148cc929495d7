//! `text/event-stream` from an MCP server, parsed as the SSE specification
//! says (lines end in CRLF, LF or CR; `:` comments; multi-line `data`) and
//! re-emitted event by event in one canonical form: each event's data
//! screened (see [`super::downstream`]), listings filtered and pinned. An
//! event that is not UTF-8 or not one readable JSON-RPC message is dropped
//! and an error takes its place; nothing passes through unparsed.

use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;

use super::downstream::{screen, Dropped};
use super::listing::ListingFilter;
use crate::proxy::{BoxError, ProxyBody};

/// Largest single event held while it is incomplete.
const MAX_EVENT_BYTES: usize = 16 << 20;

/// One parsed event: its fields, and the data lines joined by `\n`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field.
    pub event: Option<String>,
    /// The `id:` field.
    pub id: Option<String>,
    /// The `retry:` field, when it is all digits.
    pub retry: Option<String>,
    /// The data, when the event had `data:` lines.
    pub data: Option<String>,
}

/// Splits the first complete event off `buf`: its length in bytes and its
/// lines, or `None` while it is incomplete. At `eof` a lone CR ends a line.
pub fn split_event(buf: &[u8], eof: bool) -> Option<(usize, Vec<&[u8]>)> {
    let mut lines = Vec::new();
    let mut pos = 0;
    loop {
        let at = pos + buf[pos..].iter().position(|&b| b == b'\r' || b == b'\n')?;
        let end = match buf[at] {
            b'\r' => match buf.get(at + 1) {
                Some(b'\n') => at + 2,
                Some(_) => at + 1,
                None if eof => at + 1,
                None => return None,
            },
            _ => at + 1,
        };
        let line = &buf[pos..at];
        pos = end;
        if line.is_empty() {
            return Some((pos, lines));
        }
        lines.push(line);
    }
}

/// Parses an event's lines; `Err` when a line is not UTF-8.
pub fn parse_event(lines: &[&[u8]]) -> Result<Event, Dropped> {
    let mut event = Event::default();
    for line in lines {
        let line = std::str::from_utf8(line).map_err(|_| Dropped {
            reason: "an SSE line is not UTF-8".into(),
        })?;
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                let data = event.data.get_or_insert_with(String::new);
                data.push_str(value);
                data.push('\n');
            }
            "event" => event.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => event.id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                event.retry = Some(value.to_owned())
            }
            _ => {}
        }
    }
    if let Some(data) = event.data.as_mut() {
        data.pop();
    }
    Ok(event)
}

/// The SSE body through the gateway: every event parsed, screened and
/// re-emitted as it completes.
pub struct ScreenedStream {
    inner: ProxyBody,
    prefix: Option<Bytes>,
    buf: BytesMut,
    listing: ListingFilter,
    done: bool,
}

impl ScreenedStream {
    /// Wraps `inner`; `prefix` (refusal events) is sent first.
    pub fn new(inner: ProxyBody, prefix: Option<Bytes>, listing: ListingFilter) -> ScreenedStream {
        ScreenedStream {
            inner,
            prefix,
            buf: BytesMut::new(),
            listing,
            done: false,
        }
    }

    /// Takes every complete event out of the buffer, screened.
    fn drain_events(&mut self, eof: bool) -> Bytes {
        let mut out = BytesMut::new();
        while let Some((len, lines)) = split_event(&self.buf, eof) {
            let emitted = match parse_event(&lines) {
                Ok(event) => self.emit(&event),
                Err(dropped) => self.dropped(&dropped),
            };
            out.extend_from_slice(&emitted);
            let _ = self.buf.split_to(len);
        }
        out.freeze()
    }

    /// One event in canonical form, its data screened.
    fn emit(&self, event: &Event) -> Vec<u8> {
        let mut out = Vec::new();
        let data = match &event.data {
            Some(data) => match screen(data.as_bytes(), &self.listing) {
                Ok(screened) => Some(screened),
                Err(dropped) => return self.dropped(&dropped),
            },
            None => None,
        };
        for (name, value) in [
            ("event", &event.event),
            ("id", &event.id),
            ("retry", &event.retry),
        ] {
            if let Some(value) = value {
                out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
            }
        }
        match data {
            Some(data) => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&data);
                out.push(b'\n');
            }
            // A comment-only event keeps the stream alive.
            None if out.is_empty() => out.extend_from_slice(b":\n"),
            None => {}
        }
        out.push(b'\n');
        out
    }

    /// The error event sent in place of a dropped one; recorded and logged.
    fn dropped(&self, dropped: &Dropped) -> Vec<u8> {
        self.listing.report_dropped(dropped);
        events(&[dropped.to_error(&self.listing.connector)]).to_vec()
    }
}

/// Formats JSON-RPC messages as SSE events.
pub fn events(messages: &[Value]) -> Bytes {
    let mut out = Vec::new();
    for message in messages {
        out.extend_from_slice(b"event: message\ndata: ");
        out.extend_from_slice(&super::downstream::line_safe_json(message));
        out.extend_from_slice(b"\n\n");
    }
    Bytes::from(out)
}

impl Body for ScreenedStream {
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
            if this.done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        this.buf.extend_from_slice(&data);
                        let out = this.drain_events(false);
                        if this.buf.len() > MAX_EVENT_BYTES {
                            this.done = true;
                            return Poll::Ready(Some(Err(
                                "an upstream SSE event exceeds 16 MiB; the stream was cut".into(),
                            )));
                        }
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out))));
                        }
                    }
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    this.done = true;
                    // An incomplete last event is discarded, as the spec says.
                    let out = this.drain_events(true);
                    return Poll::Ready((!out.is_empty()).then(|| Ok(Frame::data(out))));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.prefix.is_none()
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

    async fn through(whole: &[u8], chunk: usize) -> String {
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = whole
            .chunks(chunk)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        let inner = StreamBody::new(futures_util::stream::iter(chunks)).boxed();
        let stream = ScreenedStream::new(
            inner,
            Some(events(&[serde_json::json!({"refused": 1})])),
            ListingFilter {
                connector: Arc::from("c"),
                filter: Arc::new(ToolFilter::new(&[], &["get-env".into()]).unwrap()),
                pins: None,
                tape: None,
            },
        );
        let out = stream.collect().await.unwrap().to_bytes();
        String::from_utf8(out.to_vec()).unwrap()
    }

    const LISTING: &str =
        r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"echo"},{"name":"get-env"}]}}"#;
    const FILTERED: &str = r#"{"id":5,"jsonrpc":"2.0","result":{"tools":[{"name":"echo"}]}}"#;

    #[tokio::test]
    async fn every_line_ending_splits_events_and_listings_are_filtered() {
        for (ending, chunk) in [("\n", 7), ("\r\n", 3), ("\r", 1), ("\r", 1000)] {
            let whole = format!(
                ": keepalive{e}{e}event: message{e}id: 1{e}data: {{\"jsonrpc\":\"2.0\",{e}data: \"method\":\"notifications/progress\"}}{e}{e}event: message{e}id: 2{e}data: {LISTING}{e}{e}",
                e = ending
            );
            let out = through(whole.as_bytes(), chunk).await;
            let expected = format!(
                "event: message\ndata: {{\"refused\":1}}\n\n:\n\nevent: message\nid: 1\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}}\n\nevent: message\nid: 2\ndata: {FILTERED}\n\n"
            );
            assert_eq!(out, expected, "line ending {ending:?}, chunks of {chunk}");
        }
    }

    #[tokio::test]
    async fn an_event_split_with_lf_cr_lf_is_two_events_and_both_are_screened() {
        // `\n\r\n` is LF then CRLF: an empty line, so the listing after it
        // is an event of its own, and it is filtered too.
        let whole =
            format!("data: {{\"jsonrpc\":\"2.0\",\"method\":\"a\"}}\n\r\ndata: {LISTING}\n\n");
        let out = through(whole.as_bytes(), 5).await;
        assert!(out.ends_with(&format!("data: {FILTERED}\n\n")), "{out}");
        assert!(!out.contains("get-env"), "{out}");
    }

    #[tokio::test]
    async fn unreadable_events_are_dropped_with_an_error() {
        for bad in [
            b": \xff\xfe comment\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{\"tools\":[{\"name\":\"get-env\"}]}}\n\n".to_vec(),
            format!("data: {}\n\n", r#"{"jsonrpc":"2.0","id":5,"result":{"tools":[{"name":"get-env","description":"\ud800"}]}}"#).into_bytes(),
            format!("data: {}{}\n\n", "[".repeat(80), "]".repeat(80)).into_bytes(),
            b"data: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\ndata: {\"tools\":[]}\n\n".to_vec(),
        ] {
            let out = through(&bad, 4).await;
            assert!(!out.contains("get-env"), "{out}");
            assert!(out.contains("server_message_refused"), "{out}");
        }
    }

    #[tokio::test]
    async fn an_incomplete_last_event_is_discarded() {
        let whole = format!("data: {LISTING}\n\ndata: {LISTING}");
        let out = through(whole.as_bytes(), 9).await;
        assert_eq!(out.matches("data: ").count(), 2, "{out}");
    }
}
