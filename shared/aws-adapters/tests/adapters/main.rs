//! Integration tests of the AWS adapters against real AWS APIs (moto's server, started
//! by `scripts/services up`), one module per adapter.

// Test set-up and assertions: a failed call must fail the test, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dynamodb_audit;
mod dynamodb_event_ledger;
mod dynamodb_mirror;
mod dynamodb_rule_store;
mod entitlements;
mod entitlements_permission_sets;
mod entitlements_run;
mod moto_transactions;
mod secrets_manager;
mod sqs_events;
