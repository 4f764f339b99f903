//! The SCIM router (RFC 7644 §3.2): `/scim/v2/{Users,Groups}[/{id}]` and the discovery
//! endpoints, each with and without a trailing slash. Here HTTP becomes typed commands:
//! ids ([`ResourceId`]), bodies ([`NewResource`], [`PatchOp`]) and query strings
//! ([`ListQuery`]) are parsed once, and the use cases answer typed replies
//! ([`ScimReply`]) that become responses here. The shared plumbing (stage prefix,
//! correlation id, panic guard, 405) is [`crate::http`]'s; this router adds bearer
//! authentication, which everything needs, unknown routes included: the gateway tells
//! nothing about itself to strangers.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use gateway::audit::{AuditOperation, AuditSource};
use gateway::{Actor, NewResource, RefusedInput, RequestContext, ScimReply};
use http::Method;
use http::header::{HOST, LOCATION, USER_AGENT};
use scim_core::{ListQuery, PatchOp, ResourceId, ResourceKind, SCIM_MEDIA_TYPE, ScimError};
use serde_json::Value;

use crate::app::ScimApp;
use crate::auth::AuthError;
use crate::discovery::{self, DerivedAttributes, MAX_RESULTS};
use crate::error::{edge_error_response, to_response};
use crate::extract::{json_object, query_pairs, single_param};
use crate::http::{ErrorFormat, Plumbing, StagePrefix, correlation_of, refused_auth, source_ip};

/// The path under which the SCIM endpoints live.
pub const SCIM_BASE_PATH: &str = "/scim/v2";

/// How the SCIM router uses the shared plumbing.
const PLUMBING: Plumbing = Plumbing {
    base_path: SCIM_BASE_PATH,
    span: "scim",
    operation: operation_name,
    errors: ErrorFormat {
        internal: |correlation| {
            edge_error_response(&ScimError::internal("a handler panicked"), correlation)
        },
        not_allowed: |method, allow, correlation| {
            let detail = format!("{method} is not supported here; use {allow}");
            edge_error_response(&ScimError::method_not_allowed(detail), correlation)
        },
    },
};

/// The SCIM router over `app`, with its metrics layer: the one constructor of the SCIM
/// API, which the `scim-api` function serves with `lambda_http::run` and `scimgw dev`
/// and the tests with `axum::serve` or `oneshot`, so what is tested is what ships.
///
/// A stage prefix that API Gateway leaves in the path (`/prod/scim/v2/Users`) is
/// stripped before routing, and counted into the base URL of `Location` headers.
pub fn scim_router(app: Arc<ScimApp>) -> Router {
    let resource = |kind: ResourceKind| {
        let collection = get(move |s, c, q| list(kind, s, c, q))
            .post(move |s, c, h, b| create(kind, s, c, h, b))
            .fallback(PLUMBING.not_allowed("GET, POST"));
        let item = get(move |s, c, p, q| read(kind, s, c, p, q))
            .put(move |s, c, p, h, b| replace(kind, s, c, p, h, b))
            .patch(move |s, c, p, h, b| patch(kind, s, c, p, h, b))
            .delete(move |s, c, p| delete(kind, s, c, p))
            .fallback(PLUMBING.not_allowed("GET, PUT, PATCH, DELETE"));
        (collection, item)
    };
    let (users, user) = resource(ResourceKind::User);
    let (groups, group) = resource(ResourceKind::Group);
    let read_only = |route: MethodRouter<Arc<ScimApp>>| route.fallback(PLUMBING.not_allowed("GET"));

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
    let routes = routes
        .fallback(unknown_route)
        .layer(from_fn_with_state(app.clone(), authenticate));
    let metrics = app.metrics().clone();
    metrics.instrument(PLUMBING.wrap(routes, app))
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

/// A matched route as the audit trail and the metrics name it: the template below the
/// base path, without a trailing slash (`/Groups/{id}`).
fn route_template(matched: &str) -> &str {
    let below = matched.strip_prefix(SCIM_BASE_PATH).unwrap_or(matched);
    match below.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => below,
    }
}

