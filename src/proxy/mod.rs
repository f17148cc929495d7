//! Forwarding to upstreams: route matching, header hygiene and the pooled,
//! streaming upstream client.

mod client;
mod headers;
mod pool;
mod routes;
mod target;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;

pub use client::{ForwardError, UpstreamClient};
pub use headers::{
    add_forwarded, strip_cpos_headers, strip_hop_by_hop, strip_untrusted_forwarding,
};
pub use routes::{ResolvedRoute, RouteTable};
pub use target::UpstreamTarget;

/// Boxed error type carried by streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type used in both directions: streamed, never collected unless inspected.
pub type ProxyBody = BoxBody<Bytes, BoxError>;
