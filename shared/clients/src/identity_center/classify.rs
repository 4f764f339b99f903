//! Turns a target's non-2xx answer into a [`TargetError`], reading both RFC 7644 error
//! bodies and Identity Center's variant of them (`docs/identity-center-dialect.md` §8:
//! an extra `schema` key, `exceptionRequestId`, `timeStamp`, and no `scimType`, even on
//! 409).

use std::time::Duration;

use gateway::TargetError;
use scim_core::ScimError;

/// What the retry loop should do with an answer.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// 429: wait (at least `retry_after`) and try again.
    Throttled {
        /// The target's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// 5xx: the request may or may not have been applied; try again.
    ServerError(TargetError),
    /// 401: re-read the token once, then give up.
    Unauthorized,
    /// Any other failure: final.
    Final(TargetError),
}

/// The status's error class, with the detail from `body` when it parses as a SCIM error.
pub(crate) fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Verdict {
    let parsed = serde_json::from_slice::<ScimError>(body).ok();
    let detail = parsed
        .as_ref()
        .map(|e| e.detail.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| default_detail(status).to_owned());
    let scim_type = parsed.and_then(|e| e.scim_type);
    match status {
        401 => Verdict::Unauthorized,
        404 => Verdict::Final(TargetError::NotFound),
        409 => Verdict::Final(TargetError::Conflict { detail }),
        429 => Verdict::Throttled { retry_after },
        500..=599 => Verdict::ServerError(TargetError::Rejected {
            status,
            scim_type,
            detail,
        }),
        _ => Verdict::Final(TargetError::Rejected {
            status,
            scim_type,
            detail,
        }),
    }
}

/// What to say when the body did not: the exception name Identity Center uses for the
/// status (`docs/identity-center-dialect.md` §8), so that messages read the same either
/// way.
fn default_detail(status: u16) -> &'static str {
    match status {
        400 => "ValidationException",
        401 => "UnauthorizedException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        409 => "ConflictException",
        429 => "ThrottlingException",
        500..=599 => "InternalServerException",
        _ => "unexpected status",
    }
}

#[cfg(test)]
mod tests {
    use scim_core::ScimType;

    use super::*;

    const CURRENT_400: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/identity-center/error-400-current.json"
    ));
    const LEGACY_400: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/identity-center/error-400-legacy.json"
    ));

    fn rejected(verdict: Verdict) -> (u16, Option<ScimType>, String) {
        match verdict {
            Verdict::Final(TargetError::Rejected {
                status,
                scim_type,
                detail,
            }) => (status, scim_type, detail),
            other => panic!("expected a final rejection, got {other:?}"),
        }
    }

    #[test]
    fn identity_centers_current_400_body_is_a_rejection_with_its_detail_and_no_scim_type() {
        // Act
        let (status, scim_type, detail) = rejected(classify(400, None, CURRENT_400.as_bytes()));

        // Assert
        assert_eq!(status, 400);
        assert_eq!(scim_type, None);
        assert_eq!(
            detail,
            "Request is unparsable, syntactically incorrect, or violates schema."
        );
    }

    #[test]
    fn identity_centers_legacy_400_body_without_schemas_parses_the_same_way() {
        let (status, scim_type, detail) = rejected(classify(400, None, LEGACY_400.as_bytes()));
        assert_eq!((status, scim_type), (400, None));
        assert_eq!(
            detail,
            "Request is unparsable, syntactically incorrect, or violates schema."
        );
    }

    #[test]
    fn a_409_is_a_conflict_carrying_the_targets_detail() {
        let body = br#"{"schema":["urn:ietf:params:scim:api:messages:2.0:Error"],"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User already exists","status":"409","exceptionRequestId":"x"}"#;
        assert!(matches!(
            classify(409, None, body),
            Verdict::Final(TargetError::Conflict { ref detail }) if detail == "User already exists"
        ));
    }

    #[test]
    fn a_rfc_shaped_error_keeps_its_scim_type() {
        let body = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"invalidFilter","detail":"bad","status":"400"}"#;
        let (_, scim_type, _) = rejected(classify(400, None, body));
        assert_eq!(scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn statuses_without_a_body_are_classified_by_status_alone() {
        assert!(matches!(
            classify(404, None, b""),
            Verdict::Final(TargetError::NotFound)
        ));
        assert!(matches!(
            classify(401, None, b"<html>"),
            Verdict::Unauthorized
        ));
        assert!(matches!(
            classify(429, Some(Duration::from_secs(2)), b""),
            Verdict::Throttled { retry_after: Some(d) } if d == Duration::from_secs(2)
        ));
        assert!(matches!(
            classify(503, None, b"not json"),
            Verdict::ServerError(TargetError::Rejected { status: 503, ref detail, .. })
                if detail == "InternalServerException"
        ));
        let (status, _, detail) = rejected(classify(403, None, b""));
        assert_eq!((status, detail.as_str()), (403, "AccessDeniedException"));
    }
}