/// The resource kind and operation of a matched route and method, from the route table
/// above; `None` for discovery and unknown routes.
fn scim_operation(method: &Method, matched: &str) -> Option<(ResourceKind, AuditOperation)> {
    let (kind, item) = match route_template(matched) {
        "/Users" => (ResourceKind::User, false),
        "/Users/{id}" => (ResourceKind::User, true),
        "/Groups" => (ResourceKind::Group, false),
        "/Groups/{id}" => (ResourceKind::Group, true),
        _ => return None,
    };
    let operation = match (item, method.as_str()) {
        (false, "GET") => AuditOperation::List,
        (false, "POST") => AuditOperation::Create,
        (true, "GET") => AuditOperation::Get,
        (true, "PUT") => AuditOperation::Replace,
        (true, "PATCH") => AuditOperation::Patch,
        (true, "DELETE") => AuditOperation::Delete,
        _ => return None,
    };
    Some((kind, operation))
}

/// The metric name of a matched route (RFC 7644 §3.2): `ListUsers`, `GetUser`,
/// `CreateUser`, `ReplaceUser`, `PatchUser`, `DeleteUser`, the same for groups,
/// `Discovery`, or `Other`.
fn operation_name(method: &Method, matched: &str) -> &'static str {
    use AuditOperation as Op;
    use ResourceKind::{Group, User};
    match scim_operation(method, matched) {
        Some((User, Op::List)) => "ListUsers",
        Some((User, Op::Get)) => "GetUser",
        Some((User, Op::Create)) => "CreateUser",
        Some((User, Op::Replace)) => "ReplaceUser",
        Some((User, Op::Patch)) => "PatchUser",
        Some((User, Op::Delete)) => "DeleteUser",
        Some((Group, Op::List)) => "ListGroups",
        Some((Group, Op::Get)) => "GetGroup",
        Some((Group, Op::Create)) => "CreateGroup",
        Some((Group, Op::Replace)) => "ReplaceGroup",
        Some((Group, Op::Patch)) => "PatchGroup",
        Some((Group, Op::Delete)) => "DeleteGroup",
        None if *method == Method::GET
            && ["/ServiceProviderConfig", "/Schemas", "/ResourceTypes"]
                .iter()
                .any(|d| route_template(matched).starts_with(d)) =>
        {
            "Discovery"
        }
        // No SCIM route has these (`scimgw events dlq`'s operations, the reconciler's
        // run summaries, reads of the audit trail, entitlements' assignments).
        Some((
            _,
            Op::Replay | Op::Discard | Op::Reconcile | Op::Read | Op::Assign | Op::Unassign,
        ))
        | None => "Other",
    }
}

// ---------------------------------------------------------------------------------------
// Authentication

/// Authenticates the bearer token and puts the [`RequestContext`] in the request's
/// extensions.
async fn authenticate(
    State(app): State<Arc<ScimApp>>,
    mut request: Request,
    next: Next,
) -> Response {
    let correlation = correlation_of(&request);
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
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
            tracing::info!(reason = %error, source_ip = %source_ip(&request), "authentication refused");
            return refused_auth(edge_error_response(
                &ScimError::unauthorized(error.to_string()),
                &correlation,
            ));
        }
    };
    tracing::Span::current().record("actor", authenticated.credential.as_str());
    let matched = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("", |p| p.as_str());
    let source = AuditSource::Scim {
        method: request.method().as_str().to_owned(),
        path: route_template(matched).to_owned(),
    };
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
        source,
        source_ip: crate::http::known_source_ip(&request),
        request_id: request
            .extensions()
            .get::<crate::http::ApiRequestId>()
            .map(|id| id.0.clone()),
    };
    request.extensions_mut().insert(Arc::new(context));
    let mut response = next.run(request).await;
    // An authenticated request writes the audit trail: how many of its appends failed,
    // for the metrics layer (in Lambda one request at a time, so the count is this one's).
    let failed = app.service().take_audit_append_failures();
    response
        .extensions_mut()
        .insert(crate::http::AuditAppendFailures(failed));
    response
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
// Handlers: parse into a typed command, run it, answer

type Ctx = axum::Extension<Arc<RequestContext>>;
type IdPath = Result<Path<String>, axum::extract::rejection::PathRejection>;

fn record(kind: ResourceKind, id: Option<&ResourceId>) {
    let span = tracing::Span::current();
    span.record("resource_type", kind.resource_type());
    if let Some(id) = id {
        span.record("resource_id", id.as_str());
    }
}

