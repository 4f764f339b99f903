//! Reading the raw parts of a request the handlers need, refusing what the gateway will
//! not accept before anything is sent downstream: bodies (size, media type, JSON) and
//! query strings. Ids, resources and PATCH bodies are then parsed by scim-core's types.

use axum::body::Body;
use http::HeaderMap;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use scim_core::ScimError;
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
    fn ids_that_could_escape_their_path_are_refused() {
        for good in [
            "9067729b3d-94f1e0b3-c394-48d5-8ab1-2c122a167074",
            "a1",
            "x_y.z",
        ] {
            assert!(scim_core::ResourceId::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(scim_core::ResourceId::MAX_LEN + 1);
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
            assert_eq!(
                scim_core::ResourceId::parse(bad).unwrap_err().status,
                404,
                "{bad}"
            );
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
