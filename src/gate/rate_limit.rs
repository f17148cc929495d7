//! Rate limits with governor (GCRA). Every key has two independent buckets:
//! `default` for reads and `mutation` for POST, PUT, PATCH and DELETE. Keys
//! are the client address before authentication and the principal after it;
//! per-principal and per-tool overrides replace the default limits.
//!
//! The [`RateLimiter`] trait is the seam a shared (Redis) backend implements.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::config::RateLimitSettings;
use crate::problem::Problem;

/// What a bucket is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// Client address (before authentication).
    Ip(IpAddr),
    /// Authenticated principal.
    Principal(Arc<str>),
    /// A principal's calls to one tool.
    Tool(Arc<str>, Arc<str>),
}

/// The result of taking one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateVerdict {
    /// True when the request may proceed.
    pub allowed: bool,
    /// Requests per window in this bucket.
    pub limit: u32,
    /// Tokens left after this request.
    pub remaining: u32,
    /// Seconds until the bucket is full again.
    pub reset_secs: u64,
    /// Seconds until the next request can pass (0 when allowed).
    pub retry_after_secs: u64,
}

impl RateVerdict {
    /// `X-RateLimit-*` headers (and `Retry-After` when refused).
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = vec![
            (
                HeaderName::from_static("x-ratelimit-limit"),
                HeaderValue::from(self.limit),
            ),
            (
                HeaderName::from_static("x-ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            ),
            (
                HeaderName::from_static("x-ratelimit-reset"),
                HeaderValue::from(self.reset_secs),
            ),
        ];
        if !self.allowed {
            out.push((
                http::header::RETRY_AFTER,
                HeaderValue::from(self.retry_after_secs),
            ));
        }
        out
    }

    /// The 429 problem for a refused verdict.
    pub fn problem(&self) -> Problem {
        let mut problem = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "rate limit reached ({} per window); retry after {} s",
                self.limit, self.retry_after_secs
            ),
        )
        .with("retry_after_seconds", self.retry_after_secs.into());
        problem.headers = self.headers();
        problem
    }

    /// The more restrictive of two verdicts, for response headers.
    pub fn tighter(self, other: RateVerdict) -> RateVerdict {
        if !other.allowed || (self.allowed && other.remaining < self.remaining) {
            other
        } else {
            self
        }
    }
}

/// A rate-limit backend.
pub trait RateLimiter: Send + Sync {
    /// Takes one token from `key`'s default or mutation bucket.
    fn check(&self, key: &RateKey, mutation: bool) -> RateVerdict;
    /// Forgets keys whose buckets are full again (memory stays bounded).
    fn shrink(&self);
    /// Keys currently tracked.
    fn len(&self) -> usize;
    /// True when no key is tracked.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Keyed<C> =
    governor::RateLimiter<RateKey, DashMapStateStore<RateKey>, C, StateInformationMiddleware>;

struct Buckets<C: Clock> {
    default: Keyed<C>,
    mutation: Keyed<C>,
}

impl<C: Clock + Clone> Buckets<C> {
    fn new(window: Duration, requests: u32, mutations: u32, clock: &C) -> Result<Self, String> {
        let keyed = |n: u32| -> Result<Keyed<C>, String> {
            let n = NonZeroU32::new(n).ok_or("rate limits must be at least 1 per window")?;
            let quota = Quota::with_period(window / n.get())
                .ok_or("gates.rate_limit.window_seconds must be at least 1")?
                .allow_burst(n);
            Ok(
                governor::RateLimiter::dashmap_with_clock(quota, clock.clone())
                    .with_middleware::<StateInformationMiddleware>(),
            )
        };
        Ok(Buckets {
            default: keyed(requests)?,
            mutation: keyed(mutations)?,
        })
    }
}

/// Which limits apply to which key: the defaults, per-principal overrides
/// and per-tool overrides (a tool pattern may end in `*`). `B` is what a
/// backend keeps per limit: governor buckets, or the bare numbers.
pub struct RateTable<B> {
    base: B,
    principals: HashMap<String, B>,
    tools: Vec<(String, B)>,
}

impl<B> RateTable<B> {
    /// Builds the table; `make` gets (requests, mutation requests).
    pub fn build(
        settings: &RateLimitSettings,
        mut make: impl FnMut(u32, u32) -> Result<B, String>,
    ) -> Result<Self, String> {
        let base = make(settings.requests, settings.mutation_requests)?;
        let mut principals = HashMap::new();
        let mut tools = Vec::new();
        for (i, o) in settings.overrides.iter().enumerate() {
            let buckets = make(o.requests, o.mutation_requests)
                .map_err(|e| format!("gates.rate_limit.overrides[{i}]: {e}"))?;
            match (&o.principal, &o.tool) {
                (Some(p), None) => {
                    principals.insert(p.clone(), buckets);
                }
                (None, Some(t)) => tools.push((t.clone(), buckets)),
                _ => {
                    return Err(format!(
                        "gates.rate_limit.overrides[{i}] needs exactly one of `principal` or `tool`"
                    ))
                }
            }
        }
        Ok(RateTable {
            base,
            principals,
            tools,
        })
    }

