//! The plan: what would make Identity Center match Okta, computed from a complete read
//! of both sides under the active rules, like `terraform plan` (`docs/reconcile.md`).
//!
//! The safety rules are part of the computation, not of its callers:
//! - a user or group the gateway does not manage (no Okta-shaped `externalId`: made in
//!   the console, by Control Tower, by another tool) is never changed; it is listed as
//!   left alone. A user or group without an `externalId` whose name matches one Okta has
//!   is adopted (its `externalId` set), except Identity Center's and Control Tower's own
//!   (`AWS…` names);
//! - a user leaving the scope, or deleted in Okta, is deactivated; it is deleted only
//!   when the rules' `scope.delete` names users and it has been inactive in Identity
//!   Center for `scope.delete_after_days` (default 7) days;
//! - any failed, throttled or truncated read, or a side that is implausibly empty, keeps
//!   every deactivation, deletion and member removal out of the plan, and says why;
//! - a plan whose deactivations, deletions and member removals exceed the threshold
//!   (10% of the managed objects, once that is more than 5) is refused unless the admin
//!   overrides it.

use std::collections::{BTreeMap, HashMap, HashSet};

use rules::Scope;
use scim_core::{Group, Resource, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::audit::AttributeChange;
use crate::events::profile::{group_in_scope, scim_group, scim_user};
use crate::ports::okta::{OktaGroup, OktaUser};
use crate::rules::ActiveRuleSet;
use crate::service::ResourceKind;
use crate::service::converge::differing_attributes;
use crate::translate::group::outbound_group;
use crate::translate::user::outbound_user;

/// The default share of managed objects a plan may deactivate, delete or remove from
/// groups without an override.
pub const DEFAULT_THRESHOLD_PERCENT: u32 = 10;

/// Below this many destructive changes the threshold does not apply.
pub const THRESHOLD_FLOOR: usize = 5;

/// How a problem reading Identity Center's users starts ([`IcSide::problems`]).
pub const LISTING_USERS: &str = "listing users";

/// How a problem reading Identity Center's groups starts.
pub const LISTING_GROUPS: &str = "listing groups";

/// The default grace before a user gone from Okta is deleted (when the rules allow it).
pub const DEFAULT_DELETE_AFTER_DAYS: u32 = 7;

/// What a change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create the user or group.
    Create,
    /// Change attributes (or adopt: set `externalId`).
    Update,
    /// `active=false`.
    Deactivate,
    /// `active=true`.
    Reactivate,
    /// Delete.
    Delete,
    /// Add a member to a group.
    AddMember,
    /// Remove a member from a group.
    RemoveMember,
}

impl Action {
    /// Whether the change takes access away (what the safety rules hold back).
    pub fn is_destructive(self) -> bool {
        matches!(self, Self::Deactivate | Self::Delete | Self::RemoveMember)
    }

    /// The word the plan and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Deactivate => "deactivate",
            Self::Reactivate => "reactivate",
            Self::Delete => "delete",
            Self::AddMember => "add_member",
            Self::RemoveMember => "remove_member",
        }
    }
}

/// The member of a membership change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    /// The user's Okta id.
    pub okta_id: String,
    /// The user's Identity Center id, when it exists already.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ic_id: Option<String>,
    /// The user's `userName` in Identity Center.
    pub name: String,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// What it does.
    pub action: Action,
    /// `User` or `Group`.
    pub resource_type: ResourceKind,
    /// The Okta id, where Okta has the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta_id: Option<String>,
    /// The Identity Center id, where Identity Center has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ic_id: Option<String>,
    /// The `userName` or `displayName` (Identity Center's).
    pub name: String,
    /// The attributes that differ, before (Identity Center) and after (Okta, under the
    /// rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeChange>,
    /// For membership changes, the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberRef>,
    /// Why.
    pub reason: String,
    /// Okta's resource as SCIM, before the rules (what applying creates or updates
    /// from; for a membership, the group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Value>,
    /// For a membership change, the member as SCIM from Okta, before the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_member: Option<Value>,
}

/// A resource the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftAlone {
    /// `User` or `Group`.
    pub resource_type: ResourceKind,
    /// Identity Center's id.
    pub ic_id: String,
    /// Its name.
    pub name: String,
    /// Why.
    pub why: String,
}

/// Why a plan is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Deactivations, deletions and member removals planned.
    pub destructive: usize,
    /// The managed users and groups.
    pub managed: usize,
    /// The most allowed without an override.
    pub allowed: usize,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// When it was computed.
    #[serde(with = "time::serde::rfc3339")]
    pub planned_at: OffsetDateTime,
    /// The rule set it was computed under.
    pub rule_set_version: String,
    /// The changes, in the order they apply: groups and users made or changed first,
    /// then memberships added, then what takes access away.
    pub changes: Vec<Change>,
    /// Resources the plan does not touch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_alone: Vec<LeftAlone>,
    /// Why deactivations, deletions and member removals were held back (a read that
    /// failed or looks wrong); empty when none were.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Resources Okta has in scope that the rules refuse to provision, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Set when the plan takes away more than the threshold allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// How many changes of each kind.
    pub counts: BTreeMap<String, usize>,
}

