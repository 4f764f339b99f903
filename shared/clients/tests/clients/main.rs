//! Integration tests of the HTTP clients over real HTTP, one module per area: the
//! Identity Center client against the emulator (in-process on a loopback port, some
//! through a recording front), against scim2-server, under faults and throttling, the
//! Okta client against the Okta emulator, and the JWKS verifier against a loopback
//! key-set server. `docs/identity-center-rules.md` maps the Identity Center client's rules
//! to these tests.

// Helpers outside #[test] functions fail loudly too: this is a test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod faults;
mod identity_center;
mod identity_center_values;
mod jwks;
mod okta;
mod scim2_server;
mod secrecy;
mod throttling;
