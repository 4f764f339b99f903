//! The HTTP surface: the API routes under `/api/v1`, the admin routes under `/_emulator`,
//! and the gate every API request passes (counting, latency, authentication, rate limit,
//! injected 500s and drops, and the headers every answer carries).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::Knobs;
use crate::emulator::{Emulator, Shared};
use crate::error::ApiError;
use crate::limits::{Fault, RateStanding};
use crate::seed::Seed;
use crate::{apps, groups, users};

/// Where the admin routes live, outside the API.
pub const ADMIN_PREFIX: &str = "/_emulator";

/// Marks a response whose connection the server closes without answering (`drop_rate`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// The largest request body read.
const MAX_BODY: usize = 1_048_576;

pub(crate) type AppState = State<Arc<Shared>>;

/// The org URL links are built from, put in every request's extensions by the gate.
#[derive(Debug, Clone)]
pub(crate) struct OrgUrl(pub(crate) String);

/// Builds the router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = |methods: MethodRouter<Arc<Shared>>| methods.fallback(method_not_allowed);
    Router::new()
        .route("/api/v1/users", api(get(users::list).post(users::create)))
        .route(
            "/api/v1/users/{id}",
            api(get(users::get_one)
                .post(users::update)
                .put(users::replace)
                .delete(users::delete)),
        )
        .route(
            "/api/v1/users/{id}/lifecycle/{operation}",
            api(post(users::lifecycle)),
        )
        .route("/api/v1/users/{id}/groups", api(get(users::groups)))
        .route(
            "/api/v1/groups",
            api(get(groups::list).post(groups::create)),
        )
        .route(
            "/api/v1/groups/{id}",
            api(get(groups::get_one)
                .put(groups::replace)
                .delete(groups::delete)),
        )
        .route("/api/v1/groups/{id}/users", api(get(groups::members)))
        .route(
            "/api/v1/groups/{id}/users/{user_id}",
            api(put(groups::add_member).delete(groups::remove_member)),
        )
        .route(
            "/api/v1/apps/{app_id}/users",
            api(get(apps::list).post(apps::assign)),
        )
        .route(
            "/api/v1/apps/{app_id}/users/{user_id}",
            api(get(apps::get_one).delete(apps::unassign)),
        )
        .route(
            &format!("{ADMIN_PREFIX}/knobs"),
            get(admin_get_knobs)
                .put(admin_put_knobs)
                .patch(admin_patch_knobs),
        )
        .route(&format!("{ADMIN_PREFIX}/stats"), get(admin_stats))
        .route(&format!("{ADMIN_PREFIX}/state"), get(admin_state))
        .route(&format!("{ADMIN_PREFIX}/seed-data"), put(admin_put_seed))
        .route(&format!("{ADMIN_PREFIX}/tokens"), put(admin_put_tokens))
        .route(&format!("{ADMIN_PREFIX}/reset"), post(admin_reset))
        .fallback(no_such_endpoint)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

fn is_admin(path: &str) -> bool {
    path == ADMIN_PREFIX || path.starts_with(&format!("{ADMIN_PREFIX}/"))
}

/// The gate. Admin requests only need the token; API requests are counted, delayed,
/// authenticated, rate-limited and maybe failed, and every answer carries the rate-limit
/// headers and a request id (Rate limits reference; `X-Okta-Request-Id`).
async fn gate(State(shared): AppState, mut request: Request, next: Next) -> Response {
    let org = shared.org_url(request.headers());
    request.extensions_mut().insert(OrgUrl(org));
    if is_admin(request.uri().path()) {
        return if shared.authorized(request.headers()) {
            next.run(request).await
        } else {
            ApiError::invalid_token().into_response()
        };
    }
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || "other".to_owned(),
        |matched| format!("{} {}", request.method(), matched.as_str()),
    );
    {
        let mut stats = shared.stats();
        stats.requests += 1;
        *stats.by_route.entry(route).or_default() += 1;
    }
    let knobs = shared.knobs();
    if knobs.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.latency_ms)).await;
    }
    let (response, standing) = answer(&shared, &knobs, request, next).await;
    finish(response, standing)
}

async fn answer(
    shared: &Shared,
    knobs: &Knobs,
    request: Request,
    next: Next,
) -> (Response, RateStanding) {
    if !shared.authorized(request.headers()) {
        shared.stats().unauthorized += 1;
        let standing = shared.standing(knobs.rate_limit);
        return (ApiError::invalid_token().into_response(), standing);
    }
    let standing = shared.admit(knobs.rate_limit);
    if !standing.admitted {
        shared.stats().throttled += 1;
        return (ApiError::rate_limited().into_response(), standing);
    }
    match shared.fault(knobs) {
        Fault::None => {}
        Fault::Fail => {
            shared.stats().failed += 1;
            tracing::debug!("okta-emulator: injected 500");
            return (ApiError::internal().into_response(), standing);
        }
        Fault::Drop => {
            shared.stats().dropped += 1;
            tracing::debug!("okta-emulator: injected connection drop");
            let mut response = ApiError::internal().into_response();
            response.extensions_mut().insert(DropConnection);
            return (response, standing);
        }
    }
    (next.run(request).await, standing)
}

fn finish(mut response: Response, standing: RateStanding) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-rate-limit-limit", HeaderValue::from(standing.limit));
    headers.insert(
        "x-rate-limit-remaining",
        HeaderValue::from(standing.remaining),
    );
    headers.insert("x-rate-limit-reset", HeaderValue::from(standing.reset));
    let request_id = format!("{:016x}", rand::random::<u64>());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert("x-okta-request-id", value);
    }
    response
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

