//! The access-token port: who an auditor's bearer token stands for, or why it is refused.

use async_trait::async_trait;

/// An authenticated auditor: the claims of a verified access token the audit API uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auditor {
    /// The token's `sub`: the Okta user (or, for client-credential tokens, the client).
    pub subject: String,
    /// The OAuth client the token was issued to (Okta's `cid`), when present.
    pub client_id: Option<String>,
}

/// Why a token was not accepted. Messages are safe to return to the client and to log:
/// they never contain the token or any claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Missing, malformed, badly signed, expired, not yet valid, for another issuer or
    /// audience, or signed with an unknown key or a refused algorithm: 401.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// A valid token that lacks a privilege: without the required scope, issued to a
    /// client that is not allowed, or without the required group: 403.
    #[error("insufficient privilege: {0}")]
    Forbidden(&'static str),
    /// The issuer's keys could not be fetched and none are cached: 503.
    #[error("the token issuer's keys are unavailable")]
    Unavailable,
}

/// Verifies bearer access tokens: a narrow port, held as `Arc<dyn …>`.
#[async_trait]
pub trait AccessTokenVerifier: Send + Sync {
    /// The auditor a token stands for, or why it is refused.
    async fn verify(&self, token: &str) -> Result<Auditor, TokenError>;
}
