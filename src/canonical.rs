//! The canonical request: one normalisation step before routing, so that
//! route match, tool name, scopes, rate-limit keys and policy all see the
//! path the upstream will see — and the upstream is sent exactly that path.
//!
//! Upstreams are lenient (Go, Flask, Node decode `%64`, resolve `./` and
//! `//`); the sidecar resolves what is unambiguous the same way and refuses
//! what is not (an encoded `/`, a NUL, a backslash, a broken escape).

use std::borrow::Cow;

use http::header::HeaderName;
use http::{HeaderMap, Method, StatusCode, Uri};
use sha2::{Digest, Sha256};

use crate::problem::Problem;

/// The URI the client sent, kept for checks that cover the client's own
/// bytes (the HMAC signature is over what the client signed).
#[derive(Debug, Clone)]
pub struct OriginalUri(pub Uri);

/// Headers that ask a server to treat a request as another method.
pub const METHOD_OVERRIDE_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-http-method-override"),
    HeaderName::from_static("x-http-method"),
    HeaderName::from_static("x-method-override"),
];

/// What to do with a method-override header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverridePolicy {
    /// Refuse the request with 400 (default).
    #[default]
    Refuse,
    /// Remove the header and forward the request under its real method.
    Strip,
}

/// Methods the data plane serves: the registered, upper-case ones an agent's
/// tool call uses. `CONNECT`, `TRACE` and anything else get 405.
pub fn check_method(method: &Method) -> Result<(), Problem> {
    match *method {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => Ok(()),
        _ => Err(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "method `{}` is not served; use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS (upper case)",
                method.as_str().escape_default()
            ),
        )),
    }
}

/// Applies the method-override policy to the headers.
pub fn check_method_override(
    headers: &mut HeaderMap,
    policy: OverridePolicy,
) -> Result<(), Problem> {
    for name in &METHOD_OVERRIDE_HEADERS {
        if headers.contains_key(name) {
            match policy {
                OverridePolicy::Strip => {
                    headers.remove(name);
                }
                OverridePolicy::Refuse => {
                    return Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "method_override_refused",
                        format!(
                        "the `{name}` header would make the tool see another method than the one \
                             classified; send the real method instead"
                    ),
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Why a path cannot be made canonical.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// The request target is not an absolute path (`*`, empty).
    NotAbsolute,
    /// `%2F` / `%5C`: a separator the upstream may or may not decode.
    EncodedSeparator,
    /// `%00` or a raw control byte.
    Nul,
    /// A raw backslash (some upstreams treat it as `/`).
    Backslash,
    /// `%` not followed by two hex digits.
    BadEscape,
}

impl PathError {
    /// The stable machine code of this refusal.
    pub fn code(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "path_not_absolute",
            PathError::EncodedSeparator => "path_encoded_separator",
            PathError::Nul => "path_control_character",
            PathError::Backslash => "path_backslash",
            PathError::BadEscape => "path_bad_escape",
        }
    }

    /// The client's problem.
    pub fn problem(self) -> Problem {
        let why = match self {
            PathError::NotAbsolute => {
                "the request target must be an absolute path starting with `/`"
            }
            PathError::EncodedSeparator => {
                "the path holds an encoded `/` or `\\` (%2F, %5C), which upstreams read differently"
            }
            PathError::Nul => "the path holds a NUL or control character",
            PathError::Backslash => "the path holds a backslash, which some upstreams read as `/`",
            PathError::BadEscape => "the path holds a `%` that is not followed by two hex digits",
        };
        Problem::new(
            StatusCode::BAD_REQUEST,
            self.code(),
            format!("{why}; send the plain path the tool should see"),
        )
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The canonical form of a request path: unreserved characters decoded,
/// other escapes upper-cased, dot segments removed, duplicate slashes
/// collapsed. Borrowed when the path is already canonical (the common case).
pub fn canonical_path(raw: &str) -> Result<Cow<'_, str>, PathError> {
    let bytes = raw.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err(PathError::NotAbsolute);
    }
    let mut plain = true;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let (Some(hi), Some(lo)) = (
                    bytes.get(i + 1).copied().and_then(hex),
                    bytes.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(PathError::BadEscape);
                };
                match hi * 16 + lo {
                    b'/' | b'\\' => return Err(PathError::EncodedSeparator),
                    0..=0x1f | 0x7f => return Err(PathError::Nul),
                    _ => {}
                }
                plain = false;
                i += 3;
            }
            b'\\' => return Err(PathError::Backslash),
            0..=0x1f | 0x7f => return Err(PathError::Nul),
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                plain = false;
                i += 1;
            }
            b'.' if bytes[i - 1] == b'/'
                && matches!(
                    bytes.get(i + 1..).unwrap_or_default(),
                    [] | [b'/', ..] | [b'.'] | [b'.', b'/', ..]
                ) =>
            {
                plain = false;
                i += 1;
            }
            _ => i += 1,
        }
    }
    if plain {
        return Ok(Cow::Borrowed(raw));
    }
    // Decode unreserved escapes, normalise the others to upper-case hex.
    let mut decoded = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let value = hex(bytes[i + 1]).unwrap_or(0) * 16 + hex(bytes[i + 2]).unwrap_or(0);
            if unreserved(value) {
                decoded.push(value as char);
            } else {
                decoded.push('%');
                decoded.push_str(&format!("{value:02X}"));
            }
            i += 3;
        } else {
            // Up to the next escape, as is (`%` is ASCII: a char boundary).
            let next = raw[i..].find('%').map_or(raw.len(), |n| i + n);
            decoded.push_str(&raw[i..next]);
            i = next;
        }
    }
    // Remove dot segments and empty segments (RFC 3986 §5.2.4, plus `//`).
    let trailing = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    Ok(Cow::Owned(out))
}