async fn list(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    RawQuery(raw): RawQuery,
) -> Response {
    record(kind, None);
    let query = match query_pairs(raw.as_deref()).and_then(ListQuery::from_pairs) {
        Ok(mut query) => {
            // RFC 7644 §3.4.2.4: a count above maxResults gets maxResults.
            query.count = Some(query.count.map_or(MAX_RESULTS, |c| c.min(MAX_RESULTS)));
            query
        }
        Err(error) => {
            let input = RefusedInput::default();
            return refuse(&app, kind, AuditOperation::List, error, input, &ctx).await;
        }
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
    let raw_id = path_id(&id);
    let parsed = resource_id(&id).and_then(|id| {
        let pairs = query_pairs(raw.as_deref())?;
        // `attributes` and `excludedAttributes` once each, parsed by the RFC's rules.
        single_param(&pairs, "attributes")?;
        single_param(&pairs, "excludedAttributes")?;
        let query = ListQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        Ok((id, query))
    });
    let (id, query) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => {
            let input = RefusedInput {
                id: raw_id,
                body: None,
            };
            return refuse(&app, kind, AuditOperation::Get, error, input, &ctx).await;
        }
    };
    record(kind, Some(&id));
    let result = app
        .service()
        .get(
            kind,
            &id,
            &query.attributes,
            &query.excluded_attributes,
            &ctx,
        )
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
    record(kind, None);
    let value = match json_object(&headers, body).await {
        Ok(value) => value,
        Err(error) => {
            let input = RefusedInput::default();
            return refuse(&app, kind, AuditOperation::Create, error, input, &ctx).await;
        }
    };
    let parsed = NewResource::parse(kind, value.clone());
    let operation = AuditOperation::Create;
    match parsed_or_refused(&app, kind, operation, &ctx, None, &value, parsed).await {
        Ok(resource) => answer(app.service().create(resource, &ctx).await, &ctx),
        Err(refusal) => refusal,
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
    let operation = AuditOperation::Replace;
    let (id, value) = match id_and_body(&id, &headers, body).await {
        Ok(parts) => parts,
        Err(error) => return refuse(&app, kind, operation, error, refused_id(&id), &ctx).await,
    };
    record(kind, Some(&id));
    let parsed = NewResource::parse(kind, value.clone());
    match parsed_or_refused(&app, kind, operation, &ctx, Some(&id), &value, parsed).await {
        Ok(resource) => answer(app.service().replace(&id, resource, &ctx).await, &ctx),
        Err(refusal) => refusal,
    }
}

async fn patch(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let operation = AuditOperation::Patch;
    let (id, value) = match id_and_body(&id, &headers, body).await {
        Ok(parts) => parts,
        Err(error) => return refuse(&app, kind, operation, error, refused_id(&id), &ctx).await,
    };
    record(kind, Some(&id));
    let parsed = PatchOp::parse(&value);
    match parsed_or_refused(&app, kind, operation, &ctx, Some(&id), &value, parsed).await {
        Ok(patch) => answer(app.service().patch(kind, &id, patch, &ctx).await, &ctx),
        Err(refusal) => refusal,
    }
}

async fn delete(
    kind: ResourceKind,
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
) -> Response {
    let parsed = match resource_id(&id) {
        Ok(parsed) => parsed,
        Err(error) => {
            let operation = AuditOperation::Delete;
            return refuse(&app, kind, operation, error, refused_id(&id), &ctx).await;
        }
    };
    record(kind, Some(&parsed));
    answer(app.service().delete(kind, &parsed, &ctx).await, &ctx)
}

/// The parsed body, or the answer to its refusal, audited with the body it came in (so
/// the record is redacted of any secret the body held).
async fn parsed_or_refused<T>(
    app: &ScimApp,
    kind: ResourceKind,
    operation: AuditOperation,
    ctx: &RequestContext,
    id: Option<&ResourceId>,
    value: &Value,
    parsed: Result<T, ScimError>,
) -> Result<T, Response> {
    match parsed {
        Ok(parsed) => Ok(parsed),
        Err(error) => {
            let input = RefusedInput {
                id: id.map(ResourceId::as_str),
                body: Some(value),
            };
            Err(refuse(app, kind, operation, error, input, ctx).await)
        }
    }
}

/// Answers an authenticated request the edge refused, after writing its audit record:
/// a refused operation is audited like any other, and nothing reaches the target.
async fn refuse(
    app: &ScimApp,
    kind: ResourceKind,
    operation: AuditOperation,
    error: ScimError,
    input: RefusedInput<'_>,
    ctx: &RequestContext,
) -> Response {
    let result = app
        .service()
        .refuse(kind, operation, error, input, ctx)
        .await;
    answer(result, ctx)
}

/// The id from the path, checked before the body is read (a hostile id costs no
/// upload), then the body as a JSON object.
async fn id_and_body(
    id: &IdPath,
    headers: &HeaderMap,
    body: Body,
) -> Result<(ResourceId, Value), ScimError> {
    let id = resource_id(id)?;
    let value = json_object(headers, body).await?;
    Ok((id, value))
}

/// The path's id as sent, for the audit record of a refusal.
fn path_id(id: &IdPath) -> Option<&str> {
    id.as_ref().ok().map(|Path(id)| id.as_str())
}

fn refused_id(id: &IdPath) -> RefusedInput<'_> {
    RefusedInput {
        id: path_id(id),
        body: None,
    }
}

