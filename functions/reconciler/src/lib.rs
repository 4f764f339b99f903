//! The scheduled reconciler's logic, apart from its Lambda wiring (`main.rs`): one run
//! ([`run::Reconciler`]) and its metrics ([`metrics`]).

pub mod metrics;
pub mod run;
