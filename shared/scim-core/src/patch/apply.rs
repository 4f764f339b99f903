//! The PATCH applier: RFC 7644 §3.5.2.1–3 (`add`, `remove`, `replace`) on a resource's
//! JSON.
//!
//! What it does, where the RFC leaves room:
//! - **Atomic** (§3.5.2): operations run on a copy that replaces the resource only when
//!   every one succeeded.
//! - **Names** match case-insensitively (RFC 7643 §2.1). Keys the resource already has
//!   keep their spelling; new known attributes get their canonical one.
//! - **Without `path`** the value's attributes are applied one by one as if each were a
//!   path, so `name` merges, multi-valued attributes append (add) or are replaced
//!   (replace). Keys may be URN-qualified or dotted (`name.givenName`), as Azure sends.
//! - **Complex attributes** merge on both add and replace (§3.5.2.3: sub-attributes not
//!   given are left unchanged); `null` unassigns (RFC 7643 §2.5).
//! - **Multi-valued add** merges a value into an existing one with the same `value` (and
//!   `type`, when both have one) instead of duplicating it: adding a member twice, or
//!   Okta re-adding members with `display`, changes nothing else.
//! - **`remove` with a value list** on a multi-valued path removes the listed values
//!   (matched by `value`), as Identity Center documents and Azure sends; an empty list or
//!   no value removes the attribute.
//! - **`add` with a value filter that matches nothing** creates the value when the filter
//!   is a conjunction of `eq` comparisons (`emails[type eq "work"].value`, Azure's form);
//!   otherwise, and for remove/replace, it is `noTarget` (§3.5.2.2, §3.5.2.3).
//! - **Extensions**: an attribute added under a schema URN lands in that extension's
//!   object and the URN joins `schemas`; removing an extension's last attribute drops the
//!   object and the URN.
//! - **Errors**: `mutability` for changing a `readOnly` top-level attribute (`id`, `meta`,
//!   a User's `groups`) or an `immutable` one that has a value, and for removing a
//!   required one (§3.5.2); a `readOnly` value sent unchanged is tolerated, because Okta
//!   echoes `id` in a group rename. `invalidValue` for a value of the wrong type or two
//!   `primary` values; `invalidPath` for a filter or sub-attribute on an attribute that
//!   cannot have one; `noTarget` as above.
//! - **Primary** (RFC 7643 §2.4): a value written with `primary: true` takes the flag
//!   from the others.
//!
//! Characteristics come from the standard schema table; attributes outside it are
//! handled by the shape of their JSON, so unknown attributes patch losslessly too.

use serde_json::{Map, Value};

use super::{PatchOp, PatchOpKind, PatchOperation};
use crate::discovery::standard::AttributeDef;
use crate::discovery::{AttributeType, Mutability};
use crate::filter::parser::parse_attr_path;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter, matches};
use crate::resource::{canonical_attribute_value, parse_bool_text};
use crate::{ResourceKind, ScimError};

/// Applies a PATCH request to a resource (RFC 7644 §3.5.2), all or nothing: on error the
/// resource is left as it was. The resource's kind (User or Group) is read from its
/// `schemas` or `meta.resourceType`; without either, both schemas are consulted.
pub fn apply_patch(resource: &mut Value, patch: &PatchOp) -> Result<(), ScimError> {
    let kind = ResourceKind::of(resource);
    let Value::Object(original) = &*resource else {
        return Err(ScimError::internal(
            "the resource to patch is not a JSON object",
        ));
    };
    let mut working = original.clone();
    for (index, operation) in patch.operations.iter().enumerate() {
        Patcher {
            resource: &mut working,
            kind,
            op: operation.op,
        }
        .apply(operation)
        .map_err(|e| ScimError {
            detail: format!("Operations[{index}]: {}", e.detail),
            ..e
        })?;
    }
    *resource = Value::Object(working);
    Ok(())
}

/// One operation at work on the resource copy.
struct Patcher<'r> {
    resource: &'r mut Map<String, Value>,
    kind: Option<ResourceKind>,
    op: PatchOpKind,
}

/// Where an attribute lives: at the top, or inside an extension object.
#[derive(Debug)]
struct Location {
    /// The key of the extension object, `None` for the top level.
    extension: Option<String>,
    /// The attribute name: the resource's existing spelling is found case-insensitively,
    /// and this (canonical when known) spelling is used for new keys.
    name: String,
    def: Option<&'static AttributeDef>,
}

