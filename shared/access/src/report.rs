//! The reports: who could reach which account with which permission set, through which
//! group, since when, as of an instant ([`as_of`]); what changed between two instants
//! ([`diff`]); and how long each leaver kept access ([`leavers`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::history::{History, StartKind, name_at};
use crate::spans::{RecordRef, Span};

/// How a user reaches an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    /// Through a group assigned the permission set on the account.
    Group,
    /// Assigned to the user directly (never by this gateway; seen in live state only).
    Direct,
}

/// One user's access to one account with one permission set by one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRow {
    /// Identity Center's user id.
    pub user_id: String,
    /// Okta's user id.
    #[serde(default)]
    pub okta_user_id: Option<String>,
    /// The user's `userName` at the time.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The account.
    pub account_id: String,
    /// The permission set's ARN.
    pub permission_set_arn: String,
    /// The permission set's name, where known.
    #[serde(default)]
    pub permission_set_name: Option<String>,
    /// Through a group, or directly.
    pub path: Path,
    /// The group's Identity Center id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// The group's `displayName` at the time.
    #[serde(default)]
    pub group_name: Option<String>,
    /// Okta's group id.
    #[serde(default)]
    pub okta_group_id: Option<String>,
    /// Since when: the latest of the user's activation, the membership and the
    /// assignment. `None` when the trail does not show it.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<OffsetDateTime>,
    /// The record that completed the access at `since`.
    #[serde(default)]
    pub since_record: Option<String>,
}

/// What makes two rows the same access.
pub type RowKey = (String, String, String, Option<String>);

impl AccessRow {
    /// The user, account, permission set and group.
    pub fn key(&self) -> RowKey {
        (
            self.user_id.clone(),
            self.account_id.clone(),
            self.permission_set_arn.clone(),
            self.group_id.clone(),
        )
    }
}

/// Which rows a report keeps. Each filter given must match; ids and names are matched
/// exactly, names case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these accounts (`--account`, and the accounts of `--ou` resolved by the
    /// caller); `None` for every account.
    pub accounts: Option<BTreeSet<String>>,
    /// A permission set, by name or ARN.
    pub permission_set: Option<String>,
    /// A group: Identity Center id, Okta id or display name.
    pub group: Option<String>,
    /// A user: Identity Center id, Okta id or userName.
    pub user: Option<String>,
}

