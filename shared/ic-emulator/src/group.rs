//! The Group resource as Identity Center accepts it (AWS-DG creategroup, patchgroup,
//! limitations; `docs/identity-center-dialect.md` §5): CreateGroup bodies and PatchGroup plans.
//!
//! Members are user ids only: no source documents nested groups
//! (`docs/identity-center-dialect.md` §6), so a member must be an existing user. A member
//! object may carry `value`, `type` and `$ref` but not `display` (AWS-DG limitations:
//! members "Yes, but cannot be read in a response", `display` no).

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::patch::{OpKind, PatchOp};
use crate::user::{canon, check_string_length, is_reserved_name};
use scim_core::{CompValue, CompareOp, Filter};

/// At most this many members in CreateGroup, and membership changes in one PatchGroup
/// (AWS-DG creategroup, patchgroup).
pub(crate) const MAX_MEMBERSHIP_CHANGES: usize = 100;

/// A validated CreateGroup body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewGroup {
    pub(crate) display_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) members: Vec<String>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::validation(detail)
}

/// Validates a CreateGroup body: `displayName` required, at most 100 members.
pub(crate) fn parse_new_group(input: &Map<String, Value>) -> Result<NewGroup, ApiError> {
    let mut group = NewGroup {
        display_name: String::new(),
        external_id: None,
        members: Vec::new(),
    };
    for (key, value) in input {
        if value.is_null()
            || ["schemas", "id", "meta"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        match canon(&["displayName", "externalId", "members"], key) {
            Some("displayName") => group.display_name = display_name(value)?,
            Some("externalId") => group.external_id = Some(external_id(value)?),
            Some(_) => group.members = member_list(value)?,
            None => return Err(invalid(format!("the {key} attribute is not supported"))),
        }
    }
    if group.display_name.is_empty() {
        return Err(invalid("displayName is required"));
    }
    if group.members.len() > MAX_MEMBERSHIP_CHANGES {
        return Err(invalid(
            "a maximum of 100 members can be added in a single request",
        ));
    }
    Ok(group)
}

/// A group `displayName`: a string of 1–1024 characters, not blank, and not a reserved
/// name (Identity Store API `CreateGroup` `DisplayName`; `docs/identity-center-dialect.md` §7).
fn display_name(value: &Value) -> Result<String, ApiError> {
    let name = value
        .as_str()
        .ok_or_else(|| invalid("displayName must be a non-empty string"))?;
    check_string_length(name)?;
    if name.trim().is_empty() {
        return Err(invalid("displayName must be a non-empty string"));
    }
    if is_reserved_name(name) {
        return Err(invalid("displayName is reserved"));
    }
    Ok(name.to_owned())
}

/// A group `externalId`: a string of 1–1024 characters.
fn external_id(value: &Value) -> Result<String, ApiError> {
    let id = value
        .as_str()
        .ok_or_else(|| invalid("externalId must be a string"))?;
    check_string_length(id)?;
    Ok(id.to_owned())
}

/// A list of member objects (a single object is taken as a list of one), as user ids.
fn member_list(value: &Value) -> Result<Vec<String>, ApiError> {
    let values = match value {
        Value::Array(values) => values.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        _ => return Err(invalid("members must be a list of objects")),
    };
    values.iter().map(member).collect()
}

fn member(value: &Value) -> Result<String, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("a member must be an object"))?;
    let mut id = None;
    for (key, v) in object {
        match canon(&["value", "type", "$ref", "display"], key) {
            Some("value") => id = v.as_str().filter(|s| !s.is_empty()),
            Some("display") => {
                return Err(invalid(
                    "the display sub-attribute of members is not supported",
                ));
            }
            Some(_) if v.is_string() || v.is_null() => {}
            _ => return Err(invalid(format!("members.{key} is not supported"))),
        }
    }
    id.map(str::to_owned)
        .ok_or_else(|| invalid("a member needs a non-empty value"))
}

/// One membership change, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberChange {
    Add(String),
    Remove(String),
}

/// What a PatchGroup request asks for, validated but not yet applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GroupPlan {
    pub(crate) display_name: Option<String>,
    /// `Some(None)` removes the externalId.
    pub(crate) external_id: Option<Option<String>>,
    pub(crate) members: Vec<MemberChange>,
}

/// Validates PatchGroup operations.
///
/// AWS-DG patchgroup and limitations: only `displayName`, `members` and `externalId`;
/// at most 100 membership changes per request; no `replace` of members and no removal of
/// all members (a `remove` of `members` without a value or with an empty list), both 400.
/// A `remove` with the path `members[value eq "<id>"]` is accepted and removes that one
/// member: AWS documents only the value-list form, and whether it takes the RFC form is
/// not yet confirmed against a live tenant (`docs/identity-center-dialect.md` §5); the
/// emulator takes the RFC form as well so that the gateway may pass Okta's through.
pub(crate) fn plan_group_patch(ops: &[PatchOp]) -> Result<GroupPlan, ApiError> {
    let mut plan = GroupPlan::default();
    for op in ops {
        match &op.path {
            None => {
                let object = op
                    .value
                    .as_ref()
                    .and_then(Value::as_object)
                    .ok_or_else(|| invalid("an operation without a path needs an object value"))?;
                for (key, value) in object {
                    plan_one(&mut plan, op.op, key, None, Some(value))?;
                }
            }
            Some(path) => {
                if path.extension || path.sub.is_some() {
                    return Err(invalid(
                        "only displayName, members and externalId can be patched",
                    ));
                }
                let attr = path.attr.as_deref().unwrap_or_default();
                plan_one(
                    &mut plan,
                    op.op,
                    attr,
                    path.filter.as_ref(),
                    op.value.as_ref(),
                )?;
            }
        }
    }
    if plan.members.len() > MAX_MEMBERSHIP_CHANGES {
        return Err(invalid(
            "at most 100 membership changes are allowed in a single request",
        ));
    }
    Ok(plan)
}

