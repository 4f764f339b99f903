//! Attribute paths as rules name them (`userName`, `name.givenName`, `emails.value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter`): parsing,
//! checking against the resource type's schemas for a use (read, write, remove), and
//! reading, writing and removing values in a resource's JSON.
//!
//! The rules, where SCIM leaves room:
//! - Names match case-insensitively (RFC 7643 §2.1); a write keeps the key's existing
//!   spelling, or uses the schema's canonical spelling for a new key.
//! - A sub-attribute of a multi-valued attribute (`emails.value`) addresses the primary
//!   value, or the first when none is primary; a write where there is no value creates
//!   one, marked `primary: true`. So rules never add a second email, phone number or
//!   address, and Identity Center's "one value each" holds whatever they do.
//! - A path qualified by the core schema URN is the plain path. A path qualified by the
//!   enterprise extension addresses the object under that URN; writing into it adds the
//!   URN to `schemas`, and removing its last attribute removes the object and the URN.
//! - Paths qualified by another URN (an Okta custom extension) may be read and removed,
//!   never written: Identity Center keeps only the core and enterprise attributes.

use std::fmt;

use scim_core::discovery::standard::{AttributeDef, SchemaDef};
use scim_core::discovery::{AttributeType, Mutability};
use scim_core::{ResourceKind, parse_patch_path};
use serde_json::{Map, Value};

use crate::problem::ProblemKind;

/// Attributes Identity Center refuses on users (AWS-DG createuser, putuser; the gateway
/// drops them): rules may not write them.
const REFUSED_USER_ATTRIBUTES: &[&str] = &[
    "password",
    "groups",
    "photos",
    "ims",
    "x509Certificates",
    "entitlements",
];

/// Sub-attributes Identity Center refuses (AWS-DG createuser, limitations).
const REFUSED_SUB_ATTRIBUTES: &[(&str, &str)] = &[
    ("emails", "display"),
    ("phoneNumbers", "display"),
    ("roles", "display"),
    ("manager", "displayName"),
];

/// What a rule does with an attribute, which decides what is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Read in an expression or as the source of `copy`.
    Read,
    /// The source of `rename`: read, then removed.
    Move,
    /// Written by `set`, `default`, `copy` or `rename`.
    Write,
    /// Removed by `remove`.
    Remove,
}

/// Why a path cannot be used as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathProblem {
    pub(crate) kind: ProblemKind,
    pub(crate) message: String,
}

impl PathProblem {
    fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// A checked attribute path of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrRef {
    /// The path as the rule wrote it.
    text: String,
    /// The extension object's key (a schema URN other than the core one), if any.
    extension: Option<String>,
    /// The attribute's name, canonical where the schema knows it.
    name: String,
    /// The sub-attribute's name, canonical where the schema knows it.
    sub: Option<String>,
    /// Whether `name` is multi-valued (so `sub` addresses the primary value).
    multi: bool,
}

