//! Configuration of the edge gates (see docs/GATES.md).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// All four gates and what they share.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateSettings {
    /// CIDRs of front proxies whose forwarding headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Which header a trusted proxy puts the client address in.
    pub client_ip_header: ClientIpHeader,
    /// Client-certificate pinning.
    pub client_cert: ClientCertSettings,
    /// IP allowlist.
    pub ip_allow: IpAllowSettings,
    /// Rate limits.
    pub rate_limit: RateLimitSettings,
    /// HMAC or bearer authentication and scopes.
    pub auth: AuthSettings,
}

/// Header carrying the client address behind a trusted proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `X-Forwarded-For`, walked from the right.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`, walked from the right.
    Forwarded,
}

/// Whether a gate refuses, only records, or is skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateMode {
    /// Not evaluated.
    #[default]
    Off,
    /// Evaluated; violations are recorded but pass.
    Audit,
    /// Evaluated; violations are refused.
    Enforce,
}

/// Client-certificate pinning.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientCertSettings {
    /// `off`, `audit` or `enforce`.
    pub mode: GateMode,
    /// Pinned SHA-256 fingerprints (hex, colons allowed, `#` comments).
    pub pin_file: Option<PathBuf>,
    /// Also accept pins of the certificate's SubjectPublicKeyInfo SHA-256.
    pub pin_spki: bool,
    /// CA bundle verifying client certificates in native mTLS (needs `[tls]`).
    pub ca_file: Option<PathBuf>,
    /// Fingerprint header set by a trusted TLS-terminating front proxy.
    pub header: String,
}

impl Default for ClientCertSettings {
    fn default() -> Self {
        ClientCertSettings {
            mode: GateMode::Off,
            pin_file: None,
            pin_spki: false,
            ca_file: None,
            header: "X-SSL-Client-SHA256".into(),
        }
    }
}

/// IP allowlist.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpAllowSettings {
    /// Refuse clients outside `allow`.
    pub enabled: bool,
    /// CIDRs or addresses, IPv4 and IPv6.
    pub allow: Vec<String>,
}

/// Rate limits: a default and a stricter mutation bucket per key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Apply rate limits.
    pub enabled: bool,
    /// The window the counts below apply to.
    pub window_seconds: u64,
    /// Requests per window (any method).
    pub requests: u32,
    /// POST, PUT, PATCH and DELETE per window.
    pub mutation_requests: u32,
    /// Per-principal or per-tool limits replacing the defaults.
    pub overrides: Vec<RateOverride>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            enabled: false,
            window_seconds: 60,
            requests: 600,
            mutation_requests: 120,
            overrides: Vec::new(),
        }
    }
}

/// Limits for one principal or tool (a tool name may end in `*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateOverride {
    /// The principal (key id or bound agent) this applies to.
    #[serde(default)]
    pub principal: Option<String>,
    /// The tool this applies to.
    #[serde(default)]
    pub tool: Option<String>,
    /// Requests per window.
    pub requests: u32,
    /// Mutations per window.
    pub mutation_requests: u32,
}

/// Authentication mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// No authentication.
    #[default]
    Off,
    /// CPOS HMAC-SHA256 request signing.
    Hmac,
    /// `Authorization: Bearer` token.
    Bearer,
}

/// Authentication and scopes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// `off`, `hmac` or `bearer`.
    pub mode: AuthMode,
    /// HMAC key registry (JSON with paths to secret files).
    pub key_registry_file: Option<PathBuf>,
    /// Single-secret HMAC mode, when there is no registry.
    pub hmac_secret_file: Option<PathBuf>,
    /// Bearer token file.
    pub token_file: Option<PathBuf>,
    /// The principal a valid bearer token authenticates as (rate limits,
    /// tape); never taken from a client header.
    pub token_principal: String,
    /// Bearer token registry (JSON: `{"tokens": [{"principal", "token_sha256",
    /// "scopes"}]}`); replaces `token_file` when set.
    pub token_registry_file: Option<PathBuf>,
    /// Scopes of the bearer token / single secret (comma or newline separated).
    pub scopes_file: Option<PathBuf>,
    /// Allowed clock skew of `X-CPOS-Timestamp`, inclusive.
    pub timestamp_window_seconds: u64,
    /// Nonces remembered at most (refuses new signed requests when full).
    pub nonce_cache_capacity: usize,
    /// Largest body a signed request may carry (it is hashed before forwarding).
    pub max_signed_body_bytes: usize,
    /// Path prefix → required scope on the data plane, checked in order.
    pub scopes: Vec<ScopeRule>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            mode: AuthMode::Off,
            key_registry_file: None,
            hmac_secret_file: None,
            token_file: None,
            token_principal: "bearer-client".into(),
            token_registry_file: None,
            scopes_file: None,
            timestamp_window_seconds: 300,
            nonce_cache_capacity: 1_000_000,
            max_signed_body_bytes: 16 << 20,
            scopes: vec![
                ScopeRule::new("/agent-adapter", "read:adapter", "write:adapter"),
                ScopeRule::new("/mcp", "read:mcp", "write:mcp"),
                ScopeRule::new("/sandbox", "read:sandbox", "write:sandbox"),
            ],
        }
    }
}

/// The scope a path prefix requires for reads (GET, HEAD) and writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRule {
    /// Path prefix (segment boundary).
    pub prefix: String,
    /// Scope for GET and HEAD; none means any authenticated principal.
    #[serde(default)]
    pub read: Option<String>,
    /// Scope for every other method.
    #[serde(default)]
    pub write: Option<String>,
}

impl ScopeRule {
    fn new(prefix: &str, read: &str, write: &str) -> ScopeRule {
        ScopeRule {
            prefix: prefix.into(),
            read: Some(read.into()),
            write: Some(write.into()),
        }
    }
}
