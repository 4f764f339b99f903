//! The SCIM router (RFC 7644 §3.2): `/scim/v2/{Users,Groups}[/{id}]` and the discovery
//! endpoints, each with and without a trailing slash, and everything around them: the
//! correlation id, the request span and access log, bearer authentication, SCIM errors
//! for unknown routes (404) and methods (405), and a last guard that turns a panic into
//! a SCIM 500 instead of a dropped connection.
//!
//! Layers, outermost first: stage-prefix stripping → correlation id, span and access log
//! → panic guard → authentication → route → handler.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use gateway::audit::AuditOperation;
use gateway::{Actor, RequestContext, ResourceKind, ScimReply};
use http::header::{ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, LOCATION, USER_AGENT};
use scim_core::{ListQuery, SCIM_MEDIA_TYPE, ScimError};
use serde_json::Value;
use tower::ServiceBuilder;

use crate::app::ScimApp;
use crate::auth::AuthError;
use crate::correlation::{CorrelationId, StagePrefix, run_correlated, strip_stage_prefix};
use crate::discovery::{self, MAX_RESULTS};
use crate::error::{edge_error_response, to_response};
use crate::extract::{check_id, check_schemas, json_object, query_pairs, single_param};

/// The path under which the SCIM endpoints live.
pub const SCIM_BASE_PATH: &str = "/scim/v2";

/// The SCIM router over `app`: serve it with `axum::serve` locally or
/// `lambda_http::run` in Lambda; both run exactly this code.
///
/// A stage prefix that API Gateway leaves in the path (`/prod/scim/v2/Users`) is
/// stripped before routing, and counted into the base URL of `Location` headers.
pub fn scim_router(app: Arc<ScimApp>) -> Router {
    let resource = |kind: ResourceKind| {
        let collection = get(move |s, c, q| list(kind, s, c, q))
            .post(move |s, c, h, b| create(kind, s, c, h, b))
            .fallback(not_allowed("GET, POST"));
        let item = get(move |s, c, p, q| read(kind, s, c, p, q))
            .put(move |s, c, p, h, b| replace(kind, s, c, p, h, b))
            .patch(move |s, c, p, h, b| patch(kind, s, c, p, h, b))
            .delete(move |s, c, p| delete(kind, s, c, p))
            .fallback(not_allowed("GET, PUT, PATCH, DELETE"));
        (collection, item)
    };
    let (users, user) = resource(ResourceKind::User);
    let (groups, group) = resource(ResourceKind::Group);
    let read_only = |route: MethodRouter<Arc<ScimApp>>| route.fallback(not_allowed("GET"));

    let routes = Router::new();
    let routes = both_slashes(routes, "/Users", users);
    let routes = both_slashes(routes, "/Users/{id}", user);
    let routes = both_slashes(routes, "/Groups", groups);
    let routes = both_slashes(routes, "/Groups/{id}", group);
    let routes = both_slashes(
        routes,
        "/ServiceProviderConfig",
        read_only(get(service_provider_config)),
    );
    let routes = both_slashes(routes, "/Schemas", read_only(get(schemas)));
    let routes = both_slashes(routes, "/Schemas/{id}", read_only(get(schema)));
    let routes = both_slashes(routes, "/ResourceTypes", read_only(get(resource_types)));
    let routes = both_slashes(routes, "/ResourceTypes/{id}", read_only(get(resource_type)));

    let inner = routes
        .fallback(unknown_route)
        .layer(from_fn_with_state(app.clone(), authenticate))
        .layer(from_fn(guard_panics))
        .layer(from_fn(correlate))
        .with_state(app);
    // Stripping must happen before routing, which `Router::layer` middleware runs after;
    // hence a service in front of the router rather than a layer on it.
    Router::new().fallback_service(
        ServiceBuilder::new()
            .map_request(strip_stage_prefix)
            .service(inner),
    )
}

fn both_slashes(
    router: Router<Arc<ScimApp>>,
    path: &str,
    route: MethodRouter<Arc<ScimApp>>,
) -> Router<Arc<ScimApp>> {
    router
        .route(&format!("{SCIM_BASE_PATH}{path}"), route.clone())
        .route(&format!("{SCIM_BASE_PATH}{path}/"), route)
}

