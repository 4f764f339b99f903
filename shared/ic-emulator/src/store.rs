//! The emulator's in-memory directory: users, groups and memberships, in creation order,
//! with the JSON each resource is returned as and the snapshots tests read.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::query::{GroupFilter, UserFilter};
use crate::user::{ENTERPRISE, manager_of};

/// A stored user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) id: String,
    pub(crate) seq: u64,
    /// Canonical attributes (see `user::canonical_user`).
    pub(crate) attrs: Map<String, Value>,
    pub(crate) created: OffsetDateTime,
    pub(crate) last_modified: OffsetDateTime,
}

/// A stored group. Members are kept although Identity Center never returns them.
#[derive(Debug, Clone)]
pub(crate) struct GroupRecord {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) display_name: String,
    pub(crate) external_id: Option<String>,
    pub(crate) members: BTreeSet<String>,
    pub(crate) created: OffsetDateTime,
    pub(crate) last_modified: OffsetDateTime,
}

/// A user as stored, for tests and tools.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserSnapshot {
    /// The server-assigned id.
    pub id: String,
    /// `userName`.
    pub user_name: String,
    /// `externalId`, if set.
    pub external_id: Option<String>,
    /// `displayName`.
    pub display_name: String,
    /// `active`.
    pub active: bool,
    /// Ids of the groups the user belongs to, in group creation order.
    pub groups: Vec<String>,
    /// The user exactly as GetUser returns it.
    pub resource: Value,
}

/// A group as stored, members included (which the SCIM API never returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupSnapshot {
    /// The server-assigned id.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `externalId`, if set.
    pub external_id: Option<String>,
    /// Member user ids, sorted.
    pub members: Vec<String>,
}

/// The directory.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_seq: u64,
    pub(crate) users: HashMap<String, UserRecord>,
    pub(crate) groups: HashMap<String, GroupRecord>,
}

fn timestamp(t: OffsetDateTime) -> String {
    // AWS-DG examples: "2020-03-30T16:55:15Z", whole seconds.
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
    ))
    .unwrap_or_default()
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

impl Store {
    /// The next creation sequence number: listings are ordered by it, so they are stable.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The user whose `userName` equals `user_name` without regard to case.
    pub(crate) fn user_by_name(&self, user_name: &str) -> Option<&UserRecord> {
        let wanted = lower(user_name);
        self.users.values().find(|u| {
            u.attrs
                .get("userName")
                .and_then(Value::as_str)
                .is_some_and(|n| lower(n) == wanted)
        })
    }

    /// The group whose `displayName` equals `name` without regard to case.
    pub(crate) fn group_by_name(&self, name: &str) -> Option<&GroupRecord> {
        let wanted = lower(name);
        self.groups
            .values()
            .find(|g| lower(&g.display_name) == wanted)
    }

    /// Removes a user and every membership of it.
    pub(crate) fn delete_user(&mut self, id: &str) -> bool {
        let existed = self.users.remove(id).is_some();
        if existed {
            for group in self.groups.values_mut() {
                group.members.remove(id);
            }
        }
        existed
    }

    /// Users matching a filter, in creation order.
    pub(crate) fn users_matching(&self, filter: &UserFilter) -> Vec<&UserRecord> {
        let attr =
            |u: &UserRecord, k: &str| u.attrs.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut users: Vec<&UserRecord> = match filter {
            UserFilter::Group(gid) => match self.groups.get(gid) {
                Some(g) => g
                    .members
                    .iter()
                    .filter_map(|id| self.users.get(id))
                    .collect(),
                None => Vec::new(),
            },
            _ => self
                .users
                .values()
                .filter(|u| match filter {
                    UserFilter::All | UserFilter::Group(_) => true,
                    UserFilter::UserName(n) => {
                        attr(u, "userName").is_some_and(|v| lower(&v) == lower(n))
                    }
                    UserFilter::ExternalId(e) => attr(u, "externalId").as_deref() == Some(e),
                    UserFilter::Id(id) => &u.id == id,
                    UserFilter::IdAndManager { id, manager } => {
                        &u.id == id && manager_of(&u.attrs) == Some(manager.as_str())
                    }
                })
                .collect(),
        };
        users.sort_by_key(|u| u.seq);
        users
    }

