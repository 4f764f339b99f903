//! End-to-end tests: the workspace's crates together, against the real local services
//! that `scripts/test` starts.

mod audit_api;
mod audit_trail;
mod harness;
mod hostile_input;
mod okta_replay;
mod scim_support;
mod secrets_scan;
mod template_policy;