impl fmt::Display for AttrRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AttrRef {
    /// Parses `text` as an attribute path of `kind` and checks it for `usage`.
    pub(crate) fn parse(kind: ResourceKind, text: &str, usage: Use) -> Result<Self, PathProblem> {
        let trimmed = text.trim();
        let parsed = parse_patch_path(trimmed).map_err(|e| {
            PathProblem::new(
                ProblemKind::UnknownAttribute,
                format!("`{trimmed}` is not an attribute path ({})", e.0.kind),
            )
        })?;
        if parsed.filter.is_some() {
            return Err(PathProblem::new(
                ProblemKind::UnknownAttribute,
                format!(
                    "`{trimmed}`: value filters are not supported in rules; a sub-attribute \
                     of a multi-valued attribute (`emails.value`) addresses its primary value"
                ),
            ));
        }
        let attr = parsed.attr;
        let core = kind.core().id;
        if attr.is_whole_schema() {
            let urn = attr.urn.unwrap_or_default();
            if usage != Use::Remove || urn.eq_ignore_ascii_case(core) {
                return Err(PathProblem::new(
                    ProblemKind::UnknownAttribute,
                    format!("`{trimmed}` names a whole schema, not an attribute"),
                ));
            }
            // A whole extension, to remove: its object, and its URN from `schemas`.
            return Ok(Self {
                text: trimmed.to_owned(),
                extension: None,
                name: urn,
                sub: None,
                multi: false,
            });
        }
        let extension = attr.urn.filter(|urn| !urn.eq_ignore_ascii_case(core));
        let known_extension = match &extension {
            None => None,
            Some(urn) => match kind.extension(urn) {
                Some(def) => Some(def),
                None => {
                    return foreign(kind, trimmed, urn, attr.name, attr.sub_attr, usage);
                }
            },
        };
        let Some((def, _)) = kind.attribute(known_extension.map(|d| d.id), &attr.name) else {
            return Err(unknown(kind, trimmed, known_extension));
        };
        let sub_def = match &attr.sub_attr {
            None => None,
            Some(sub) => match def.sub_attribute(sub) {
                Some(s) => Some(s),
                None => {
                    return Err(PathProblem::new(
                        ProblemKind::UnknownAttribute,
                        format!(
                            "`{trimmed}`: {} has no sub-attribute `{sub}`{}",
                            def.name,
                            sub_list(def)
                        ),
                    ));
                }
            },
        };
        let path = Self {
            text: trimmed.to_owned(),
            extension: known_extension.map(|d| d.id.to_owned()),
            name: def.name.to_owned(),
            sub: sub_def.map(|s| s.name.to_owned()),
            multi: def.multi_valued,
        };
        path.check(kind, def, sub_def, usage)?;
        Ok(path)
    }

