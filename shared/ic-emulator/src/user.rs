//! The User resource as Identity Center accepts it (AWS-DG createuser, putuser, patchuser,
//! limitations; `docs/identity-center-dialect.md` §5–7): validation into a canonical
//! attribute map, and PatchUser applied to that map.
//!
//! A stored user is the canonical map [`canonical_user`] returns: attribute names in
//! their schema spelling, nulls dropped, only supported attributes. PatchUser applies its
//! operations to a copy and runs the result through the same validation, so a PATCH can
//! never store what a POST would refuse, and every string it stores holds the Identity
//! Store's 1 to 1024 characters.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::patch::{OpKind, OpPath, PatchOp, element_matches, parse_path};

/// The enterprise extension's key in a user body.
pub(crate) const ENTERPRISE: &str = scim_core::ENTERPRISE_USER_SCHEMA;

/// Longest `userName` (Identity Store API `CreateUser.UserName`;
/// `docs/identity-center-dialect.md` §7).
pub(crate) const MAX_USER_NAME_CHARS: usize = 128;

/// Names the Identity Store reserves for users and groups ("Administrator and
/// AWSAdministrators are reserved names and can't be used for users or groups", Identity
/// Store API `CreateUser` `UserName`, `CreateGroup` `DisplayName`). The API reference does
/// not say whether case matters; the emulator refuses them in any case. That SCIM refuses
/// them too is not yet confirmed against a live tenant (`docs/identity-center-dialect.md` §7).
const RESERVED_NAMES: &[&str] = &["Administrator", "AWSAdministrators"];

/// Whether `name` is reserved for users and groups, ignoring case.
pub(crate) fn is_reserved_name(name: &str) -> bool {
    RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Longest Identity Store string, in characters; the shortest is 1 (Identity Store API
/// `Name`, `Email`, `CreateUser`, `CreateGroup`: "Minimum length of 1. Maximum length of
/// 1024."; `docs/identity-center-dialect.md` §7).
pub(crate) const MAX_STRING_CHARS: usize = 1024;

/// Checks the Identity Store length limit of a string value: 1 to 1024 characters. A
/// value outside it gets Identity Center's generic 400 detail, the answer the archived
/// Okta tutorial reports for users with partial addresses.
pub(crate) fn check_string_length(value: &str) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if (1..=MAX_STRING_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(ApiError::unparsable())
    }
}

const STRINGS: &[&str] = &[
    "externalId",
    "userName",
    "displayName",
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
const PHONE_SUBS: &[&str] = &["value", "type", "primary"];
const ROLE_SUBS: &[&str] = &["value", "type", "primary"];
const ENTERPRISE_SUBS: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];
const MANAGER_SUBS: &[&str] = &["value", "$ref"];
const MULTI: &[&str] = &["emails", "addresses", "phoneNumbers", "roles"];

/// Attributes AWS-DG createuser/putuser/patchuser list as not supported.
const REFUSED: &[&str] = &[
    "password",
    "groups",
    "photos",
    "ims",
    "x509Certificates",
    "entitlements",
];

/// Attributes PatchUser may modify (AWS-DG patchuser), besides the enterprise extension.
const MODIFIABLE: &[&str] = &[
    "userName",
    "active",
    "externalId",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name",
    "emails",
    "addresses",
    "phoneNumbers",
];

/// The order attributes are stored and returned in.
const ORDER: &[&str] = &[
    "externalId",
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "addresses",
    "phoneNumbers",
    "roles",
    ENTERPRISE,
];

/// Which operation produced a user body: the rules on `userName` characters differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserWrite {
    /// CreateUser: letters, accented characters, symbols, numbers, punctuation.
    Create,
    /// PutUser: the same plus spaces (normal and non-breaking).
    Replace,
    /// PatchUser: treated like PutUser (AWS-DG patchuser is silent; our choice).
    Patch,
}

