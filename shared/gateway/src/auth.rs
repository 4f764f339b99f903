//! The access-token port of the audit API: who an auditor is, and the trait that turns
//! a bearer token into one. The JWKS-backed implementation lives in `clients` (it needs
//! an HTTP client, which this crate never depends on); the edge only sees this trait.
//!
//! The error separates the two answers RFC 6750 §3.1 gives a resource server: a token
//! that is not valid (401 `invalid_token`) and a valid token that lacks the required
//! privilege (403 `insufficient_scope`). A third case, the issuer's keys being out of
//! reach, is neither the caller's fault nor a reason to let them in.

/// A verifier that knows a fixed set of tokens: edge tests and nothing else.
#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Default, Clone)]
pub struct StaticAccessTokenVerifier {
    tokens: Vec<(String, Result<Auditor, TokenError>)>,
}

pub use crate::ports::token::{AccessTokenVerifier, Auditor, TokenError};

#[cfg(any(test, feature = "test-util"))]
impl StaticAccessTokenVerifier {
    /// A verifier that refuses every token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers `answer` for `token`.
    #[must_use]
    pub fn with(mut self, token: impl Into<String>, answer: Result<Auditor, TokenError>) -> Self {
        self.tokens.push((token.into(), answer));
        self
    }
}

#[cfg(any(test, feature = "test-util"))]
#[async_trait::async_trait]
impl AccessTokenVerifier for StaticAccessTokenVerifier {
    async fn verify(&self, token: &str) -> Result<Auditor, TokenError> {
        self.tokens
            .iter()
            .find(|(t, _)| t == token)
            .map_or(Err(TokenError::Invalid("unknown token")), |(_, a)| {
                a.clone()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_static_verifier_answers_what_it_was_given_and_refuses_the_rest() {
        // Arrange
        let auditor = Auditor {
            subject: "ada@example.com".into(),
            client_id: None,
        };
        let verifier = StaticAccessTokenVerifier::new()
            .with("good", Ok(auditor.clone()))
            .with("no-group", Err(TokenError::Forbidden("missing group")));

        // Act / Assert
        assert_eq!(verifier.verify("good").await, Ok(auditor));
        assert_eq!(
            verifier.verify("no-group").await,
            Err(TokenError::Forbidden("missing group"))
        );
        assert!(matches!(
            verifier.verify("other").await,
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn error_messages_name_the_reason_only() {
        assert_eq!(
            TokenError::Invalid("expired").to_string(),
            "invalid token: expired"
        );
    }
}