/// Rewrites `uri`'s path to its canonical form, keeping the query.
pub fn canonical_uri(uri: &Uri) -> Result<Option<Uri>, PathError> {
    let path = canonical_path(uri.path())?;
    let Cow::Owned(path) = path else {
        return Ok(None);
    };
    let mut target = path;
    if let Some(q) = uri.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(target.parse().map_err(|_| PathError::BadEscape)?);
    Uri::from_parts(parts)
        .map(Some)
        .map_err(|_| PathError::BadEscape)
}

/// Makes a request canonical in place: a served method, no method override
/// (or stripped), and the canonical path, with the client's URI kept as an
/// [`OriginalUri`] extension when it changed.
pub fn canonicalize<B>(
    req: &mut http::Request<B>,
    overrides: OverridePolicy,
) -> Result<(), Problem> {
    check_method(req.method())?;
    check_method_override(req.headers_mut(), overrides)?;
    if let Some(uri) = canonical_uri(req.uri()).map_err(PathError::problem)? {
        let original = std::mem::replace(req.uri_mut(), uri);
        req.extensions_mut().insert(OriginalUri(original));
    }
    Ok(())
}

/// Longest path segment recorded as is; longer ones are recorded hashed.
pub const MAX_RECORDED_SEGMENT: usize = 64;

/// The path as the tape records it: canonical, with every segment that is
/// too long or that the secret detector flags replaced by `sha256:<16 hex>`,
/// so a record stays small and never holds a secret sent in a path.
pub fn recorded_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len().min(256));
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if segment.len() > MAX_RECORDED_SEGMENT || looks_secret(segment) {
            let digest = Sha256::digest(segment.as_bytes());
            out.push_str("sha256:");
            out.push_str(&hex::encode(&digest[..8]));
        } else {
            out.push_str(segment);
        }
    }
    out
}

