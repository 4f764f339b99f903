//! PATCH (RFC 7644 §3.5.2): the request body (`PatchOp`) here, read from JSON with
//! precise SCIM errors and written back out; the path grammar in [`path`]; applying the
//! operations to a resource in [`apply`].
//!
//! Error choices, by the descriptions of RFC 7644 §3.12 Table 9:
//! - `schemas` a list naming any URN but the PatchOp one, or without it:
//!   `invalidValue`, checked before anything else ([`PatchOp::check_schemas`], the
//!   same rule as for resources).
//! - body not an object, `schemas` missing or not a list of strings, `Operations`
//!   missing, not an array or empty, an operation not an object, `op` missing or not
//!   `add`/`remove`/`replace`, a member given twice (keys differing only in case):
//!   `invalidSyntax`, "the request body message structure was invalid or did
//!   not conform to the request schema". An unknown `op` is a structural fault of the
//!   message, not a value incompatible with an attribute, hence not `invalidValue`.
//! - `path` not a string or not a valid path: `invalidPath`.
//! - `remove` without `path`: `noTarget`, as §3.5.2.2 says in so many words.
//! - `add` or `replace` without `value` (or with `"value": null`): `invalidValue`, "a
//!   required value was missing"; §3.5.2.1 says the operation "MUST contain a value".
//! - more than [`PatchOp::MAX_OPERATIONS`] operations: 413, by analogy with bulk
//!   requests over `maxOperations` (RFC 7644 §3.7.3). `tooMany` is about filters.
//!
//! Member names are matched case-insensitively (RFC 7643 §2.1), because Azure and Okta
//! do not agree on `Operations` vs `operations`, and `op` values likewise (`"Replace"`).
//! `"path": null` counts as no path (RFC 7643 §2.5). Unknown members are ignored.

pub mod apply;
pub mod path;

use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::{PATCH_OP_SCHEMA, ScimError};
use path::{PatchPath, parse_patch_path};

/// A PATCH request body: `{"schemas": [PatchOp URN], "Operations": [...]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    /// The `schemas` as sent; always contains [`PATCH_OP_SCHEMA`] once parsed.
    pub schemas: Vec<String>,
    /// The operations, in order. RFC 7644 §3.5.2 makes the whole list atomic.
    pub operations: Vec<PatchOperation>,
}

/// One entry of `Operations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// `add`, `remove` or `replace`.
    pub op: PatchOpKind,
    /// The target; `None` means the resource itself (add/replace only).
    pub path: Option<PatchPath>,
    /// The value; always `Some` (and not null) for add and replace once parsed. A remove
    /// may carry one too (Azure sends the members to remove this way).
    pub value: Option<Value>,
}

/// The `op` of a PATCH operation, read case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add` (RFC 7644 §3.5.2.1).
    Add,
    /// `remove` (RFC 7644 §3.5.2.2).
    Remove,
    /// `replace` (RFC 7644 §3.5.2.3).
    Replace,
}

impl PatchOpKind {
    /// The operation as written on the wire, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }

    /// Reads an `op` value, ignoring case; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PatchOp {
    /// The most operations one request may carry. Okta and Azure send a handful; the cap
    /// bounds the work a single request can cause.
    pub const MAX_OPERATIONS: usize = 1000;

    /// A request with the PatchOp schema and these operations.
    pub fn new(operations: Vec<PatchOperation>) -> Self {
        Self {
            schemas: vec![PATCH_OP_SCHEMA.to_owned()],
            operations,
        }
    }

    /// Refuses a PATCH body whose `schemas` names any URN but the PatchOp one, or lacks
    /// it, compared case-insensitively (`invalidValue`). A missing or wrongly typed
    /// `schemas` passes, for [`PatchOp::parse`] to refuse; `parse` checks this first.
    pub fn check_schemas(body: &Value) -> Result<(), ScimError> {
        crate::schemas::check(body, PATCH_OP_SCHEMA, |urn| {
            urn.eq_ignore_ascii_case(PATCH_OP_SCHEMA)
        })
    }

    /// Reads a PATCH body, with the errors listed in the module docs.
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        Self::check_schemas(body)?;
        let Some(body) = body.as_object() else {
            return Err(ScimError::invalid_syntax("PATCH body is not a JSON object"));
        };
        let schemas = parse_schemas(member(body, "schemas", "PATCH body")?)?;
        let operations = match member(body, "Operations", "PATCH body")? {
            None => {
                return Err(ScimError::invalid_syntax(
                    "PATCH body has no \"Operations\"",
                ));
            }
            Some(Value::Array(ops)) if ops.is_empty() => {
                return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
            }
            Some(Value::Array(ops)) if ops.len() > Self::MAX_OPERATIONS => {
                return Err(ScimError::payload_too_large(format!(
                    "PATCH has {} operations; at most {} are accepted",
                    ops.len(),
                    Self::MAX_OPERATIONS
                )));
            }
            Some(Value::Array(ops)) => ops,
            Some(_) => return Err(ScimError::invalid_syntax("\"Operations\" is not an array")),
        };
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| PatchOperation::parse(op, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            schemas,
            operations,
        })
    }
}