impl Plan {
    /// Whether there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// What was read of Okta. Problems mark what could not be read (or looks wrong).
#[derive(Debug, Clone, Default)]
pub struct OktaSide {
    /// Every user the listing gave (Okta leaves deactivated users out of it).
    pub users: Vec<OktaUser>,
    /// Users read one by one (those Identity Center has and the listing lacked):
    /// `None` when Okta no longer has them.
    pub looked_up: HashMap<String, Option<OktaUser>>,
    /// Every group.
    pub groups: Vec<OktaGroup>,
    /// Members of the groups in scope, by group id.
    pub members: HashMap<String, Vec<String>>,
    /// Users assigned to the scope's app, when it names one.
    pub app_users: Option<HashSet<String>>,
    /// What could not be read.
    pub problems: Vec<String>,
}

/// What was read of Identity Center.
#[derive(Debug, Clone, Default)]
pub struct IcSide {
    /// Every user.
    pub users: Vec<User>,
    /// Every group.
    pub groups: Vec<Group>,
    /// Members of the managed groups, by Identity Center group id.
    pub members: HashMap<String, Vec<String>>,
    /// What could not be read.
    pub problems: Vec<String>,
}

/// The admin's say over the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Safety {
    /// The share of managed objects a plan may take away from.
    pub threshold_percent: u32,
    /// Apply whatever the threshold says.
    pub allow_mass_changes: bool,
}

impl Default for Safety {
    fn default() -> Self {
        Self {
            threshold_percent: DEFAULT_THRESHOLD_PERCENT,
            allow_mass_changes: false,
        }
    }
}

/// Whether an `externalId` is an Okta user id (`00u` and 17 letters or digits).
pub fn is_okta_user_id(id: &str) -> bool {
    okta_shaped(id, "00u")
}

/// Whether an `externalId` is an Okta group id (`00g…`).
pub fn is_okta_group_id(id: &str) -> bool {
    okta_shaped(id, "00g")
}

