//! Okta's error answers: the error codes the emulator uses, their HTTP statuses, and the
//! body every Okta error carries (`errorCode`, `errorSummary`, `errorLink`, `errorId`,
//! `errorCauses`; Okta error codes reference,
//! <https://developer.okta.com/docs/reference/error-codes/>).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

/// An error answer of the emulated API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {summary}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// Okta's code, e.g. `E0000007`; also the body's `errorLink`.
    pub(crate) code: &'static str,
    pub(crate) summary: String,
    /// The `errorSummary` of each `errorCauses` item.
    pub(crate) causes: Vec<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        Self {
            status,
            code,
            summary: summary.into(),
            causes: Vec::new(),
        }
    }

    /// 400 E0000001, the validation failure, naming the field and why.
    pub(crate) fn validation(field: &str, cause: impl Into<String>) -> Self {
        Self {
            causes: vec![cause.into()],
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "E0000001",
                format!("Api validation failed: {field}"),
            )
        }
    }

    /// 400 E0000003: the body is not JSON of the expected shape.
    pub(crate) fn bad_body(detail: impl Into<String>) -> Self {
        Self {
            causes: vec![detail.into()],
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "E0000003",
                "The request body was not well-formed.",
            )
        }
    }

    /// 400 E0000031: a `filter` or `search` the emulator does not evaluate.
    pub(crate) fn invalid_search(detail: impl Into<String>) -> Self {
        Self {
            causes: vec![detail.into()],
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "E0000031",
                "Invalid search criteria.",
            )
        }
    }

    /// 401 E0000011: no token, or one the org does not hold.
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        )
    }

    /// 404 E0000007 for a resource of `kind` (`User`, `UserGroup`, `AppUser`).
    pub(crate) fn not_found(id: &str, kind: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "E0000007",
            format!("Not found: Resource not found: {id} ({kind})"),
        )
    }

    /// 405 E0000022.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        )
    }

    /// 429 E0000047 (fixture `api-rate-limited.json`).
    pub(crate) fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        )
    }

    /// 500 E0000009, as an injected fault answers.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "E0000009",
            "Internal Server Error",
        )
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        let causes: Vec<Value> = self
            .causes
            .iter()
            .map(|c| json!({"errorSummary": c}))
            .collect();
        json!({
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": error_id(),
            "errorCauses": causes,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// An `errorId` of the shape Okta's have: `oae` and 22 alphanumerics. Only for telling
/// answers apart in logs, so it comes from the thread's generator, not the seeded one.
fn error_id() -> String {
    let tail: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(22)
        .map(char::from)
        .collect();
    format!("oae{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limited_body_has_exactly_the_keys_and_values_of_okta_s() {
        // Arrange: fixture api-rate-limited.json (Okta error codes reference, E0000047).
        let fixture: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/okta-api/api-rate-limited.json"
        )))
        .unwrap();

        // Act
        let body = ApiError::rate_limited().body();

        // Assert: the same keys, the same values but the per-answer errorId.
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&body), keys(&fixture));
        for key in ["errorCode", "errorSummary", "errorLink", "errorCauses"] {
            assert_eq!(body[key], fixture[key], "{key}");
        }
        let id = body["errorId"].as_str().unwrap();
        assert!(id.starts_with("oae") && id.len() == 25, "{id}");
    }

    #[test]
    fn a_validation_error_names_the_field_and_carries_its_cause() {
        let body =
            ApiError::validation("login", "login: An object with this field already exists").body();
        assert_eq!(body["errorCode"], "E0000001");
        assert_eq!(body["errorSummary"], "Api validation failed: login");
        assert_eq!(
            body["errorCauses"],
            json!([{"errorSummary": "login: An object with this field already exists"}])
        );
    }
}
