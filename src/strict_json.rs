//! Strict JSON: the one reading of a body that every lenient upstream agrees
//! with. serde_json already refuses trailing data, `NaN`/`Infinity`, a BOM,
//! invalid UTF-8 and lone surrogates; this adds what it lets through —
//! duplicate keys (Python keeps the last, Go the last, some the first) and
//! nesting past a limit.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deepest nesting of objects and arrays accepted.
pub const MAX_DEPTH: usize = 64;

/// Parses `bytes` as one strict JSON document.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { depth: 0 }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Strict {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Strict {
    fn deeper<E: de::Error>(self) -> Result<Strict, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(Strict {
            depth: self.depth + 1,
        })
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{}`",
                    key.escape_default()
                )));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// True when a body that failed to parse would still be read as JSON by a
/// lenient upstream (so forwarding it unclassified is not an option): it
/// starts with a byte-order mark, is UTF-16/32, or its first significant
/// byte opens an object or an array.
pub fn looks_like_json(bytes: &[u8]) -> bool {
    const BOMS: [&[u8]; 3] = [b"\xEF\xBB\xBF", b"\xFE\xFF", b"\xFF\xFE"];
    if BOMS.iter().any(|bom| bytes.starts_with(bom)) {
        return true;
    }
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return true;
    }
    matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_json() {
        let v = parse(br#"{"a":[1,2.5,"x",null,true,{"b":{}}]}"#).unwrap();
        assert_eq!(v["a"][5]["b"], serde_json::json!({}));
        assert_eq!(parse(b" 42 ").unwrap(), 42);
    }

    #[test]
    fn refuses_what_lenient_parsers_read_differently() {
        for bad in [
            &br#"{"command":"ls"}x"#[..],
            br#"{"command":"ls"}{"command":"rm -rf /"}"#,
            b"\xEF\xBB\xBF{\"a\":1}",
            br#"{"a":NaN}"#,
            br#"{"a":Infinity}"#,
            br#"{"a":"\ud800"}"#,
            b"{\"a\":\"\xff\"}",
            br#"{"command":"ls","command":"rm -rf /"}"#,
            b"{\x00\"\x00a\x00\"\x00:\x001\x00}\x00",
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
            assert!(looks_like_json(bad), "{}", String::from_utf8_lossy(bad));
        }
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(parse(deep.as_bytes()).is_err());
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(fine.as_bytes()).is_ok());
    }

    #[test]
    fn plain_text_does_not_look_like_json() {
        assert!(!looks_like_json(b"hello world"));
        assert!(!looks_like_json(b"a=1&b=2"));
        assert!(looks_like_json(b"  \n[1,"));
    }
}
