//! The edge gates, in their fixed order:
//!
//! 1. client certificate (pinning), 2. IP allowlist, 3. per-IP rate limit,
//! 4. authentication (HMAC or bearer) and scope, 5. per-principal rate limit.
//!
//! Steps 1–3 need only the request head ([`Gates::admit`]); step 4 may need
//! the body's SHA-256 ([`Gates::authenticate`]). Each refusal is a
//! [`Refusal`]: the gate's name, a [`Problem`] with a stable code, and the
//! client address when the refusal is about it.

pub mod bearer_auth;
pub mod client_cert;
pub mod client_ip;
pub mod hmac_auth;
pub mod ip_allow;
pub mod key_registry;
pub mod nonce_cache;
pub mod rate_limit;
pub mod scopes;

use std::net::IpAddr;
use std::sync::Arc;

use http::request::Parts;
use http::StatusCode;

use self::bearer_auth::BearerAuth;
use self::client_cert::{CertVerdict, ClientCertGate};
use self::client_ip::ClientIpResolver;
use self::hmac_auth::{HmacAuth, Secrets};
use self::ip_allow::IpAllow;
use self::key_registry::KeyRegistry;
use self::nonce_cache::NonceCache;
use self::rate_limit::{
    is_mutation, GovernorLimiter, Limits, RateKey, RateLimiter, RateTable, RateVerdict,
};
use self::scopes::{Plane, ScopeMap, Scopes};
use crate::clock::Clock;
use crate::config::state::OnFailure;
use crate::config::{AuthMode, AuthSettings, GateSettings};
use crate::problem::Problem;
use crate::server::ConnInfo;
use crate::shared::gate::{Bucket, NonceClaim, Outcome, SharedGate};
use crate::shared::Unavailable;
use arc_swap::ArcSwap;

/// A gate said no.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `client_cert`, `ip_allow`, `rate_limit` or `auth`.
    pub gate: &'static str,
    /// What the client is told (boxed: refusals are the cold path).
    pub problem: Box<Problem>,
    /// Recorded only when the refusal is about the address.
    pub client_ip: Option<IpAddr>,
}

impl Refusal {
    /// A refusal by `gate`.
    pub fn new(gate: &'static str, problem: Problem) -> Refusal {
        Refusal {
            gate,
            problem: Box::new(problem),
            client_ip: None,
        }
    }

    /// Records the client address with the refusal.
    pub fn with_client_ip(mut self, ip: IpAddr) -> Refusal {
        self.client_ip = Some(ip);
        self
    }
}

/// Who a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Key id, or the agent the key is bound to.
    pub principal: Arc<str>,
    /// The HMAC key id, when one was used.
    pub key_id: Option<Arc<str>>,
    /// The nonce still to claim in shared state.
    pub nonce: Option<NonceClaim>,
}

/// What the gates learnt about an admitted request.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The client address (after trusted-proxy resolution).
    pub client_ip: IpAddr,
    /// The authenticated principal.
    pub principal: Option<Arc<str>>,
    /// The tightest rate-limit verdict, for `X-RateLimit-*` headers.
    pub rate: Option<RateVerdict>,
    /// A violation audit mode let through.
    pub audit: Option<&'static str>,
    /// `local_fallback` when shared state was unreachable and this
    /// replica decided on its own.
    pub state: Option<&'static str>,
}

enum Auth {
    Off,
    Hmac(HmacAuth),
    Bearer(BearerAuth),
}

/// The configured gate chain. The edge (address gates, rate limits) and the
/// credentials (keys, tokens, scopes) are each swapped whole on reload, so a
/// request sees one consistent set from start to end.
pub struct Gates {
    edge: ArcSwap<Edge>,
    /// Swapped whole when credential files change or on reload.
    auth: ArcSwap<Credentialed>,
    /// What the credentials were built from, and when its files last changed.
    credentials: std::sync::Mutex<Credentials>,
    nonces: Arc<NonceCache>,
    /// Shared state (Redis): nonces and rate limits for every replica.
    shared: Option<Arc<SharedGate>>,
    clock: Arc<dyn Clock>,
}