    fn check(
        &self,
        kind: ResourceKind,
        def: &AttributeDef,
        sub_def: Option<&AttributeDef>,
        usage: Use,
    ) -> Result<(), PathProblem> {
        let text = &self.text;
        let structural = ["id", "meta", "schemas"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(def.name));
        if def.name == "password" && usage != Use::Remove {
            return Err(PathProblem::new(
                ProblemKind::RefusedAttribute,
                "rules may not read or write `password`".to_owned(),
            ));
        }
        match usage {
            Use::Read => {}
            Use::Remove | Use::Move if structural => {
                return Err(PathProblem::new(
                    ProblemKind::RefusedAttribute,
                    format!("`{text}` cannot be removed: Identity Center assigns it"),
                ));
            }
            Use::Remove | Use::Move => {}
            Use::Write => {
                if structural || def.mutability == Mutability::ReadOnly {
                    return Err(PathProblem::new(
                        ProblemKind::RefusedAttribute,
                        format!("`{text}` is read-only: Identity Center assigns it"),
                    ));
                }
                if kind == ResourceKind::User
                    && REFUSED_USER_ATTRIBUTES
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(def.name))
                {
                    return Err(PathProblem::new(
                        ProblemKind::RefusedAttribute,
                        format!(
                            "`{text}`: Identity Center refuses {} (it keeps no {0})",
                            def.name
                        ),
                    ));
                }
                if kind == ResourceKind::Group && def.name == "members" {
                    return Err(PathProblem::new(
                        ProblemKind::RefusedAttribute,
                        format!("`{text}`: rules do not write group memberships"),
                    ));
                }
                if let Some(sub) = sub_def
                    && (sub.mutability == Mutability::ReadOnly
                        || REFUSED_SUB_ATTRIBUTES.iter().any(|(p, s)| {
                            p.eq_ignore_ascii_case(def.name) && s.eq_ignore_ascii_case(sub.name)
                        }))
                {
                    return Err(PathProblem::new(
                        ProblemKind::RefusedAttribute,
                        format!(
                            "`{text}`: Identity Center refuses {}.{}",
                            def.name, sub.name
                        ),
                    ));
                }
            }
        }
        if matches!(usage, Use::Remove) {
            return Ok(());
        }
        // Read, moved or written as text: must be a single text (or scalar) value.
        let leaf = sub_def.unwrap_or(def);
        if def.multi_valued && sub_def.is_none() {
            return Err(PathProblem::new(
                ProblemKind::TypeMismatch,
                format!("`{text}` is multi-valued; name a sub-attribute such as `{text}.value`"),
            ));
        }
        if leaf.is_complex() {
            return Err(PathProblem::new(
                ProblemKind::TypeMismatch,
                format!(
                    "`{text}` is complex; name one of its sub-attributes{}",
                    sub_list(leaf)
                ),
            ));
        }
        if usage != Use::Read
            && !matches!(
                leaf.attribute_type,
                AttributeType::String | AttributeType::Reference
            )
        {
            return Err(PathProblem::new(
                ProblemKind::TypeMismatch,
                format!(
                    "`{text}` is a {}; rules write text attributes only",
                    type_name(leaf.attribute_type)
                ),
            ));
        }
        Ok(())
    }

    /// The path as written in the rule.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The canonical, lower-cased identity of the path, for comparing two paths:
    /// `name.givenname`, `urn:…:user:costcenter`.
    pub(crate) fn key(&self) -> String {
        let mut key = String::new();
        if let Some(urn) = &self.extension {
            key.push_str(urn);
            key.push(':');
        }
        key.push_str(&self.name);
        if let Some(sub) = &self.sub {
            key.push('.');
            key.push_str(sub);
        }
        key.to_ascii_lowercase()
    }

    /// Whether `other` is this path or inside it (`name` covers `name.givenName`, a
    /// whole extension covers its attributes).
    pub(crate) fn covers(&self, other: &AttrRef) -> bool {
        let (mine, theirs) = (self.key(), other.key());
        mine == theirs
            || (self.sub.is_none()
                && theirs.len() > mine.len()
                && theirs.starts_with(&mine)
                && matches!(theirs.as_bytes().get(mine.len()), Some(b'.' | b':')))
    }

    /// Whether this path is a top-level core attribute named `name`.
    pub(crate) fn is_core(&self, name: &str) -> bool {
        self.extension.is_none() && self.sub.is_none() && self.name.eq_ignore_ascii_case(name)
    }

    /// The value at this path in `resource`, if any (see the module docs for
    /// multi-valued attributes).
    pub(crate) fn read<'a>(&self, resource: &'a Value) -> Option<&'a Value> {
        let container = match &self.extension {
            None => resource.as_object()?,
            Some(urn) => lookup(resource.as_object()?, urn)?.as_object()?,
        };
        let value = lookup(container, &self.name)?;
        match &self.sub {
            None => Some(value),
            Some(sub) => {
                let object = match value {
                    Value::Array(items) => primary(items)?.as_object()?,
                    Value::Object(object) => object,
                    _ => return None,
                };
                lookup(object, sub)
            }
        }
    }

    /// Writes `value` at this path in `resource`, creating what is missing. A resource
    /// that is not an object is left alone.
    pub(crate) fn write(&self, resource: &mut Value, value: Value) {
        let Some(root) = resource.as_object_mut() else {
            return;
        };
        if let Some(urn) = &self.extension {
            add_schema(root, urn);
        }
        let container = match &self.extension {
            None => root,
            Some(urn) => match object_at(root, urn) {
                Some(object) => object,
                None => return,
            },
        };
        let Some(sub) = &self.sub else {
            insert(container, &self.name, value);
            return;
        };
        if self.multi {
            let slot = entry(container, &self.name);
            if !matches!(slot, Value::Array(items) if items.iter().any(Value::is_object)) {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(items) = slot else {
                return;
            };
            let index = primary_index(items);
            match index
                .and_then(|i| items.get_mut(i))
                .and_then(Value::as_object_mut)
            {
                Some(object) => insert(object, sub, value),
                None => {
                    let mut object = Map::new();
                    object.insert(sub.clone(), value);
                    object.insert("primary".to_owned(), Value::Bool(true));
                    items.insert(0, Value::Object(object));
                }
            }
        } else if let Some(object) = object_at(container, &self.name) {
            insert(object, sub, value);
        }
    }

    /// Removes this path from `resource`; an object left empty by it (`name`, `manager`,
    /// the enterprise extension) goes too.
    pub(crate) fn remove(&self, resource: &mut Value) {
        let Some(root) = resource.as_object_mut() else {
            return;
        };
        let container = match &self.extension {
            None => Some(&mut *root),
            Some(urn) => lookup_mut(root, urn).and_then(Value::as_object_mut),
        };
        let Some(container) = container else {
            return;
        };
        match &self.sub {
            None => {
                let was_extension =
                    take(container, &self.name).is_some() && self.name.contains(':');
                if was_extension
                    && let Some(Value::Array(schemas)) = lookup_mut(container, "schemas")
                {
                    let urn = &self.name;
                    schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
                }
            }
            Some(sub) => {
                let emptied = match lookup_mut(container, &self.name) {
                    Some(Value::Object(object)) => {
                        take(object, sub);
                        object.is_empty()
                    }
                    Some(Value::Array(items)) => {
                        if let Some(object) = primary_index(items)
                            .and_then(|i| items.get_mut(i))
                            .and_then(Value::as_object_mut)
                        {
                            take(object, sub);
                        }
                        false
                    }
                    _ => false,
                };
                if emptied {
                    take(container, &self.name);
                }
            }
        }
        if let Some(urn) = &self.extension {
            let empty = lookup(root, urn)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty);
            if empty {
                take(root, urn);
                if let Some(Value::Array(schemas)) = lookup_mut(root, "schemas") {
                    schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
                }
            }
        }
    }
}

