//! The Okta Event Hook router (`/hooks/okta`, the `okta-hook` function;
//! `docs/okta-events.md`): the one-time verification GET and the deliveries.
//!
//! Every request is authenticated first: the whole `Authorization` value is the shared
//! secret Okta was given, compared in constant time against the one or two hashes in
//! the hook-secret secret (two during a rotation). Then a delivery is read whole
//! (`gateway::events::read_delivery`) and recorded whole (`EventIntake`) before it is
//! answered, never calling Okta or Identity Center:
//! - 200, empty: every event the gateway acts on is on the queue (duplicates stopped at
//!   the ledger, other types acknowledged and counted);
//! - 400: not JSON, not an Okta envelope, an unknown envelope version, a malformed
//!   event (nothing of the delivery is queued; Okta does not retry a 4xx);
//! - 401: a missing or wrong secret; 413: a body over [`MAX_HOOK_BODY_BYTES`] or more
//!   than `MAX_EVENTS_PER_DELIVERY` events; 405 for other methods;
//! - 503 with `Retry-After`: the ledger or the queue failed; what was recorded stays,
//!   and Okta's one retry records the rest.
//!
//! Errors are `{"error", "message", "correlation_id"}`, never a secret.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::get;
use gateway::events::{EventIntake, IntakeReport, read_delivery};
use http::Method;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};

use crate::auth::{AuthError, BearerAuthenticator};
use crate::http::{CorrelationId, ErrorFormat, Plumbing, correlation_of, refused_auth};
use crate::metrics::{EmfDocument, RequestMetrics, Unit, function_name};

/// The hook's path.
pub const HOOK_PATH: &str = "/hooks/okta";

/// The largest delivery body read: under Lambda's 6 MB request payload quota
/// (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>), and room
/// for `MAX_EVENTS_PER_DELIVERY` events of Okta's size (a few KB each).
pub const MAX_HOOK_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Okta's verification header (<https://developer.okta.com/docs/concepts/event-hooks/>).
pub const VERIFICATION_HEADER: &str = "x-okta-verification-challenge";

/// The time a delivery may take to record: Okta waits 3 seconds, and an answer after
/// that is a failed delivery anyway. Past it the hook answers 503, and Okta's retry
/// finds what was recorded and records the rest.
pub const INTAKE_DEADLINE: std::time::Duration = std::time::Duration::from_millis(2500);

/// The longest verification challenge echoed back.
const MAX_CHALLENGE_CHARS: usize = 512;

/// Metric names of the per-delivery document.
pub const HOOK_EVENTS_RECEIVED: &str = "HookEventsReceived";
/// Events put on the queue.
pub const HOOK_EVENTS_QUEUED: &str = "HookEventsQueued";
/// Events already recorded (duplicate deliveries).
pub const HOOK_EVENTS_DUPLICATE: &str = "HookEventsDuplicate";
/// Events acknowledged without being queued.
pub const HOOK_EVENTS_IGNORED: &str = "HookEventsIgnored";

/// How the hook router uses the shared plumbing.
const PLUMBING: Plumbing = Plumbing {
    base_path: HOOK_PATH,
    span: "okta_hook",
    operation: operation_name,
    errors: ErrorFormat {
        internal: |correlation| {
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the hook failed",
                correlation,
            )
        },
        not_allowed: |method, allow, correlation| {
            error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                &format!("{method} is not supported here; use {allow}"),
                correlation,
            )
        },
    },
};

fn operation_name(method: &Method, matched: &str) -> &'static str {
    match (method.as_str(), matched) {
        ("GET", HOOK_PATH) => "VerifyHook",
        ("POST", HOOK_PATH) => "DeliverEvents",
        _ => "Other",
    }
}

/// The hook function's state.
pub struct HookApp {
    intake: EventIntake,
    authenticator: BearerAuthenticator,
    metrics: RequestMetrics,
    deadline: std::time::Duration,
}

impl std::fmt::Debug for HookApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookApp")
            .field("authenticator", &self.authenticator)
            .finish_non_exhaustive()
    }
}

impl HookApp {
    /// State over the intake use case and the hook-secret authenticator
    /// ([`BearerAuthenticator::hook_secret`]); metrics to stdout, as in Lambda.
    pub fn new(intake: EventIntake, authenticator: BearerAuthenticator) -> Self {
        Self {
            intake,
            authenticator,
            metrics: RequestMetrics::new(function_name("okta-hook")),
            deadline: INTAKE_DEADLINE,
        }
    }

    /// Gives a delivery `deadline` to be recorded instead of [`INTAKE_DEADLINE`]
    /// (a measurement of the intake's own latency wants no cut-off).
    #[must_use]
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Uses `metrics` for the per-request and per-delivery documents.
    #[must_use]
    pub fn with_metrics(mut self, metrics: RequestMetrics) -> Self {
        self.metrics = metrics;
        self
    }
}

