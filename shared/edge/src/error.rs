//! The one place where errors become HTTP responses.
//!
//! A 4xx answers with the RFC 7644 §3.12 error and its detail. A 5xx answers with a
//! generic detail and the request's correlation id, and the full cause chain is logged
//! once, here, so that nothing internal (an upstream message, a secret id, a hostname)
//! reaches the client and every failure can still be found in the logs. An error the
//! client should retry later (Identity Center's throttling passed on as 429, the audit
//! trail refusing a change's intent record as 503) carries `Retry-After`.

use axum::body::Body;
use axum::response::Response;
use gateway::GatewayError;
pub use gateway::service::cause_chain;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use scim_core::{SCIM_MEDIA_TYPE, ScimError};

/// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3).
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"scim\"";

/// The response for a gateway error, for the request with `correlation_id`.
pub fn to_response(error: &GatewayError, correlation_id: &str) -> Response {
    let scim = error.to_scim_error();
    let mut response = if is_server_fault(scim.status) {
        tracing::error!(
            error.cause_chain = %cause_chain(error),
            status = scim.status,
            "request failed"
        );
        scim_error_response(&generic(scim.status, correlation_id))
    } else {
        scim_error_response(&scim)
    };
    // A 429 from Identity Center, and a 503 when the audit trail refused the intent
    // record (nothing changed; Okta retries after the wait).
    if let Some(after) = error.retry_after() {
        set_retry_after(&mut response, after.as_secs());
    }
    response
}

/// The response for an error the edge itself found (authentication, routing, body and
/// query parsing). Server faults are logged and made generic as in [`to_response`].
pub fn edge_error_response(error: &ScimError, correlation_id: &str) -> Response {
    if is_server_fault(error.status) {
        tracing::error!(error.cause_chain = %error, status = error.status, "request failed");
        return scim_error_response(&generic(error.status, correlation_id));
    }
    scim_error_response(error)
}

/// 501 says "not implemented" and nothing internal, so it keeps its detail; every other
/// 5xx is a fault whose cause stays in the logs.
fn is_server_fault(status: u16) -> bool {
    (status >= 500 && status != 501) || !(400..600).contains(&status)
}

fn generic(status: u16, correlation_id: &str) -> ScimError {
    let status = if (500..600).contains(&status) {
        status
    } else {
        500
    };
    ScimError::new(
        status,
        format!("the gateway could not complete the request (correlation id {correlation_id})"),
    )
}

/// Writes a SCIM error as the response body, with the error's status.
fn scim_error_response(error: &ScimError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // Serializing a ScimError cannot fail (strings and a number); the fallback keeps the
    // response a SCIM error even so.
    let body = serde_json::to_vec(error).unwrap_or_else(|_| {
        br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500"}"#.to_vec()
    });
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
    }
    response
}

fn set_retry_after(response: &mut Response, seconds: u64) {
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;

    async fn body(response: Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_client_error_answers_with_its_scim_error_and_detail() {
        // Act
        let response = to_response(
            &GatewayError::Invalid(ScimError::invalid_filter("unknown operator")),
            "c-1",
        );

        // Assert
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()[CONTENT_TYPE], SCIM_MEDIA_TYPE);
        let body = body(response).await;
        assert_eq!(body["scimType"], "invalidFilter");
        assert_eq!(body["status"], "400");
        assert_eq!(body["detail"], "unknown operator");
    }

    #[tokio::test]
    async fn a_server_fault_answers_generically_with_the_correlation_id() {
        // Act
        let response = to_response(
            &GatewayError::Unexpected(anyhow::anyhow!("db host 10.0.0.7 refused")),
            "corr-42",
        );

        // Assert
        assert!(response.status().is_server_error());
        let body = body(response).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains("corr-42"), "{detail}");
        assert!(!detail.contains("10.0.0.7"), "{detail}");
        assert_eq!(body["schemas"][0], scim_core::ERROR_SCHEMA);
    }

    #[tokio::test]
    async fn a_refused_intent_record_answers_503_with_retry_after() {
        // Act
        let response = to_response(
            &GatewayError::AuditUnavailable(gateway::AuditError::Unavailable(
                "table audit-x throttled".into(),
            )),
            "corr-7",
        );

        // Assert
        assert_eq!(response.status(), 503);
        let after: u64 = response.headers()[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(after, gateway::service::AUDIT_RETRY_AFTER.as_secs());
        let body = body(response).await;
        assert_eq!(body["status"], "503");
        assert_eq!(body["schemas"][0], scim_core::ERROR_SCHEMA);
        assert!(!body["detail"].as_str().unwrap().contains("audit-x"));
    }

    #[tokio::test]
    async fn a_401_carries_a_bearer_challenge() {
        let response = edge_error_response(&ScimError::unauthorized("no token"), "c");
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], BEARER_CHALLENGE);
    }

    #[test]
    fn the_cause_chain_joins_every_source() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let chain = cause_chain(&Outer(std::io::Error::other("inner")));
        assert_eq!(chain, "outer: inner");
    }
}