impl Patcher<'_> {
    fn apply(&mut self, operation: &PatchOperation) -> Result<(), ScimError> {
        let value = operation.value.as_ref();
        match &operation.path {
            None if self.op == PatchOpKind::Remove => {
                Err(ScimError::no_target("remove needs a \"path\""))
            }
            None => self.apply_pathless(value),
            Some(path) => {
                if path.attr.is_whole_schema() {
                    let urn = path.attr.urn.as_deref().unwrap_or_default();
                    return self.apply_whole_schema(urn, value);
                }
                self.apply_attr(
                    &path.attr,
                    path.filter.as_ref(),
                    path.sub_attr.as_deref(),
                    value,
                )
            }
        }
    }

    /// `add`/`replace` without a path: every attribute of the value, as if it were a path.
    fn apply_pathless(&mut self, value: Option<&Value>) -> Result<(), ScimError> {
        let Some(Value::Object(attributes)) = value else {
            return Err(ScimError::invalid_value(format!(
                "{} without a \"path\" needs an object of attributes as \"value\"",
                self.op
            )));
        };
        for (key, value) in attributes {
            // `schemas` follows the extensions written; it is not patched directly.
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            // Keys may be paths themselves; a key that is not one is an attribute name as is.
            let attr = parse_attr_path(key, 0).unwrap_or_else(|_| AttrPath::simple(key.clone()));
            if attr.is_whole_schema() {
                let urn = attr.urn.as_deref().unwrap_or_default();
                self.apply_whole_schema(urn, Some(value))?;
            } else {
                self.apply_attr(&attr, None, None, Some(value))?;
            }
        }
        Ok(())
    }

    /// A path (or path-less key) that is a schema URN alone: the core schema means the
    /// resource itself, an extension URN its whole object.
    fn apply_whole_schema(&mut self, urn: &str, value: Option<&Value>) -> Result<(), ScimError> {
        if self.is_core_urn(urn) {
            return match self.op {
                PatchOpKind::Remove => Err(ScimError::invalid_path(
                    "the resource's core schema cannot be removed",
                )),
                _ => self.apply_pathless(value),
            };
        }
        let key = self.extension_key(urn);
        if self.op == PatchOpKind::Remove {
            self.resource.shift_remove(&key);
            self.remove_schema(&key);
            return Ok(());
        }
        let Some(Value::Object(attributes)) = value else {
            return Err(ScimError::invalid_value(format!(
                "the value of `{key}` must be an object"
            )));
        };
        for (name, value) in attributes {
            let attr = AttrPath {
                urn: Some(key.clone()),
                name: name.clone(),
                sub_attr: None,
            };
            self.apply_attr(&attr, None, None, Some(value))?;
        }
        Ok(())
    }

    fn apply_attr(
        &mut self,
        attr: &AttrPath,
        filter: Option<&Filter>,
        filter_sub: Option<&str>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let location = self.locate(attr);
        let sub = attr.sub_attr.as_deref().or(filter_sub);
        // With a filter and no sub-attribute, the value is one value of the attribute.
        let as_element = filter.is_some() && sub.is_none();
        let value = self.coerce(&location, sub, value, as_element)?;
        self.check_mutability(&location, sub, filter, value.as_ref())?;
        if let Some(extension) = &location.extension
            && self.op != PatchOpKind::Remove
        {
            self.ensure_extension(extension)?;
        }
        let op = self.op;
        let Some(container) = self.container(&location)? else {
            // Removing from an extension the resource does not have: nothing to remove,
            // unless a filter promised a target.
            return match filter {
                Some(_) => Err(ScimError::no_target(no_match(&location.name))),
                None => Ok(()),
            };
        };
        match filter {
            Some(filter) => write_filtered(container, &location, filter, sub, value, op)?,
            None if op == PatchOpKind::Remove => remove(container, &location, sub, value.as_ref()),
            None => write(container, &location, sub, value.unwrap_or(Value::Null), op)?,
        }
        // Also after add/replace: writing only nulls into a new extension leaves it empty.
        if let Some(extension) = &location.extension {
            self.drop_extension_if_empty(extension);
        }
        Ok(())
    }

    /// Resolves the path's schema URN and attribute name against the resource and the
    /// schema table.
    fn locate(&self, attr: &AttrPath) -> Location {
        let urn = attr.urn.as_deref().filter(|urn| !self.is_core_urn(urn));
        let def = self
            .kinds()
            .iter()
            .find_map(|kind| kind.attribute(urn, &attr.name))
            .map(|(d, _)| d);
        Location {
            extension: urn.map(|urn| self.extension_key(urn)),
            name: def.map_or_else(|| attr.name.clone(), |d| d.name.to_owned()),
            def,
        }
    }

    fn kinds(&self) -> &'static [ResourceKind] {
        match self.kind {
            Some(ResourceKind::User) => &[ResourceKind::User],
            Some(ResourceKind::Group) => &[ResourceKind::Group],
            None => &[ResourceKind::User, ResourceKind::Group],
        }
    }

    fn is_core_urn(&self, urn: &str) -> bool {
        self.kinds()
            .iter()
            .any(|kind| kind.core().id.eq_ignore_ascii_case(urn))
    }

    /// The key an extension's object has, or gets: the resource's spelling, else the
    /// standard URN's canonical one, else the URN as written.
    fn extension_key(&self, urn: &str) -> String {
        if let Some(key) = find_key(self.resource, urn) {
            return key;
        }
        self.kinds()
            .iter()
            .find_map(|kind| kind.extension(urn))
            .map_or_else(|| urn.to_owned(), |e| e.id.to_owned())
    }

    /// The value to write, shaped by the attribute's definition: keys canonical, booleans
    /// read leniently, types checked, a single value for a multi-valued attribute wrapped.
    fn coerce(
        &self,
        location: &Location,
        sub: Option<&str>,
        value: Option<&Value>,
        as_element: bool,
    ) -> Result<Option<Value>, ScimError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let def = match sub {
            Some(sub) => location.def.and_then(|d| d.sub_attribute(sub)),
            None => location.def,
        };
        let Some(def) = def else {
            return Ok(Some(value.clone()));
        };
        // A remove's value lists values to remove; only their keys need canonical case.
        if self.op == PatchOpKind::Remove {
            return Ok(Some(canonical_attribute_value(value.clone(), def)));
        }
        check_type(
            def,
            canonical_attribute_value(value.clone(), def),
            as_element,
        )
        .map(Some)
    }

    fn check_mutability(
        &self,
        location: &Location,
        sub: Option<&str>,
        filter: Option<&Filter>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let Some(def) = location.def else {
            return Ok(());
        };
        let whole = sub.is_none() && filter.is_none();
        let current = self
            .container_ref(location)
            .and_then(|c| find_key(c, &location.name).and_then(|k| c.get(&k)))
            .filter(|v| !v.is_null());
        let unchanged = whole && self.op != PatchOpKind::Remove && current == value;
        let name = def.name;
        match def.mutability {
            Mutability::ReadOnly if !unchanged => {
                return Err(ScimError::mutability(format!("`{name}` is read-only")));
            }
            Mutability::Immutable if current.is_some() && !unchanged => {
                return Err(ScimError::mutability(format!(
                    "`{name}` is immutable once set"
                )));
            }
            _ => {}
        }
        let unassigns = self.op == PatchOpKind::Remove || value.is_some_and(Value::is_null);
        if def.required && whole && unassigns {
            return Err(ScimError::mutability(format!(
                "`{name}` is required and cannot be removed"
            )));
        }
        Ok(())
    }

    fn container_ref(&self, location: &Location) -> Option<&Map<String, Value>> {
        match &location.extension {
            None => Some(self.resource),
            Some(key) => self.resource.get(key)?.as_object(),
        }
    }

    fn container(
        &mut self,
        location: &Location,
    ) -> Result<Option<&mut Map<String, Value>>, ScimError> {
        let Some(key) = &location.extension else {
            return Ok(Some(self.resource));
        };
        match self.resource.get_mut(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object)),
            Some(_) => Err(ScimError::invalid_path(format!(
                "`{key}` is not an extension object"
            ))),
        }
    }

    /// Creates the extension object if missing and lists its URN in `schemas`.
    fn ensure_extension(&mut self, key: &str) -> Result<(), ScimError> {
        match self.resource.get(key) {
            Some(Value::Object(_)) => {}
            None | Some(Value::Null) => {
                self.resource
                    .insert(key.to_owned(), Value::Object(Map::new()));
            }
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "`{key}` is not an extension object"
                )));
            }
        }
        let schemas_key =
            find_key(self.resource, "schemas").unwrap_or_else(|| "schemas".to_owned());
        let core = self.kind.map(|k| k.core().id);
        let schemas = self.resource.entry(schemas_key).or_insert_with(|| {
            Value::Array(
                core.into_iter()
                    .map(|c| Value::String(c.to_owned()))
                    .collect(),
            )
        });
        if let Value::Array(list) = schemas
            && !list
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(key)))
        {
            list.push(Value::String(key.to_owned()));
        }
        Ok(())
    }

    fn drop_extension_if_empty(&mut self, key: &str) {
        if self
            .resource
            .get(key)
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty)
        {
            self.resource.shift_remove(key);
            self.remove_schema(key);
        }
    }

    fn remove_schema(&mut self, urn: &str) {
        let Some(schemas_key) = find_key(self.resource, "schemas") else {
            return;
        };
        if let Some(Value::Array(list)) = self.resource.get_mut(&schemas_key) {
            list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}

/// Checks (and where lenient, converts) a value against its definition. `element` is set
/// for one value of a multi-valued attribute.
fn check_type(def: &AttributeDef, value: Value, element: bool) -> Result<Value, ScimError> {
    if value.is_null() {
        return Ok(value);
    }
    if def.multi_valued && !element {
        let items = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        return items
            .into_iter()
            .map(|v| check_type(def, v, true))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    let wrong =
        |expected: &str| ScimError::invalid_value(format!("`{}` must be {expected}", def.name));
    match (def.attribute_type, value) {
        (AttributeType::Boolean, Value::Bool(b)) => Ok(Value::Bool(b)),
        (AttributeType::Boolean, Value::String(s)) => parse_bool_text(&s)
            .map(Value::Bool)
            .ok_or_else(|| wrong("a boolean")),
        (AttributeType::Boolean, _) => Err(wrong("a boolean")),
        (
            AttributeType::String
            | AttributeType::Reference
            | AttributeType::DateTime
            | AttributeType::Binary,
            value,
        ) => value
            .is_string()
            .then_some(value)
            .ok_or_else(|| wrong("a string")),
        (AttributeType::Integer, value) => (value.is_i64() || value.is_u64())
            .then_some(value)
            .ok_or_else(|| wrong("an integer")),
        (AttributeType::Decimal, value) => value
            .is_number()
            .then_some(value)
            .ok_or_else(|| wrong("a number")),
        (AttributeType::Complex, Value::Object(object)) => object
            .into_iter()
            .map(|(key, v)| match def.sub_attribute(&key) {
                Some(sub) => check_type(sub, v, false).map(|v| (key, v)),
                None => Ok((key, v)),
            })
            .collect::<Result<Map<_, _>, _>>()
            .map(Value::Object),
        (AttributeType::Complex, _) => Err(wrong("an object")),
    }
}

/// `add`/`replace` without a value filter.
fn write(
    container: &mut Map<String, Value>,
    location: &Location,
    sub: Option<&str>,
    value: Value,
    op: PatchOpKind,
) -> Result<(), ScimError> {
    let key = find_key(container, &location.name).unwrap_or_else(|| location.name.clone());
    let multi_valued = location.def.map(|d| d.multi_valued);
    if let Some(sub) = sub {
        return write_sub(container, key, multi_valued.unwrap_or(false), sub, value);
    }
    if value.is_null() {
        container.shift_remove(&key);
        return Ok(());
    }
    let existing = container.get_mut(&key).filter(|v| !v.is_null());
    let is_multi = multi_valued.unwrap_or_else(|| match &existing {
        Some(current) => current.is_array(),
        None => value.is_array(),
    });
    match existing {
        Some(Value::Array(items)) if is_multi => {
            let incoming = into_items(value);
            let written = match op {
                PatchOpKind::Add => append(items, incoming),
                _ => {
                    *items = incoming;
                    (0..items.len()).collect()
                }
            };
            enforce_single_primary(items, &written)
        }
        Some(Value::Object(current)) if value.is_object() => {
            merge(current, value);
            Ok(())
        }
        _ => {
            let value = if is_multi {
                Value::Array(into_items(value))
            } else {
                value
            };
            if let Value::Array(items) = &value {
                let all: Vec<usize> = (0..items.len()).collect();
                check_single_primary(items, &all)?;
            }
            container.insert(key, value);
            Ok(())
        }
    }
}

/// Writes one sub-attribute: of a complex attribute, or of every value of a multi-valued
/// one (a sub-attribute path without a filter addresses them all).
fn write_sub(
    container: &mut Map<String, Value>,
    key: String,
    multi_valued: bool,
    sub: &str,
    value: Value,
) -> Result<(), ScimError> {
    match container.get_mut(&key) {
        None | Some(Value::Null) => {
            if value.is_null() {
                return Ok(());
            }
            let mut object = Map::new();
            object.insert(sub.to_owned(), value);
            let new = if multi_valued {
                Value::Array(vec![Value::Object(object)])
            } else {
                Value::Object(object)
            };
            container.insert(key, new);
            Ok(())
        }
        Some(Value::Object(object)) => {
            set_member(object, sub, value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(object) = item {
                    set_member(object, sub, value.clone());
                }
            }
            check_single_primary(items, &(0..items.len()).collect::<Vec<_>>())
        }
        Some(_) => Err(ScimError::invalid_path(format!(
            "`{key}` has no sub-attributes"
        ))),
    }
}

/// `remove` without a value filter.
fn remove(
    container: &mut Map<String, Value>,
    location: &Location,
    sub: Option<&str>,
    value: Option<&Value>,
) {
    let Some(key) = find_key(container, &location.name) else {
        return;
    };
    if let Some(sub) = sub {
        match container.get_mut(&key) {
            Some(Value::Object(object)) => remove_member(object, sub),
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(object) = item {
                        remove_member(object, sub);
                    }
                }
            }
            _ => {}
        }
        return;
    }
    let listed: Vec<Value> = match value {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(object)) => vec![Value::Object(object.clone())],
        _ => Vec::new(),
    };
    match container.get_mut(&key) {
        Some(Value::Array(items)) if !listed.is_empty() => {
            items.retain(|item| !listed.iter().any(|l| same_listed_value(l, item)));
            if items.is_empty() {
                container.shift_remove(&key);
            }
        }
        _ => {
            container.shift_remove(&key);
        }
    }
}

