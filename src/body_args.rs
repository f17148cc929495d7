//! The arguments of a plain HTTP tool call, read the way a lenient upstream
//! reads them: the query string, then a JSON, form-urlencoded or multipart
//! body (decompressed first when it is encoded). What cannot be read one
//! way only is refused, never forwarded unclassified.

use std::io::Read;

use bytes::Bytes;
use http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};

use crate::config::ContentEncodingPolicy;
use crate::inspect::declares_json;
use crate::problem::Problem;
use crate::strict_json;

/// Largest expansion accepted when decompressing a request body.
pub const MAX_RATIO: usize = 100;

/// What a request carries for classification.
#[derive(Debug, Default)]
pub struct CallArguments {
    /// Query, JSON, form or multipart fields.
    pub arguments: Option<Value>,
    /// A text body that is none of those (classified as free text).
    pub text: Option<String>,
}

/// The body as the tool will read it: decompressed when it carries a
/// `Content-Encoding` (gzip, deflate), under `limit` bytes and [`MAX_RATIO`].
pub fn decoded_body(
    headers: &HeaderMap,
    body: &Bytes,
    policy: ContentEncodingPolicy,
    limit: usize,
) -> Result<Bytes, Problem> {
    let codings: Vec<String> = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.to_str().unwrap_or("?").split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty() && c != "identity")
        .collect();
    if codings.is_empty() {
        return Ok(body.clone());
    }
    let unsupported = || {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_content_encoding",
            format!(
                "a body with Content-Encoding `{}` cannot be classified here; send it uncompressed{}",
                codings.join(", "),
                if policy == ContentEncodingPolicy::Refuse {
                    ""
                } else {
                    " (gzip and deflate are accepted once)"
                }
            ),
        )
    };
    if policy == ContentEncodingPolicy::Refuse || codings.len() > 1 {
        return Err(unsupported());
    }
    let cap = limit.min(body.len().saturating_mul(MAX_RATIO).max(4096));
    let mut out = Vec::new();
    let read = match codings[0].as_str() {
        "gzip" | "x-gzip" => flate2::read::MultiGzDecoder::new(&body[..])
            .take(cap as u64 + 1)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&body[..])
            .take(cap as u64 + 1)
            .read_to_end(&mut out),
        _ => return Err(unsupported()),
    };
    if read.is_err() {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_content_encoding",
            format!(
                "the body does not decompress as `{}`; send it uncompressed",
                codings[0]
            ),
        ));
    }
    if out.len() > cap {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the decompressed body exceeds {cap} bytes (the inspection limit, at most \
                 {MAX_RATIO}x the compressed size); send less"
            ),
        ));
    }
    Ok(Bytes::from(out))
}

/// Reads the query string and the (decoded) body into arguments.
pub fn call_arguments(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<CallArguments, Problem> {
    let mut out = CallArguments::default();
    let mut fields = Map::new();
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        add_pairs(&mut fields, form_urlencoded::parse(query.as_bytes()));
    }
    if !body.is_empty() {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let is = |media_type: &str| essence.eq_ignore_ascii_case(media_type);
        if is("application/x-www-form-urlencoded") {
            if strict_json::looks_like_json(body) {
                // Read as a form it is one odd key; a tool that parses
                // JSON whatever the declared type runs what it holds.
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_json",
                    "the body is declared as a form but reads as JSON, and tools differ on \
                     which they parse; send JSON as application/json, or a form whose first \
                     field does not start with `{` or `[`",
                ));
            }
            add_pairs(&mut fields, form_urlencoded::parse(body));
        } else if is("multipart/form-data") {
            for (name, value) in multipart(content_type, body)? {
                add_field(&mut fields, name, Value::String(value));
            }
        } else {
            match strict_json::parse(body) {
                Ok(Value::Object(map)) if fields.is_empty() => {
                    out.arguments = Some(Value::Object(map));
                    return Ok(out);
                }
                Ok(Value::Object(map)) => {
                    for (k, v) in map {
                        add_field(&mut fields, k, v);
                    }
                }
                Ok(other) if fields.is_empty() => {
                    out.arguments = Some(other);
                    return Ok(out);
                }
                Ok(other) => add_field(&mut fields, "body".into(), other),
                Err(e) if declares_json(headers) || strict_json::looks_like_json(body) => {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_json",
                        format!(
                            "the body reads as JSON but is not strict JSON ({e}); tools parse such \
                             bodies differently, so send one UTF-8 JSON document without a BOM, \
                             NaN or duplicate keys"
                        ),
                    ));
                }
                Err(_) => out.text = std::str::from_utf8(body).ok().map(str::to_owned),
            }
        }
    }
    if !fields.is_empty() {
        out.arguments = Some(Value::Object(fields));
    }
    Ok(out)
}

fn add_pairs<'a>(
    fields: &mut Map<String, Value>,
    pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) {
    for (k, v) in pairs {
        add_field(fields, k.into_owned(), Value::String(v.into_owned()));
    }
}

