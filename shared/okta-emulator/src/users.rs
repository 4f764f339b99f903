//! The Users API (<https://developer.okta.com/docs/reference/api/users/>): list, create,
//! read (by id or login), partial and full profile updates, the two-step delete, the
//! lifecycle operations with their state rules, and a user's groups.
//!
//! Where the emulator is stricter or simpler than Okta:
//! - A create needs only `profile.login`; Okta's default user type also requires
//!   `firstName`, `lastName` and `email`.
//! - `activate` makes a user ACTIVE at once (Okta makes a user without a password
//!   PROVISIONED until they set one), and every lifecycle operation answers `{}`.
//! - A lifecycle operation from a status it does not apply to is 400 E0000001 naming the
//!   operation; Okta's codes differ per case (e.g. E0000016 for an activation).
//! - Listing evaluates only `filter=status eq "…"` (joined by `or`); `q` and `search`
//!   are 400 E0000031.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::emulator::Shared;
use crate::error::ApiError;
use crate::paging::{PageQuery, page};
use crate::routes::{AppState, OrgUrl, ok_json, path_param, profile_of, read_json};
use crate::store::{UserRecord, UserStatus, group_json, now, user_json};

/// Users API: `limit` for users defaults to and is capped at 200.
const USERS_PAGE: usize = 200;

/// The groups of a user, as many as Okta lists groups.
const GROUPS_PAGE: usize = 10_000;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "User")
}

fn duplicate_login() -> ApiError {
    ApiError::validation(
        "login",
        "login: An object with this field already exists in the current organization",
    )
}

/// `profile.login` as a non-blank string.
fn login_of(profile: &Map<String, Value>) -> Result<String, ApiError> {
    match profile.get("login").and_then(Value::as_str) {
        Some(login) if !login.trim().is_empty() => Ok(login.to_owned()),
        _ => Err(ApiError::validation(
            "login",
            "login: The field cannot be left blank",
        )),
    }
}

/// Which statuses a listing shows: without a filter, every user but DEPROVISIONED ones
/// (Users API, "List all users": deactivated users are listed only when a filter or
/// search asks for them).
fn status_filter(query: &PageQuery) -> Result<Vec<UserStatus>, ApiError> {
    if query.param("q").is_some() || query.param("search").is_some() {
        return Err(ApiError::invalid_search(
            "the emulator evaluates only filter=status eq \"…\"",
        ));
    }
    let Some(filter) = query.param("filter") else {
        return Ok(vec![
            UserStatus::Staged,
            UserStatus::Provisioned,
            UserStatus::Active,
            UserStatus::Recovery,
            UserStatus::PasswordExpired,
            UserStatus::LockedOut,
            UserStatus::Suspended,
        ]);
    };
    filter
        .split(" or ")
        .map(|clause| {
            let value = clause
                .trim()
                .strip_prefix("status eq ")
                .map(str::trim)
                .and_then(|v| v.strip_prefix('"'))
                .and_then(|v| v.strip_suffix('"'));
            value.and_then(UserStatus::parse).ok_or_else(|| {
                ApiError::invalid_search(format!("cannot evaluate filter clause {clause:?}"))
            })
        })
        .collect()
}

pub(crate) async fn list(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = PageQuery::parse(&uri, USERS_PAGE, USERS_PAGE)?;
    let statuses = status_filter(&query)?;
    let page_limit = shared.knobs().page_limit;
    let store = shared.store();
    let items = store
        .users_in_order()
        .into_iter()
        .filter(|u| statuses.contains(&u.status))
        .map(|u| (u.seq, u.id.clone(), user_json(u, Some(&org))))
        .collect();
    page(&store, &org, &query, page_limit, items)
}

/// `?activate=` of a create: `true` (the default) or `false`.
fn activate_param(uri: &Uri) -> Result<bool, ApiError> {
    let given = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "activate")
        .map(|(_, v)| v.into_owned());
    match given.as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::validation(
            "activate",
            "activate: must be true or false",
        )),
    }
}

pub(crate) async fn create(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let activate = activate_param(&uri)?;
    let body = read_json(body).await?;
    let profile = profile_of(&body)?;
    let login = login_of(&profile)?;
    let user_type = body
        .get("type")
        .filter(|t| t.is_object())
        .cloned()
        .unwrap_or_else(|| shared.default_type.clone());
    let has_password = body
        .pointer("/credentials/password")
        .is_some_and(|p| !p.is_null());
    let mut store = shared.store();
    if store.login_taken(&login, None) {
        return Err(duplicate_login());
    }
    let stamp = now();
    let id = shared.new_id("00u", &store);
    let mut credentials = Map::new();
    if has_password {
        // Okta never answers a password, only that there is one.
        credentials.insert("password".into(), json!({}));
    }
    credentials.insert("provider".into(), json!({"type": "OKTA", "name": "OKTA"}));
    let user = UserRecord {
        seq: store.register(&id),
        id,
        status: if activate {
            UserStatus::Active
        } else {
            UserStatus::Staged
        },
        created: stamp.clone(),
        activated: activate.then(|| stamp.clone()),
        status_changed: activate.then(|| stamp.clone()),
        last_login: None,
        last_updated: stamp.clone(),
        password_changed: has_password.then(|| stamp.clone()),
        user_type,
        profile,
        credentials: Value::Object(credentials),
    };
    let json = user_json(&user, Some(&org));
    store.users.insert(user.id.clone(), user);
    Ok(ok_json(StatusCode::OK, json))
}

pub(crate) async fn get_one(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let key = path_param(id, "User")?;
    let store = shared.store();
    let user = store.find_user(&key).ok_or_else(|| not_found(&key))?;
    Ok(ok_json(StatusCode::OK, user_json(user, Some(&org))))
}

