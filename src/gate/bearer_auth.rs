//! Bearer-token authentication (`Authorization: Bearer <token>`). Who a
//! token authenticates comes from the credential, never from a header the
//! client picks: either one token (`token_file`) for the principal
//! `token_principal` with the scopes of `scopes_file`, or a registry
//! (`token_registry_file`) mapping the SHA-256 of each token to its
//! principal and scopes — so raw tokens never sit in the sidecar's config.
//! Tokens are compared in constant time.

use std::path::Path;
use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::scopes::Scopes;
use super::Authenticated;
use crate::problem::Problem;

/// One accepted token.
struct Token {
    /// SHA-256 of the token.
    sha256: [u8; 32],
    principal: Arc<str>,
    /// `None`: scopes file configured but unreadable or empty (fail closed).
    scopes: Option<Scopes>,
}

/// The bearer authenticator.
pub struct BearerAuth {
    /// Empty: no token is loaded (every request is refused).
    tokens: Vec<Token>,
}

/// `token_registry_file`: `{"tokens": [{"principal", "token_sha256", "scopes"}]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    tokens: Vec<RegistryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryEntry {
    principal: String,
    token_sha256: String,
    #[serde(default)]
    scopes: Vec<String>,
}

impl BearerAuth {
    /// One token for one principal.
    pub fn single(token: Option<Vec<u8>>, scopes: Option<Scopes>, principal: &str) -> BearerAuth {
        let tokens = token
            .map(|t| Token {
                sha256: Sha256::digest(&t).into(),
                principal: Arc::from(principal),
                scopes,
            })
            .into_iter()
            .collect();
        BearerAuth { tokens }
    }

    /// Loads a token registry; a malformed file or entry is an error naming it.
    pub fn registry(path: &Path) -> Result<BearerAuth, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("gates.auth.token_registry_file {}: {e}", path.display()))?;
        let file: RegistryFile = serde_json::from_str(&text)
            .map_err(|e| format!("gates.auth.token_registry_file {}: {e}", path.display()))?;
        let mut tokens = Vec::with_capacity(file.tokens.len());
        for (i, entry) in file.tokens.into_iter().enumerate() {
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(entry.token_sha256.trim(), &mut sha256).map_err(|_| {
                format!(
                    "gates.auth.token_registry_file {}: tokens[{i}].token_sha256 must be 64 hex digits \
                     (sha256sum of the token)",
                    path.display()
                )
            })?;
            if entry.principal.trim().is_empty() {
                return Err(format!(
                    "gates.auth.token_registry_file {}: tokens[{i}].principal is empty",
                    path.display()
                ));
            }
            // An empty scope list grants nothing.
            let scopes = Scopes::parse(&entry.scopes.join(","));
            tokens.push(Token {
                sha256,
                principal: Arc::from(entry.principal.trim()),
                scopes: Some(scopes),
            });
        }
        Ok(BearerAuth { tokens })
    }

    /// Checks the token and `required_scope`.
    pub fn authenticate(
        &self,
        head: &Parts,
        required_scope: Option<&str>,
    ) -> Result<Authenticated, Problem> {
        if self.tokens.is_empty() {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_token_not_configured",
                "bearer authentication is on but no token is loaded; the operator must set gates.auth.token_file or token_registry_file",
            ));
        }
        let presented = head
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "auth_required",
                    "send `Authorization: Bearer <token>`",
                )
            })?
            .trim();
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every entry is compared, so timing does not say which one matched.
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.sha256.ct_eq(&digest)) {
                found = Some(token);
            }
        }
        let Some(token) = found else {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "auth_invalid",
                "the bearer token is not valid",
            ));
        };
        super::check_scope(token.scopes.as_ref(), required_scope)?;
        Ok(Authenticated {
            principal: token.principal.clone(),
            key_id: None,
            nonce: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(token: &str) -> Parts {
        http::Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn a_registry_maps_token_hashes_to_principals_and_scopes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.json");
        let sha = |t: &str| hex::encode(Sha256::digest(t.as_bytes()));
        std::fs::write(
            &path,
            serde_json::json!({"tokens": [
                {"principal": "ci", "token_sha256": sha("tok-ci"), "scopes": ["write:tools"]},
                {"principal": "viewer", "token_sha256": sha("tok-view"), "scopes": []},
            ]})
            .to_string(),
        )
        .unwrap();
        let auth = BearerAuth::registry(&path).unwrap();
        let who = auth
            .authenticate(&head("tok-ci"), Some("write:tools"))
            .unwrap();
        assert_eq!(&*who.principal, "ci");
        let denied = auth
            .authenticate(&head("tok-view"), Some("write:tools"))
            .unwrap_err();
        assert_eq!(
            denied.code, "scope_denied",
            "an empty scope list grants nothing"
        );
        assert_eq!(
            auth.authenticate(&head("nope"), None).unwrap_err().code,
            "auth_invalid"
        );
        std::fs::write(
            &path,
            r#"{"tokens":[{"principal":"x","token_sha256":"zz"}]}"#,
        )
        .unwrap();
        let err = BearerAuth::registry(&path).err().unwrap();
        assert!(err.contains("tokens[0]"), "{err}");
    }
}