// ---------------------------------------------------------------------------------------
// Middleware

/// Gives the request its correlation id, runs it in a span that carries only ids, logs
/// one access line, and sets `x-correlation-id` on the response.
async fn correlate(request: Request, next: Next) -> Response {
    let correlation = CorrelationId::of(&request);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "scim",
        correlation_id = %correlation.0,
        http.method = %request.method(),
        http.route = %route,
        op = tracing::field::Empty,
        resource_type = tracing::field::Empty,
        resource_id = tracing::field::Empty,
        actor = tracing::field::Empty,
    );
    run_correlated(request, next, correlation, span).await
}

/// Turns a panic below it into a SCIM 500. Handlers are written not to panic; this is
/// the net under that promise, so a bug costs one request rather than the connection.
async fn guard_panics(request: Request, next: Next) -> Response {
    use futures::FutureExt as _;
    let correlation = correlation_of(&request);
    match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => edge_error_response(&ScimError::internal("a handler panicked"), &correlation),
    }
}

/// Authenticates the bearer token and puts the [`RequestContext`] in the request's
/// extensions. Everything, unknown routes included, needs a valid token: the gateway
/// tells nothing about itself to strangers.
async fn authenticate(
    State(app): State<Arc<ScimApp>>,
    mut request: Request,
    next: Next,
) -> Response {
    let correlation = correlation_of(&request);
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let authenticated = match app.authenticator().authenticate(header).await {
        Ok(authenticated) => authenticated,
        Err(AuthError::Secret(error)) => {
            return edge_error_response(
                &ScimError::unavailable(crate::error::cause_chain(&error)),
                &correlation,
            );
        }
        Err(error) => {
            tracing::info!(reason = %error, "authentication refused");
            return edge_error_response(&ScimError::unauthorized(error.to_string()), &correlation);
        }
    };
    tracing::Span::current().record("actor", authenticated.credential.as_str());
    let context = RequestContext {
        actor: Actor {
            credential: authenticated.credential,
        },
        correlation_id: correlation,
        base_url: base_url(&app, &request),
        user_agent: request
            .headers()
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(200).collect()),
    };
    request.extensions_mut().insert(Arc::new(context));
    next.run(request).await
}

fn correlation_of(request: &Request) -> String {
    request
        .extensions()
        .get::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default()
}

/// The SCIM base URL as the client sees it: the configured one, else the request's host
/// and scheme (as API Gateway forwards them) with any stripped stage prefix.
fn base_url(app: &ScimApp, request: &Request) -> String {
    if let Some(configured) = app.public_base_url() {
        return configured.to_owned();
    }
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header(HOST.as_str())
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        Some("http") => "http",
        _ => request.uri().scheme_str().unwrap_or("http"),
    };
    let stage = request
        .extensions()
        .get::<StagePrefix>()
        .map_or("", |s| s.0.as_str());
    format!("{scheme}://{host}{stage}{SCIM_BASE_PATH}")
}

// ---------------------------------------------------------------------------------------
// Handlers

type Ctx = axum::Extension<Arc<RequestContext>>;
type IdPath = Result<Path<String>, axum::extract::rejection::PathRejection>;

fn record(op: &str, kind: ResourceKind, id: Option<&str>) {
    let span = tracing::Span::current();
    span.record("op", op);
    span.record("resource_type", kind_name(kind));
    if let Some(id) = id {
        span.record("resource_id", id);
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "User",
        ResourceKind::Group => "Group",
    }
}

async fn list(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    record("list", kind, None);
    let query = match query_pairs(raw.as_deref()).and_then(ListQuery::from_pairs) {
        Ok(mut query) => {
            // RFC 7644 §3.4.2.4: a count above maxResults gets maxResults.
            query.count = Some(query.count.map_or(MAX_RESULTS, |c| c.min(MAX_RESULTS)));
            query
        }
        Err(error) => return refuse(&app, kind, AuditOperation::List, error, &ctx).await,
    };
    answer(app.service().list(kind, query, &ctx).await, &ctx)
}

