//! The HTTP surface: the SCIM routes under the base path with exactly the methods AWS-DG
//! documents, the admin routes under `/_emulator`, and the gate every request passes
//! (request id, latency, authentication, rate limit, injected faults, error rendering).
//!
//! Answers to what Identity Center does not support:
//! - An unsupported method on a documented path (`PUT /Groups/{id}`, `DELETE /Users`,
//!   `POST /Users/.search`, …) is 400 ValidationException: AWS-DG's error tables say a
//!   ValidationException "also occurs if the operation is unsupported".
//! - A path under the base that is no documented endpoint (`/Bulk`, `/Me`, `/.search`)
//!   is 404 ResourceNotFoundException: AWS-DG getuser's table gives 404 when the
//!   "specified user or endpoint does not exist". (`GET /Users/.search` is simply a user
//!   that does not exist: 404.)
//! - A path outside the base path is 401 UnauthorizedException, whatever the token: AWS
//!   answers a wrong tenant id with 401 (AWS-DG, every operation's error table).
//! - A user or group id that does not have the Identity Store shape is 404
//!   ResourceNotFoundException before anything else about the request is looked at.
//! - A PATCH without a `User-Agent` header is 400 ValidationException: Identity Center
//!   blocks such requests (PingFederate connector release notes 1.1.0.3); the status is
//!   our guess, not yet confirmed against a live tenant.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::Knobs;
use crate::discovery;
use crate::emulator::{Shared, is_resource_id};
use crate::error::{ApiError, render_body};
use crate::faults::{Counters, Fault, Phase, latency};
use crate::group::{MemberChange, parse_new_group, plan_group_patch};
use crate::patch::parse_patch;
use crate::query::{
    Cursor, ListQuery, cursor_pattern_ok, filter_hash, group_filter, list_query, user_filter,
};
use crate::store::{Clash, GroupRecord, ReadView, UserRecord, group_json, user_json};
use crate::user::{UserWrite, canonical_user, patch_user};

/// Where the admin routes live, outside any SCIM base path.
pub const ADMIN_PREFIX: &str = "/_emulator";

/// Identity Center's `maxPayloadSize` (AWS-DG serviceproviderconfig).
const MAX_PAYLOAD: usize = 1_048_576;

/// The header carrying the request id on every answer (AWS-DG examples).
const REQUEST_ID_HEADER: &str = "x-amzn-requestid";

/// Marks a response whose connection the server must close without answering.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

type AppState = State<Arc<Shared>>;

/// Builds the router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let base = shared.base_path.clone();
    let p = |suffix: &str| format!("{base}{suffix}");
    Router::new()
        .route(
            &p("/Users"),
            get(list_users)
                .post(create_user)
                .fallback(unsupported_operation),
        )
        .route(
            &p("/Users/{id}"),
            get(get_user)
                .put(put_user)
                .patch(patch_user_handler)
                .delete(delete_user)
                .fallback(unsupported_operation),
        )
        .route(
            &p("/Groups"),
            get(list_groups)
                .post(create_group)
                .fallback(unsupported_operation),
        )
        .route(
            &p("/Groups/{id}"),
            get(get_group)
                .patch(patch_group_handler)
                .delete(delete_group)
                .fallback(unsupported_operation),
        )
        .route(
            &p("/ServiceProviderConfig"),
            get(service_provider_config).fallback(unsupported_operation),
        )
        .route(
            &p("/Schemas"),
            get(list_schemas).fallback(unsupported_operation),
        )
        .route(
            &p("/Schemas/{urn}"),
            get(get_schema).fallback(unsupported_operation),
        )
        .route(
            &p("/ResourceTypes"),
            get(list_resource_types).fallback(unsupported_operation),
        )
        .route(
            &format!("{ADMIN_PREFIX}/knobs"),
            get(admin_get_knobs)
                .put(admin_put_knobs)
                .patch(admin_patch_knobs),
        )
        .route(&format!("{ADMIN_PREFIX}/seed"), put(admin_put_seed))
        .route(&format!("{ADMIN_PREFIX}/tokens"), put(admin_put_tokens))
        .route(&format!("{ADMIN_PREFIX}/stats"), get(admin_stats))
        .route(&format!("{ADMIN_PREFIX}/state"), get(admin_state))
        .route(&format!("{ADMIN_PREFIX}/reset"), post(admin_reset))
        .fallback(no_such_endpoint)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

fn is_admin(path: &str) -> bool {
    path == ADMIN_PREFIX || path.starts_with(&format!("{ADMIN_PREFIX}/"))
}