/// Adds a field; a repeated name keeps every value (as an array), since
/// upstreams differ on which one they use.
fn add_field(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

/// The fields of a `multipart/form-data` body (text parts, and file parts
/// that are UTF-8). A body that does not frame cleanly is refused.
fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, Problem> {
    let invalid = |why: &str| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid_multipart",
            format!("the multipart body cannot be read one way only ({why}); send it well-formed"),
        )
    };
    let boundary = content_type
        .split(';')
        .filter_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.eq_ignore_ascii_case("boundary").then_some(v)
        })
        .next()
        .map(|b| b.trim_matches('"'))
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| invalid("no boundary parameter"))?;
    let delimiter = format!("--{boundary}");
    let mut fields = Vec::new();
    let mut rest = body;
    // Skip the preamble up to the first delimiter.
    let start = find(rest, delimiter.as_bytes()).ok_or_else(|| invalid("no opening boundary"))?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or_else(|| invalid("a boundary not followed by CRLF"))?;
        let head_end = find(rest, b"\r\n\r\n").ok_or_else(|| invalid("a part without headers"))?;
        let head = std::str::from_utf8(&rest[..head_end])
            .map_err(|_| invalid("part headers are not UTF-8"))?;
        rest = &rest[head_end + 4..];
        let end_marker = format!("\r\n{delimiter}");
        let end =
            find(rest, end_marker.as_bytes()).ok_or_else(|| invalid("a part without an end"))?;
        let value = &rest[..end];
        rest = &rest[end + end_marker.len()..];
        let name = head
            .split("\r\n")
            .find(|l| {
                l.get(..20)
                    .is_some_and(|p| p.eq_ignore_ascii_case("content-disposition:"))
            })
            .and_then(|l| {
                l.split(';')
                    .filter_map(|p| p.trim().strip_prefix("name="))
                    .next()
            })
            .map(|n| n.trim_matches('"').to_owned())
            .ok_or_else(|| invalid("a part without a name"))?;
        if let Ok(text) = std::str::from_utf8(value) {
            fields.push((name, text.to_owned()));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn query_form_and_json_become_arguments() {
        let args = call_arguments(
            &headers("application/x-www-form-urlencoded"),
            Some("a=1&cmd=rm+-rf+%2F"),
            b"command=ls&command=rm%20-rf%20%2F",
        )
        .unwrap()
        .arguments
        .unwrap();
        assert_eq!(args["cmd"], "rm -rf /");
        assert_eq!(args["command"], serde_json::json!(["ls", "rm -rf /"]));
        let args = call_arguments(&headers("text/plain"), None, br#"[{"command":"x"}]"#)
            .unwrap()
            .arguments
            .unwrap();
        assert_eq!(args[0]["command"], "x");
    }

    #[test]
    fn json_that_is_not_strict_is_refused_whatever_its_type() {
        for body in [
            &br#"{"command":"rm -rf /"}x"#[..],
            b"\xEF\xBB\xBF{}",
            br#"{"a":NaN}"#,
        ] {
            let err = call_arguments(&headers("text/plain"), None, body).unwrap_err();
            assert_eq!(err.code, "invalid_json");
        }
        let plain = call_arguments(&headers("text/plain"), None, b"hello").unwrap();
        assert_eq!(plain.text.as_deref(), Some("hello"));
        // JSON declared as a form: a form reader and a lenient JSON reader
        // see different calls.
        let form = headers("application/x-www-form-urlencoded");
        for body in [
            &br#"{"command": "rm -rf /"}"#[..],
            b" [1]",
            b"\xEF\xBB\xBF{}",
        ] {
            let err = call_arguments(&form, None, body).unwrap_err();
            assert_eq!(err.code, "invalid_json");
        }
        assert!(call_arguments(&form, None, b"a={b}&c=[1]").is_ok());
    }

    #[test]
    fn multipart_fields() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"command\"\r\n\r\nrm -rf /\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\nContent-Type: application/octet-stream\r\n\r\n\xff\xfe\r\n--XX--\r\n";
        let args = call_arguments(&headers("multipart/form-data; boundary=XX"), None, body)
            .unwrap()
            .arguments
            .unwrap();
        assert_eq!(args, serde_json::json!({"command": "rm -rf /"}));
        let err = call_arguments(
            &headers("multipart/form-data; boundary=XX"),
            None,
            b"--XX\r\nno end",
        )
        .unwrap_err();
        assert_eq!(err.code, "invalid_multipart");
    }

    #[test]
    fn compressed_bodies_are_decoded_under_a_cap() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"command":"rm -rf /"}"#).unwrap();
        let compressed = Bytes::from(gz.finish().unwrap());
        let mut h = headers("text/plain");
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        let plain =
            decoded_body(&h, &compressed, ContentEncodingPolicy::Decompress, 1 << 20).unwrap();
        assert_eq!(&plain[..], br#"{"command":"rm -rf /"}"#);
        let err =
            decoded_body(&h, &compressed, ContentEncodingPolicy::Refuse, 1 << 20).unwrap_err();
        assert_eq!(err.status, 415);
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![b' '; 10 << 20]).unwrap();
        let bomb = Bytes::from(bomb.finish().unwrap());
        let err = decoded_body(&h, &bomb, ContentEncodingPolicy::Decompress, 1 << 20).unwrap_err();
        assert_eq!(err.code, "body_too_large");
        h.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        let err =
            decoded_body(&h, &compressed, ContentEncodingPolicy::Decompress, 1 << 20).unwrap_err();
        assert_eq!(err.code, "unsupported_content_encoding");
    }
}
