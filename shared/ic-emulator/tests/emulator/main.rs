//! Integration tests of the Identity Center emulator over real HTTP, one module per area.
//! Each test names the documented fact it checks and cites its source key (defined in
//! `docs/identity-center-dialect.md`); `docs/identity-center-rules.md` maps rules to
//! these tests.

// Helpers outside #[test] functions fail loudly too: this is a test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod auth;
mod discovery;
mod errors;
mod faults;
mod filters;
mod groups;
mod knobs;
mod limits;
mod paging;
mod patch;
mod routes;
mod users;
