//! A user PATCH (RFC 7644 §3.5.2) as Identity Center's PatchUser accepts it
//! (`docs/identity-center-dialect.md` §5).
//!
//! - Okta's path-less `{"op":"replace","value":{"active":false}}` becomes one operation
//!   per attribute with a path (`active`), a complex value one per sub-attribute
//!   (`name.givenName`, `urn:…:enterprise:2.0:User:manager.value`). That is what RFC
//!   7644 §3.5.2.3 means by replacing a complex attribute: "sub-attributes that are not
//!   specified in the value parameter are left unchanged". A `null` value is a removal
//!   (RFC 7643 §2.5).
//! - `active` goes out as a JSON bool; `"false"` (AWS's own example) is read as false.
//! - `password`, `groups`, `photos`, `ims`, `x509Certificates`, `entitlements`,
//!   `display` sub-attributes and `manager.displayName` are dropped, as on create;
//!   `schemas` and `meta` are ignored; `id` is ignored when it is the resource's own and
//!   refused (`mutability`) otherwise.
//! - Emails, addresses and phone numbers are single-valued at the target: a value list
//!   is reduced to its primary value, and an `add` of one becomes a `replace`, since
//!   adding a second value is exactly what the target refuses. An empty list clears.
//! - Identity Center refuses more than one operation on `userName` or on `active`. RFC
//!   7644 §3.5.2 applies operations "sequentially in the order they appear", so several
//!   writes of one single-valued attribute end with the last one's value: only the last
//!   is sent. Removing `userName`, `displayName`, `name.givenName`, `name.familyName`
//!   or `active` is refused (`invalidValue`): the target requires them.
//! - Blank values (`docs/identity-center-dialect.md` §7, [`super::value`]): Identity
//!   Store strings are 1 to 1024 characters, so a `replace` (or `add`) of `""` cannot
//!   be stored as it is; it asks for no value, and goes out as a `remove` of the
//!   attribute, which PatchUser allows for everything but `userName` and `active`
//!   (AWS-DG patchuser, §5). Where the target requires the attribute (`userName`,
//!   `active`, and `displayName`, `name.givenName`, `name.familyName`, which CreateUser
//!   and PutUser require, §6) a blank value is refused with 400 `invalidValue` naming
//!   it, since removing it is refused too. A blank `value` of an email or phone number
//!   removes that entry (an entry without its value is nothing); a value object or
//!   list loses its blank members and entries, as on create, and a `replace` with
//!   nothing left removes the attribute.
//! - Strings longer than 1024 characters (`userName`: 128) are refused with 400
//!   `invalidValue` naming the attribute, and so is a reserved `userName`.
//! - Anything else the target cannot do is refused with the precise error: an unknown
//!   attribute (`invalidPath`), a value filter other than `eq`/`and` (`invalidFilter`),
//!   `roles` (PatchUser cannot change them; PUT can), a value of the wrong type
//!   (`invalidValue`).
//!
//! The result is `None` when nothing is left to send (e.g. Okta's password sync).

use scim_core::filter::{AttrPath, CompareOp, Filter};
use scim_core::{
    ENTERPRISE_USER_SCHEMA, PatchOp, PatchOpKind, PatchOperation, PatchPath, ScimError, USER_SCHEMA,
};
use serde_json::{Map, Value};

use super::user::{DROPPED_ATTRIBUTES, check_user_name, single_value_json};
use super::value::{check_length, is_blank};
use super::{canonical, same};

/// Simple string attributes PatchUser may change.
const STRINGS: &[&str] = &[
    "userName",
    "displayName",
    "externalId",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
];
const NAME_SUBS: &[&str] = &[
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];
const MULTI: &[&str] = &["emails", "phoneNumbers", "addresses"];
const EMAIL_SUBS: &[&str] = &["value", "type", "primary"];
const ADDRESS_SUBS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
];
const ENTERPRISE_STRINGS: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
];
const MANAGER_SUBS: &[&str] = &["value", "$ref"];
/// The parts of an address; one of them must be left for an address to be sent.
const ADDRESS_PARTS: &[&str] = &[
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
];
/// Attributes that may not be removed, because the target requires them.
const NOT_REMOVABLE: &[&str] = &["userName", "displayName", "active"];
const NAME_REQUIRED: &[&str] = &["givenName", "familyName"];

