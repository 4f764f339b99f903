//! Resources on their way back to the client: the gateway's own `meta.location` (never
//! the target's URL), `meta.resourceType`, `schemas`, no `password`, and a group's
//! `members` filled in by the service, since Identity Center never returns them.

use scim_core::{Group, Resource, User};
use serde_json::{Map, Value, json};

use super::ResourceKind;

/// `base_url` + `/Users/{id}` or `/Groups/{id}`; a trailing slash on the base is ignored.
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{}{}/{id}", base_url.trim_end_matches('/'), kind.endpoint())
}

/// A user as the client gets it.
pub fn user_to_client(user: &User, base_url: &str) -> Value {
    let mut value = user.to_value();
    let mut schemas = vec![Value::String(scim_core::USER_SCHEMA.to_owned())];
    if user.enterprise.is_some() {
        schemas.push(Value::String(scim_core::ENTERPRISE_USER_SCHEMA.to_owned()));
    }
    finish(&mut value, ResourceKind::User, schemas, base_url);
    value
}

/// A group as the client gets it, with `members` when they were read (ids of users)
/// and without the attribute when they were not: the target's `[]` would be a lie.
pub fn group_to_client(group: &Group, members: Option<&[String]>, base_url: &str) -> Value {
    let mut value = group.to_value();
    if let Some(object) = value.as_object_mut() {
        object.shift_remove("members");
        if let Some(members) = members {
            object.insert("members".to_owned(), members_json(members, base_url));
        }
    }
    finish(
        &mut value,
        ResourceKind::Group,
        vec![Value::String(scim_core::GROUP_SCHEMA.to_owned())],
        base_url,
    );
    value
}

/// Member objects for user ids: `value`, `$ref` and `type`.
pub fn members_json(ids: &[String], base_url: &str) -> Value {
    Value::Array(
        ids.iter()
            .map(|id| json!({"value": id, "$ref": location(base_url, ResourceKind::User, id), "type": "User"}))
            .collect(),
    )
}

/// A user's `groups` (RFC 7643 §4.1.2) from the groups the target says they belong to.
pub fn groups_json(groups: &[Group], base_url: &str) -> Value {
    Value::Array(
        groups
            .iter()
            .filter_map(|g| {
                let id = g.id.as_deref()?;
                Some(json!({
                    "value": id,
                    "$ref": location(base_url, ResourceKind::Group, id),
                    "display": g.display_name,
                    "type": "direct"
                }))
            })
            .collect(),
    )
}

fn finish(value: &mut Value, kind: ResourceKind, schemas: Vec<Value>, base_url: &str) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    object.retain(|k, _| !k.eq_ignore_ascii_case("password"));
    let id = object.get("id").and_then(Value::as_str).map(str::to_owned);
    let known = object
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    if !known {
        object.insert("schemas".to_owned(), Value::Array(schemas));
    }
    let mut meta = match object.shift_remove("meta") {
        Some(Value::Object(meta)) => meta,
        _ => Map::new(),
    };
    meta.insert(
        "resourceType".to_owned(),
        Value::String(kind.resource_type().to_owned()),
    );
    match id {
        Some(id) => meta.insert(
            "location".to_owned(),
            Value::String(location(base_url, kind, &id)),
        ),
        None => meta.remove("location"),
    };
    object.insert("meta".to_owned(), Value::Object(meta));
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://gw.example.com/scim/v2/";

    #[test]
    fn a_user_gets_the_gateways_location_and_never_a_password() {
        // Arrange: as Identity Center might answer, with its own location.
        let user = User::from_value(json!({
            "id": "u-1", "userName": "a", "password": "x",
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                     "location": "https://scim.us-east-1.amazonaws.com/t/scim/v2/Users/u-1"}
        }))
        .unwrap();

        // Act
        let out = user_to_client(&user, BASE);

        // Assert
        assert_eq!(
            out["meta"]["location"],
            "https://gw.example.com/scim/v2/Users/u-1"
        );
        assert_eq!(out["meta"]["created"], "2024-01-01T00:00:00Z");
        assert_eq!(out["schemas"], json!([scim_core::USER_SCHEMA]));
        assert!(out.get("password").is_none());
    }

    #[test]
    fn a_group_gets_its_members_when_read_and_no_members_attribute_otherwise() {
        // Arrange
        let group =
            Group::from_value(json!({"id": "g-1", "displayName": "Eng", "members": []})).unwrap();

        // Act
        let with = group_to_client(&group, Some(&["u-1".to_owned()]), BASE);
        let without = group_to_client(&group, None, BASE);

        // Assert
        assert_eq!(
            with["members"],
            json!([{"value": "u-1", "$ref": "https://gw.example.com/scim/v2/Users/u-1", "type": "User"}])
        );
        assert!(without.get("members").is_none());
        assert_eq!(
            without["meta"],
            json!({"resourceType": "Group", "location": "https://gw.example.com/scim/v2/Groups/g-1"})
        );
        assert_eq!(without["schemas"], json!([scim_core::GROUP_SCHEMA]));
    }

    #[test]
    fn a_users_groups_are_listed_with_references_to_the_gateway() {
        let group = Group::from_value(json!({"id": "g-1", "displayName": "Eng"})).unwrap();
        assert_eq!(
            groups_json(&[group], BASE),
            json!([{"value": "g-1", "$ref": "https://gw.example.com/scim/v2/Groups/g-1", "display": "Eng", "type": "direct"}])
        );
    }
}
