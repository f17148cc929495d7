//! What an MCP server sends toward the agent, screened before the agent
//! reads it. Every message is parsed strictly (one reading only: no
//! duplicate keys, no lone surrogates, bounded depth), every listing — a
//! response whose `result` carries `tools`, whatever its id and whatever
//! stream or line it arrives on — is filtered and pinned, and the message
//! is re-serialised, so a line- or event-splitting reader on the agent's
//! side sees exactly the message that was screened. What cannot be read
//! one way only is dropped and the agent gets an error in its place.

use serde_json::Value;

use super::jsonrpc::error_response;
use super::listing::ListingFilter;

/// JSON-RPC code of the error sent in place of a dropped server message.
pub const SERVER_MESSAGE_REFUSED: i64 = -32016;

/// Why a server message was not passed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// What was wrong with it.
    pub reason: String,
}

impl Dropped {
    fn new(reason: impl Into<String>) -> Dropped {
        Dropped {
            reason: reason.into(),
        }
    }

    /// The JSON-RPC error (id `null`) the agent gets in the message's place.
    pub fn to_error(&self, connector: &str) -> Value {
        error_response(
            Value::Null,
            SERVER_MESSAGE_REFUSED,
            &format!(
                "the MCP server `{connector}` sent a message that cannot be read one way only ({}); it was dropped",
                self.reason
            ),
            serde_json::json!({"error": "server_message_refused"}),
        )
    }
}

/// Screens one server payload (an SSE event's data, a stdio line or a JSON
/// answer): a JSON-RPC message or batch, returned re-serialised with
/// listings filtered.
pub fn screen(payload: &[u8], listing: &ListingFilter) -> Result<Vec<u8>, Dropped> {
    let mut value = crate::strict_json::parse(payload)
        .map_err(|e| Dropped::new(format!("not strict JSON: {e}")))?;
    match &mut value {
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                screen_message(item, listing)?;
            }
        }
        Value::Object(_) => screen_message(&mut value, listing)?,
        _ => return Err(Dropped::new("not a JSON-RPC message or batch")),
    }
    Ok(line_safe_json(&value))
}

/// Checks one message's kind and filters it when it is a listing.
fn screen_message(message: &mut Value, listing: &ListingFilter) -> Result<(), Dropped> {
    let Some(object) = message.as_object() else {
        return Err(Dropped::new("a batch member is not an object"));
    };
    let is_request = object.contains_key("method");
    let is_response = object.contains_key("result") || object.contains_key("error");
    if is_request && is_response {
        return Err(Dropped::new("both a request and a response"));
    }
    if !is_request && !is_response {
        return Err(Dropped::new("neither a request nor a response"));
    }
    if is_response
        && object
            .get("result")
            .is_some_and(|r| r.get("tools").is_some())
    {
        if !message["result"]["tools"].is_array() {
            return Err(Dropped::new("a listing whose `tools` is not an array"));
        }
        listing.apply(message);
    }
    Ok(())
}

/// Compact JSON with U+0085, U+2028 and U+2029 escaped as well, so that no
/// reader that splits lines on them (Python's `str.splitlines`, JavaScript
/// line terminators) can cut a message in two. serde_json already escapes
/// every control character below U+0020.
pub fn line_safe_json(value: &Value) -> Vec<u8> {
    // serde_json's writer, not `Display` (which goes through `fmt`).
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    // U+0085 is C2 85 in UTF-8; U+2028 and U+2029 are E2 80 A8 / E2 80 A9.
    let risky = bytes.windows(2).any(|w| w == [0xC2, 0x85])
        || bytes
            .windows(3)
            .any(|w| w == [0xE2, 0x80, 0xA8] || w == [0xE2, 0x80, 0xA9]);
    if !risky {
        return bytes;
    }
    let text = String::from_utf8(bytes).unwrap_or_default();
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\u{85}' => out.push_str("\\u0085"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::tool_filter::ToolFilter;
    use super::*;

    fn listing() -> ListingFilter {
        ListingFilter {
            connector: Arc::from("c"),
            filter: Arc::new(ToolFilter::new(&[], &["get-env".into()]).unwrap()),
            pins: None,
            tape: None,
        }
    }

    #[test]
    fn listings_are_filtered_whatever_their_id_and_other_messages_re_serialised() {
        let out = screen(
            br#"{"jsonrpc":"2.0","id":"any","result":{"tools":[{"name":"echo"},{"name":"get-env"}]}}"#,
            &listing(),
        )
        .unwrap();
        assert_eq!(
            out,
            br#"{"id":"any","jsonrpc":"2.0","result":{"tools":[{"name":"echo"}]}}"#
        );
        // A server request reusing a listing's id is a request, not a listing.
        let out = screen(
            br#"{"jsonrpc":"2.0","id":1,"method":"sampling/createMessage","params":{"tools":[1]}}"#,
            &listing(),
        )
        .unwrap();
        assert!(String::from_utf8(out).unwrap().contains("sampling"));
    }

    #[test]
    fn ambiguous_or_unreadable_messages_are_dropped() {
        for bad in [
            &br#"{"jsonrpc":"2.0","id":1,"result":{},"result":{"tools":[]}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"x","result":{}}"#,
            br#"{"jsonrpc":"2.0","id":1}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"get-env"}}}"#,
            br#"{"jsonrpc":"2.0","id":1,"result":"\ud800"}"#,
            b"\xff{}",
            b"[]",
            b"7",
        ] {
            assert!(
                screen(bad, &listing()).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(screen(deep.as_bytes(), &listing()).is_err());
    }

    #[test]
    fn line_separators_inside_strings_are_escaped() {
        let value = serde_json::json!({"t": "a\u{2028}b\u{85}c\u{2029}\r\n"});
        let out = String::from_utf8(line_safe_json(&value)).unwrap();
        assert_eq!(out, r#"{"t":"a\u2028b\u0085c\u2029\r\n"}"#);
        assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), value);
    }
}
