//! The PatchOp request body (RFC 7644 §3.5.2) as Identity Center accepts it: operation
//! and path parsing shared by PatchUser and PatchGroup, and the `eq`-only value filters
//! of paths such as `emails[type eq "work"].value` (AWS-DG patchuser: "Only the `eq`
//! operator is supported in filters").

use scim_core::{CompValue, CompareOp, Filter, parse_patch_path};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Identity Center's answer to a path-less operation it does not support (quoted in
/// goauthentik/authentik issue 12321; `docs/identity-center-dialect.md` §5).
pub(crate) const PATHLESS_DETAIL: &str = "Current PATCH support allows omitting \"path\" attribute only for Add and Replace operations modifying a single attribute.";

/// A PATCH operation kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Replace,
    Remove,
}

/// A parsed `path`: an attribute with an optional value filter and sub-attribute, or the
/// enterprise extension (whole, or one of its attributes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OpPath {
    /// The path is inside `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`.
    pub(crate) extension: bool,
    /// The attribute, as written; `None` only for the whole extension.
    pub(crate) attr: Option<String>,
    /// A value filter after the attribute.
    pub(crate) filter: Option<Filter>,
    /// A sub-attribute, after `.` or after the filter's `]`.
    pub(crate) sub: Option<String>,
}

/// One operation of a PatchOp body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchOp {
    pub(crate) op: OpKind,
    pub(crate) path: Option<OpPath>,
    pub(crate) value: Option<Value>,
}

/// Looks a key up ignoring ASCII case (RFC 7643 §2.1: attribute names are case-insensitive).
pub(crate) fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Reads a PatchOp body. The AWS-DG patchuser constraints enforced here: the operation
/// must be given and be `add`, `replace` or `remove`; `path` is required for `remove`;
/// `value` is required for `add` and `replace`. An operation without `path` must be an
/// `add` or `replace` whose value is an object of exactly one attribute, or it is 400
/// with [`PATHLESS_DETAIL`] (authentik issue 12321): Okta's deactivation
/// `{"op":"replace","value":{"active":false}}` passes, its group rename
/// `{"op":"replace","value":{"id":…,"displayName":…}}` does not.
pub(crate) fn parse_patch(body: &Value) -> Result<Vec<PatchOp>, ApiError> {
    let body = body.as_object().ok_or_else(ApiError::unparsable)?;
    let ops = get_ci(body, "Operations")
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| ApiError::validation("Operations must be a non-empty list"))?;
    ops.iter().map(parse_op).collect()
}

fn parse_op(op: &Value) -> Result<PatchOp, ApiError> {
    let op = op.as_object().ok_or_else(ApiError::unparsable)?;
    let kind = match get_ci(op, "op")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
    {
        None => return Err(ApiError::validation("the operation (op) must be specified")),
        Some(k) if k == "add" => OpKind::Add,
        Some(k) if k == "replace" => OpKind::Replace,
        Some(k) if k == "remove" => OpKind::Remove,
        Some(_) => return Err(ApiError::validation("op must be add, replace or remove")),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) => Some(parse_path(p)?),
        Some(_) => return Err(ApiError::validation("path must be a string")),
    };
    let value = get_ci(op, "value").filter(|v| !v.is_null()).cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ApiError::validation(
            "a value is required for add and replace",
        ));
    }
    let single_attribute = value
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|object| object.len() == 1);
    if path.is_none() && (kind == OpKind::Remove || !single_attribute) {
        // AWS-DG patchuser also says "The path is required for a remove operation."; the
        // emulator answers with the wording observed from the live service.
        return Err(ApiError::validation(PATHLESS_DETAIL));
    }
    Ok(PatchOp {
        op: kind,
        path,
        value,
    })
}

fn bad_path(raw: &str) -> ApiError {
    ApiError::validation(format!("invalid path: {raw}"))
}

/// Parses a PATCH path with scim-core's RFC 7644 §3.5.2 grammar, then places it: an
/// attribute of the core User or Group schema (with or without its URN prefix), or the
/// enterprise extension (whole, or `:attr[.sub]`). Value filters may use only `eq` and
/// `and`. Any other schema URN is refused.
pub(crate) fn parse_path(raw: &str) -> Result<OpPath, ApiError> {
    let parsed = parse_patch_path(raw).map_err(|_| bad_path(raw))?;
    let extension = match parsed.attr.urn.as_deref() {
        None => false,
        Some(urn) if urn.eq_ignore_ascii_case(scim_core::ENTERPRISE_USER_SCHEMA) => true,
        Some(urn)
            if (urn.eq_ignore_ascii_case(scim_core::USER_SCHEMA)
                || urn.eq_ignore_ascii_case(scim_core::GROUP_SCHEMA))
                && !parsed.attr.is_whole_schema() =>
        {
            false
        }
        Some(_) => return Err(bad_path(raw)),
    };
    if parsed.attr.is_whole_schema() {
        return Ok(OpPath {
            extension,
            attr: None,
            filter: None,
            sub: None,
        });
    }
    if let Some(filter) = &parsed.filter
        && !eq_only(filter)
    {
        return Err(ApiError::validation(
            "only the eq operator is supported in filters",
        ));
    }
    Ok(OpPath {
        extension,
        attr: Some(parsed.attr.name),
        filter: parsed.filter,
        sub: parsed.attr.sub_attr.or(parsed.sub_attr),
    })
}

