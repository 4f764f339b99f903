//! HTTP clients of the services the gateway and its tools call: the Identity Center SCIM
//! target (`identity_center`), Okta's Management API (`okta`), the JWKS endpoint (`jwks`)
//! and the audit API (`audit_api`, for `scimgw audit --api`).

pub mod audit_api;
pub mod identity_center;
pub mod jwks;
pub mod okta;
mod token;

pub use identity_center::{
    ClientBuildError, HttpTargetScimClient, RetryPolicy, TargetClientConfig, TargetCounters,
    TargetDialect, UnknownDialect,
};
pub use okta::{OktaClient, OktaClientBuildError, OktaClientConfig};
