//! The HTTP plumbing every router of the gateway shares, written once: the API Gateway
//! stage prefix, the correlation id with its span and access line, the panic guard,
//! bearer-token extraction, 405 answers, JSON bodies, and the operation name that the
//! metrics layer reads from each response.
//!
//! Each router composes these with its own error format ([`ErrorFormat`]): SCIM errors
//! (RFC 7644 §3.12) for the SCIM API, `{"error", "message", "correlation_id"}` for the
//! audit API. Layers, outermost first: stage-prefix stripping → routing → correlation
//! (span, access line, operation name) → panic guard → the router's authentication →
//! handler.

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use http::header::{ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::uri::{PathAndQuery, Uri};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use tower::ServiceBuilder;

/// The response header that carries the correlation id.
pub const CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The request id of the Lambda invocation, put into the request's extensions by the
/// function's wiring (`edge::lambda`). When present it is the correlation id, because
/// the runtime's own log lines carry it too.
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

/// The correlation id the shared middleware gave `request`; empty before it ran.
pub fn correlation_of(request: &Request) -> String {
    request
        .extensions()
        .get::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}

/// The stage prefix (e.g. `/prod`) that was stripped from the request's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagePrefix(pub String);

/// The name of the operation a request asked for (`PatchGroup`, `QueryRecords`, …),
/// from the route that matched it, set on the response for the metrics layer. It comes
/// from a fixed table, never from the path, so it can be a metric dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationName(pub &'static str);

/// API Gateway's id of the request (`requestContext.requestId`), put into the
/// request's extensions by the function's wiring (`edge::lambda`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequestId(pub String);

/// The address the request came from, as the function's wiring learnt it from API
/// Gateway (`edge::lambda`); refusals are logged with it, since a flood is told apart
/// by its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIp(pub String);

/// The request's source address: what API Gateway saw, else the TCP peer (`scimgw dev`
/// serves with connection info), else `unknown`.
pub fn source_ip(request: &Request) -> String {
    known_source_ip(request).unwrap_or_else(|| "unknown".to_owned())
}

/// The request's source address when it is known (see [`source_ip`]).
pub fn known_source_ip(request: &Request) -> Option<String> {
    if let Some(SourceIp(ip)) = request.extensions().get::<SourceIp>() {
        return Some(ip.clone());
    }
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip().to_string())
}

/// How many audit appends failed while the request was served (its intent or its
/// outcome record), set on the response by routers whose requests write the audit
/// trail, for the `AuditAppendFailed` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAppendFailures(pub u64);

/// Marks a response as a refusal of the request's credentials (no, a malformed or an
/// unknown token; a valid token without the rights), for the `AuthRefused` metric and
/// its alarm: a sustained rate of them is someone trying tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthRefusal;

/// Marks `response` as an [`AuthRefusal`].
pub fn refused_auth(mut response: Response) -> Response {
    response.extensions_mut().insert(AuthRefusal);
    response
}

/// What one router plugs into the shared plumbing.
#[derive(Debug, Clone, Copy)]
pub struct Plumbing {
    /// The path the router serves below (`/scim/v2`, `/audit`): one stage segment in
    /// front of it is stripped.
    pub base_path: &'static str,
    /// The name of each request's span.
    pub span: &'static str,
    /// Names the operation of a matched route (method, route template).
    pub operation: fn(&Method, &str) -> &'static str,
    /// How the router writes its errors.
    pub errors: ErrorFormat,
}

/// How a router writes an error it answers itself: a panic, an unknown route, a method
/// the route does not have.
#[derive(Debug, Clone, Copy)]
pub struct ErrorFormat {
    /// The response for a panic below the guard.
    pub internal: fn(correlation: &str) -> Response,
    /// The response for a method the route does not support; `allow` lists those it does.
    pub not_allowed: fn(method: &Method, allow: &str, correlation: &str) -> Response,
}

impl Plumbing {
    /// `routes` (already carrying their own authentication layer) wrapped in the shared
    /// layers, behind stage-prefix stripping.
    pub fn wrap<S>(self, routes: Router<S>, state: S) -> Router
    where
        S: Clone + Send + Sync + 'static,
    {
        let inner = routes
            .layer(from_fn_with_state(self.errors, guard_panics))
            .layer(from_fn_with_state(self, correlate))
            .with_state(state);
        // Stripping must happen before routing, which `Router::layer` middleware runs
        // after; hence a service in front of the router rather than a layer on it.
        let base = self.base_path;
        Router::new().fallback_service(
            ServiceBuilder::new()
                .map_request(move |request| strip_stage_prefix(request, base))
                .service(inner),
        )
    }

    /// A handler answering 405 with the methods the route does support, in `Allow`.
    pub fn not_allowed(
        self,
        allow: &'static str,
    ) -> impl Fn(Request) -> std::future::Ready<Response> + Clone {
        move |request: Request| {
            let mut response =
                (self.errors.not_allowed)(request.method(), allow, &correlation_of(&request));
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
            std::future::ready(response)
        }
    }
}