fn same(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

impl Filter {
    /// Whether `row` passes.
    pub fn keeps(&self, row: &AccessRow) -> bool {
        let any = |wanted: &Option<String>, have: &[Option<&str>]| {
            wanted
                .as_deref()
                .is_none_or(|w| have.iter().flatten().any(|h| same(w, h)))
        };
        self.accounts
            .as_ref()
            .is_none_or(|a| a.contains(&row.account_id))
            && any(
                &self.permission_set,
                &[
                    Some(row.permission_set_arn.as_str()),
                    row.permission_set_name.as_deref(),
                ],
            )
            && any(
                &self.group,
                &[
                    row.group_id.as_deref(),
                    row.okta_group_id.as_deref(),
                    row.group_name.as_deref(),
                ],
            )
            && any(
                &self.user,
                &[
                    Some(row.user_id.as_str()),
                    row.okta_user_id.as_deref(),
                    row.user_name.as_deref(),
                ],
            )
    }
}

/// The periods that together made one row hold at an instant: the user's, the
/// membership's and the assignment's.
struct Holding<'a> {
    row: AccessRow,
    spans: [&'a Span; 3],
}

fn holdings_at<'a>(history: &'a History, at: OffsetDateTime, filter: &Filter) -> Vec<Holding<'a>> {
    let mut found = Vec::new();
    for (group_id, group) in &history.groups {
        // The group and user filters first: a leaver's report looks at one user among
        // thousands.
        if filter.group.as_deref().is_some_and(|wanted| {
            ![
                Some(group_id.as_str()),
                group.external_id.as_deref(),
                name_at(&group.names, at),
            ]
            .into_iter()
            .flatten()
            .any(|have| same(wanted, have))
        }) {
            continue;
        }
        let assignments: Vec<_> = group
            .assignments
            .iter()
            .filter(|(key, _)| {
                filter
                    .accounts
                    .as_ref()
                    .is_none_or(|a| a.contains(&key.account_id))
            })
            .filter_map(|(key, held)| held.spans.at(at).map(|span| (key, held, span)))
            .collect();
        if assignments.is_empty() {
            continue;
        }
        // A user named by Identity Center id is looked up, not searched for.
        let by_id = filter
            .user
            .as_deref()
            .filter(|u| history.users.contains_key(*u));
        let members: Box<dyn Iterator<Item = (&String, &crate::spans::Spans)>> = match by_id {
            Some(id) => Box::new(group.members.get_key_value(id).into_iter()),
            None => Box::new(group.members.iter()),
        };
        for (user_id, membership) in members {
            let Some(member_span) = membership.at(at) else {
                continue;
            };
            let Some(user) = history.users.get(user_id) else {
                continue;
            };
            if filter.user.as_deref().is_some_and(|wanted| {
                ![
                    Some(user_id.as_str()),
                    user.external_id.as_deref(),
                    name_at(&user.names, at),
                ]
                .into_iter()
                .flatten()
                .any(|have| same(wanted, have))
            }) {
                continue;
            }
            let Some(user_span) = user.active.at(at) else {
                continue;
            };
            for (key, held, assignment_span) in &assignments {
                let spans = [user_span, member_span, *assignment_span];
                let latest = spans
                    .iter()
                    .map(|s| &s.start)
                    .max_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)))
                    .cloned();
                let row = AccessRow {
                    user_id: user_id.clone(),
                    okta_user_id: user.external_id.clone(),
                    user_name: name_at(&user.names, at).map(str::to_owned),
                    account_id: key.account_id.clone(),
                    permission_set_arn: key.permission_set_arn.clone(),
                    permission_set_name: held.permission_set_name.clone(),
                    path: Path::Group,
                    group_id: Some(group_id.clone()),
                    group_name: name_at(&group.names, at).map(str::to_owned),
                    okta_group_id: group.external_id.clone(),
                    since: latest.as_ref().map(|r| r.time),
                    since_record: latest.map(|r| r.id),
                };
                if filter.keeps(&row) {
                    found.push(Holding { row, spans });
                }
            }
        }
    }
    found.sort_by_key(|h| h.row.key());
    found
}

/// Every access that held at `at`, as the trail tells it, sorted by user, account,
/// permission set and group.
pub fn as_of(history: &History, at: OffsetDateTime, filter: &Filter) -> Vec<AccessRow> {
    holdings_at(history, at, filter)
        .into_iter()
        .map(|h| h.row)
        .collect()
}

/// The first of a holding's periods to end after `after`: what ended the access.
fn first_end(spans: &[&Span; 3]) -> Option<RecordRef> {
    spans
        .iter()
        .filter_map(|s| s.end.as_ref())
        .min_by(|a, b| (a.time, &a.id).cmp(&(b.time, &b.id)))
        .cloned()
}

/// One change of access between two instants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    /// Gained or lost.
    pub change: ChangeKind,
    /// The access (as of the later instant for a gain, the earlier for a loss).
    #[serde(flatten)]
    pub row: AccessRow,
    /// The record that caused it: the one that completed the access, or the first that
    /// ended it.
    pub cause: Option<RecordRef>,
}

/// Whether access was gained or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Held at the later instant, not at the earlier.
    Gained,
    /// Held at the earlier instant, not at the later.
    Lost,
}