/// The PATCH Identity Center accepts for `patch` on the user `resource_id`, or `None`
/// when nothing is left to send (see the module docs).
pub fn translate_user_patch(
    patch: &PatchOp,
    resource_id: &str,
) -> Result<Option<PatchOp>, ScimError> {
    let mut out = Out {
        ops: Vec::new(),
        resource_id,
    };
    for (index, operation) in patch.operations.iter().enumerate() {
        match &operation.path {
            None => match &operation.value {
                Some(Value::Object(members)) => out.object(operation.op, members)?,
                _ => {
                    return Err(ScimError::invalid_value(format!(
                        "Operations[{index}]: an operation without a path needs an object value"
                    )));
                }
            },
            Some(path) => out.step(operation.op, path, operation.value.as_ref())?,
        }
    }
    let ops = last_write_wins(out.ops, &["userName", "active"]);
    Ok((!ops.is_empty()).then(|| PatchOp::new(ops)))
}

/// Keeps only the last operation on each of `attributes` (see the module docs).
fn last_write_wins(ops: Vec<PatchOperation>, attributes: &[&str]) -> Vec<PatchOperation> {
    let targets = |op: &PatchOperation, name: &str| {
        op.path
            .as_ref()
            .is_some_and(|p| p.attr.urn.is_none() && same(&p.attr.name, name))
    };
    let last: Vec<Option<usize>> = attributes
        .iter()
        .map(|a| ops.iter().rposition(|op| targets(op, a)))
        .collect();
    ops.into_iter()
        .enumerate()
        .filter(|(i, op)| {
            attributes
                .iter()
                .zip(&last)
                .all(|(a, last)| !targets(op, a) || *last == Some(*i))
        })
        .map(|(_, op)| op)
        .collect()
}

fn path(urn: Option<&str>, name: &str, sub: Option<&str>) -> PatchPath {
    PatchPath {
        attr: AttrPath {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        },
        filter: None,
        sub_attr: None,
    }
}

fn unsupported(attribute: &str) -> ScimError {
    ScimError::invalid_path(format!(
        "attribute `{attribute}` is not supported by the target"
    ))
}

fn not_removable(attribute: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "attribute `{attribute}` is required by the target and cannot be removed"
    ))
}

fn string_value<'v>(attribute: &str, value: &'v Value) -> Result<&'v str, ScimError> {
    value
        .as_str()
        .ok_or_else(|| ScimError::invalid_value(format!("`{attribute}` must be a string")))
}

/// `true`/`false`, also as the strings `"true"`/`"false"` in any case.
fn bool_value(attribute: &str, value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!(
            "`{attribute}` must be a boolean"
        ))),
    }
}

/// Whether a value filter uses only `eq` on plain sub-attributes joined with `and`:
/// all Identity Center evaluates in a PATCH path (AWS-DG patchuser).
fn eq_and_only(filter: &Filter) -> bool {
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                ..
            } if path.urn.is_none() && path.sub_attr.is_none() => {}
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            _ => return false,
        }
    }
    true
}

/// Removes `display` members from a value (object or list of objects).
fn without_display(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !same(k, "display"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_display).collect()),
        other => other.clone(),
    }
}

/// An enterprise string operation: a missing or blank value removes, a string is checked
/// for length, anything else is refused.
fn enterprise_string(
    op: PatchOpKind,
    attribute: &str,
    value: Option<&Value>,
) -> Result<(PatchOpKind, Option<Value>), ScimError> {
    let Some(value) = value else {
        return Ok((PatchOpKind::Remove, None));
    };
    let text = string_value(attribute, value)?;
    if is_blank(text) {
        return Ok((PatchOpKind::Remove, None));
    }
    check_length(attribute, text)?;
    Ok((op, Some(Value::String(text.to_owned()))))
}