async fn no_such_endpoint(request: Request) -> ApiError {
    ApiError::not_found(request.uri().path(), "Resource")
}

// ---- Shared by the handlers ----------------------------------------------------------

pub(crate) fn ok_json(status: StatusCode, value: Value) -> Response {
    (status, Json(value)).into_response()
}

/// Reads a JSON body.
pub(crate) async fn read_json(body: Body) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::bad_body("the body is larger than 1 MiB"))?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_body(e.to_string()))
}

/// The body's `profile` object.
pub(crate) fn profile_of(body: &Value) -> Result<Map<String, Value>, ApiError> {
    body.get("profile")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| ApiError::validation("profile", "profile: must be a JSON object"))
}

/// A path parameter; one that cannot be read names nothing that exists.
pub(crate) fn path_param<T>(
    path: Result<Path<T>, PathRejection>,
    kind: &str,
) -> Result<T, ApiError> {
    path.map(|Path(value)| value)
        .map_err(|_| ApiError::not_found("?", kind))
}

// ---- Admin ---------------------------------------------------------------------------

fn admin_error(what: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::bad_body(format!("{what}: {error}"))
}

async fn admin_get_knobs(State(shared): AppState) -> Response {
    ok_json(StatusCode::OK, json!(shared.knobs()))
}

async fn admin_put_knobs(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let knobs: Knobs =
        serde_json::from_value(read_json(body).await?).map_err(|e| admin_error("knobs", e))?;
    set_knobs(shared, knobs)
}

/// Merges the given fields into the knobs in force (`PUT` replaces them all).
async fn admin_patch_knobs(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let Value::Object(changes) = read_json(body).await? else {
        return Err(admin_error("knobs", "expected a JSON object"));
    };
    let mut merged = json!(shared.knobs());
    if let Some(current) = merged.as_object_mut() {
        current.extend(changes);
    }
    let knobs: Knobs = serde_json::from_value(merged).map_err(|e| admin_error("knobs", e))?;
    set_knobs(shared, knobs)
}

fn set_knobs(shared: Arc<Shared>, knobs: Knobs) -> Result<Response, ApiError> {
    let emulator = Emulator { shared };
    emulator
        .set_knobs(knobs)
        .map_err(|e| admin_error("knobs", e))?;
    Ok(ok_json(StatusCode::OK, json!(emulator.knobs())))
}

async fn admin_stats(State(shared): AppState) -> Response {
    ok_json(StatusCode::OK, json!(Emulator { shared }.stats()))
}

async fn admin_state(State(shared): AppState) -> Response {
    ok_json(StatusCode::OK, json!(Emulator { shared }.state()))
}

/// Replaces the org with the seed document in the body.
async fn admin_put_seed(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let seed: Seed =
        serde_json::from_value(read_json(body).await?).map_err(|e| admin_error("seed", e))?;
    Emulator { shared }
        .load_seed(&seed)
        .map_err(|e| admin_error("seed", e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensBody {
    tokens: Vec<String>,
}

/// Replaces the accepted tokens (one or two); the answer does not echo them.
async fn admin_put_tokens(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let body: TokensBody =
        serde_json::from_value(read_json(body).await?).map_err(|e| admin_error("tokens", e))?;
    Emulator { shared }
        .set_tokens(body.tokens)
        .map_err(|e| admin_error("tokens", e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_reset(State(shared): AppState) -> Response {
    Emulator { shared }.reset();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use crate::{Emulator, EmulatorConfig};

    fn request(method: &str, uri: &str, auth: &str, body: Option<Value>) -> Request<Body> {
        let builder = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "okta.test")
            .header("authorization", auth)
            .header("content-type", "application/json");
        builder
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap()
    }

    async fn body_json(response: axum::response::Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_router_serves_in_process_with_links_from_the_host_header() {
        // Arrange
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let create = json!({"profile": {"login": "a@example.com"}});

        // Act
        let created = emulator
            .router()
            .oneshot(request("POST", "/api/v1/users", "SSWS t", Some(create)))
            .await
            .unwrap();

        // Assert
        assert_eq!(created.status(), StatusCode::OK);
        assert!(created.headers().contains_key("x-okta-request-id"));
        let user = body_json(created).await;
        let id = user["id"].as_str().unwrap();
        assert_eq!(
            user["_links"]["self"]["href"],
            format!("http://okta.test/api/v1/users/{id}")
        );
    }

    #[tokio::test]
    async fn stats_count_requests_by_method_and_route_pattern() {
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let router = emulator.router();
        for uri in [
            "/api/v1/users/a",
            "/api/v1/users/b",
            "/api/v1/users",
            "/api/v1/nothing",
        ] {
            router
                .clone()
                .oneshot(request("GET", uri, "SSWS t", None))
                .await
                .unwrap();
        }
        let stats = emulator.stats();
        assert_eq!(stats.requests, 4);
        assert_eq!(stats.route("GET /api/v1/users/{id}"), 2);
        assert_eq!(stats.route("GET /api/v1/users"), 1);
        assert_eq!(stats.route("other"), 1);
    }

    #[tokio::test]
    async fn an_unsupported_method_is_405_e0000022_with_the_rate_limit_headers() {
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let response = emulator
            .router()
            .oneshot(request("PATCH", "/api/v1/users", "SSWS t", None))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(response.headers().contains_key("x-rate-limit-remaining"));
        assert_eq!(body_json(response).await["errorCode"], "E0000022");
    }
}