/// The gate: gives the request an id, applies the knobs and authentication, and renders
/// any [`ApiError`] the handler left, with `x-amzn-RequestId` on every answer.
async fn gate(State(shared): AppState, request: Request, next: Next) -> Response {
    let request_id = Uuid::new_v4().to_string();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = if is_admin(&path) {
        if shared.authorized(request.headers()) {
            next.run(request).await
        } else {
            ApiError::unauthorized().into_response()
        }
    } else {
        scim_gate(&shared, &path, request, next).await
    };
    let response = finish(response, &request_id);
    tracing::debug!(%request_id, %method, %path, status = response.status().as_u16(), "request");
    response
}

async fn scim_gate(shared: &Shared, path: &str, request: Request, next: Next) -> Response {
    Counters::bump(&shared.counters.requests);
    let route = route_of(shared, &request);
    let response = scim_answer(shared, path, request, next).await;
    let answer = if response.extensions().get::<DropConnection>().is_some() {
        "dropped".to_owned()
    } else {
        response.status().as_u16().to_string()
    };
    shared.counters.answered(&route, &answer);
    response
}

/// The route a SCIM request took, as [`crate::Stats::by_answer`] keys it: method and
/// pattern below the base path, and for a filtered list the attribute filtered on.
fn route_of(shared: &Shared, request: &Request) -> String {
    let Some(matched) = request.extensions().get::<MatchedPath>() else {
        return "other".to_owned();
    };
    let pattern = matched.as_str();
    let pattern = pattern
        .strip_prefix(shared.base_path.as_str())
        .unwrap_or(pattern);
    let filtered = request.uri().query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let value = pair.strip_prefix("filter=")?;
            let attribute: String = value
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':'))
                .collect();
            Some(attribute)
        })
    });
    match filtered {
        Some(attribute) => format!("{} {pattern}?filter={attribute}", request.method()),
        None => format!("{} {pattern}", request.method()),
    }
}

async fn scim_answer(shared: &Shared, path: &str, request: Request, next: Next) -> Response {
    let knobs = shared.knobs();
    if let Some(delay) = latency(&knobs) {
        tokio::time::sleep(delay).await;
    }
    let base = shared.base_path.as_str();
    let in_base = path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'));
    if !in_base || !shared.authorized(request.headers()) {
        return ApiError::unauthorized().into_response();
    }
    if !shared.admit() {
        Counters::bump(&shared.counters.throttled);
        return throttled(&knobs);
    }
    let fault = shared.roll(&knobs);
    if let Some(response) = injected(shared, fault, Phase::Before) {
        return response;
    }
    let response = next.run(request).await;
    injected(shared, fault, Phase::After).unwrap_or(response)
}

fn throttled(knobs: &Knobs) -> Response {
    let mut response = ApiError::throttling().into_response();
    if let Some(seconds) = knobs.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The answer an injected fault gives in `phase`, if it strikes then.
fn injected(shared: &Shared, fault: Fault, phase: Phase) -> Option<Response> {
    match fault {
        Fault::Fail(p) if p == phase => {
            Counters::bump(&shared.counters.failed);
            tracing::debug!(?phase, "injected 500");
            Some(ApiError::internal().into_response())
        }
        Fault::Drop(p) if p == phase => {
            Counters::bump(&shared.counters.dropped);
            tracing::debug!(?phase, "injected connection drop");
            let mut response = ApiError::internal().into_response();
            response.extensions_mut().insert(DropConnection);
            Some(response)
        }
        _ => None,
    }
}

/// Renders an error marker into Identity Center's body and stamps the request id.
fn finish(response: Response, request_id: &str) -> Response {
    let (mut parts, mut body) = response.into_parts();
    if let Some(error) = parts.extensions.remove::<ApiError>() {
        tracing::debug!(exception = error.exception.name(), detail = %error.detail, "error answer");
        body = Body::from(render_body(&error, request_id, OffsetDateTime::now_utc()));
        parts.headers.remove(CONTENT_LENGTH);
        parts
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        parts.headers.insert(REQUEST_ID_HEADER, value);
    }
    Response::from_parts(parts, body)
}

async fn unsupported_operation() -> ApiError {
    ApiError::validation("The operation is not supported.")
}

async fn no_such_endpoint() -> ApiError {
    ApiError::not_found("The specified endpoint does not exist.")
}

fn ok_json(status: StatusCode, value: Value) -> Response {
    (status, Json(value)).into_response()
}

async fn read_json(body: Body) -> Result<Value, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_PAYLOAD)
        .await
        .map_err(|_| ApiError::validation("The request body is larger than 1048576 bytes."))?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::unparsable())
}