fn plan_one(
    plan: &mut GroupPlan,
    op: OpKind,
    attr: &str,
    filter: Option<&Filter>,
    value: Option<&Value>,
) -> Result<(), ApiError> {
    let attr = canon(&["displayName", "members", "externalId"], attr)
        .ok_or_else(|| invalid("only displayName, members and externalId can be patched"))?;
    if filter.is_some() && !(attr == "members" && op == OpKind::Remove) {
        return Err(invalid(
            "a value filter is only supported to remove members",
        ));
    }
    match (attr, op, value) {
        ("displayName", OpKind::Remove, _) => Err(invalid("displayName is required")),
        ("displayName", _, Some(v)) => {
            plan.display_name = Some(display_name(v)?);
            Ok(())
        }
        ("externalId", OpKind::Remove, _) => {
            plan.external_id = Some(None);
            Ok(())
        }
        ("externalId", _, Some(v)) => {
            plan.external_id = Some(Some(external_id(v)?));
            Ok(())
        }
        ("members", OpKind::Replace, _) => Err(invalid(
            "PatchGroup does not support the replace operation on members",
        )),
        ("members", OpKind::Add, Some(v)) => {
            plan.members
                .extend(member_list(v)?.into_iter().map(MemberChange::Add));
            Ok(())
        }
        ("members", OpKind::Remove, _) if filter.is_some() => {
            let id = filter.and_then(member_id_of).ok_or_else(|| {
                invalid("the members filter must be of the form value eq \"<user id>\"")
            })?;
            plan.members.push(MemberChange::Remove(id));
            Ok(())
        }
        ("members", OpKind::Remove, value) => {
            let ids = match value {
                Some(v) => member_list(v)?,
                None => Vec::new(),
            };
            if ids.is_empty() {
                return Err(invalid("PatchGroup does not support removing all members"));
            }
            plan.members
                .extend(ids.into_iter().map(MemberChange::Remove));
            Ok(())
        }
        _ => Err(invalid("a value is required for add and replace")),
    }
}

/// The user id of `value eq "<id>"`.
fn member_id_of(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.name.eq_ignore_ascii_case("value") && path.sub_attr.is_none() => Some(id.clone()),
        _ => None,
    }
}

/// Whether two group display names collide (compared without regard to case).
pub(crate) fn same_display_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::parse_patch;
    use serde_json::json;

    fn plan(body: Value) -> Result<GroupPlan, ApiError> {
        plan_group_patch(&parse_patch(&body)?)
    }

    #[test]
    fn create_group_requires_display_name() {
        // AWS-DG creategroup: "displayName is required."
        assert!(parse_new_group(json!({"externalId":"x"}).as_object().unwrap()).is_err());
    }

    #[test]
    fn create_group_refuses_more_than_100_members() {
        // AWS-DG creategroup: "A maximum of 100 members can be added in a single request."
        let members: Vec<Value> = (0..101)
            .map(|i| json!({"value": format!("u{i}")}))
            .collect();
        let body = json!({"displayName":"g","members":members});
        assert!(parse_new_group(body.as_object().unwrap()).is_err());
    }

    #[test]
    fn member_display_is_refused() {
        // AWS-DG limitations: group members' display is not supported.
        let body = json!({"displayName":"g","members":[{"value":"u1","display":"U"}]});
        assert!(parse_new_group(body.as_object().unwrap()).is_err());
    }

    #[test]
    fn patch_group_plans_add_and_remove_in_order() {
        let p = plan(json!({"Operations":[
            {"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]},
            {"op":"remove","path":"members","value":[{"value":"u1"}]}
        ]}))
        .unwrap();
        assert_eq!(
            p.members,
            vec![
                MemberChange::Add("u1".into()),
                MemberChange::Add("u2".into()),
                MemberChange::Remove("u1".into())
            ]
        );
    }

    #[test]
    fn patch_group_rejects_okta_rename_value_with_id() {
        // OKTA-SCIM20 sends {"op":"replace","value":{"id":…,"displayName":…}}; AWS-DG
        // patchgroup allows only displayName, members and externalId.
        let body = json!({"Operations":[{"op":"replace","value":{"id":"g1","displayName":"New"}}]});
        assert!(plan(body).is_err());
    }

    #[test]
    fn reserved_names_are_refused_as_group_display_names() {
        // Identity Store API CreateGroup DisplayName: "Administrator and AWSAdministrators
        // are reserved names and can't be used for users or groups."
        for reserved in ["Administrator", "awsadministrators"] {
            let body = json!({"displayName": reserved});
            assert!(
                parse_new_group(body.as_object().unwrap()).is_err(),
                "{reserved}"
            );
            let rename =
                json!({"Operations":[{"op":"replace","path":"displayName","value":reserved}]});
            assert!(plan(rename).is_err(), "{reserved}");
        }
        assert!(
            parse_new_group(json!({"displayName":"Administrators"}).as_object().unwrap()).is_ok()
        );
    }

    #[test]
    fn patch_group_rejects_remove_of_display_name() {
        assert!(plan(json!({"Operations":[{"op":"remove","path":"displayName"}]})).is_err());
    }
}