/// The access gained and lost from `from` to `to` (lost first, then gained, each sorted
/// as [`as_of`] sorts). An access lost and regained in between is in neither.
pub fn diff(
    history: &History,
    from: OffsetDateTime,
    to: OffsetDateTime,
    filter: &Filter,
) -> Vec<AccessChange> {
    let before = holdings_at(history, from, filter);
    let after = holdings_at(history, to, filter);
    let after_keys: BTreeSet<RowKey> = after.iter().map(|h| h.row.key()).collect();
    let before_keys: BTreeSet<RowKey> = before.iter().map(|h| h.row.key()).collect();
    let mut changes: Vec<AccessChange> = before
        .into_iter()
        .filter(|h| !after_keys.contains(&h.row.key()))
        .map(|h| AccessChange {
            change: ChangeKind::Lost,
            cause: first_end(&h.spans),
            row: h.row,
        })
        .collect();
    changes.extend(
        after
            .into_iter()
            .filter(|h| !before_keys.contains(&h.row.key()))
            .map(|h| AccessChange {
                change: ChangeKind::Gained,
                cause: h
                    .row
                    .since_record
                    .clone()
                    .zip(h.row.since)
                    .map(|(id, time)| RecordRef { id, time }),
                row: h.row,
            }),
    );
    changes
}

/// One access a leaver held when their clock started, and when it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaverAccess {
    /// The access.
    #[serde(flatten)]
    pub row: AccessRow,
    /// When it ended; `None` while it lasts.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub removed_at: Option<OffsetDateTime>,
    /// The record that ended it.
    #[serde(default)]
    pub removed_by: Option<String>,
    /// Seconds from the start of the clock to `removed_at` (0 when it ended first).
    #[serde(default)]
    pub seconds: Option<i64>,
    /// Over the threshold, or not removed and the threshold already passed.
    pub over_threshold: bool,
}

/// One leaver: a deactivation, from Okta to Identity Center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaver {
    /// Okta's user id.
    #[serde(default)]
    pub okta_user_id: Option<String>,
    /// Identity Center's user id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The user's `userName` when the clock started.
    #[serde(default)]
    pub user_name: Option<String>,
    /// When the clock started: Okta's `published` time of the event, or the arrival of
    /// the deactivation that came another way.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// What started it.
    pub start: StartKind,
    /// The record that carries the start.
    pub start_record: String,
    /// When Identity Center had the user deactivated (or deleted); `None` if not yet.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deactivated_at: Option<OffsetDateTime>,
    /// The record of the deactivation.
    #[serde(default)]
    pub deactivation_record: Option<String>,
    /// Seconds from the start to the deactivation (0 when it came first).
    #[serde(default)]
    pub deactivation_seconds: Option<i64>,
    /// Each access held when the clock started.
    pub access: Vec<LeaverAccess>,
    /// Whether the deactivation or any access removal took longer than the threshold,
    /// or has not happened and the threshold has passed.
    pub over_threshold: bool,
}

impl Leaver {
    /// Whether `user` names this leaver: Identity Center id, Okta id or userName (any
    /// case).
    pub fn is(&self, user: &str) -> bool {
        [
            self.user_id.as_deref(),
            self.okta_user_id.as_deref(),
            self.user_name.as_deref(),
        ]
        .into_iter()
        .flatten()
        .any(|have| same(user, have))
    }
}

fn seconds(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    (to - from).whole_seconds().max(0)
}

