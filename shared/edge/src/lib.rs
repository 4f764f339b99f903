//! The HTTP edge of the gateway: the axum router of the SCIM function, inbound bearer
//! authentication, the single mapping from errors to HTTP responses, and configuration
//! from the environment.
//!
//! The same [`scim_router`] runs under `lambda_http::run` in Lambda and under
//! `axum::serve` in `scimgw dev` and the tests, so what is tested is what ships.

pub mod app;
pub mod audit;
pub mod auth;
pub mod config;
pub mod correlation;
pub mod discovery;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod router;
pub mod static_secrets;

pub use app::ScimApp;
pub use audit::{AuditApp, audit_router};
pub use auth::{BearerAuthenticator, InboundTokens, hash_token, inbound_tokens_secret};
pub use config::{Config, ConfigError, TargetDialect};
pub use correlation::{CORRELATION_HEADER, InvocationId};
pub use error::to_response;
pub use router::{SCIM_BASE_PATH, scim_router};
pub use static_secrets::StaticSecretSource;
