//! The gateway's core: use cases, the ports they call, and the translation between
//! Okta's and Identity Center's SCIM dialects.
//!
//! Deliberately free of `aws-sdk-*`, `reqwest` and `lambda_http` (checked by `.ci/run`;
//! see `docs/design.md`, "Dependency direction"): adapters live in `aws-adapters` and
//! `clients`, and depend on this crate, never the reverse.

pub mod audit;
pub mod audit_reads;
pub mod audit_store;
pub mod auth;
pub mod deadline;
pub mod events;
pub mod mirror;
pub mod ports;
pub mod reconcile;
pub mod rule_store;
pub mod rules;
pub mod service;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod translate;

pub use deadline::Deadline;
pub use ports::clock::{Clock, SystemClock};
pub use ports::secrets::{SecretError, SecretId, SecretSource, SecretString};
pub use ports::target::{CallCounts, TargetDialect, TargetError, TargetScimClient};

#[cfg(any(test, feature = "test-util"))]
pub use ports::clock::FixedClock;
#[cfg(any(test, feature = "test-util"))]
pub use ports::secrets::InMemorySecretSource;

pub use audit::{AuditError, AuditLog, AuditRecord, InMemoryAuditLog, TracingAuditLog};
pub use audit_store::{
    AuditPage, AuditStore, AuditStoreError, InMemoryAuditStore, StoredAuditRecord, VerifyReport,
};
pub use auth::{AccessTokenVerifier, Auditor, TokenError};
pub use rules::{ActiveRuleSet, IdentityRules, RuleError, RuleSource};
pub use service::{
    Actor, GatewayError, NewResource, RefusedInput, RequestContext, ResourceKind, ScimReply,
    ScimService,
};