/// Gates 1–3: client certificate, address allowlist, rate limits.
struct Edge {
    settings: GateSettings,
    resolver: ClientIpResolver,
    client_cert: ClientCertGate,
    ip_allow: Option<IpAllow>,
    rate_limit: Option<Arc<dyn RateLimiter>>,
    /// The limits shared state enforces (`None`: rate limits off).
    shared_limits: Option<RateTable<Limits>>,
}

impl Edge {
    /// Builds the edge gates; the rate limiter (and its counts) of `old` is
    /// kept when its settings did not change.
    fn new(settings: &GateSettings, old: Option<&Edge>) -> Result<Edge, String> {
        let rate_limit: Option<Arc<dyn RateLimiter>> = match old {
            Some(old) if old.settings.rate_limit == settings.rate_limit => old.rate_limit.clone(),
            _ if settings.rate_limit.enabled => {
                Some(Arc::new(GovernorLimiter::new(&settings.rate_limit)?))
            }
            _ => None,
        };
        Ok(Edge {
            resolver: ClientIpResolver::new(&settings.trusted_proxies, settings.client_ip_header)?,
            client_cert: ClientCertGate::new(&settings.client_cert)?,
            ip_allow: match settings.ip_allow.enabled {
                true => Some(IpAllow::new(&settings.ip_allow.allow)?),
                false => None,
            },
            rate_limit,
            shared_limits: match settings.rate_limit.enabled {
                true => Some(Limits::table(&settings.rate_limit)?),
                false => None,
            },
            settings: settings.clone(),
        })
    }
}

/// Gates built by [`Gates::prepare`], not yet in force.
pub struct GateSwap {
    /// `None` when only the credentials change (a credential file changed).
    edge: Option<Edge>,
    credentials: Credentialed,
    settings: AuthSettings,
}

/// The authenticator and the scopes each route requires.
struct Credentialed {
    auth: Auth,
    scopes: ScopeMap,
}

/// The settings credentials are built from, and their files' mtimes.
struct Credentials {
    settings: AuthSettings,
    mtimes: Vec<Option<std::time::SystemTime>>,
}

impl Credentials {
    fn new(settings: &AuthSettings) -> Credentials {
        Credentials {
            mtimes: credential_mtimes(settings),
            settings: settings.clone(),
        }
    }
}

/// Every file credentials are read from: the key registry and the secret
/// files it names, the single secret, token, token registry and scopes files.
fn credential_files(a: &AuthSettings) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = [
        &a.key_registry_file,
        &a.hmac_secret_file,
        &a.token_file,
        &a.token_registry_file,
        &a.scopes_file,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect();
    if let Some(registry) = a
        .key_registry_file
        .as_deref()
        .and_then(|p| KeyRegistry::load(p).ok())
    {
        files.extend(registry.secret_files());
    }
    files
}

fn credential_mtimes(a: &AuthSettings) -> Vec<Option<std::time::SystemTime>> {
    credential_files(a)
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// The authenticator `a` describes, reusing the nonce cache and clock;
/// `shared`: nonces are claimed in shared state instead.
fn build_auth(
    a: &AuthSettings,
    nonces: &Arc<NonceCache>,
    clock: &Arc<dyn Clock>,
    shared: bool,
) -> Result<Auth, String> {
    let scopes_file = || match &a.scopes_file {
        None => Some(Scopes::all()),
        Some(path) => Scopes::from_file(path),
    };
    Ok(match a.mode {
        AuthMode::Off => Auth::Off,
        AuthMode::Hmac => {
            let secrets = match (&a.key_registry_file, &a.hmac_secret_file) {
                (Some(registry), _) => Secrets::Registry(KeyRegistry::load(registry)?),
                (None, Some(secret)) => Secrets::Single {
                    secret: std::fs::read_to_string(secret)
                        .map(|s| s.trim().as_bytes().to_vec())
                        .unwrap_or_default(),
                    scopes: scopes_file(),
                },
                (None, None) => Secrets::Single {
                    secret: Vec::new(),
                    scopes: scopes_file(),
                },
            };
            let hmac = HmacAuth::new(
                secrets,
                a.timestamp_window_seconds,
                nonces.clone(),
                clock.clone(),
            );
            Auth::Hmac(if shared { hmac.deferring_nonce() } else { hmac })
        }
        AuthMode::Bearer => match &a.token_registry_file {
            Some(path) => Auth::Bearer(BearerAuth::registry(path)?),
            None => {
                let token = a.token_file.as_ref().and_then(|p| {
                    std::fs::read_to_string(p)
                        .ok()
                        .map(|t| t.trim().as_bytes().to_vec())
                        .filter(|t| !t.is_empty())
                });
                Auth::Bearer(BearerAuth::single(token, scopes_file(), &a.token_principal))
            }
        },
    })
}

/// The scope step shared by every authenticator: `None` scopes mean a
/// configured scopes file that is missing or empty (fail closed).
pub fn check_scope(scopes: Option<&Scopes>, required: Option<&str>) -> Result<(), Problem> {
    let scopes = scopes.ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_scopes_not_configured",
            "the scopes file is missing or empty; the operator must fix gates.auth.scopes_file",
        )
    })?;
    match required {
        Some(required) if !scopes.allows(required) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "scope_denied",
            format!("this credential lacks the `{required}` scope"),
        )
        .with("required_scope", required.into())),
        _ => Ok(()),
    }
}