/// The hook's router, metrics included.
pub fn hook_router(app: Arc<HookApp>) -> Router {
    let route = get(verify)
        .post(deliver)
        .fallback(PLUMBING.not_allowed("GET, POST"));
    let routes = Router::new()
        .route(HOOK_PATH, route.clone())
        .route(&format!("{HOOK_PATH}/"), route)
        .fallback(unknown_route)
        .layer(from_fn_with_state(app.clone(), authenticate));
    let metrics = app.metrics.clone();
    metrics.instrument(PLUMBING.wrap(routes, app))
}

async fn authenticate(State(app): State<Arc<HookApp>>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match app.authenticator.authenticate(header).await {
        Ok(_) => next.run(request).await,
        Err(AuthError::Secret(error)) => {
            tracing::error!(error = %error, "the hook secret could not be read");
            unavailable(&correlation_of(&request))
        }
        Err(error) => {
            tracing::info!(reason = %error, "a hook request was refused");
            refused_auth(error_response(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a missing or wrong secret in Authorization",
                &correlation_of(&request),
            ))
        }
    }
}

/// Okta's one-time verification: echo the challenge header as `{"verification": …}`.
async fn verify(
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    headers: HeaderMap,
) -> Response {
    let challenge = headers
        .get(VERIFICATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|c| !c.is_empty() && c.chars().count() <= MAX_CHALLENGE_CHARS);
    match challenge {
        Some(challenge) => json_response(StatusCode::OK, &json!({ "verification": challenge })),
        None => error_response(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "a verification request carries X-Okta-Verification-Challenge (at most 512 \
             characters); deliveries are POSTs",
            &correlation.0,
        ),
    }
}

async fn deliver(
    State(app): State<Arc<HookApp>>,
    axum::Extension(correlation): axum::Extension<CorrelationId>,
    request: Request,
) -> Response {
    let correlation = correlation.0;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_HOOK_BODY_BYTES as u64) {
        return too_large(&correlation);
    }
    let bytes: Bytes = match Limited::new(request.into_body(), MAX_HOOK_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return too_large(&correlation);
        }
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the body could not be read",
                &correlation,
            );
        }
    };
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the body is not JSON",
                &correlation,
            );
        }
    };
    let delivery = match read_delivery(&body) {
        Ok(delivery) => delivery,
        Err(error) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_many_events"
            } else {
                "invalid_delivery"
            };
            return error_response(status, code, &error.to_string(), &correlation);
        }
    };
    let envelope_id = delivery.envelope_id.clone();
    for (event_type, why) in &delivery.ignored {
        tracing::info!(event_type = %event_type, why, "an event was acknowledged, not queued");
    }
    let accepted = tokio::time::timeout(app.deadline, app.intake.accept(delivery)).await;
    match accepted {
        Err(_) => {
            tracing::error!(envelope = %envelope_id, "a delivery took too long to record");
            unavailable(&correlation)
        }
        Ok(Ok(report)) => {
            tracing::info!(
                envelope = %envelope_id,
                received = report.received,
                queued = report.queued,
                duplicates = report.duplicates,
                ignored = report.ignored,
                "a delivery was recorded"
            );
            write_counts(&app.metrics, &report, &correlation);
            Response::builder()
                .status(StatusCode::OK)
                .body(Body::empty())
                .unwrap_or_default()
        }
        Ok(Err(error)) => {
            tracing::error!(envelope = %envelope_id, error = %error, "a delivery could not be recorded");
            unavailable(&correlation)
        }
    }
}

/// One EMF document per delivery with its event counts (the dead-letter and queue-age
/// alarms watch the queue; these show what arrives).
fn write_counts(metrics: &RequestMetrics, report: &IntakeReport, correlation: &str) {
    let document = EmfDocument::new()
        .with(crate::metrics::DIM_FUNCTION, metrics.function())
        .with("correlation_id", correlation)
        .metrics(
            &[&[crate::metrics::DIM_FUNCTION]],
            &[
                (HOOK_EVENTS_RECEIVED, report.received as f64, Unit::Count),
                (HOOK_EVENTS_QUEUED, report.queued as f64, Unit::Count),
                (HOOK_EVENTS_DUPLICATE, report.duplicates as f64, Unit::Count),
                (HOOK_EVENTS_IGNORED, report.ignored as f64, Unit::Count),
            ],
        );
    metrics.sink().write_line(&document.to_line());
}

async fn unknown_route(axum::Extension(correlation): axum::Extension<CorrelationId>) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        &format!("the hook is at {HOOK_PATH}"),
        &correlation.0,
    )
}

fn too_large(correlation: &str) -> Response {
    error_response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!("the body exceeds {MAX_HOOK_BODY_BYTES} bytes"),
        correlation,
    )
}

fn unavailable(correlation: &str) -> Response {
    let mut response = error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the delivery could not be recorded; retry",
        correlation,
    );
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn error_response(status: StatusCode, code: &str, message: &str, correlation: &str) -> Response {
    json_response(
        status,
        &json!({"error": code, "message": message, "correlation_id": correlation}),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}
