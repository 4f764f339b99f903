//! The emulator's in-memory directory: users, groups and memberships, in creation order,
//! with the JSON each resource is returned as and the snapshots tests read; the uniqueness
//! checks of writes, and the view reads take of it (case of `userName`, read-after-create
//! lag).
//!
//! The unique attributes (a user's `userName`, email and `externalId`, a group's
//! `displayName` and `externalId`) are indexed, as Identity Center's own look-ups are:
//! a clash check or a filtered read costs the same with 10 000 users as with ten, so that
//! the stand-in does not become the bottleneck of a bulk run (`docs/benchmarks.md`,
//! "Bulk"). Every write goes through the store's methods, which keep the indexes.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::Knobs;
use crate::group::same_display_name;
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
    /// When it was created, on the monotonic clock: reads lag behind it.
    pub(crate) born: Instant,
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
    /// When it was created, on the monotonic clock: reads lag behind it.
    pub(crate) born: Instant,
}

/// Which unique attribute a write would duplicate (AWS re:Post
/// `iam-identity-center-provision`: a user's userName, email address and externalId, a
/// group's displayName and externalId; `docs/identity-center-dialect.md` §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Clash {
    /// The user's `userName` or the group's `displayName`.
    Name,
    /// The user's primary email value.
    Email,
    /// The `externalId`.
    ExternalId,
}

/// How a read sees the directory: the knobs that shape reads, at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadView {
    /// `userName eq` compares case-sensitively.
    pub(crate) case_sensitive_usernames: bool,
    lag: Duration,
    now: Instant,
}

impl ReadView {
    /// The view a SCIM read takes now, under `knobs`.
    pub(crate) fn new(knobs: &Knobs) -> Self {
        Self {
            case_sensitive_usernames: knobs.case_sensitive_usernames,
            lag: Duration::from_millis(knobs.read_after_create_lag_ms),
            now: Instant::now(),
        }
    }

    /// A view that sees every resource at once (admin snapshots).
    fn everything() -> Self {
        Self {
            case_sensitive_usernames: false,
            lag: Duration::ZERO,
            now: Instant::now(),
        }
    }

    /// Whether a resource created at `born` is readable yet.
    pub(crate) fn sees(&self, born: Instant) -> bool {
        self.now.saturating_duration_since(born) >= self.lag
    }
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

/// Resource ids by the key of one attribute (several ids may share a key: `userName`s
/// that differ only in case, with case-sensitive user names).
#[derive(Debug, Default)]
struct Index(HashMap<String, BTreeSet<String>>);

impl Index {
    fn add(&mut self, key: Option<String>, id: &str) {
        if let Some(key) = key {
            self.0.entry(key).or_default().insert(id.to_owned());
        }
    }

    fn remove(&mut self, key: Option<String>, id: &str) {
        if let Some(key) = key
            && let Some(ids) = self.0.get_mut(&key)
        {
            ids.remove(id);
            if ids.is_empty() {
                self.0.remove(&key);
            }
        }
    }

    fn ids<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a String> + use<'a> {
        self.0.get(key).into_iter().flatten()
    }
}

/// The directory.
#[derive(Debug, Default)]
pub(crate) struct Store {
    next_seq: u64,
    users: HashMap<String, UserRecord>,
    groups: HashMap<String, GroupRecord>,
    /// Users by lowercased `userName`.
    user_names: Index,
    /// Users by lowercased primary email.
    user_emails: Index,
    /// Users by `externalId`.
    user_external_ids: Index,
    /// Groups by lowercased `displayName`.
    group_names: Index,
    /// Groups by `externalId`.
    group_external_ids: Index,
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

/// Whether two user names are the same, with or without regard to case.
fn same_user_name(a: &str, b: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        a == b
    } else {
        lower(a) == lower(b)
    }
}

fn text<'a>(attrs: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    attrs.get(key).and_then(Value::as_str)
}

/// The value of a canonical user's email (there is at most one, and it is primary).
fn primary_email(attrs: &Map<String, Value>) -> Option<&str> {
    attrs
        .get("emails")?
        .as_array()?
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))?
        .get("value")?
        .as_str()
}

/// The index keys of a user's unique attributes: name, email, externalId.
fn user_keys(attrs: &Map<String, Value>) -> [Option<String>; 3] {
    [
        text(attrs, "userName").map(lower),
        primary_email(attrs).map(lower),
        text(attrs, "externalId").map(str::to_owned),
    ]
}

