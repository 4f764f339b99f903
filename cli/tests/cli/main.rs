//! `scimgw` as administrators and auditors run it: the real binary against real local
//! services (moto's DynamoDB and Secrets Manager, started by `scripts/services up`), one
//! module per command.

// Test set-up and assertions: a failed call must fail the test, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod console;
mod dev_process;
mod docs_commands;
mod doctor;
mod events;
mod rules;
mod soak;
mod sync;
mod tamper;
