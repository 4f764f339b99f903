//! The Group resource (RFC 7643 §4.2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Meta, Resource, canonical, canonical_serde};
use crate::ResourceKind;

/// A Group (RFC 7643 §4.2); attributes it does not name are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Group {
    /// The schema URNs the resource carries; written only when non-empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// The service provider's identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The provisioning client's identifier.
    #[serde(
        rename = "externalId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    /// Resource metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// The group's name (REQUIRED by §4.2).
    #[serde(rename = "displayName")]
    pub display_name: String,
    /// The members. Identity Center never returns them (an empty list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Member>>,
    /// Every other attribute, extension objects included.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

canonical_serde!(Group, |value| canonical::resource(
    value,
    ResourceKind::Group
));

impl Group {
    /// A group with only `schemas` (core Group) and `displayName` set.
    pub fn new(display_name: impl Into<String>) -> Self {
        Self {
            schemas: vec![crate::GROUP_SCHEMA.to_owned()],
            id: None,
            external_id: None,
            meta: None,
            display_name: display_name.into(),
            members: None,
            extra: Map::new(),
        }
    }

    /// The `value` (member id) of each member.
    pub fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members.iter().flatten().map(|m| m.value.as_str())
    }
}

impl Resource for Group {
    const KIND: ResourceKind = ResourceKind::Group;

    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }
}

impl TryFrom<Value> for Group {
    type Error = crate::ScimError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<&Group> for Value {
    fn from(group: &Group) -> Self {
        group.to_value()
    }
}

/// One member of a Group (RFC 7643 §4.2, `members`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The member's `id`; a member without one means nothing, so it is required.
    pub value: String,
    /// The URI of the member resource (`$ref`).
    #[serde(rename = "$ref", default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// `User` or `Group`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub member_type: Option<String>,
    /// The member's display name, as Okta sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Sub-attributes this type does not name.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Member {
    /// A member with only `value` set.
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            reference: None,
            member_type: None,
            display: None,
            extra: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_rfc_group_round_trips_unchanged() {
        // Arrange
        let input: Value =
            serde_json::from_str(include_str!("../../tests/fixtures/rfc7643/group.json")).unwrap();

        // Act
        let group = Group::from_value(input.clone()).unwrap();

        // Assert
        assert_eq!(group.display_name, "Tour Guides");
        assert_eq!(
            group.member_ids().collect::<Vec<_>>(),
            [
                "2819c223-7f76-453a-919d-413861904646",
                "902c246b-6245-4190-8e05-00816be7344a"
            ]
        );
        assert_eq!(group.to_value(), input);
    }

    #[test]
    fn oktas_group_push_body_is_read_case_insensitively_with_empty_members_kept() {
        // Arrange
        let input =
            json!({"schemas": [crate::GROUP_SCHEMA], "DISPLAYNAME": "Engineering", "Members": []});

        // Act
        let group = Group::from_value(input).unwrap();

        // Assert
        assert_eq!(group.display_name, "Engineering");
        assert_eq!(
            group.to_value(),
            json!({"schemas": [crate::GROUP_SCHEMA], "displayName": "Engineering", "members": []})
        );
    }

    #[test]
    fn a_member_without_value_is_refused() {
        assert!(
            Group::from_value(json!({"displayName": "g", "members": [{"display": "x"}]})).is_err()
        );
    }

    #[test]
    fn a_group_without_display_name_is_an_invalid_value() {
        // Act
        let error = Group::from_value(json!({"members": []})).unwrap_err();

        // Assert
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue));
    }

    #[test]
    fn a_user_body_sent_as_a_group_is_refused_for_its_schemas() {
        // Act
        let error = Group::from_value(json!({"schemas": [crate::USER_SCHEMA], "displayName": "G"}))
            .unwrap_err();

        // Assert
        assert_eq!(error.scim_type, Some(crate::ScimType::InvalidValue));
        assert_eq!(
            error.detail,
            format!(
                "`schemas` names `{}`, which this endpoint does not serve",
                crate::USER_SCHEMA
            )
        );
    }
}