impl Store {
    /// The user `id`, whether or not reads can see it yet.
    pub(crate) fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.get(id)
    }

    /// Whether the group `id` exists.
    pub(crate) fn has_group(&self, id: &str) -> bool {
        self.groups.contains_key(id)
    }

    fn index_user(&mut self, attrs: &Map<String, Value>, id: &str, add: bool) {
        let [name, email, external_id] = user_keys(attrs);
        for (index, key) in [
            (&mut self.user_names, name),
            (&mut self.user_emails, email),
            (&mut self.user_external_ids, external_id),
        ] {
            if add {
                index.add(key, id);
            } else {
                index.remove(key, id);
            }
        }
    }

    fn index_group(&mut self, id: &str, add: bool) {
        let Some(group) = self.groups.get(id) else {
            return;
        };
        let name = Some(lower(&group.display_name));
        let external_id = group.external_id.clone();
        for (index, key) in [
            (&mut self.group_names, name),
            (&mut self.group_external_ids, external_id),
        ] {
            if add {
                index.add(key, id);
            } else {
                index.remove(key, id);
            }
        }
    }

    /// Stores a new user.
    pub(crate) fn insert_user(&mut self, user: UserRecord) {
        self.index_user(&user.attrs, &user.id, true);
        self.users.insert(user.id.clone(), user);
    }

    /// Replaces the attributes of the user `id`; the user as it is now.
    pub(crate) fn set_user_attrs(
        &mut self,
        id: &str,
        attrs: Map<String, Value>,
        now: OffsetDateTime,
    ) -> Option<&UserRecord> {
        let old = std::mem::take(&mut self.users.get_mut(id)?.attrs);
        self.index_user(&old, id, false);
        self.index_user(&attrs, id, true);
        let user = self.users.get_mut(id)?;
        user.attrs = attrs;
        user.last_modified = now;
        Some(user)
    }

    /// Stores a new group.
    pub(crate) fn insert_group(&mut self, group: GroupRecord) {
        let id = group.id.clone();
        self.groups.insert(id.clone(), group);
        self.index_group(&id, true);
    }

    /// Changes the group `id` with `change`; whether it exists.
    pub(crate) fn update_group(&mut self, id: &str, change: impl FnOnce(&mut GroupRecord)) -> bool {
        self.index_group(id, false);
        let Some(group) = self.groups.get_mut(id) else {
            return false;
        };
        change(group);
        self.index_group(id, true);
        true
    }

    /// Removes the group `id`; whether it existed.
    pub(crate) fn remove_group(&mut self, id: &str) -> bool {
        self.index_group(id, false);
        self.groups.remove(id).is_some()
    }

    /// The next creation sequence number: listings are ordered by it, so they are stable.
    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// What a user with `attrs` would duplicate among the users other than `except`:
    /// `userName` (with or without regard to case), the primary email value (without
    /// regard to case) or `externalId` (exactly), checked in that order. Lagging users
    /// count: they exist.
    pub(crate) fn user_clash(
        &self,
        attrs: &Map<String, Value>,
        except: Option<&str>,
        case_sensitive_usernames: bool,
    ) -> Option<Clash> {
        let others = |ids: Vec<&'_ String>| {
            ids.into_iter()
                .filter(move |id| Some(id.as_str()) != except)
                .filter_map(|id| self.users.get(id))
                .collect::<Vec<_>>()
        };
        let name = text(attrs, "userName").unwrap_or_default();
        if others(self.user_names.ids(&lower(name)).collect())
            .iter()
            .any(|u| {
                text(&u.attrs, "userName")
                    .is_some_and(|n| same_user_name(n, name, case_sensitive_usernames))
            })
        {
            return Some(Clash::Name);
        }
        if let Some(email) = primary_email(attrs).map(lower)
            && !others(self.user_emails.ids(&email).collect()).is_empty()
        {
            return Some(Clash::Email);
        }
        if let Some(external_id) = text(attrs, "externalId")
            && !others(self.user_external_ids.ids(external_id).collect()).is_empty()
        {
            return Some(Clash::ExternalId);
        }
        None
    }

    /// What a group named `display_name` with `external_id` would duplicate among the
    /// groups other than `except`: `displayName` (without regard to case), then
    /// `externalId` (exactly). `None` for either skips its check.
    pub(crate) fn group_clash(
        &self,
        display_name: Option<&str>,
        external_id: Option<&str>,
        except: Option<&str>,
    ) -> Option<Clash> {
        let others = |ids: Vec<&String>| ids.into_iter().any(|id| Some(id.as_str()) != except);
        if let Some(name) = display_name
            && others(self.group_names.ids(&lower(name)).collect())
        {
            return Some(Clash::Name);
        }
        if let Some(external_id) = external_id
            && others(self.group_external_ids.ids(external_id).collect())
        {
            return Some(Clash::ExternalId);
        }
        None
    }

    /// The user `id`, if it exists and `view` can read it yet.
    pub(crate) fn readable_user(&self, id: &str, view: &ReadView) -> Option<&UserRecord> {
        self.users.get(id).filter(|u| view.sees(u.born))
    }

    /// The group `id`, if it exists and `view` can read it yet.
    pub(crate) fn readable_group(&self, id: &str, view: &ReadView) -> Option<&GroupRecord> {
        self.groups.get(id).filter(|g| view.sees(g.born))
    }

    /// Removes a user and every membership of it.
    pub(crate) fn delete_user(&mut self, id: &str) -> bool {
        let removed = self.users.remove(id);
        if let Some(user) = &removed {
            self.index_user(&user.attrs, id, false);
        }
        let existed = removed.is_some();
        if existed {
            for group in self.groups.values_mut() {
                group.members.remove(id);
            }
        }
        existed
    }

    /// Users matching a filter that `view` can read, in creation order. A group that
    /// cannot be read yet has no members to list.
    pub(crate) fn users_matching(&self, filter: &UserFilter, view: &ReadView) -> Vec<&UserRecord> {
        let attr =
            |u: &UserRecord, k: &str| u.attrs.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut users: Vec<&UserRecord> = match filter {
            UserFilter::Group(gid) => match self.readable_group(gid, view) {
                Some(g) => g
                    .members
                    .iter()
                    .filter_map(|id| self.users.get(id))
                    .collect(),
                None => Vec::new(),
            },
            _ => {
                // The indexed filters look at their candidates only.
                let candidates: Box<dyn Iterator<Item = &UserRecord>> = match filter {
                    UserFilter::UserName(n) => Box::new(
                        self.user_names
                            .ids(&lower(n))
                            .filter_map(|id| self.users.get(id)),
                    ),
                    UserFilter::ExternalId(e) => Box::new(
                        self.user_external_ids
                            .ids(e)
                            .filter_map(|id| self.users.get(id)),
                    ),
                    UserFilter::Id(id) | UserFilter::IdAndManager { id, .. } => {
                        Box::new(self.users.get(id).into_iter())
                    }
                    UserFilter::All | UserFilter::Group(_) => Box::new(self.users.values()),
                };
                candidates
                    .filter(|u| match filter {
                        UserFilter::All | UserFilter::Group(_) => true,
                        UserFilter::UserName(n) => attr(u, "userName")
                            .is_some_and(|v| same_user_name(&v, n, view.case_sensitive_usernames)),
                        UserFilter::ExternalId(e) => attr(u, "externalId").as_deref() == Some(e),
                        UserFilter::Id(id) => &u.id == id,
                        UserFilter::IdAndManager { id, manager } => {
                            &u.id == id && manager_of(&u.attrs) == Some(manager.as_str())
                        }
                    })
                    .collect()
            }
        };
        users.retain(|u| view.sees(u.born));
        users.sort_by_key(|u| u.seq);
        users
    }

    /// Groups matching a filter that `view` can read, in creation order. A user that
    /// cannot be read yet belongs to no group that can be listed.
    pub(crate) fn groups_matching(
        &self,
        filter: &GroupFilter,
        view: &ReadView,
    ) -> Vec<&GroupRecord> {
        let member = |g: &GroupRecord, uid: &str| {
            g.members.contains(uid) && self.readable_user(uid, view).is_some()
        };
        let candidates: Box<dyn Iterator<Item = &GroupRecord>> = match filter {
            GroupFilter::DisplayName(n) => Box::new(
                self.group_names
                    .ids(&lower(n))
                    .filter_map(|id| self.groups.get(id)),
            ),
            GroupFilter::ExternalId(e) => Box::new(
                self.group_external_ids
                    .ids(e)
                    .filter_map(|id| self.groups.get(id)),
            ),
            GroupFilter::Id(id) | GroupFilter::IdAndMember { id, .. } => {
                Box::new(self.groups.get(id).into_iter())
            }
            GroupFilter::All | GroupFilter::Member(_) => Box::new(self.groups.values()),
        };
        let mut groups: Vec<&GroupRecord> = candidates
            .filter(|g| view.sees(g.born))
            .filter(|g| match filter {
                GroupFilter::All => true,
                GroupFilter::DisplayName(n) => same_display_name(&g.display_name, n),
                GroupFilter::ExternalId(e) => g.external_id.as_deref() == Some(e.as_str()),
                GroupFilter::Member(uid) => member(g, uid),
                GroupFilter::Id(id) => &g.id == id,
                GroupFilter::IdAndMember { id, member: uid } => &g.id == id && member(g, uid),
            })
            .collect();
        groups.sort_by_key(|g| g.seq);
        groups
    }

    /// Snapshots of all users, in creation order.
    pub(crate) fn user_snapshots(&self) -> Vec<UserSnapshot> {
        let mut groups: Vec<&GroupRecord> = self.groups.values().collect();
        groups.sort_by_key(|g| g.seq);
        self.users_matching(&UserFilter::All, &ReadView::everything())
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
        self.groups_matching(&GroupFilter::All, &ReadView::everything())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str, email: &str, external_id: &str) -> UserRecord {
        let attrs = json!({
            "userName": name,
            "externalId": external_id,
            "emails": [{"value": email, "primary": true}],
        });
        UserRecord {
            id: id.into(),
            seq: 0,
            attrs: attrs.as_object().cloned().unwrap_or_default(),
            created: OffsetDateTime::UNIX_EPOCH,
            last_modified: OffsetDateTime::UNIX_EPOCH,
            born: Instant::now(),
        }
    }

    fn group(id: &str, name: &str, external_id: &str) -> GroupRecord {
        GroupRecord {
            id: id.into(),
            seq: 0,
            display_name: name.into(),
            external_id: Some(external_id.into()),
            members: BTreeSet::new(),
            created: OffsetDateTime::UNIX_EPOCH,
            last_modified: OffsetDateTime::UNIX_EPOCH,
            born: Instant::now(),
        }
    }

    fn ids(users: Vec<&UserRecord>) -> Vec<&str> {
        users.iter().map(|u| u.id.as_str()).collect()
    }

    #[test]
    fn the_indexes_follow_every_write() {
        let mut store = Store::default();
        let view = ReadView::everything();
        store.insert_user(user("u1", "Ada", "ada@example.com", "00u1"));
        let ada = user("x", "ADA", "other@example.com", "00ux").attrs;
        assert_eq!(store.user_clash(&ada, None, false), Some(Clash::Name));
        assert_eq!(
            store.user_clash(&ada, None, true),
            None,
            "case-sensitive names"
        );
        assert_eq!(store.user_clash(&ada, Some("u1"), false), None, "itself");
        let same_mail = user("x", "b", "ADA@example.com", "00ux").attrs;
        assert_eq!(
            store.user_clash(&same_mail, None, false),
            Some(Clash::Email)
        );

        // A rename frees the old name and email and takes the new ones.
        let renamed = user("u1", "Grace", "grace@example.com", "00u1").attrs;
        assert!(
            store
                .set_user_attrs("u1", renamed, OffsetDateTime::UNIX_EPOCH)
                .is_some()
        );
        assert_eq!(store.user_clash(&ada, None, false), None);
        assert_eq!(store.user_clash(&same_mail, None, false), None);
        let grace = UserFilter::UserName("grace".into());
        assert_eq!(ids(store.users_matching(&grace, &view)), ["u1"]);
        let old = UserFilter::UserName("ada".into());
        assert!(store.users_matching(&old, &view).is_empty());
        let by_external = UserFilter::ExternalId("00u1".into());
        assert_eq!(ids(store.users_matching(&by_external, &view)), ["u1"]);

        // A deleted user's attributes are free again.
        assert!(store.delete_user("u1"));
        assert!(store.users_matching(&grace, &view).is_empty());
        assert_eq!(
            store.user_clash(&user("x", "Grace", "g@e", "00u1").attrs, None, false),
            None
        );

        store.insert_group(group("g1", "Admins", "00g1"));
        assert_eq!(
            store.group_clash(Some("admins"), None, None),
            Some(Clash::Name)
        );
        assert_eq!(
            store.group_clash(None, Some("00g1"), None),
            Some(Clash::ExternalId)
        );
        assert!(store.update_group("g1", |g| g.display_name = "Owners".into()));
        assert_eq!(store.group_clash(Some("Admins"), None, None), None);
        let owners = GroupFilter::DisplayName("OWNERS".into());
        assert_eq!(store.groups_matching(&owners, &view).len(), 1);
        assert!(store.remove_group("g1"));
        assert!(store.groups_matching(&owners, &view).is_empty());
        assert_eq!(store.group_clash(None, Some("00g1"), None), None);
        assert!(!store.update_group("g1", |_| {}));
    }
}
