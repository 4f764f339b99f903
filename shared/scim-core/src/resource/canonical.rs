//! Case-insensitive attribute names (RFC 7643 §2.1), in one place: the keys of an
//! incoming JSON resource are rewritten to their canonical spelling before the derived
//! deserializers see them, so `USERNAME`, `Emails`, `name.GivenName` and the enterprise
//! URN in any case all land in the typed fields, and output is always canonical.
//!
//! Unknown keys keep their spelling: the crate passes them through, it does not own them.

use serde_json::{Map, Value};

use crate::ResourceKind;
use crate::discovery::standard::{self, AttributeDef, SchemaDef};

/// Canonicalizes a whole resource of `kind`: `schemas`, the common and core attributes,
/// the standard extensions' URN keys and, recursively, their sub-attributes.
pub(crate) fn resource(value: Value, kind: ResourceKind) -> Result<Value, String> {
    let Value::Object(object) = value else {
        return Err(format!("a {} must be a JSON object", kind.resource_type()));
    };
    let mut out = Map::with_capacity(object.len());
    for (key, value) in object {
        let (key, value) = if key.eq_ignore_ascii_case("schemas") {
            ("schemas".to_owned(), value)
        } else if let Some((def, _)) = kind.attribute(None, &key) {
            (def.name.to_owned(), attribute_value(value, def))
        } else if let Some(extension) = kind.extension(&key) {
            (extension.id.to_owned(), extension_value(value, extension))
        } else {
            (key, value)
        };
        insert_once(&mut out, key, value)?;
    }
    Ok(Value::Object(out))
}

/// Canonicalizes the object of one standard extension, e.g. the enterprise User.
pub(crate) fn extension_value(value: Value, extension: &SchemaDef) -> Value {
    match value {
        Value::Object(object) => Value::Object(attributes(object, extension.attributes)),
        other => other,
    }
}

/// Canonicalizes the value of one attribute: sub-attribute keys of a complex value, or
/// of each complex element of a multi-valued one.
pub(crate) fn attribute_value(value: Value, def: &AttributeDef) -> Value {
    if !def.is_complex() {
        return value;
    }
    match value {
        Value::Object(object) => Value::Object(attributes(object, def.sub_attributes)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(object) => Value::Object(attributes(object, def.sub_attributes)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn attributes(object: Map<String, Value>, defs: &'static [AttributeDef]) -> Map<String, Value> {
    let mut out = Map::with_capacity(object.len());
    for (key, value) in object {
        match standard::find(defs, &key) {
            // A sub-object with the same name twice in different case: the later one wins,
            // as it would in most JSON readers; only the top level refuses duplicates.
            Some(def) => out.insert(def.name.to_owned(), attribute_value(value, def)),
            None => out.insert(key, value),
        };
    }
    out
}

fn insert_once(out: &mut Map<String, Value>, key: String, value: Value) -> Result<(), String> {
    if out.contains_key(&key) {
        return Err(format!(
            "attribute `{key}` is given more than once, in different case"
        ));
    }
    out.insert(key, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_names_in_any_case_become_canonical_and_unknown_names_keep_their_case() {
        // Arrange
        let input = json!({
            "SCHEMAS": [crate::USER_SCHEMA],
            "USERNAME": "bjensen",
            "Name": {"GivenName": "Barbara", "NickNameOfName": "x"},
            "Emails": [{"VALUE": "b@example.com", "Primary": true}],
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {
                "EmployeeNumber": "1",
                "Manager": {"Value": "m", "$REF": "../Users/m"}
            },
            "CustomThing": 1
        });

        // Act
        let output = resource(input, ResourceKind::User).unwrap();

        // Assert
        assert_eq!(
            output,
            json!({
                "schemas": [crate::USER_SCHEMA],
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "NickNameOfName": "x"},
                "emails": [{"value": "b@example.com", "primary": true}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "1",
                    "manager": {"value": "m", "$ref": "../Users/m"}
                },
                "CustomThing": 1
            })
        );
    }

    #[test]
    fn the_same_attribute_twice_in_different_case_is_refused() {
        // Act
        let result = resource(
            json!({"userName": "a", "USERNAME": "b"}),
            ResourceKind::User,
        );

        // Assert
        assert!(result.unwrap_err().contains("userName"));
    }

    #[test]
    fn group_members_are_canonicalized_but_user_attributes_are_not_known_on_a_group() {
        // Act
        let output = resource(
            json!({"DisplayName": "g", "MEMBERS": [{"Value": "u", "Display": "U"}], "UserName": "x"}),
            ResourceKind::Group,
        )
        .unwrap();

        // Assert
        assert_eq!(
            output,
            json!({"displayName": "g", "members": [{"value": "u", "display": "U"}], "UserName": "x"})
        );
    }
}
