//! Integration tests of the Okta emulator over real HTTP, one module per area. Each test
//! names the behaviour of Okta's Management API it checks (Users, Groups, Apps API and
//! rate limits references).

// Helpers outside #[test] functions fail loudly too: this is a test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod admin;
mod apps;
mod auth;
mod groups;
mod limits;
mod paging;
mod users;