fn resource_id(id: &IdPath) -> Result<ResourceId, ScimError> {
    // A path that does not decode (invalid UTF-8) cannot name a resource either.
    let Ok(Path(id)) = id else {
        return Err(ScimError::not_found("no resource has this id"));
    };
    ResourceId::parse(id)
}

/// What the rules in force derive, so that `/Schemas` does not require it of clients
/// (nothing when the rule set cannot be read: the schema then asks for everything).
async fn derived_attributes(app: &ScimApp) -> DerivedAttributes {
    let Some(rules) = app.service().active_rules().await else {
        return DerivedAttributes::none();
    };
    rules
        .derived_attributes()
        .iter()
        .fold(DerivedAttributes::none(), |derived, (kind, path)| {
            derived.with(*kind, path.clone())
        })
}

async fn service_provider_config(ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    discovery_answer(&ctx, raw.as_deref(), || {
        serde_json::to_value(discovery::service_provider_config(&ctx.base_url))
            .map_err(|_| ScimError::internal("the ServiceProviderConfig could not be written"))
    })
}

async fn schemas(State(app): State<Arc<ScimApp>>, ctx: Ctx, RawQuery(raw): RawQuery) -> Response {
    let derived = derived_attributes(&app).await;
    discovery_answer(&ctx, raw.as_deref(), || {
        discovery::list_of(discovery::schemas(&ctx.base_url, &derived))
    })
}

