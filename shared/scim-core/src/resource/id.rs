//! [`ResourceId`]: an id that may name a resource, validated once where it enters.
//!
//! An id comes from the request path and goes into a service provider's URL. Identity
//! Center's ids are letters, digits and hyphens (`9067729b3d-94f1e0b3-…`), scim2-server's
//! are UUIDs; the rule is `[A-Za-z0-9._-]{1,128}` and nothing made of dots alone.
//! Anything else (`..`, `a/b`, `%2F`, quotes, spaces, control characters) cannot name an
//! existing resource, so it is refused as 404: RFC 7644 §3.12 has no better code for "no
//! resource has this id", and Okta's own conformance test expects 404 for an id that
//! does not exist (`docs/okta-client.md` §6).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::ScimError;

/// An id that may name a resource: `[A-Za-z0-9._-]{1,128}`, not dots alone (see the
/// module docs). Serialized as the plain string; deserializing validates it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceId(String);

impl ResourceId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 128;

    /// Whether `id` may name a resource (see the module docs).
    pub fn is_valid(id: &str) -> bool {
        (1..=Self::MAX_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !id.bytes().all(|b| b == b'.')
    }

    /// The id `id`, or 404 with a detail that does not echo it (it may be anything, of
    /// any length).
    pub fn parse(id: &str) -> Result<Self, ScimError> {
        if Self::is_valid(id) {
            Ok(Self(id.to_owned()))
        } else {
            Err(not_found())
        }
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// The refusal of an id that cannot name a resource.
fn not_found() -> ScimError {
    ScimError::not_found("no resource has this id")
}

impl TryFrom<String> for ResourceId {
    type Error = ScimError;

    fn try_from(id: String) -> Result<Self, ScimError> {
        if Self::is_valid(&id) {
            Ok(Self(id))
        } else {
            Err(not_found())
        }
    }
}

impl std::str::FromStr for ResourceId {
    type Err = ScimError;

    fn from_str(id: &str) -> Result<Self, ScimError> {
        Self::parse(id)
    }
}

impl From<ResourceId> for String {
    fn from(id: ResourceId) -> Self {
        id.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ResourceId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ResourceId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Deref for ResourceId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ResourceId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ResourceId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_center_and_uuid_ids_are_valid() {
        for id in [
            "9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074",
            "2819c223-7f76-453a-919d-413861904646",
            "a",
            "user_1.v2",
        ] {
            assert!(ResourceId::is_valid(id), "{id}");
            assert_eq!(ResourceId::parse(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn traversal_encoded_slashes_and_oversized_ids_are_not_found() {
        let long = "a".repeat(ResourceId::MAX_LEN + 1);
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
            let error = ResourceId::parse(id).unwrap_err();

            // Assert
            assert_eq!(error.status, 404, "{id:?}");
            assert!(!error.detail.contains(id) || id.is_empty() || id == "." || id == "a");
        }
    }

    #[test]
    fn an_id_reads_and_writes_as_a_plain_string_and_is_validated_when_read() {
        // Arrange
        let id = ResourceId::parse("u-1").unwrap();

        // Act
        let written = serde_json::to_value(&id).unwrap();
        let read: ResourceId = serde_json::from_value(json!("u-1")).unwrap();
        let refused = serde_json::from_value::<ResourceId>(json!("../admin"));

        // Assert
        assert_eq!(written, json!("u-1"));
        assert_eq!(read, id);
        assert!(refused.is_err());
        assert_eq!(id.to_string(), "u-1");
        assert_eq!(&*id, "u-1");
        assert_eq!(id, "u-1");
    }
}