/// The schema spelling of `key` among `names`, ignoring ASCII case.
pub(crate) fn canon(names: &[&'static str], key: &str) -> Option<&'static str> {
    names.iter().copied().find(|n| n.eq_ignore_ascii_case(key))
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::validation(detail)
}

/// A string attribute's value, within the Identity Store's 1–1024 characters.
fn string_of(attr: &str, value: &Value) -> Result<String, ApiError> {
    let text = value
        .as_str()
        .ok_or_else(|| invalid(format!("{attr} must be a string")))?;
    check_string_length(text)?;
    Ok(text.to_owned())
}

/// Validates a user body and returns its canonical attribute map (without `id`, `meta`
/// and `schemas`, which the emulator owns). `active` defaults to `true`.
pub(crate) fn canonical_user(
    input: &Map<String, Value>,
    write: UserWrite,
) -> Result<Map<String, Value>, ApiError> {
    let mut attrs = Map::new();
    for (key, value) in input {
        if value.is_null()
            || ["schemas", "id", "meta"]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(key))
        {
            continue;
        }
        if let Some(refused) = canon(REFUSED, key) {
            return Err(invalid(format!("the {refused} attribute is not supported")));
        }
        if key.eq_ignore_ascii_case(ENTERPRISE) {
            let ext = enterprise(value)?;
            if !ext.is_empty() {
                attrs.insert(ENTERPRISE.to_owned(), Value::Object(ext));
            }
        } else if let Some(name) = canon(STRINGS, key) {
            attrs.insert(name.to_owned(), Value::String(string_of(name, value)?));
        } else if key.eq_ignore_ascii_case("active") {
            let active = value
                .as_bool()
                .ok_or_else(|| invalid("active must be a boolean"))?;
            attrs.insert("active".to_owned(), Value::Bool(active));
        } else if key.eq_ignore_ascii_case("name") {
            let name = complex("name", value, NAME_SUBS)?;
            if !name.is_empty() {
                attrs.insert("name".to_owned(), Value::Object(name));
            }
        } else if let Some(multi) = canon(MULTI, key) {
            if let Some(single) = single_valued(multi, value)? {
                attrs.insert(multi.to_owned(), Value::Array(vec![Value::Object(single)]));
            }
        } else {
            return Err(invalid(format!("the {key} attribute is not supported")));
        }
    }
    require_non_empty(&attrs, "userName")?;
    require_non_empty(&attrs, "displayName")?;
    let name = attrs.get("name").and_then(Value::as_object);
    for sub in ["givenName", "familyName"] {
        let present = name
            .and_then(|n| n.get(sub))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !present {
            return Err(invalid(format!("name.{sub} is required")));
        }
    }
    check_user_name(
        attrs
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        write,
    )?;
    attrs.entry("active").or_insert(Value::Bool(true));
    let mut ordered = Map::new();
    for key in ORDER {
        if let Some(v) = attrs.remove(*key) {
            ordered.insert((*key).to_owned(), v);
        }
    }
    Ok(ordered)
}

fn require_non_empty(attrs: &Map<String, Value>, key: &str) -> Result<(), ApiError> {
    match attrs.get(key).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => Ok(()),
        _ => Err(invalid(format!("{key} is required"))),
    }
}

/// AWS-DG createuser: "The userName field can contain letters, accented characters,
/// symbols, numbers, punctuation"; putuser adds spaces. At most 128 characters.
fn check_user_name(user_name: &str, write: UserWrite) -> Result<(), ApiError> {
    if user_name.chars().count() > MAX_USER_NAME_CHARS {
        return Err(invalid("userName must be at most 128 characters"));
    }
    let allowed_space = |c: char| write != UserWrite::Create && (c == ' ' || c == '\u{a0}');
    if user_name
        .chars()
        .any(|c| c.is_control() || (c.is_whitespace() && !allowed_space(c)))
    {
        return Err(invalid("userName contains a character that is not allowed"));
    }
    if is_reserved_name(user_name) {
        return Err(invalid("userName is reserved"));
    }
    Ok(())
}

/// A complex attribute whose sub-attributes are all strings.
fn complex(
    attr: &str,
    value: &Value,
    subs: &[&'static str],
) -> Result<Map<String, Value>, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid(format!("{attr} must be an object")))?;
    let mut out = Map::new();
    for (key, v) in object {
        if v.is_null() {
            continue;
        }
        let sub =
            canon(subs, key).ok_or_else(|| invalid(format!("{attr}.{key} is not supported")))?;
        out.insert(sub.to_owned(), Value::String(string_of(sub, v)?));
    }
    Ok(out)
}

