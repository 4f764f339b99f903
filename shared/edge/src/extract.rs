//! Reading the parts of a request the handlers need, refusing what the gateway will not
//! accept before anything is sent downstream: bodies (size, media type, JSON), resource
//! ids in paths, and query strings.

use axum::body::Body;
use gateway::ResourceKind;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use scim_core::{ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, PATCH_OP_SCHEMA, ScimError, USER_SCHEMA};
use serde_json::Value;

use crate::discovery::MAX_BODY_BYTES;

/// The longest query string accepted: room for scim-core's longest filter (8 KiB) fully
/// percent-encoded, so that an over-long filter gets the parser's own `invalidFilter`;
/// anything longer is not a SCIM request.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;

/// The request body as a JSON object, after checking its media type (RFC 7644 §3.8:
/// `application/scim+json`, and `application/json`, which Okta sends; a missing
/// `Content-Type` is tolerated) and its size.
pub async fn json_object(headers: &HeaderMap, body: Body) -> Result<Value, ScimError> {
    check_content_type(headers)?;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        // An aborted upload: what arrived cannot be a whole document.
        Err(_) => {
            return Err(ScimError::invalid_syntax(
                "the request body could not be read",
            ));
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request body is empty"));
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        // serde_json's position, never the body: it may hold a password.
        ScimError::invalid_syntax(format!(
            "the request body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object",
        ));
    }
    Ok(value)
}

/// Refuses a body whose `schemas` names a URN this endpoint does not serve (RFC 7643
/// §3: every URN in `schemas` must be one the representation supports): a resource must
/// carry its core schema and may add only its known extensions, and a PATCH carries the
/// PatchOp URN alone (RFC 7644 §3.5.2). Checked here, before the use case runs, so a
/// resource of the wrong kind or an unknown extension never reaches the target.
/// A wrongly typed `schemas` is left to the use case's parser, which owns that error.
pub fn check_schemas(kind: ResourceKind, patch: bool, body: &Value) -> Result<(), ScimError> {
    let Some(Value::Array(urns)) = body
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")))
        .map(|(_, v)| v)
    else {
        return Ok(());
    };
    let urns: Vec<&str> = urns.iter().filter_map(Value::as_str).collect();
    let (required, allowed): (&str, &[&str]) = match (patch, kind) {
        (true, _) => (PATCH_OP_SCHEMA, &[PATCH_OP_SCHEMA]),
        (false, ResourceKind::User) => (USER_SCHEMA, &[USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        (false, ResourceKind::Group) => (GROUP_SCHEMA, &[GROUP_SCHEMA]),
    };
    let known = |urn: &str| allowed.iter().any(|a| a.eq_ignore_ascii_case(urn));
    if let Some(unknown) = urns.iter().find(|urn| !known(urn)) {
        // The URN is the client's own input, but cap it: it is echoed in the detail.
        let shown: String = unknown.chars().take(100).collect();
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

fn too_large() -> ScimError {
    ScimError::payload_too_large(format!("the request body exceeds {MAX_BODY_BYTES} bytes"))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ScimError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json" | "application/scim+json") => Ok(()),
        _ => Err(ScimError::unsupported_media_type(
            "the request body must be application/scim+json or application/json",
        )),
    }
}

/// Whether `id` can name a resource at all: the gateway's one rule for ids
/// (`gateway::translate::id`), applied here already so that a hostile id is refused
/// before its request body is even read. A refused id is a resource that does not exist.
pub fn check_id(id: &str) -> Result<(), ScimError> {
    gateway::translate::id::check_id(id).map(|_| ())
}

/// The query string's parameters, percent-decoded (`+` as a space, as in forms).
pub fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ScimError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_QUERY_BYTES {
        return Err(ScimError::invalid_value(format!(
            "the query string exceeds {MAX_QUERY_BYTES} bytes"
        )));
    }
    Ok(form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect())
}

/// The value of the query parameter `name` (matched case-insensitively), refusing one
/// given twice, which a proxy and the gateway could read differently.
pub fn single_param<'a>(
    pairs: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, ScimError> {
    let mut values = pairs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let first = values.next().map(|(_, v)| v.as_str());
    if values.next().is_some() {
        return Err(ScimError::invalid_value(format!(
            "query parameter `{name}` is given more than once"
        )));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(content_type: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        headers
    }

    #[tokio::test]
    async fn json_bodies_in_either_media_type_or_none_are_read() {
        for ct in [
            None,
            Some("application/json"),
            Some("application/scim+json; charset=utf-8"),
        ] {
            let value = json_object(&headers(ct), Body::from(r#"{"a":1}"#))
                .await
                .unwrap();
            assert_eq!(value["a"], 1, "{ct:?}");
        }
    }

    #[tokio::test]
    async fn other_media_types_are_refused_with_415() {
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
        ] {
            let error = json_object(&headers(Some(ct)), Body::from("{}"))
                .await
                .unwrap_err();
            assert_eq!(error.status, 415, "{ct}");
        }
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_with_413_whatever_its_declared_length() {
        // Arrange
        let big = vec![b' '; MAX_BODY_BYTES + 1];

        // Act
        let undeclared = json_object(&headers(None), Body::from(big))
            .await
            .unwrap_err();
        let mut declared = headers(None);
        declared.insert(CONTENT_LENGTH, HeaderValue::from_static("2000000"));
        let declared = json_object(&declared, Body::from("{}")).await.unwrap_err();

        // Assert
        assert_eq!((undeclared.status, declared.status), (413, 413));
    }

    #[tokio::test]
    async fn malformed_empty_and_non_object_bodies_are_invalid_syntax() {
        for body in [
            "",
            "  ",
            "{",
            "[1]",
            "\"x\"",
            "null",
            "{\"password\": \"hunter2\"",
        ] {
            let error = json_object(&headers(None), Body::from(body))
                .await
                .unwrap_err();
            assert_eq!(error.status, 400, "{body}");
            assert_eq!(
                error.scim_type,
                Some(scim_core::ScimType::InvalidSyntax),
                "{body}"
            );
            assert!(!error.detail.contains("hunter2"));
        }
    }

    #[test]
    fn schemas_must_be_the_endpoints_own() {
        use serde_json::json;
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
            assert_eq!(
                error.scim_type,
                Some(scim_core::ScimType::InvalidValue),
                "{body}"
            );
        }
    }

    #[test]
    fn ids_that_could_escape_their_path_are_refused() {
        for good in [
            "9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074",
            "a1",
            "x_y.z",
        ] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        let long = "a".repeat(gateway::translate::id::MAX_ID_LEN + 1);
        for bad in [
            "",
            ".",
            "..",
            "../Groups",
            "a/b",
            "a\\b",
            "%2e%2e",
            "a:b",
            "a b",
            "é",
            &long,
        ] {
            assert_eq!(check_id(bad).unwrap_err().status, 404, "{bad}");
        }
    }

    #[test]
    fn query_strings_are_decoded_and_repeated_parameters_refused() {
        let pairs = query_pairs(Some("filter=userName%20eq%20%22a%2Bb%40x%22&count=1")).unwrap();
        assert_eq!(
            single_param(&pairs, "FILTER").unwrap(),
            Some("userName eq \"a+b@x\"")
        );
        let twice = query_pairs(Some("attributes=a&attributes=b")).unwrap();
        assert!(single_param(&twice, "attributes").is_err());
        let long = "a".repeat(MAX_QUERY_BYTES + 1);
        assert_eq!(query_pairs(Some(&long)).unwrap_err().status, 400);
    }
}