async fn read(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
    RawQuery(raw): RawQuery,
) -> Response {
    let id = match resource_id(id) {
        Ok(id) => id,
        Err(error) => return refuse(&app, kind, AuditOperation::Get, error, &ctx).await,
    };
    record("get", kind, Some(&id));
    let params = query_pairs(raw.as_deref()).and_then(|pairs| {
        // Parsed whole once to refuse malformed attribute lists with the RFC error.
        ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let attributes = single_param(&pairs, "attributes")?.map(str::to_owned);
        let excluded = single_param(&pairs, "excludedAttributes")?.map(str::to_owned);
        Ok((attributes, excluded))
    });
    let (attributes, excluded) = match params {
        Ok(params) => params,
        Err(error) => return refuse(&app, kind, AuditOperation::Get, error, &ctx).await,
    };
    let result = app
        .service()
        .get(kind, &id, attributes.as_deref(), excluded.as_deref(), &ctx)
        .await;
    answer(result, &ctx)
}

async fn create(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Body,
) -> Response {
    record("create", kind, None);
    match json_object(&headers, body)
        .await
        .and_then(|v| check_schemas(kind, false, &v).map(|()| v))
    {
        Ok(value) => answer(app.service().create(kind, value, &ctx).await, &ctx),
        Err(error) => refuse(&app, kind, AuditOperation::Create, error, &ctx).await,
    }
}

async fn replace(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (id, value) = match id_and_body(id, &headers, body, kind, false).await {
        Ok(parts) => parts,
        Err(error) => return refuse(&app, kind, AuditOperation::Replace, error, &ctx).await,
    };
    record("replace", kind, Some(&id));
    answer(app.service().replace(kind, &id, value, &ctx).await, &ctx)
}

async fn patch(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (id, value) = match id_and_body(id, &headers, body, kind, true).await {
        Ok(parts) => parts,
        Err(error) => return refuse(&app, kind, AuditOperation::Patch, error, &ctx).await,
    };
    record("patch", kind, Some(&id));
    answer(app.service().patch(kind, &id, value, &ctx).await, &ctx)
}

async fn delete(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
) -> Response {
    let id = match resource_id(id) {
        Ok(id) => id,
        Err(error) => return refuse(&app, kind, AuditOperation::Delete, error, &ctx).await,
    };
    record("delete", kind, Some(&id));
    answer(app.service().delete(kind, &id, &ctx).await, &ctx)
}

/// Answers an authenticated request the edge refused, after writing its audit record:
/// a refused operation is audited like any other, and nothing reaches the target.
async fn refuse(
    app: &ScimApp,
    kind: ResourceKind,
    operation: AuditOperation,
    error: ScimError,
    ctx: &RequestContext,
) -> Response {
    answer(app.service().refuse(kind, operation, error, ctx).await, ctx)
}

/// The id from the path, checked before the body is read (a hostile id costs no
/// upload), then the body with its `schemas`.
async fn id_and_body(
    id: IdPath,
    headers: &HeaderMap,
    body: Body,
    kind: ResourceKind,
    patch: bool,
) -> Result<(String, Value), ScimError> {
    let id = resource_id(id)?;
    let value = json_object(headers, body).await?;
    check_schemas(kind, patch, &value)?;
    Ok((id, value))
}

fn resource_id(id: IdPath) -> Result<String, ScimError> {
    // A path that does not decode (invalid UTF-8) cannot name a resource either.
    let Path(id) = id.map_err(|_| ScimError::not_found("no resource has this id"))?;
    check_id(&id)?;
    Ok(id)
}

async fn service_provider_config(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        serde_json::to_value(discovery::service_provider_config(&ctx.base_url))
            .map_err(|_| ScimError::internal("the ServiceProviderConfig could not be written"))
    })
}

async fn schemas(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        discovery::list_of(discovery::schemas(&ctx.base_url))
    })
}