/// Whether `item` is the value a remove lists: the same `value` sub-attribute when the
/// listed one has it, else the same JSON.
fn same_listed_value(listed: &Value, item: &Value) -> bool {
    match member(listed, "value") {
        Some(v) => member(item, "value") == Some(v),
        None => listed == item,
    }
}

/// `add`/`replace`/`remove` with a value filter (`emails[type eq "work"]`).
fn write_filtered(
    container: &mut Map<String, Value>,
    location: &Location,
    filter: &Filter,
    sub: Option<&str>,
    value: Option<Value>,
    op: PatchOpKind,
) -> Result<(), ScimError> {
    let name = &location.name;
    if location.def.is_some_and(|d| !d.multi_valued) {
        return Err(ScimError::invalid_path(format!(
            "`{name}` is not multi-valued; it takes no filter"
        )));
    }
    let key = find_key(container, name).unwrap_or_else(|| name.clone());
    let mut empty = Vec::new();
    let items = match container.get_mut(&key) {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => &mut empty,
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "`{name}` is not multi-valued; it takes no filter"
            )));
        }
    };
    let value_path = Filter::ValuePath {
        attr: AttrPath::simple(name.clone()),
        filter: Box::new(filter.clone()),
    };
    let matched: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| element_matches(&value_path, name, item))
        .map(|(i, _)| i)
        .collect();
    let value = value.unwrap_or(Value::Null);
    if matched.is_empty() {
        let created = (op == PatchOpKind::Add)
            .then(|| element_from_filter(filter))
            .flatten();
        let Some(mut element) = created else {
            return Err(ScimError::no_target(no_match(name)));
        };
        match (sub, value) {
            (Some(sub), value) => set_member(&mut element, sub, value),
            (None, Value::Object(object)) => merge(&mut element, Value::Object(object)),
            (None, _) => {
                return Err(ScimError::invalid_value(format!(
                    "the value for `{name}` must be an object"
                )));
            }
        }
        items.push(Value::Object(element));
        let written = [items.len() - 1];
        enforce_single_primary(items, &written)?;
        if !container.contains_key(&key) {
            container.insert(key, Value::Array(empty));
        }
        return Ok(());
    }
    match (op, sub) {
        (PatchOpKind::Remove, Some(sub)) => {
            for &i in &matched {
                if let Some(Value::Object(object)) = items.get_mut(i) {
                    remove_member(object, sub);
                }
            }
        }
        (PatchOpKind::Remove, None) => {
            let mut index = 0;
            items.retain(|_| {
                let keep = !matched.contains(&index);
                index += 1;
                keep
            });
            if items.is_empty() {
                container.shift_remove(&key);
            }
        }
        (_, Some(sub)) => {
            for &i in &matched {
                if let Some(Value::Object(object)) = items.get_mut(i) {
                    set_member(object, sub, value.clone());
                }
            }
            enforce_single_primary(items, &matched)?;
        }
        (_, None) => {
            if !value.is_object() {
                return Err(ScimError::invalid_value(format!(
                    "the value for `{name}` must be an object"
                )));
            }
            for &i in &matched {
                if let Some(item) = items.get_mut(i) {
                    match (op, item) {
                        (PatchOpKind::Add, Value::Object(object)) => merge(object, value.clone()),
                        (_, item) => *item = value.clone(),
                    }
                }
            }
            enforce_single_primary(items, &matched)?;
        }
    }
    Ok(())
}

