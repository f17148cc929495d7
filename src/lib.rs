//! CPOS Engine-Zero sidecar: a security proxy between AI agents and the
//! tools they call. See README.md and docs/ for the big picture; the request
//! path reads top to bottom in [`pipeline`].

pub mod act;
pub mod action;
pub mod admin;
pub mod body_args;
pub mod canonical;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod demo;
pub mod escalation;
pub mod gate;
pub mod inspect;
pub mod intake;
pub mod mcp;
pub mod metrics;
pub mod pipeline;
pub mod policy;
pub mod preflight;
pub mod problem;
pub mod proxy;
pub mod refusal;
pub mod reload;
pub mod sandbox;
pub mod secrets;
pub mod server;
pub mod shared;
pub mod sidecar;
pub mod state;
pub mod strict_json;
pub mod tape;