async fn schema(ctx: Ctx, id: IdPath, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        let Ok(Path(id)) = id else {
            return Err(ScimError::not_found("no such schema"));
        };
        let schema = discovery::schema(&ctx.base_url, &id)
            .ok_or_else(|| ScimError::not_found("no such schema"))?;
        serde_json::to_value(schema)
            .map_err(|_| ScimError::internal("a schema could not be written"))
    })
}

async fn resource_types(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        discovery::list_of(discovery::resource_types(&ctx.base_url))
    })
}

async fn resource_type(ctx: Ctx, id: IdPath, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        let Ok(Path(id)) = id else {
            return Err(ScimError::not_found("no such resource type"));
        };
        let found = discovery::resource_type(&ctx.base_url, &id)
            .ok_or_else(|| ScimError::not_found("no such resource type"))?;
        serde_json::to_value(found)
            .map_err(|_| ScimError::internal("a resource type could not be written"))
    })
}

/// A discovery document, or the SCIM error. RFC 7644 §4: discovery endpoints take no
/// filter, and one given SHOULD be answered with 403 so that a client does not take
/// unfiltered results for filtered ones.
fn discovery_answer(
    ctx: &RequestContext,
    raw_query: Option<&str>,
    document: impl FnOnce() -> Result<Value, ScimError>,
) -> Response {
    let body = query_pairs(raw_query).and_then(|pairs| {
        if pairs.iter().any(|(k, _)| k.eq_ignore_ascii_case("filter")) {
            return Err(ScimError::forbidden(
                "discovery endpoints do not support filtering",
            ));
        }
        document()
    });
    match body {
        Ok(body) => json_response(StatusCode::OK, Some(&body), None),
        Err(error) => edge_error_response(&error, &ctx.correlation_id),
    }
}

async fn unknown_route(request: Request) -> Response {
    let correlation = correlation_of(&request);
    edge_error_response(&ScimError::not_found("no such endpoint"), &correlation)
}

/// A handler answering 405 with the methods the route does support.
fn not_allowed(allow: &'static str) -> impl Fn(Request) -> std::future::Ready<Response> + Clone {
    move |request: Request| {
        let correlation = correlation_of(&request);
        let detail = format!("{} is not supported here; use {allow}", request.method());
        let mut response =
            edge_error_response(&ScimError::method_not_allowed(detail), &correlation);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        std::future::ready(response)
    }
}

// ---------------------------------------------------------------------------------------
// Responses

fn answer(result: Result<ScimReply, gateway::GatewayError>, ctx: &RequestContext) -> Response {
    match result {
        Ok(reply) => reply_response(reply),
        Err(error) => to_response(&error, &ctx.correlation_id),
    }
}

fn reply_response(reply: ScimReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    json_response(status, reply.body.as_ref(), reply.location.as_deref())
}

