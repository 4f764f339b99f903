//! Per-request identity and path normalization that happen before routing: the
//! correlation id every log line, audit record and 5xx answer carries, and the API
//! Gateway stage prefix that may precede `/scim/v2`.

use axum::extract::Request;
use http::HeaderName;
use http::uri::{PathAndQuery, Uri};

use crate::router::SCIM_BASE_PATH;

/// The response header that carries the correlation id.
pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The request id of the Lambda invocation, put into the request's extensions by the
/// function's wiring (edge does not depend on the Lambda runtime). When present it is
/// the correlation id, because the runtime's own log lines carry it too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationId(pub String);

/// The request's correlation id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(pub String);

impl CorrelationId {
    /// The Lambda request id when there is one, else the `Root` of `x-amzn-trace-id`
    /// (set by API Gateway and the load balancers), else a fresh UUID. Values from
    /// headers are used only if they look like ids: they end up in logs and headers.
    pub fn of(request: &Request) -> Self {
        let invocation = request
            .extensions()
            .get::<InvocationId>()
            .map(|i| i.0.as_str());
        let trace_root = request
            .headers()
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(';')
                    .find_map(|part| part.trim().strip_prefix("Root="))
            });
        invocation
            .filter(|id| is_plain_id(id))
            .or_else(|| trace_root.filter(|id| is_plain_id(id)))
            .map_or_else(
                || Self(uuid::Uuid::new_v4().to_string()),
                |id| Self(id.to_owned()),
            )
    }
}

fn is_plain_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The stage prefix (e.g. `/prod`) that was stripped from the request's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePrefix(pub String);

/// Removes one leading path segment in front of `/scim/v2`, as `lambda_http` leaves an
/// API Gateway stage there (`/prod/scim/v2/Users`) unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, and records it as a [`StagePrefix`].
/// Other paths pass unchanged and find no route.
pub fn strip_stage_prefix(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.starts_with(SCIM_BASE_PATH) {
        return request;
    }
    let Some((stage, rest)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return request;
    };
    let is_stage = (1..=128).contains(&stage.len())
        && stage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let rest = format!("/{rest}");
    if !is_stage || !(rest == SCIM_BASE_PATH || rest.starts_with(&format!("{SCIM_BASE_PATH}/"))) {
        return request;
    }
    let stage = format!("/{stage}");
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    let mut parts = request.uri().clone().into_parts();
    let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) else {
        return request;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
        request.extensions_mut().insert(StagePrefix(stage));
    }
    request
}

/// Runs `request` inside `span` with its correlation id in the extensions, logs one
/// access line with the status and latency, and sets `x-correlation-id` on the response.
/// Each router builds its own span (with the fields it records) and calls this.
pub(crate) async fn run_correlated(
    mut request: Request,
    next: axum::middleware::Next,
    correlation: CorrelationId,
    span: tracing::Span,
) -> axum::response::Response {
    use tracing::Instrument as _;
    let started = std::time::Instant::now();
    request.extensions_mut().insert(correlation.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            http.status = response.status().as_u16(),
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request"
        );
    });
    if let Ok(value) = http::HeaderValue::from_str(&correlation.0) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder().uri(uri).body(Body::empty()).unwrap()
    }

    #[test]
    fn a_stage_in_front_of_the_scim_path_is_stripped_and_remembered() {
        // Act
        let stripped = strip_stage_prefix(request("/prod/scim/v2/Users?count=1"));

        // Assert
        assert_eq!(stripped.uri().to_string(), "/scim/v2/Users?count=1");
        assert_eq!(
            stripped.extensions().get::<StagePrefix>(),
            Some(&StagePrefix("/prod".into()))
        );
    }

    #[test]
    fn other_paths_are_left_alone() {
        for uri in [
            "/scim/v2/Users",
            "/prod/other/scim/v2/Users",
            "/a/b",
            "/",
            "/prod/scim/v2x",
            "/../scim/v2/Users",
        ] {
            let untouched = strip_stage_prefix(request(uri));
            assert_eq!(untouched.uri().to_string(), uri);
            assert!(untouched.extensions().get::<StagePrefix>().is_none());
        }
    }

    #[test]
    fn the_correlation_id_prefers_the_invocation_then_the_trace_root_then_a_fresh_one() {
        // Arrange
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
        let mut traced = request("/");
        traced
            .headers_mut()
            .insert("x-amzn-trace-id", trace.parse().unwrap());
        let mut hostile = request("/");
        hostile
            .headers_mut()
            .insert("x-amzn-trace-id", "Root=<script>".parse().unwrap());

        // Act / Assert
        assert_eq!(
            CorrelationId::of(&traced).0,
            "1-5759e988-bd862e3fe1be46a994272793"
        );
        traced
            .extensions_mut()
            .insert(InvocationId("c6af9ac6-7b61-11e6-9a41-93e812345678".into()));
        assert_eq!(
            CorrelationId::of(&traced).0,
            "c6af9ac6-7b61-11e6-9a41-93e812345678"
        );
        let generated = CorrelationId::of(&hostile).0;
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    }
}
