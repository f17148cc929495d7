//! CPOS HMAC v1 request signing, compatible with the original clients:
//!
//! ```text
//! canonical = METHOD "\n" decoded-path "\n" raw-query "\n" sha256hex(body) "\n" timestamp "\n" nonce
//! X-CPOS-Signature = hex(HMAC-SHA256(secret, canonical))   (lower-case)
//! ```
//!
//! Checks run in the original's order with its codes; the nonce is
//! remembered only when every check passed. A key bound to an agent refuses
//! requests claiming another agent (`agent_mismatch`), which the original
//! could not detect.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use http::request::Parts;
use http::StatusCode;
use sha2::Sha256;

use super::key_registry::KeyRegistry;
use super::nonce_cache::{NonceStore, StoreFull};
use super::scopes::Scopes;
use super::Authenticated;
use crate::clock::Clock;
use crate::problem::Problem;
use crate::shared::gate::NonceClaim;

/// Header names, as the original clients send them.
pub const KEY_ID: &str = "x-cpos-key-id";
/// Unix seconds.
pub const TIMESTAMP: &str = "x-cpos-timestamp";
/// Single-use value.
pub const NONCE: &str = "x-cpos-nonce";
/// Lower-case hex HMAC.
pub const SIGNATURE: &str = "x-cpos-signature";
/// The agent a request speaks for (bound to the key when the key names one).
pub const AGENT_ID: &str = "x-agent-id";

/// Where secrets and scopes come from.
pub enum Secrets {
    /// Per-key secrets and scopes from a registry.
    Registry(KeyRegistry),
    /// One secret; scopes from the scopes file (`None`: configured but unusable).
    Single {
        /// The secret (empty when unreadable).
        secret: Vec<u8>,
        /// Granted scopes.
        scopes: Option<Scopes>,
    },
}

/// The HMAC authenticator.
pub struct HmacAuth {
    secrets: Secrets,
    window: i64,
    nonces: Arc<dyn NonceStore>,
    /// The nonce is claimed by the caller (shared state), not here.
    defer_nonce: bool,
    clock: Arc<dyn Clock>,
}

impl HmacAuth {
    /// Builds the authenticator.
    pub fn new(
        secrets: Secrets,
        window_seconds: u64,
        nonces: Arc<dyn NonceStore>,
        clock: Arc<dyn Clock>,
    ) -> HmacAuth {
        HmacAuth {
            secrets,
            window: window_seconds as i64,
            nonces,
            defer_nonce: false,
            clock,
        }
    }

    /// Leaves the replay check to the caller: the request's nonce comes
    /// back in [`Authenticated::nonce`] to be claimed in shared state, in
    /// the same round trip as the rate limits.
    pub fn deferring_nonce(mut self) -> HmacAuth {
        self.defer_nonce = true;
        self
    }

    /// Verifies a request whose body hashes to `body_sha256` and checks
    /// `required_scope`.
    pub fn authenticate(
        &self,
        head: &Parts,
        body_sha256: &str,
        required_scope: Option<&str>,
    ) -> Result<Authenticated, Problem> {
        let header = |name: &str| {
            head.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
        };
        let now = self.clock.now_unix();
        let agent_header = header(AGENT_ID);

        // 1–3 (registry mode): which key, and may it be used now?
        let (secret, scopes, key_id, bound_agent): (&[u8], Option<&Scopes>, Option<&Arc<str>>, _) =
            match &self.secrets {
                Secrets::Registry(registry) => {
                    let id = header(KEY_ID).ok_or_else(|| {
                        Problem::new(
                            StatusCode::UNAUTHORIZED,
                            "hmac_key_id_required",
                            "send X-CPOS-Key-Id with the id of your signing key",
                        )
                    })?;
                    let key = registry.get(id).ok_or_else(|| {
                        Problem::new(
                            StatusCode::FORBIDDEN,
                            "hmac_key_unknown",
                            "this key id is not in the key registry; check X-CPOS-Key-Id",
                        )
                    })?;
                    if let Err(code) = key.usable(now) {
                        return Err(Problem::new(
                            StatusCode::FORBIDDEN,
                            code,
                            "this key may not be used now (revoked, not yet valid or expired); sign with the current active key",
                        ));
                    }
                    (
                        &key.secret,
                        Some(&key.scopes),
                        Some(&key.id),
                        key.agent.as_ref(),
                    )
                }
                Secrets::Single { secret, scopes } => (secret, scopes.as_ref(), None, None),
            };
        // 4. A secret to verify with.
        if secret.is_empty() {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "hmac_secret_not_configured",
                "the sidecar has no secret for this key; the operator must fix its secret file",
            ));
        }
        // 5. Signature headers.
        let (Some(ts_text), Some(nonce), Some(signature)) =
            (header(TIMESTAMP), header(NONCE), header(SIGNATURE))
        else {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "hmac_required",
                "sign the request: send X-CPOS-Timestamp, X-CPOS-Nonce and X-CPOS-Signature (see `cpos sign --help`)",
            ));
        };
        // 6–7. Timestamp and window (inclusive).
        let ts = parse_python_int(ts_text).ok_or_else(|| {
            Problem::new(
                StatusCode::UNAUTHORIZED,
                "hmac_bad_timestamp",
                "X-CPOS-Timestamp must be integer Unix seconds",
            )
        })?;
        if (now as i128 - ts as i128).abs() > self.window as i128 {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "hmac_timestamp_expired",
                format!("X-CPOS-Timestamp is more than {} s from the sidecar's clock; check your clock and sign again", self.window),
            ));
        }
        // 8. Replay.
        let namespace = key_id.map_or("", |k| &**k);
        if !self.defer_nonce && self.nonces.seen(namespace, nonce, now) {
            return Err(replayed());
        }
        // 9. Signature, in constant time.
        let canonical = canonical_string(head, body_sha256, ts_text, nonce);
        if !verify(secret, canonical.as_bytes(), signature) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "hmac_invalid",
                "signature does not match; sign METHOD, decoded path, raw query, body SHA-256, timestamp and nonce with your key",
            ));
        }
        // 10. Agent binding.
        if let (Some(bound), Some(claimed)) = (bound_agent, agent_header) {
            if &**bound != claimed {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "agent_mismatch",
                    "X-Agent-Id differs from the agent this key is bound to",
                ));
            }
        }
        // 11. Scope.
        super::check_scope(scopes, required_scope)?;
        // 12. Remember the nonce (atomically: a racing copy loses).
        let expires = ts.max(now) + self.window;
        let claim = if self.defer_nonce {
            Some(NonceClaim {
                namespace: key_id.cloned().unwrap_or_else(|| Arc::from("")),
                nonce: nonce.to_owned(),
                ttl_ms: ((expires - now).max(1) as u64) * 1000,
            })
        } else {
            remember(&*self.nonces, namespace, nonce, now, expires)?;
            None
        };
        let principal = match (bound_agent, key_id) {
            (Some(agent), _) => agent.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => Arc::from(agent_header.unwrap_or("hmac-client")),
        };
        Ok(Authenticated {
            principal,
            key_id: key_id.cloned(),
            nonce: claim,
        })
    }
}

