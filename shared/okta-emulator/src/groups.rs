//! The Groups API (<https://developer.okta.com/docs/reference/api/groups/>): list (with a
//! `q` name prefix), create, read, replace and delete `OKTA_GROUP` groups, list a group's
//! members, and add or remove one.
//!
//! Okta changes only `OKTA_GROUP` groups through this API; `APP_GROUP` and `BUILT_IN`
//! groups (which only a seed makes) refuse profile, membership and delete writes with
//! 400 E0000001. Group names are unique without regard to case: the emulator's choice.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::paging::{PageQuery, page};
use crate::routes::{AppState, OrgUrl, ok_json, path_param, profile_of, read_json};
use crate::store::{GroupRecord, group_json, now, user_json};

/// Groups API: groups are listed up to 10 000 a page.
const GROUPS_PAGE: usize = 10_000;

/// Groups API, "List all member users": up to 1 000 a page.
const MEMBERS_PAGE: usize = 1_000;

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(id, "UserGroup")
}

/// `profile.name` as a non-blank string, and `description` a string if given.
fn checked_profile(profile: &Map<String, Value>) -> Result<String, ApiError> {
    let name = match profile.get("name").and_then(Value::as_str) {
        Some(name) if !name.trim().is_empty() => name.to_owned(),
        _ => {
            return Err(ApiError::validation(
                "name",
                "name: The field cannot be left blank",
            ));
        }
    };
    if profile
        .get("description")
        .is_some_and(|d| !d.is_string() && !d.is_null())
    {
        return Err(ApiError::validation(
            "description",
            "description: must be a string",
        ));
    }
    Ok(name)
}

fn duplicate_name() -> ApiError {
    ApiError::validation(
        "name",
        "name: An object with this field already exists in the current organization",
    )
}

fn okta_group_only(group: &GroupRecord) -> Result<(), ApiError> {
    if group.group_type == "OKTA_GROUP" {
        Ok(())
    } else {
        Err(ApiError::validation(
            "type",
            format!(
                "type: only OKTA_GROUP groups can be changed through the API; this one is {}",
                group.group_type
            ),
        ))
    }
}

pub(crate) async fn list(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let query = PageQuery::parse(&uri, GROUPS_PAGE, GROUPS_PAGE)?;
    if query.param("filter").is_some() || query.param("search").is_some() {
        return Err(ApiError::invalid_search(
            "the emulator evaluates only q (a name prefix)",
        ));
    }
    let prefix = query.param("q").map(str::to_lowercase);
    let page_limit = shared.knobs().page_limit;
    let store = shared.store();
    let items = store
        .groups_in_order()
        .into_iter()
        .filter(|g| {
            prefix
                .as_deref()
                .is_none_or(|p| g.name().to_lowercase().starts_with(p))
        })
        .map(|g| (g.seq, g.id.clone(), group_json(g, Some(&org))))
        .collect();
    page(&store, &org, &query, page_limit, items)
}

/// Groups API, "Add a group": answers 200 with the group.
pub(crate) async fn create(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    body: Body,
) -> Result<Response, ApiError> {
    let profile = profile_of(&read_json(body).await?)?;
    let name = checked_profile(&profile)?;
    let mut store = shared.store();
    if store.group_name_taken(&name, None) {
        return Err(duplicate_name());
    }
    let stamp = now();
    let id = shared.new_id("00g", &store);
    let group = GroupRecord {
        seq: store.register(&id),
        id,
        group_type: "OKTA_GROUP".into(),
        created: stamp.clone(),
        last_updated: stamp.clone(),
        last_membership_updated: stamp,
        object_class: json!(["okta:user_group"]),
        profile,
        members: BTreeSet::new(),
    };
    let json = group_json(&group, Some(&org));
    store.groups.insert(group.id.clone(), group);
    Ok(ok_json(StatusCode::OK, json))
}

pub(crate) async fn get_one(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id, "UserGroup")?;
    let store = shared.store();
    let group = store.groups.get(&id).ok_or_else(|| not_found(&id))?;
    Ok(ok_json(StatusCode::OK, group_json(group, Some(&org))))
}

pub(crate) async fn replace(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(id, "UserGroup")?;
    let profile = profile_of(&read_json(body).await?)?;
    let name = checked_profile(&profile)?;
    let mut store = shared.store();
    okta_group_only(store.groups.get(&id).ok_or_else(|| not_found(&id))?)?;
    if store.group_name_taken(&name, Some(&id)) {
        return Err(duplicate_name());
    }
    let group = store.groups.get_mut(&id).ok_or_else(|| not_found(&id))?;
    group.profile = profile;
    group.last_updated = now();
    Ok(ok_json(StatusCode::OK, group_json(group, Some(&org))))
}

pub(crate) async fn delete(
    State(shared): AppState,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(id, "UserGroup")?;
    let mut store = shared.store();
    okta_group_only(store.groups.get(&id).ok_or_else(|| not_found(&id))?)?;
    store.groups.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn members(
    State(shared): AppState,
    Extension(OrgUrl(org)): Extension<OrgUrl>,
    id: Result<Path<String>, PathRejection>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let id = path_param(id, "UserGroup")?;
    let query = PageQuery::parse(&uri, MEMBERS_PAGE, MEMBERS_PAGE)?;
    let page_limit = shared.knobs().page_limit;
    let store = shared.store();
    let group = store.groups.get(&id).ok_or_else(|| not_found(&id))?;
    let items = store
        .members_of(group)
        .into_iter()
        .map(|u| (u.seq, u.id.clone(), user_json(u, Some(&org))))
        .collect();
    page(&store, &org, &query, page_limit, items)
}

/// Adds (`true`) or removes a member; both answer 204 whether or not anything changed.
async fn change_membership(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
    add: bool,
) -> Result<Response, ApiError> {
    let State(shared) = state;
    let (group_id, user_id) = path_param(path, "UserGroup")?;
    let mut store = shared.store();
    okta_group_only(
        store
            .groups
            .get(&group_id)
            .ok_or_else(|| not_found(&group_id))?,
    )?;
    if !store.users.contains_key(&user_id) {
        return Err(ApiError::not_found(&user_id, "User"));
    }
    let group = store
        .groups
        .get_mut(&group_id)
        .ok_or_else(|| not_found(&group_id))?;
    let changed = if add {
        group.members.insert(user_id)
    } else {
        group.members.remove(&user_id)
    };
    if changed {
        group.last_membership_updated = now();
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) async fn add_member(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    change_membership(state, path, true).await
}

pub(crate) async fn remove_member(
    state: AppState,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    change_membership(state, path, false).await
}