/// How a profile write changes the stored profile.
enum ProfileWrite {
    /// `POST /api/v1/users/{id}`: the given attributes change, the others stay.
    Merge,
    /// `PUT /api/v1/users/{id}`: the profile becomes the given one.
    Replace,
}

async fn write_profile(
    shared: Arc<Shared>,
    org: String,
    key: String,
    body: Body,
    write: ProfileWrite,
) -> Result<Response, ApiError> {
    let given = profile_of(&read_json(body).await?)?;
    let mut store = shared.store();
    let id = store.find_user_id(&key).ok_or_else(|| not_found(&key))?;
    let mut profile = match write {
        ProfileWrite::Replace => Map::new(),
        ProfileWrite::Merge => store
            .users
            .get(&id)
            .map(|u| u.profile.clone())
            .unwrap_or_default(),
    };
    profile.extend(given);
    let login = login_of(&profile)?;
    if store.login_taken(&login, Some(&id)) {
        return Err(duplicate_login());
    }
    let user = store.users.get_mut(&id).ok_or_else(|| not_found(&key))?;
    user.profile = profile;
    user.last_updated = now();
    Ok(ok_json(StatusCode::OK, user_json(user, Some(&org))))
}

pub(crate) async fn update(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let key = path_param(id, "User")?;
    write_profile(shared, org, key, body, ProfileWrite::Merge).await
}

pub(crate) async fn replace(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let key = path_param(id, "User")?;
    write_profile(shared, org, key, body, ProfileWrite::Replace).await
}

/// Users API, "Delete a user": a user not yet DEPROVISIONED is deactivated; deleting a
/// DEPROVISIONED user deletes it, with its memberships and assignments.
pub(crate) async fn delete(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let key = path_param(id, "User")?;
    let mut store = shared.store();
    let id = store.find_user_id(&key).ok_or_else(|| not_found(&key))?;
    let user = store.users.get_mut(&id).ok_or_else(|| not_found(&key))?;
    if user.status != UserStatus::Deprovisioned {
        user.set_status(UserStatus::Deprovisioned, &now());
    } else {
        store.remove_user(&id);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The status a lifecycle operation leads to from `from`, or why it does not apply
/// (Users API, "User lifecycle operations").
fn transition(operation: &str, from: UserStatus) -> Result<UserStatus, String> {
    use UserStatus::*;
    match (operation, from) {
        ("activate", Staged | Deprovisioned) => Ok(Active),
        ("activate", _) => Err("activate applies only to STAGED or DEPROVISIONED users".into()),
        ("deactivate", _) => Ok(Deprovisioned),
        ("suspend", Active) => Ok(Suspended),
        ("suspend", _) => Err("suspend applies only to ACTIVE users".into()),
        ("unsuspend", Suspended) => Ok(Active),
        ("unsuspend", _) => Err("unsuspend applies only to SUSPENDED users".into()),
        // Reactivation resends the activation of a user who has not finished it.
        ("reactivate", Provisioned) => Ok(Provisioned),
        ("reactivate", _) => Err("reactivate applies only to PROVISIONED users".into()),
        (other, _) => Err(format!("{other} is not a lifecycle operation")),
    }
}

pub(crate) async fn lifecycle(
    State(shared): AppState,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (key, operation) = path_param(path, "User")?;
    if ![
        "activate",
        "deactivate",
        "suspend",
        "unsuspend",
        "reactivate",
    ]
    .contains(&operation.as_str())
    {
        return Err(ApiError::not_found(
            &format!("/api/v1/users/{key}/lifecycle/{operation}"),
            "Resource",
        ));
    }
    let mut store = shared.store();
    let id = store.find_user_id(&key).ok_or_else(|| not_found(&key))?;
    let user = store.users.get_mut(&id).ok_or_else(|| not_found(&key))?;
    let to = transition(&operation, user.status).map_err(|why| {
        ApiError::validation(
            &operation,
            format!("{why}; the user is {}", user.status.name()),
        )
    })?;
    user.set_status(to, &now());
    Ok(ok_json(StatusCode::OK, json!({})))
}

pub(crate) async fn groups(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let key = path_param(id, "User")?;
    let query = PageQuery::parse(&uri, GROUPS_PAGE, GROUPS_PAGE)?;
    let page_limit = shared.knobs().page_limit;
    let store = shared.store();
    let user = store.find_user(&key).ok_or_else(|| not_found(&key))?;
    let items = store
        .groups_of(&user.id)
        .into_iter()
        .map(|g| (g.seq, g.id.clone(), group_json(g, Some(&org))))
        .collect();
    page(&store, &org, &query, page_limit, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_operations_follow_okta_s_state_rules() {
        use UserStatus::*;
        let table = [
            ("activate", Staged, Ok(Active)),
            ("activate", Deprovisioned, Ok(Active)),
            ("activate", Active, Err(())),
            ("deactivate", Active, Ok(Deprovisioned)),
            ("deactivate", Suspended, Ok(Deprovisioned)),
            ("deactivate", Staged, Ok(Deprovisioned)),
            ("deactivate", Deprovisioned, Ok(Deprovisioned)),
            ("suspend", Active, Ok(Suspended)),
            ("suspend", Staged, Err(())),
            ("suspend", Suspended, Err(())),
            ("unsuspend", Suspended, Ok(Active)),
            ("unsuspend", Active, Err(())),
            ("reactivate", Provisioned, Ok(Provisioned)),
            ("reactivate", Active, Err(())),
        ];
        for (operation, from, expected) in table {
            assert_eq!(
                transition(operation, from).map_err(|_| ()),
                expected,
                "{operation} from {from:?}"
            );
        }
    }
}
