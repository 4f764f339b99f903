//! Hand-written fakes for use-case tests, behind the `test-util` feature:
//! - [`ScriptedTargetClient`]: an in-memory target that is as strict as Identity Center
//!   where the gateway's translation matters (it refuses `password`, several emails,
//!   path-less PATCH, filters beyond `eq`, membership PATCH without the membership
//!   calls…), records every call, and fails on cue;
//! - [`FailingAuditLog`] and [`UnavailableRules`], for the paths where a port fails.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use scim_core::filter::{AttrPath, CompValue, CompareOp, Filter};
use scim_core::{Group, PatchOp, PatchOpKind, Resource, User};
use serde_json::{Map, Value, json};

use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::rules::{ActiveRuleSet, RuleError, RuleSource};
use crate::{Deadline, TargetError, TargetScimClient};

/// One call the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetCall {
    /// The port method, e.g. `create_user`.
    pub method: &'static str,
    /// The resource id the call named.
    pub id: Option<String>,
    /// The body sent (resource or PATCH), as JSON.
    pub body: Option<Value>,
    /// The filter of a list call, printed.
    pub filter: Option<String>,
    /// The user ids of a membership call.
    pub member_ids: Vec<String>,
}

impl TargetCall {
    fn new(method: &'static str, id: Option<&str>) -> Self {
        Self {
            method,
            id: id.map(str::to_owned),
            body: None,
            filter: None,
            member_ids: Vec::new(),
        }
    }
}

#[derive(Default)]
struct State {
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    members: BTreeMap<String, Vec<String>>,
    next_id: u64,
    calls: Vec<TargetCall>,
    failures: HashMap<&'static str, VecDeque<TargetError>>,
}

/// An in-memory target with Identity Center's strictness (see the module docs). Ids are
/// `u-000001`, `g-000002`, … in creation order.
#[derive(Default)]
pub struct ScriptedTargetClient {
    state: Mutex<State>,
}

impl std::fmt::Debug for ScriptedTargetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedTargetClient")
            .finish_non_exhaustive()
    }
}