    /// The limits for `key`; `None` for a tool no override covers.
    pub fn for_key(&self, key: &RateKey) -> Option<&B> {
        match key {
            RateKey::Ip(_) => Some(&self.base),
            RateKey::Principal(p) => Some(self.principals.get(&**p).unwrap_or(&self.base)),
            RateKey::Tool(_, tool) => self
                .tools
                .iter()
                .find(|(pattern, _)| tool_matches(pattern, tool))
                .map(|(_, b)| b),
        }
    }

    fn all(&self) -> impl Iterator<Item = &B> {
        std::iter::once(&self.base)
            .chain(self.principals.values())
            .chain(self.tools.iter().map(|(_, b)| b))
    }
}

/// Requests per window of a bucket pair: (default, mutation).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Any method.
    pub requests: u32,
    /// POST, PUT, PATCH and DELETE.
    pub mutations: u32,
}

impl Limits {
    /// The table of bare numbers (the shared backend's view).
    pub fn table(settings: &RateLimitSettings) -> Result<RateTable<Limits>, String> {
        RateTable::build(settings, |requests, mutations| {
            if requests == 0 || mutations == 0 {
                return Err("rate limits must be at least 1 per window".into());
            }
            Ok(Limits {
                requests,
                mutations,
            })
        })
    }
}

/// The in-process backend: governor buckets in sharded maps.
pub struct GovernorLimiter<C: Clock = DefaultClock> {
    table: RateTable<Buckets<C>>,
    clock: C,
}

impl GovernorLimiter<DefaultClock> {
    /// Builds the limiter from configuration on the real clock.
    pub fn new(settings: &RateLimitSettings) -> Result<Self, String> {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock + Clone> GovernorLimiter<C> {
    /// Builds the limiter on an injected clock (tests use a fake one).
    pub fn with_clock(settings: &RateLimitSettings, clock: C) -> Result<Self, String> {
        let window = Duration::from_secs(settings.window_seconds);
        let table = RateTable::build(settings, |requests, mutations| {
            Buckets::new(window, requests, mutations, &clock)
        })?;
        Ok(GovernorLimiter { table, clock })
    }

    fn take(&self, limiter: &Keyed<C>, key: &RateKey) -> RateVerdict {
        match limiter.check_key(key) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let limit = quota.burst_size().get();
                let remaining = snapshot.remaining_burst_capacity();
                let per_token = quota.replenish_interval();
                RateVerdict {
                    allowed: true,
                    limit,
                    remaining,
                    reset_secs: ceil_secs(per_token * (limit - remaining)),
                    retry_after_secs: 0,
                }
            }
            Err(not_until) => {
                let quota = not_until.quota();
                let limit = quota.burst_size().get();
                let wait = not_until.wait_time_from(self.clock.now());
                RateVerdict {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_secs: ceil_secs(quota.replenish_interval() * limit),
                    retry_after_secs: ceil_secs(wait).max(1),
                }
            }
        }
    }
}