fn no_match(name: &str) -> String {
    format!("the filter on `{name}` matched no value")
}

/// Evaluates a value filter on one value, inside a one-value copy of its attribute so
/// the evaluator knows the parent (it decides `caseExact`, e.g. of `members.value`).
fn element_matches(value_path: &Filter, name: &str, item: &Value) -> bool {
    let mut wrapper = Map::new();
    wrapper.insert(name.to_owned(), Value::Array(vec![item.clone()]));
    matches(value_path, &Value::Object(wrapper))
}

/// The value a conjunction of `eq` comparisons describes, e.g. `type eq "work"` →
/// `{"type": "work"}`; `None` for any other filter.
fn element_from_filter(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.urn.is_none() && path.sub_attr.is_none() => {
            let value = match value {
                CompValue::String(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Number(n) => Value::Number(n.clone()),
                CompValue::Null => return None,
            };
            let mut object = Map::new();
            object.insert(path.name.clone(), value);
            Some(object)
        }
        Filter::And(left, right) => {
            let mut object = element_from_filter(left)?;
            object.extend(element_from_filter(right)?);
            Some(object)
        }
        _ => None,
    }
}

fn into_items(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        single => vec![single],
    }
}

/// Appends values to a multi-valued attribute, merging each into an existing value that
/// is the same one (see the module docs). Returns the indices written.
fn append(items: &mut Vec<Value>, incoming: Vec<Value>) -> Vec<usize> {
    let mut written = Vec::with_capacity(incoming.len());
    for new in incoming {
        let same = items
            .iter()
            .position(|old| old == &new || same_value(old, &new));
        match (same, new) {
            (Some(i), Value::Object(new)) => {
                if let Some(Value::Object(old)) = items.get_mut(i) {
                    merge(old, Value::Object(new));
                }
                written.push(i);
            }
            (Some(i), _) => written.push(i),
            (None, new) => {
                items.push(new);
                written.push(items.len() - 1);
            }
        }
    }
    written
}

