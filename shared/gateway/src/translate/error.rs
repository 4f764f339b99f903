//! Target failures as RFC 7644 §3.12 errors for the client.
//!
//! Identity Center's error bodies are non-standard (no `scimType`, an extra `schema`
//! key) and the adapter has already classified them into [`TargetError`]; this decides
//! what the client learns. 4xx errors keep the target's explanation, since it is about
//! the client's own data; anything that is the gateway's or the target's problem gets
//! a generic detail, so that no internal URL, token or stack reaches the client.
//!
//! | target | client | why |
//! |---|---|---|
//! | 409 conflict | 409 `uniqueness` | RFC 7644 §3.3 requires `uniqueness` on a conflicting create |
//! | 404 | 404 | |
//! | 429 after retries | 429, with `Retry-After` when known | the client can retry as well as we can, and Okta backs off on 429 |
//! | 400 (and other 4xx) | 400, the target's `scimType` and detail | the request's data was refused |
//! | 401/403 | 502 | the gateway's credential for the target was refused: not the client's fault |
//! | 5xx after retries, transport failure | 502 | |
//! | no answer before the deadline | 504 | |

use scim_core::{ResourceKind, ScimError};

use crate::TargetError;

/// The longest target detail passed on to the client.
const MAX_DETAIL_CHARS: usize = 300;

/// The RFC 7644 error the client gets for a target failure (see the module docs).
pub fn target_error_to_scim(error: &TargetError) -> ScimError {
    match error {
        TargetError::Conflict { .. } => {
            ScimError::uniqueness("a resource with the same unique attribute already exists")
        }
        TargetError::NotFound => ScimError::not_found("the resource does not exist"),
        TargetError::Throttled { .. } => {
            ScimError::too_many_requests("the target is throttling requests; retry later")
        }
        TargetError::Rejected { status: 404, .. } => {
            ScimError::not_found("the resource does not exist")
        }
        TargetError::Rejected { status: 409, .. } => {
            ScimError::uniqueness("a resource with the same unique attribute already exists")
        }
        TargetError::Rejected {
            status: 401 | 403, ..
        }
        | TargetError::Unauthorized => {
            ScimError::new(502, "the target refused the gateway's credentials")
        }
        TargetError::Rejected {
            status,
            scim_type,
            detail,
        } if (400..500).contains(status) => ScimError {
            status: 400,
            scim_type: *scim_type,
            detail: format!("the target refused the request: {}", clean_detail(detail)),
        },
        TargetError::Rejected { .. } | TargetError::Transport(_) => {
            ScimError::new(502, "the target failed; retry later")
        }
        TargetError::Timeout => ScimError::new(504, "the target did not answer in time"),
    }
}

/// The detail of the 409 `uniqueness` a create, PUT or PATCH meets at the target, for
/// `kind`. Identity Center keeps a user's `userName`, primary email and `externalId`
/// unique, and a group's `displayName` and `externalId` (`docs/identity-center-dialect.md`
/// §7), and its 409 says only "User already exists." (§8, no `scimType`), so the detail
/// names every attribute that can collide rather than guessing one: a user whose
/// e-mail address is taken by someone else is not told that its `userName` is.
pub fn conflict_detail(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => {
            "a user with this userName, email address or externalId already exists at the target"
        }
        ResourceKind::Group => {
            "a group with this displayName or externalId already exists at the target"
        }
    }
}

/// A target detail fit to show: control characters dropped, length capped.
fn clean_detail(detail: &str) -> String {
    let cleaned: String = detail
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DETAIL_CHARS)
        .collect();
    if cleaned.trim().is_empty() {
        "no reason given".to_owned()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use scim_core::ScimType;

    use super::*;

    fn rejected(status: u16, detail: &str) -> TargetError {
        TargetError::Rejected {
            status,
            scim_type: None,
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn a_conflict_is_a_uniqueness_error() {
        let error = target_error_to_scim(&TargetError::Conflict {
            detail: "User already exists".into(),
        });
        assert_eq!(
            (error.status, error.scim_type),
            (409, Some(ScimType::Uniqueness))
        );
    }

    #[test]
    fn a_conflict_detail_names_every_attribute_the_target_keeps_unique() {
        // Act
        let user = conflict_detail(ResourceKind::User);
        let group = conflict_detail(ResourceKind::Group);

        // Assert
        for attribute in ["userName", "email", "externalId"] {
            assert!(user.contains(attribute), "{user}");
        }
        for attribute in ["displayName", "externalId"] {
            assert!(group.contains(attribute), "{group}");
        }
    }

    #[test]
    fn a_rejection_keeps_the_targets_explanation_as_a_400() {
        // Act
        let error = target_error_to_scim(&rejected(
            400,
            "Request is unparsable, syntactically incorrect, or violates schema.",
        ));

        // Assert
        assert_eq!(error.status, 400);
        assert!(error.detail.contains("violates schema"));
    }

    #[test]
    fn throttling_is_a_429_and_missing_resources_are_404() {
        assert_eq!(
            target_error_to_scim(&TargetError::Throttled {
                retry_after: Some(Duration::from_secs(3))
            })
            .status,
            429
        );
        assert_eq!(target_error_to_scim(&TargetError::NotFound).status, 404);
        assert_eq!(target_error_to_scim(&rejected(404, "x")).status, 404);
        assert_eq!(
            target_error_to_scim(&rejected(409, "x")).scim_type,
            Some(ScimType::Uniqueness)
        );
    }

    #[test]
    fn the_gateways_and_the_targets_own_failures_get_generic_details() {
        let transport =
            TargetError::Transport("connect to https://scim.internal/tenant refused".into());
        for (error, status) in [
            (TargetError::Timeout, 504),
            (TargetError::Unauthorized, 502),
            (rejected(403, "token abc expired"), 502),
            (rejected(500, "stack trace at https://internal"), 502),
            (transport, 502),
        ] {
            // Act
            let scim = target_error_to_scim(&error);

            // Assert
            assert_eq!(scim.status, status, "{error:?}");
            assert!(
                !scim.detail.contains("internal") && !scim.detail.contains("abc"),
                "{scim:?}"
            );
        }
    }

    #[test]
    fn a_target_detail_is_cleaned_and_capped() {
        let error =
            target_error_to_scim(&rejected(400, &format!("bad\nvalue{}", "x".repeat(1000))));
        assert!(!error.detail.contains('\n'));
        assert!(error.detail.len() < 400);
    }
}
