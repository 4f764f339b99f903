//! The `schemas` rule every request body is held to (RFC 7643 §3: each URN in `schemas`
//! must be one the representation supports): a resource carries its core schema and
//! may add only its known extensions, a PATCH carries the PatchOp URN alone (RFC 7644
//! §3.5.2). The parsers ([`crate::Resource::from_value`], [`crate::PatchOp::parse`])
//! check it before anything else, so a resource of the wrong kind or an unknown
//! extension is refused as such, whatever else is wrong with the body.

use serde_json::Value;

use crate::ScimError;

/// How many characters of an unknown URN an error echoes.
const MAX_SHOWN: usize = 100;

/// Refuses `body` when its `schemas` (named in any case) names a URN that `known` does
/// not accept, or lacks `required` (compared case-insensitively): `invalidValue`. A
/// missing or wrongly typed `schemas`, and elements that are not strings, are left to
/// the parser, which owns those errors.
pub(crate) fn check(
    body: &Value,
    required: &str,
    known: impl Fn(&str) -> bool,
) -> Result<(), ScimError> {
    let Some(Value::Array(urns)) = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")))
        .map(|(_, v)| v)
    else {
        return Ok(());
    };
    let urns: Vec<&str> = urns.iter().filter_map(Value::as_str).collect();
    if let Some(unknown) = urns.iter().find(|urn| !known(urn)) {
        // The URN is the client's own input, but cap it: it is echoed in the detail.
        let shown: String = unknown.chars().take(MAX_SHOWN).collect();
        return Err(ScimError::invalid_value(format!(
            "`schemas` names `{shown}`, which this endpoint does not serve"
        )));
    }
    if !urns.iter().any(|urn| urn.eq_ignore_ascii_case(required)) {
        return Err(ScimError::invalid_value(format!(
            "`schemas` must include `{required}`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{
        ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, PatchOp, ResourceKind, ScimError,
        ScimType, USER_SCHEMA,
    };

    /// The check a body sent to `kind`'s endpoint gets, as a resource or as a PATCH.
    fn check_schemas(
        kind: ResourceKind,
        patch: bool,
        body: &serde_json::Value,
    ) -> Result<(), ScimError> {
        if patch {
            PatchOp::check_schemas(body)
        } else {
            kind.check_schemas(body)
        }
    }

    #[test]
    fn schemas_must_be_the_endpoints_own() {
        let ok = [
            (ResourceKind::User, false, json!({"schemas": [USER_SCHEMA]})),
            (
                ResourceKind::User,
                false,
                json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]}),
            ),
            (
                ResourceKind::User,
                false,
                json!({"Schemas": ["URN:ietf:params:scim:schemas:core:2.0:User"]}),
            ),
            (
                ResourceKind::Group,
                false,
                json!({"displayName": "no schemas: left to the parser"}),
            ),
            (
                ResourceKind::Group,
                true,
                json!({"schemas": [PATCH_OP_SCHEMA]}),
            ),
        ];
        for (kind, patch, body) in ok {
            assert!(check_schemas(kind, patch, &body).is_ok(), "{body}");
        }
        let refused = [
            (
                ResourceKind::User,
                false,
                json!({"schemas": ["urn:example:evil"]}),
            ),
            (
                ResourceKind::User,
                false,
                json!({"schemas": [USER_SCHEMA, "urn:example:evil"]}),
            ),
            (
                ResourceKind::User,
                false,
                json!({"schemas": [ENTERPRISE_USER_SCHEMA]}),
            ),
            (
                ResourceKind::Group,
                false,
                json!({"schemas": [USER_SCHEMA]}),
            ),
            (ResourceKind::User, true, json!({"schemas": [USER_SCHEMA]})),
            (ResourceKind::Group, true, json!({"schemas": []})),
        ];
        for (kind, patch, body) in refused {
            let error = check_schemas(kind, patch, &body).unwrap_err();
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{body}");
        }
    }

    #[test]
    fn the_details_name_the_unknown_urn_capped_or_the_missing_one() {
        // Arrange
        let long = format!("urn:{}", "x".repeat(200));

        // Act
        let unknown = ResourceKind::Group
            .check_schemas(&json!({"schemas": [GROUP_SCHEMA, long]}))
            .unwrap_err();
        let missing = PatchOp::check_schemas(&json!({"schemas": []})).unwrap_err();

        // Assert
        let shown: String = long.chars().take(100).collect();
        assert_eq!(
            unknown.detail,
            format!("`schemas` names `{shown}`, which this endpoint does not serve")
        );
        assert_eq!(
            missing.detail,
            format!("`schemas` must include `{PATCH_OP_SCHEMA}`")
        );
    }

    #[test]
    fn a_wrongly_typed_schemas_is_left_to_the_parser() {
        for body in [
            json!({"schemas": USER_SCHEMA}),
            json!({"schemas": null}),
            json!({"schemas": [USER_SCHEMA, 1]}),
            json!("not an object"),
        ] {
            assert!(ResourceKind::User.check_schemas(&body).is_ok(), "{body}");
        }
    }
}
