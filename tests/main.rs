//! End-to-end tests: the workspace's crates together, against the real local services
//! that `scripts/test` starts.

mod access_reports;
mod audit_api;
mod audit_trail;
mod call_budget;
mod edge_protection;
mod harness;
mod hostile_corpus;
mod hostile_input;
mod identity_center_values;
mod mapping_rules;
mod okta_events;
mod okta_replay;
mod reconcile;
mod release_package;
mod schema_driven_client;
mod scim_support;
mod secrets_scan;
mod template_policy;
