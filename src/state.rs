//! Everything the request path needs, built once from the configuration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::gate::Gates;
use crate::metrics::Metrics;
use crate::proxy::{RouteTable, UpstreamClient};
use crate::tape::Tape;

/// Shared, read-only state of a running sidecar.
pub struct AppState {
    /// The configuration in effect (swapped whole on reload).
    pub config: arc_swap::ArcSwap<Config>,
    /// Routes to upstreams (swapped whole on reload).
    pub routes: arc_swap::ArcSwap<RouteTable>,
    /// The edge gates.
    pub gates: Gates,
    /// The classification policy (swapped whole on reload).
    pub policy: arc_swap::ArcSwap<crate::policy::Policy>,
    /// The adapter intake, when enabled.
    pub adapter: Option<crate::intake::Adapter>,
    /// The human escalation queue, when enabled.
    pub escalations: Option<Arc<crate::escalation::Queue>>,
    /// The sandbox runner, when enabled.
    pub sandbox: Option<Arc<crate::sandbox::service::SandboxService>>,
    /// MCP tool pins, when pinning is on.
    pub pins: Option<Arc<crate::mcp::PinStore>>,
    /// Connectors registered at run time, and the route table's base.
    pub connectors: Arc<crate::connectors::registry::Registry>,
    /// Shared state (Redis), when `state.backend = "redis"`.
    pub redis: Option<Arc<crate::shared::Redis>>,
    /// Pooled upstream client.
    pub upstream: UpstreamClient,
    /// The decision tape.
    pub tape: Tape,
    /// Exported metrics.
    pub metrics: Arc<Metrics>,
    /// Request id generator.
    pub request_ids: RequestIds,
    /// Largest body inspected.
    pub max_inspect_body_bytes: usize,
    /// Largest body a signed request may carry.
    pub max_signed_body_bytes: usize,
    /// Time allowed to receive an inspected body.
    pub body_read_timeout: Duration,
}

/// Generates request ids unique across restarts: a per-process prefix and a counter.
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    /// A generator with a fresh random-enough prefix (time and pid).
    pub fn new() -> RequestIds {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ ((std::process::id() as u64) << 32);
        RequestIds {
            prefix: format!("{:08x}", (seed ^ (seed >> 29)) as u32),
            next: AtomicU64::new(1),
        }
    }

    /// The next id, e.g. `5f3a9c21-1b`.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // Written digit by digit: one per request, `format!` cost ~5× this.
        let digits = (64 - n.leading_zeros()).div_ceil(4).max(1);
        let mut id = String::with_capacity(self.prefix.len() + 1 + digits as usize);
        id.push_str(&self.prefix);
        id.push('-');
        for shift in (0..digits).rev() {
            let nibble = ((n >> (shift * 4)) & 0xf) as u8;
            id.push(char::from(b"0123456789abcdef"[nibble as usize]));
        }
        id
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_prefix_and_a_hex_counter() {
        let ids = RequestIds::new();
        let want = |n: u64| format!("{}-{n:x}", ids.prefix);
        for n in [
            0u64,
            1,
            9,
            10,
            15,
            16,
            255,
            256,
            0xabc,
            u32::MAX as u64 + 1,
            u64::MAX,
        ] {
            ids.next.store(n, Ordering::Relaxed);
            assert_eq!(ids.next(), want(n));
        }
    }
}
