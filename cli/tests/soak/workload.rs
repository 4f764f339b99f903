//! The soak's inputs, made from a seed: the Okta admin's changes (each with the event
//! Okta sends about it, in Okta's envelope) over users and groups the event path owns,
//! the SCIM pushes Okta's SCIM client makes over users and groups of its own, and, from
//! both, what Identity Center must hold at the end.

use std::collections::{BTreeMap, BTreeSet};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// The documented event (and envelope) every generated event is shaped after.
const EVENT_FIXTURE: &str =
    include_str!("../../../tests/fixtures/okta-events/event-hook-user-deactivate.json");

/// A user as Identity Center should hold it, in the attributes the soak compares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedUser {
    pub user_name: String,
    pub external_id: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: String,
    pub email: String,
    pub active: bool,
}

/// A group as Identity Center should hold it: its name and its members' `userName`s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExpectedGroup {
    pub display_name: String,
    pub members: BTreeSet<String>,
}

/// What Identity Center must hold at the end, by `externalId`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub users: BTreeMap<String, ExpectedUser>,
    pub groups: BTreeMap<String, ExpectedGroup>,
}

// ---- The event path ------------------------------------------------------------------

#[derive(Debug, Clone)]
struct OktaUser {
    login: String,
    first: String,
    last: String,
    email: String,
    active: bool,
}

#[derive(Debug, Clone)]
struct OktaGroup {
    name: String,
    members: BTreeSet<String>,
}

/// One delivery: the events Okta batches into one envelope, and the org as it is once
/// their changes are made (the emulator is loaded with it before the delivery).
pub struct Delivery {
    pub envelope: Value,
    pub uuids: Vec<String>,
    pub org: Value,
}

/// The Okta admin: changes the org one step at a time, and says what Okta tells the hook.
pub struct OktaAdmin {
    rng: StdRng,
    users: BTreeMap<String, OktaUser>,
    groups: BTreeMap<String, OktaGroup>,
    next_user: u64,
    next_group: u64,
    next_name: u64,
    generated: usize,
    total: usize,
    max_batch: usize,
    template: Value,
    /// Events by type, as generated.
    pub by_type: BTreeMap<&'static str, usize>,
}

impl OktaAdmin {
    /// An empty org; `total` events to come, at most `max_batch` to a delivery.
    pub fn new(seed: u64, total: usize, max_batch: usize) -> Self {
        let template: Value = serde_json::from_str(EVENT_FIXTURE).expect("the event fixture");
        Self {
            rng: StdRng::seed_from_u64(seed),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            next_user: 0,
            next_group: 0,
            next_name: 0,
            generated: 0,
            total,
            max_batch: max_batch.max(1),
            template,
            by_type: BTreeMap::new(),
        }
    }

    /// The next delivery, or `None` once `total` events were generated.
    pub fn next_delivery(&mut self) -> Option<Delivery> {
        if self.generated >= self.total {
            return None;
        }
        let size = self
            .rng
            .random_range(1..=self.max_batch)
            .min(self.total - self.generated);
        let mut events = Vec::with_capacity(size);
        let mut uuids = Vec::with_capacity(size);
        for _ in 0..size {
            let (event_type, targets) = self.change();
            *self.by_type.entry(event_type).or_default() += 1;
            let uuid = self.uuid();
            events.push(self.event(event_type, &uuid, targets));
            uuids.push(uuid);
            self.generated += 1;
        }
        let mut envelope = self.template.clone();
        envelope["eventId"] = json!(self.uuid());
        envelope["eventTime"] = json!(now_rfc3339());
        envelope["source"] =
            json!("https://example.okta.com/api/v1/eventHooks/whoSoak0000000000000");
        envelope["data"]["events"] = Value::Array(events);
        Some(Delivery {
            envelope,
            uuids,
            org: self.org(),
        })
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn name(&mut self) -> u64 {
        self.next_name += 1;
        self.next_name
    }

    /// One change to the org, by weight among those possible now: the event type and
    /// its targets (`(type, id, alternateId)`).
    fn change(&mut self) -> (&'static str, Vec<(&'static str, String, String)>) {
        loop {
            let roll = self.rng.random_range(0..100u32);
            let picked = match roll {
                0..12 => self.create_user(),
                12..22 => self.update_user(),
                22..27 => self.deactivate(),
                27..30 => self.reactivate(),
                30..33 => self.create_group(),
                33..36 => self.rename_group(),
                36..37 => self.delete_group(),
                37..82 => self.add_member(),
                _ => self.remove_member(),
            };
            if let Some(change) = picked {
                return change;
            }
        }
    }