/// A path qualified by an extension URN the resource type does not define.
fn foreign(
    kind: ResourceKind,
    text: &str,
    urn: &str,
    name: String,
    sub: Option<String>,
    usage: Use,
) -> Result<AttrRef, PathProblem> {
    if usage == Use::Write {
        return Err(PathProblem::new(
            ProblemKind::UnknownAttribute,
            format!(
                "`{text}`: Identity Center keeps only the core {} attributes{}, not `{urn}`",
                kind.resource_type(),
                match kind {
                    ResourceKind::User => " and the enterprise extension",
                    ResourceKind::Group => "",
                }
            ),
        ));
    }
    Ok(AttrRef {
        text: text.to_owned(),
        extension: Some(urn.to_owned()),
        name,
        sub,
        multi: false,
    })
}

fn unknown(kind: ResourceKind, text: &str, extension: Option<&SchemaDef>) -> PathProblem {
    let schema = extension.unwrap_or(kind.core());
    let suggestion = closest(
        text.rsplit(':').next().unwrap_or(text),
        schema.attributes.iter().map(|a| a.name),
    );
    PathProblem::new(
        ProblemKind::UnknownAttribute,
        format!(
            "`{text}` is not a {} attribute{}",
            match extension {
                Some(def) => def.name,
                None => kind.resource_type(),
            },
            suggestion
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default()
        ),
    )
}

fn sub_list(def: &AttributeDef) -> String {
    let names: Vec<&str> = def.sub_attributes.iter().map(|s| s.name).collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}

fn type_name(t: AttributeType) -> &'static str {
    match t {
        AttributeType::String => "string",
        AttributeType::Boolean => "boolean",
        AttributeType::Decimal => "decimal",
        AttributeType::Integer => "integer",
        AttributeType::DateTime => "dateTime",
        AttributeType::Binary => "binary",
        AttributeType::Reference => "reference",
        AttributeType::Complex => "complex attribute",
    }
}

/// The candidate closest to `word` by edit distance, ignoring case, if it is close (at
/// most 2 edits) and not the word itself.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d > 0 && *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let delete = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insert = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitute.min(delete).min(insert));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