impl TryFrom<&Value> for PatchOp {
    type Error = ScimError;

    fn try_from(body: &Value) -> Result<Self, Self::Error> {
        Self::parse(body)
    }
}

impl PatchOperation {
    /// Reads the operation at index `index` of `Operations` (the index goes in errors).
    fn parse(op: &Value, index: usize) -> Result<Self, ScimError> {
        let at = format!("Operations[{index}]");
        let Some(obj) = op.as_object() else {
            return Err(ScimError::invalid_syntax(format!("{at} is not an object")));
        };
        let kind = match member(obj, "op", &at)? {
            Some(Value::String(s)) => PatchOpKind::parse(s).ok_or_else(|| {
                ScimError::invalid_syntax(format!(
                    "{at}: \"op\" must be \"add\", \"remove\" or \"replace\""
                ))
            })?,
            Some(_) => {
                return Err(ScimError::invalid_syntax(format!(
                    "{at}: \"op\" is not a string"
                )));
            }
            None => return Err(ScimError::invalid_syntax(format!("{at} has no \"op\""))),
        };
        let path = match member(obj, "path", &at)? {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(
                parse_patch_path(s).map_err(|e| ScimError::invalid_path(format!("{at}: {e}")))?,
            ),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "{at}: \"path\" is not a string"
                )));
            }
        };
        let value = member(obj, "value", &at)?.cloned();
        match kind {
            PatchOpKind::Remove if path.is_none() => {
                return Err(ScimError::no_target(format!(
                    "{at}: remove needs a \"path\""
                )));
            }
            PatchOpKind::Add | PatchOpKind::Replace
                if value.as_ref().is_none_or(Value::is_null) =>
            {
                return Err(ScimError::invalid_value(format!(
                    "{at}: {kind} needs a \"value\""
                )));
            }
            _ => {}
        }
        Ok(Self {
            op: kind,
            path,
            value,
        })
    }
}

/// The member named `key`, ignoring case; two members that differ only in case are an
/// error rather than a silent pick. `whose` names the object in the error.
fn member<'v>(
    obj: &'v Map<String, Value>,
    key: &str,
    whose: &str,
) -> Result<Option<&'v Value>, ScimError> {
    let mut found = obj
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    let first = found.next();
    if found.next().is_some() {
        return Err(ScimError::invalid_syntax(format!(
            "{whose} has more than one \"{key}\""
        )));
    }
    Ok(first)
}

fn parse_schemas(schemas: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let Some(Value::Array(list)) = schemas else {
        return Err(ScimError::invalid_syntax(format!(
            "PATCH body needs \"schemas\": [\"{PATCH_OP_SCHEMA}\"]"
        )));
    };
    let schemas = list
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            ScimError::invalid_syntax("\"schemas\" holds a value that is not a string")
        })?;
    if !schemas
        .iter()
        .any(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
    {
        return Err(ScimError::invalid_syntax(format!(
            "\"schemas\" does not contain \"{PATCH_OP_SCHEMA}\""
        )));
    }
    Ok(schemas)
}

impl serde::Serialize for PatchOp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("schemas", &self.schemas)?;
        map.serialize_entry("Operations", &self.operations)?;
        map.end()
    }
}