/// Step 12 on a local store: remembers the nonce, atomically (a racing
/// copy of the request loses).
pub fn remember(
    nonces: &dyn NonceStore,
    namespace: &str,
    nonce: &str,
    now: i64,
    expires: i64,
) -> Result<(), Problem> {
    match nonces.remember(namespace, nonce, now, expires) {
        Ok(true) => Ok(()),
        Ok(false) => Err(replayed()),
        Err(StoreFull) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "nonce_cache_full",
            "too many signed requests inside the replay window; retry shortly",
        )),
    }
}

/// A nonce already used with this key (on this or any replica).
pub fn replayed() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "hmac_nonce_replay",
        "this nonce was already used with this key; send a fresh X-CPOS-Nonce for every request",
    )
}

/// The six-line canonical string, over the path the client sent (before the
/// sidecar made it canonical: the client signed its own bytes).
pub fn canonical_string(head: &Parts, body_sha256: &str, timestamp: &str, nonce: &str) -> String {
    let uri = head
        .extensions
        .get::<crate::canonical::OriginalUri>()
        .map_or(&head.uri, |o| &o.0);
    let path = urlencoding::decode_binary(uri.path().as_bytes());
    let path = String::from_utf8_lossy(&path);
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        head.method.as_str().to_ascii_uppercase(),
        path,
        uri.query().unwrap_or(""),
        body_sha256,
        timestamp,
        nonce
    )
}

/// Signs a canonical string (used by `cpos sign` and the client).
pub fn sign(secret: &[u8], canonical: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(canonical.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn verify(secret: &[u8], canonical: &[u8], signature: &str) -> bool {
    // Lower-case hex only, as the original compared strings case-sensitively.
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return false;
    }
    let mut raw = [0u8; 32];
    if hex::decode_to_slice(signature, &mut raw).is_err() {
        return false;
    }
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(canonical);
    mac.verify_slice(&raw).is_ok()
}

/// Parses an integer as Python's `int()` does: surrounding whitespace, an
/// optional sign, and single underscores between digits.
pub fn parse_python_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first()? {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits.bytes() {
        match b {
            b'_' => continue,
            b'0'..=b'9' => value = value.checked_mul(10)?.checked_add((b - b'0') as i64)?,
            _ => return None,
        }
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_semantics() {
        assert_eq!(parse_python_int(" 1700000000 "), Some(1_700_000_000));
        assert_eq!(parse_python_int("+1_700"), Some(1700));
        assert_eq!(parse_python_int("-5"), Some(-5));
        for bad in ["1.0", "", "_1", "1_", "1__0", "0x10", "abc"] {
            assert_eq!(parse_python_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn canonical_string_decodes_the_path_and_keeps_the_raw_query() {
        let req = http::Request::post("http://h/a%20b/c?z=1&a=%20")
            .body(())
            .unwrap();
        let (head, ()) = req.into_parts();
        assert_eq!(
            canonical_string(&head, "abc", "17", "n"),
            "POST\n/a b/c\nz=1&a=%20\nabc\n17\nn"
        );
    }

    #[test]
    fn matches_python_hmac() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"s3cret",b"GET\n/x\n\ne3b0\n1\nn",hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"s3cret", "GET\n/x\n\ne3b0\n1\nn"),
            "f418e29fc273ad72ed83696074dcd4f88c663cf54a1b6ba2c2a916e0a2301806"
        );
        let sig = sign(b"s3cret", "x");
        assert!(verify(b"s3cret", b"x", &sig));
        assert!(
            !verify(b"s3cret", b"x", &sig.to_uppercase()),
            "upper-case hex fails, as in the original"
        );
    }
}