    fn pick_user(&mut self, filter: impl Fn(&OktaUser) -> bool) -> Option<String> {
        let ids: Vec<&String> = self
            .users
            .iter()
            .filter(|(_, u)| filter(u))
            .map(|(id, _)| id)
            .collect();
        if ids.is_empty() {
            return None;
        }
        Some(ids[self.rng.random_range(0..ids.len())].clone())
    }

    fn pick_group(&mut self) -> Option<String> {
        if self.groups.is_empty() {
            return None;
        }
        let n = self.rng.random_range(0..self.groups.len());
        self.groups.keys().nth(n).cloned()
    }

    fn user_target(&self, id: &str) -> (&'static str, String, String) {
        ("User", id.to_owned(), self.users[id].login.clone())
    }

    fn group_target(&self, id: &str) -> (&'static str, String, String) {
        ("UserGroup", id.to_owned(), self.groups[id].name.clone())
    }

    #[allow(clippy::type_complexity)]
    fn create_user(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        self.next_user += 1;
        let n = self.next_user;
        let id = format!("00usoak{n:013}");
        let version = self.name();
        self.users.insert(
            id.clone(),
            OktaUser {
                login: format!("soak.user{n}@example.com"),
                first: "Soak".to_owned(),
                last: format!("User{n}"),
                email: format!("soak.user{n}.v{version}@example.com"),
                active: true,
            },
        );
        Some(("user.lifecycle.create", vec![self.user_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn update_user(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let id = self.pick_user(|_| true)?;
        let version = self.name();
        let user = self.users.get_mut(&id)?;
        let n = id.trim_start_matches("00usoak").trim_start_matches('0');
        user.first = format!("Given{version}");
        user.last = format!("Family{n}");
        user.email = format!("soak.user{n}.v{version}@example.com");
        Some(("user.account.update_profile", vec![self.user_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn deactivate(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let id = self.pick_user(|u| u.active)?;
        self.users.get_mut(&id)?.active = false;
        Some(("user.lifecycle.deactivate", vec![self.user_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn reactivate(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let id = self.pick_user(|u| !u.active)?;
        self.users.get_mut(&id)?.active = true;
        Some(("user.lifecycle.reactivate", vec![self.user_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn create_group(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        self.next_group += 1;
        let id = format!("00gsoak{:013}", self.next_group);
        let name = format!("soak-group-{}", self.name());
        self.groups.insert(
            id.clone(),
            OktaGroup {
                name,
                members: BTreeSet::new(),
            },
        );
        Some(("group.lifecycle.create", vec![self.group_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn rename_group(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let id = self.pick_group()?;
        let name = format!("soak-group-{}", self.name());
        self.groups.get_mut(&id)?.name = name;
        Some(("group.profile.update", vec![self.group_target(&id)]))
    }

    #[allow(clippy::type_complexity)]
    fn delete_group(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        if self.groups.len() < 5 {
            return None;
        }
        let id = self.pick_group()?;
        let target = self.group_target(&id);
        self.groups.remove(&id);
        Some(("group.lifecycle.delete", vec![target]))
    }

    #[allow(clippy::type_complexity)]
    fn add_member(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let group = self.pick_group()?;
        let members = self.groups[&group].members.clone();
        let user = self.pick_user(|_| true).filter(|u| !members.contains(u))?;
        self.groups.get_mut(&group)?.members.insert(user.clone());
        Some((
            "group.user_membership.add",
            vec![self.user_target(&user), self.group_target(&group)],
        ))
    }

    #[allow(clippy::type_complexity)]
    fn remove_member(&mut self) -> Option<(&'static str, Vec<(&'static str, String, String)>)> {
        let group = self.pick_group()?;
        let members: Vec<String> = self.groups[&group].members.iter().cloned().collect();
        if members.is_empty() {
            return None;
        }
        let user = members[self.rng.random_range(0..members.len())].clone();
        self.groups.get_mut(&group)?.members.remove(&user);
        Some((
            "group.user_membership.remove",
            vec![self.user_target(&user), self.group_target(&group)],
        ))
    }

    fn event(
        &self,
        event_type: &str,
        uuid: &str,
        targets: Vec<(&'static str, String, String)>,
    ) -> Value {
        let mut event = self.template["data"]["events"][0].clone();
        event["eventType"] = json!(event_type);
        event["uuid"] = json!(uuid);
        event["published"] = json!(now_rfc3339());
        event["displayMessage"] = json!(event_type);
        event["actor"] = json!({"id": "00usoakadmin00000000", "type": "User",
            "alternateId": "soak.admin@example.com", "displayName": "Soak Admin",
            "detailEntry": null});
        event["target"] = Value::Array(
            targets
                .into_iter()
                .map(|(kind, id, alternate)| {
                    json!({"id": id, "type": kind, "alternateId": alternate,
                           "displayName": alternate, "detailEntry": null})
                })
                .collect(),
        );
        event
    }

    /// The org as an Okta emulator seed document.
    fn org(&self) -> Value {
        let users: Vec<Value> = self
            .users
            .iter()
            .map(|(id, u)| {
                json!({"id": id, "status": if u.active { "ACTIVE" } else { "DEPROVISIONED" },
                    "profile": {"login": u.login, "email": u.email, "firstName": u.first,
                                "lastName": u.last}})
            })
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|(id, g)| json!({"id": id, "type": "OKTA_GROUP", "profile": {"name": g.name}}))
            .collect();
        let memberships: BTreeMap<&String, Vec<&String>> = self
            .groups
            .iter()
            .map(|(id, g)| (id, g.members.iter().collect()))
            .collect();
        json!({"users": users, "groups": groups, "memberships": memberships})
    }

    /// What the event path must leave in Identity Center: every user and group as Okta
    /// holds it now (each was the subject of an event after its last change), groups
    /// deleted in Okta gone (the soak's rules delete them).
    pub fn expected(&self) -> Expected {
        let users = self
            .users
            .iter()
            .map(|(id, u)| {
                (
                    id.clone(),
                    ExpectedUser {
                        user_name: u.login.clone(),
                        external_id: id.clone(),
                        given_name: u.first.clone(),
                        family_name: u.last.clone(),
                        display_name: format!("{} {}", u.first, u.last),
                        email: u.email.clone(),
                        active: u.active,
                    },
                )
            })
            .collect();
        let groups = self
            .groups
            .iter()
            .map(|(id, g)| {
                (
                    id.clone(),
                    ExpectedGroup {
                        display_name: g.name.clone(),
                        members: g
                            .members
                            .iter()
                            .map(|u| self.users[u].login.clone())
                            .collect(),
                    },
                )
            })
            .collect();
        Expected { users, groups }
    }
}

// ---- The SCIM path -------------------------------------------------------------------

/// One SCIM operation of Okta's client, over one lane's own users and groups.
#[derive(Debug, Clone)]
pub enum ScimOp {
    /// Look the user up by `userName`, then `POST /Users`.
    CreateUser { key: String },
    /// `GET /Users/{id}`, then a `PUT` of the whole user with new names and email.
    UpdateUser { key: String, version: u64 },
    /// The path-less `PATCH` of `active`.
    SetActive { key: String, active: bool },
    /// `POST /Groups` with no members.
    CreateGroup { key: String },
    /// The path-less rename `PATCH` with the group's `id` in the value.
    RenameGroup { key: String, version: u64 },
    /// Okta's unchanged rename and an `add` of one member.
    AddMember { group: String, user: String },
    /// Okta's unchanged rename and a `remove` of `members[value eq …]`.
    RemoveMember { group: String, user: String },
    /// `DELETE /Groups/{id}`.
    DeleteGroup { key: String },
}

/// One lane of Okta's SCIM client: its own users and groups, changed one at a time.
pub struct ScimLane {
    rng: StdRng,
    lane: usize,
    /// Users by key, as Identity Center should hold them after the accepted calls.
    pub users: BTreeMap<String, ExpectedUser>,
    /// Groups by key.
    pub groups: BTreeMap<String, ExpectedGroup>,
    /// Each group's members, by user key.
    members: BTreeMap<String, BTreeSet<String>>,
    next: u64,
}

impl ScimLane {
    pub fn new(seed: u64, lane: usize) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed ^ (0x5c1a << 16) ^ lane as u64),
            lane,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            members: BTreeMap::new(),
            next: 0,
        }
    }

    fn counter(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// The user a new key names, as Okta pushes it.
    pub fn new_user(&self, key: &str) -> ExpectedUser {
        let name = format!("scim.{key}@example.com");
        ExpectedUser {
            user_name: name.clone(),
            external_id: format!("00uscim{key}"),
            given_name: "Scim".to_owned(),
            family_name: format!("User{key}"),
            display_name: format!("Scim User{key}"),
            email: name,
            active: true,
        }
    }

    /// The next operation, by weight among those possible now.
    pub fn next_op(&mut self) -> ScimOp {
        loop {
            let roll = self.rng.random_range(0..100u32);
            let user = |lane: &mut Self, f: &dyn Fn(&ExpectedUser) -> bool| {
                let keys: Vec<String> = lane
                    .users
                    .iter()
                    .filter(|(_, u)| f(u))
                    .map(|(k, _)| k.clone())
                    .collect();
                (!keys.is_empty()).then(|| keys[lane.rng.random_range(0..keys.len())].clone())
            };
            let group = |lane: &mut Self| {
                (!lane.groups.is_empty()).then(|| {
                    let n = lane.rng.random_range(0..lane.groups.len());
                    lane.groups.keys().nth(n).cloned().unwrap_or_default()
                })
            };
            let lane = self.lane;
            let op = match roll {
                0..20 => Some(ScimOp::CreateUser {
                    key: format!("l{lane}u{}", self.counter()),
                }),
                20..32 => user(self, &|_| true).map(|key| ScimOp::UpdateUser { key, version: 0 }),
                32..40 => {
                    user(self, &|u| u.active).map(|key| ScimOp::SetActive { key, active: false })
                }
                40..44 => {
                    user(self, &|u| !u.active).map(|key| ScimOp::SetActive { key, active: true })
                }
                44..50 => Some(ScimOp::CreateGroup {
                    key: format!("l{lane}g{}", self.counter()),
                }),
                50..56 => group(self).map(|key| ScimOp::RenameGroup { key, version: 0 }),
                56..58 if self.groups.len() >= 3 => {
                    group(self).map(|key| ScimOp::DeleteGroup { key })
                }
                58..85 => match (group(self), user(self, &|_| true)) {
                    (Some(group), Some(user))
                        if !self.members.get(&group).is_some_and(|m| m.contains(&user)) =>
                    {
                        Some(ScimOp::AddMember { group, user })
                    }
                    _ => None,
                },
                85..100 => group(self).and_then(|group| {
                    let members: Vec<String> = self
                        .members
                        .get(&group)
                        .into_iter()
                        .flatten()
                        .cloned()
                        .collect();
                    (!members.is_empty()).then(|| {
                        let user = members[self.rng.random_range(0..members.len())].clone();
                        ScimOp::RemoveMember { group, user }
                    })
                }),
                _ => None,
            };
            if let Some(op) = op {
                return match op {
                    ScimOp::UpdateUser { key, .. } => ScimOp::UpdateUser {
                        key,
                        version: self.counter(),
                    },
                    ScimOp::RenameGroup { key, .. } => ScimOp::RenameGroup {
                        key,
                        version: self.counter(),
                    },
                    other => other,
                };
            }
        }
    }

    /// The name a group gets on create or rename.
    pub fn group_name(&self, key: &str, version: u64) -> String {
        format!("scim-group-{key}-v{version}")
    }

    /// Records an accepted operation in what Identity Center should hold.
    pub fn accepted(&mut self, op: &ScimOp) {
        match op {
            ScimOp::CreateUser { key } => {
                let user = self.new_user(key);
                self.users.insert(key.clone(), user);
            }
            ScimOp::UpdateUser { key, version } => {
                if let Some(user) = self.users.get_mut(key) {
                    user.given_name = format!("Given{version}");
                    user.display_name = format!("Given{version} {}", user.family_name);
                    user.email = format!("scim.{key}.v{version}@example.com");
                }
            }
            ScimOp::SetActive { key, active } => {
                if let Some(user) = self.users.get_mut(key) {
                    user.active = *active;
                }
            }
            ScimOp::CreateGroup { key } => {
                let display_name = self.group_name(key, 0);
                self.groups.insert(
                    key.clone(),
                    ExpectedGroup {
                        display_name,
                        members: BTreeSet::new(),
                    },
                );
            }
            ScimOp::RenameGroup { key, version } => {
                let name = self.group_name(key, *version);
                if let Some(group) = self.groups.get_mut(key) {
                    group.display_name = name;
                }
            }
            ScimOp::AddMember { group, user } => {
                let name = self.users[user].user_name.clone();
                self.members
                    .entry(group.clone())
                    .or_default()
                    .insert(user.clone());
                if let Some(group) = self.groups.get_mut(group) {
                    group.members.insert(name);
                }
            }
            ScimOp::RemoveMember { group, user } => {
                let name = self.users[user].user_name.clone();
                if let Some(members) = self.members.get_mut(group) {
                    members.remove(user);
                }
                if let Some(group) = self.groups.get_mut(group) {
                    group.members.remove(&name);
                }
            }
            ScimOp::DeleteGroup { key } => {
                self.groups.remove(key);
                self.members.remove(key);
            }
        }
    }

    /// What this lane must leave in Identity Center, by `externalId` (a group pushed
    /// over SCIM has none: it is keyed by its name).
    pub fn expected(&self, into: &mut Expected) {
        for user in self.users.values() {
            into.users.insert(user.external_id.clone(), user.clone());
        }
        for group in self.groups.values() {
            into.groups
                .insert(format!("name:{}", group.display_name), group.clone());
        }
    }
}

/// Now, as Okta writes times: RFC 3339 with milliseconds in UTC.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format).unwrap_or_default()
}