fn rejected(detail: impl Into<String>) -> TargetError {
    TargetError::Rejected {
        status: 400,
        scim_type: None,
        detail: detail.into(),
    }
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

/// What Identity Center refuses in a user body (`docs/identity-center-dialect.md` §6).
fn check_user(user: &Value) -> Result<(), TargetError> {
    for refused in [
        "password",
        "groups",
        "photos",
        "ims",
        "x509Certificates",
        "entitlements",
    ] {
        if user.get(refused).is_some() {
            return Err(rejected(format!(
                "the {refused} attribute is not supported"
            )));
        }
    }
    for multi in ["emails", "addresses", "phoneNumbers", "roles"] {
        if let Some(values) = user.get(multi).and_then(Value::as_array) {
            if values.len() > 1 {
                return Err(rejected(format!("only one value is permitted for {multi}")));
            }
            if values.iter().any(|v| v.get("display").is_some()) {
                return Err(rejected("display is not supported"));
            }
        }
    }
    if let Some(email) = user.get("emails").and_then(|e| e.get(0))
        && email.get("primary") != Some(&Value::Bool(true))
    {
        return Err(rejected("the email must be primary"));
    }
    let present = |v: Option<&str>| v.is_some_and(|s| !s.trim().is_empty());
    let name = user.get("name").cloned().unwrap_or(Value::Null);
    if !present(text(user, "userName"))
        || !present(text(user, "displayName"))
        || !present(text(&name, "givenName"))
        || !present(text(&name, "familyName"))
    {
        return Err(rejected(
            "Request is unparsable, syntactically incorrect, or violates schema.",
        ));
    }
    Ok(())
}

fn same_text(a: Option<&str>, b: &str, case_exact: bool) -> bool {
    a.is_some_and(|a| {
        if case_exact {
            a == b
        } else {
            a.to_lowercase() == b.to_lowercase()
        }
    })
}

/// The one `attr eq "string"` Identity Center answers, as (attribute, value).
fn eq_filter(filter: Option<&Filter>) -> Result<Option<(String, String)>, TargetError> {
    match filter {
        None => Ok(None),
        Some(Filter::Compare {
            path:
                AttrPath {
                    urn: None,
                    name,
                    sub_attr,
                },
            op: CompareOp::Eq,
            value: CompValue::String(v),
        }) => {
            let attr = match sub_attr {
                Some(sub) => format!("{name}.{sub}"),
                None => name.clone(),
            };
            Ok(Some((attr, v.clone())))
        }
        Some(_) => Err(rejected("the filter is not supported")),
    }
}

impl ScriptedTargetClient {
    /// An empty target.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next_id(state: &mut State, prefix: &str) -> String {
        state.next_id += 1;
        format!("{prefix}-{:06}", state.next_id)
    }

    /// Stores a user as given (plus an id and `meta`) without any call being recorded.
    pub fn seed_user(&self, user: Value) -> String {
        let mut state = self.lock();
        let id = Self::next_id(&mut state, "u");
        let mut user = user;
        user["id"] = json!(id);
        user["meta"] = json!({"resourceType": "User", "location": format!("https://target.internal/Users/{id}")});
        state.users.insert(id.clone(), user);
        id
    }

    /// Stores a group as given, with these members.
    pub fn seed_group(&self, group: Value, members: &[String]) -> String {
        let mut state = self.lock();
        let id = Self::next_id(&mut state, "g");
        let mut group = group;
        group["id"] = json!(id);
        state.groups.insert(id.clone(), group);
        state.members.insert(id.clone(), members.to_vec());
        id
    }

    /// Makes the next call of `method` fail with `error` (queued per method).
    pub fn fail_next(&self, method: &'static str, error: TargetError) {
        self.lock()
            .failures
            .entry(method)
            .or_default()
            .push_back(error);
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<TargetCall> {
        self.lock().calls.clone()
    }

    /// The calls so far that may change the target.
    pub fn writes(&self) -> Vec<TargetCall> {
        self.calls()
            .into_iter()
            .filter(|c| !c.method.starts_with("get") && !c.method.starts_with("list"))
            .collect()
    }

    /// Forgets the calls so far.
    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// A stored user.
    pub fn user(&self, id: &str) -> Option<Value> {
        self.lock().users.get(id).cloned()
    }

    /// A stored group, without members.
    pub fn group(&self, id: &str) -> Option<Value> {
        self.lock().groups.get(id).cloned()
    }

    /// A group's member ids.
    pub fn members(&self, group_id: &str) -> Vec<String> {
        self.lock()
            .members
            .get(group_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Records the call and pops a scripted failure for it, if any.
    fn enter(&self, call: TargetCall) -> Result<std::sync::MutexGuard<'_, State>, TargetError> {
        // One port call is one request here, as if every answer fit in one page.
        crate::ports::target::count_request();
        let mut state = self.lock();
        let method = call.method;
        state.calls.push(call);
        match state.failures.get_mut(method).and_then(VecDeque::pop_front) {
            Some(error) => Err(error),
            None => Ok(state),
        }
    }

    fn user_name_taken(state: &State, user_name: &str, except: Option<&str>) -> bool {
        state.users.iter().any(|(id, u)| {
            Some(id.as_str()) != except && same_text(text(u, "userName"), user_name, false)
        })
    }
}

fn to_user(value: &Value) -> Result<User, TargetError> {
    User::from_value(value.clone()).map_err(|e| TargetError::Transport(Box::new(e)))
}

fn to_group(value: &Value) -> Result<Group, TargetError> {
    // Identity Center never returns members.
    let mut value = value.clone();
    value["members"] = json!([]);
    Group::from_value(value).map_err(|e| TargetError::Transport(Box::new(e)))
}

/// Sets or removes the value at a plain PATCH path (`attr`, `attr.sub`, `urn:attr`,
/// `urn:attr.sub`); value-filtered paths change the single value of the attribute.
fn apply_path(object: &mut Map<String, Value>, path: &scim_core::PatchPath, value: Option<Value>) {
    let mut scope = object;
    if let Some(urn) = &path.attr.urn {
        let entry = scope.entry(urn.clone()).or_insert_with(|| json!({}));
        let Some(inner) = entry.as_object_mut() else {
            return;
        };
        if path.attr.name.is_empty() {
            if value.is_none() {
                inner.clear();
            }
            return;
        }
        scope = inner;
    }
    let name = path.attr.name.clone();
    let sub = path.attr.sub_attr.clone().or_else(|| path.sub_attr.clone());
    if path.filter.is_some() {
        if let (Some(sub), Some(Value::Array(items))) = (&sub, scope.get_mut(&name))
            && let Some(Value::Object(first)) = items.first_mut()
        {
            match value {
                Some(v) => first.insert(sub.clone(), v),
                None => first.remove(sub),
            };
        }
        return;
    }
    match (sub, value) {
        (None, Some(v)) => {
            scope.insert(name, v);
        }
        (None, None) => {
            scope.remove(&name);
        }
        (Some(sub), v) => {
            let entry = scope.entry(name).or_insert_with(|| json!({}));
            if let Some(inner) = entry.as_object_mut() {
                match v {
                    Some(v) => inner.insert(sub, v),
                    None => inner.remove(&sub),
                };
            }
        }
    }
}

#[async_trait]
impl TargetScimClient for ScriptedTargetClient {
    async fn create_user(&self, user: &User, _deadline: Deadline) -> Result<User, TargetError> {
        let body = user.to_value();
        let mut call = TargetCall::new("create_user", None);
        call.body = Some(body.clone());
        let mut state = self.enter(call)?;
        check_user(&body)?;
        if Self::user_name_taken(&state, &user.user_name, None) {
            return Err(TargetError::Conflict {
                detail: "User already exists".into(),
            });
        }
        let id = Self::next_id(&mut state, "u");
        let mut stored = body;
        stored["id"] = json!(id);
        stored
            .as_object_mut()
            .map(|o| o.entry("active").or_insert(json!(true)));
        stored["meta"] = json!({"resourceType": "User", "location": format!("https://target.internal/Users/{id}")});
        state.users.insert(id, stored.clone());
        to_user(&stored)
    }

    async fn get_user(&self, id: &str, _deadline: Deadline) -> Result<User, TargetError> {
        let state = self.enter(TargetCall::new("get_user", Some(id)))?;
        state
            .users
            .get(id)
            .map(to_user)
            .unwrap_or(Err(TargetError::NotFound))
    }

    async fn list_users(
        &self,
        filter: Option<&Filter>,
        _deadline: Deadline,
    ) -> Result<Vec<User>, TargetError> {
        let mut call = TargetCall::new("list_users", None);
        call.filter = filter.map(ToString::to_string);
        let state = self.enter(call)?;
        let eq = eq_filter(filter)?;
        let keep = |id: &String, user: &Value| match &eq {
            None => Ok(true),
            Some((attr, v)) if attr.eq_ignore_ascii_case("userName") => {
                Ok(same_text(text(user, "userName"), v, false))
            }
            Some((attr, v)) if attr.eq_ignore_ascii_case("externalId") => {
                Ok(same_text(text(user, "externalId"), v, true))
            }
            Some((attr, v)) if attr.eq_ignore_ascii_case("id") => Ok(id == v),
            Some((attr, v)) if attr.eq_ignore_ascii_case("groups.value") => {
                Ok(state.members.get(v).is_some_and(|m| m.contains(id)))
            }
            Some(_) => Err(rejected("the filter is not supported")),
        };
        let mut out = Vec::new();
        for (id, user) in &state.users {
            if keep(id, user)? {
                out.push(to_user(user)?);
            }
        }
        // Identity Center's order is its own; reverse ours so that tests catch a
        // gateway that relies on it.
        out.reverse();
        Ok(out)
    }

    async fn replace_user(
        &self,
        id: &str,
        user: &User,
        _deadline: Deadline,
    ) -> Result<User, TargetError> {
        let body = user.to_value();
        let mut call = TargetCall::new("replace_user", Some(id));
        call.body = Some(body.clone());
        let mut state = self.enter(call)?;
        check_user(&body)?;
        if !state.users.contains_key(id) {
            return Err(TargetError::NotFound);
        }
        if Self::user_name_taken(&state, &user.user_name, Some(id)) {
            return Err(TargetError::Conflict {
                detail: "User already exists".into(),
            });
        }
        let mut stored = body;
        stored["id"] = json!(id);
        state.users.insert(id.to_owned(), stored.clone());
        to_user(&stored)
    }

    async fn patch_user(
        &self,
        id: &str,
        patch: &PatchOp,
        _deadline: Deadline,
    ) -> Result<User, TargetError> {
        let mut call = TargetCall::new("patch_user", Some(id));
        call.body = serde_json::to_value(patch).ok();
        let mut state = self.enter(call)?;
        for guarded in ["userName", "active"] {
            let count = patch
                .operations
                .iter()
                .filter(|op| op.path.as_ref().is_some_and(|p| p.attr.name == guarded))
                .count();
            if count > 1 {
                return Err(rejected(format!(
                    "multiple operations on {guarded} are not supported"
                )));
            }
        }
        let Some(Value::Object(mut user)) = state.users.get(id).cloned() else {
            return Err(TargetError::NotFound);
        };
        for op in &patch.operations {
            let Some(path) = &op.path else {
                return Err(rejected(
                    "an operation without a path is not supported by this fake",
                ));
            };
            if ["password", "groups"].contains(&path.attr.name.as_str()) {
                return Err(rejected("the attribute is not supported"));
            }
            let value = if op.op == PatchOpKind::Remove {
                None
            } else {
                op.value.clone()
            };
            apply_path(&mut user, path, value);
        }
        let user = Value::Object(user);
        check_user(&user)?;
        state.users.insert(id.to_owned(), user.clone());
        to_user(&user)
    }

    async fn delete_user(&self, id: &str, _deadline: Deadline) -> Result<(), TargetError> {
        let mut state = self.enter(TargetCall::new("delete_user", Some(id)))?;
        state
            .users
            .remove(id)
            .map(|_| ())
            .ok_or(TargetError::NotFound)
    }

    async fn create_group(&self, group: &Group, _deadline: Deadline) -> Result<Group, TargetError> {
        let mut body = group.to_value();
        let mut call = TargetCall::new("create_group", None);
        call.body = Some(body.clone());
        let mut state = self.enter(call)?;
        if state
            .groups
            .values()
            .any(|g| same_text(text(g, "displayName"), &group.display_name, false))
        {
            return Err(TargetError::Conflict {
                detail: "Group already exists".into(),
            });
        }
        let members: Vec<String> = group.member_ids().map(str::to_owned).collect();
        if members.len() > 100 || group.members.iter().flatten().any(|m| m.display.is_some()) {
            return Err(rejected("members: at most 100, without display"));
        }
        if let Some(missing) = members.iter().find(|m| !state.users.contains_key(*m)) {
            return Err(rejected(format!("member {missing} does not exist")));
        }
        let id = Self::next_id(&mut state, "g");
        body["id"] = json!(id);
        if let Some(object) = body.as_object_mut() {
            object.remove("members");
        }
        state.groups.insert(id.clone(), body.clone());
        state.members.insert(id, members);
        to_group(&body)
    }

    async fn get_group(&self, id: &str, _deadline: Deadline) -> Result<Group, TargetError> {
        let state = self.enter(TargetCall::new("get_group", Some(id)))?;
        state
            .groups
            .get(id)
            .map(to_group)
            .unwrap_or(Err(TargetError::NotFound))
    }

    async fn list_groups(
        &self,
        filter: Option<&Filter>,
        _deadline: Deadline,
    ) -> Result<Vec<Group>, TargetError> {
        let mut call = TargetCall::new("list_groups", None);
        call.filter = filter.map(ToString::to_string);
        let state = self.enter(call)?;
        let eq = eq_filter(filter)?;
        let mut out = Vec::new();
        for (id, group) in &state.groups {
            let keep = match &eq {
                None => true,
                Some((attr, v)) if attr.eq_ignore_ascii_case("displayName") => {
                    same_text(text(group, "displayName"), v, false)
                }
                Some((attr, v)) if attr.eq_ignore_ascii_case("externalId") => {
                    same_text(text(group, "externalId"), v, true)
                }
                Some((attr, v)) if attr.eq_ignore_ascii_case("id") => id == v,
                Some((attr, v)) if attr.eq_ignore_ascii_case("members.value") => {
                    state.members.get(id).is_some_and(|m| m.contains(v))
                }
                Some(_) => return Err(rejected("the filter is not supported")),
            };
            if keep {
                out.push(to_group(group)?);
            }
        }
        out.reverse();
        Ok(out)
    }

    async fn patch_group(
        &self,
        id: &str,
        patch: &PatchOp,
        _deadline: Deadline,
    ) -> Result<Group, TargetError> {
        let mut call = TargetCall::new("patch_group", Some(id));
        call.body = serde_json::to_value(patch).ok();
        let mut state = self.enter(call)?;
        let Some(Value::Object(mut group)) = state.groups.get(id).cloned() else {
            return Err(TargetError::NotFound);
        };
        for op in &patch.operations {
            let Some(path) = &op.path else {
                return Err(rejected("a path is required"));
            };
            if !["displayName", "externalId"].contains(&path.attr.name.as_str())
                || path.filter.is_some()
            {
                return Err(rejected(
                    "only displayName and externalId; members go through membership calls",
                ));
            }
            let value = if op.op == PatchOpKind::Remove {
                None
            } else {
                op.value.clone()
            };
            apply_path(&mut group, path, value);
        }
        let group = Value::Object(group);
        state.groups.insert(id.to_owned(), group.clone());
        to_group(&group)
    }

    async fn delete_group(&self, id: &str, _deadline: Deadline) -> Result<(), TargetError> {
        let mut state = self.enter(TargetCall::new("delete_group", Some(id)))?;
        state.members.remove(id);
        state
            .groups
            .remove(id)
            .map(|_| ())
            .ok_or(TargetError::NotFound)
    }

    async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        _deadline: Deadline,
    ) -> Result<(), TargetError> {
        let mut call = TargetCall::new("add_group_members", Some(group_id));
        call.member_ids = user_ids.to_vec();
        let mut state = self.enter(call)?;
        if !state.groups.contains_key(group_id) {
            return Err(TargetError::NotFound);
        }
        if let Some(missing) = user_ids.iter().find(|m| !state.users.contains_key(*m)) {
            return Err(rejected(format!("member {missing} does not exist")));
        }
        let members = state.members.entry(group_id.to_owned()).or_default();
        for id in user_ids {
            if !members.contains(id) {
                members.push(id.clone());
            }
        }
        Ok(())
    }

    async fn remove_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
        _deadline: Deadline,
    ) -> Result<(), TargetError> {
        let mut call = TargetCall::new("remove_group_members", Some(group_id));
        call.member_ids = user_ids.to_vec();
        let mut state = self.enter(call)?;
        if user_ids.is_empty() {
            // Identity Center reads an empty removal list as "remove all"
            // (`docs/identity-center-dialect.md` §5).
            return Err(rejected("an empty removal would remove every member"));
        }
        let members = state
            .members
            .get_mut(group_id)
            .ok_or(TargetError::NotFound)?;
        members.retain(|m| !user_ids.contains(m));
        Ok(())
    }

    async fn list_group_member_ids(
        &self,
        group_id: &str,
        _deadline: Deadline,
    ) -> Result<Vec<String>, TargetError> {
        let state = self.enter(TargetCall::new("list_group_member_ids", Some(group_id)))?;
        if !state.groups.contains_key(group_id) {
            return Err(TargetError::NotFound);
        }
        Ok(state.members.get(group_id).cloned().unwrap_or_default())
    }
}