impl Gates {
    /// Builds every gate from configuration; file contents that are wrong
    /// (bad pins, bad CIDRs, bad registry JSON) are errors here.
    pub fn from_config(settings: &GateSettings, clock: Arc<dyn Clock>) -> Result<Gates, String> {
        Self::build(settings, clock, None)
    }

    /// As [`Gates::from_config`], with nonces and rate limits kept in
    /// shared state (one round trip per request); this replica's own
    /// limiter and nonce cache answer while Redis cannot, when
    /// `state.on_failure = "fallback_local"`.
    pub fn with_shared_state(
        settings: &GateSettings,
        clock: Arc<dyn Clock>,
        shared: Arc<SharedGate>,
    ) -> Result<Gates, String> {
        Self::build(settings, clock, Some(shared))
    }

    fn build(
        settings: &GateSettings,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<SharedGate>>,
    ) -> Result<Gates, String> {
        let a = &settings.auth;
        let nonces = Arc::new(NonceCache::new(a.nonce_cache_capacity));
        let auth = build_auth(a, &nonces, &clock, shared.is_some())?;
        Ok(Gates {
            edge: ArcSwap::from_pointee(Edge::new(settings, None)?),
            auth: ArcSwap::from_pointee(Credentialed {
                auth,
                scopes: ScopeMap::new(&a.scopes),
            }),
            credentials: std::sync::Mutex::new(Credentials::new(a)),
            nonces,
            shared,
            clock,
        })
    }

    /// Builds every gate from `settings` without changing anything: the
    /// edge (client certificate pins, allowlist, trusted proxies, rate
    /// limits) and the credentials. [`Gates::commit`] swaps them in.
    /// Rate-limit counts survive unless `gates.rate_limit` itself changed;
    /// changing `gates.auth.mode` needs a restart.
    pub fn prepare(&self, settings: &GateSettings) -> Result<GateSwap, String> {
        let mut swap = self.prepare_credentials(&settings.auth)?;
        swap.edge = Some(Edge::new(settings, Some(&self.edge.load()))?);
        Ok(swap)
    }

    /// The credentials `a` describes, built but not in force.
    fn prepare_credentials(&self, a: &AuthSettings) -> Result<GateSwap, String> {
        let mode = self
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .settings
            .mode;
        if mode != a.mode {
            return Err("changing gates.auth.mode needs a restart".into());
        }
        Ok(GateSwap {
            edge: None,
            credentials: Credentialed {
                auth: build_auth(a, &self.nonces, &self.clock, self.shared.is_some())?,
                scopes: ScopeMap::new(&a.scopes),
            },
            settings: a.clone(),
        })
    }

    /// Swaps in what [`Gates::prepare`] built, each half whole.
    pub fn commit(&self, swap: GateSwap) {
        let mut current = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        self.auth.store(Arc::new(swap.credentials));
        *current = Credentials::new(&swap.settings);
        if let Some(edge) = swap.edge {
            self.edge.store(Arc::new(edge));
        }
    }