/// Removes one leading path segment in front of `base` (`/prod/scim/v2/Users`), as
/// `lambda_http` leaves an API Gateway stage there unless
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, and records it as a [`StagePrefix`].
/// Other paths pass unchanged and find no route.
pub fn strip_stage_prefix(mut request: Request, base: &str) -> Request {
    let under_base = |path: &str| {
        path == base
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let path = request.uri().path();
    if under_base(path) {
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
    if !is_stage || !under_base(&rest) {
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

/// Gives the request its correlation id, runs it in a span that carries only ids, logs
/// one access line with the status and latency, names the operation on the response and
/// sets `x-correlation-id` on it.
async fn correlate(State(plumbing): State<Plumbing>, mut request: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let started = std::time::Instant::now();
    let correlation = CorrelationId::of(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let operation = (plumbing.operation)(request.method(), &route);
    let span = tracing::info_span!(
        "request",
        router = plumbing.span,
        correlation_id = %correlation.0,
        http.method = %request.method(),
        http.route = %route,
        op = operation,
        resource_type = tracing::field::Empty,
        resource_id = tracing::field::Empty,
        actor = tracing::field::Empty,
    );
    request.extensions_mut().insert(correlation.clone());
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            http.status = response.status().as_u16(),
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request"
        );
    });
    response.extensions_mut().insert(OperationName(operation));
    if let Ok(value) = HeaderValue::from_str(&correlation.0) {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

/// Turns a panic below it into the router's 500. Handlers are written not to panic;
/// this is the net under that promise, so a bug costs one request, not the connection.
async fn guard_panics(State(errors): State<ErrorFormat>, request: Request, next: Next) -> Response {
    use futures::FutureExt as _;
    let correlation = correlation_of(&request);
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => {
            tracing::error!("a handler panicked");
            (errors.internal)(&correlation)
        }
    }
}

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("no bearer token")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>` with a well-formed token.
    #[error("malformed bearer token")]
    Malformed,
}

/// Tokens longer than this are refused unread: no legitimate bearer token (an inbound
/// SCIM token, an Okta access token) comes near it.
pub const MAX_BEARER_LEN: usize = 8 * 1024;

/// The token of the request's `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    parse_bearer(
        headers
            .get(AUTHORIZATION)
            .ok_or(BearerError::Missing)?
            .as_bytes(),
    )
}

/// The token of an `Authorization` value `Bearer <token>` (RFC 6750 §2.1; the scheme is
/// case-insensitive). The token must be `b64token` characters, which also keeps control
/// characters and spaces out of everything downstream.
pub fn parse_bearer(header: &[u8]) -> Result<&str, BearerError> {
    let text = std::str::from_utf8(header).map_err(|_| BearerError::Malformed)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(BearerError::Malformed)?;
    let token = token.trim_start_matches(' ');
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/".contains(c);
    let well_formed = scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && token.len() <= MAX_BEARER_LEN
        && token.trim_end_matches('=').chars().all(b64token);
    if well_formed {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
    }
}

/// A response with `status`, `body` of `content_type` (none when `body` is `None`),
/// `Cache-Control: no-store` (answers name people), and the extra `headers`.
pub fn body_response(
    status: StatusCode,
    content_type: &'static str,
    body: Option<Vec<u8>>,
    headers: &[(HeaderName, HeaderValue)],
) -> Response {
    let has_body = body.is_some();
    let mut response = Response::new(body.map_or_else(Body::empty, Body::from));
    *response.status_mut() = status;
    let map = response.headers_mut();
    if has_body {
        map.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    map.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in headers {
        map.insert(name.clone(), value.clone());
    }
    response
}

/// The shared middleware as bare layers, for tests that put a handler of their own
/// behind them.
#[cfg(test)]
pub(crate) fn test_layers(router: Router<()>, plumbing: Plumbing) -> Router {
    router
        .layer(from_fn_with_state(plumbing.errors, guard_panics))
        .layer(from_fn_with_state(plumbing, correlate))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request {
        Request::builder().uri(uri).body(Body::empty()).unwrap()
    }

    #[test]
    fn a_stage_in_front_of_the_scim_path_is_stripped_and_remembered() {
        // Act
        let stripped = strip_stage_prefix(request("/prod/scim/v2/Users?count=1"), "/scim/v2");

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
            let untouched = strip_stage_prefix(request(uri), "/scim/v2");
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

    #[test]
    fn bearer_tokens_are_read_strictly() {
        let headers = |value: &'static str| {
            let mut map = HeaderMap::new();
            map.insert(AUTHORIZATION, HeaderValue::from_static(value));
            map
        };
        assert_eq!(bearer_token(&headers("Bearer abc.def-_")), Ok("abc.def-_"));
        assert_eq!(bearer_token(&headers("bearer  t0ken==")), Ok("t0ken=="));
        assert_eq!(bearer_token(&HeaderMap::new()), Err(BearerError::Missing));
        for bad in [
            "Bearer",
            "Bearer ",
            "Basic abc",
            "Bearer a b",
            "Bearer a\"b",
        ] {
            assert_eq!(
                bearer_token(&headers(bad)),
                Err(BearerError::Malformed),
                "{bad}"
            );
        }
    }
}
