//! Groups as Identity Center accepts them (`docs/identity-center-dialect.md` §5; Okta's
//! side in `docs/okta-client.md` §5): bodies without `members[].display`, and every
//! membership change (PATCH or PUT) expressed as a [`GroupPlan`] of a rename plus member
//! additions and removals, because Identity Center has no group PUT, no `replace` of
//! members and no "remove all".
//!
//! - Okta's rename `{"op":"replace","value":{"id":"<id>","displayName":"…"}}`: the
//!   group's own `id` is dropped, a different one is 400 `mutability`.
//! - `replace` of `members` (and `remove` of `members` without a value, "remove all")
//!   becomes the difference against the current members, so the plan needs them
//!   ([`GroupPatchIntent::needs_current_members`]); the service reads them with
//!   `ListUsers?filter=groups.value eq`.
//! - `remove` with `members[value eq "x"]` (also `or`-joined) removes those ids; a
//!   `remove` with a value list (Azure's and Identity Center's form) likewise.
//! - Operations apply in order (RFC 7644 §3.5.2): the last word on a member wins.
//! - A member must be a user: `type` other than `User`, or a `$ref` to `/Groups/`, is
//!   400 `invalidValue` (Identity Center has no nested groups,
//!   `docs/identity-center-dialect.md` §6).
//! - Values (`docs/identity-center-dialect.md` §7, [`super::value`]): `displayName` is
//!   required, at most 1024 characters, and not `Administrator` or `AWSAdministrators`
//!   (400 `invalidValue` on create, PUT and rename). A blank `externalId` is dropped
//!   from a body, and a PATCH that sets it to `""` removes it. A member whose `value`
//!   is blank is refused rather than dropped: a `replace` of members that lost it would
//!   become "remove everyone", which is what `[{"value": ""}]` did at Identity Center
//!   (lichti report, §5).
//! - A group PUT (RFC 7644 §3.5.1) becomes the same plan. An omitted `members` or
//!   `externalId` is "not asserted" (§3.5.1 lets the server choose) and stays as it
//!   is: clearing every member of a group because a client left the attribute out
//!   would revoke access in bulk. `"members": []` does clear the group.
//!
//! The service executes a plan as: the attribute patch, then removals, then additions,
//! so that a partial failure leaves less access rather than more.

use std::collections::{HashMap, HashSet};

use scim_core::filter::{CompValue, CompareOp, Filter};
use scim_core::{
    GROUP_SCHEMA, Group, Member, PatchOp, PatchOpKind, PatchOperation, PatchPath, ResourceId,
    ScimError,
};
use serde_json::Value;

use super::user::required;
use super::value::{check_length, check_not_reserved, is_blank, optional};
use super::{canonical, same};

/// What the target is asked to do to one group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPlan {
    /// Changes to `displayName` and `externalId`, one PATCH; `None` when they stay.
    pub attributes: Option<PatchOp>,
    /// User ids to add, in request order; the client sends them in chunks of 100.
    pub add: Vec<String>,
    /// User ids to remove, in request order, chunked likewise.
    pub remove: Vec<String>,
}

impl GroupPlan {
    /// Whether the plan asks for nothing.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_none() && self.add.is_empty() && self.remove.is_empty()
    }

    /// The members after the plan, given those before: `current` without the removed,
    /// then the added ones that were not members yet.
    pub fn members_after(&self, current: &[String]) -> Vec<String> {
        let removed: HashSet<&String> = self.remove.iter().collect();
        let mut seen: HashSet<&String> = HashSet::new();
        let mut members = Vec::with_capacity(current.len() + self.add.len());
        for id in current
            .iter()
            .filter(|id| !removed.contains(id))
            .chain(&self.add)
        {
            if seen.insert(id) {
                members.push(id.clone());
            }
        }
        members
    }
}

/// A group body (create or PUT) split into what the target takes in the body and the
/// member ids, which go through membership calls.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundGroup {
    /// The group without `id`, `meta` and `members`; `schemas` is the core Group URN.
    pub group: Group,
    /// The members' user ids, deduplicated; `None` when the body had no `members`.
    pub members: Option<Vec<String>>,
}

