//! Prometheus metrics. Handles are created once and cloned into the request
//! path; a hot-path update is an atomic increment plus, for histograms, one
//! short critical section inside prometheus-client.

use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::tape::TapeMetrics;

/// A route name used as a label value without allocating per request.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct RouteName(pub Arc<str>);

impl EncodeLabelValue for RouteName {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(&self.0)
    }
}

/// Labels of `cpos_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Proxy route.
    pub route: RouteName,
    /// `forwarded`, `refused` or `upstream_error`.
    pub outcome: &'static str,
}

/// Labels carrying only a route.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Proxy route.
    pub route: RouteName,
}

/// Labels of `cpos_refusals_total`: the step that refused and its code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// `client_cert`, `ip_allow`, `rate_limit`, `auth`, `policy`,
    /// `request`, `upstream` or `tape`.
    pub gate: &'static str,
    /// Stable error code.
    pub code: &'static str,
}

/// Labels carrying one state or outcome name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    /// The state or outcome.
    pub state: &'static str,
}

/// Labels carrying a stable refusal code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    /// Stable error code.
    pub code: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 25 µs … ~13 s
    Histogram::new(exponential_buckets(0.000_025, 2.0, 20))
}

/// Every metric the sidecar exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route and outcome.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency (head to head) by route.
    pub request_seconds: HistogramFamily<RouteLabels>,
    /// Refusals by the step that refused and stable code.
    pub refusals: Family<RefusalLabels, Counter>,
    /// Escalation entries in memory by state (set when scraped).
    pub escalations: Family<StateLabels, Gauge>,
    /// Sandbox runs by outcome (`passed`, `failed`, or the failure kind).
    pub sandbox_runs: Family<StateLabels, Counter>,
    /// MCP messages reviewed, by verdict (`allow`, `deny`, `human`,
    /// `sandbox`, or `unclassified` for messages that are not tool calls).
    pub mcp_reviews: Family<StateLabels, Counter>,
    /// Records waiting for the tape writer (set when scraped).
    pub tape_queue_depth: Gauge,
    /// Open data-plane connections.
    pub open_connections: Gauge,
    /// Open HTTP/1.1 connections parked while idle (hyper's buffers freed).
    pub parked_connections: Gauge,
    /// Accepted data-plane connections.
    pub connections: Counter,
    /// Failed accepts.
    pub accept_errors: Counter,
    /// Connections closed by the per-IP cap.
    pub per_ip_refused: Counter,
    /// Tape metrics, shared with the writer.
    pub tape: TapeMetrics,
    /// Reloads (SIGHUP, changed credential files) by result (`ok`, `failed`).
    pub reloads: Family<CodeLabels, Counter>,
    /// 1 while shared state (Redis) answers.
    pub state_redis_up: Gauge,
    /// 1 while the breaker in front of Redis is open.
    pub state_breaker_open: Gauge,
    /// Redis calls that failed, timed out or were refused by the breaker.
    pub state_redis_failures: Counter,
}

impl Metrics {
    /// Builds and registers every metric.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::with_prefix("cpos");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = HistogramFamily::<RouteLabels>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        let escalations = Family::<StateLabels, Gauge>::default();
        let sandbox_runs = Family::<StateLabels, Counter>::default();
        let mcp_reviews = Family::<StateLabels, Counter>::default();
        let tape_queue_depth = Gauge::default();
        registry.register(
            "escalations",
            "Escalation entries held in memory, by state",
            escalations.clone(),
        );
        registry.register(
            "sandbox_runs",
            "Sandbox runs by outcome",
            sandbox_runs.clone(),
        );
        registry.register(
            "mcp_reviews",
            "MCP messages reviewed, by verdict",
            mcp_reviews.clone(),
        );
        registry.register(
            "tape_queue_depth",
            "Records waiting for the tape writer",
            tape_queue_depth.clone(),
        );
        let open_connections = Gauge::default();
        let parked_connections = Gauge::default();
        let connections = Counter::default();
        let accept_errors = Counter::default();
        let per_ip_refused = Counter::default();
        let tape = TapeMetrics::default();
        let reloads = Family::<CodeLabels, Counter>::default();
        let state_redis_up = Gauge::default();
        let state_breaker_open = Gauge::default();
        let state_redis_failures = Counter::default();
        registry.register(
            "state_redis_up",
            "1 while shared state (Redis) answers; 0 when it does not, and always with state.backend = memory",
            state_redis_up.clone(),
        );
        registry.register(
            "state_breaker_open",
            "1 while the circuit breaker in front of Redis refuses calls",
            state_breaker_open.clone(),
        );
        registry.register(
            "state_redis_failures",
            "Redis calls that failed, timed out or were refused by the open breaker",
            state_redis_failures.clone(),
        );
        registry.register(
            "reloads",
            "Configuration and credential reloads by result (ok, failed)",
            reloads.clone(),
        );
        registry.register(
            "requests",
            "Requests by route and outcome",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request head to response head",
            request_seconds.clone(),
        );
        registry.register(
            "refusals",
            "Refused requests by the step that refused (gate) and stable code",
            refusals.clone(),
        );
        registry.register(
            "open_connections",
            "Open data-plane connections",
            open_connections.clone(),
        );
        registry.register(
            "parked_connections",
            "Open HTTP/1.1 keep-alive connections parked while idle (their buffers released)",
            parked_connections.clone(),
        );
        registry.register(
            "connections",
            "Accepted data-plane connections",
            connections.clone(),
        );
        registry.register(
            "tape_appends",
            "Records appended to the tape",
            tape.appends.clone(),
        );
        registry.register(
            "tape_fsync_duration_seconds",
            "Tape fsync latency",
            tape.fsync_seconds.clone(),
        );
        registry.register(
            "tape_head_seq",
            "Seq of the tape's chain head",
            tape.head_seq.clone(),
        );
        registry.register(
            "tape_write_failures",
            "Tape writes or fsyncs that failed (requests are refused until one succeeds)",
            tape.write_failures.clone(),
        );
        registry.register(
            "accept_errors",
            "Data-plane accept() failures (EMFILE and friends), each followed by a back-off",
            accept_errors.clone(),
        );
        registry.register(
            "connections_refused_per_ip",
            "Connections closed because their client address had too many open",
            per_ip_refused.clone(),
        );
        Arc::new(Metrics {
            state_redis_up,
            state_breaker_open,
            state_redis_failures,
            escalations,
            sandbox_runs,
            mcp_reviews,
            tape_queue_depth,
            reloads,
            accept_errors,
            per_ip_refused,
            registry,
            requests,
            request_seconds,
            refusals,
            open_connections,
            parked_connections,
            connections,
            tape,
        })
    }

    /// Refusal counts by code, read back from the exposition (for the
    /// dashboard; not on the request path).
    pub fn refusal_counts(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut counts = serde_json::Map::new();
        for line in self.render().lines() {
            let Some(rest) = line.strip_prefix("cpos_refusals_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let code = labels
                .split(',')
                .find_map(|l| l.strip_prefix("code=\""))
                .map(|c| c.trim_end_matches('"'));
            if let (Some(code), Ok(n)) = (code, value.trim().parse::<f64>()) {
                let total = counts.get(code).and_then(|v| v.as_u64()).unwrap_or(0);
                counts.insert(code.to_owned(), (total + n as u64).into());
            }
        }
        counts
    }

    /// Renders the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# metrics encoding failed");
        }
        out
    }
}
