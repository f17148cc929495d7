//! Digests compatible with the original adapter's `_stable_digest`: a
//! string hashes as its UTF-8 bytes; anything else as Python's
//! `json.dumps(v, ensure_ascii=False, sort_keys=True)` (separators `", "`
//! and `": "`).

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A SHA-256 and a size, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueDigest {
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes hashed.
    pub size_bytes: usize,
}

/// Digest of a value, as the original computed it.
pub fn stable_digest(value: &Value) -> ValueDigest {
    let bytes = match value {
        Value::String(s) => s.clone().into_bytes(),
        other => python_json(other).into_bytes(),
    };
    ValueDigest {
        sha256: hex::encode(Sha256::digest(&bytes)),
        size_bytes: bytes.len(),
    }
}

/// `json.dumps(value, ensure_ascii=False, sort_keys=True)`.
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push_str(": ");
                write(&map[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Null => out.push_str("null"),
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python() {
        // python3 -c 'import json,hashlib;print(hashlib.sha256(json.dumps({"b":[1,"é"],"a":None},ensure_ascii=False,sort_keys=True).encode()).hexdigest())'
        let v = serde_json::json!({"b": [1, "é"], "a": null});
        assert_eq!(python_json(&v), r#"{"a": null, "b": [1, "é"]}"#);
        assert_eq!(
            stable_digest(&v).sha256,
            "47acac9da933d9fbc8d09219f7114dc4c52d942bac0d085ab7c95c2c64b7f0c1"
        );
        assert_eq!(stable_digest(&Value::String("ls".into())).size_bytes, 2);
    }
}