/// The group as the target accepts it (see the module docs).
pub fn outbound_group(mut group: Group) -> Result<OutboundGroup, ScimError> {
    if let Some(key) = group.extra.keys().next() {
        return Err(super::user::unsupported(key));
    }
    check_display_name(&group.display_name)?;
    // A blank externalId in a PUT is as if omitted: not asserted, so it stays.
    group.external_id = optional("externalId", group.external_id.take())?;
    let members = group
        .members
        .take()
        .map(|members| member_ids(&members))
        .transpose()?;
    group.id = None;
    group.meta = None;
    group.schemas = vec![GROUP_SCHEMA.to_owned()];
    Ok(OutboundGroup { group, members })
}

/// Checks a group's `displayName` for the target's rules (see the module docs).
fn check_display_name(display_name: &str) -> Result<(), ScimError> {
    if is_blank(display_name) {
        return Err(required("displayName"));
    }
    check_length("displayName", display_name)?;
    check_not_reserved("displayName", display_name)
}

/// The user ids of `members`, validated and deduplicated in order.
pub fn member_ids(members: &[Member]) -> Result<Vec<String>, ScimError> {
    let mut ids: Vec<String> = Vec::with_capacity(members.len());
    // Sets, not `Vec::contains`: a hostile body may list tens of thousands of members.
    let mut seen: HashSet<&str> = HashSet::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        let not_a_user = || {
            ScimError::invalid_value(format!(
                "members[{index}] is not a user; the target accepts only users as group members"
            ))
        };
        if member
            .member_type
            .as_deref()
            .is_some_and(|t| !same(t, "User"))
        {
            return Err(not_a_user());
        }
        if member
            .reference
            .as_deref()
            .is_some_and(|r| r.to_ascii_lowercase().contains("/groups/"))
        {
            return Err(not_a_user());
        }
        if let Some(key) = member.extra.keys().next() {
            return Err(super::user::unsupported(&format!("members.{key}")));
        }
        if !ResourceId::is_valid(&member.value) {
            return Err(ScimError::invalid_value(format!(
                "members[{index}].value is not a valid user id"
            )));
        }
        if seen.insert(&member.value) {
            ids.push(member.value.clone());
        }
    }
    Ok(ids)
}

/// Member ids from a JSON `members` value: a list of member objects, or one object.
pub fn member_ids_json(value: &Value) -> Result<Vec<String>, ScimError> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![value.clone()],
        _ => {
            return Err(ScimError::invalid_value(
                "`members` must be a list of objects",
            ));
        }
    };
    let members: Vec<Member> = serde_json::from_value(Value::Array(items)).map_err(|_| {
        ScimError::invalid_value("`members` must be a list of objects, each with a string `value`")
    })?;
    member_ids(&members)
}

/// A group PATCH read and validated, before the current members are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupPatchIntent {
    display_name: Option<String>,
    /// `Some(None)` removes the externalId.
    external_id: Option<Option<String>>,
    /// The member set a `replace` (or remove-all) asked for; later changes apply on top.
    baseline: Option<Vec<String>>,
    /// Member changes after the last baseline, in order: (id, true for add).
    changes: Vec<(String, bool)>,
}

impl GroupPatchIntent {
    /// Whether the plan needs the group's current members: for a `replace` of members
    /// or a removal of all of them.
    pub fn needs_current_members(&self) -> bool {
        self.baseline.is_some()
    }

    /// The plan, given the current members. They are required when
    /// [`GroupPatchIntent::needs_current_members`]; otherwise, when given, they turn
    /// additions of members and removals of non-members into nothing.
    pub fn plan(self, current: Option<&[String]>) -> Result<GroupPlan, ScimError> {
        let attributes = attribute_patch(self.display_name, self.external_id);
        let (add, remove) = match (self.baseline, current) {
            (Some(baseline), Some(current)) => {
                let desired = apply_changes(baseline, &self.changes);
                membership_diff(current, &desired)
            }
            (Some(_), None) => {
                return Err(ScimError::internal(
                    "a replace of members was planned without the current members",
                ));
            }
            (None, current) => {
                let current: Option<HashSet<&String>> = current.map(|c| c.iter().collect());
                let mut add = Vec::new();
                let mut remove = Vec::new();
                for (id, is_add) in last_word_per_member(&self.changes) {
                    let member = current.as_ref().map(|c| c.contains(&id));
                    match (is_add, member) {
                        (true, Some(true)) | (false, Some(false)) => {}
                        (true, _) => add.push(id),
                        (false, _) => remove.push(id),
                    }
                }
                (add, remove)
            }
        };
        Ok(GroupPlan {
            attributes,
            add,
            remove,
        })
    }
}

