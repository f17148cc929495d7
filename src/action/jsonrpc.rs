//! JSON-RPC `tools/call` messages in a body sent to a route not marked as
//! MCP (one message or a batch): each is the MCP call it is, judged by its
//! tool (`params.name`) and arguments (`params.arguments`), so a plain route
//! is no way around the tool-call rules. The one place that knows the shape.

use serde_json::Value;

/// Each `tools/call` in `body` (a message, or the messages of a batch) as
/// its tool's name and arguments (`null` when it has none).
pub fn tools_calls(body: &Value) -> impl Iterator<Item = (&str, &Value)> {
    let messages = match body {
        Value::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    messages.iter().filter_map(tools_call)
}

fn tools_call(message: &Value) -> Option<(&str, &Value)> {
    if message.get("method")?.as_str()? != "tools/call" {
        return None;
    }
    let params = message.get("params")?;
    let name = params.get("name")?.as_str()?;
    Some((name, params.get("arguments").unwrap_or(&Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_and_batches() {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "shell", "arguments": {"input": "ls"}}});
        let calls: Vec<_> = tools_calls(&call).collect();
        assert_eq!(calls, [("shell", &json!({"input": "ls"}))]);
        let batch = json!([
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            call,
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "ping"}},
        ]);
        let names: Vec<_> = tools_calls(&batch).map(|(n, _)| n).collect();
        assert_eq!(names, ["shell", "ping"]);
        for other in [
            json!({"method": "tools/list"}),
            json!({"command": "ls"}),
            json!({"method": "tools/call", "params": {"name": 7}}),
            json!("tools/call"),
        ] {
            assert_eq!(tools_calls(&other).count(), 0, "{other}");
        }
    }
}
