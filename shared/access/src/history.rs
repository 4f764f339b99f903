//! The audit trail folded into history: each user's active periods and names, each
//! group's names and members over time, and each group's account assignments over
//! time, every change tied to the record that made it.
//!
//! Only what Identity Center confirmed counts: records with outcome `success`. Intents,
//! failures and refusals change nothing here (a failure that changed Identity Center
//! after all shows up as a difference from live state, [`crate::live`]). What the trail
//! cannot tell exactly (a membership change of more members than a record lists, a
//! change naming no id) is a [`Gap`], reported with every answer built on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gateway::audit::{AuditOperation, AuditRecord, AuditSource, Outcome};
use gateway::audit_store::StoredAuditRecord;
use gateway::translate::ResourceKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::evidence::EvidenceBuilder;
use crate::spans::{RecordRef, Spans};

/// The Okta event type of a deactivation (Okta event types catalog,
/// <https://developer.okta.com/docs/reference/api/event-types/>).
pub const OKTA_DEACTIVATE: &str = "user.lifecycle.deactivate";

/// Something the trail does not say exactly; answers built on it may be incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// The record.
    pub record: RecordRef,
    /// What it leaves unknown.
    pub detail: String,
}

/// A user as the trail knows it.
#[derive(Debug, Clone, Default)]
pub struct UserHistory {
    /// Okta's id (`externalId`), the latest the trail shows.
    pub external_id: Option<String>,
    /// Its `userName` from each time it changed, oldest first.
    pub names: Vec<(OffsetDateTime, String)>,
    /// When it existed and was active (an inactive user cannot sign in).
    pub active: Spans,
}

/// A group as the trail knows it.
#[derive(Debug, Clone, Default)]
pub struct GroupHistory {
    /// Okta's id (`externalId`), the latest the trail shows.
    pub external_id: Option<String>,
    /// Its `displayName` from each time it changed, oldest first.
    pub names: Vec<(OffsetDateTime, String)>,
    /// Its members (Identity Center user ids) and when each was one.
    pub members: BTreeMap<String, Spans>,
    /// Its account assignments and when each held.
    pub assignments: BTreeMap<AssignmentKey, AssignmentHistory>,
}

/// An account and permission set a group is assigned.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AssignmentKey {
    /// The account (12 digits).
    pub account_id: String,
    /// The permission set's ARN.
    pub permission_set_arn: String,
}

/// One assignment of a group over time.
#[derive(Debug, Clone, Default)]
pub struct AssignmentHistory {
    /// The permission set's name, as the last record gave it.
    pub permission_set_name: Option<String>,
    /// When it held.
    pub spans: Spans,
}

/// How a leaver's clock started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartKind {
    /// Okta's deactivation event, from its `published` time.
    OktaEvent,
    /// A deactivation that reached the gateway as a SCIM call (Okta's provisioning),
    /// from the call's arrival.
    Scim,
    /// A reconcile run deactivated or deleted the user.
    Reconcile,
    /// Anything else (an admin's command).
    Other,
}

/// A sign that a user left: Okta's deactivation event, or a deactivation or deletion
/// of the user in Identity Center that came another way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveSignal {
    /// Okta's user id, when known.
    pub okta_user_id: Option<String>,
    /// Identity Center's user id, when known.
    pub user_id: Option<String>,
    /// When the clock starts.
    pub start: OffsetDateTime,
    /// What started it.
    pub kind: StartKind,
    /// The record that carries it.
    pub record: RecordRef,
}

/// The trail folded: see the module's documentation.
#[derive(Debug, Default)]
pub struct History {
    /// Users by Identity Center id.
    pub users: HashMap<String, UserHistory>,
    /// Groups by Identity Center id.
    pub groups: HashMap<String, GroupHistory>,
    /// Identity Center user ids by Okta id (more than one after a re-hire as a new
    /// user).
    pub users_by_okta_id: HashMap<String, BTreeSet<String>>,
    /// Groups each user has been in, for the memberships a deletion ends.
    user_groups: HashMap<String, BTreeSet<String>>,
    /// Every leave signal, oldest first.
    pub leave_signals: Vec<LeaveSignal>,
    /// What the trail leaves unknown.
    pub gaps: Vec<Gap>,
    /// The evidence of what was folded.
    pub(crate) evidence: EvidenceBuilder,
}

