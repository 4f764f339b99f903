//! Access as Identity Center has it now, and the check of the trail against it: the
//! report for "now" is built from live state (users, group members, account
//! assignments), each row's "since" taken from the trail, and every difference between
//! the two is listed, never smoothed over.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::history::History;
use crate::report::{AccessRow, Filter, Path, RowKey, as_of};

/// A user as Identity Center has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveUser {
    /// Identity Center's id.
    pub id: String,
    /// Okta's id (`externalId`).
    pub external_id: Option<String>,
    /// Its `userName`.
    pub user_name: String,
    /// Whether it can sign in.
    pub active: bool,
}

/// A group as Identity Center has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveGroup {
    /// Identity Center's id.
    pub id: String,
    /// Okta's id (`externalId`).
    pub external_id: Option<String>,
    /// Its `displayName`.
    pub display_name: String,
    /// Its members' Identity Center ids.
    pub members: Vec<String>,
}

/// Who an assignment is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "id")]
pub enum Principal {
    /// A group, by Identity Center id.
    Group(String),
    /// A user, by Identity Center id.
    User(String),
}

/// An account assignment as Identity Center has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveAssignment {
    /// Who.
    pub principal: Principal,
    /// The account.
    pub account_id: String,
    /// The permission set's ARN.
    pub permission_set_arn: String,
}

/// Identity Center now, as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveState {
    /// Every user.
    pub users: Vec<LiveUser>,
    /// Every group, with members.
    pub groups: Vec<LiveGroup>,
    /// Every account assignment read.
    pub assignments: Vec<LiveAssignment>,
    /// Permission set names by ARN.
    pub permission_set_names: BTreeMap<String, String>,
    /// What could not be read: the comparison is incomplete where these say.
    pub problems: Vec<String>,
}

/// Where the trail and live state disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mismatch {
    /// Identity Center grants it; the trail does not show it (made outside the
    /// gateway, before its trail began, or a change the trail could not list).
    NotInTrail,
    /// The trail shows it; Identity Center does not grant it (changed outside the
    /// gateway, or a change recorded as failed that went through after all).
    NotLive,
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Which way.
    pub mismatch: Mismatch,
    /// The access.
    #[serde(flatten)]
    pub row: AccessRow,
}

/// Every access live state grants, sorted as [`as_of`] sorts, with "since" from the
/// trail where it shows the same access at `now`.
pub fn live_rows(
    live: &LiveState,
    history: &History,
    now: OffsetDateTime,
    filter: &Filter,
) -> Vec<AccessRow> {
    let users: HashMap<&str, &LiveUser> = live.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let groups: HashMap<&str, &LiveGroup> =
        live.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let trail: HashMap<RowKey, AccessRow> = as_of(history, now, &Filter::default())
        .into_iter()
        .map(|r| (r.key(), r))
        .collect();
    let mut rows = Vec::new();
    let mut push = |user: &LiveUser, assignment: &LiveAssignment, group: Option<&LiveGroup>| {
        if !user.active {
            return;
        }
        let mut row = AccessRow {
            user_id: user.id.clone(),
            okta_user_id: user.external_id.clone(),
            user_name: Some(user.user_name.clone()),
            account_id: assignment.account_id.clone(),
            permission_set_arn: assignment.permission_set_arn.clone(),
            permission_set_name: live
                .permission_set_names
                .get(&assignment.permission_set_arn)
                .cloned(),
            path: if group.is_some() {
                Path::Group
            } else {
                Path::Direct
            },
            group_id: group.map(|g| g.id.clone()),
            group_name: group.map(|g| g.display_name.clone()),
            okta_group_id: group.and_then(|g| g.external_id.clone()),
            since: None,
            since_record: None,
        };
        if let Some(known) = trail.get(&row.key()) {
            row.since = known.since;
            row.since_record = known.since_record.clone();
            if row.permission_set_name.is_none() {
                row.permission_set_name = known.permission_set_name.clone();
            }
        }
        if filter.keeps(&row) {
            rows.push(row);
        }
    };
    for assignment in &live.assignments {
        match &assignment.principal {
            Principal::User(id) => {
                if let Some(user) = users.get(id.as_str()) {
                    push(user, assignment, None);
                }
            }
            Principal::Group(id) => {
                let Some(group) = groups.get(id.as_str()) else {
                    continue;
                };
                for member in &group.members {
                    if let Some(user) = users.get(member.as_str()) {
                        push(user, assignment, Some(group));
                    }
                }
            }
        }
    }
    rows.sort_by_key(AccessRow::key);
    rows.dedup_by(|a, b| a.key() == b.key());
    rows
}

/// The differences between the trail's account of `now` and live state's rows.
pub fn compare(
    history: &History,
    live_rows: &[AccessRow],
    now: OffsetDateTime,
    filter: &Filter,
) -> Vec<Difference> {
    let trail: BTreeMap<RowKey, AccessRow> = as_of(history, now, filter)
        .into_iter()
        .map(|r| (r.key(), r))
        .collect();
    let live: BTreeMap<RowKey, &AccessRow> = live_rows.iter().map(|r| (r.key(), r)).collect();
    let mut differences: Vec<Difference> = live
        .iter()
        .filter(|(key, _)| !trail.contains_key(*key))
        .map(|(_, row)| Difference {
            mismatch: Mismatch::NotInTrail,
            row: (*row).clone(),
        })
        .collect();
    differences.extend(
        trail
            .into_iter()
            .filter(|(key, _)| !live.contains_key(key))
            .map(|(_, row)| Difference {
                mismatch: Mismatch::NotLive,
                row,
            }),
    );
    differences
}

/// Reads Identity Center's users and groups, with every group's members, through the
/// SCIM target into `live` (the account assignments come from SSO Admin, read by the
/// caller). A failed read is a problem in the answer, never a partial listing taken
/// for a whole one.
pub async fn read_directory(
    target: &dyn gateway::ports::target::TargetScimClient,
    deadline: gateway::Deadline,
    live: &mut LiveState,
) {
    use scim_core::Resource as _;
    match target.list_users(None, deadline).await {
        Ok(users) => {
            live.users = users
                .iter()
                .filter_map(|u| {
                    Some(LiveUser {
                        id: u.id()?.to_owned(),
                        external_id: u.external_id().map(str::to_owned),
                        user_name: u.user_name.clone(),
                        // Identity Center treats a user without `active` as active.
                        active: u.active.unwrap_or(true),
                    })
                })
                .collect();
        }
        Err(e) => live
            .problems
            .push(format!("listing Identity Center's users: {e}")),
    }
    match target.list_groups(None, deadline).await {
        Ok(groups) => {
            for group in groups {
                let Some(id) = group.id().map(str::to_owned) else {
                    continue;
                };
                let members = match target.list_group_member_ids(&id, deadline).await {
                    Ok(members) => members,
                    Err(e) => {
                        live.problems
                            .push(format!("listing the members of group {id}: {e}"));
                        Vec::new()
                    }
                };
                live.groups.push(LiveGroup {
                    id,
                    external_id: group.external_id().map(str::to_owned),
                    display_name: group.display_name.clone(),
                    members,
                });
            }
        }
        Err(e) => live
            .problems
            .push(format!("listing Identity Center's groups: {e}")),
    }
}