/// A multi-valued attribute that Identity Center caps at one value (AWS-DG limitations:
/// "does not support multi-valued attributes"). `None` for an empty list.
fn single_valued(
    attr: &'static str,
    value: &Value,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let values = value
        .as_array()
        .ok_or_else(|| invalid(format!("{attr} must be a list")))?;
    let element = match values.as_slice() {
        [] => return Ok(None),
        [one] => one,
        _ => return Err(invalid(format!("only one value is permitted for {attr}"))),
    };
    let object = element
        .as_object()
        .ok_or_else(|| invalid(format!("{attr} values must be objects")))?;
    let subs = match attr {
        "emails" => EMAIL_SUBS,
        "addresses" => ADDRESS_SUBS,
        "phoneNumbers" => PHONE_SUBS,
        _ => ROLE_SUBS,
    };
    let mut out = Map::new();
    for (key, v) in object {
        if v.is_null() {
            continue;
        }
        if key.eq_ignore_ascii_case("display") {
            return Err(invalid(format!(
                "the display sub-attribute of {attr} is not supported"
            )));
        }
        let sub =
            canon(subs, key).ok_or_else(|| invalid(format!("{attr}.{key} is not supported")))?;
        let v = if sub == "primary" {
            Value::Bool(
                v.as_bool()
                    .ok_or_else(|| invalid(format!("{attr}.primary must be a boolean")))?,
            )
        } else {
            let s = string_of(sub, v)?;
            if attr == "addresses" && s.chars().any(char::is_control) {
                return Err(invalid(
                    "addresses contains a character that is not allowed",
                ));
            }
            Value::String(s)
        };
        out.insert(sub.to_owned(), v);
    }
    if attr != "addresses" && !out.get("value").is_some_and(Value::is_string) {
        return Err(invalid(format!("{attr}.value is required")));
    }
    if attr == "emails" && out.get("primary") != Some(&Value::Bool(true)) {
        return Err(invalid("the emails value must be marked as primary"));
    }
    Ok(Some(out))
}

/// The enterprise extension: `employeeNumber`, `costCenter`, `organization`, `division`,
/// `department`, and `manager` with `value` and `$ref` (not `displayName`).
fn enterprise(value: &Value) -> Result<Map<String, Value>, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| invalid("the enterprise extension must be an object"))?;
    let mut out = Map::new();
    for (key, v) in object {
        if v.is_null() {
            continue;
        }
        let sub = canon(ENTERPRISE_SUBS, key)
            .ok_or_else(|| invalid(format!("enterprise attribute {key} is not supported")))?;
        if sub == "manager" {
            if let Some(m) = v.as_object()
                && m.keys().any(|k| k.eq_ignore_ascii_case("displayName"))
            {
                return Err(invalid(
                    "the displayName sub-attribute of manager is not supported",
                ));
            }
            let manager = complex("manager", v, MANAGER_SUBS)?;
            if !manager.is_empty() {
                out.insert(sub.to_owned(), Value::Object(manager));
            }
        } else {
            out.insert(sub.to_owned(), Value::String(string_of(sub, v)?));
        }
    }
    Ok(out)
}

/// The `manager.value` of a canonical user, for the `id … and manager …` filter.
pub(crate) fn manager_of(attrs: &Map<String, Value>) -> Option<&str> {
    attrs
        .get(ENTERPRISE)?
        .get("manager")?
        .get("value")?
        .as_str()
}

/// Where one expanded PATCH step lands, in canonical names.
#[derive(Debug)]
struct Target {
    /// The top-level key: a [`MODIFIABLE`] name or [`ENTERPRISE`].
    top: &'static str,
    /// Canonical keys below `top` (a sub-attribute, or an extension attribute and its sub).
    rest: Vec<&'static str>,
    /// A value filter on the multi-valued `top`.
    filter: Option<scim_core::Filter>,
}

fn not_modifiable(attr: &str) -> ApiError {
    invalid(format!("modification of {attr} is not supported"))
}