/// One email, phone number or address given as an object: its blank string members
/// dropped, the others checked for length; `None` when it is left without a `value`
/// (emails, phone numbers) or without any part (addresses).
fn entry_object(
    attr: &str,
    members: Map<String, Value>,
) -> Result<Option<Map<String, Value>>, ScimError> {
    let mut kept = Map::new();
    for (key, value) in members {
        if let Value::String(text) = &value {
            if is_blank(text) {
                continue;
            }
            check_length(&format!("{attr}.{key}"), text)?;
        }
        kept.insert(key, value);
    }
    let needed: &[&str] = if attr == "addresses" {
        ADDRESS_PARTS
    } else {
        &["value"]
    };
    let complete = kept.keys().any(|k| canonical(needed, k).is_some());
    Ok(complete.then_some(kept))
}

struct Out<'a> {
    ops: Vec<PatchOperation>,
    resource_id: &'a str,
}

impl Out<'_> {
    fn push(&mut self, op: PatchOpKind, path: PatchPath, value: Option<Value>) {
        // Single-valued attributes: `add` is `replace` (RFC 7644 §3.5.2.1).
        let op = if op == PatchOpKind::Add {
            PatchOpKind::Replace
        } else {
            op
        };
        let value = if op == PatchOpKind::Remove {
            None
        } else {
            value
        };
        self.ops.push(PatchOperation {
            op,
            path: Some(path),
            value,
        });
    }

    /// The members of a path-less operation's value object, one step each.
    fn object(&mut self, op: PatchOpKind, members: &Map<String, Value>) -> Result<(), ScimError> {
        for (key, value) in members {
            let parsed = scim_core::parse_patch_path(key).map_err(|_| {
                ScimError::invalid_path(format!("`{key}` is not an attribute path"))
            })?;
            if parsed.filter.is_some() {
                return Err(ScimError::invalid_path(format!(
                    "`{key}` is not an attribute name"
                )));
            }
            self.step(op, &parsed, Some(value))?;
        }
        Ok(())
    }

    /// One operation on one path.
    fn step(
        &mut self,
        op: PatchOpKind,
        path: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        // A null value unassigns (RFC 7643 §2.5): a removal, or nothing to add.
        let (op, value) = match value {
            Some(Value::Null) if op == PatchOpKind::Add => return Ok(()),
            Some(Value::Null) => (PatchOpKind::Remove, None),
            other => (op, other),
        };
        match path.attr.urn.as_deref() {
            None => self.core(op, path, value),
            Some(urn) if same(urn, USER_SCHEMA) => {
                if path.attr.name.is_empty() {
                    // The core schema URN alone addresses the resource itself.
                    return match value {
                        Some(Value::Object(members)) => self.object(op, members),
                        _ => Err(ScimError::invalid_value(
                            "the core schema needs an object value",
                        )),
                    };
                }
                self.core(op, path, value)
            }
            Some(urn) if same(urn, ENTERPRISE_USER_SCHEMA) => self.enterprise(op, path, value),
            Some(_) => Err(unsupported(&path.to_string())),
        }
    }

    fn core(
        &mut self,
        op: PatchOpKind,
        p: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = p.attr.name.as_str();
        let plain = p.filter.is_none() && p.attr.sub_attr.is_none();
        if ["schemas", "meta"].iter().any(|n| same(n, name))
            || canonical(DROPPED_ATTRIBUTES, name).is_some()
        {
            return Ok(());
        }
        if same(name, "id") {
            return match value {
                Some(Value::String(id))
                    if plain && op != PatchOpKind::Remove && id == self.resource_id =>
                {
                    Ok(())
                }
                _ => Err(ScimError::mutability("attribute `id` is read-only")),
            };
        }
        if same(name, "active") {
            if !plain {
                return Err(unsupported(&p.to_string()));
            }
            let Some(value) = value else {
                return Err(not_removable("active"));
            };
            if value.as_str().is_some_and(is_blank) {
                return Err(not_removable("active"));
            }
            self.push(
                op,
                path(None, "active", None),
                Some(Value::Bool(bool_value("active", value)?)),
            );
            return Ok(());
        }
        if let Some(attr) = canonical(STRINGS, name) {
            if !plain {
                return Err(unsupported(&p.to_string()));
            }
            let Some(value) = value else {
                if NOT_REMOVABLE.contains(&attr) {
                    return Err(not_removable(attr));
                }
                self.push(op, path(None, attr, None), None);
                return Ok(());
            };
            let text = string_value(attr, value)?;
            if is_blank(text) {
                // `""` cannot be stored (1–1024 characters): it asks for no value.
                if NOT_REMOVABLE.contains(&attr) {
                    return Err(not_removable(attr));
                }
                self.push(PatchOpKind::Remove, path(None, attr, None), None);
                return Ok(());
            }
            if attr == "userName" {
                check_user_name(text)?;
            } else {
                check_length(attr, text)?;
            }
            self.push(
                op,
                path(None, attr, None),
                Some(Value::String(text.to_owned())),
            );
            return Ok(());
        }
        if same(name, "name") {
            return self.name(op, p, value);
        }
        if let Some(attr) = canonical(MULTI, name) {
            return self.multi(op, attr, p, value);
        }
        if same(name, "roles") {
            return Err(ScimError::invalid_path(
                "attribute `roles` cannot be changed with PATCH at the target; send the whole user with PUT",
            ));
        }
        Err(unsupported(name))
    }

    fn name(
        &mut self,
        op: PatchOpKind,
        p: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if p.filter.is_some() {
            return Err(unsupported(&p.to_string()));
        }
        if let Some(sub) = &p.attr.sub_attr {
            let sub =
                canonical(NAME_SUBS, sub).ok_or_else(|| unsupported(&format!("name.{sub}")))?;
            return self.name_sub(op, sub, value);
        }
        match value {
            None => Err(not_removable("name.givenName")),
            Some(Value::Object(members)) => {
                for (key, value) in members {
                    let sub = canonical(NAME_SUBS, key)
                        .ok_or_else(|| unsupported(&format!("name.{key}")))?;
                    let (op, value) = if value.is_null() {
                        (PatchOpKind::Remove, None)
                    } else {
                        (op, Some(value))
                    };
                    self.name_sub(op, sub, value)?;
                }
                Ok(())
            }
            Some(_) => Err(ScimError::invalid_value("`name` must be an object")),
        }
    }

    fn name_sub(
        &mut self,
        op: PatchOpKind,
        sub: &str,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let attribute = format!("name.{sub}");
        let Some(value) = value else {
            if NAME_REQUIRED.contains(&sub) {
                return Err(not_removable(&attribute));
            }
            self.push(op, path(None, "name", Some(sub)), None);
            return Ok(());
        };
        let text = string_value(&attribute, value)?;
        if is_blank(text) {
            if NAME_REQUIRED.contains(&sub) {
                return Err(not_removable(&attribute));
            }
            self.push(PatchOpKind::Remove, path(None, "name", Some(sub)), None);
            return Ok(());
        }
        check_length(&attribute, text)?;
        self.push(
            op,
            path(None, "name", Some(sub)),
            Some(Value::String(text.to_owned())),
        );
        Ok(())
    }

    fn multi(
        &mut self,
        op: PatchOpKind,
        attr: &'static str,
        p: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let subs = if attr == "addresses" {
            ADDRESS_SUBS
        } else {
            EMAIL_SUBS
        };
        let sub = p.sub_attr.as_deref().or(p.attr.sub_attr.as_deref());
        if let Some(sub) = sub {
            if same(sub, "display") {
                return Ok(());
            }
            canonical(subs, sub).ok_or_else(|| unsupported(&format!("{attr}.{sub}")))?;
        }
        if let Some(filter) = &p.filter
            && !eq_and_only(filter)
        {
            return Err(ScimError::invalid_filter(format!(
                "the target accepts only `eq` joined with `and` in a filter on `{attr}`"
            )));
        }
        if p.filter.is_some() || sub.is_some() {
            // A targeted change of the one value: passed on without `display`.
            let value = value.map(without_display);
            return match value {
                Some(value) if op != PatchOpKind::Remove => self.targeted(attr, p, sub, value),
                value => {
                    self.ops.push(PatchOperation {
                        op: PatchOpKind::Remove,
                        path: Some(p.clone()),
                        value,
                    });
                    Ok(())
                }
            };
        }
        match value {
            None => self.push(PatchOpKind::Remove, path(None, attr, None), None),
            Some(value) => match single_value_json(attr, value)? {
                Some(single) => {
                    self.push(PatchOpKind::Replace, path(None, attr, None), Some(single))
                }
                None if op == PatchOpKind::Replace => {
                    self.push(PatchOpKind::Remove, path(None, attr, None), None)
                }
                None => {}
            },
        }
        Ok(())
    }

    /// A `replace` (or `add`) of the value, or of one sub-attribute, that a path with a
    /// filter or a sub-attribute selects (see the module docs for blanks).
    fn targeted(
        &mut self,
        attr: &'static str,
        p: &PatchPath,
        sub: Option<&str>,
        value: Value,
    ) -> Result<(), ScimError> {
        // The entry the path selects, without its sub-attribute.
        let entry = PatchPath {
            attr: AttrPath {
                urn: p.attr.urn.clone(),
                name: p.attr.name.clone(),
                sub_attr: None,
            },
            filter: p.filter.clone(),
            sub_attr: None,
        };
        let value = match value {
            Value::String(text) if is_blank(&text) => {
                // An email or phone number without its value is nothing: the entry goes.
                let path = if sub.is_some_and(|s| same(s, "value")) {
                    entry
                } else {
                    p.clone()
                };
                self.ops.push(PatchOperation {
                    op: PatchOpKind::Remove,
                    path: Some(path),
                    value: None,
                });
                return Ok(());
            }
            Value::String(text) => {
                check_length(&format!("{attr}.{}", sub.unwrap_or("value")), &text)?;
                Value::String(text)
            }
            Value::Object(members) if sub.is_none() => match entry_object(attr, members)? {
                Some(members) => Value::Object(members),
                None => {
                    self.ops.push(PatchOperation {
                        op: PatchOpKind::Remove,
                        path: Some(entry),
                        value: None,
                    });
                    return Ok(());
                }
            },
            other => other,
        };
        self.ops.push(PatchOperation {
            op: PatchOpKind::Replace,
            path: Some(p.clone()),
            value: Some(value),
        });
        Ok(())
    }

    fn enterprise(
        &mut self,
        op: PatchOpKind,
        p: &PatchPath,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let urn = Some(ENTERPRISE_USER_SCHEMA);
        if p.filter.is_some() {
            return Err(unsupported(&p.to_string()));
        }
        if p.attr.name.is_empty() {
            return match value {
                None => {
                    self.push(PatchOpKind::Remove, path(urn, "", None), None);
                    Ok(())
                }
                Some(Value::Object(members)) => {
                    for (key, value) in members {
                        let inner =
                            scim_core::parse_patch_path(&format!("{ENTERPRISE_USER_SCHEMA}:{key}"))
                                .map_err(|_| unsupported(key))?;
                        self.enterprise(op, &inner, Some(value))?;
                    }
                    Ok(())
                }
                Some(_) => Err(ScimError::invalid_value(
                    "the enterprise extension needs an object value",
                )),
            };
        }
        let (op, value) = match value {
            Some(Value::Null) | None => (PatchOpKind::Remove, None),
            Some(v) => (op, Some(v)),
        };
        let name = p.attr.name.as_str();
        if let Some(attr) = canonical(ENTERPRISE_STRINGS, name) {
            if p.attr.sub_attr.is_some() {
                return Err(unsupported(&p.to_string()));
            }
            let (op, value) =
                enterprise_string(op, &format!("{ENTERPRISE_USER_SCHEMA}:{attr}"), value)?;
            self.push(op, path(urn, attr, None), value);
            return Ok(());
        }
        if !same(name, "manager") {
            return Err(unsupported(&p.to_string()));
        }
        if let Some(sub) = &p.attr.sub_attr {
            if same(sub, "displayName") {
                return Ok(());
            }
            let sub = canonical(MANAGER_SUBS, sub).ok_or_else(|| unsupported(&p.to_string()))?;
            let (op, value) = enterprise_string(
                op,
                &format!("{ENTERPRISE_USER_SCHEMA}:manager.{sub}"),
                value,
            )?;
            self.push(op, path(urn, "manager", Some(sub)), value);
            return Ok(());
        }
        match value {
            None => self.push(op, path(urn, "manager", None), None),
            Some(Value::String(id)) if is_blank(id) => {
                self.push(PatchOpKind::Remove, path(urn, "manager", None), None);
            }
            // Some clients send the manager's id alone.
            Some(Value::String(id)) => {
                check_length(&format!("{ENTERPRISE_USER_SCHEMA}:manager.value"), id)?;
                self.push(
                    op,
                    path(urn, "manager", Some("value")),
                    Some(Value::String(id.clone())),
                );
            }
            Some(Value::Object(members)) => {
                for (key, value) in members {
                    if same(key, "displayName") {
                        continue;
                    }
                    let sub = canonical(MANAGER_SUBS, key)
                        .ok_or_else(|| unsupported(&format!("manager.{key}")))?;
                    let (op, value) = enterprise_string(
                        op,
                        &format!("{ENTERPRISE_USER_SCHEMA}:manager.{sub}"),
                        (!value.is_null()).then_some(value),
                    )?;
                    self.push(op, path(urn, "manager", Some(sub)), value);
                }
            }
            Some(_) => return Err(ScimError::invalid_value("`manager` must be an object")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use scim_core::ScimType;
    use serde_json::json;

    use super::*;

    const ID: &str = "u-1";

    fn patch(operations: Value) -> PatchOp {
        PatchOp::parse(&json!({"schemas": [scim_core::PATCH_OP_SCHEMA], "Operations": operations}))
            .unwrap()
    }

    fn translate(operations: Value) -> Result<Option<Value>, ScimError> {
        translate_user_patch(&patch(operations), ID)
            .map(|p| p.map(|p| serde_json::to_value(p).unwrap()["Operations"].clone()))
    }

    #[test]
    fn oktas_path_less_deactivate_becomes_a_replace_of_active_with_a_bool() {
        // Act
        let ops = translate(json!([{"op": "replace", "value": {"active": false}}])).unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(json!([{"op": "replace", "path": "active", "value": false}]))
        );
    }

    #[test]
    fn active_given_as_a_string_goes_out_as_a_bool() {
        let ops = translate(json!([{"op": "Replace", "path": "active", "value": "True"}])).unwrap();
        assert_eq!(
            ops,
            Some(json!([{"op": "replace", "path": "active", "value": true}]))
        );
    }

    #[test]
    fn a_path_less_value_object_becomes_one_operation_per_attribute_and_sub_attribute() {
        // Act
        let ops = translate(json!([{"op": "replace", "value": {
            "displayName": "B J",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "department": "R&D", "manager": {"value": "m-1", "displayName": "Boss"}
            },
            "id": ID,
            "schemas": [scim_core::USER_SCHEMA]
        }}]))
        .unwrap();

        // Assert
        let ent = scim_core::ENTERPRISE_USER_SCHEMA;
        assert_eq!(
            ops,
            Some(json!([
                {"op": "replace", "path": "displayName", "value": "B J"},
                {"op": "replace", "path": "name.givenName", "value": "Barbara"},
                {"op": "replace", "path": "name.familyName", "value": "Jensen"},
                {"op": "replace", "path": format!("{ent}:department"), "value": "R&D"},
                {"op": "replace", "path": format!("{ent}:manager.value"), "value": "m-1"}
            ]))
        );
    }

    #[test]
    fn password_operations_are_dropped_and_a_password_only_patch_sends_nothing() {
        // Act
        let only_password = translate(json!([
            {"op": "replace", "value": {"password": "n3w-secret"}},
            {"op": "replace", "path": "password", "value": "n3w-secret"}
        ]))
        .unwrap();
        let mixed =
            translate(json!([{"op": "replace", "value": {"password": "x", "title": "Boss"}}]))
                .unwrap();

        // Assert
        assert_eq!(only_password, None);
        assert_eq!(
            mixed,
            Some(json!([{"op": "replace", "path": "title", "value": "Boss"}]))
        );
    }

    #[test]
    fn a_list_of_emails_is_reduced_to_the_primary_and_an_add_becomes_a_replace() {
        // Act
        let ops = translate(json!([{"op": "add", "path": "emails", "value": [
            {"value": "a@x", "type": "home", "display": "A"},
            {"value": "b@x", "type": "work", "primary": true}
        ]}]))
        .unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(
                json!([{"op": "replace", "path": "emails", "value": [{"value": "b@x", "type": "work", "primary": true}]}])
            )
        );
    }

    #[test]
    fn an_eq_value_filter_passes_and_any_other_filter_is_refused() {
        // Act
        let eq = translate(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@x"}]),
        )
        .unwrap();
        let co = translate(
            json!([{"op": "replace", "path": "emails[type co \"wo\"].value", "value": "c@x"}]),
        )
        .unwrap_err();

        // Assert
        assert_eq!(
            eq,
            Some(
                json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "c@x"}])
            )
        );
        assert_eq!(co.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn several_writes_of_active_or_user_name_send_only_the_last_in_place() {
        // Act
        let ops = translate(json!([
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "userName", "value": "first"},
            {"op": "replace", "path": "title", "value": "t"},
            {"op": "replace", "value": {"active": true, "userName": "second"}}
        ]))
        .unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(json!([
                {"op": "replace", "path": "title", "value": "t"},
                {"op": "replace", "path": "active", "value": true},
                {"op": "replace", "path": "userName", "value": "second"}
            ]))
        );
    }

    #[test]
    fn removing_what_the_target_requires_is_refused_by_name() {
        for (path, attribute) in [
            ("userName", "userName"),
            ("active", "active"),
            ("displayName", "displayName"),
            ("name.givenName", "name.givenName"),
            ("name", "name.givenName"),
        ] {
            // Act
            let error = translate(json!([{"op": "remove", "path": path}])).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{path}");
            assert!(
                error.detail.contains(&format!("`{attribute}`")),
                "{path}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn a_null_value_removes_an_optional_attribute() {
        let ops = translate(json!([{"op": "replace", "value": {"title": null}}])).unwrap();
        assert_eq!(ops, Some(json!([{"op": "remove", "path": "title"}])));
    }

    #[test]
    fn a_foreign_id_is_a_mutability_error_and_the_own_id_is_ignored() {
        let foreign = translate(json!([{"op": "replace", "value": {"id": "other"}}])).unwrap_err();
        assert_eq!(foreign.scim_type, Some(ScimType::Mutability));
        assert_eq!(
            translate(json!([{"op": "replace", "value": {"id": ID}}])).unwrap(),
            None
        );
    }

    #[test]
    fn what_the_target_cannot_express_is_refused_precisely() {
        let cases = [
            (
                json!([{"op": "replace", "path": "favoriteColor", "value": "blue"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "add", "path": "roles", "value": [{"value": "r"}]}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "urn:example:ext:1.0:User:x", "value": "y"}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "title", "value": 7}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "value": "active"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "userName", "value": "x".repeat(129)}]),
                ScimType::InvalidValue,
            ),
        ];
        for (operations, expected) in cases {
            let error = translate(operations.clone()).unwrap_err();
            assert_eq!(error.scim_type, Some(expected), "{operations}");
        }
    }

    #[test]
    fn a_replace_with_an_empty_string_becomes_a_remove_of_the_attribute() {
        // Act
        let ent = scim_core::ENTERPRISE_USER_SCHEMA;
        let ops = translate(json!([
            {"op": "replace", "path": "title", "value": ""},
            {"op": "add", "path": "externalId", "value": " "},
            {"op": "replace", "value": {"nickName": "", "name": {"middleName": "", "givenName": "Ann"}}},
            {"op": "replace", "path": format!("{ent}:department"), "value": ""},
            {"op": "replace", "path": format!("{ent}:manager"), "value": {"value": ""}}
        ]))
        .unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(json!([
                {"op": "remove", "path": "title"},
                {"op": "remove", "path": "externalId"},
                {"op": "remove", "path": "nickName"},
                {"op": "remove", "path": "name.middleName"},
                {"op": "replace", "path": "name.givenName", "value": "Ann"},
                {"op": "remove", "path": format!("{ent}:department")},
                {"op": "remove", "path": format!("{ent}:manager.value")}
            ]))
        );
    }

    #[test]
    fn an_empty_string_for_what_cannot_be_removed_is_refused_by_name() {
        for (path, attribute) in [
            ("userName", "userName"),
            ("active", "active"),
            ("displayName", "displayName"),
            ("name.familyName", "name.familyName"),
        ] {
            // Act
            let error =
                translate(json!([{"op": "replace", "path": path, "value": ""}])).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{path}");
            assert!(
                error.detail.contains(&format!("`{attribute}` is required")),
                "{path}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn a_blank_phone_or_address_in_a_patch_removes_it_instead_of_being_sent() {
        // Act
        let ops = translate(json!([
            {"op": "replace", "path": "phoneNumbers", "value": [{"value": "", "type": "mobile"}]},
            {"op": "replace", "path": "addresses", "value": [{"streetAddress": "", "locality": "", "type": "work"}]},
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": ""},
            {"op": "replace", "path": "addresses[type eq \"work\"].region", "value": ""},
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"]", "value": {"value": "", "type": "work"}}
        ]))
        .unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(json!([
                {"op": "remove", "path": "phoneNumbers"},
                {"op": "remove", "path": "addresses"},
                {"op": "remove", "path": "emails[type eq \"work\"]"},
                {"op": "remove", "path": "addresses[type eq \"work\"].region"},
                {"op": "remove", "path": "phoneNumbers[type eq \"work\"]"}
            ]))
        );
    }

    #[test]
    fn a_partial_address_in_a_patch_keeps_its_parts_that_are_not_blank() {
        // Act
        let ops = translate(json!([
            {"op": "replace", "path": "addresses", "value": [{"streetAddress": "", "locality": "Oslo", "type": "work"}]},
            {"op": "replace", "path": "addresses[type eq \"home\"]", "value": {"region": "", "country": "NO"}}
        ]))
        .unwrap();

        // Assert
        assert_eq!(
            ops,
            Some(json!([
                {"op": "replace", "path": "addresses", "value": [{"locality": "Oslo", "type": "work", "primary": true}]},
                {"op": "replace", "path": "addresses[type eq \"home\"]", "value": {"country": "NO"}}
            ]))
        );
    }

    #[test]
    fn a_patch_value_over_1024_characters_is_refused_naming_the_attribute() {
        let long = "x".repeat(1025);
        let ent = scim_core::ENTERPRISE_USER_SCHEMA;
        for (path, attribute) in [
            ("title".to_owned(), "title".to_owned()),
            ("name.givenName".to_owned(), "name.givenName".to_owned()),
            (
                "emails[type eq \"work\"].value".to_owned(),
                "emails.value".to_owned(),
            ),
            (format!("{ent}:costCenter"), format!("{ent}:costCenter")),
        ] {
            // Act
            let error =
                translate(json!([{"op": "replace", "path": path, "value": long}])).unwrap_err();

            // Assert
            assert_eq!(error.scim_type, Some(ScimType::InvalidValue), "{path}");
            assert!(
                error.detail.contains(&format!("`{attribute}` is longer")),
                "{path}: {}",
                error.detail
            );
        }
    }

    #[test]
    fn a_reserved_user_name_in_a_patch_is_refused() {
        let error =
            translate(json!([{"op": "replace", "path": "userName", "value": "Administrator"}]))
                .unwrap_err();
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
        assert!(error.detail.contains("reserves"), "{}", error.detail);
    }

    #[test]
    fn a_replace_with_an_empty_list_clears_and_an_add_of_one_does_nothing() {
        assert_eq!(
            translate(json!([{"op": "replace", "path": "phoneNumbers", "value": []}])).unwrap(),
            Some(json!([{"op": "remove", "path": "phoneNumbers"}]))
        );
        assert_eq!(
            translate(json!([{"op": "add", "path": "phoneNumbers", "value": []}])).unwrap(),
            None
        );
    }
}
