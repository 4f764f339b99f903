//! Identity Center's error answers: the exception kinds, their HTTP statuses and the
//! AWS-shaped body the real endpoint returns (`docs/identity-center-dialect.md` §8).
//!
//! Handlers return [`ApiError`]; its `IntoResponse` only leaves a marker in the response
//! extensions, and the request gate in `routes` renders the body once, because only the
//! gate knows the request id that `exceptionRequestId` must repeat.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::format_description;

/// The message Identity Center puts in most 400 answers (fixture `error-400-current.json`).
pub(crate) const UNPARSABLE: &str =
    "Request is unparsable, syntactically incorrect, or violates schema.";

/// The exceptions of AWS-DG's per-operation error tables, with the status each maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exception {
    /// 400: unparsable, violates schema, or an unsupported operation.
    Validation,
    /// 401: missing or invalid bearer token, or a wrong tenant id.
    Unauthorized,
    /// 404: the user, group or endpoint does not exist.
    ResourceNotFound,
    /// 409: "User already exists" / "Group already exists".
    Conflict,
    /// 429: too many requests.
    Throttling,
    /// 500: the service failed to process the request.
    InternalServer,
}

impl Exception {
    /// The HTTP status of the exception.
    pub(crate) fn status(self) -> StatusCode {
        match self {
            Exception::Validation => StatusCode::BAD_REQUEST,
            Exception::Unauthorized => StatusCode::UNAUTHORIZED,
            Exception::ResourceNotFound => StatusCode::NOT_FOUND,
            Exception::Conflict => StatusCode::CONFLICT,
            Exception::Throttling => StatusCode::TOO_MANY_REQUESTS,
            Exception::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The exception's AWS name, for logs (the real body does not carry it).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Exception::Validation => "ValidationException",
            Exception::Unauthorized => "UnauthorizedException",
            Exception::ResourceNotFound => "ResourceNotFoundException",
            Exception::Conflict => "ConflictException",
            Exception::Throttling => "ThrottlingException",
            Exception::InternalServer => "InternalServerException",
        }
    }
}

/// An error answer of the emulated endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", exception.name())]
pub(crate) struct ApiError {
    /// Which exception.
    pub(crate) exception: Exception,
    /// The `detail` text of the body.
    pub(crate) detail: String,
}

impl ApiError {
    fn new(exception: Exception, detail: impl Into<String>) -> Self {
        Self {
            exception,
            detail: detail.into(),
        }
    }

    /// 400 ValidationException with a specific detail.
    pub(crate) fn validation(detail: impl Into<String>) -> Self {
        Self::new(Exception::Validation, detail)
    }

    /// 400 ValidationException with Identity Center's generic wording.
    pub(crate) fn unparsable() -> Self {
        Self::validation(UNPARSABLE)
    }

    /// 401 UnauthorizedException.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            Exception::Unauthorized,
            "Authorization header is invalid or missing.",
        )
    }

    /// 404 ResourceNotFoundException.
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(Exception::ResourceNotFound, detail)
    }

    /// 409 ConflictException.
    pub(crate) fn conflict(detail: impl Into<String>) -> Self {
        Self::new(Exception::Conflict, detail)
    }

    /// 429 ThrottlingException.
    pub(crate) fn throttling() -> Self {
        Self::new(
            Exception::Throttling,
            "Too many requests exceeded the limits.",
        )
    }

    /// 500 InternalServerException.
    pub(crate) fn internal() -> Self {
        Self::new(
            Exception::InternalServer,
            "Service failed to process the request.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.exception.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Renders the body Identity Center sends: `schema` *and* `schemas`, `status` as a string,
/// `exceptionRequestId`, `timeStamp` as `YYYY-MM-DD hh:mm:ss.mmm`, and no `scimType`.
pub(crate) fn render_body(error: &ApiError, request_id: &str, now: OffsetDateTime) -> Vec<u8> {
    let stamp = now
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:3]"
        ))
        .unwrap_or_default();
    let body = json!({
        "schema": [scim_core::ERROR_SCHEMA],
        "schemas": [scim_core::ERROR_SCHEMA],
        "detail": error.detail,
        "status": error.exception.status().as_u16().to_string(),
        "exceptionRequestId": request_id,
        "timeStamp": stamp,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn error_body_has_exactly_the_keys_of_the_real_fixture() {
        // Arrange: fixture `identity-center/error-400-current.json` (lichti report, 2024).
        let fixture: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/identity-center/error-400-current.json"
        )))
        .unwrap();
        let now = OffsetDateTime::from_unix_timestamp(1_712_298_732).unwrap();

        // Act
        let body = render_body(
            &ApiError::unparsable(),
            "59370c32-f096-4892-8e37-94b4581f1f03",
            now,
        );
        let body: Value = serde_json::from_slice(&body).unwrap();

        // Assert: same keys, same values except the clock.
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&body), keys(&fixture));
        for key in [
            "schema",
            "schemas",
            "detail",
            "status",
            "exceptionRequestId",
        ] {
            assert_eq!(body[key], fixture[key], "{key}");
        }
        assert_eq!(body["timeStamp"], "2024-04-05 06:32:12.000");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn every_exception_maps_to_the_documented_status() {
        // AWS-DG per-operation error tables (`docs/identity-center-dialect.md` §8).
        let table = [
            (Exception::Validation, 400),
            (Exception::Unauthorized, 401),
            (Exception::ResourceNotFound, 404),
            (Exception::Conflict, 409),
            (Exception::Throttling, 429),
            (Exception::InternalServer, 500),
        ];
        for (exception, status) in table {
            assert_eq!(exception.status().as_u16(), status, "{}", exception.name());
        }
    }
}