fn resolve(path: &OpPath) -> Result<Target, ApiError> {
    if path.extension {
        let mut rest = Vec::new();
        if let Some(attr) = &path.attr {
            let attr = canon(ENTERPRISE_SUBS, attr).ok_or_else(|| not_modifiable(attr))?;
            rest.push(attr);
            if let Some(sub) = &path.sub {
                let sub = (attr == "manager")
                    .then(|| canon(MANAGER_SUBS, sub))
                    .flatten();
                rest.push(sub.ok_or_else(|| not_modifiable("this extension sub-attribute"))?);
            }
        }
        if path.filter.is_some() {
            return Err(invalid(
                "value filters apply only to emails, addresses and phoneNumbers",
            ));
        }
        return Ok(Target {
            top: ENTERPRISE,
            rest,
            filter: None,
        });
    }
    let attr = path.attr.as_deref().unwrap_or_default();
    let top = canon(MODIFIABLE, attr).ok_or_else(|| not_modifiable(attr))?;
    let subs: &[&'static str] = match top {
        "name" => NAME_SUBS,
        "emails" => EMAIL_SUBS,
        "addresses" => ADDRESS_SUBS,
        "phoneNumbers" => PHONE_SUBS,
        _ => &[],
    };
    let mut rest = Vec::new();
    if let Some(sub) = &path.sub {
        rest.push(canon(subs, sub).ok_or_else(|| not_modifiable(&format!("{top}.{sub}")))?);
    }
    if path.filter.is_some() && !MULTI.contains(&top) {
        return Err(invalid(
            "value filters apply only to emails, addresses and phoneNumbers",
        ));
    }
    Ok(Target {
        top,
        rest,
        filter: path.filter.clone(),
    })
}

/// Applies PatchUser operations to a canonical user and returns the validated result.
///
/// AWS-DG patchuser rules enforced here (beyond those of [`crate::patch::parse_patch`]):
/// only the modifiable attributes; no `remove` of `userName` or `active`; not more than
/// one operation on `userName`, nor more than one on `active`; `active` may be the string
/// `"true"`/`"false"` (AWS's own example sends `"false"`).
pub(crate) fn patch_user(
    current: &Map<String, Value>,
    ops: &[PatchOp],
) -> Result<Map<String, Value>, ApiError> {
    let mut steps = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) => steps.push((op.op, resolve(path)?, op.value.clone())),
            None => {
                let object = op
                    .value
                    .as_ref()
                    .and_then(Value::as_object)
                    .ok_or_else(|| invalid("an operation without a path needs an object value"))?;
                for (key, value) in object {
                    steps.push((op.op, resolve(&parse_path(key)?)?, Some(value.clone())));
                }
            }
        }
    }
    for guarded in ["userName", "active"] {
        let on_it = steps.iter().filter(|(_, t, _)| t.top == guarded);
        if on_it.clone().any(|(op, _, _)| *op == OpKind::Remove) {
            return Err(invalid(format!(
                "the remove operation is not supported for {guarded}"
            )));
        }
        if on_it.count() > 1 {
            return Err(invalid(format!(
                "multiple operations on {guarded} are not supported"
            )));
        }
    }
    let mut attrs = current.clone();
    for (op, target, value) in steps {
        let value = match (target.top, value) {
            ("active", Some(Value::String(s))) if s.eq_ignore_ascii_case("true") => {
                Some(Value::Bool(true))
            }
            ("active", Some(Value::String(s))) if s.eq_ignore_ascii_case("false") => {
                Some(Value::Bool(false))
            }
            (_, v) => v,
        };
        apply(&mut attrs, op, &target, value)?;
    }
    canonical_user(&attrs, UserWrite::Patch)
}

fn no_target() -> ApiError {
    invalid("the path did not match a value that can be changed")
}