fn json_response(status: StatusCode, body: Option<&Value>, location: Option<&str>) -> Response {
    let bytes = match body.map(serde_json::to_vec).transpose() {
        Ok(bytes) => bytes,
        // A Value always serializes; this only keeps the function total.
        Err(_) => {
            return edge_error_response(
                &ScimError::internal("the response could not be written"),
                "",
            );
        }
    };
    let has_body = bytes.is_some();
    let mut response = Response::new(bytes.map_or_else(Body::empty, Body::from));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(LOCATION, location);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::CORRELATION_HEADER;

    use gateway::audit::InMemoryAuditLog;
    use gateway::rules::IdentityRules;
    use gateway::testing::ScriptedTargetClient;
    use gateway::{ScimService, SecretId, SecretString, SystemClock};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::inbound_tokens_secret;
    use crate::correlation::InvocationId;
    use crate::{BearerAuthenticator, StaticSecretSource};

    const TOKEN: &str = "okta-edge-test-token";

    fn router() -> (Router, Arc<ScriptedTargetClient>) {
        let target = Arc::new(ScriptedTargetClient::new());
        let secrets = StaticSecretSource::new().with(
            SecretId::new("inbound"),
            SecretString::new(inbound_tokens_secret(&[TOKEN])),
        );
        let service = ScimService::new(
            target.clone(),
            Arc::new(IdentityRules::new()),
            Arc::new(InMemoryAuditLog::new()),
            Arc::new(SystemClock),
            Duration::from_secs(5),
        );
        let authenticator = BearerAuthenticator::new(Arc::new(secrets), SecretId::new("inbound"));
        (
            scim_router(Arc::new(ScimApp::new(service, authenticator))),
            target,
        )
    }

    async fn json(response: Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_rest_api_event_on_a_named_stage_is_routed_with_the_stage_in_its_base_url() {
        // Arrange: lambda_http puts the stage in front of the path: /prod/scim/v2/Users.
        let (router, target) = router();
        let id = target.seed_user(serde_json::json!({
            "userName": "ada@example.com", "displayName": "Ada", "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"}
        }));
        let event = include_str!("../tests/fixtures/apigw/rest-v1-stage-list-users.json");
        let request = lambda_http::request::from_str(event).unwrap();
        assert!(
            request.uri().path().starts_with("/prod/scim/v2/"),
            "{}",
            request.uri()
        );

        // Act
        let response = router.oneshot(request).await.unwrap();

        // Assert
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[CONTENT_TYPE], SCIM_MEDIA_TYPE);
        assert_eq!(
            response.headers()[CORRELATION_HEADER],
            "1-67891233-abcdef012345678912345678"
        );
        let body = json(response).await;
        assert_eq!(body["totalResults"], 1);
        assert_eq!(
            body["Resources"][0]["meta"]["location"],
            format!(
                "https://wt6mne2s9k.execute-api.eu-west-1.amazonaws.com/prod/scim/v2/Users/{id}"
            )
        );
    }

    #[tokio::test]
    async fn an_http_api_create_event_answers_201_with_location_and_no_password() {
        // Arrange
        let (router, target) = router();
        let event = include_str!("../tests/fixtures/apigw/http-v2-create-user.json");
        let mut request = lambda_http::request::from_str(event).unwrap();
        request
            .extensions_mut()
            .insert(InvocationId("c6af9ac6-7b61-11e6-9a41-93e812345678".into()));

        // Act
        let response = router.oneshot(request).await.unwrap();

        // Assert
        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers()[CORRELATION_HEADER],
            "c6af9ac6-7b61-11e6-9a41-93e812345678"
        );
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("https://xxx.execute-api.us-east-1.amazonaws.com/scim/v2/Users/"),
            "{location}"
        );
        let body = json(response).await;
        assert_eq!(body["userName"], "ada@example.com");
        assert!(body.get("password").is_none());
        let sent = target.writes();
        assert_eq!(sent.len(), 1);
        assert!(!format!("{sent:?}").contains("Okta-placeholder-1!"));
    }

    #[tokio::test]
    async fn a_request_without_a_token_is_answered_401_before_anything_else() {
        // Arrange
        let (router, target) = router();
        let request = Request::builder()
            .uri("/scim/v2/Users")
            .body(Body::empty())
            .unwrap();

        // Act
        let response = router.oneshot(request).await.unwrap();

        // Assert
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()[http::header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert!(response.headers().contains_key(CORRELATION_HEADER));
        assert!(target.calls().is_empty());
    }

    #[tokio::test]
    async fn a_panic_below_the_guard_becomes_a_scim_500_with_the_correlation_id() {
        // Arrange: a handler that panics, behind the same guard and correlation layers.
        #[allow(clippy::panic)]
        async fn boom() -> Response {
            panic!("a bug");
        }
        let router = Router::new()
            .route("/x", get(boom))
            .layer(from_fn(guard_panics))
            .layer(from_fn(correlate));

        // Act
        let response = router
            .oneshot(Request::builder().uri("/x").body(Body::empty()).unwrap())
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), 500);
        let correlation = response.headers()[CORRELATION_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let body = json(response).await;
        assert_eq!(body["schemas"][0], scim_core::ERROR_SCHEMA);
        assert!(body["detail"].as_str().unwrap().contains(&correlation));
    }
}