/// `baseline` with `changes` applied in order. Applying them one by one leaves each
/// member as its last change says, so that is computed directly.
fn apply_changes(baseline: Vec<String>, changes: &[(String, bool)]) -> Vec<String> {
    let last = last_word_per_member(changes);
    let verdict: HashMap<&String, bool> = last.iter().map(|(id, is_add)| (id, *is_add)).collect();
    let in_baseline: HashSet<&String> = baseline.iter().collect();
    let added: Vec<String> = last
        .iter()
        .filter(|(id, is_add)| *is_add && !in_baseline.contains(id))
        .map(|(id, _)| id.clone())
        .collect();
    let mut desired: Vec<String> = baseline
        .iter()
        .filter(|id| verdict.get(id).copied().unwrap_or(true))
        .cloned()
        .collect();
    desired.extend(added);
    desired
}

/// Each member's last change, in the order members were first mentioned.
fn last_word_per_member(changes: &[(String, bool)]) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut index: HashMap<&String, usize> = HashMap::new();
    for (id, is_add) in changes {
        match index.get(id) {
            Some(&i) => {
                if let Some(entry) = out.get_mut(i) {
                    entry.1 = *is_add;
                }
            }
            None => {
                index.insert(id, out.len());
                out.push((id.clone(), *is_add));
            }
        }
    }
    out
}

/// What to add and remove to go from `current` to `desired` members.
pub fn membership_diff(current: &[String], desired: &[String]) -> (Vec<String>, Vec<String>) {
    let current_set: HashSet<&String> = current.iter().collect();
    let desired_set: HashSet<&String> = desired.iter().collect();
    let add = desired
        .iter()
        .filter(|id| !current_set.contains(id))
        .cloned()
        .collect();
    let remove = current
        .iter()
        .filter(|id| !desired_set.contains(id))
        .cloned()
        .collect();
    (add, remove)
}

fn attribute_patch(
    display_name: Option<String>,
    external_id: Option<Option<String>>,
) -> Option<PatchOp> {
    let mut ops = Vec::new();
    let path = |name: &str| {
        Some(PatchPath {
            attr: scim_core::AttrPath::simple(name),
            filter: None,
            sub_attr: None,
        })
    };
    if let Some(name) = display_name {
        ops.push(PatchOperation {
            op: PatchOpKind::Replace,
            path: path("displayName"),
            value: Some(Value::String(name)),
        });
    }
    match external_id {
        Some(Some(id)) => {
            ops.push(PatchOperation {
                op: PatchOpKind::Replace,
                path: path("externalId"),
                value: Some(Value::String(id)),
            });
        }
        Some(None) => ops.push(PatchOperation {
            op: PatchOpKind::Remove,
            path: path("externalId"),
            value: None,
        }),
        None => {}
    }
    (!ops.is_empty()).then(|| PatchOp::new(ops))
}

fn unsupported_path(path: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "attribute `{path}` is not supported by the target for groups"
    ))
}

/// Reads a group PATCH into an intent (see the module docs). `group_id` is the group's
/// own id, which a rename value may repeat.
pub fn group_patch_intent(patch: &PatchOp, group_id: &str) -> Result<GroupPatchIntent, ScimError> {
    let mut intent = GroupPatchIntent::default();
    for (index, operation) in patch.operations.iter().enumerate() {
        match &operation.path {
            None => {
                let Some(Value::Object(members)) = &operation.value else {
                    return Err(ScimError::invalid_value(format!(
                        "Operations[{index}]: an operation without a path needs an object value"
                    )));
                };
                for (key, value) in members {
                    let path = scim_core::parse_patch_path(key).map_err(|_| {
                        ScimError::invalid_path(format!("`{key}` is not an attribute path"))
                    })?;
                    intent.step(operation.op, &path, Some(value), group_id)?;
                }
            }
            Some(path) => intent.step(operation.op, path, operation.value.as_ref(), group_id)?,
        }
    }
    Ok(intent)
}