    /// Groups matching a filter, in creation order.
    pub(crate) fn groups_matching(&self, filter: &GroupFilter) -> Vec<&GroupRecord> {
        let mut groups: Vec<&GroupRecord> = self
            .groups
            .values()
            .filter(|g| match filter {
                GroupFilter::All => true,
                GroupFilter::DisplayName(n) => lower(&g.display_name) == lower(n),
                GroupFilter::ExternalId(e) => g.external_id.as_deref() == Some(e.as_str()),
                GroupFilter::Member(uid) => g.members.contains(uid),
                GroupFilter::Id(id) => &g.id == id,
                GroupFilter::IdAndMember { id, member } => {
                    &g.id == id && g.members.contains(member)
                }
            })
            .collect();
        groups.sort_by_key(|g| g.seq);
        groups
    }

    /// Snapshots of all users, in creation order.
    pub(crate) fn user_snapshots(&self) -> Vec<UserSnapshot> {
        let mut groups: Vec<&GroupRecord> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        self.users_matching(&UserFilter::All)
            .into_iter()
            .map(|u| {
                let text = |k: &str| u.attrs.get(k).and_then(Value::as_str).map(str::to_owned);
                UserSnapshot {
                    id: u.id.clone(),
                    user_name: text("userName").unwrap_or_default(),
                    external_id: text("externalId"),
                    display_name: text("displayName").unwrap_or_default(),
                    active: u
                        .attrs
                        .get("active")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    groups: groups
                        .iter()
                        .filter(|g| g.members.contains(&u.id))
                        .map(|g| g.id.clone())
                        .collect(),
                    resource: user_json(u),
                }
            })
            .collect()
    }

    /// Snapshots of all groups, in creation order.
    pub(crate) fn group_snapshots(&self) -> Vec<GroupSnapshot> {
        self.groups_matching(&GroupFilter::All)
            .into_iter()
            .map(|g| GroupSnapshot {
                id: g.id.clone(),
                display_name: g.display_name.clone(),
                external_id: g.external_id.clone(),
                members: g.members.iter().cloned().collect(),
            })
            .collect()
    }
}

/// A user as Identity Center returns it (AWS-DG getuser example): `id`, `externalId`,
/// `meta` with `resourceType`, `created`, `lastModified` (no `location`, no `version`),
/// `schemas`, then the attributes.
pub(crate) fn user_json(user: &UserRecord) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::String(user.id.clone()));
    if let Some(external_id) = user.attrs.get("externalId") {
        out.insert("externalId".into(), external_id.clone());
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(user.created),
            "lastModified": timestamp(user.last_modified),
        }),
    );
    let mut schemas = vec![scim_core::USER_SCHEMA];
    if user.attrs.contains_key(ENTERPRISE) {
        schemas.push(ENTERPRISE);
    }
    out.insert("schemas".into(), json!(schemas));
    for (key, value) in &user.attrs {
        if key != "externalId" {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}

/// A group as Identity Center returns it: `members` is always empty (AWS-DG getgroup,
/// listgroups, limitations: memberships "cannot be read in a response").
pub(crate) fn group_json(group: &GroupRecord) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::String(group.id.clone()));
    if let Some(external_id) = &group.external_id {
        out.insert("externalId".into(), Value::String(external_id.clone()));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": timestamp(group.created),
            "lastModified": timestamp(group.last_modified),
        }),
    );
    out.insert("schemas".into(), json!([scim_core::GROUP_SCHEMA]));
    out.insert(
        "displayName".into(),
        Value::String(group.display_name.clone()),
    );
    out.insert("members".into(), json!([]));
    Value::Object(out)
}
