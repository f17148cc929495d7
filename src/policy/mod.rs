//! Risk classification: compiled declarative rules turn an action contract
//! into a [`Decision`] (risk, route, reasons). See docs/POLICY.md.

pub mod shell;