/// An audit log that refuses appends, and counts the attempts: every append by
/// default (the trail is down: nothing may change), or with
/// [`FailingAuditLog::outcomes_only`] only the outcome records, keeping the intents (the
/// trail failed between the intent and the outcome: the change stands).
#[derive(Debug, Default)]
pub struct FailingAuditLog {
    attempts: Mutex<u32>,
    keep_intents: bool,
    kept: Mutex<Vec<AuditRecord>>,
}

impl FailingAuditLog {
    /// A log that takes intent records and refuses every other.
    pub fn outcomes_only() -> Self {
        Self {
            keep_intents: true,
            ..Self::default()
        }
    }

    /// How many appends were attempted, refused or not.
    pub fn attempts(&self) -> u32 {
        *self.attempts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The records it took (intents, with [`FailingAuditLog::outcomes_only`]).
    pub fn kept(&self) -> Vec<AuditRecord> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl AuditLog for FailingAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        *self.attempts.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        if self.keep_intents && record.outcome == crate::audit::Outcome::Intent {
            self.kept
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(record);
            return Ok(());
        }
        Err(AuditError::Unavailable("the audit store is down".into()))
    }
}

/// A rule source that cannot be read.
#[derive(Debug, Default, Clone, Copy)]
pub struct UnavailableRules;

#[async_trait]
impl RuleSource for UnavailableRules {
    async fn active(&self) -> Result<Arc<ActiveRuleSet>, RuleError> {
        Err(RuleError::Unavailable("the rule store is down".into()))
    }
}
