//! The typed SCIM resources of RFC 7643 §4 (User, enterprise User, Group), the value
//! types they share (Meta, Name, multi-valued entries, Address), [`ResourceKind`] and
//! [`ResourceId`].
//!
//! Two properties hold for every type here:
//! - **lossless**: attributes the types do not name (unknown attributes, unknown
//!   sub-attributes of known complex attributes, unknown extension schemas) are kept in
//!   an `extra` map and written back, so a request passes through the gateway whole.
//!   [`Resource::from_value`], the parser for request bodies, first holds `schemas` to
//!   what the endpoint serves ([`ResourceKind::check_schemas`]); serde's `Deserialize`
//!   reads any body;
//! - **case-insensitive names** (RFC 7643 §2.1): keys are canonicalized on input
//!   (the private `canonical` module) and written in canonical case.
//!
//! A `null` or absent attribute reads as `None` and is not written back: RFC 7643 §2.5
//! makes them the same state. Empty arrays are kept (Okta sends `"groups": []`).

mod canonical;
mod group;
mod id;
mod kind;
mod user;
mod wire;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ScimError;

pub use group::{Group, Member};
pub use id::ResourceId;
pub use kind::ResourceKind;
pub use user::{EnterpriseUser, Manager, User};
pub use wire::Password;

pub(crate) use canonical::attribute_value as canonical_attribute_value;
pub(crate) use wire::parse_bool_text;

/// What the gateway needs of every typed resource, whatever its kind.
pub trait Resource: Serialize + DeserializeOwned {
    /// Which standard resource type this is.
    const KIND: ResourceKind;

    /// The service provider's `id`.
    fn id(&self) -> Option<&str>;
    /// The client's `externalId`.
    fn external_id(&self) -> Option<&str>;
    /// The `meta` attribute.
    fn meta(&self) -> Option<&Meta>;

    /// Reads a resource from JSON. `schemas` is checked first
    /// ([`ResourceKind::check_schemas`]: a URN the endpoint does not serve, or no core
    /// schema, is `invalidValue`). Names match case-insensitively; a missing required
    /// attribute is `invalidValue`, any other mismatch with the schema `invalidSyntax`.
    fn from_value(value: Value) -> Result<Self, ScimError> {
        Self::KIND.check_schemas(&value)?;
        serde_json::from_value(value).map_err(|e| body_error(&e))
    }

    /// Writes the resource as JSON, in canonical case.
    fn to_value(&self) -> Value {
        // Cannot fail: every key is a string and every leaf a JSON value. Null would
        // only mark that impossible case; it is not worth a panic in a Lambda.
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Maps a serde error from reading a resource body to the RFC 7644 §3.12 error.
pub(crate) fn body_error(error: &serde_json::Error) -> ScimError {
    let message = error.to_string();
    if message.starts_with("missing field") {
        ScimError::invalid_value(message)
    } else {
        ScimError::invalid_syntax(message)
    }
}

/// The `meta` attribute (RFC 7643 §3.1). Times are RFC 3339 strings, kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    /// The resource type's name, e.g. `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// When the resource was added, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// When the resource last changed, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The resource's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The version, a (weak) ETag such as `W/"3694e05e9dff590"` (RFC 7644 §3.14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Meta {
    /// A `meta` with only `resourceType` and `location`.
    pub fn located(resource_type: impl Into<String>, location: impl Into<String>) -> Self {
        Self {
            resource_type: Some(resource_type.into()),
            location: Some(location.into()),
            ..Self::default()
        }
    }
}

/// The components of a user's name (RFC 7643 §4.1.1, `name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Name {
    /// The full name, formatted for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The family (last) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The given (first) name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// The middle name(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// The honorific prefix, e.g. `Ms.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_prefix: Option<String>,
    /// The honorific suffix, e.g. `III`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honorific_suffix: Option<String>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One value of a multi-valued attribute with the standard sub-attributes of RFC 7643
/// §2.4: `emails`, `phoneNumbers`, `ims`, `photos`, `groups`, `entitlements`, `roles`
/// and `x509Certificates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MultiValued {
    /// The value: an address, number, identifier, URL or base64 certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// A human-readable name for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// A label such as `work`, `home`, `direct`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// Whether this is the preferred value; at most one per attribute.
    #[serde(
        default,
        deserialize_with = "wire::lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary: Option<bool>,
    /// The URI of the referenced resource (`$ref`).
    #[serde(rename = "$ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MultiValued {
    /// A value with only `value` and `type` set.
    pub fn typed(value: impl Into<String>, value_type: impl Into<String>) -> Self {
        Self {
            value: Some(value.into()),
            value_type: Some(value_type.into()),
            ..Self::default()
        }
    }

    /// Whether `primary` is `true`.
    pub fn is_primary(&self) -> bool {
        self.primary == Some(true)
    }
}

/// One physical mailing address (RFC 7643 §4.1.2, `addresses`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// The full address, formatted for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// The street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// The city or locality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// The state or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The zip or postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// The country, ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// A label such as `work` or `home`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    /// Whether this is the preferred address.
    #[serde(
        default,
        deserialize_with = "wire::lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary: Option<bool>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Implements `Serialize` and a case-insensitive `Deserialize` for a type whose derives
/// carry `#[serde(remote = "Self")]`. That attribute turns the derived code into
/// inherent `serialize`/`deserialize` functions, so the trait impls below can wrap the
/// derived reading with key canonicalization without a second copy of the fields.
macro_rules! canonical_serde {
    ($ty:ident, |$value:ident| $canonicalize:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                // Inherent functions win over trait methods in path resolution: this is
                // the derived code, not a recursive call.
                $ty::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let $value = serde_json::Value::deserialize(deserializer)?;
                let canonical: Result<serde_json::Value, String> = $canonicalize;
                let canonical = canonical.map_err(serde::de::Error::custom)?;
                $ty::deserialize(canonical).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use canonical_serde;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_multi_valued_entry_keeps_unknown_sub_attributes_and_writes_primary_as_a_bool() {
        // Arrange
        let input = json!({"value": "a@b.c", "type": "work", "primary": "true", "verified": true});

        // Act
        let entry: MultiValued = serde_json::from_value(input).unwrap();

        // Assert
        assert!(entry.is_primary());
        assert_eq!(entry.extra["verified"], true);
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"value": "a@b.c", "type": "work", "primary": true, "verified": true})
        );
    }

    #[test]
    fn meta_keeps_times_as_given_and_unknown_sub_attributes() {
        // Arrange
        let input = json!({"resourceType": "User", "created": "2010-01-23T04:56:22Z", "x": 1});

        // Act
        let meta: Meta = serde_json::from_value(input.clone()).unwrap();

        // Assert
        assert_eq!(meta.created.as_deref(), Some("2010-01-23T04:56:22Z"));
        assert_eq!(serde_json::to_value(&meta).unwrap(), input);
    }
}