fn apply(
    attrs: &mut Map<String, Value>,
    op: OpKind,
    target: &Target,
    value: Option<Value>,
) -> Result<(), ApiError> {
    let value = value.unwrap_or(Value::Null);
    if let Some(filter) = &target.filter {
        let sub = target.rest.first().copied();
        let Some(Value::Array(values)) = attrs.get_mut(target.top) else {
            return if op == OpKind::Remove {
                Ok(())
            } else {
                Err(no_target())
            };
        };
        let matching: Vec<usize> = (0..values.len())
            .filter(|i| element_matches(filter, &values[*i]))
            .collect();
        if matching.is_empty() {
            return if op == OpKind::Remove {
                Ok(())
            } else {
                Err(no_target())
            };
        }
        match (op, sub) {
            (OpKind::Remove, None) => {
                let mut index = 0;
                values.retain(|_| {
                    index += 1;
                    !matching.contains(&(index - 1))
                });
            }
            (OpKind::Remove, Some(sub)) => {
                for i in matching {
                    if let Some(obj) = values[i].as_object_mut() {
                        obj.remove(sub);
                    }
                }
            }
            (_, Some(sub)) => {
                for i in matching {
                    if let Some(obj) = values[i].as_object_mut() {
                        obj.insert(sub.to_owned(), value.clone());
                    }
                }
            }
            (OpKind::Replace, None) => {
                for i in matching {
                    values[i] = value.clone();
                }
            }
            (OpKind::Add, None) => {
                for i in matching {
                    merge(&mut values[i], &value);
                }
            }
        }
        return Ok(());
    }
    let mut keys = vec![target.top];
    keys.extend(target.rest.iter().copied());
    apply_at(attrs, &keys, op, value)
}

fn merge(into: &mut Value, from: &Value) {
    match (into.as_object_mut(), from.as_object()) {
        (Some(into), Some(from)) => {
            for (k, v) in from {
                into.insert(k.clone(), v.clone());
            }
        }
        _ => *into = from.clone(),
    }
}

