//! App assignments (Apps API, "Application users",
//! <https://developer.okta.com/docs/reference/api/apps/>): list an app's users, read,
//! make and remove one user's assignment. Apps need not exist first: any app id of
//! letters, digits, `-` and `_` names an app, assigned to nobody until a user is.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::paging::{PageQuery, page};
use crate::routes::{AppState, OrgUrl, ok_json, path_param, read_json};
use crate::seed::is_valid_id;
use crate::store::{Assignment, UserRecord, app_user_json, now};

/// Apps API, "List all assigned users": 50 a page by default, up to 500.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

fn app_id(app_id: String) -> Result<String, ApiError> {
    if is_valid_id(&app_id) {
        Ok(app_id)
    } else {
        Err(ApiError::not_found(&app_id, "App"))
    }
}

pub(crate) async fn list(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    app: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let app = app_id(path_param(app, "App")?)?;
    let query = PageQuery::parse(&uri, DEFAULT_PAGE, MAX_PAGE)?;
    let page_limit = shared.knobs().page_limit;
    let store = shared.store();
    let mut assigned: Vec<(&UserRecord, &Assignment)> = store
        .apps
        .get(&app)
        .into_iter()
        .flatten()
        .filter_map(|(id, a)| store.users.get(id).map(|u| (u, a)))
        .collect();
    assigned.sort_by_key(|(u, _)| u.seq);
    let items = assigned
        .into_iter()
        .map(|(u, a)| (u.seq, u.id.clone(), app_user_json(&app, u, a, &org)))
        .collect();
    page(&store, &org, &query, page_limit, items)
}

pub(crate) async fn get_one(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (app, user_id) = path_param(path, "AppUser")?;
    let app = app_id(app)?;
    let store = shared.store();
    let assignment = store.apps.get(&app).and_then(|a| a.get(&user_id));
    match (store.users.get(&user_id), assignment) {
        (Some(user), Some(assignment)) => Ok(ok_json(
            StatusCode::OK,
            app_user_json(&app, user, assignment, &org),
        )),
        _ => Err(ApiError::not_found(&user_id, "AppUser")),
    }
}

/// Apps API, "Assign a user": the body names the user by `id`; assigning again keeps the
/// first assignment and answers it.
pub(crate) async fn assign(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    app: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let app = app_id(path_param(app, "App")?)?;
    let body = read_json(body).await?;
    let user_id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::validation("id", "id: The field cannot be left blank"))?
        .to_owned();
    let mut store = shared.store();
    if !store.users.contains_key(&user_id) {
        return Err(ApiError::not_found(&user_id, "User"));
    }
    let assignment = store
        .apps
        .entry(app.clone())
        .or_default()
        .entry(user_id.clone())
        .or_insert_with(|| Assignment { created: now() })
        .clone();
    let user = store
        .users
        .get(&user_id)
        .ok_or_else(|| ApiError::not_found(&user_id, "User"))?;
    Ok(ok_json(
        StatusCode::OK,
        app_user_json(&app, user, &assignment, &org),
    ))
}

pub(crate) async fn unassign(
    State(shared): AppState,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (app, user_id) = path_param(path, "AppUser")?;
    let app = app_id(app)?;
    let mut store = shared.store();
    let removed = store
        .apps
        .get_mut(&app)
        .and_then(|assigned| assigned.remove(&user_id))
        .is_some();
    store.apps.retain(|_, assigned| !assigned.is_empty());
    if removed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(&user_id, "AppUser"))
    }
}