fn okta_shaped(id: &str, prefix: &str) -> bool {
    id.len() == 20 && id.starts_with(prefix) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Identity Center's and Control Tower's own groups (`AWSControlTowerAdmins`, …).
fn is_aws_own(name: &str) -> bool {
    name.starts_with("AWS")
}

/// Computes the plan.
pub fn plan(
    okta: &OktaSide,
    ic: &IcSide,
    rules: &ActiveRuleSet,
    safety: Safety,
    now: OffsetDateTime,
) -> Plan {
    let scope = rules.rules().scope().cloned().unwrap_or_default();
    let mut planner = Planner {
        rules,
        scope: &scope,
        now,
        changes: Vec::new(),
        left_alone: Vec::new(),
        notes: Vec::new(),
        withheld: okta
            .problems
            .iter()
            .map(|p| format!("Okta: {p}"))
            .chain(ic.problems.iter().map(|p| format!("Identity Center: {p}")))
            .collect(),
    };
    let okta_reads_failed = !okta.problems.is_empty();

    // Okta's groups in scope, and the users in scope.
    let groups_in_scope: Vec<&OktaGroup> = okta
        .groups
        .iter()
        .filter(|g| group_in_scope(g, &scope))
        .collect();
    let in_scope_group_ids: HashSet<&str> = groups_in_scope.iter().map(|g| g.id.as_str()).collect();
    let mut user_groups: HashMap<&str, Vec<&str>> = HashMap::new();
    for (gid, members) in &okta.members {
        if in_scope_group_ids.contains(gid.as_str()) {
            for uid in members {
                user_groups
                    .entry(uid.as_str())
                    .or_default()
                    .push(gid.as_str());
            }
        }
    }
    let user_in_scope = |u: &OktaUser| {
        okta.app_users.as_ref().is_none_or(|a| a.contains(&u.id))
            && (scope.groups.is_empty() || user_groups.contains_key(u.id.as_str()))
    };
    let okta_users: HashMap<&str, &OktaUser> =
        okta.users.iter().map(|u| (u.id.as_str(), u)).collect();

    // A side that is implausibly empty: nothing in scope on one side while the other
    // side holds managed users.
    let managed_ic_users = ic
        .users
        .iter()
        .filter(|u| u.external_id().is_some_and(is_okta_user_id))
        .count();
    if !okta_reads_failed && okta.users.is_empty() && managed_ic_users > 0 {
        planner.withheld.push(format!(
            "Okta listed no users at all while Identity Center holds {managed_ic_users} managed \
             users: taken for a bad read, not for everyone leaving"
        ));
    }

    // Users.
    let mut ic_user_by_okta: HashMap<String, &User> = HashMap::new();
    let mut ic_user_by_name: HashMap<String, &User> = HashMap::new();
    for user in &ic.users {
        match user.external_id() {
            Some(ext) if is_okta_user_id(ext) => {
                ic_user_by_okta.insert(ext.to_owned(), user);
            }
            Some(_) => planner.leave(
                ResourceKind::User,
                user.id(),
                &user.user_name,
                "its externalId is not an Okta id: another identity source's",
            ),
            None => {
                ic_user_by_name.insert(user.user_name.to_lowercase(), user);
            }
        }
    }
    // What each Okta user should be in Identity Center, and its Identity Center id.
    let mut desired_users: HashMap<&str, (Value, String)> = HashMap::new();
    let mut ic_id_of: HashMap<&str, String> = HashMap::new();
    let mut adopted: HashSet<String> = HashSet::new();
    for okta_user in &okta.users {
        if !user_in_scope(okta_user)
            || okta_user.status == crate::ports::okta::OktaUserStatus::Staged
        {
            continue;
        }
        let Some((okta_scim, desired)) = planner.desired_user(okta_user) else {
            continue;
        };
        let existing = ic_user_by_okta.get(&okta_user.id).copied().or_else(|| {
            ic_user_by_name
                .get(&desired.user_name.to_lowercase())
                .copied()
                .inspect(|u| {
                    adopted.insert(u.id().unwrap_or_default().to_owned());
                })
        });
        desired_users.insert(
            okta_user.id.as_str(),
            (okta_scim.to_value(), desired.user_name.clone()),
        );
        match existing {
            None if desired.active == Some(false) => {}
            None => planner.push(Change {
                action: Action::Create,
                resource_type: ResourceKind::User,
                okta_id: Some(okta_user.id.clone()),
                ic_id: None,
                name: desired.user_name.clone(),
                attributes: crate::audit::attribute_changes(None, Some(&desired.to_value())),
                member: None,
                reason: "in Okta's scope, not in Identity Center".into(),
                desired: Some(okta_scim.to_value()),
                desired_member: None,
            }),
            Some(current) => {
                let ic_id = current.id().unwrap_or_default().to_owned();
                ic_id_of.insert(okta_user.id.as_str(), ic_id.clone());
                planner.user_update(okta_user, &okta_scim, &desired, current);
            }
        }
    }
    for user in &ic.users {
        if let Some(ic_id) = user.id()
            && adopted.contains(ic_id)
        {
            continue;
        }
        if user.external_id().is_none() {
            planner.leave(
                ResourceKind::User,
                user.id(),
                &user.user_name,
                "no externalId: not made by Okta or the gateway",
            );
        }
    }
    // Managed users Okta no longer has in scope.
    for (okta_id, user) in &ic_user_by_okta {
        if desired_users.contains_key(okta_id.as_str()) {
            continue;
        }
        let listed = okta_users.get(okta_id.as_str()).copied();
        let looked_up = okta.looked_up.get(okta_id).cloned().flatten();
        let known = listed.cloned().or(looked_up);
        let why = match &known {
            None if okta.looked_up.contains_key(okta_id) => "deleted in Okta",
            None => "not in Okta's listing",
            Some(u) if !u.status.is_active() => "deactivated in Okta",
            Some(_) => "out of the rules' scope",
        };
        let deleted = why == "deleted in Okta";
        planner.user_gone(okta_id, user, why, deleted);
    }

    // Groups.
    let mut ic_group_by_okta: HashMap<String, &Group> = HashMap::new();
    let mut ic_group_by_name: HashMap<String, &Group> = HashMap::new();
    for group in &ic.groups {
        match group.external_id() {
            Some(ext) if is_okta_group_id(ext) => {
                ic_group_by_okta.insert(ext.to_owned(), group);
            }
            Some(_) => planner.leave(
                ResourceKind::Group,
                group.id(),
                &group.display_name,
                "its externalId is not an Okta id: another identity source's",
            ),
            None => {
                ic_group_by_name.insert(group.display_name.to_lowercase(), group);
            }
        }
    }
    let mut adopted_groups = HashSet::new();
    let mut group_pairs: Vec<(&OktaGroup, Option<&Group>, Group)> = Vec::new();
    for okta_group in &groups_in_scope {
        let Some((okta_scim, desired)) = planner.desired_group(okta_group) else {
            continue;
        };
        let existing = ic_group_by_okta.get(&okta_group.id).copied().or_else(|| {
            ic_group_by_name
                .get(&desired.display_name.to_lowercase())
                .copied()
                .filter(|g| !is_aws_own(&g.display_name))
                .inspect(|g| {
                    adopted_groups.insert(g.id().unwrap_or_default().to_owned());
                })
        });
        match existing {
            None => planner.push(Change {
                action: Action::Create,
                resource_type: ResourceKind::Group,
                okta_id: Some(okta_group.id.clone()),
                ic_id: None,
                name: desired.display_name.clone(),
                attributes: crate::audit::attribute_changes(None, Some(&desired.to_value())),
                member: None,
                reason: "in Okta's scope, not in Identity Center".into(),
                desired: Some(okta_scim.to_value()),
                desired_member: None,
            }),
            Some(current) => planner.group_update(okta_group, &okta_scim, &desired, current),
        }
        group_pairs.push((okta_group, existing, okta_scim));
    }
    for group in &ic.groups {
        if group.external_id().is_none()
            && !group.id().is_some_and(|id| adopted_groups.contains(id))
        {
            let why = if is_aws_own(&group.display_name) {
                "Identity Center's or Control Tower's own group"
            } else {
                "no externalId: not made by Okta or the gateway"
            };
            planner.leave(ResourceKind::Group, group.id(), &group.display_name, why);
        }
    }
    for (okta_id, group) in &ic_group_by_okta {
        if in_scope_group_ids.contains(okta_id.as_str()) {
            continue;
        }
        let in_okta = okta.groups.iter().any(|g| &g.id == okta_id);
        let why = if in_okta {
            "out of the rules' scope"
        } else {
            "deleted in Okta"
        };
        if !in_okta && scope.deletes_groups() {
            planner.push(Change {
                action: Action::Delete,
                resource_type: ResourceKind::Group,
                okta_id: Some(okta_id.clone()),
                ic_id: group.id().map(str::to_owned),
                name: group.display_name.clone(),
                attributes: Vec::new(),
                member: None,
                reason: format!("{why}; the rules' scope.delete names groups"),
                desired: None,
                desired_member: None,
            });
        } else {
            planner.leave(
                ResourceKind::Group,
                group.id(),
                &group.display_name,
                &format!("{why}; kept, as the rules' scope.delete does not name groups"),
            );
        }
    }

    // Memberships of the managed groups Okta has in scope.
    let ic_users_by_id: HashMap<&str, &User> = ic
        .users
        .iter()
        .filter_map(|u| u.id().map(|id| (id, u)))
        .collect();
    for (okta_group, existing, okta_scim) in &group_pairs {
        let Some(okta_members) = okta.members.get(&okta_group.id) else {
            continue;
        };
        let wanted: Vec<&str> = okta_members
            .iter()
            .map(String::as_str)
            .filter(|uid| desired_users.contains_key(uid))
            .collect();
        let current: HashSet<&str> = existing
            .and_then(|g| g.id())
            .and_then(|gid| ic.members.get(gid))
            .map(|m| m.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let ic_group_id = existing.and_then(|g| g.id()).map(str::to_owned);
        let group_name = existing.map_or_else(
            || {
                planner
                    .rules
                    .apply_group(okta_scim.clone())
                    .map(|g| g.display_name)
                    .unwrap_or_default()
            },
            |g| g.display_name.clone(),
        );
        let mut wanted_ic = HashSet::new();
        for uid in &wanted {
            let ic_id = ic_id_of.get(uid).cloned();
            if let Some(id) = &ic_id {
                wanted_ic.insert(id.clone());
                if current.contains(id.as_str()) {
                    continue;
                }
            }
            let (member_scim, name) = &desired_users[uid];
            planner.push(Change {
                action: Action::AddMember,
                resource_type: ResourceKind::Group,
                okta_id: Some(okta_group.id.clone()),
                ic_id: ic_group_id.clone(),
                name: group_name.clone(),
                attributes: Vec::new(),
                member: Some(MemberRef {
                    okta_id: (*uid).to_owned(),
                    ic_id,
                    name: name.clone(),
                }),
                reason: "a member in Okta".into(),
                desired: Some(okta_scim.to_value()),
                desired_member: Some(member_scim.clone()),
            });
        }
        for member in &current {
            if wanted_ic.contains(*member) {
                continue;
            }
            let Some(user) = ic_users_by_id.get(member) else {
                continue;
            };
            // Only members the gateway manages: a member added by hand to a managed
            // group (a break-glass user) is left to whoever added it.
            let Some(okta_id) = user.external_id().filter(|e| is_okta_user_id(e)) else {
                continue;
            };
            planner.push(Change {
                action: Action::RemoveMember,
                resource_type: ResourceKind::Group,
                okta_id: Some(okta_group.id.clone()),
                ic_id: ic_group_id.clone(),
                name: group_name.clone(),
                attributes: Vec::new(),
                member: Some(MemberRef {
                    okta_id: okta_id.to_owned(),
                    ic_id: Some((*member).to_owned()),
                    name: user.user_name.clone(),
                }),
                reason: "not a member in Okta (or out of scope)".into(),
                desired: Some(okta_scim.to_value()),
                desired_member: desired_users.get(okta_id).map(|(v, _)| v.clone()),
            });
        }
    }

    // Without Identity Center's listing every Okta user or group would look missing:
    // nothing of that kind is planned at all, creations included.
    let unread = |prefix: &str| ic.problems.iter().any(|p| p.starts_with(prefix));
    let (users_unread, groups_unread) = (unread(LISTING_USERS), unread(LISTING_GROUPS));
    if users_unread || groups_unread {
        planner.changes.retain(|c| {
            let membership = matches!(c.action, Action::AddMember | Action::RemoveMember);
            match c.resource_type {
                ResourceKind::User => !users_unread,
                ResourceKind::Group => !(groups_unread || membership && users_unread),
            }
        });
    }

    planner.finish(
        rules.version.clone(),
        ic_user_by_okta.len() + ic_group_by_okta.len(),
        safety,
    )
}

struct Planner<'a> {
    rules: &'a ActiveRuleSet,
    scope: &'a Scope,
    now: OffsetDateTime,
    changes: Vec<Change>,
    left_alone: Vec<LeftAlone>,
    withheld: Vec<String>,
    notes: Vec<String>,
}

impl Planner<'_> {
    fn push(&mut self, change: Change) {
        self.changes.push(change);
    }

    fn leave(&mut self, kind: ResourceKind, id: Option<&str>, name: &str, why: &str) {
        self.left_alone.push(LeftAlone {
            resource_type: kind,
            ic_id: id.unwrap_or_default().to_owned(),
            name: name.to_owned(),
            why: why.to_owned(),
        });
    }

    /// Okta's user as SCIM, and as Identity Center should hold it (the rules applied);
    /// `None` (and a note) when the rules refuse it.
    fn desired_user(&mut self, okta: &OktaUser) -> Option<(User, User)> {
        let scim = scim_user(okta).ok()?;
        match self.rules.apply_user(scim.clone()).and_then(outbound_user) {
            Ok(desired) => Some((scim, desired)),
            Err(error) => {
                self.withheld_note(format!(
                    "user {} is not provisioned: {}",
                    okta.id, error.detail
                ));
                None
            }
        }
    }

    fn desired_group(&mut self, okta: &OktaGroup) -> Option<(Group, Group)> {
        let scim = scim_group(okta).ok()?;
        match self
            .rules
            .apply_group(scim.clone())
            .and_then(outbound_group)
        {
            Ok(desired) => Some((scim, desired.group)),
            Err(error) => {
                self.withheld_note(format!(
                    "group {} is not provisioned: {}",
                    okta.id, error.detail
                ));
                None
            }
        }
    }

    /// A note that is not a read problem (it holds nothing back).
    fn withheld_note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn user_update(&mut self, okta: &OktaUser, okta_scim: &User, desired: &User, current: &User) {
        let current_value = current.to_value();
        let mut desired_value = desired.to_value();
        let adopt = current.external_id().is_none();
        let active_now = current.active.unwrap_or(true);
        let active_wanted = desired.active.unwrap_or(true);
        // `active` is its own change; the other attributes an update.
        if let Some(object) = desired_value.as_object_mut() {
            object.insert("active".into(), Value::Bool(active_now));
        }
        let attribute_ops = differing_attributes(&current_value, &desired_value);
        let ic_id = current.id().map(str::to_owned);
        if !attribute_ops.is_empty() || adopt {
            let mut attributes = attribute_diffs(&current_value, &attribute_ops);
            if adopt && attributes.iter().all(|a| a.attribute != "externalId") {
                attributes.push(AttributeChange {
                    attribute: "externalId".into(),
                    before: None,
                    after: Some(Value::String(okta.id.clone())),
                });
            }
            self.push(Change {
                action: Action::Update,
                resource_type: ResourceKind::User,
                okta_id: Some(okta.id.clone()),
                ic_id: ic_id.clone(),
                name: current.user_name.clone(),
                attributes,
                member: None,
                reason: if adopt {
                    "the same userName without an externalId: adopted".into()
                } else {
                    "attributes differ from Okta's".into()
                },
                desired: Some(okta_scim.to_value()),
                desired_member: None,
            });
        }
        if active_now != active_wanted {
            let (action, reason) = if active_wanted {
                (Action::Reactivate, "active in Okta")
            } else {
                (Action::Deactivate, "suspended or deactivated in Okta")
            };
            self.push(Change {
                action,
                resource_type: ResourceKind::User,
                okta_id: Some(okta.id.clone()),
                ic_id,
                name: current.user_name.clone(),
                attributes: vec![AttributeChange {
                    attribute: "active".into(),
                    before: Some(Value::Bool(active_now)),
                    after: Some(Value::Bool(active_wanted)),
                }],
                member: None,
                reason: reason.into(),
                desired: Some(okta_scim.to_value()),
                desired_member: None,
            });
        }
    }

    fn user_gone(&mut self, okta_id: &str, user: &User, why: &str, deleted: bool) {
        let active = user.active.unwrap_or(true);
        let ic_id = user.id().map(str::to_owned);
        if active {
            self.push(Change {
                action: Action::Deactivate,
                resource_type: ResourceKind::User,
                okta_id: Some(okta_id.to_owned()),
                ic_id,
                name: user.user_name.clone(),
                attributes: vec![AttributeChange {
                    attribute: "active".into(),
                    before: Some(Value::Bool(true)),
                    after: Some(Value::Bool(false)),
                }],
                member: None,
                reason: why.to_owned(),
                desired: None,
                desired_member: None,
            });
            return;
        }
        if !deleted || !self.scope.deletes_users() {
            return;
        }
        let grace = time::Duration::days(i64::from(
            self.scope
                .delete_after_days
                .unwrap_or(DEFAULT_DELETE_AFTER_DAYS),
        ));
        let since = user
            .meta
            .as_ref()
            .and_then(|m| m.last_modified.as_deref())
            .and_then(|t| {
                OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            });
        if since.is_some_and(|since| self.now - since >= grace) {
            self.push(Change {
                action: Action::Delete,
                resource_type: ResourceKind::User,
                okta_id: Some(okta_id.to_owned()),
                ic_id,
                name: user.user_name.clone(),
                attributes: Vec::new(),
                member: None,
                reason: format!(
                    "{why}, and inactive in Identity Center for {} days or more; the rules' \
                     scope.delete names users",
                    grace.whole_days()
                ),
                desired: None,
                desired_member: None,
            });
        }
    }

    fn group_update(
        &mut self,
        okta: &OktaGroup,
        okta_scim: &Group,
        desired: &Group,
        current: &Group,
    ) {
        let adopt = current.external_id().is_none();
        let renamed = current.display_name != desired.display_name;
        if !renamed && !adopt {
            return;
        }
        let mut attributes = Vec::new();
        if renamed {
            attributes.push(AttributeChange {
                attribute: "displayName".into(),
                before: Some(Value::String(current.display_name.clone())),
                after: Some(Value::String(desired.display_name.clone())),
            });
        }
        if adopt {
            attributes.push(AttributeChange {
                attribute: "externalId".into(),
                before: None,
                after: Some(Value::String(okta.id.clone())),
            });
        }
        self.push(Change {
            action: Action::Update,
            resource_type: ResourceKind::Group,
            okta_id: Some(okta.id.clone()),
            ic_id: current.id().map(str::to_owned),
            name: current.display_name.clone(),
            attributes,
            member: None,
            reason: if adopt {
                "the same displayName without an externalId: adopted".into()
            } else {
                "renamed in Okta".into()
            },
            desired: Some(okta_scim.to_value()),
            desired_member: None,
        });
    }

    fn finish(mut self, rule_set_version: String, managed: usize, safety: Safety) -> Plan {
        if !self.withheld.is_empty() {
            self.changes.retain(|c| !c.action.is_destructive());
        }
        // Creations and updates first, then additions, then what takes access away.
        self.changes.sort_by_key(|c| {
            (
                match c.action {
                    Action::Create | Action::Update | Action::Reactivate => 0,
                    Action::AddMember => 1,
                    Action::RemoveMember => 2,
                    Action::Deactivate => 3,
                    Action::Delete => 4,
                },
                c.resource_type != ResourceKind::Group,
            )
        });
        let destructive = self
            .changes
            .iter()
            .filter(|c| c.action.is_destructive())
            .count();
        let allowed = managed * safety.threshold_percent as usize / 100;
        let refused =
            (destructive > THRESHOLD_FLOOR && destructive > allowed && !safety.allow_mass_changes)
                .then_some(Refusal {
                    destructive,
                    managed,
                    allowed: allowed.max(THRESHOLD_FLOOR),
                });
        let mut counts = BTreeMap::new();
        for change in &self.changes {
            *counts.entry(change.action.as_str().to_owned()).or_insert(0) += 1;
        }
        Plan {
            planned_at: self.now,
            rule_set_version,
            changes: self.changes,
            left_alone: self.left_alone,
            withheld: self.withheld,
            notes: self.notes,
            refused,
            counts,
        }
    }
}