fn change_of<'a>(
    record: &'a AuditRecord,
    attribute: &str,
) -> Option<&'a gateway::audit::AttributeChange> {
    record
        .changes
        .iter()
        .find(|c| c.attribute.eq_ignore_ascii_case(attribute))
}

/// A SCIM `active` value: a boolean, or the strings Okta's older clients send.
fn as_active(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl History {
    /// Folds `records`, oldest first (the order the audit store answers).
    pub fn fold<'a>(records: impl IntoIterator<Item = &'a StoredAuditRecord>) -> Self {
        let mut history = Self::default();
        for record in records {
            history.apply(record);
        }
        history
    }

    /// Folds one more record (records must come oldest first).
    pub fn apply(&mut self, stored: &StoredAuditRecord) {
        self.evidence.add(stored);
        let record = &stored.record;
        let at = RecordRef {
            id: stored.id.clone(),
            time: record.time,
        };
        self.note_leave_event(record, &at);
        if record.outcome != Outcome::Success {
            return;
        }
        match (record.subject.resource_type, record.operation) {
            (_, AuditOperation::Assign | AuditOperation::Unassign) => self.assignment(record, &at),
            (Some(ResourceKind::User), op) => self.user(record, op, &at),
            (Some(ResourceKind::Group), op) => self.group(record, op, &at),
            _ => {}
        }
    }

    /// Okta's deactivation events, whatever their outcome: a skipped one (Identity
    /// Center already in step) still starts a leaver's clock.
    fn note_leave_event(&mut self, record: &AuditRecord, at: &RecordRef) {
        let AuditSource::Event {
            published,
            event_type,
            ..
        } = &record.source
        else {
            return;
        };
        if record.outcome == Outcome::Intent || event_type.as_deref() != Some(OKTA_DEACTIVATE) {
            return;
        }
        let start = published
            .as_deref()
            .and_then(|p| OffsetDateTime::parse(p, &Rfc3339).ok())
            .unwrap_or(record.time);
        self.leave_signals.push(LeaveSignal {
            okta_user_id: record.subject.external_id.clone(),
            user_id: record.subject.target_id.clone(),
            start,
            kind: StartKind::OktaEvent,
            record: at.clone(),
        });
    }

    fn user(&mut self, record: &AuditRecord, op: AuditOperation, at: &RecordRef) {
        let Some(id) = self.subject_id(record, op, at, "user") else {
            return;
        };
        let user = self.users.entry(id.clone()).or_default();
        if let Some(okta) = &record.subject.external_id {
            user.external_id = Some(okta.clone());
            self.users_by_okta_id
                .entry(okta.clone())
                .or_default()
                .insert(id.clone());
        }
        let name = change_of(record, "userName")
            .and_then(|c| c.after.as_ref())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| record.subject.name.clone());
        if let Some(name) = name
            && user.names.last().is_none_or(|(_, last)| *last != name)
        {
            user.names.push((at.time, name));
        }
        let active_after =
            change_of(record, "active").and_then(|c| c.after.as_ref().and_then(as_active));
        let was_active = user.active.is_open();
        match op {
            AuditOperation::Create => {
                if active_after.unwrap_or(true) {
                    user.active.open(at);
                }
            }
            AuditOperation::Replace | AuditOperation::Patch => match active_after {
                Some(true) => user.active.open(at),
                Some(false) => user.active.close(at),
                None => {}
            },
            AuditOperation::Delete => {
                user.active.close(at);
                // Identity Center removes a deleted user from its groups.
                for group in self.user_groups.remove(&id).unwrap_or_default() {
                    if let Some(spans) = self
                        .groups
                        .get_mut(&group)
                        .and_then(|g| g.members.get_mut(&id))
                    {
                        spans.close(at);
                    }
                }
            }
            _ => return,
        }
        let left = was_active && !self.users.get(&id).is_some_and(|u| u.active.is_open());
        if left && !matches!(record.source, AuditSource::Event { .. }) {
            let kind = match record.source {
                AuditSource::Scim { .. } => StartKind::Scim,
                AuditSource::Reconcile { .. } => StartKind::Reconcile,
                _ => StartKind::Other,
            };
            self.leave_signals.push(LeaveSignal {
                okta_user_id: self.users.get(&id).and_then(|u| u.external_id.clone()),
                user_id: Some(id),
                start: at.time,
                kind,
                record: at.clone(),
            });
        }
    }

    fn group(&mut self, record: &AuditRecord, op: AuditOperation, at: &RecordRef) {
        let Some(id) = self.subject_id(record, op, at, "group") else {
            return;
        };
        let group = self.groups.entry(id.clone()).or_default();
        if let Some(okta) = &record.subject.external_id {
            group.external_id = Some(okta.clone());
        }
        let name = change_of(record, "displayName")
            .and_then(|c| c.after.as_ref())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| record.subject.name.clone());
        if let Some(name) = name
            && group.names.last().is_none_or(|(_, last)| *last != name)
        {
            group.names.push((at.time, name));
        }
        match op {
            AuditOperation::Delete => {
                // A deleted group grants nothing: its members and assignments end.
                for (user, spans) in &mut group.members {
                    spans.close(at);
                    if let Some(groups) = self.user_groups.get_mut(user) {
                        groups.remove(&id);
                    }
                }
                for assignment in group.assignments.values_mut() {
                    assignment.spans.close(at);
                }
            }
            AuditOperation::Create | AuditOperation::Replace | AuditOperation::Patch => {
                let Some(change) = &record.membership else {
                    return;
                };
                for user in &change.added_ids {
                    group.members.entry(user.clone()).or_default().open(at);
                    self.user_groups
                        .entry(user.clone())
                        .or_default()
                        .insert(id.clone());
                }
                for user in &change.removed_ids {
                    group.members.entry(user.clone()).or_default().close(at);
                }
                let unlisted = (change.added - change.added_ids.len() as u64)
                    + (change.removed - change.removed_ids.len() as u64);
                if unlisted > 0 {
                    self.gap(
                        at,
                        &format!(
                            "group {id}: {unlisted} member changes beyond the {} ids a record lists",
                            gateway::audit::MAX_LISTED_MEMBER_IDS
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    fn assignment(&mut self, record: &AuditRecord, at: &RecordRef) {
        let Some(change) = change_of(record, "accountAssignment") else {
            return self.gap(at, "an assignment record without its assignment");
        };
        let value = if record.operation == AuditOperation::Assign {
            change.after.as_ref()
        } else {
            change.before.as_ref()
        };
        let field = |key: &str| value.and_then(|v| v.get(key)).and_then(Value::as_str);
        let (Some(group_id), Some(account_id), Some(arn)) = (
            record.subject.target_id.clone(),
            field("account_id"),
            field("permission_set_arn"),
        ) else {
            return self.gap(
                at,
                "an assignment record missing its group, account or permission set",
            );
        };
        let group = self.groups.entry(group_id).or_default();
        if let Some(okta) = &record.subject.external_id {
            group.external_id = Some(okta.clone());
        }
        if let Some(name) = &record.subject.name
            && group.names.is_empty()
        {
            group.names.push((at.time, name.clone()));
        }
        let key = AssignmentKey {
            account_id: account_id.to_owned(),
            permission_set_arn: arn.to_owned(),
        };
        let held = group.assignments.entry(key).or_default();
        if let Some(name) = field("permission_set_name") {
            held.permission_set_name = Some(name.to_owned());
        }
        if record.operation == AuditOperation::Assign {
            held.spans.open(at);
        } else {
            held.spans.close(at);
        }
    }

    /// The Identity Center id a user or group record names; a change naming none is a
    /// gap (reads and lists need none).
    fn subject_id(
        &mut self,
        record: &AuditRecord,
        op: AuditOperation,
        at: &RecordRef,
        kind: &str,
    ) -> Option<String> {
        let id = record.subject.target_id.clone();
        let changes = matches!(
            op,
            AuditOperation::Create
                | AuditOperation::Replace
                | AuditOperation::Patch
                | AuditOperation::Delete
        );
        if id.is_none() && changes {
            self.gap(
                at,
                &format!("a {kind} change that names no Identity Center id"),
            );
        }
        id
    }

    fn gap(&mut self, at: &RecordRef, detail: &str) {
        self.gaps.push(Gap {
            record: at.clone(),
            detail: detail.to_owned(),
        });
    }
}

/// The name in force at `at` (the first one when `at` precedes them all).
pub fn name_at(names: &[(OffsetDateTime, String)], at: OffsetDateTime) -> Option<&str> {
    names
        .iter()
        .rev()
        .find(|(since, _)| *since <= at)
        .or(names.first())
        .map(|(_, name)| name.as_str())
}

#[cfg(test)]
mod tests {
    use gateway::audit::{AuditActor, AuditSubject, MembershipChange};
    use gateway::audit_store::RecordIntegrity;
    use time::macros::datetime;

    use super::*;

    fn stored(
        n: u64,
        kind: ResourceKind,
        operation: AuditOperation,
        id: &str,
    ) -> StoredAuditRecord {
        StoredAuditRecord {
            id: format!("20261001T00-0000000000000001:{n}"),
            record: AuditRecord {
                time: datetime!(2026-10-01 00:00 UTC) + time::Duration::minutes(n as i64),
                source: AuditSource::Scim {
                    method: "PATCH".into(),
                    path: "/Groups/{id}".into(),
                },
                actor: AuditActor {
                    credential: "scim-token:primary".into(),
                    user_agent: None,
                },
                subject: AuditSubject {
                    resource_type: Some(kind),
                    external_id: None,
                    target_id: Some(id.into()),
                    name: Some(id.into()),
                },
                operation,
                membership: None,
                changes: Vec::new(),
                query: None,
                rule_set_version: "identity".into(),
                outcome: Outcome::Success,
                status: 200,
                target_status: None,
                target_calls: 1,
                latency_ms: 1,
                correlation_id: format!("c-{n}"),
                error: None,
                reason: None,
                source_ip: None,
                request_id: None,
            },
            integrity: RecordIntegrity {
                chain: "20261001T00-0000000000000001".into(),
                seq: n,
                prev_hash: "0".repeat(64),
                hash: format!("{n:064}"),
                mac: String::new(),
                key_id: String::new(),
                written_at: String::new(),
                expires_at: 0,
            },
        }
    }

    #[test]
    fn a_membership_change_listing_fewer_ids_than_it_counts_is_a_gap() {
        let ids: Vec<String> = (0..150).map(|n| format!("u-{n}")).collect();
        let mut group = stored(1, ResourceKind::Group, AuditOperation::Create, "g-1");
        group.record.membership = Some(MembershipChange::new(&ids, &[]));

        let history = History::fold([&group]);

        assert_eq!(history.groups["g-1"].members.len(), 100);
        assert_eq!(history.gaps.len(), 1);
        assert!(
            history.gaps[0].detail.contains("50 member changes"),
            "{:?}",
            history.gaps
        );
    }

    #[test]
    fn deleting_a_user_ends_its_memberships_and_a_failed_change_changes_nothing() {
        let user = stored(1, ResourceKind::User, AuditOperation::Create, "u-1");
        let mut group = stored(2, ResourceKind::Group, AuditOperation::Create, "g-1");
        group.record.membership = Some(MembershipChange::new(&["u-1".into()], &[]));
        let mut failed = stored(3, ResourceKind::Group, AuditOperation::Patch, "g-1");
        failed.record.outcome = Outcome::Failure;
        failed.record.membership = Some(MembershipChange::new(&[], &["u-1".into()]));
        let deleted = stored(4, ResourceKind::User, AuditOperation::Delete, "u-1");

        let history = History::fold([&user, &group, &failed, &deleted]);

        let spans = &history.groups["g-1"].members["u-1"];
        assert_eq!(spans.all().len(), 1);
        assert_eq!(
            spans.all()[0].end.as_ref().map(|e| e.id.as_str()),
            Some(deleted.id.as_str())
        );
        assert!(!history.users["u-1"].active.is_open());
        // A deletion that came through SCIM starts a leaver's clock at its own time.
        assert_eq!(history.leave_signals.len(), 1);
        assert_eq!(history.leave_signals[0].kind, StartKind::Scim);
        assert_eq!(
            history.evidence.finish(deleted.record.time, None).records,
            4
        );
    }
}