/// The member `key` of `object`: exactly, else ignoring ASCII case.
pub(crate) fn lookup<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn existing_key(object: &Map<String, Value>, key: &str) -> Option<String> {
    if object.contains_key(key) {
        return Some(key.to_owned());
    }
    object.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

fn lookup_mut<'a>(object: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    let key = existing_key(object, key)?;
    object.get_mut(&key)
}

fn take(object: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let key = existing_key(object, key)?;
    object.shift_remove(&key)
}

/// Sets `key` in `object`, under the key's existing spelling if it has one.
fn insert(object: &mut Map<String, Value>, key: &str, value: Value) {
    let key = existing_key(object, key).unwrap_or_else(|| key.to_owned());
    object.insert(key, value);
}

/// The member `key` of `object`, inserted as `null` if missing.
fn entry<'a>(object: &'a mut Map<String, Value>, key: &str) -> &'a mut Value {
    let key = existing_key(object, key).unwrap_or_else(|| key.to_owned());
    object.entry(key).or_insert(Value::Null)
}

/// The object at `key`, replacing a missing or non-object value with `{}`.
fn object_at<'a>(
    object: &'a mut Map<String, Value>,
    key: &str,
) -> Option<&'a mut Map<String, Value>> {
    let slot = entry(object, key);
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

fn add_schema(root: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(schemas)) = lookup_mut(root, "schemas")
        && !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        schemas.push(Value::String(urn.to_owned()));
    }
}

/// The primary value of a multi-valued attribute, or the first object.
fn primary(items: &[Value]) -> Option<&Value> {
    primary_index(items).and_then(|i| items.get(i))
}

