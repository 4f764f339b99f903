//! The shape of Identity Center's ids, and what the client does with ids that do not
//! have it (`docs/identity-center-dialect.md` §7, "Ids").
//!
//! Identity Store ids match
//! `([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
//! (Identity Store API `DescribeUser`, `UserId`,
//! <https://docs.aws.amazon.com/singlesignon/latest/IdentityStoreAPIReference/API_DescribeUser.html>).
//! No user or group can have another id, so with [`super::TargetDialect::IdentityCenter`]
//! the client sends nothing for one:
//!
//! - reading, replacing, patching or deleting a resource by such an id is
//!   [`TargetError::NotFound`] at once;
//! - adding such a member (in a CreateGroup or a PatchGroup) is refused with 400
//!   `invalidValue`, which is what Identity Center answers for a member that is no
//!   user; a 404 would read as "the group does not exist";
//! - removing such a member is dropped from the request: it cannot be a member, and
//!   removing a non-member changes nothing (§5). A removal left with no member is
//!   dropped whole, since an empty removal list empties the group (§5).
//!
//! A plain RFC 7644 server may use any id, so [`super::TargetDialect::Rfc7644`] skips
//! all of this.

use gateway::TargetError;
use scim_core::ScimType;
use serde_json::Value;

/// Whether `id` has the shape of an Identity Store id (see the module docs).
pub(crate) fn is_identity_center_id(id: &str) -> bool {
    let uuid = match id.len() {
        36 => id,
        47 => match id.split_at_checked(11) {
            Some((prefix, uuid)) if hex_then_dash(prefix, 10) => uuid,
            _ => return false,
        },
        _ => return false,
    };
    let mut rest = uuid;
    for (i, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        let (part, after) = match rest.split_at_checked(len) {
            Some(split) => split,
            None => return false,
        };
        if !part.bytes().all(is_lower_hex) {
            return false;
        }
        rest = if i < 4 {
            match after.strip_prefix('-') {
                Some(after) => after,
                None => return false,
            }
        } else {
            after
        };
    }
    rest.is_empty()
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn hex_then_dash(text: &str, digits: usize) -> bool {
    text.len() == digits + 1 && text.ends_with('-') && text.bytes().take(digits).all(is_lower_hex)
}

/// `NotFound` for an id no Identity Center resource can have.
pub(crate) fn check_resource_id(id: &str) -> Result<(), TargetError> {
    if is_identity_center_id(id) {
        Ok(())
    } else {
        tracing::debug!("an id not shaped like Identity Center's was answered 404 locally");
        Err(TargetError::NotFound)
    }
}

/// The refusal of a member id no Identity Center user can have.
fn not_a_user() -> TargetError {
    TargetError::Rejected {
        status: 400,
        scim_type: Some(ScimType::InvalidValue),
        detail: "a member id is not shaped like an Identity Center user id, so no such user \
                 exists; nothing was sent"
            .to_owned(),
    }
}

/// Whether a PATCH operation is about `members`, ignoring case and a schema prefix.
fn is_members_op(operation: &Value) -> bool {
    operation
        .get("path")
        .and_then(Value::as_str)
        .is_some_and(|path| {
            let name = path.rsplit(':').next().unwrap_or(path);
            name.eq_ignore_ascii_case("members")
        })
}

fn member_value(member: &Value) -> Option<&str> {
    member.get("value").and_then(Value::as_str)
}

/// Checks the members a CreateGroup body carries (see the module docs).
pub(crate) fn check_group_body(body: &Value) -> Result<(), TargetError> {
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if members
        .iter()
        .any(|m| !member_value(m).is_some_and(is_identity_center_id))
    {
        return Err(not_a_user());
    }
    Ok(())
}

/// PatchGroup bodies with their member ids checked (see the module docs): an addition of
/// an id no user can have is refused; removals of such ids are dropped, then removals
/// left empty, then bodies left with no operation.
pub(crate) fn guard_member_bodies(bodies: Vec<Value>) -> Result<Vec<Value>, TargetError> {
    let mut kept = Vec::with_capacity(bodies.len());
    for mut body in bodies {
        let Some(operations) = body.get_mut("Operations").and_then(Value::as_array_mut) else {
            kept.push(body);
            continue;
        };
        let mut guarded = Vec::with_capacity(operations.len());
        for mut operation in std::mem::take(operations) {
            let op = operation
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !is_members_op(&operation) {
                guarded.push(operation);
                continue;
            }
            let Some(members) = operation.get_mut("value").and_then(Value::as_array_mut) else {
                // A removal without a list empties the group: never sent from here.
                if op == "remove" {
                    continue;
                }
                guarded.push(operation);
                continue;
            };
            if op == "remove" {
                members.retain(|m| member_value(m).is_some_and(is_identity_center_id));
                if members.is_empty() {
                    continue;
                }
            } else if members
                .iter()
                .any(|m| !member_value(m).is_some_and(is_identity_center_id))
            {
                return Err(not_a_user());
            }
            guarded.push(operation);
        }
        if guarded.is_empty() {
            continue;
        }
        *operations = guarded;
        kept.push(body);
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const UUID: &str = "ee533c18-538a-4cd3-a572-63fb863ed734";
    const PREFIXED: &str = "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed734";

    fn body(operations: Value) -> Value {
        json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations})
    }

    #[test]
    fn identity_store_ids_with_and_without_the_ten_digit_prefix_have_the_shape() {
        assert!(is_identity_center_id(UUID));
        assert!(is_identity_center_id(PREFIXED));
    }

    #[test]
    fn anything_else_does_not_have_the_shape() {
        for id in [
            "",
            "x",
            "anyone",
            "u-1",
            &UUID.to_uppercase(),
            &PREFIXED[1..],
            &format!("{PREFIXED}0"),
            "9067729b3d_ee533c18-538a-4cd3-a572-63fb863ed734",
            "9067729b3dxee533c18-538a-4cd3-a572-63fb863ed734",
            "ee533c18-538a-4cd3-a572_63fb863ed734",
            "ee533c18-538a-4cd3-a572-63fb863ed73g",
            "ee533c18a538a-4cd3-a572-63fb863ed734",
            "9067729b3d-ee533c18-538a-4cd3-a572-63fb863ed7é",
        ] {
            assert!(!is_identity_center_id(id), "{id:?}");
        }
    }

    #[test]
    fn a_malformed_id_is_not_found() {
        assert!(matches!(
            check_resource_id("../Users"),
            Err(TargetError::NotFound)
        ));
        assert!(check_resource_id(PREFIXED).is_ok());
    }

    #[test]
    fn adding_a_member_no_user_can_be_is_refused_as_an_invalid_value() {
        // Arrange
        let bodies = vec![body(json!([
            {"op": "add", "path": "members", "value": [{"value": PREFIXED}, {"value": "u-1"}]}
        ]))];

        // Act
        let result = guard_member_bodies(bodies);

        // Assert
        assert!(
            matches!(
                result,
                Err(TargetError::Rejected {
                    status: 400,
                    scim_type: Some(ScimType::InvalidValue),
                    ..
                })
            ),
            "{result:?}"
        );
    }

    #[test]
    fn removing_members_no_user_can_be_drops_them_and_never_leaves_an_empty_removal() {
        // Arrange
        let bodies = vec![
            body(json!([
                {"op": "replace", "path": "displayName", "value": "G"},
                {"op": "remove", "path": "members", "value": [{"value": "u-1"}]}
            ])),
            body(json!([
                {"op": "remove", "path": "members", "value": [{"value": "x"}, {"value": UUID}]}
            ])),
            body(json!([{"op": "Remove", "path": "members", "value": [{"value": "y"}]}])),
        ];

        // Act
        let guarded = guard_member_bodies(bodies).unwrap();

        // Assert
        assert_eq!(
            guarded,
            vec![
                body(json!([{"op": "replace", "path": "displayName", "value": "G"}])),
                body(json!([{"op": "remove", "path": "members", "value": [{"value": UUID}]}])),
            ]
        );
    }

    #[test]
    fn a_create_group_body_with_a_malformed_member_is_refused() {
        assert!(
            check_group_body(&json!({"displayName": "G", "members": [{"value": UUID}]})).is_ok()
        );
        assert!(check_group_body(&json!({"displayName": "G"})).is_ok());
        assert!(
            check_group_body(&json!({"displayName": "G", "members": [{"value": "u"}]})).is_err()
        );
    }
}
