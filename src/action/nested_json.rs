//! JSON documents held in string arguments: `"arguments": "{\"cmd\": …}"`
//! (OpenAI-style tool calls), a `payload` or `body` field that the tool
//! `json.loads`. A tool that parses the string runs what is inside, so
//! classification reads it as arguments too; the request is forwarded as
//! sent.

use serde_json::Value;

/// At most this many documents are read out of one action.
const MAX_DOCUMENTS: usize = 16;
/// A string longer than this is not parsed (the body cap bounds it anyway).
const MAX_LEN: usize = 256 * 1024;

/// The JSON objects and arrays that string values of `arguments` hold, at
/// any depth, including documents inside those documents; parsed with the
/// strict reader, so a string that is not one JSON document is left as text.
pub fn documents(arguments: Option<&Value>) -> Vec<Value> {
    let mut out = Vec::new();
    if let Some(value) = arguments {
        find(value, &mut out, 0);
    }
    let mut next = 0;
    while next < out.len() && out.len() < MAX_DOCUMENTS {
        let mut inner = Vec::new();
        find(&out[next], &mut inner, 0);
        out.extend(inner);
        next += 1;
    }
    out.truncate(MAX_DOCUMENTS);
    out
}

fn find(value: &Value, out: &mut Vec<Value>, depth: usize) {
    if depth > crate::strict_json::MAX_DEPTH || out.len() >= MAX_DOCUMENTS {
        return;
    }
    match value {
        Value::String(s) => {
            let text = s.trim_start();
            if text.len() <= MAX_LEN && text.starts_with(['{', '[']) {
                if let Ok(doc @ (Value::Object(_) | Value::Array(_))) =
                    crate::strict_json::parse(text.as_bytes())
                {
                    out.push(doc);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| find(v, out, depth + 1)),
        Value::Object(map) => map.values().for_each(|v| find(v, out, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_in_strings_at_any_depth() {
        let inner = json!({"cmd": "rm -rf /"}).to_string();
        let twice = json!({"payload": inner}).to_string();
        let args = json!({"name": "shell", "arguments": inner, "x": [{"y": twice}]});
        let docs = documents(Some(&args));
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert!(docs.iter().filter(|d| d["cmd"] == "rm -rf /").count() == 2);
        // Text, scalars and loose JSON are not documents.
        let args = json!({"a": "{not json", "b": "[1, 2] trailing", "c": "42", "d": "\"s\""});
        assert!(documents(Some(&args)).is_empty());
    }

    #[test]
    fn bounded() {
        let mut value = json!({"cmd": "x"});
        for _ in 0..20 {
            value = json!({"inner": value.to_string()});
        }
        assert!(documents(Some(&value)).len() <= MAX_DOCUMENTS);
    }
}
