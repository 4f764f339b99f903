//! [`GatewayError`]: how a use case fails, one layer above `scim_core::ScimError` and
//! the ports' errors. `edge` maps it to the HTTP answer with
//! [`GatewayError::to_scim_error`], its one mapping.

use std::time::Duration;

use scim_core::ScimError;

use crate::TargetError;
use crate::audit::AuditError;
use crate::translate::error::target_error_to_scim;

/// How long a client is told to wait before retrying a request that the audit trail
/// could not take ([`GatewayError::AuditUnavailable`]): long enough for DynamoDB to
/// recover from a throttling burst, short enough that Okta's next retry lands soon.
pub const AUDIT_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why a use case did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request is not acceptable; never forwarded. Carries the exact RFC 7644 error.
    #[error("invalid request: {0}")]
    Invalid(ScimError),
    /// The resource does not exist (or the id cannot name one).
    #[error("not found: {0}")]
    NotFound(String),
    /// A unique attribute is taken: 409 `uniqueness` (RFC 7644 §3.3).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An `If-Match` precondition failed (RFC 7644 §3.14). The gateway has no ETags yet
    /// (Identity Center has none), so nothing returns this today.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The target failed in a way the use case does not translate itself.
    #[error(transparent)]
    Upstream(TargetError),
    /// The audit trail refused the intent record that must be durable before the
    /// gateway changes Identity Center, so nothing was changed: 503 with `Retry-After`,
    /// for the client (Okta, the event queue) to try again later.
    #[error("the audit trail could not take the intent record; nothing was changed")]
    AuditUnavailable(#[source] AuditError),
    /// A bug or a broken dependency of the gateway's own, with its cause chain; logged,
    /// never shown to the client.
    #[error("unexpected")]
    Unexpected(#[from] anyhow::Error),
}

impl GatewayError {
    /// The RFC 7644 §3.12 error the client gets. 4xx carry a precise detail; 5xx a
    /// generic one, since their cause is internal (the edge logs the full error once).
    pub fn to_scim_error(&self) -> ScimError {
        match self {
            GatewayError::Invalid(error) => error.clone(),
            GatewayError::NotFound(detail) => ScimError::not_found(detail.clone()),
            GatewayError::Conflict(detail) => ScimError::uniqueness(detail.clone()),
            GatewayError::PreconditionFailed => {
                ScimError::precondition_failed("the resource has changed since it was read")
            }
            GatewayError::Upstream(error) => target_error_to_scim(error),
            GatewayError::AuditUnavailable(_) => {
                ScimError::unavailable("the audit trail is unavailable; nothing was changed")
            }
            GatewayError::Unexpected(_) => ScimError::internal("internal error"),
        }
    }

    /// The HTTP status the client gets.
    pub fn status(&self) -> u16 {
        self.to_scim_error().status
    }

    /// How long the client should wait before retrying, for a `Retry-After` header:
    /// set when the target throttled the gateway and said for how long, and when the
    /// audit trail refused the intent record ([`AUDIT_RETRY_AFTER`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GatewayError::Upstream(TargetError::Throttled { retry_after }) => *retry_after,
            GatewayError::AuditUnavailable(_) => Some(AUDIT_RETRY_AFTER),
            _ => None,
        }
    }
}

/// An error and its sources, outermost first, joined with `: `: how causes are logged
/// and recorded.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    use std::fmt::Write as _;
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use scim_core::ScimType;

    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_rfc_error() {
        let cases = [
            (
                GatewayError::Invalid(ScimError::invalid_filter("x")),
                400,
                Some(ScimType::InvalidFilter),
            ),
            (
                GatewayError::NotFound("User u-1 not found".into()),
                404,
                None,
            ),
            (
                GatewayError::Conflict("taken".into()),
                409,
                Some(ScimType::Uniqueness),
            ),
            (GatewayError::PreconditionFailed, 412, None),
            (GatewayError::Upstream(TargetError::Timeout), 504, None),
            (
                GatewayError::Unexpected(anyhow::anyhow!("rule store at 10.0.0.1 down")),
                500,
                None,
            ),
        ];
        for (error, status, scim_type) in cases {
            let scim = error.to_scim_error();
            assert_eq!(
                (scim.status, scim.scim_type),
                (status, scim_type),
                "{error:?}"
            );
            assert!(!scim.detail.contains("10.0.0.1"));
        }
    }

    #[test]
    fn an_unexpected_failure_keeps_its_cause_as_a_source() {
        // Arrange
        let cause = std::io::Error::other("socket closed");
        let error = GatewayError::from(anyhow::Error::new(cause).context("reading the rules"));

        // Act
        let chain = cause_chain(&error);

        // Assert
        assert_eq!(chain, "unexpected: reading the rules: socket closed");
    }

    #[test]
    fn throttling_tells_the_client_when_to_retry() {
        let error = GatewayError::Upstream(TargetError::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        });
        assert_eq!(
            (error.status(), error.retry_after()),
            (429, Some(Duration::from_secs(2)))
        );
        assert_eq!(GatewayError::PreconditionFailed.retry_after(), None);
    }

    #[test]
    fn a_refused_intent_record_is_a_503_to_retry_later() {
        let error = GatewayError::AuditUnavailable(AuditError::Unavailable("throttled".into()));
        assert_eq!(
            (error.status(), error.retry_after()),
            (503, Some(AUDIT_RETRY_AFTER))
        );
        assert!(!error.to_scim_error().detail.contains("throttled"));
    }
}
