//! MCP connectors: the definition of an MCP server placed behind the
//! sidecar, and the static security check every definition passes before
//! it is used (`cpos connectors check`). The check reads text only; it never
//! connects to anything.

pub mod arguments;
pub mod check;
pub mod definition;
pub mod registry;

pub use check::{check, check_route, Finding, Report, Severity};