fn primary_index(items: &[Value]) -> Option<usize> {
    items
        .iter()
        .position(|item| {
            item.as_object()
                .and_then(|o| lookup(o, "primary"))
                .is_some_and(|p| p == &Value::Bool(true))
        })
        .or_else(|| items.iter().position(Value::is_object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENTERPRISE: &str = scim_core::ENTERPRISE_USER_SCHEMA;

    fn user(text: &str, usage: Use) -> Result<AttrRef, PathProblem> {
        AttrRef::parse(ResourceKind::User, text, usage)
    }

    #[test]
    fn paths_are_checked_against_the_schemas_for_their_use() {
        // Arrange: (path, use, expected kind of problem or None).
        let cases = [
            ("userName", Use::Write, None),
            ("name.givenName", Use::Write, None),
            ("NAME.GIVENNAME", Use::Write, None),
            ("emails.value", Use::Write, None),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
                Use::Write,
                None,
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                Use::Write,
                None,
            ),
            ("urn:okta:custom:1.0:User:costCode", Use::Read, None),
            ("urn:okta:custom:1.0:User:costCode", Use::Remove, None),
            ("active", Use::Read, None),
            (
                "urn:okta:custom:1.0:User:costCode",
                Use::Write,
                Some(ProblemKind::UnknownAttribute),
            ),
            ("password", Use::Write, Some(ProblemKind::RefusedAttribute)),
            ("password", Use::Read, Some(ProblemKind::RefusedAttribute)),
            ("password", Use::Remove, None),
            (
                "photos.value",
                Use::Write,
                Some(ProblemKind::RefusedAttribute),
            ),
            (
                "groups.value",
                Use::Write,
                Some(ProblemKind::RefusedAttribute),
            ),
            ("id", Use::Write, Some(ProblemKind::RefusedAttribute)),
            (
                "meta.created",
                Use::Write,
                Some(ProblemKind::RefusedAttribute),
            ),
            ("id", Use::Remove, Some(ProblemKind::RefusedAttribute)),
            (
                "emails.display",
                Use::Write,
                Some(ProblemKind::RefusedAttribute),
            ),
            ("active", Use::Write, Some(ProblemKind::TypeMismatch)),
            ("name", Use::Write, Some(ProblemKind::TypeMismatch)),
            ("emails", Use::Read, Some(ProblemKind::TypeMismatch)),
            ("emails", Use::Remove, None),
            ("givenName", Use::Read, Some(ProblemKind::UnknownAttribute)),
            ("name.given", Use::Read, Some(ProblemKind::UnknownAttribute)),
            (
                "emails[type eq \"work\"].value",
                Use::Read,
                Some(ProblemKind::UnknownAttribute),
            ),
            ("user name", Use::Read, Some(ProblemKind::UnknownAttribute)),
        ];
        for (path, usage, expected) in cases {
            // Act
            let result = user(path, usage);

            // Assert
            assert_eq!(result.err().map(|e| e.kind), expected, "{path} {usage:?}");
        }
    }

    #[test]
    fn unknown_attributes_suggest_the_closest_name() {
        let err = user("dispalyName", Use::Read).unwrap_err();
        assert_eq!(
            err.message,
            "`dispalyName` is not a User attribute (did you mean `displayName`?)"
        );
        let err = AttrRef::parse(ResourceKind::Group, "userName", Use::Write).unwrap_err();
        assert_eq!(err.message, "`userName` is not a Group attribute");
    }

    #[test]
    fn reads_find_names_ignoring_case_and_the_primary_value_of_multi_valued_ones() {
        let resource = json!({
            "USERNAME": "bjensen",
            "emails": [{"value": "a@x"}, {"value": "b@x", "primary": true}],
            "phoneNumbers": [{"value": "1"}, {"value": "2"}],
            ENTERPRISE: {"costCenter": "42"}
        });
        let read = |p: &str| user(p, Use::Read).unwrap().read(&resource).cloned();
        assert_eq!(read("userName"), Some(json!("bjensen")));
        assert_eq!(read("emails.value"), Some(json!("b@x")));
        assert_eq!(read("phoneNumbers.value"), Some(json!("1")));
        assert_eq!(read(&format!("{ENTERPRISE}:costCenter")), Some(json!("42")));
        assert_eq!(read("name.givenName"), None);
    }

    #[test]
    fn writes_create_what_is_missing_and_keep_one_value_of_multi_valued_attributes() {
        let mut resource = json!({"schemas": [scim_core::USER_SCHEMA], "Name": {"x": 1}});
        for (path, value) in [
            ("name.givenName", "Barbara"),
            ("emails.value", "b@x"),
            ("emails.type", "work"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
                "42",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                "m",
            ),
        ] {
            user(path, Use::Write)
                .unwrap()
                .write(&mut resource, json!(value));
        }
        assert_eq!(
            resource,
            json!({
                "schemas": [scim_core::USER_SCHEMA, ENTERPRISE],
                "Name": {"x": 1, "givenName": "Barbara"},
                "emails": [{"value": "b@x", "primary": true, "type": "work"}],
                ENTERPRISE: {"costCenter": "42", "manager": {"value": "m"}}
            })
        );
    }

    #[test]
    fn removing_the_last_enterprise_attribute_removes_the_extension_and_its_urn() {
        let mut resource = json!({
            "schemas": [scim_core::USER_SCHEMA, ENTERPRISE],
            "name": {"givenName": "B"},
            ENTERPRISE: {"costCenter": "42"}
        });
        user(&format!("{ENTERPRISE}:costCenter"), Use::Remove)
            .unwrap()
            .remove(&mut resource);
        user("name.givenName", Use::Remove)
            .unwrap()
            .remove(&mut resource);
        assert_eq!(resource, json!({"schemas": [scim_core::USER_SCHEMA]}));
    }

    #[test]
    fn a_path_covers_itself_and_its_sub_attributes_only() {
        let name = user("name", Use::Remove).unwrap();
        let given = user("name.givenName", Use::Read).unwrap();
        let nick = user("nickName", Use::Read).unwrap();
        assert!(name.covers(&given));
        assert!(given.covers(&given));
        assert!(!given.covers(&name));
        assert!(!name.covers(&nick));
    }
}