    /// Rebuilds the credentials (keys, tokens, scopes) from `a` and swaps
    /// them in whole; on any error the old ones stay.
    pub fn reload_credentials(&self, a: &AuthSettings) -> Result<(), String> {
        let swap = self.prepare_credentials(a)?;
        self.commit(swap);
        Ok(())
    }

    /// Re-reads the credentials when one of their files changed since they
    /// were read (polled: a revoked key stops working without a signal).
    /// `Ok(true)` when they were reloaded.
    pub fn refresh_credentials(&self) -> Result<bool, String> {
        let settings = {
            let mut current = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
            let now = credential_mtimes(&current.settings);
            if now == current.mtimes {
                return Ok(false);
            }
            // Tried once per change: a file that does not load is reported
            // once, not every poll.
            current.mtimes = now;
            current.settings.clone()
        };
        self.reload_credentials(&settings).map(|()| true)
    }

    /// True when authentication signs the body (its SHA-256 is needed).
    pub fn signs_body(&self) -> bool {
        matches!(self.auth.load().auth, Auth::Hmac(_))
    }

    /// True when `ip` is a configured trusted proxy (its forwarding headers
    /// are believed and passed on).
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.edge.load().resolver.is_trusted(ip)
    }

    /// The rate limiter, for periodic shrinking.
    pub fn rate_limiter(&self) -> Option<Arc<dyn RateLimiter>> {
        self.edge.load().rate_limit.clone()
    }

    /// Gates 1–3 on the request head.
    pub fn admit(&self, conn: &ConnInfo, head: &mut Parts) -> Result<Admission, Refusal> {
        let edge = self.edge.load();
        let peer = conn.peer.ip();
        let trusted_peer = edge.resolver.is_trusted(peer);

        // 0. One declared agent at most: two `X-Agent-Id` headers would let
        //    the policy and the upstream read different agents.
        if head
            .headers
            .get_all(hmac_auth::AGENT_ID)
            .iter()
            .nth(1)
            .is_some()
        {
            return Err(Refusal::new(
                "auth",
                Problem::new(
                    StatusCode::BAD_REQUEST,
                    "agent_id_duplicated",
                    "send at most one X-Agent-Id header",
                ),
            ));
        }

        // 1. Client certificate.
        let audit = match edge.client_cert.check(
            conn.client_cert.as_ref(),
            &mut head.headers,
            trusted_peer,
        )? {
            CertVerdict::Violation(code) => Some(code),
            CertVerdict::Skipped | CertVerdict::Pinned => None,
        };

        // 2. IP allowlist, on the resolved client address.
        let client_ip = match (edge.resolver.resolve(peer, &head.headers), &edge.ip_allow) {
            (Ok(ip), Some(allow)) => {
                allow.check(ip)?;
                ip
            }
            (Ok(ip), None) => ip,
            (Err(_), Some(_)) => {
                return Err(Refusal::new("ip_allow", ip_allow::denied()).with_client_ip(peer));
            }
            (Err(_), None) => peer,
        };

        // 3. Per-IP rate limit (with shared state, it is taken with the
        //    principal's in one round trip once the request is authenticated).
        let mut rate = None;
        if let (Some(limiter), None) = (&edge.rate_limit, &self.shared) {
            let verdict = limiter.check(&RateKey::Ip(client_ip), is_mutation(&head.method));
            if !verdict.allowed {
                return Err(Refusal::new("rate_limit", verdict.problem()).with_client_ip(client_ip));
            }
            rate = Some(verdict);
        }
        Ok(Admission {
            client_ip,
            principal: None,
            rate,
            audit,
            state: None,
        })
    }

    /// Gates 4–5: authentication and scope, then the per-principal rate
    /// limit (with shared state: the nonce, per-IP and per-principal limits
    /// in one atomic round trip).
    pub async fn authenticate(
        &self,
        plane: Plane,
        head: &Parts,
        body_sha256: &str,
        admission: &mut Admission,
    ) -> Result<(), Refusal> {
        let credentialed = self.auth.load();
        let required = credentialed
            .scopes
            .required(plane, &head.method, head.uri.path());
        let who = match &credentialed.auth {
            Auth::Off => Ok(None),
            Auth::Hmac(hmac) => hmac
                .authenticate(head, body_sha256, required.as_deref())
                .map(Some),
            Auth::Bearer(bearer) => bearer.authenticate(head, required.as_deref()).map(Some),
        };
        let mutation = is_mutation(&head.method);
        if let Some(shared) = &self.shared {
            // Boxed: the Redis round trip's future is large, and the
            // memory-mode path should not carry it in every request.
            return Box::pin(self.shared_step(shared, who, mutation, admission)).await;
        }
        let Some(who) = who.map_err(|problem| Refusal::new("auth", problem))? else {
            return Ok(());
        };
        if let Some(limiter) = &self.edge.load().rate_limit {
            let key = RateKey::Principal(who.principal.clone());
            let verdict = limiter.check(&key, mutation);
            if !verdict.allowed {
                return Err(Refusal::new("rate_limit", verdict.problem()));
            }
            admission.rate = Some(admission.rate.map_or(verdict, |r| r.tighter(verdict)));
        }
        admission.principal = Some(who.principal);
        Ok(())
    }

    /// The shared-state step after local authentication: claims the nonce
    /// and takes the per-IP and per-principal tokens in one call. A request
    /// that failed authentication still takes its address's token, so
    /// guessing credentials is rate limited too.
    async fn shared_step(
        &self,
        shared: &SharedGate,
        who: Result<Option<Authenticated>, Problem>,
        mutation: bool,
        admission: &mut Admission,
    ) -> Result<(), Refusal> {
        let edge = self.edge.load();
        let limits = edge.shared_limits.as_ref();
        let bucket = |key: RateKey| {
            let limits = limits?.for_key(&key)?;
            let limit = if mutation {
                limits.mutations
            } else {
                limits.requests
            };
            Some(Bucket {
                key,
                mutation,
                limit,
            })
        };
        let ip = bucket(RateKey::Ip(admission.client_ip));
        let who = match who {
            Ok(who) => who,
            Err(problem) => {
                let refusal = Refusal::new("auth", problem);
                let Some(ip) = ip else { return Err(refusal) };
                let window = edge.settings.rate_limit.window_seconds * 1000;
                return match shared.run(&[ip], window, None).await {
                    Ok(Outcome::Limited(verdict)) => {
                        Err(Refusal::new("rate_limit", verdict.problem())
                            .with_client_ip(admission.client_ip))
                    }
                    _ => Err(refusal),
                };
            }
        };
        let principal = who.as_ref().map(|w| w.principal.clone());
        let nonce = who.as_ref().and_then(|w| w.nonce.as_ref());
        let buckets: Vec<Bucket> = ip
            .into_iter()
            .chain(
                principal
                    .clone()
                    .and_then(|p| bucket(RateKey::Principal(p))),
            )
            .collect();
        if !buckets.is_empty() || nonce.is_some() {
            let window = edge.settings.rate_limit.window_seconds * 1000;
            match shared.run(&buckets, window, nonce).await {
                Ok(Outcome::Admitted(verdict)) => {
                    admission.rate = verdict.or(admission.rate);
                }
                Ok(Outcome::Replayed) => return Err(Refusal::new("auth", hmac_auth::replayed())),
                Ok(Outcome::Limited(verdict)) => {
                    return Err(Refusal::new("rate_limit", verdict.problem()))
                }
                Err(unavailable) => match shared.redis().on_failure() {
                    OnFailure::FailClosed => {
                        return Err(Refusal::new("state", state_unavailable(&unavailable)))
                    }
                    OnFailure::FallbackLocal => {
                        admission.state = Some("local_fallback");
                        self.local_step(&edge, &buckets, nonce, admission)?;
                    }
                },
            }
        }
        admission.principal = principal;
        Ok(())
    }

    /// What the shared step does, on this replica's own limiter and nonce
    /// cache (Redis unreachable, `fallback_local`).
    fn local_step(
        &self,
        edge: &Edge,
        buckets: &[Bucket],
        nonce: Option<&NonceClaim>,
        admission: &mut Admission,
    ) -> Result<(), Refusal> {
        if let Some(claim) = nonce {
            let now = self.clock.now_unix();
            let expires = now + (claim.ttl_ms / 1000) as i64;
            hmac_auth::remember(&*self.nonces, &claim.namespace, &claim.nonce, now, expires)
                .map_err(|problem| Refusal::new("auth", problem))?;
        }
        if let Some(limiter) = &edge.rate_limit {
            for bucket in buckets {
                let verdict = limiter.check(&bucket.key, bucket.mutation);
                if !verdict.allowed {
                    return Err(Refusal::new("rate_limit", verdict.problem()));
                }
                admission.rate = Some(admission.rate.map_or(verdict, |r| r.tighter(verdict)));
            }
        }
        Ok(())
    }

    /// Removes the credentials the sidecar consumed, so they never reach an
    /// upstream: the `X-CPOS-*` signature headers, or the bearer token.
    pub fn strip_credentials(&self, head: &mut Parts) {
        match self.auth.load().auth {
            Auth::Off => {}
            Auth::Hmac(_) => {
                for name in [
                    hmac_auth::KEY_ID,
                    hmac_auth::TIMESTAMP,
                    hmac_auth::NONCE,
                    hmac_auth::SIGNATURE,
                ] {
                    head.headers.remove(name);
                }
            }
            Auth::Bearer(_) => {
                head.headers.remove(http::header::AUTHORIZATION);
            }
        }
    }

    /// A per-tool rate limit, when an override covers `tool`.
    pub async fn limit_tool(
        &self,
        admission: &mut Admission,
        tool: &str,
        mutation: bool,
    ) -> Result<(), Refusal> {
        let edge = self.edge.load();
        let (Some(limiter), Some(principal)) = (&edge.rate_limit, &admission.principal) else {
            return Ok(());
        };
        let key = RateKey::Tool(principal.clone(), Arc::from(tool));
        let shared_limit = edge.shared_limits.as_ref().and_then(|t| t.for_key(&key));
        let verdict = match (&self.shared, shared_limit) {
            (Some(shared), Some(limits)) => {
                let limit = if mutation {
                    limits.mutations
                } else {
                    limits.requests
                };
                let bucket = Bucket {
                    key: key.clone(),
                    mutation,
                    limit,
                };
                let window = edge.settings.rate_limit.window_seconds * 1000;
                match Box::pin(shared.run(std::slice::from_ref(&bucket), window, None)).await {
                    Ok(Outcome::Admitted(verdict)) => verdict,
                    Ok(Outcome::Limited(verdict)) => Some(verdict),
                    Ok(Outcome::Replayed) => None,
                    Err(unavailable) => match shared.redis().on_failure() {
                        OnFailure::FailClosed => {
                            return Err(Refusal::new("state", state_unavailable(&unavailable)))
                        }
                        OnFailure::FallbackLocal => {
                            admission.state = Some("local_fallback");
                            Some(limiter.check(&key, mutation))
                        }
                    },
                }
            }
            (Some(_), None) => None,
            (None, _) => Some(limiter.check(&key, mutation)).filter(|v| v.limit != 0),
        };
        let Some(verdict) = verdict else {
            return Ok(());
        };
        if !verdict.allowed {
            return Err(Refusal::new("rate_limit", verdict.problem()));
        }
        admission.rate = Some(admission.rate.map_or(verdict, |r| r.tighter(verdict)));
        Ok(())
    }

    /// The shared-state step, when state is shared.
    pub fn shared(&self) -> Option<&Arc<SharedGate>> {
        self.shared.as_ref()
    }
}

/// 503 `state_unavailable`: shared state cannot answer and the sidecar
/// fails closed.
pub fn state_unavailable(why: &Unavailable) -> Problem {
    tracing::debug!(cause = %why, "refused: shared state unavailable");
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "state_unavailable",
        "shared state (Redis) cannot answer, and this sidecar fails closed; retry shortly, or ask the operator to check Redis (`cpos preflight`)",
    )
}
