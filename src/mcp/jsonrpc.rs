//! JSON-RPC 2.0 framing as MCP uses it: one message or a batch, validated
//! completely before anything is forwarded, and error objects with stable
//! codes.

use serde_json::{Map, Value};

/// Invalid JSON (JSON-RPC's "Parse error").
pub const PARSE_ERROR: i64 = -32700;
/// Valid JSON that is not a JSON-RPC message ("Invalid Request").
pub const INVALID_REQUEST: i64 = -32600;

/// What one message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A request: has an `id` and a `method`, expects an answer.
    Request {
        /// The request id (string or integer).
        id: Value,
    },
    /// A notification: a `method` and no `id`.
    Notification,
    /// A response to a server-initiated request (`result` or `error`).
    Response,
}

/// One validated message, still as the client sent it.
#[derive(Debug, Clone)]
pub struct Message {
    /// The whole object.
    pub value: Map<String, Value>,
    /// Request, notification or response.
    pub shape: Shape,
}

impl Message {
    /// The method, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        self.value.get("method").and_then(Value::as_str)
    }

    /// The request id, for requests.
    pub fn id(&self) -> Option<&Value> {
        match &self.shape {
            Shape::Request { id } => Some(id),
            _ => None,
        }
    }

    /// The `params` member, when present.
    pub fn params(&self) -> Option<&Value> {
        self.value.get("params")
    }
}

/// A POST body or stdio line: one message or a batch of them.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The messages, in order.
    pub messages: Vec<Message>,
    /// True when they came as a JSON array.
    pub batch: bool,
}

/// Why a body is not a JSON-RPC message; answered with id `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct FramingError {
    /// [`PARSE_ERROR`] or [`INVALID_REQUEST`].
    pub code: i64,
    /// Stable machine code for the tape (`invalid_json`, `invalid_jsonrpc`).
    pub error: &'static str,
    /// What is wrong and where.
    pub message: String,
}

impl FramingError {
    fn invalid(message: String) -> FramingError {
        FramingError {
            code: INVALID_REQUEST,
            error: "invalid_jsonrpc",
            message,
        }
    }

    /// The JSON-RPC error response (id `null`) that answers it.
    pub fn response(&self) -> Value {
        error_response(
            Value::Null,
            self.code,
            &self.message,
            serde_json::json!({ "error": self.error }),
        )
    }
}

/// Parses and validates a whole body; nothing half-valid comes out.
pub fn parse(bytes: &[u8]) -> Result<Envelope, FramingError> {
    let value: Value = crate::strict_json::parse(bytes).map_err(|e| FramingError {
        code: PARSE_ERROR,
        error: "invalid_json",
        message: format!("Parse error: the message is not valid JSON ({e})"),
    })?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(FramingError::invalid(
                    "Invalid Request: an empty batch".into(),
                ));
            }
            let messages = items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    message(item).map_err(|e| {
                        FramingError::invalid(format!("Invalid Request: batch element {i}: {e}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Envelope {
                messages,
                batch: true,
            })
        }
        other => {
            let message = message(other)
                .map_err(|e| FramingError::invalid(format!("Invalid Request: {e}")))?;
            Ok(Envelope {
                messages: vec![message],
                batch: false,
            })
        }
    }
}

/// Validates one message object.
fn message(value: Value) -> Result<Message, String> {
    let Value::Object(map) = value else {
        return Err("a message must be a JSON object".into());
    };
    if map.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("`jsonrpc` must be the string \"2.0\"".into());
    }
    let id = match map.get("id") {
        None => None,
        Some(id @ Value::String(_)) => Some(id.clone()),
        Some(id @ Value::Number(n)) if n.is_i64() || n.is_u64() => Some(id.clone()),
        Some(Value::Null) if is_response(&map) => None,
        Some(_) => return Err("`id` must be a string or an integer".into()),
    };
    let shape = match map.get("method") {
        Some(Value::String(method)) => match id {
            Some(id) => Shape::Request { id },
            // A request method without an id would still be run by a
            // lenient server, unreviewed as a notification: refuse it.
            None if !method.starts_with("notifications/") => {
                return Err(format!(
                "`{}` is a request and needs an `id` (only `notifications/…` methods go without)",
                method.escape_default()
            ))
            }
            None => Shape::Notification,
        },
        Some(_) => return Err("`method` must be a string".into()),
        None if is_response(&map) => Shape::Response,
        None => return Err("`method` is missing".into()),
    };
    if let Some(params) = map.get("params") {
        if !params.is_object() && !params.is_array() {
            return Err("`params` must be an object or an array".into());
        }
    }
    Ok(Message { value: map, shape })
}

fn is_response(map: &Map<String, Value>) -> bool {
    map.contains_key("result") || map.contains_key("error")
}

/// A JSON-RPC error response.
pub fn error_response(id: Value, code: i64, message: &str, data: Value) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": { "code": code, "message": message, "data": data },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses() {
        let env = parse(
            br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
            {"jsonrpc":"2.0","method":"notifications/initialized"},
            {"jsonrpc":"2.0","id":"s-1","result":{}}]"#,
        )
        .unwrap();
        assert!(env.batch);
        assert_eq!(env.messages[0].shape, Shape::Request { id: 1.into() });
        assert_eq!(env.messages[0].method(), Some("tools/list"));
        assert_eq!(env.messages[1].shape, Shape::Notification);
        assert_eq!(env.messages[2].shape, Shape::Response);
        let single = parse(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#).unwrap();
        assert!(!single.batch);
    }

    #[test]
    fn malformed_messages_get_the_prescribed_codes() {
        let cases: &[(&[u8], i64, &str)] = &[
            (b"{not json", PARSE_ERROR, "not valid JSON"),
            (b"[]", INVALID_REQUEST, "empty batch"),
            (b"3", INVALID_REQUEST, "JSON object"),
            (
                br#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
                INVALID_REQUEST,
                "jsonrpc",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1}"#,
                INVALID_REQUEST,
                "`method` is missing",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
                INVALID_REQUEST,
                "`id`",
            ),
            (
                br#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
                INVALID_REQUEST,
                "`id`",
            ),
            (
                br#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
                INVALID_REQUEST,
                "`id`",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":7}"#,
                INVALID_REQUEST,
                "`method`",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
                INVALID_REQUEST,
                "`params`",
            ),
            (
                br#"[{"jsonrpc":"2.0","id":1,"method":"x"}, 4]"#,
                INVALID_REQUEST,
                "batch element 1",
            ),
        ];
        for (body, code, needle) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.code, *code, "{}", String::from_utf8_lossy(body));
            assert!(err.message.contains(needle), "{}: {}", needle, err.message);
            assert_eq!(err.response()["id"], Value::Null);
        }
    }
}
