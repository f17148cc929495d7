//! Bearer-token authentication (`Authorization: Bearer <token>`), compared in
//! constant time; scopes come from the scopes file and the principal from
//! `gates.auth.token_principal`.

use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;
use subtle::ConstantTimeEq;

use super::scopes::Scopes;
use super::Authenticated;
use crate::problem::Problem;

/// The bearer authenticator.
pub struct BearerAuth {
    /// `None`: token file unset, unreadable or empty.
    token: Option<Vec<u8>>,
    /// `None`: scopes file configured but unreadable or empty.
    scopes: Option<Scopes>,
    /// Who the token authenticates.
    principal: Arc<str>,
}

impl BearerAuth {
    /// Builds the authenticator from the loaded token and scopes.
    pub fn new(token: Option<Vec<u8>>, scopes: Option<Scopes>, principal: &str) -> BearerAuth {
        BearerAuth {
            token,
            scopes,
            principal: Arc::from(principal),
        }
    }

    /// Checks the token and `required_scope`.
    pub fn authenticate(
        &self,
        head: &Parts,
        required_scope: Option<&str>,
    ) -> Result<Authenticated, Problem> {
        let Some(token) = &self.token else {
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_token_not_configured",
                "bearer authentication is on but no token is loaded; the operator must set gates.auth.token_file",
            ));
        };
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
        if !bool::from(presented.as_bytes().ct_eq(token)) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "auth_invalid",
                "the bearer token is not valid",
            ));
        }
        super::check_scope(self.scopes.as_ref(), required_scope)?;
        // The principal comes from the credential, never from a header the
        // client chooses (`X-Agent-Id` is recorded as declared, nothing more).
        Ok(Authenticated {
            principal: self.principal.clone(),
            key_id: None,
        })
    }
}