/// The leavers whose clock started in `[since, until)`: for each, the time from the
/// start to the user's deactivation in Identity Center and to the end of each access
/// they held, flagged over `threshold`. `now` judges what has not happened yet.
pub fn leavers(
    history: &History,
    since: OffsetDateTime,
    until: OffsetDateTime,
    threshold: Duration,
    now: OffsetDateTime,
) -> Vec<Leaver> {
    // One leaver per deactivation: Okta's event and the deactivation it caused (or a
    // SCIM call that came first) are the same leaver, timed from the earliest start.
    let mut by_deactivation: BTreeMap<(String, String), Leaver> = BTreeMap::new();
    let mut signals: Vec<_> = history
        .leave_signals
        .iter()
        .filter(|s| s.start >= since && s.start < until)
        .collect();
    signals.sort_by(|a, b| (a.start, &a.record.id).cmp(&(b.start, &b.record.id)));
    for signal in signals {
        let candidates: Vec<String> = match (&signal.user_id, &signal.okta_user_id) {
            (Some(id), _) if history.users.contains_key(id) => vec![id.clone()],
            (_, Some(okta)) => history
                .users_by_okta_id
                .get(okta)
                .map(|ids| ids.iter().cloned().collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        // The user active at the start, else the one most recently deactivated before
        // it (Identity Center was quicker than Okta's clock).
        let chosen = candidates
            .iter()
            .filter_map(|id| history.users.get(id).map(|u| (id, u)))
            .find_map(|(id, u)| u.active.at(signal.start).map(|span| (id, u, span)))
            .or_else(|| {
                candidates
                    .iter()
                    .filter_map(|id| history.users.get(id).map(|u| (id, u)))
                    .filter_map(|(id, u)| {
                        u.active
                            .all()
                            .iter()
                            .rev()
                            .find(|s| s.end.as_ref().is_some_and(|e| e.time <= signal.start))
                            .map(|span| (id, u, span))
                    })
                    .max_by_key(|(_, _, span)| span.end.as_ref().map(|e| e.time))
            });
        let leaver = match chosen {
            Some((id, user, span)) => {
                let deactivation = span.end.clone();
                let key = (
                    id.clone(),
                    deactivation
                        .as_ref()
                        .map_or_else(|| "open".to_owned(), |d| d.id.clone()),
                );
                if by_deactivation.contains_key(&key) {
                    continue;
                }
                // What the user held: at the start, or just before an earlier
                // deactivation.
                let held_at = match &deactivation {
                    Some(end) if end.time <= signal.start => end.time - Duration::nanoseconds(1),
                    _ => signal.start,
                };
                let filter = Filter {
                    user: Some(id.clone()),
                    ..Filter::default()
                };
                let access = holdings_at(history, held_at, &filter)
                    .into_iter()
                    .map(|h| {
                        let end = first_end(&h.spans);
                        let secs = end.as_ref().map(|e| seconds(signal.start, e.time));
                        let over = match secs {
                            Some(s) => s > threshold.whole_seconds(),
                            None => now - signal.start > threshold,
                        };
                        LeaverAccess {
                            row: h.row,
                            removed_at: end.as_ref().map(|e| e.time),
                            removed_by: end.map(|e| e.id),
                            seconds: secs,
                            over_threshold: over,
                        }
                    })
                    .collect::<Vec<_>>();
                let deactivation_seconds =
                    deactivation.as_ref().map(|d| seconds(signal.start, d.time));
                let late = match deactivation_seconds {
                    Some(s) => s > threshold.whole_seconds(),
                    None => now - signal.start > threshold,
                };
                let over = late || access.iter().any(|a| a.over_threshold);
                (
                    key,
                    Leaver {
                        okta_user_id: user
                            .external_id
                            .clone()
                            .or_else(|| signal.okta_user_id.clone()),
                        user_id: Some(id.clone()),
                        user_name: name_at(&user.names, held_at).map(str::to_owned),
                        started_at: signal.start,
                        start: signal.kind,
                        start_record: signal.record.id.clone(),
                        deactivated_at: deactivation.as_ref().map(|d| d.time),
                        deactivation_record: deactivation.map(|d| d.id),
                        deactivation_seconds,
                        access,
                        over_threshold: over,
                    },
                )
            }
            // Okta says the user left, and the trail knows no such user in Identity
            // Center: nothing to remove, shown so that nobody wonders.
            None => (
                (
                    signal.okta_user_id.clone().unwrap_or_default(),
                    format!("unknown:{}", signal.record.id),
                ),
                Leaver {
                    okta_user_id: signal.okta_user_id.clone(),
                    user_id: None,
                    user_name: None,
                    started_at: signal.start,
                    start: signal.kind,
                    start_record: signal.record.id.clone(),
                    deactivated_at: None,
                    deactivation_record: None,
                    deactivation_seconds: None,
                    access: Vec::new(),
                    over_threshold: false,
                },
            ),
        };
        by_deactivation.entry(leaver.0).or_insert(leaver.1);
    }
    let mut all: Vec<Leaver> = by_deactivation.into_values().collect();
    all.sort_by(|a, b| (a.started_at, &a.start_record).cmp(&(b.started_at, &b.start_record)));
    all
}
