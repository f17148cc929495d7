//! The sandbox runner behind the `sandbox` route: argv (never a shell
//! string) checked against an allowlist, then run under bubblewrap with
//! resource limits; only metadata about the run is ever persisted.

pub mod command_policy;
pub mod runner;

pub use command_policy::{CommandPolicy, Rejected};
pub use runner::{RunError, RunResult, Runner};
pub mod masking;
pub mod validate;
pub mod workspace;

pub use validate::{validate, FailureKind, Validation};
pub mod service;