fn apply_at(
    map: &mut Map<String, Value>,
    keys: &[&'static str],
    op: OpKind,
    value: Value,
) -> Result<(), ApiError> {
    let Some((&key, deeper)) = keys.split_first() else {
        return Ok(());
    };
    let multi = MULTI.contains(&key);
    if deeper.is_empty() {
        let value = match value {
            Value::Object(_) if multi => Value::Array(vec![value]),
            v => v,
        };
        match op {
            OpKind::Remove => {
                map.remove(key);
            }
            OpKind::Add => match (map.get_mut(key), value) {
                (Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
                (Some(existing @ Value::Object(_)), v @ Value::Object(_)) => merge(existing, &v),
                (_, v) => {
                    map.insert(key.to_owned(), v);
                }
            },
            OpKind::Replace => match (map.get_mut(key), value) {
                (Some(existing @ Value::Object(_)), v @ Value::Object(_)) => merge(existing, &v),
                (_, v) => {
                    map.insert(key.to_owned(), v);
                }
            },
        }
        return Ok(());
    }
    match map.get_mut(key) {
        Some(Value::Object(child)) => apply_at(child, deeper, op, value),
        Some(Value::Array(values)) => {
            for v in values.iter_mut() {
                if let Value::Object(child) = v {
                    apply_at(child, deeper, op, value.clone())?;
                }
            }
            Ok(())
        }
        None | Some(Value::Null) if op == OpKind::Remove => Ok(()),
        None | Some(Value::Null) if !multi => {
            let mut child = Map::new();
            apply_at(&mut child, deeper, op, value)?;
            map.insert(key.to_owned(), Value::Object(child));
            Ok(())
        }
        _ => Err(no_target()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::parse_patch;
    use serde_json::json;

    fn body() -> Value {
        json!({
            "schemas": [scim_core::USER_SCHEMA],
            "userName": "jdoe",
            "name": {"givenName": "John", "familyName": "Doe"},
            "displayName": "John Doe",
            "emails": [{"value": "jdoe@example.com", "type": "work", "primary": true}]
        })
    }

    fn create(v: Value) -> Result<Map<String, Value>, ApiError> {
        canonical_user(v.as_object().unwrap(), UserWrite::Create)
    }

    #[test]
    fn canonical_user_fixes_names_and_defaults_active() {
        let mut v = body();
        v["USERNAME"] = v["userName"].take();
        v.as_object_mut().unwrap().remove("userName");
        let user = create(v).unwrap();
        assert_eq!(user["userName"], "jdoe");
        assert_eq!(user["active"], true);
        assert!(user.get("schemas").is_none());
    }

    #[test]
    fn username_of_129_characters_is_rejected() {
        // Identity Store CreateUser.UserName: at most 128 characters
        // (`docs/identity-center-dialect.md` §7).
        let mut v = body();
        v["userName"] = json!("a".repeat(128));
        assert!(create(v.clone()).is_ok());
        v["userName"] = json!("é".repeat(129));
        assert!(create(v).is_err());
    }

    #[test]
    fn create_user_refuses_spaces_in_username_but_put_user_allows_them() {
        // AWS-DG createuser vs putuser: PutUser adds "space (normal and nonbreaking)".
        let mut v = body();
        v["userName"] = json!("john doe");
        assert!(create(v.clone()).is_err());
        assert!(canonical_user(v.as_object().unwrap(), UserWrite::Replace).is_ok());
        v["userName"] = json!("john\tdoe");
        assert!(canonical_user(v.as_object().unwrap(), UserWrite::Replace).is_err());
    }

    #[test]
    fn strings_must_hold_1_to_1024_characters() {
        // Identity Store API Name, Email, CreateUser: "Minimum length of 1. Maximum
        // length of 1024."
        assert!(check_string_length("a").is_ok());
        assert!(check_string_length(&"é".repeat(1024)).is_ok());
        for bad in [String::new(), "a".repeat(1025)] {
            let err = check_string_length(&bad).unwrap_err();
            assert_eq!(err.detail, crate::error::UNPARSABLE);
        }
    }

    #[test]
    fn reserved_usernames_are_rejected() {
        for reserved in ["Administrator", "awsadministrators"] {
            let mut v = body();
            v["userName"] = json!(reserved);
            assert!(create(v).is_err(), "{reserved}");
        }
    }

    #[test]
    fn manager_value_is_read_from_the_extension() {
        let mut v = body();
        v[ENTERPRISE] = json!({"department": "Ops", "manager": {"value": "m-1"}});
        let user = create(v).unwrap();
        assert_eq!(manager_of(&user), Some("m-1"));
    }

    #[test]
    fn patch_replace_of_name_sub_attribute_keeps_the_rest() {
        let user = create(body()).unwrap();
        let ops = parse_patch(
            &json!({"Operations":[{"op":"replace","path":"name.givenName","value":"Jon"}]}),
        )
        .unwrap();
        let patched = patch_user(&user, &ops).unwrap();
        assert_eq!(
            patched["name"],
            json!({"givenName":"Jon","familyName":"Doe"})
        );
    }

    #[test]
    fn patch_add_of_a_second_email_is_rejected_as_multi_valued() {
        let user = create(body()).unwrap();
        let ops = parse_patch(&json!({"Operations":[{"op":"add","path":"emails","value":[{"value":"b@example.com","primary":true}]}]})).unwrap();
        assert!(patch_user(&user, &ops).is_err());
    }

    #[test]
    fn patch_pathless_replace_with_object_sets_each_attribute() {
        // Okta's deactivation body (OKTA-SCIM20): no path, value {"active": false}. Each
        // path-less operation modifies a single attribute (authentik #12321).
        let user = create(body()).unwrap();
        let ops = parse_patch(&json!({"Operations":[
            {"op":"replace","value":{"active":false}},
            {"op":"replace","value":{"title":"CTO"}}
        ]}))
        .unwrap();
        let patched = patch_user(&user, &ops).unwrap();
        assert_eq!(patched["active"], false);
        assert_eq!(patched["title"], "CTO");
    }

    #[test]
    fn patch_enterprise_manager_value_by_urn_path() {
        let user = create(body()).unwrap();
        let path = format!("{ENTERPRISE}:manager.value");
        let ops =
            parse_patch(&json!({"Operations":[{"op":"add","path":path,"value":"m-9"}]})).unwrap();
        let patched = patch_user(&user, &ops).unwrap();
        assert_eq!(manager_of(&patched), Some("m-9"));
    }

    #[test]
    fn patch_removing_a_required_attribute_is_rejected() {
        let user = create(body()).unwrap();
        let ops =
            parse_patch(&json!({"Operations":[{"op":"remove","path":"displayName"}]})).unwrap();
        assert!(patch_user(&user, &ops).is_err());
    }
}
