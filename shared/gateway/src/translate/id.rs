//! Which resource ids may reach the target.
//!
//! An id comes from the request path and goes into the target's URL. Identity Center's
//! ids are letters, digits and hyphens (`9067729b3d-94f1e0b3-…`), scim2-server's are
//! UUIDs; the gateway accepts `[A-Za-z0-9._-]{1,128}` and nothing made of dots alone.
//! Anything else (`..`, `a/b`, `%2F`, quotes, spaces, control characters) cannot name
//! an existing resource, so it is answered 404 without a call: RFC 7644 §3.12 has no
//! better code for "no resource has this id", and Okta's own conformance test expects
//! 404 for an id that does not exist (protocols.md §3.6).

use scim_core::ScimError;

/// The longest id accepted.
pub const MAX_ID_LEN: usize = 128;

/// Whether `id` may name a resource at the target (see the module docs).
pub fn is_valid_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !id.bytes().all(|b| b == b'.')
}

/// `Ok(id)` for a valid id, else 404 with a detail that does not echo the id (it may be
/// anything, of any length).
pub fn check_id(id: &str) -> Result<&str, ScimError> {
    if is_valid_id(id) {
        Ok(id)
    } else {
        Err(ScimError::not_found("no resource has this id"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_center_and_uuid_ids_are_valid() {
        for id in [
            "9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074",
            "2819c223-7f76-453a-919d-413861904646",
            "a",
            "user_1.v2",
        ] {
            assert!(is_valid_id(id), "{id}");
        }
    }

    #[test]
    fn traversal_encoded_slashes_and_oversized_ids_are_not_found() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        for id in [
            "",
            ".",
            "..",
            "../etc",
            "a/b",
            "a%2Fb",
            "a b",
            "a\"b",
            "é",
            "a\nb",
            long.as_str(),
        ] {
            // Act
            let error = check_id(id).unwrap_err();

            // Assert
            assert_eq!(error.status, 404, "{id:?}");
            assert!(!error.detail.contains(id) || id.is_empty() || id == "." || id == "a");
        }
    }
}
