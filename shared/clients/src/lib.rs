//! HTTP clients of the services the gateway and its tools call: the Identity Center SCIM
//! target (`identity_center`), the JWKS endpoint (`jwks`) and the audit API
//! (`audit_api`, for `scimgw audit --api`).

pub mod audit_api;
pub mod identity_center;
pub mod jwks;

pub use identity_center::{
    ClientBuildError, HttpTargetScimClient, RetryPolicy, TargetClientConfig, TargetCounters,
    TargetDialect, UnknownDialect,
};