impl serde::Serialize for PatchOperation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 1 + usize::from(self.path.is_some()) + usize::from(self.value.is_some());
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("op", self.op.as_str())?;
        if let Some(path) = &self.path {
            map.serialize_entry("path", path)?;
        }
        if let Some(value) = &self.value {
            map.serialize_entry("value", value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::ScimType;

    const P: &str = PATCH_OP_SCHEMA;

    #[test]
    fn the_rfc_7644_patch_examples_parse() {
        // Arrange: RFC 7644 §3.5.2.1–3 bodies.
        let add_member = json!({
            "schemas": [P],
            "Operations": [{
                "op": "add",
                "path": "members",
                "value": [{
                    "display": "Babs Jensen",
                    "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646",
                    "value": "2819c223-7f76-453a-919d-413861904646"
                }]
            }]
        });
        let remove_member = json!({
            "schemas": [P],
            "Operations": [{
                "op": "remove",
                "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"
            }]
        });
        let replace_street = json!({
            "schemas": [P],
            "Operations": [{
                "op": "replace",
                "path": "addresses[type eq \"work\"].streetAddress",
                "value": "1010 Broadway Ave"
            }]
        });
        // Act
        let add = PatchOp::parse(&add_member).unwrap();
        let remove = PatchOp::parse(&remove_member).unwrap();
        let replace = PatchOp::parse(&replace_street).unwrap();
        // Assert
        assert_eq!(add.schemas, vec![P.to_owned()]);
        assert_eq!(add.operations[0].op, PatchOpKind::Add);
        assert_eq!(
            add.operations[0].path,
            Some(parse_patch_path("members").unwrap())
        );
        assert_eq!(
            add.operations[0].value,
            Some(add_member["Operations"][0]["value"].clone())
        );
        assert_eq!(remove.operations[0].op, PatchOpKind::Remove);
        assert!(remove.operations[0].path.as_ref().unwrap().filter.is_some());
        assert_eq!(remove.operations[0].value, None);
        assert_eq!(
            replace.operations[0]
                .path
                .as_ref()
                .unwrap()
                .sub_attr
                .as_deref(),
            Some("streetAddress")
        );
        assert_eq!(
            replace.operations[0].value,
            Some(json!("1010 Broadway Ave"))
        );
    }

    #[test]
    fn okta_and_azure_spellings_are_accepted() {
        // Arrange: Okta deactivation (no path), Azure's capitalised ops and its remove with
        // a value, lower-case `operations`, and `"path": null`.
        let body = json!({
            "schemas": [P],
            "operations": [
                {"op": "replace", "value": {"active": false}},
                {"op": "Replace", "path": "active", "value": "False"},
                {"OP": "Add", "Path": "emails[type eq \"work\"].value", "Value": "b@example.com"},
                {"op": "Remove", "path": "members", "value": [{"value": "2819c223"}]},
                {"op": "REPLACE", "path": null, "value": {"displayName": "X"}, "id": "ignored"}
            ]
        });
        // Act
        let patch = PatchOp::parse(&body).unwrap();
        // Assert
        let kinds: Vec<_> = patch.operations.iter().map(|o| o.op).collect();
        use PatchOpKind::*;
        assert_eq!(kinds, vec![Replace, Replace, Add, Remove, Replace]);
        assert_eq!(patch.operations[0].path, None);
        assert_eq!(patch.operations[2].value, Some(json!("b@example.com")));
        assert_eq!(
            patch.operations[3].value,
            Some(json!([{"value": "2819c223"}]))
        );
        assert_eq!(patch.operations[4].path, None);
    }

    #[test]
    fn malformed_bodies_fail_with_the_chosen_scim_error() {
        use ScimType::*;
        let op = |o: Value| json!({"schemas": [P], "Operations": [o]});
        let too_many = json!({
            "schemas": [P],
            "Operations": vec![json!({"op": "remove", "path": "x"}); PatchOp::MAX_OPERATIONS + 1]
        });
        let cases: Vec<(&str, Value, u16, Option<ScimType>)> = vec![
            ("not an object", json!([]), 400, Some(InvalidSyntax)),
            (
                "no schemas",
                json!({"Operations": [{"op": "remove", "path": "x"}]}),
                400,
                Some(InvalidSyntax),
            ),
            (
                "schemas a string",
                json!({"schemas": P, "Operations": []}),
                400,
                Some(InvalidSyntax),
            ),
            (
                // The `schemas` rule, checked first (crate::schemas), makes this a value
                // the endpoint does not serve.
                "wrong schema",
                json!({"schemas": [crate::USER_SCHEMA], "Operations": [{"op": "remove", "path": "x"}]}),
                400,
                Some(InvalidValue),
            ),
            (
                "another schema too",
                json!({"schemas": [P, crate::USER_SCHEMA], "Operations": [{"op": "remove", "path": "x"}]}),
                400,
                Some(InvalidValue),
            ),
            (
                "schemas empty",
                json!({"schemas": [], "Operations": [{"op": "remove", "path": "x"}]}),
                400,
                Some(InvalidValue),
            ),
            (
                "bad schema before a bad body",
                json!({"schemas": ["urn:example:evil"], "Operations": []}),
                400,
                Some(InvalidValue),
            ),
            (
                "schema not a string",
                json!({"schemas": [P, 1], "Operations": [{"op": "remove", "path": "x"}]}),
                400,
                Some(InvalidSyntax),
            ),
            (
                "no Operations",
                json!({"schemas": [P]}),
                400,
                Some(InvalidSyntax),
            ),
            (
                "Operations an object",
                json!({"schemas": [P], "Operations": {"op": "add"}}),
                400,
                Some(InvalidSyntax),
            ),
            (
                "Operations empty",
                json!({"schemas": [P], "Operations": []}),
                400,
                Some(InvalidSyntax),
            ),
            (
                "two Operations",
                json!({"schemas": [P], "Operations": [], "operations": []}),
                400,
                Some(InvalidSyntax),
            ),
            ("too many", too_many, 413, None),
            (
                "operation a string",
                op(json!("add")),
                400,
                Some(InvalidSyntax),
            ),
            (
                "no op",
                op(json!({"path": "x", "value": 1})),
                400,
                Some(InvalidSyntax),
            ),
            (
                "unknown op",
                op(json!({"op": "move", "path": "x", "value": 1})),
                400,
                Some(InvalidSyntax),
            ),
            (
                "op a number",
                op(json!({"op": 1, "path": "x", "value": 1})),
                400,
                Some(InvalidSyntax),
            ),
            (
                "two ops",
                op(json!({"op": "add", "OP": "remove", "path": "x", "value": 1})),
                400,
                Some(InvalidSyntax),
            ),
            (
                "path a number",
                op(json!({"op": "add", "path": 7, "value": 1})),
                400,
                Some(InvalidPath),
            ),
            (
                "bad path",
                op(json!({"op": "add", "path": "emails[type eq", "value": 1})),
                400,
                Some(InvalidPath),
            ),
            (
                "empty path",
                op(json!({"op": "replace", "path": "", "value": 1})),
                400,
                Some(InvalidPath),
            ),
            (
                "remove without path",
                op(json!({"op": "remove"})),
                400,
                Some(NoTarget),
            ),
            (
                "remove with null path",
                op(json!({"op": "remove", "path": null})),
                400,
                Some(NoTarget),
            ),
            (
                "add without value",
                op(json!({"op": "add", "path": "x"})),
                400,
                Some(InvalidValue),
            ),
            (
                "replace with null value",
                op(json!({"op": "replace", "path": "x", "value": null})),
                400,
                Some(InvalidValue),
            ),
        ];
        for (name, body, status, scim_type) in cases {
            // Act
            let err = PatchOp::parse(&body).unwrap_err();
            // Assert
            assert_eq!(
                (err.status, err.scim_type),
                (status, scim_type),
                "{name}: {err}"
            );
        }
    }

    #[test]
    fn errors_say_which_operation_failed() {
        let body = json!({"schemas": [P], "Operations": [
            {"op": "add", "path": "x", "value": 1},
            {"op": "remove"}
        ]});
        let err = PatchOp::parse(&body).unwrap_err();
        assert!(err.detail.starts_with("Operations[1]"), "{}", err.detail);
    }

    #[test]
    fn a_patch_serializes_in_the_rfc_shape_and_reads_back_the_same() {
        // Arrange
        let patch = PatchOp::new(vec![
            PatchOperation {
                op: PatchOpKind::Replace,
                path: Some(parse_patch_path("emails[type eq \"work\"].value").unwrap()),
                value: Some(json!("b@example.com")),
            },
            PatchOperation {
                op: PatchOpKind::Add,
                path: None,
                value: Some(json!({"active": true})),
            },
            PatchOperation {
                op: PatchOpKind::Remove,
                path: Some(parse_patch_path("members[value eq \"2819c223\"]").unwrap()),
                value: None,
            },
        ]);
        // Act
        let written = serde_json::to_value(&patch).unwrap();
        // Assert
        assert_eq!(
            written,
            json!({
                "schemas": [P],
                "Operations": [
                    {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "b@example.com"},
                    {"op": "add", "value": {"active": true}},
                    {"op": "remove", "path": "members[value eq \"2819c223\"]"}
                ]
            })
        );
        assert_eq!(PatchOp::parse(&written), Ok(patch.clone()));
        assert_eq!(PatchOp::try_from(&written), Ok(patch));
    }

    #[test]
    fn op_kinds_read_in_any_case_and_write_in_lower_case() {
        assert_eq!(PatchOpKind::parse("rEmOvE"), Some(PatchOpKind::Remove));
        assert_eq!(PatchOpKind::parse("delete"), None);
        assert_eq!(PatchOpKind::Replace.to_string(), "replace");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop::sample::select(vec![
                "add",
                "Remove",
                "replace",
                "members",
                "x[y eq 1]",
                P,
                "",
                "op"
            ])
            .prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            let keys =
                prop::sample::select(vec!["schemas", "Operations", "op", "path", "value", "OP"]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((keys, inner), 0..4).prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics_and_what_parses_round_trips(body in arb_json()) {
            if let Ok(patch) = PatchOp::parse(&body) {
                let written = serde_json::to_value(&patch).unwrap();
                prop_assert_eq!(PatchOp::parse(&written), Ok(patch));
            }
        }
    }
}