fn looks_secret(segment: &str) -> bool {
    if segment.len() < 16 {
        return false;
    }
    let decoded = urlencoding::decode_binary(segment.as_bytes());
    let text = String::from_utf8_lossy(&decoded);
    crate::secrets::contains_secret(&text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn non_ascii_characters_survive_canonicalisation_unchanged() {
        // Fuzzer reproducer (canonical_path): raw UTF-8 was re-read as Latin-1.
        let raw = "/toops/>/%95\u{451}\u{410}\u{41e}//a";
        let once = canonical_path(raw).unwrap().into_owned();
        assert_eq!(once, "/toops/>/%95\u{451}\u{410}\u{41e}/a");
        assert_eq!(canonical_path(&once).unwrap(), once);
    }

    use super::*;

    #[test]
    fn canonical_paths() {
        let ok = |raw: &str| canonical_path(raw).unwrap().into_owned();
        assert_eq!(ok("/tools/exec"), "/tools/exec");
        assert!(matches!(
            canonical_path("/tools/exec"),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(ok("/tools/%64elete_file"), "/tools/delete_file");
        assert_eq!(ok("/tools/%61dmin/reset"), "/tools/admin/reset");
        assert_eq!(ok("/tools/./exec"), "/tools/exec");
        assert_eq!(ok("//tools/exec"), "/tools/exec");
        assert_eq!(ok("/tools//exec"), "/tools/exec");
        assert_eq!(ok("/x/../tools/exec"), "/tools/exec");
        assert_eq!(ok("/x/%2e%2e/tools/exec"), "/tools/exec");
        assert_eq!(ok("/x/.%2E/tools/exec"), "/tools/exec");
        assert_eq!(ok("/../../tools/exec"), "/tools/exec");
        assert_eq!(ok("/tools/"), "/tools/");
        assert_eq!(ok("/tools/."), "/tools/");
        assert_eq!(ok("/a%20b/%c3%a9"), "/a%20b/%C3%A9");
        assert_eq!(ok("/"), "/");
        assert_eq!(ok("/.."), "/");
        assert_eq!(ok("/a.b/..c/.d"), "/a.b/..c/.d");
        assert_eq!(
            canonical_path("/tools%2Fexec"),
            Err(PathError::EncodedSeparator)
        );
        assert_eq!(
            canonical_path("/tools%5cexec"),
            Err(PathError::EncodedSeparator)
        );
        assert_eq!(canonical_path("/tools/exec%00"), Err(PathError::Nul));
        assert_eq!(canonical_path("/tools\\exec"), Err(PathError::Backslash));
        assert_eq!(canonical_path("/tools/%zz"), Err(PathError::BadEscape));
        assert_eq!(canonical_path("/tools/%4"), Err(PathError::BadEscape));
        assert_eq!(canonical_path("*"), Err(PathError::NotAbsolute));
    }

    #[test]
    fn the_query_is_kept() {
        let uri: Uri = "/a/./b?x=%2F&y=1".parse().unwrap();
        assert_eq!(canonical_uri(&uri).unwrap().unwrap(), "/a/b?x=%2F&y=1");
        let uri: Uri = "http://h:1//a".parse().unwrap();
        assert_eq!(canonical_uri(&uri).unwrap().unwrap(), "http://h:1/a");
        assert!(canonical_uri(&"/a/b".parse().unwrap()).unwrap().is_none());
    }

    #[test]
    fn methods_and_overrides() {
        assert!(check_method(&Method::POST).is_ok());
        assert_eq!(check_method(&Method::CONNECT).unwrap_err().status, 405);
        assert_eq!(check_method(&Method::TRACE).unwrap_err().status, 405);
        let lower = Method::from_bytes(b"post").unwrap();
        assert_eq!(check_method(&lower).unwrap_err().code, "method_not_allowed");
        let mut headers = HeaderMap::new();
        headers.insert("x-http-method-override", "DELETE".parse().unwrap());
        assert_eq!(
            check_method_override(&mut headers.clone(), OverridePolicy::Refuse)
                .unwrap_err()
                .code,
            "method_override_refused"
        );
        check_method_override(&mut headers, OverridePolicy::Strip).unwrap();
        assert!(headers.is_empty());
    }

    #[test]
    fn recorded_paths_are_bounded_and_hide_secrets() {
        assert_eq!(recorded_path("/tools/fetch"), "/tools/fetch");
        let long = format!("/files/{}", "a".repeat(60_000));
        let recorded = recorded_path(&long);
        assert!(
            recorded.starts_with("/files/sha256:") && recorded.len() < 40,
            "{recorded}"
        );
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let recorded = recorded_path(&format!("/tools/fetch/{token}"));
        assert!(!recorded.contains("ghp_"), "{recorded}");
        assert!(recorded.starts_with("/tools/fetch/sha256:"));
    }
}