impl GroupPatchIntent {
    fn step(
        &mut self,
        op: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
        group_id: &str,
    ) -> Result<(), ScimError> {
        let value = value.filter(|v| !v.is_null());
        let op = if value.is_none() && op != PatchOpKind::Add {
            PatchOpKind::Remove
        } else {
            op
        };
        if value.is_none() && op == PatchOpKind::Add {
            return Ok(());
        }
        match path.attr.urn.as_deref() {
            None => {}
            Some(urn) if same(urn, GROUP_SCHEMA) && !path.attr.name.is_empty() => {}
            Some(_) => return Err(unsupported_path(&path.to_string())),
        }
        let name = path.attr.name.as_str();
        if same(name, "members") {
            return self.members(op, path, value);
        }
        if path.filter.is_some() || path.attr.sub_attr.is_some() {
            return Err(unsupported_path(&path.to_string()));
        }
        if ["schemas", "meta"].iter().any(|n| same(n, name)) {
            return Ok(());
        }
        if same(name, "id") {
            return match value {
                Some(Value::String(id)) if id == group_id && op != PatchOpKind::Remove => Ok(()),
                _ => Err(ScimError::mutability("attribute `id` is read-only")),
            };
        }
        let attr = canonical(&["displayName", "externalId"], name)
            .ok_or_else(|| unsupported_path(name))?;
        let text = match value {
            None if attr == "displayName" => {
                return Err(ScimError::invalid_value(
                    "attribute `displayName` is required and cannot be removed",
                ));
            }
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(ScimError::invalid_value(format!(
                    "`{attr}` must be a string"
                )));
            }
        };
        if attr == "displayName" {
            let name = text.unwrap_or_default();
            check_display_name(&name)?;
            self.display_name = Some(name);
        } else {
            // `""` cannot be stored (1–1024 characters): it asks for no externalId.
            self.external_id = Some(optional("externalId", text)?);
        }
        Ok(())
    }

    fn members(
        &mut self,
        op: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if path.attr.sub_attr.is_some() || path.sub_attr.is_some() {
            return Err(unsupported_path(&path.to_string()));
        }
        if let Some(filter) = &path.filter {
            if op != PatchOpKind::Remove {
                return Err(ScimError::invalid_path(
                    "a filter on `members` is supported only to remove members; add them with a value list",
                ));
            }
            let ids = value_eq_ids(filter).ok_or_else(|| {
                ScimError::invalid_filter(
                    "a filter on `members` may only compare `value eq \"<id>\"`, joined with `or`",
                )
            })?;
            for id in ids {
                if !ResourceId::is_valid(&id) {
                    return Err(ScimError::invalid_value(
                        "a member filter names a value that is not a valid user id",
                    ));
                }
                self.changes.push((id, false));
            }
            return Ok(());
        }
        match (op, value) {
            (PatchOpKind::Remove, None) => {
                self.baseline = Some(Vec::new());
                self.changes.clear();
            }
            (PatchOpKind::Replace, Some(value)) => {
                self.baseline = Some(member_ids_json(value)?);
                self.changes.clear();
            }
            (PatchOpKind::Add, Some(value)) => {
                self.changes
                    .extend(member_ids_json(value)?.into_iter().map(|id| (id, true)));
            }
            (PatchOpKind::Remove, Some(value)) => {
                self.changes
                    .extend(member_ids_json(value)?.into_iter().map(|id| (id, false)));
            }
            (_, None) => {}
        }
        Ok(())
    }
}