/// Before/after of the attributes `ops` replace, from `current`.
fn attribute_diffs(current: &Value, ops: &[Value]) -> Vec<AttributeChange> {
    ops.iter()
        .filter_map(|op| {
            let path = op.get("path")?.as_str()?;
            let after = op.get("value").cloned();
            let before = lookup(current, path);
            Some(AttributeChange {
                attribute: path.to_owned(),
                before,
                after,
            })
        })
        .collect()
}

/// The value at a replace path (`name.givenName`, `urn:…:User:department`, `title`).
fn lookup(value: &Value, path: &str) -> Option<Value> {
    if let Some((urn, attribute)) = path.rsplit_once(':').filter(|_| path.starts_with("urn:")) {
        return value.get(urn)?.get(attribute).cloned();
    }
    let mut at = value;
    for part in path.split('.') {
        at = at.get(part)?;
    }
    Some(at.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::json;

    use super::*;
    use crate::ports::okta::{OktaGroupProfile, OktaUserStatus};

    const NOW: &str = "2026-12-01T12:00:00Z";

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn okta_id(kind: char, n: usize) -> String {
        format!("00{kind}{n:017}")
    }

    fn okta_user(n: usize, status: OktaUserStatus) -> OktaUser {
        OktaUser {
            id: okta_id('u', n),
            status,
            profile: json!({"login": format!("user{n}@example.com"), "email": format!("user{n}@example.com"),
                            "firstName": "User", "lastName": format!("{n}")})
            .as_object()
            .cloned()
            .unwrap(),
        }
    }

    fn okta_group(n: usize, name: &str) -> OktaGroup {
        OktaGroup {
            id: okta_id('g', n),
            group_type: "OKTA_GROUP".into(),
            profile: OktaGroupProfile {
                name: name.into(),
                description: None,
            },
        }
    }

    /// Identity Center's user as the gateway would have made it from Okta's user `n`.
    fn ic_user(n: usize, external_id: Option<&str>, active: bool) -> User {
        let mut value = json!({
            "schemas": [scim_core::USER_SCHEMA], "id": format!("ic-u-{n}"),
            "userName": format!("user{n}@example.com"), "displayName": format!("User {n}"),
            "name": {"givenName": "User", "familyName": format!("{n}")},
            "emails": [{"value": format!("user{n}@example.com"), "type": "work", "primary": true}],
            "active": active,
            "meta": {"lastModified": "2026-10-01T00:00:00Z"},
        });
        if let Some(ext) = external_id {
            value["externalId"] = json!(ext);
        }
        User::from_value(value).unwrap()
    }

    fn ic_group(id: &str, name: &str, external_id: Option<&str>) -> Group {
        let mut value =
            json!({"schemas": [scim_core::GROUP_SCHEMA], "id": id, "displayName": name});
        if let Some(ext) = external_id {
            value["externalId"] = json!(ext);
        }
        Group::from_value(value).unwrap()
    }

    fn rules(yaml: &str) -> ActiveRuleSet {
        ActiveRuleSet::new("test", rules::RuleSet::load(yaml).unwrap().rule_set)
    }

    /// Okta with `users` active users in one group holding all of them, and Identity
    /// Center in step with it.
    fn in_step(users: usize) -> (OktaSide, IcSide) {
        let okta = OktaSide {
            users: (1..=users)
                .map(|n| okta_user(n, OktaUserStatus::Active))
                .collect(),
            groups: vec![okta_group(1, "Engineering")],
            members: HashMap::from([(
                okta_id('g', 1),
                (1..=users).map(|n| okta_id('u', n)).collect(),
            )]),
            ..OktaSide::default()
        };
        let ic = IcSide {
            users: (1..=users)
                .map(|n| ic_user(n, Some(&okta_id('u', n)), true))
                .collect(),
            groups: vec![ic_group("ic-g-1", "Engineering", Some(&okta_id('g', 1)))],
            members: HashMap::from([(
                "ic-g-1".to_owned(),
                (1..=users).map(|n| format!("ic-u-{n}")).collect(),
            )]),
            ..IcSide::default()
        };
        (okta, ic)
    }

    fn actions(plan: &Plan) -> Vec<(Action, String)> {
        plan.changes
            .iter()
            .map(|c| {
                let name = c
                    .member
                    .as_ref()
                    .map_or_else(|| c.name.clone(), |m| format!("{} <- {}", c.name, m.name));
                (c.action, name)
            })
            .collect()
    }

    #[test]
    fn sides_in_step_plan_nothing() {
        let (okta, ic) = in_step(3);
        let plan = plan(&okta, &ic, &rules(""), Safety::default(), now());
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert!(plan.withheld.is_empty() && plan.refused.is_none());
    }

    #[test]
    fn drift_on_either_side_plans_exactly_the_changes_that_undo_it() {
        let (mut okta, mut ic) = in_step(4);
        // Identity Center: a member removed, a user renamed in the console.
        ic.members
            .get_mut("ic-g-1")
            .unwrap()
            .retain(|m| m != "ic-u-2");
        ic.users[2] = {
            let mut v = ic.users[2].to_value();
            v["displayName"] = json!("Renamed By Hand");
            User::from_value(v).unwrap()
        };
        // Okta: user 4 deactivated (gone from the listing, read one by one), a new user
        // and a new group.
        okta.users.retain(|u| u.id != okta_id('u', 4));
        okta.looked_up.insert(
            okta_id('u', 4),
            Some(okta_user(4, OktaUserStatus::Deprovisioned)),
        );
        okta.users.push(okta_user(5, OktaUserStatus::Active));
        okta.groups.push(okta_group(2, "Ops"));
        okta.members.insert(okta_id('g', 2), vec![okta_id('u', 5)]);
        okta.members
            .get_mut(&okta_id('g', 1))
            .unwrap()
            .retain(|u| u != &okta_id('u', 4));

        let plan = plan(&okta, &ic, &rules(""), Safety::default(), now());

        assert_eq!(
            actions(&plan),
            [
                (Action::Create, "Ops".to_owned()),
                (Action::Update, "user3@example.com".to_owned()),
                (Action::Create, "user5@example.com".to_owned()),
                (
                    Action::AddMember,
                    "Engineering <- user2@example.com".to_owned()
                ),
                (Action::AddMember, "Ops <- user5@example.com".to_owned()),
                (
                    Action::RemoveMember,
                    "Engineering <- user4@example.com".to_owned()
                ),
                (Action::Deactivate, "user4@example.com".to_owned()),
            ]
        );
        let update = &plan.changes[1];
        assert_eq!(update.attributes[0].attribute, "displayName");
        assert_eq!(update.attributes[0].before, Some(json!("Renamed By Hand")));
        assert_eq!(update.attributes[0].after, Some(json!("User 3")));
        assert_eq!(plan.changes[6].reason, "deactivated in Okta");
        assert_eq!(plan.counts["add_member"], 2);
    }

    #[test]
    fn resources_the_gateway_does_not_manage_are_left_alone() {
        let (okta, mut ic) = in_step(2);
        ic.users.push(ic_user(7, None, true)); // made in the console
        ic.users.push(ic_user(8, Some("azure-6f1c"), true)); // another tool's
        ic.groups
            .push(ic_group("ic-g-ct", "AWSControlTowerAdmins", None));
        ic.groups
            .push(ic_group("ic-g-x", "Finance", Some("another-idp-group")));
        ic.members.insert("ic-g-ct".into(), vec!["ic-u-7".into()]);
        // A console user in a managed group is not removed either.
        ic.members.get_mut("ic-g-1").unwrap().push("ic-u-7".into());

        let plan = plan(&okta, &ic, &rules(""), Safety::default(), now());

        assert!(plan.is_empty(), "{:?}", plan.changes);
        let mut alone: Vec<&str> = plan.left_alone.iter().map(|l| l.ic_id.as_str()).collect();
        alone.sort_unstable();
        assert_eq!(alone, ["ic-g-ct", "ic-g-x", "ic-u-7", "ic-u-8"]);
    }

    #[test]
    fn a_user_leaving_scope_is_deactivated_and_deleted_only_by_policy_after_the_grace() {
        let (mut okta, mut ic) = in_step(3);
        // User 1 left the scope (unassigned from the app); user 2 was deleted in Okta and
        // has been inactive in Identity Center since October; user 3 too, since today.
        okta.app_users = Some(HashSet::from([okta_id('u', 3)]));
        okta.users
            .retain(|u| u.id == okta_id('u', 1) || u.id == okta_id('u', 3));
        okta.looked_up.insert(okta_id('u', 2), None);
        ic.users[1] = ic_user(2, Some(&okta_id('u', 2)), false);
        let scoped = "scope:\n  app: 0oa1\n";

        let kept = plan(&okta, &ic, &rules(scoped), Safety::default(), now());
        let deleting = plan(
            &okta,
            &ic,
            &rules(&format!(
                "{scoped}  delete: [users]\n  delete_after_days: 30\n"
            )),
            Safety::default(),
            now(),
        );
        let within_grace = plan(
            &okta,
            &ic,
            &rules(&format!(
                "{scoped}  delete: [users]\n  delete_after_days: 90\n"
            )),
            Safety::default(),
            now(),
        );

        let of = |plan: &Plan, action: Action| -> Vec<String> {
            plan.changes
                .iter()
                .filter(|c| c.action == action)
                .map(|c| c.name.clone())
                .collect()
        };
        assert_eq!(of(&kept, Action::Deactivate), ["user1@example.com"]);
        assert!(of(&kept, Action::Delete).is_empty());
        assert_eq!(of(&deleting, Action::Delete), ["user2@example.com"]);
        assert!(of(&within_grace, Action::Delete).is_empty());
        assert_eq!(
            of(&deleting, Action::Deactivate),
            ["user1@example.com"],
            "never deleted at once"
        );
    }

    #[test]
    fn a_failed_or_implausibly_empty_read_takes_nothing_away_and_says_why() {
        let (mut okta, ic) = in_step(6);
        okta.users.push(okta_user(9, OktaUserStatus::Active));
        okta.members.get_mut(&okta_id('g', 1)).unwrap().clear();
        okta.problems
            .push("listing users: okta: unavailable: page 3 answered 500".into());
        let failed = plan(&okta, &ic, &rules(""), Safety::default(), now());
        assert!(
            failed.changes.iter().all(|c| !c.action.is_destructive()),
            "{:?}",
            failed.changes
        );
        assert!(failed.changes.iter().any(|c| c.action == Action::Create));
        assert!(failed.withheld[0].contains("page 3"));

        let empty = OktaSide {
            groups: okta.groups.clone(),
            ..OktaSide::default()
        };
        let plan = plan(&empty, &ic, &rules(""), Safety::default(), now());
        assert!(
            plan.changes.iter().all(|c| !c.action.is_destructive()),
            "{:?}",
            plan.changes
        );
        assert!(
            plan.withheld[0].contains("no users at all"),
            "{:?}",
            plan.withheld
        );

        let (okta, mut ic) = in_step(2);
        ic.problems
            .push("listing the members of group ic-g-1: throttled".into());
        let plan = super::plan(&okta, &ic, &rules(""), Safety::default(), now());
        assert!(plan.withheld[0].starts_with("Identity Center:"));

        // Without Identity Center's users, every Okta user would look missing.
        let (okta, mut ic) = in_step(3);
        ic.users.clear();
        ic.members.clear();
        ic.problems.push(format!("{LISTING_USERS}: unavailable"));
        let plan = super::plan(&okta, &ic, &rules(""), Safety::default(), now());
        assert!(plan.is_empty(), "{:?}", plan.changes);
    }

    #[test]
    fn taking_away_from_more_than_the_threshold_is_refused_unless_overridden() {
        let (mut okta, ic) = in_step(60);
        // Seven of 61 managed objects deactivated: over 10%.
        for n in 1..=7 {
            okta.users.retain(|u| u.id != okta_id('u', n));
            okta.looked_up.insert(
                okta_id('u', n),
                Some(okta_user(n, OktaUserStatus::Deprovisioned)),
            );
            okta.members
                .get_mut(&okta_id('g', 1))
                .unwrap()
                .retain(|u| u != &okta_id('u', n));
        }
        let refused = plan(&okta, &ic, &rules(""), Safety::default(), now());
        let refusal = refused.refused.clone().expect("refused");
        assert_eq!((refusal.destructive, refusal.managed), (14, 61));
        let allowed = plan(
            &okta,
            &ic,
            &rules(""),
            Safety {
                allow_mass_changes: true,
                ..Safety::default()
            },
            now(),
        );
        assert!(allowed.refused.is_none());
        assert_eq!(allowed.changes.len(), 14);

        // Five or fewer never trip it, whatever the share.
        let (mut okta, ic) = in_step(3);
        okta.users.retain(|u| u.id != okta_id('u', 1));
        okta.looked_up.insert(okta_id('u', 1), None);
        assert!(
            plan(&okta, &ic, &rules(""), Safety::default(), now())
                .refused
                .is_none()
        );
    }

    #[test]
    fn an_existing_resource_with_the_same_name_and_no_external_id_is_adopted() {
        let (okta, mut ic) = in_step(1);
        ic.users[0] = ic_user(1, None, true);
        ic.groups[0] = ic_group("ic-g-1", "Engineering", None);
        let plan = plan(&okta, &ic, &rules(""), Safety::default(), now());
        assert_eq!(
            actions(&plan),
            [
                (Action::Update, "Engineering".to_owned()),
                (Action::Update, "user1@example.com".to_owned()),
            ]
        );
        assert!(plan.changes.iter().all(|c| c.reason.contains("adopted")));
    }
}
