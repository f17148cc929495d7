//! Risk classification: compiled declarative rules turn an action contract
//! into a [`Decision`] (risk, route, reasons). See docs/POLICY.md.

mod anchor;
pub mod capability;
mod engine;
mod operands;
mod parameters;
mod prefilter;
pub mod rules;
pub mod shell;
pub mod testing;
pub mod tool_call;
mod working_dir;

pub use engine::{Decision, Firing, Policy, PolicyError, DEFAULT_POLICY};
pub use rules::Verdict;
