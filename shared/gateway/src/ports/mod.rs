//! The ports: traits the use cases call and the adapters implement. They speak domain
//! types only, so that no SDK or HTTP type leaks into the use cases.

pub mod audit_log;
pub mod audit_reads;
pub mod audit_store;
pub mod clock;
pub mod events;
pub mod group_signal;
pub mod mirror;
pub mod okta;
pub mod rule_store;
pub mod rules;
pub mod secrets;
pub mod target;
pub mod token;
