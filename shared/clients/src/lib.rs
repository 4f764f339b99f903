//! HTTP clients of the services the gateway calls: the Identity Center SCIM target
//! (and, as they are written, the Okta API and the JWKS endpoint).

pub mod jwks;
pub mod target;

pub use target::{
    ClientBuildError, Dialect, HttpTargetScimClient, RetryPolicy, TargetCallCounts,
    TargetClientConfig, TargetCounters, UnknownDialect,
};