async fn schema(
    State(app): State<Arc<ScimApp>>,
    ctx: Ctx,
    id: IdPath,
    RawQuery(raw): RawQuery,
) -> Response {
    let derived = derived_attributes(&app).await;
    discovery_answer(&ctx, raw.as_deref(), || {
        let Ok(Path(id)) = id else {
            return Err(ScimError::not_found("no such schema"));
        };
        let schema = discovery::schema(&ctx.base_url, &id, &derived)
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
        Ok(body) => scim_response(StatusCode::OK, Some(&body), None),
        Err(error) => edge_error_response(&error, &ctx.correlation_id),
    }
}

async fn unknown_route(request: Request) -> Response {
    let correlation = correlation_of(&request);
    edge_error_response(&ScimError::not_found("no such endpoint"), &correlation)
}

// ---------------------------------------------------------------------------------------
// Responses

fn answer(result: Result<ScimReply, gateway::GatewayError>, ctx: &RequestContext) -> Response {
    match result {
        Ok(ScimReply::Ok(body)) => scim_response(StatusCode::OK, Some(&body), None),
        Ok(ScimReply::Created { resource, location }) => {
            scim_response(StatusCode::CREATED, Some(&resource), location.as_deref())
        }
        Ok(ScimReply::NoContent) => scim_response(StatusCode::NO_CONTENT, None, None),
        Err(error) => to_response(&error, &ctx.correlation_id),
    }
}

fn scim_response(status: StatusCode, body: Option<&Value>, location: Option<&str>) -> Response {
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
    let location = location
        .and_then(|l| HeaderValue::from_str(l).ok())
        .map(|l| (LOCATION, l));
    crate::http::body_response(status, SCIM_MEDIA_TYPE, bytes, location.as_slice())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::CORRELATION_HEADER;

    use gateway::audit::InMemoryAuditLog;
    use gateway::rules::IdentityRules;
    use gateway::testing::ScriptedTargetClient;
    use gateway::{ScimService, SecretId, SecretString, SystemClock};
    use http::header::CONTENT_TYPE;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::auth::inbound_tokens_secret;
    use crate::http::InvocationId;
    use crate::metrics::{RecordingSink, RequestMetrics};
    use crate::{BearerAuthenticator, StaticSecretSource};

    const TOKEN: &str = "okta-edge-test-token";

    fn router() -> (Router, Arc<ScriptedTargetClient>) {
        let (router, target, _) = router_with_metrics();
        (router, target)
    }

    fn router_with_metrics() -> (Router, Arc<ScriptedTargetClient>, RecordingSink) {
        let sink = RecordingSink::default();
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
        let metrics = RequestMetrics::new("scim-api").with_sink(Arc::new(sink.clone()));
        let app = ScimApp::new(service, authenticator).with_metrics(metrics);
        (scim_router(Arc::new(app)), target, sink)
    }

    #[tokio::test]
    async fn a_record_carries_the_callers_address_and_api_gateways_request_id() {
        // Arrange: what the Lambda wiring puts on a request from API Gateway.
        let audit = Arc::new(InMemoryAuditLog::new());
        let secrets = StaticSecretSource::new().with(
            SecretId::new("inbound"),
            SecretString::new(inbound_tokens_secret(&[TOKEN])),
        );
        let service = ScimService::new(
            Arc::new(ScriptedTargetClient::new()),
            Arc::new(IdentityRules::new()),
            audit.clone(),
            Arc::new(SystemClock),
            Duration::from_secs(5),
        );
        let authenticator = BearerAuthenticator::new(Arc::new(secrets), SecretId::new("inbound"));
        let router = scim_router(Arc::new(ScimApp::new(service, authenticator)));
        let mut request = Request::builder()
            .uri("/scim/v2/Users/not-an-id")
            .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(crate::http::SourceIp("203.0.113.9".into()));
        request.extensions_mut().insert(crate::http::ApiRequestId(
            "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
        ));

        // Act
        router.oneshot(request).await.unwrap();

        // Assert
        let records = audit.records();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(
            records[0].request_id.as_deref(),
            Some("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
        );
    }

    #[tokio::test]
    async fn each_route_names_its_operation_in_the_metrics_from_a_fixed_table() {
        // Arrange
        let (router, _, sink) = router_with_metrics();
        let cases = [
            (Method::GET, "/scim/v2/Users", "ListUsers"),
            (Method::GET, "/prod/scim/v2/Users/", "ListUsers"),
            (Method::POST, "/scim/v2/Groups", "CreateGroup"),
            (Method::PUT, "/scim/v2/Users/42", "ReplaceUser"),
            (Method::PATCH, "/scim/v2/Groups/g1", "PatchGroup"),
            (Method::DELETE, "/scim/v2/Groups/7/", "DeleteGroup"),
            (Method::GET, "/scim/v2/Users/u1", "GetUser"),
            (
                Method::GET,
                "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                "Discovery",
            ),
            (Method::GET, "/scim/v2/ServiceProviderConfig", "Discovery"),
            (Method::POST, "/scim/v2/ResourceTypes", "Other"),
            (Method::HEAD, "/scim/v2/Users", "Other"),
            (Method::GET, "/scim/v2/Users/1/extra", "Other"),
            (Method::GET, "/scim/v2/users", "Other"),
            (Method::GET, "/scim/v2/%2e%2e/etc", "Other"),
            (Method::GET, "/elsewhere", "Other"),
        ];

        // Act
        for (method, path, _) in &cases {
            let request = Request::builder()
                .method(method.clone())
                .uri(*path)
                .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap();
            router.clone().oneshot(request).await.unwrap();
        }

        // Assert
        let named: Vec<String> = sink
            .documents()
            .iter()
            .map(|d| d["Operation"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: Vec<&str> = cases.iter().map(|(_, _, name)| *name).collect();
        assert_eq!(named, expected);
    }

    #[tokio::test]
    async fn with_the_audit_trail_refusing_writes_changes_answer_503_and_reads_200() {
        // Arrange: a user and a group in Identity Center, and a trail that takes nothing.
        let sink = RecordingSink::default();
        let target = Arc::new(ScriptedTargetClient::new());
        let uid = target.seed_user(serde_json::json!({
            "userName": "ada@example.com", "displayName": "Ada", "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"}
        }));
        let gid = target.seed_group(serde_json::json!({"displayName": "Eng"}), &[]);
        let secrets = StaticSecretSource::new().with(
            SecretId::new("inbound"),
            SecretString::new(inbound_tokens_secret(&[TOKEN])),
        );
        let service = ScimService::new(
            target.clone(),
            Arc::new(IdentityRules::new()),
            Arc::new(gateway::testing::FailingAuditLog::default()),
            Arc::new(SystemClock),
            Duration::from_secs(5),
        );
        let authenticator = BearerAuthenticator::new(Arc::new(secrets), SecretId::new("inbound"));
        let metrics = RequestMetrics::new("scim-api").with_sink(Arc::new(sink.clone()));
        let app = ScimApp::new(service, authenticator).with_metrics(metrics);
        let router = scim_router(Arc::new(app));
        let user = serde_json::json!({"schemas": [scim_core::USER_SCHEMA],
            "userName": "grace@example.com", "displayName": "Grace", "active": true,
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "emails": [{"value": "grace@example.com", "primary": true}]});
        let patch = serde_json::json!({"schemas": [scim_core::PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": false}]});
        let writes = [
            (
                Method::POST,
                "/scim/v2/Users".to_owned(),
                Some(user.clone()),
            ),
            (Method::PUT, format!("/scim/v2/Users/{uid}"), Some(user)),
            (Method::PATCH, format!("/scim/v2/Users/{uid}"), Some(patch)),
            (Method::DELETE, format!("/scim/v2/Groups/{gid}"), None),
        ];
        let send = |method: Method, uri: String, body: Option<Value>| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(CONTENT_TYPE, SCIM_MEDIA_TYPE)
                .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                .unwrap();
            router.clone().oneshot(request)
        };

        // Act
        let mut answers = Vec::new();
        for (method, uri, body) in writes {
            answers.push(send(method, uri, body).await.unwrap());
        }
        let get = send(Method::GET, format!("/scim/v2/Users/{uid}"), None)
            .await
            .unwrap();
        let list = send(Method::GET, "/scim/v2/Groups".to_owned(), None)
            .await
            .unwrap();

        // Assert: every write refused for Okta to retry, nothing sent to Identity Center.
        for response in answers {
            assert_eq!(response.status(), 503);
            assert_eq!(
                response.headers()[http::header::RETRY_AFTER],
                gateway::service::AUDIT_RETRY_AFTER.as_secs().to_string()
            );
            let body = json(response).await;
            assert_eq!(body["schemas"][0], scim_core::ERROR_SCHEMA);
            assert_eq!(body["status"], "503");
        }
        assert!(target.writes().is_empty(), "{:?}", target.writes());
        assert_eq!((get.status().as_u16(), list.status().as_u16()), (200, 200));
        // Each refused write failed two appends (its intent, its failure record); each
        // read one (its record).
        let failed: Vec<f64> = sink
            .documents()
            .iter()
            .map(|d| d[crate::metrics::AUDIT_APPEND_FAILED].as_f64().unwrap())
            .collect();
        assert_eq!(failed, [2.0, 2.0, 2.0, 2.0, 1.0, 1.0]);
    }

    #[tokio::test]
    async fn an_unauthenticated_request_is_metered_under_its_route() {
        // Arrange
        let (router, _, sink) = router_with_metrics();
        let request = Request::builder()
            .uri("/scim/v2/Groups")
            .body(Body::empty())
            .unwrap();

        // Act
        let response = router.oneshot(request).await.unwrap();

        // Assert
        assert_eq!(response.status(), 401);
        let docs = sink.documents();
        assert_eq!(docs.len(), 1);
        assert_eq!(
            (docs[0]["Operation"].as_str(), docs[0]["Status"].as_u64()),
            (Some("ListGroups"), Some(401))
        );
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
    async fn a_count_above_the_advertised_max_results_gets_pages_of_exactly_max_results() {
        // Arrange: one user more than a page holds.
        let (router, target) = router();
        for n in 0..=MAX_RESULTS {
            target.seed_user(serde_json::json!({"userName": format!("user{n:04}@example.com")}));
        }
        let get = |uri: &str| {
            Request::builder()
                .uri(uri)
                .header(http::header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap()
        };
        let config = json(
            router
                .clone()
                .oneshot(get("/scim/v2/ServiceProviderConfig"))
                .await
                .unwrap(),
        )
        .await;

        // Act
        let response = router
            .oneshot(get("/scim/v2/Users?count=5000"))
            .await
            .unwrap();

        // Assert
        assert_eq!(response.status(), 200);
        let page = json(response).await;
        assert_eq!(config["filter"]["maxResults"], MAX_RESULTS);
        assert_eq!(page["itemsPerPage"], config["filter"]["maxResults"]);
        assert_eq!(page["totalResults"], MAX_RESULTS + 1);
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
        let router = crate::http::test_layers(Router::new().route("/x", get(boom)), PLUMBING);

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