/// The ids of `value eq "a" or value eq "b" …`; `None` for any other filter.
fn value_eq_ids(filter: &Filter) -> Option<Vec<String>> {
    let mut ids = Vec::new();
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(id),
            } if path.urn.is_none() && path.sub_attr.is_none() && same(&path.name, "value") => {
                ids.push(id.clone());
            }
            Filter::Or(a, b) => {
                stack.push(b);
                stack.push(a);
            }
            _ => return None,
        }
    }
    Some(ids)
}

/// The plan for a group PUT: `desired` (already [`outbound_group`]) over `current`, with
/// the current members when `desired.members` is given (see the module docs).
pub fn plan_group_replace(
    desired: &OutboundGroup,
    current: &Group,
    current_members: Option<&[String]>,
) -> Result<GroupPlan, ScimError> {
    let display_name = (desired.group.display_name != current.display_name)
        .then(|| desired.group.display_name.clone());
    let external_id = match &desired.group.external_id {
        Some(id) if current.external_id.as_ref() != Some(id) => Some(Some(id.clone())),
        _ => None,
    };
    let (add, remove) = match (&desired.members, current_members) {
        (None, _) => (Vec::new(), Vec::new()),
        (Some(desired), Some(current)) => membership_diff(current, desired),
        (Some(_), None) => {
            return Err(ScimError::internal(
                "a group replace was planned without the current members",
            ));
        }
    };
    Ok(GroupPlan {
        attributes: attribute_patch(display_name, external_id),
        add,
        remove,
    })
}

#[cfg(test)]
mod tests {
    use scim_core::{Resource, ScimType};
    use serde_json::json;

    use super::*;

    const GID: &str = "g-1";

    fn ids(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{prefix}{i}")).collect()
    }

    fn members_json(ids: &[String]) -> Value {
        Value::Array(
            ids.iter()
                .map(|id| json!({"value": id, "display": format!("User {id}")}))
                .collect(),
        )
    }