impl<C: Clock + Clone + Send + Sync> RateLimiter for GovernorLimiter<C>
where
    C::Instant: Send + Sync,
{
    fn check(&self, key: &RateKey, mutation: bool) -> RateVerdict {
        let Some(buckets) = self.table.for_key(key) else {
            return RateVerdict {
                allowed: true,
                limit: 0,
                remaining: 0,
                reset_secs: 0,
                retry_after_secs: 0,
            };
        };
        let limiter = if mutation {
            &buckets.mutation
        } else {
            &buckets.default
        };
        self.take(limiter, key)
    }

    fn shrink(&self) {
        for b in self.table.all() {
            b.default.retain_recent();
            b.default.shrink_to_fit();
            b.mutation.retain_recent();
            b.mutation.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.table
            .all()
            .map(|b| b.default.len() + b.mutation.len())
            .sum()
    }
}

/// True when a request is a mutation (uses the stricter bucket).
pub fn is_mutation(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::POST | http::Method::PUT | http::Method::PATCH | http::Method::DELETE
    )
}

fn tool_matches(pattern: &str, tool: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => tool.starts_with(prefix),
        None => pattern == tool,
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RateOverride;
    use governor::clock::FakeRelativeClock;

    fn settings() -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            window_seconds: 60,
            requests: 3,
            mutation_requests: 2,
            overrides: vec![
                RateOverride {
                    principal: Some("big".into()),
                    tool: None,
                    requests: 10,
                    mutation_requests: 10,
                },
                RateOverride {
                    principal: None,
                    tool: Some("write_*".into()),
                    requests: 1,
                    mutation_requests: 1,
                },
            ],
        }
    }

    #[test]
    fn admits_exactly_n_then_refuses_and_recovers() {
        let clock = FakeRelativeClock::default();
        let limiter = GovernorLimiter::with_clock(&settings(), clock.clone()).unwrap();
        let key = RateKey::Ip("127.0.0.1".parse().unwrap());
        let remaining: Vec<u32> = (0..3)
            .map(|_| limiter.check(&key, false).remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter.check(&key, false);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs, 20, "one token per 20 s");
        assert!(
            limiter.check(&key, true).allowed,
            "mutation bucket is independent"
        );
        clock.advance(Duration::from_secs(20));
        assert!(limiter.check(&key, false).allowed);
    }

    #[test]
    fn overrides_by_principal_and_tool() {
        let limiter =
            GovernorLimiter::with_clock(&settings(), FakeRelativeClock::default()).unwrap();
        let big = RateKey::Principal("big".into());
        assert_eq!(limiter.check(&big, false).limit, 10);
        assert_eq!(
            limiter
                .check(&RateKey::Principal("small".into()), false)
                .limit,
            3
        );
        let write = RateKey::Tool("a".into(), "write_file".into());
        assert!(limiter.check(&write, true).allowed);
        assert!(!limiter.check(&write, true).allowed);
        let read = RateKey::Tool("a".into(), "read_file".into());
        assert!(
            limiter.check(&read, true).allowed,
            "no override: not limited per tool"
        );
    }

    #[test]
    fn memory_is_bounded_under_many_keys() {
        let clock = FakeRelativeClock::default();
        let limiter = GovernorLimiter::with_clock(&settings(), clock.clone()).unwrap();
        for i in 0..200_000u32 {
            limiter.check(&RateKey::Ip(IpAddr::from(i.to_be_bytes())), false);
        }
        assert_eq!(limiter.len(), 200_000);
        clock.advance(Duration::from_secs(61));
        limiter.shrink();
        assert_eq!(limiter.len(), 0);
    }
}