fn same_value(old: &Value, new: &Value) -> bool {
    let (Some(old_value), Some(new_value)) = (member(old, "value"), member(new, "value")) else {
        return false;
    };
    let types_agree = match (member(old, "type"), member(new, "type")) {
        (Some(Value::String(a)), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
        _ => true,
    };
    old_value == new_value && types_agree
}

fn is_primary(item: &Value) -> bool {
    member(item, "primary") == Some(&Value::Bool(true))
}

/// At most one of the values just written may be primary.
fn check_single_primary(items: &[Value], written: &[usize]) -> Result<(), ScimError> {
    let primaries = written
        .iter()
        .filter(|&&i| items.get(i).is_some_and(is_primary))
        .count();
    if primaries > 1 {
        return Err(ScimError::invalid_value(
            "more than one value is marked primary",
        ));
    }
    Ok(())
}

/// RFC 7643 §2.4: when a value written is primary, the others stop being so.
fn enforce_single_primary(items: &mut [Value], written: &[usize]) -> Result<(), ScimError> {
    check_single_primary(items, written)?;
    let Some(&winner) = written
        .iter()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        if i != winner
            && is_primary(item)
            && let Value::Object(object) = item
        {
            set_member(object, "primary", Value::Bool(false));
        }
    }
    Ok(())
}

/// Sets each member of `incoming` in `current` (case-insensitively); `null` unassigns.
fn merge(current: &mut Map<String, Value>, incoming: Value) {
    if let Value::Object(incoming) = incoming {
        for (key, value) in incoming {
            set_member(current, &key, value);
        }
    }
}

fn set_member(object: &mut Map<String, Value>, name: &str, value: Value) {
    let key = find_key(object, name).unwrap_or_else(|| name.to_owned());
    if value.is_null() {
        object.shift_remove(&key);
    } else {
        object.insert(key, value);
    }
}

fn remove_member(object: &mut Map<String, Value>, name: &str) {
    if let Some(key) = find_key(object, name) {
        object.shift_remove(&key);
    }
}

