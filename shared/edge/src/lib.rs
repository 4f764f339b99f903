//! The HTTP edge of the gateway: the axum routers of the SCIM API, the audit API and the
//! Okta event hook ([`hook`]) on one shared plumbing ([`http`]), inbound bearer authentication, the single mapping
//! from errors to HTTP responses, EMF metrics, and configuration from the environment.
//!
//! Each API has one constructor, [`scim_router`] and [`audit_router`], metrics layer
//! included: the functions serve it under the Lambda runtime (`lambda::run`, feature
//! `lambda`), `scimgw dev` and the tests under `axum::serve` or `oneshot`, so what is
//! tested is what ships.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod hook;
pub mod http;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod metrics;
pub mod scim;
pub mod static_secrets;

pub use app::ScimApp;
pub use audit::{AuditApp, audit_router};
pub use auth::{BearerAuthenticator, InboundTokens, hash_token, inbound_tokens_secret};
pub use config::{
    Config, ConfigError, EventsConfig, ReconcileConfig, ReconcileMode, TargetDialect,
};
pub use error::to_response;
pub use hook::{HOOK_PATH, HookApp, hook_router};
pub use http::{CORRELATION_HEADER, InvocationId};
pub use scim::{SCIM_BASE_PATH, scim_router};
pub use static_secrets::StaticSecretSource;