fn eq_only(filter: &Filter) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            ..
        } => path.urn.is_none(),
        Filter::And(a, b) => eq_only(a) && eq_only(b),
        _ => false,
    }
}

/// Whether one value of a multi-valued attribute matches an `eq`/`and` filter. Strings
/// compare without regard to case: the sub-attributes Identity Center accepts in such
/// filters (`type`, `value` of emails and phone numbers) are not case-exact in RFC 7643.
pub(crate) fn element_matches(filter: &Filter, element: &Value) -> bool {
    let Some(element) = element.as_object() else {
        return false;
    };
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub_attr.is_none() => match (get_ci(element, &path.name), value) {
            (Some(Value::String(a)), CompValue::String(b)) => a.to_lowercase() == b.to_lowercase(),
            (Some(Value::Bool(a)), CompValue::Bool(b)) => a == b,
            (Some(Value::Number(a)), CompValue::Number(b)) => a == b,
            _ => false,
        },
        Filter::And(a, b) => {
            let element = Value::Object(element.clone());
            element_matches(a, &element) && element_matches(b, &element)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patch_requires_op() {
        // AWS-DG patchuser: "The operation must be specified."
        let err = parse_patch(&json!({"Operations":[{"path":"title","value":"x"}]})).unwrap_err();
        assert!(err.detail.contains("op"));
    }

    #[test]
    fn patch_remove_requires_path() {
        // AWS-DG patchuser: "The path is required for a remove operation."
        assert!(parse_patch(&json!({"Operations":[{"op":"remove"}]})).is_err());
    }

    #[test]
    fn patch_add_and_replace_require_value() {
        // AWS-DG patchuser: "A value is required for add and replace."
        for op in ["add", "replace"] {
            let body = json!({"Operations":[{"op": op, "path":"title"}]});
            assert!(parse_patch(&body).is_err(), "{op}");
        }
    }

    #[test]
    fn pathless_operations_must_add_or_replace_a_single_attribute() {
        // authentik #12321 quotes Identity Center: path-less only for Add and Replace
        // modifying a single attribute.
        let one = json!({"Operations":[{"op":"replace","value":{"active":false}}]});
        assert!(parse_patch(&one).is_ok());
        for op in [
            json!({"op":"replace","value":{"id":"g1","displayName":"New"}}),
            json!({"op":"add","value":{}}),
            json!({"op":"add","value":"x"}),
            json!({"op":"remove","value":{"title":"x"}}),
        ] {
            let err = parse_patch(&json!({"Operations":[op]})).unwrap_err();
            assert_eq!(err.detail, PATHLESS_DETAIL, "{op}");
        }
    }

    #[test]
    fn patch_rejects_unknown_op_and_accepts_any_case() {
        assert!(parse_patch(&json!({"Operations":[{"op":"move","path":"title"}]})).is_err());
        let ops = parse_patch(&json!({"Operations":[{"op":"Replace","path":"title","value":"x"}]}))
            .unwrap();
        assert_eq!(ops[0].op, OpKind::Replace);
    }

    #[test]
    fn simple_and_sub_attribute_paths_parse() {
        let p = parse_path("name.givenName").unwrap();
        assert_eq!(
            (p.attr.as_deref(), p.sub.as_deref(), p.extension),
            (Some("name"), Some("givenName"), false)
        );
        let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:userName").unwrap();
        assert_eq!(p.attr.as_deref(), Some("userName"));
    }

    #[test]
    fn enterprise_paths_parse() {
        let urn = scim_core::ENTERPRISE_USER_SCHEMA;
        let whole = parse_path(urn).unwrap();
        assert!(whole.extension && whole.attr.is_none());
        let p = parse_path(&format!("{urn}:manager.value")).unwrap();
        assert!(p.extension);
        assert_eq!(
            (p.attr.as_deref(), p.sub.as_deref()),
            (Some("manager"), Some("value"))
        );
        assert!(parse_path(&format!("{urn}manager")).is_err());
    }

    #[test]
    fn unknown_schema_urn_in_path_is_rejected() {
        assert!(parse_path("urn:example:foo:bar").is_err());
        assert!(parse_path("").is_err());
        assert!(parse_path("emails[type eq \"work\"").is_err());
    }
}