fn as_object(value: &Value) -> Result<&Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(ApiError::unparsable)
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id).map_err(|_| ApiError::unparsable())
}

/// The id of `/Users/{id}`: one of another shape than the Identity Store's is 404.
fn user_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path_id(path)
        .ok()
        .filter(|id| is_resource_id(id))
        .ok_or_else(user_not_found)
}

/// The id of `/Groups/{id}`: one of another shape than the Identity Store's is 404.
fn group_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path_id(path)
        .ok()
        .filter(|id| is_resource_id(id))
        .ok_or_else(group_not_found)
}

/// Identity Center blocks PATCH requests without a `User-Agent` header (PingFederate's
/// AWS IAM Identity Center connector release notes, 1.1.0.3). The emulator answers 400
/// ValidationException, and takes an empty or blank header as none: both are our
/// choices, not yet confirmed against a live tenant.
fn require_user_agent(headers: &HeaderMap) -> Result<(), ApiError> {
    let present = headers
        .get(USER_AGENT)
        .is_some_and(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace));
    if present {
        Ok(())
    } else {
        Err(ApiError::validation(
            "PATCH requests require a User-Agent header.",
        ))
    }
}

fn query_pairs(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<ListQuery, ApiError> {
    let Query(pairs) = query.map_err(|_| ApiError::unparsable())?;
    list_query(&pairs)
}

fn user_not_found() -> ApiError {
    ApiError::not_found("The specified user does not exist.")
}

fn group_not_found() -> ApiError {
    ApiError::not_found("The specified group does not exist.")
}

/// The 409 for a duplicate. A name keeps AWS-DG's "User already exists" / "Group already
/// exists"; the other unique attributes get the detail a live tenant sent for a duplicate
/// create (slashdevops/idp-scim-sync issues 45 and 57; AWS re:Post
/// `iam-identity-center-provision` names that message for userName, email and externalId).
fn conflict(clash: Clash, resource: &str) -> ApiError {
    match clash {
        Clash::Name => ApiError::conflict(format!("{resource} already exists.")),
        Clash::Email | Clash::ExternalId => {
            ApiError::conflict("Refused to create a new, duplicate resource.")
        }
    }
}

// ---- Users ---------------------------------------------------------------------------

async fn create_user(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let value = read_json(body).await?;
    let attrs = canonical_user(as_object(&value)?, UserWrite::Create)?;
    let case_sensitive = shared.knobs().case_sensitive_usernames;
    let mut store = shared.store();
    if let Some(clash) = store.user_clash(&attrs, None, case_sensitive) {
        return Err(conflict(clash, "User"));
    }
    let now = OffsetDateTime::now_utc();
    let record = UserRecord {
        id: shared.new_id(),
        seq: store.next_seq(),
        attrs,
        created: now,
        last_modified: now,
        born: Instant::now(),
    };
    let json = user_json(&record);
    store.insert_user(record);
    Ok(ok_json(StatusCode::CREATED, json))
}

async fn get_user(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = user_id(id)?;
    let view = ReadView::new(&shared.knobs());
    let store = shared.store();
    let user = store.readable_user(&id, &view).ok_or_else(user_not_found)?;
    Ok(ok_json(StatusCode::OK, user_json(user)))
}

async fn put_user(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = user_id(id)?;
    let value = read_json(body).await?;
    let attrs = canonical_user(as_object(&value)?, UserWrite::Replace)?;
    let case_sensitive = shared.knobs().case_sensitive_usernames;
    let mut store = shared.store();
    if store.user(&id).is_none() {
        return Err(user_not_found());
    }
    if let Some(clash) = store.user_clash(&attrs, Some(&id), case_sensitive) {
        return Err(conflict(clash, "User"));
    }
    let user = store
        .set_user_attrs(&id, attrs, OffsetDateTime::now_utc())
        .ok_or_else(user_not_found)?;
    Ok(ok_json(StatusCode::OK, user_json(user)))
}

async fn patch_user_handler(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_user_agent(&headers)?;
    let id = user_id(id)?;
    let ops = parse_patch(&read_json(body).await?)?;
    let case_sensitive = shared.knobs().case_sensitive_usernames;
    let mut store = shared.store();
    let current = store.user(&id).ok_or_else(user_not_found)?;
    let attrs = patch_user(&current.attrs, &ops)?;
    if let Some(clash) = store.user_clash(&attrs, Some(&id), case_sensitive) {
        return Err(conflict(clash, "User"));
    }
    let user = store
        .set_user_attrs(&id, attrs, OffsetDateTime::now_utc())
        .ok_or_else(user_not_found)?;
    Ok(ok_json(StatusCode::OK, user_json(user)))
}

async fn delete_user(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = user_id(id)?;
    if shared.store().delete_user(&id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(user_not_found())
    }
}

async fn list_users(
    State(shared): AppState,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query_pairs(query)?;
    let filter = user_filter(query.filter.as_deref())?;
    let view = ReadView::new(&shared.knobs());
    let items: Vec<(u64, Value)> = {
        let store = shared.store();
        store
            .users_matching(&filter, &view)
            .into_iter()
            .map(|u| (u.seq, user_json(u)))
            .collect()
    };
    page(&shared, "Users", &query, items)
}

// ---- Groups --------------------------------------------------------------------------

fn check_members_exist<'a>(
    store: &crate::store::Store,
    ids: impl IntoIterator<Item = &'a String>,
) -> Result<(), ApiError> {
    for id in ids {
        if store.user(id).is_none() {
            // Our choice (no source says): a member must be an existing user.
            return Err(ApiError::validation(format!(
                "Member {id} is not an existing user."
            )));
        }
    }
    Ok(())
}