/// The key of `object` named `name`: an exact match, else a case-insensitive one.
fn find_key(object: &Map<String, Value>, name: &str) -> Option<String> {
    if object.contains_key(name) {
        return Some(name.to_owned());
    }
    object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

fn member<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    find_key(object, name).and_then(|k| object.get(&k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, ScimType, USER_SCHEMA};
    use serde_json::json;

    const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
    const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";

    fn patch(operations: Value) -> PatchOp {
        PatchOp::parse(&json!({"schemas": [crate::PATCH_OP_SCHEMA], "Operations": operations}))
            .unwrap()
    }

    fn applied(mut resource: Value, operations: Value) -> Value {
        apply_patch(&mut resource, &patch(operations)).unwrap();
        resource
    }

    fn refused(resource: Value, operations: Value) -> ScimError {
        let mut patched = resource.clone();
        let error = apply_patch(&mut patched, &patch(operations)).unwrap_err();
        assert_eq!(
            patched, resource,
            "a failed PATCH must leave the resource unchanged"
        );
        error
    }

    fn group() -> Value {
        json!({
            "schemas": [GROUP_SCHEMA],
            "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
            "displayName": "Tour Guides",
            "members": [
                {"value": BABS, "$ref": format!("https://example.com/v2/Users/{BABS}"), "display": "Babs Jensen"},
                {"value": MANDY, "$ref": format!("https://example.com/v2/Users/{MANDY}"), "display": "Mandy Pepperidge"}
            ]
        })
    }

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA],
            "id": BABS,
            "userName": "bjensen@example.com",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "addresses": [
                {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "primary": true},
                {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood"}
            ],
            "active": true,
            "meta": {"resourceType": "User", "version": "W/\"1\""}
        })
    }

    #[test]
    fn rfc_add_of_a_member_to_a_group_appends_it() {
        // Arrange
        let mut resource = group();
        resource["members"].as_array_mut().unwrap().pop();

        // Act
        let output = applied(
            resource,
            json!([{"op": "add", "path": "members", "value": [
                {"display": "Mandy Pepperidge", "$ref": format!("https://example.com/v2/Users/{MANDY}"), "value": MANDY}
            ]}]),
        );

        // Assert
        assert_eq!(output["members"].as_array().unwrap().len(), 2);
        assert_eq!(output["members"][1]["value"], MANDY);
    }

    #[test]
    fn rfc_add_without_path_appends_emails_and_sets_nickname_in_canonical_case() {
        // Act: the RFC's own example writes `nickname` in lower case.
        let output = applied(
            user(),
            json!([{"op": "add", "value": {
                "emails": [{"value": "babs@example.org", "type": "other"}],
                "nickname": "Babs"
            }}]),
        );

        // Assert
        assert_eq!(output["emails"].as_array().unwrap().len(), 3);
        assert_eq!(output["emails"][2]["value"], "babs@example.org");
        assert_eq!(output["nickName"], "Babs");
        assert!(output.get("nickname").is_none());
    }

    #[test]
    fn rfc_remove_of_one_member_by_filter_keeps_the_others() {
        // Act
        let output = applied(
            group(),
            json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}]),
        );

        // Assert
        assert_eq!(output["members"].as_array().unwrap().len(), 1);
        assert_eq!(output["members"][0]["value"], MANDY);
    }

    #[test]
    fn rfc_remove_of_all_members_unassigns_the_attribute() {
        // Act
        let output = applied(group(), json!([{"op": "remove", "path": "members"}]));

        // Assert
        assert!(output.get("members").is_none());
    }

    #[test]
    fn rfc_remove_by_a_complex_filter_removes_only_matching_emails() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
        );

        // Assert
        assert_eq!(
            output["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );
    }

    #[test]
    fn rfc_remove_then_add_replaces_all_members() {
        // Act
        let output = applied(
            group(),
            json!([
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": "u3", "display": "Three"}]}
            ]),
        );

        // Assert
        assert_eq!(
            output["members"],
            json!([{"value": "u3", "display": "Three"}])
        );
    }

    #[test]
    fn rfc_replace_of_members_replaces_the_whole_list() {
        // Act
        let output = applied(
            group(),
            json!([{"op": "replace", "path": "members", "value": [
                {"value": "u3", "display": "Three"}, {"value": "u4", "display": "Four"}
            ]}]),
        );

        // Assert
        assert_eq!(
            output["members"],
            json!([{"value": "u3", "display": "Three"}, {"value": "u4", "display": "Four"}])
        );
    }

    #[test]
    fn rfc_replace_of_the_work_address_by_filter_replaces_that_value_only() {
        // Arrange
        let new_work = json!({
            "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
            "region": "CA", "postalCode": "91608", "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": true
        });

        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"]", "value": new_work.clone()}]),
        );

        // Assert
        assert_eq!(output["addresses"][0], new_work);
        assert_eq!(
            output["addresses"][1]["streetAddress"],
            "456 Hollywood Blvd"
        );
    }

    #[test]
    fn rfc_replace_of_a_sub_attribute_by_filter_changes_only_it() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1010 Broadway Ave"}]),
        );

        // Assert
        assert_eq!(output["addresses"][0]["streetAddress"], "1010 Broadway Ave");
        assert_eq!(output["addresses"][0]["locality"], "Hollywood");
    }

    #[test]
    fn rfc_replace_without_path_replaces_emails_and_nickname() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "value": {
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
                "nickName": "Babs"
            }}]),
        );

        // Assert
        assert_eq!(output["emails"], user()["emails"]);
        assert_eq!(output["nickName"], "Babs");
    }

    #[test]
    fn oktas_pathless_deactivation_sets_active_false() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        );

        // Assert
        assert_eq!(output["active"], false);
        assert_eq!(output["userName"], "bjensen@example.com");
    }

    #[test]
    fn identity_centers_string_active_is_written_as_a_bool() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "path": "active", "value": "False"}]),
        );

        // Assert
        assert_eq!(output["active"], false);
    }

    #[test]
    fn oktas_group_rename_with_the_unchanged_id_is_tolerated() {
        // Act
        let output = applied(
            group(),
            json!([{"op": "replace", "value": {"id": "e9e30dba-f08f-4109-8486-d5c6a331660a", "displayName": "Guides"}}]),
        );

        // Assert
        assert_eq!(output["displayName"], "Guides");
        assert_eq!(output["id"], "e9e30dba-f08f-4109-8486-d5c6a331660a");
    }

    #[test]
    fn a_rename_that_changes_the_id_is_a_mutability_error_and_changes_nothing() {
        // Act
        let error = refused(
            group(),
            json!([{"op": "replace", "value": {"displayName": "Guides", "id": "other"}}]),
        );

        // Assert
        assert_eq!(error.scim_type, Some(ScimType::Mutability));
        assert!(
            error.detail.starts_with("Operations[0]"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn oktas_member_removal_by_filter_of_an_absent_member_is_no_target() {
        // Act
        let error = refused(
            group(),
            json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]),
        );

        // Assert
        assert_eq!(error.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn oktas_add_of_members_merges_existing_ones_and_appends_new_ones() {
        // Arrange: Identity Center returns members without `display`.
        let mut resource = group();
        resource["members"] = json!([{"value": BABS}]);

        // Act
        let output = applied(
            resource,
            json!([{"op": "add", "path": "members", "value": [
                {"value": BABS, "display": "Babs Jensen"},
                {"value": MANDY, "display": "Mandy Pepperidge"}
            ]}]),
        );

        // Assert
        assert_eq!(
            output["members"],
            json!([{"value": BABS, "display": "Babs Jensen"}, {"value": MANDY, "display": "Mandy Pepperidge"}])
        );
    }

    #[test]
    fn member_filters_compare_ids_case_exactly() {
        // Act
        let error = refused(
            group(),
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", BABS.to_uppercase())}]),
        );

        // Assert
        assert_eq!(error.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn a_remove_with_a_value_list_removes_only_the_listed_members() {
        // Act
        let output = applied(
            group(),
            json!([{"op": "remove", "path": "members", "value": [{"value": BABS}]}]),
        );

        // Assert
        assert_eq!(output["members"].as_array().unwrap().len(), 1);
        assert_eq!(output["members"][0]["value"], MANDY);
    }

    #[test]
    fn a_replace_whose_filter_matches_nothing_is_no_target() {
        // Act
        let error = refused(
            user(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]),
        );

        // Assert
        assert_eq!(error.scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn an_add_whose_eq_filter_matches_nothing_creates_the_value() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "add", "path": "emails[type eq \"other\"].value", "value": "x@y"}]),
        );

        // Assert
        assert_eq!(
            output["emails"][2],
            json!({"type": "other", "value": "x@y"})
        );
    }

    #[test]
    fn operations_are_atomic_when_a_later_one_fails() {
        // Act
        let error = refused(
            user(),
            json!([
                {"op": "replace", "path": "displayName", "value": "Babs"},
                {"op": "remove", "path": "emails[type eq \"fax\"]"}
            ]),
        );

        // Assert
        assert!(
            error.detail.starts_with("Operations[1]"),
            "{}",
            error.detail
        );
    }

    #[test]
    fn an_enterprise_attribute_added_by_urn_path_creates_the_extension_and_lists_its_schema() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "701984"}]),
        );

        // Assert
        assert_eq!(
            output[ENTERPRISE_USER_SCHEMA],
            json!({"employeeNumber": "701984"})
        );
        assert_eq!(
            output["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
    }

    #[test]
    fn a_pathless_value_with_an_extension_object_or_urn_keys_merges_into_the_extension() {
        // Arrange
        let resource = applied(
            user(),
            json!([{"op": "add", "value": {
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"Department": "Ops", "manager": {"value": "m1"}}
            }}]),
        );

        // Act: Azure's form, a URN-qualified attribute as the key.
        let output = applied(
            resource,
            json!([{"op": "replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter": "4130",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "m2"
            }}]),
        );

        // Assert
        assert_eq!(
            output[ENTERPRISE_USER_SCHEMA],
            json!({"department": "Ops", "manager": {"value": "m2"}, "costCenter": "4130"})
        );
        assert_eq!(
            output["schemas"],
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])
        );
    }

    #[test]
    fn removing_the_last_extension_attribute_drops_the_extension_and_its_schema() {
        // Arrange
        let resource = applied(
            user(),
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Ops"}]),
        );

        // Act
        let output = applied(
            resource,
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]),
        );

        // Assert
        assert_eq!(output, user());
    }

    #[test]
    fn a_whole_extension_path_adds_and_removes_the_extension_object() {
        // Act
        let added = applied(
            user(),
            json!([{"op": "add", "path": ENTERPRISE_USER_SCHEMA, "value": {"division": "Theme Park"}}]),
        );
        let removed = applied(
            added.clone(),
            json!([{"op": "remove", "path": ENTERPRISE_USER_SCHEMA}]),
        );

        // Assert
        assert_eq!(
            added[ENTERPRISE_USER_SCHEMA],
            json!({"division": "Theme Park"})
        );
        assert_eq!(removed, user());
    }

    #[test]
    fn adding_a_primary_email_takes_primary_from_the_others() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "work", "primary": true}]}]),
        );

        // Assert
        assert_eq!(output["emails"][0]["primary"], false);
        assert_eq!(output["emails"][2]["primary"], true);
    }

    #[test]
    fn two_primary_values_in_one_operation_are_an_invalid_value() {
        // Act
        let error = refused(
            user(),
            json!([{"op": "replace", "path": "emails", "value": [
                {"value": "a@x", "primary": true}, {"value": "b@x", "primary": "true"}
            ]}]),
        );

        // Assert
        assert_eq!(error.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn read_only_and_required_attributes_are_protected() {
        let table = [
            json!([{"op": "remove", "path": "userName"}]),
            json!([{"op": "replace", "value": {"userName": null}}]),
            json!([{"op": "remove", "path": "id"}]),
            json!([{"op": "replace", "path": "id", "value": "new"}]),
            json!([{"op": "replace", "path": "meta.version", "value": "W/\"2\""}]),
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
        ];
        for operations in table {
            let error = refused(user(), operations.clone());
            assert_eq!(error.scim_type, Some(ScimType::Mutability), "{operations}");
        }
    }

    #[test]
    fn names_in_paths_and_filters_match_case_insensitively() {
        // Act
        let output = applied(
            user(),
            json!([
                {"op": "replace", "path": "NAME.GIVENNAME", "value": "Babs"},
                {"op": "replace", "path": "Emails[TYPE eq \"HOME\"].VALUE", "value": "babs@example.org"},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:displayName", "value": "Babs J"}
            ]),
        );

        // Assert
        assert_eq!(
            output["name"],
            json!({"givenName": "Babs", "familyName": "Jensen"})
        );
        assert_eq!(output["emails"][1]["value"], "babs@example.org");
        assert_eq!(output["displayName"], "Babs J");
    }

    #[test]
    fn paths_that_cannot_address_a_value_are_invalid_paths() {
        for operations in [
            json!([{"op": "replace", "path": "userName[value eq \"x\"]", "value": "y"}]),
            json!([{"op": "replace", "path": "userName.first", "value": "y"}]),
        ] {
            let error = refused(user(), operations.clone());
            assert_eq!(error.scim_type, Some(ScimType::InvalidPath), "{operations}");
        }
    }

    #[test]
    fn values_of_the_wrong_type_are_invalid_values() {
        for operations in [
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            json!([{"op": "add", "path": "emails", "value": "a@b.c"}]),
            json!([{"op": "replace", "path": "name", "value": "Barbara"}]),
            json!([{"op": "replace", "path": "userName", "value": 7}]),
            json!([{"op": "add", "value": "not an object"}]),
        ] {
            let error = refused(user(), operations.clone());
            assert_eq!(
                error.scim_type,
                Some(ScimType::InvalidValue),
                "{operations}"
            );
        }
    }

    #[test]
    fn a_complex_attribute_merges_on_add_and_replace_and_null_unassigns() {
        // Act
        let output = applied(
            user(),
            json!([
                {"op": "add", "path": "name", "value": {"middleName": "Jane"}},
                {"op": "replace", "value": {"name": {"familyName": null, "honorificPrefix": "Ms."}}}
            ]),
        );

        // Assert
        assert_eq!(
            output["name"],
            json!({"givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms."})
        );
    }

    #[test]
    fn a_dotted_key_in_a_pathless_value_addresses_a_sub_attribute() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "value": {"name.givenName": "Babs"}}]),
        );

        // Assert
        assert_eq!(output["name"]["givenName"], "Babs");
        assert_eq!(output["name"]["familyName"], "Jensen");
    }

    #[test]
    fn unknown_attributes_are_added_replaced_and_removed_as_given() {
        // Act
        let added = applied(
            user(),
            json!([{"op": "add", "path": "favouriteColour", "value": "teal"}]),
        );
        let replaced = applied(
            added.clone(),
            json!([{"op": "replace", "value": {"FavouriteColour": "red"}}]),
        );
        let removed = applied(
            replaced.clone(),
            json!([{"op": "remove", "path": "favouritecolour"}]),
        );

        // Assert
        assert_eq!(added["favouriteColour"], "teal");
        assert_eq!(replaced["favouriteColour"], "red");
        assert_eq!(removed, user());
    }

    #[test]
    fn removing_an_absent_attribute_changes_nothing() {
        assert_eq!(
            applied(user(), json!([{"op": "remove", "path": "nickName"}])),
            user()
        );
    }

    #[test]
    fn removing_a_sub_attribute_by_filter_keeps_the_value() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        );

        // Assert
        assert_eq!(
            output["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
    }

    #[test]
    fn the_patched_json_still_reads_as_a_typed_user() {
        // Act
        let output = applied(
            user(),
            json!([{"op": "replace", "value": {"active": "false", "title": "Tour Guide"}}]),
        );

        // Assert
        let typed = <crate::User as crate::Resource>::from_value(output).unwrap();
        assert_eq!(
            (typed.active, typed.title.as_deref()),
            (Some(false), Some("Tour Guide"))
        );
    }
}
