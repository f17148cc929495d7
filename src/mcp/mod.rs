//! The MCP gateway: JSON-RPC framing, interception of each request into an
//! action contract, per-connector tool lists, tool pinning, and the two
//! transports — streamable HTTP through `cpos serve` and stdio through
//! `cpos stdio`.

pub mod downstream;
pub mod gateway;
pub mod intercept;
pub mod jsonrpc;
pub mod listing;
pub mod pins;
pub mod sse;
pub mod stdio;
pub mod stdio_upstream;
pub mod tool_filter;

pub use intercept::PinChange;
pub use listing::ListingFilter;
pub use pins::PinStore;
pub use tool_filter::ToolFilter;