async fn create_group(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let value = read_json(body).await?;
    let group = parse_new_group(as_object(&value)?)?;
    let mut store = shared.store();
    if let Some(clash) = store.group_clash(
        Some(&group.display_name),
        group.external_id.as_deref(),
        None,
    ) {
        return Err(conflict(clash, "Group"));
    }
    check_members_exist(&store, &group.members)?;
    let now = OffsetDateTime::now_utc();
    let record = GroupRecord {
        id: shared.new_id(),
        seq: store.next_seq(),
        display_name: group.display_name,
        external_id: group.external_id,
        members: group.members.into_iter().collect(),
        created: now,
        last_modified: now,
        born: Instant::now(),
    };
    let json = group_json(&record);
    store.insert_group(record);
    Ok(ok_json(StatusCode::CREATED, json))
}

async fn get_group(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = group_id(id)?;
    let view = ReadView::new(&shared.knobs());
    let store = shared.store();
    let group = store
        .readable_group(&id, &view)
        .ok_or_else(group_not_found)?;
    Ok(ok_json(StatusCode::OK, group_json(group)))
}

/// PatchGroup answers 204 with an empty body (lichti report;
/// `docs/identity-center-dialect.md` §2).
async fn patch_group_handler(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    require_user_agent(&headers)?;
    let id = group_id(id)?;
    let plan = plan_group_patch(&parse_patch(&read_json(body).await?)?)?;
    let mut store = shared.store();
    if !store.has_group(&id) {
        return Err(group_not_found());
    }
    let added = plan.members.iter().filter_map(|c| match c {
        MemberChange::Add(uid) => Some(uid),
        MemberChange::Remove(_) => None,
    });
    check_members_exist(&store, added)?;
    let new_external_id = match &plan.external_id {
        Some(Some(external_id)) => Some(external_id.as_str()),
        _ => None,
    };
    if let Some(clash) = store.group_clash(plan.display_name.as_deref(), new_external_id, Some(&id))
    {
        return Err(conflict(clash, "Group"));
    }
    let changed = store.update_group(&id, |group| {
        if let Some(name) = plan.display_name {
            group.display_name = name;
        }
        if let Some(external_id) = plan.external_id {
            group.external_id = external_id;
        }
        for change in plan.members {
            match change {
                MemberChange::Add(uid) => group.members.insert(uid),
                MemberChange::Remove(uid) => group.members.remove(&uid),
            };
        }
        group.last_modified = OffsetDateTime::now_utc();
    });
    if !changed {
        return Err(group_not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_group(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = group_id(id)?;
    if shared.store().remove_group(&id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(group_not_found())
    }
}

async fn list_groups(
    State(shared): AppState,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let query = query_pairs(query)?;
    let filter = group_filter(query.filter.as_deref())?;
    let view = ReadView::new(&shared.knobs());
    let items: Vec<(u64, Value)> = {
        let store = shared.store();
        store
            .groups_matching(&filter, &view)
            .into_iter()
            .map(|g| (g.seq, group_json(g)))
            .collect()
    };
    page(&shared, "Groups", &query, items)
}

// ---- Paging --------------------------------------------------------------------------

/// One page of a listing (AWS-DG listusers, listgroups; `docs/identity-center-dialect.md`
/// §4). Without `cursor`: the classic ListResponse (`totalResults`, `itemsPerPage`,
/// `startIndex`), first page only. With `cursor` (empty to start): `itemsPerPage` and
/// `nextCursor`, the latter absent on the last page; a cursor issued for another filter is
/// a 400.
fn page(
    shared: &Shared,
    resource: &str,
    query: &ListQuery,
    items: Vec<(u64, Value)>,
) -> Result<Response, ApiError> {
    let schemas = json!([scim_core::LIST_RESPONSE_SCHEMA]);
    let Some(cursor) = &query.cursor else {
        let total = items.len();
        let resources: Vec<Value> = items
            .into_iter()
            .take(query.count)
            .map(|(_, v)| v)
            .collect();
        return Ok(ok_json(
            StatusCode::OK,
            json!({
                "totalResults": total,
                "itemsPerPage": resources.len(),
                "startIndex": 1,
                "schemas": schemas,
                "Resources": resources,
            }),
        ));
    };
    if !cursor_pattern_ok(cursor) {
        return Err(ApiError::validation(
            "The cursor does not match [-a-zA-Z0-9+=/:_]*.",
        ));
    }
    let hash = filter_hash(resource, query.filter.as_deref());
    let after = if cursor.is_empty() {
        0
    } else {
        let decoded = Cursor::decode(cursor)
            .ok_or_else(|| ApiError::validation("The cursor is not valid."))?;
        if decoded.filter_hash != hash {
            return Err(ApiError::validation(
                "The filter changed during pagination.",
            ));
        }
        decoded.after_seq
    };
    let limit = match shared.knobs().page_limit {
        Some(cap) => query.count.min(cap as usize),
        None => query.count,
    };
    let mut rest = items.into_iter().filter(|(seq, _)| *seq > after).peekable();
    let mut resources = Vec::new();
    let mut last_seq = after;
    while resources.len() < limit {
        let Some((seq, value)) = rest.next() else {
            break;
        };
        last_seq = seq;
        resources.push(value);
    }
    let mut body = json!({
        "itemsPerPage": resources.len(),
        "schemas": schemas,
        "Resources": resources,
    });
    if rest.peek().is_some() {
        body["nextCursor"] = json!(
            Cursor {
                after_seq: last_seq,
                filter_hash: hash
            }
            .encode()
        );
    }
    Ok(ok_json(StatusCode::OK, body))
}

// ---- Discovery -----------------------------------------------------------------------

async fn service_provider_config() -> Response {
    ok_json(StatusCode::OK, discovery::service_provider_config())
}

async fn list_schemas() -> Response {
    ok_json(StatusCode::OK, discovery::list_of(discovery::schemas()))
}

async fn get_schema(urn: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let urn = path_id(urn)?;
    let schema = discovery::schema(&urn)
        .ok_or_else(|| ApiError::not_found("The specified schema does not exist."))?;
    Ok(ok_json(StatusCode::OK, schema))
}

async fn list_resource_types() -> Response {
    ok_json(
        StatusCode::OK,
        discovery::list_of(discovery::resource_types()),
    )
}

// ---- Admin ---------------------------------------------------------------------------

async fn admin_get_knobs(State(shared): AppState) -> Response {
    ok_json(StatusCode::OK, json!(shared.knobs()))
}

async fn admin_put_knobs(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let value = read_json(body).await?;
    let knobs: Knobs =
        serde_json::from_value(value).map_err(|e| ApiError::validation(format!("knobs: {e}")))?;
    crate::Emulator {
        shared: shared.clone(),
    }
    .set_knobs(knobs)
    .map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(ok_json(StatusCode::OK, json!(shared.knobs())))
}

/// Merges the given fields into the knobs in force (`PUT` replaces them all).
async fn admin_patch_knobs(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let Value::Object(changes) = read_json(body).await? else {
        return Err(ApiError::validation("knobs: expected a JSON object"));
    };
    let mut merged = json!(shared.knobs());
    if let Some(current) = merged.as_object_mut() {
        current.extend(changes);
    }
    let knobs: Knobs =
        serde_json::from_value(merged).map_err(|e| ApiError::validation(format!("knobs: {e}")))?;
    crate::Emulator {
        shared: shared.clone(),
    }
    .set_knobs(knobs)
    .map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(ok_json(StatusCode::OK, json!(shared.knobs())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    seed: u64,
}

async fn admin_put_seed(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let value = read_json(body).await?;
    let seed: SeedBody =
        serde_json::from_value(value).map_err(|e| ApiError::validation(format!("seed: {e}")))?;
    crate::Emulator { shared }.reseed(seed.seed);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensBody {
    tokens: Vec<String>,
}

/// Replaces the accepted bearer tokens (one or two), as rotating Identity Center's SCIM
/// token does; the answer does not echo them.
async fn admin_put_tokens(State(shared): AppState, body: Body) -> Result<Response, ApiError> {
    let value = read_json(body).await?;
    let body: TokensBody =
        serde_json::from_value(value).map_err(|e| ApiError::validation(format!("tokens: {e}")))?;
    crate::Emulator { shared }
        .set_tokens(body.tokens)
        .map_err(|e| ApiError::validation(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn admin_stats(State(shared): AppState) -> Response {
    ok_json(StatusCode::OK, json!(crate::Emulator { shared }.stats()))
}

async fn admin_state(State(shared): AppState) -> Response {
    let emulator = crate::Emulator { shared };
    ok_json(
        StatusCode::OK,
        json!({"users": emulator.users(), "groups": emulator.groups()}),
    )
}

async fn admin_reset(State(shared): AppState) -> Response {
    crate::Emulator { shared }.reset();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use crate::{Emulator, EmulatorConfig, FaultPhase, Knobs};

    fn request(method: &str, uri: &str, body: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", "Bearer t")
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    async fn body_json(response: axum::response::Response) -> Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn router_serves_in_process_with_oneshot() {
        // Arrange
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let body =
            r#"{"userName":"u","displayName":"U","name":{"givenName":"G","familyName":"F"}}"#;

        // Act
        let created = emulator
            .router()
            .oneshot(request("POST", "/scim/v2/Users", body))
            .await
            .unwrap();

        // Assert
        assert_eq!(created.status(), StatusCode::CREATED);
        assert!(created.headers().contains_key("x-amzn-requestid"));
        assert_eq!(body_json(created).await["userName"], "u");
        assert_eq!(emulator.users().len(), 1);
    }

    #[tokio::test]
    async fn tokens_rotate_at_run_time_through_the_admin_route() {
        // Arrange
        let emulator = Emulator::new(EmulatorConfig::new("t")).unwrap();
        let router = emulator.router();
        let with = |token: &str, method: &str, uri: &str, body: &str| {
            let mut r = request(method, uri, body);
            r.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            r
        };

        // Act
        let three = router
            .clone()
            .oneshot(request(
                "PUT",
                "/_emulator/tokens",
                r#"{"tokens":["a","b","c"]}"#,
            ))
            .await
            .unwrap();
        let stranger = router
            .clone()
            .oneshot(with("x", "PUT", "/_emulator/tokens", r#"{"tokens":["x"]}"#))
            .await
            .unwrap();
        let rotated = router
            .clone()
            .oneshot(request(
                "PUT",
                "/_emulator/tokens",
                r#"{"tokens":["n1","n2"]}"#,
            ))
            .await
            .unwrap();
        let old = router
            .clone()
            .oneshot(request("GET", "/scim/v2/ServiceProviderConfig", ""))
            .await
            .unwrap();
        let new = router
            .clone()
            .oneshot(with("n2", "GET", "/scim/v2/ServiceProviderConfig", ""))
            .await
            .unwrap();
        let admin_new = router
            .oneshot(with("n1", "GET", "/_emulator/stats", ""))
            .await
            .unwrap();

        // Assert
        assert_eq!(three.status(), StatusCode::BAD_REQUEST);
        assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(rotated.status(), StatusCode::NO_CONTENT);
        assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(new.status(), StatusCode::OK);
        assert_eq!(admin_new.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn in_process_drop_shows_as_a_500() {
        // A router has no connection to close: the drop marker travels as a 500.
        let knobs = Knobs {
            drop_rate: 1.0,
            fault_phase: FaultPhase::Before,
            ..Knobs::default()
        };
        let emulator = Emulator::new(EmulatorConfig::new("t").with_knobs(knobs)).unwrap();
        let response = emulator
            .router()
            .oneshot(request("GET", "/scim/v2/Users", ""))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            response
                .extensions()
                .get::<super::DropConnection>()
                .is_some()
        );
        assert_eq!(emulator.dropped(), 1);
    }
}