    fn intent(operations: Value) -> Result<GroupPatchIntent, ScimError> {
        let patch = PatchOp::parse(
            &json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations}),
        )?;
        group_patch_intent(&patch, GID)
    }

    fn attrs(plan: &GroupPlan) -> Value {
        plan.attributes
            .as_ref()
            .map(|p| serde_json::to_value(p).unwrap()["Operations"].clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn an_outbound_group_has_no_member_display_and_its_members_apart() {
        // Arrange
        let group = Group::from_value(json!({
            "schemas": [GROUP_SCHEMA], "id": "x", "displayName": "Eng",
            "members": [{"value": "u1", "display": "One"}, {"value": "u2", "type": "User"}, {"value": "u1"}]
        }))
        .unwrap();

        // Act
        let out = outbound_group(group).unwrap();

        // Assert
        assert_eq!(
            out.group.to_value(),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Eng"})
        );
        assert_eq!(out.members, Some(vec!["u1".to_owned(), "u2".to_owned()]));
    }

    #[test]
    fn a_reserved_or_over_long_group_name_is_refused_on_create_put_and_rename() {
        let long = "g".repeat(1025);
        for name in ["Administrator", "awsadministrators", long.as_str()] {
            // Act
            let body = outbound_group(
                Group::from_value(json!({"schemas": [GROUP_SCHEMA], "displayName": name})).unwrap(),
            )
            .unwrap_err();
            let rename =
                intent(json!([{"op": "replace", "value": {"id": GID, "displayName": name}}]))
                    .unwrap_err();
            let by_path = intent(json!([{"op": "replace", "path": "displayName", "value": name}]))
                .unwrap_err();

            // Assert
            for error in [body, rename, by_path] {
                assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
                assert!(error.detail.contains("`displayName`"), "{}", error.detail);
            }
        }
    }

    #[test]
    fn a_blank_external_id_is_dropped_from_a_body_and_removed_by_a_patch() {
        // Act
        let body = outbound_group(
            Group::from_value(json!({"displayName": "Eng", "externalId": ""})).unwrap(),
        )
        .unwrap();
        let plan =
            intent(json!([{"op": "replace", "value": {"externalId": "", "displayName": "Eng"}}]))
                .unwrap()
                .plan(None)
                .unwrap();

        // Assert
        assert_eq!(body.group.external_id, None);
        assert_eq!(
            attrs(&plan),
            json!([
                {"op": "replace", "path": "displayName", "value": "Eng"},
                {"op": "remove", "path": "externalId"}
            ])
        );
    }

    #[test]
    fn a_member_with_a_blank_value_is_refused_rather_than_dropped() {
        // Act
        let replace =
            intent(json!([{"op": "replace", "path": "members", "value": [{"value": ""}]}]))
                .unwrap_err();

        // Assert: dropping it would turn the replace into "remove every member".
        assert_eq!(replace.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn members_that_are_not_users_are_invalid_values() {
        for member in [
            json!({"value": "g2", "type": "Group"}),
            json!({"value": "g2", "$ref": "https://x/scim/v2/Groups/g2"}),
            json!({"value": "../admin"}),
        ] {
            let error = member_ids_json(&json!([member])).unwrap_err();
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{member}");
        }
    }

    #[test]
    fn oktas_rename_drops_the_groups_own_id_and_refuses_another() {
        // Act
        let plan =
            intent(json!([{"op": "replace", "value": {"id": GID, "displayName": "Renamed"}}]))
                .unwrap()
                .plan(None)
                .unwrap();
        let foreign =
            intent(json!([{"op": "replace", "value": {"id": "g-2", "displayName": "Renamed"}}]))
                .unwrap_err();

        // Assert
        assert_eq!(
            attrs(&plan),
            json!([{"op": "replace", "path": "displayName", "value": "Renamed"}])
        );
        assert!(plan.add.is_empty() && plan.remove.is_empty());
        assert_eq!(foreign.scim_type, Some(ScimType::Mutability));
    }

    #[test]
    fn a_replace_of_150_members_becomes_the_difference_against_the_current_members() {
        // Arrange: 100 current members u0..u99; the replace asks for u50..u199.
        let current = ids("u", 0..100);
        let wanted = ids("u", 50..200);
        let intent =
            intent(json!([{"op": "replace", "path": "members", "value": members_json(&wanted)}]))
                .unwrap();

        // Act
        assert!(intent.needs_current_members());
        let plan = intent.plan(Some(&current)).unwrap();

        // Assert
        assert_eq!(plan.add, ids("u", 100..200));
        assert_eq!(plan.remove, ids("u", 0..50));
        assert_eq!(plan.attributes, None);
        assert_eq!(plan.members_after(&current), wanted);
    }

    #[test]
    fn removal_by_value_filter_takes_eq_and_or_joined_eqs_and_refuses_other_filters() {
        // Act
        let one = intent(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]))
            .unwrap()
            .plan(None)
            .unwrap();
        let two = intent(
            json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u2\"]"}]),
        )
        .unwrap()
        .plan(None)
        .unwrap();
        let other =
            intent(json!([{"op": "remove", "path": "members[value co \"u\"]"}])).unwrap_err();

        // Assert
        assert_eq!(one.remove, ["u1"]);
        assert_eq!(two.remove, ["u1", "u2"]);
        assert_eq!(other.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn a_hostile_member_list_of_tens_of_thousands_plans_in_linear_time() {
        // Arrange: 30,000 members each side; quadratic code would take minutes here.
        let current = ids("u", 0..30_000);
        let wanted = ids("u", 15_000..45_000);
        let started = std::time::Instant::now();

        // Act
        let plan =
            intent(json!([{"op": "replace", "path": "members", "value": members_json(&wanted)}]))
                .unwrap()
                .plan(Some(&current))
                .unwrap();

        // Assert
        assert_eq!((plan.add.len(), plan.remove.len()), (15_000, 15_000));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn removing_all_members_removes_each_current_member_explicitly() {
        // Act
        let intent = intent(json!([{"op": "remove", "path": "members"}])).unwrap();
        let plan = intent.plan(Some(&ids("u", 0..3))).unwrap();

        // Assert
        assert_eq!(plan.remove, ids("u", 0..3));
        assert!(plan.add.is_empty());
    }

    #[test]
    fn oktas_member_add_and_a_value_list_remove_need_no_current_members() {
        // Act
        let intent = intent(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1", "display": "One"}, {"value": "u2"}]},
            {"op": "remove", "path": "members", "value": [{"value": "u3"}]}
        ]))
        .unwrap();

        // Assert
        assert!(!intent.needs_current_members());
        let plan = intent.plan(None).unwrap();
        assert_eq!(
            (plan.add, plan.remove),
            (
                vec!["u1".to_owned(), "u2".to_owned()],
                vec!["u3".to_owned()]
            )
        );
    }

    #[test]
    fn operations_apply_in_order_so_the_last_word_on_a_member_wins() {
        // Act
        let plan = intent(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "replace", "value": {"displayName": "A"}},
            {"op": "replace", "value": {"displayName": "B"}}
        ]))
        .unwrap()
        .plan(None)
        .unwrap();

        // Assert
        assert_eq!(
            attrs(&plan),
            json!([{"op": "replace", "path": "displayName", "value": "B"}])
        );
        assert_eq!(
            (plan.add, plan.remove),
            (vec!["u2".to_owned()], vec!["u1".to_owned()])
        );
    }

    #[test]
    fn changes_after_a_replace_apply_on_top_of_it() {
        // Act
        let plan = intent(json!([
            {"op": "replace", "path": "members", "value": [{"value": "u1"}]},
            {"op": "add", "path": "members", "value": [{"value": "u2"}]}
        ]))
        .unwrap()
        .plan(Some(&["u1".to_owned(), "u9".to_owned()]))
        .unwrap();

        // Assert
        assert_eq!(
            (plan.add, plan.remove),
            (vec!["u2".to_owned()], vec!["u9".to_owned()])
        );
    }

    #[test]
    fn known_current_members_turn_redundant_changes_into_nothing() {
        let plan = intent(json!([
            {"op": "add", "path": "members", "value": [{"value": "u1"}]},
            {"op": "remove", "path": "members", "value": [{"value": "u7"}]}
        ]))
        .unwrap()
        .plan(Some(&["u1".to_owned()]))
        .unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn what_the_target_cannot_do_to_a_group_is_refused_precisely() {
        let cases = [
            (
                json!([{"op": "replace", "path": "description", "value": "x"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": [{"value": "u1"}]}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "remove", "path": "displayName"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "displayName", "value": 5}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "add", "path": "members", "value": [{"value": "g", "type": "Group"}]}]),
                ScimType::InvalidValue,
            ),
        ];
        for (operations, expected) in cases {
            let error = intent(operations.clone()).unwrap_err();
            assert_eq!(error.scim_type, Some(expected), "{operations}");
        }
    }

    #[test]
    fn a_group_put_becomes_a_rename_and_a_membership_difference() {
        // Arrange
        let current =
            Group::from_value(json!({"id": GID, "displayName": "Old", "externalId": "okta-1"}))
                .unwrap();
        let desired = outbound_group(
            Group::from_value(json!({"displayName": "New", "externalId": "okta-1", "members": [{"value": "u2"}, {"value": "u3"}]}))
                .unwrap(),
        )
        .unwrap();

        // Act
        let plan = plan_group_replace(
            &desired,
            &current,
            Some(&["u1".to_owned(), "u2".to_owned()]),
        )
        .unwrap();

        // Assert
        assert_eq!(
            attrs(&plan),
            json!([{"op": "replace", "path": "displayName", "value": "New"}])
        );
        assert_eq!(
            (plan.add, plan.remove),
            (vec!["u3".to_owned()], vec!["u1".to_owned()])
        );
    }

    #[test]
    fn a_group_put_without_members_leaves_the_membership_alone() {
        // Arrange
        let current = Group::from_value(json!({"id": GID, "displayName": "Same"})).unwrap();
        let desired = outbound_group(
            Group::from_value(json!({"displayName": "Same", "externalId": "e"})).unwrap(),
        )
        .unwrap();

        // Act
        let plan = plan_group_replace(&desired, &current, None).unwrap();

        // Assert
        assert_eq!(
            attrs(&plan),
            json!([{"op": "replace", "path": "externalId", "value": "e"}])
        );
        assert!(plan.add.is_empty() && plan.remove.is_empty());
    }
}
