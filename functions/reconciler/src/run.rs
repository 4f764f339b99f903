//! One scheduled run: plan what would make Identity Center match Okta
//! (`gateway::reconcile::make_plan`), apply the plan's changes in order in `apply` mode
//! while the invocation has time, and report: one summary audit record and one EMF
//! metrics document per run.
//!
//! The safety rules are the plan's: a plan over the threshold is `refused` and a
//! scheduled run never overrides it (it applies nothing and says so); a failed or
//! implausible read already kept every deactivation, deletion and member removal out of
//! the plan. A run that runs out of time stops between changes; the next run re-plans
//! from a fresh read and picks up the rest, and what was applied already plans as
//! nothing (each change re-reads what it changes before changing it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge::ReconcileMode;
use edge::metrics::{EmfSink, TargetCountsSource};
use gateway::audit::{AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome};
use gateway::ports::okta::OktaDirectory;
use gateway::reconcile::plan::Refusal;
use gateway::reconcile::{Action, Plan, Safety, apply_change, make_plan, reconcile_context};
use gateway::service::cause_chain;
use gateway::service::converge::EventVerdict;
use gateway::{AuditLog, Clock, GatewayError, ScimService};
use serde::Serialize;

use crate::metrics;

/// The credential the run's audit records name: the schedule, not a person.
pub const RECONCILE_CREDENTIAL: &str = "scheduled-reconciler";

/// After this many failed changes in a row the run stops applying: Identity Center (or
/// the token) is most likely failing them all, and the next run re-plans.
pub const MAX_CONSECUTIVE_FAILURES: usize = 5;

/// The longest summary kept in the audit record's `reason`.
pub const MAX_SUMMARY_CHARS: usize = 2_000;

/// How many withheld reasons the summary quotes before counting the rest.
const QUOTED_WITHHELD: usize = 3;

/// The `rule_set_version` of a run that could not read the rules (as the SCIM use
/// cases record it).
const RULES_UNAVAILABLE: &str = "unavailable";

/// How a run divides the invocation's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Kept free at the end for the summary record and the metrics.
    pub margin: Duration,
    /// The longest one change takes (the service's request budget, retries included): a
    /// change is started only while this much time is left before the margin.
    pub per_change: Duration,
}

/// Why a run stopped applying before the end of its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// The invocation's time ran out; the next run picks up the rest.
    OutOfTime,
    /// [`MAX_CONSECUTIVE_FAILURES`] changes failed in a row.
    Failing,
    /// The audit trail refused a change's intent record: that change was not made, and
    /// no other is tried until the trail takes records again (the next run).
    AuditUnavailable,
}

/// What a run found and did: the Lambda's answer, the summary record's and the metrics'
/// source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    /// The run's id (the invocation's request id).
    pub run: String,
    /// `report` or `apply`.
    pub mode: &'static str,
    /// The rule set the plan was computed under.
    pub rule_set_version: String,
    /// The plan's changes.
    pub changes: usize,
    /// The plan's changes by kind.
    pub by_action: BTreeMap<Action, usize>,
    /// Changes applied.
    pub applied: usize,
    /// Changes that turned out to need nothing when applied (already in step).
    pub in_step: usize,
    /// Changes that failed.
    pub failed: usize,
    /// Changes not attempted (report mode, a refused plan, or a stop): the next run
    /// plans them again.
    pub left: usize,
    /// Why applying stopped early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<Stop>,
    /// Set when the plan took away more than the threshold allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// Why deactivations, deletions and member removals were held back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Resources Okta has in scope that the rules refuse to provision.
    pub notes: usize,
    /// Resources the plan leaves alone (not the gateway's).
    pub left_alone: usize,
    /// HTTP requests the run sent to Identity Center.
    pub target_calls: u64,
    /// Audit records that could not be appended: the changes' intents and outcomes, and
    /// the run's summary.
    pub audit_append_failed: u64,
}

impl RunReport {
    fn new(run: &str, mode: ReconcileMode, plan: &Plan) -> Self {
        let mut by_action = BTreeMap::new();
        for change in &plan.changes {
            *by_action.entry(change.action).or_insert(0) += 1;
        }
        Self {
            run: run.to_owned(),
            mode: mode.as_str(),
            rule_set_version: plan.rule_set_version.clone(),
            changes: plan.changes.len(),
            by_action,
            applied: 0,
            in_step: 0,
            failed: 0,
            left: plan.changes.len(),
            stopped: None,
            refused: plan.refused.clone(),
            withheld: plan.withheld.clone(),
            notes: plan.notes.len(),
            left_alone: plan.left_alone.len(),
            target_calls: 0,
            audit_append_failed: 0,
        }
    }

    /// The planned changes of one kind.
    pub fn planned(&self, action: Action) -> usize {
        self.by_action.get(&action).copied().unwrap_or(0)
    }

    /// The audit record's `reason`: counts, what was done, what was held back and why,
    /// on one line of at most [`MAX_SUMMARY_CHARS`] characters.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        let kinds: Vec<String> = metrics::ACTIONS
            .iter()
            .filter(|a| self.planned(**a) > 0)
            .map(|a| format!("{} {}", a.as_str(), self.planned(*a)))
            .collect();
        parts.push(if kinds.is_empty() {
            format!("{} mode: no drift", self.mode)
        } else {
            format!(
                "{} mode: {} changes ({})",
                self.mode,
                self.changes,
                kinds.join(", ")
            )
        });
        if self.mode == ReconcileMode::Apply.as_str() {
            parts.push(format!(
                "applied {}, in step {}, failed {}, left {}",
                self.applied, self.in_step, self.failed, self.left
            ));
        }
        match self.stopped {
            Some(Stop::OutOfTime) => parts.push("out of time: the next run goes on".to_owned()),
            Some(Stop::Failing) => parts.push(format!(
                "stopped after {MAX_CONSECUTIVE_FAILURES} failures in a row"
            )),
            Some(Stop::AuditUnavailable) => parts.push(
                "stopped: the audit trail refused a change's intent record; nothing after it \
                 was applied"
                    .to_owned(),
            ),
            None => {}
        }
        if let Some(refusal) = &self.refused {
            parts.push(format!(
                "refused: {} deactivations, deletions and member removals of {} managed \
                 objects, at most {} allowed; nothing applied (a scheduled run never overrides)",
                refusal.destructive, refusal.managed, refusal.allowed
            ));
        }
        if !self.withheld.is_empty() {
            let mut quoted: Vec<&str> = self
                .withheld
                .iter()
                .take(QUOTED_WITHHELD)
                .map(String::as_str)
                .collect();
            let more = self.withheld.len().saturating_sub(QUOTED_WITHHELD);
            let more = format!("{more} more");
            if self.withheld.len() > QUOTED_WITHHELD {
                quoted.push(&more);
            }
            parts.push(format!(
                "withheld deactivations, deletions and member removals: {}",
                quoted.join("; ")
            ));
        }
        if self.notes > 0 {
            parts.push(format!("{} not provisioned under the rules", self.notes));
        }
        if self.left_alone > 0 {
            parts.push(format!("{} left alone", self.left_alone));
        }
        one_line(&parts.join("; "), MAX_SUMMARY_CHARS)
    }
}

/// `text` on one line (line breaks become spaces), cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max.saturating_sub(1)) {
        Some((at, _)) if flat.chars().count() > max => format!("{}…", &flat[..at]),
        _ => flat,
    }
}

/// The scheduled reconciler, built once per cold start.
pub struct Reconciler {
    /// The SCIM use cases (target, rules, mirror, audit) the changes are applied through.
    pub service: Arc<ScimService>,
    /// Okta's directory.
    pub okta: Arc<dyn OktaDirectory>,
    /// Where the run's summary record goes (the service's audit log).
    pub audit: Arc<dyn AuditLog>,
    /// The time of the records and of the plan's deletion grace.
    pub clock: Arc<dyn Clock>,
    /// The target client's request counts, read and reset.
    pub target_counts: TargetCountsSource,
    /// Where the metrics document goes.
    pub sink: Arc<dyn EmfSink>,
    /// The function's deployed name (the metrics' `Function` dimension).
    pub function: String,
    /// Whether runs apply their plans.
    pub mode: ReconcileMode,
    /// The deletion threshold (never overridden by a scheduled run).
    pub safety: Safety,
    /// How the invocation's time is divided.
    pub timing: Timing,
}

impl Reconciler {
    /// One run with `time_left` until the invocation's deadline. `Err` only when no
    /// plan could be made (the rules could not be read): that run's record says so, and
    /// the invocation fails, which alarms.
    pub async fn run(&self, run: &str, time_left: Duration) -> Result<RunReport, GatewayError> {
        let started = Instant::now();
        let started_at = self.clock.now();
        // Counts from here on are this run's.
        let _ = (self.target_counts)();
        let _ = self.service.take_audit_append_failures();
        let usable = time_left.saturating_sub(self.timing.margin);
        let end = started.checked_add(usable).unwrap_or(started);
        // Reading Identity Center gets at most half the time: Okta's reads and the
        // changes need the rest.
        // The whole plan, Okta's reads included, within the usable time: a slow Okta
        // must still leave room for the record and the metrics.
        let plan = match tokio::time::timeout(
            usable,
            make_plan(
                &self.service,
                self.okta.as_ref(),
                self.safety,
                usable / 2,
                started_at,
            ),
        )
        .await
        {
            Ok(plan) => plan,
            Err(_) => Err(GatewayError::Unexpected(anyhow::anyhow!(
                "the plan did not finish within the run's {} s",
                usable.as_secs()
            ))),
        };
        let plan = match plan {
            Ok((plan, _)) => plan,
            Err(error) => {
                let calls = (self.target_counts)().calls;
                self.record_failure(run, started, started_at, calls, &error)
                    .await;
                return Err(error);
            }
        };
        let mut report = RunReport::new(run, self.mode, &plan);
        if self.mode == ReconcileMode::Apply && plan.refused.is_none() {
            self.apply(run, &plan, end, &mut report).await;
        }
        report.target_calls = (self.target_counts)().calls;
        tracing::info!(
            run,
            mode = report.mode,
            changes = report.changes,
            applied = report.applied,
            failed = report.failed,
            left = report.left,
            refused = report.refused.is_some(),
            withheld = report.withheld.len(),
            "reconcile run"
        );
        let outcome = if report.refused.is_some() {
            Outcome::Refused
        } else {
            Outcome::Success
        };
        report.audit_append_failed = self.service.take_audit_append_failures();
        // The summary goes first, so that the metrics count its append too.
        let summarized = self
            .record(AuditRecord {
                outcome,
                // What a SCIM client would have been answered: done, or a conflict with the
                // safety threshold.
                status: if report.refused.is_some() { 409 } else { 200 },
                rule_set_version: report.rule_set_version.clone(),
                target_calls: u32::try_from(report.target_calls).unwrap_or(u32::MAX),
                reason: Some(report.summary()),
                ..summary_record(run, started, started_at)
            })
            .await;
        if !summarized {
            report.audit_append_failed += 1;
        }
        self.sink
            .write_line(&metrics::document(&report, &self.function).to_line());
        Ok(report)
    }

    /// Applies the plan's changes in order until they are done, the time is up, or
    /// they keep failing.
    async fn apply(&self, run: &str, plan: &Plan, end: Instant, report: &mut RunReport) {
        let ctx = reconcile_context(run, RECONCILE_CREDENTIAL);
        let mut failing = 0;
        for change in &plan.changes {
            if Instant::now()
                .checked_add(self.timing.per_change)
                .is_none_or(|done| done > end)
            {
                report.stopped = Some(Stop::OutOfTime);
                break;
            }
            if failing >= MAX_CONSECUTIVE_FAILURES {
                report.stopped = Some(Stop::Failing);
                break;
            }
            match apply_change(&self.service, change, &ctx).await {
                Ok(EventVerdict::Applied) => {
                    report.applied += 1;
                    failing = 0;
                }
                Ok(EventVerdict::Skipped(_)) => {
                    report.in_step += 1;
                    failing = 0;
                }
                Err(error @ GatewayError::AuditUnavailable(_)) => {
                    // No change without its trace: the rest waits for the next run.
                    report.failed += 1;
                    report.left -= 1;
                    report.stopped = Some(Stop::AuditUnavailable);
                    tracing::error!(
                        run,
                        action = change.action.as_str(),
                        error.cause_chain = %cause_chain(&error),
                        "the audit trail refused a change's intent record; applying stops"
                    );
                    break;
                }
                Err(error) => {
                    report.failed += 1;
                    failing += 1;
                    tracing::warn!(
                        run,
                        action = change.action.as_str(),
                        resource_type = ?change.resource_type,
                        okta_id = change.okta_id.as_deref().unwrap_or_default(),
                        ic_id = change.ic_id.as_deref().unwrap_or_default(),
                        error.cause_chain = %cause_chain(&error),
                        "a change failed; the next run plans it again"
                    );
                }
            }
            report.left -= 1;
        }
    }

    async fn record_failure(
        &self,
        run: &str,
        started: Instant,
        started_at: time::OffsetDateTime,
        target_calls: u64,
        error: &GatewayError,
    ) {
        tracing::error!(run, error.cause_chain = %cause_chain(error), "no plan could be made");
        self.record(AuditRecord {
            outcome: Outcome::Failure,
            status: error.status(),
            target_calls: u32::try_from(target_calls).unwrap_or(u32::MAX),
            error: Some(one_line(&cause_chain(error), MAX_SUMMARY_CHARS)),
            reason: Some("no plan could be made; nothing was applied".to_owned()),
            ..summary_record(run, started, started_at)
        })
        .await;
    }

    /// Appends the run's record, answering whether it was written; a failed append is
    /// logged with the whole record (counts and reasons, no personal data) and does not
    /// fail the run, whose changes have their own records.
    async fn record(&self, record: AuditRecord) -> bool {
        if let Err(error) = self.audit.append(record.clone()).await {
            let json = serde_json::to_string(&record).unwrap_or_default();
            tracing::error!(error = %error, record = %json, "the run's audit record could not be written");
            return false;
        }
        true
    }
}

/// The fields every run summary record shares.
fn summary_record(run: &str, started: Instant, started_at: time::OffsetDateTime) -> AuditRecord {
    AuditRecord {
        time: started_at,
        source: AuditSource::Reconcile {
            run: run.to_owned(),
        },
        actor: AuditActor {
            credential: RECONCILE_CREDENTIAL.to_owned(),
            user_agent: None,
        },
        subject: AuditSubject::default(),
        operation: AuditOperation::Reconcile,
        membership: None,
        changes: Vec::new(),
        query: None,
        rule_set_version: RULES_UNAVAILABLE.to_owned(),
        outcome: Outcome::Success,
        status: 200,
        target_status: None,
        target_calls: 0,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        correlation_id: run.to_owned(),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;
    use edge::metrics::RecordingSink;
    use gateway::audit::InMemoryAuditLog;
    use gateway::ports::okta::{OktaError, OktaGroup, OktaUser};
    use gateway::rules::{IdentityRules, RuleSource};
    use gateway::testing::{ScriptedTargetClient, UnavailableRules};
    use gateway::{CallCounts, FixedClock, TargetError};
    use serde_json::{Value, json};
    use time::macros::datetime;

    use super::*;

    const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn user_id(n: usize) -> String {
        format!("00u{n:017}")
    }

    fn group_id(n: usize) -> String {
        format!("00g{n:017}")
    }

    fn okta_user(n: usize) -> OktaUser {
        serde_json::from_value(json!({
            "id": user_id(n), "status": "ACTIVE",
            "profile": {"login": format!("user{n}@example.com"), "email": format!("user{n}@example.com"),
                        "firstName": "User", "lastName": format!("Number{n}")}
        }))
        .unwrap()
    }

    fn okta_group(n: usize, name: &str) -> OktaGroup {
        serde_json::from_value(
            json!({"id": group_id(n), "type": "OKTA_GROUP", "profile": {"name": name}}),
        )
        .unwrap()
    }

    /// An Identity Center user the gateway made for Okta user `n`.
    fn managed_user(n: usize) -> Value {
        json!({
            "schemas": [USER_SCHEMA], "userName": format!("user{n}@example.com"),
            "externalId": user_id(n), "active": true, "displayName": format!("User Number{n}"),
            "name": {"givenName": "User", "familyName": format!("Number{n}")},
            "emails": [{"value": format!("user{n}@example.com"), "type": "work", "primary": true}]
        })
    }

    /// Okta's directory in memory; `users()` fails on cue.
    #[derive(Default)]
    struct FakeOkta {
        users: Vec<OktaUser>,
        groups: Vec<OktaGroup>,
        members: HashMap<String, Vec<String>>,
        listing_fails: bool,
    }

    impl FakeOkta {
        /// Users 1..=n, all in group 1 ("Engineering").
        fn with_users(n: usize) -> Self {
            Self {
                users: (1..=n).map(okta_user).collect(),
                groups: vec![okta_group(1, "Engineering")],
                members: [(group_id(1), (1..=n).map(user_id).collect())].into(),
                listing_fails: false,
            }
        }
    }

    #[async_trait]
    impl OktaDirectory for FakeOkta {
        async fn user(&self, id: &str) -> Result<Option<OktaUser>, OktaError> {
            Ok(self.users.iter().find(|u| u.id == id).cloned())
        }
        async fn group(&self, id: &str) -> Result<Option<OktaGroup>, OktaError> {
            Ok(self.groups.iter().find(|g| g.id == id).cloned())
        }
        async fn user_groups(&self, user_id: &str) -> Result<Option<Vec<OktaGroup>>, OktaError> {
            Ok(Some(
                self.groups
                    .iter()
                    .filter(|g| {
                        self.members
                            .get(&g.id)
                            .is_some_and(|m| m.iter().any(|u| u == user_id))
                    })
                    .cloned()
                    .collect(),
            ))
        }
        async fn group_members(&self, group_id: &str) -> Result<Option<Vec<OktaUser>>, OktaError> {
            if !self.groups.iter().any(|g| g.id == group_id) {
                return Ok(None);
            }
            let ids = self.members.get(group_id).cloned().unwrap_or_default();
            Ok(Some(
                self.users
                    .iter()
                    .filter(|u| ids.contains(&u.id))
                    .cloned()
                    .collect(),
            ))
        }
        async fn users(&self) -> Result<Vec<OktaUser>, OktaError> {
            if self.listing_fails {
                return Err(OktaError::Unavailable("connection reset".into()));
            }
            Ok(self.users.clone())
        }
        async fn groups(&self) -> Result<Vec<OktaGroup>, OktaError> {
            Ok(self.groups.clone())
        }
        async fn is_assigned_to_app(&self, _app: &str, _user: &str) -> Result<bool, OktaError> {
            Ok(true)
        }
        async fn app_user_ids(&self, _app: &str) -> Result<Vec<String>, OktaError> {
            Ok(self.users.iter().map(|u| u.id.clone()).collect())
        }
    }

    struct Fixture {
        reconciler: Reconciler,
        target: Arc<ScriptedTargetClient>,
        audit: Arc<InMemoryAuditLog>,
        sink: RecordingSink,
    }

    fn fixture(okta: FakeOkta, target: ScriptedTargetClient, mode: ReconcileMode) -> Fixture {
        fixture_with_rules(okta, target, mode, Arc::new(IdentityRules::new()))
    }

    fn fixture_with_rules(
        okta: FakeOkta,
        target: ScriptedTargetClient,
        mode: ReconcileMode,
        rules: Arc<dyn RuleSource>,
    ) -> Fixture {
        let target = Arc::new(target);
        let audit = Arc::new(InMemoryAuditLog::new());
        let sink = RecordingSink::default();
        let clock = Arc::new(FixedClock::new(datetime!(2025-03-01 12:00 UTC)));
        let service = ScimService::new(
            target.clone(),
            rules,
            audit.clone(),
            clock.clone(),
            Duration::from_secs(5),
        );
        // What the HTTP client's counters would say: calls since the last read.
        let counted = Arc::new(AtomicUsize::new(0));
        let calls = {
            let target = target.clone();
            move || {
                let total = target.calls().len();
                let before = counted.swap(total, Ordering::Relaxed);
                CallCounts {
                    calls: (total - before) as u64,
                    ..CallCounts::default()
                }
            }
        };
        Fixture {
            reconciler: Reconciler {
                service: Arc::new(service),
                okta: Arc::new(okta),
                audit: audit.clone(),
                clock,
                target_counts: Arc::new(calls),
                sink: Arc::new(sink.clone()),
                function: "scimgw-ReconcilerFunction-1".to_owned(),
                mode,
                safety: Safety::default(),
                timing: Timing {
                    margin: Duration::ZERO,
                    per_change: Duration::from_secs(5),
                },
            },
            target,
            audit,
            sink,
        }
    }

    const PLENTY: Duration = Duration::from_secs(600);

    /// The run's summary record: the last one, of operation `reconcile`.
    fn summary(audit: &InMemoryAuditLog) -> AuditRecord {
        let record = audit.records().pop().expect("a record");
        assert_eq!(record.operation, AuditOperation::Reconcile);
        record
    }

    /// The one metrics document's values, by name.
    fn metrics_of(sink: &RecordingSink) -> serde_json::Map<String, Value> {
        let documents = sink.documents();
        assert_eq!(documents.len(), 1, "{documents:?}");
        documents[0].as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn a_report_run_plans_and_reports_the_drift_and_changes_nothing() {
        // Arrange
        let f = fixture(
            FakeOkta::with_users(1),
            ScriptedTargetClient::new(),
            ReconcileMode::Report,
        );

        // Act
        let report = f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert
        assert_eq!(report.changes, 3, "{report:?}");
        assert_eq!((report.applied, report.left), (0, 3));
        assert!(f.target.writes().is_empty(), "{:?}", f.target.writes());
        let records = f.audit.records();
        assert_eq!(records.len(), 1, "only the summary: {records:?}");
        let record = summary(&f.audit);
        assert_eq!(
            record.source,
            AuditSource::Reconcile {
                run: "run-1".into()
            }
        );
        assert_eq!(record.actor.credential, RECONCILE_CREDENTIAL);
        assert_eq!(record.correlation_id, "run-1");
        assert_eq!(record.outcome, Outcome::Success);
        assert!(record.changes.is_empty());
        assert_eq!(
            record.reason.as_deref(),
            Some("report mode: 3 changes (create 2, add_member 1)")
        );
        assert_eq!(u64::from(record.target_calls), report.target_calls);
        assert!(report.target_calls > 0, "Identity Center was read");
        let metrics = metrics_of(&f.sink);
        assert_eq!(metrics[metrics::DRIFT_CHANGES], json!(3.0));
        assert_eq!(metrics[metrics::DRIFT_CREATE], json!(2.0));
        assert_eq!(metrics[metrics::DRIFT_ADD_MEMBER], json!(1.0));
        assert_eq!(metrics[metrics::DRIFT_DELETE], json!(0.0));
        assert_eq!(metrics[metrics::DRIFT_APPLIED], json!(0.0));
        assert_eq!(metrics[metrics::RECONCILE_REFUSED], json!(0.0));
        assert_eq!(metrics["Function"], "scimgw-ReconcilerFunction-1");
        assert_eq!(metrics["Mode"], "report");
    }

    #[tokio::test]
    async fn an_apply_run_applies_the_plan_in_order_and_the_next_run_finds_no_drift() {
        // Arrange
        let f = fixture(
            FakeOkta::with_users(2),
            ScriptedTargetClient::new(),
            ReconcileMode::Apply,
        );

        // Act
        let first = f.reconciler.run("run-1", PLENTY).await.unwrap();
        let second = f.reconciler.run("run-2", PLENTY).await.unwrap();

        // Assert
        assert_eq!(first.changes, 5, "{first:?}");
        assert_eq!((first.applied, first.failed, first.left), (5, 0, 0));
        assert_eq!(second.changes, 0, "{second:?}");
        let records = f.audit.records();
        let kinds: Vec<AuditOperation> = records.iter().map(|r| r.operation).collect();
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == AuditOperation::Reconcile)
                .count(),
            2
        );
        assert!(
            records.iter().all(
                |r| matches!(&r.source, AuditSource::Reconcile { run } if run.starts_with("run-"))
            ),
            "every change is recorded as the run's"
        );
        assert_eq!(
            summary(&f.audit).reason.as_deref(),
            Some("apply mode: no drift; applied 0, in step 0, failed 0, left 0")
        );
        let documents = f.sink.documents();
        assert_eq!(documents[0][metrics::DRIFT_APPLIED], json!(5.0));
        assert_eq!(documents[1][metrics::DRIFT_CHANGES], json!(0.0));
    }

    #[tokio::test]
    async fn a_plan_over_the_threshold_is_refused_and_nothing_is_applied() {
        // Arrange: Identity Center holds 8 managed users, Okta has only the first.
        let target = ScriptedTargetClient::new();
        for n in 1..=8 {
            target.seed_user(managed_user(n));
        }
        let okta = FakeOkta {
            users: vec![okta_user(1)],
            ..FakeOkta::default()
        };
        let f = fixture(okta, target, ReconcileMode::Apply);

        // Act
        let report = f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert
        assert_eq!(report.planned(Action::Deactivate), 7, "{report:?}");
        assert!(report.refused.is_some());
        assert_eq!((report.applied, report.left), (0, report.changes));
        assert!(f.target.writes().is_empty(), "{:?}", f.target.writes());
        let record = summary(&f.audit);
        assert_eq!(record.outcome, Outcome::Refused);
        assert_eq!(record.status, 409);
        let reason = record.reason.unwrap_or_default();
        assert!(reason.contains("refused: 7 deactivations"), "{reason}");
        assert_eq!(metrics_of(&f.sink)[metrics::RECONCILE_REFUSED], json!(1.0));
    }

    #[tokio::test]
    async fn a_failed_okta_read_withholds_what_takes_access_away_and_says_why() {
        // Arrange
        let target = ScriptedTargetClient::new();
        target.seed_user(managed_user(1));
        let okta = FakeOkta {
            listing_fails: true,
            ..FakeOkta::default()
        };
        let f = fixture(okta, target, ReconcileMode::Apply);

        // Act
        let report = f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert
        assert_eq!(report.changes, 0, "{report:?}");
        assert!(f.target.writes().is_empty());
        let record = summary(&f.audit);
        assert_eq!(record.outcome, Outcome::Success);
        let reason = record.reason.unwrap_or_default();
        assert!(
            reason.contains(
                "withheld deactivations, deletions and member removals: Okta: listing users"
            ),
            "{reason}"
        );
        let metrics = metrics_of(&f.sink);
        assert_eq!(metrics[metrics::RECONCILE_WITHHELD], json!(1.0));
        assert_eq!(metrics[metrics::DRIFT_DEACTIVATE], json!(0.0));
    }

    #[tokio::test]
    async fn a_run_out_of_time_stops_between_changes_and_leaves_the_rest_to_the_next() {
        // Arrange
        let f = fixture(
            FakeOkta::with_users(1),
            ScriptedTargetClient::new(),
            ReconcileMode::Apply,
        );

        // Act: no time left beyond the plan.
        let report = f.reconciler.run("run-1", Duration::ZERO).await.unwrap();

        // Assert
        assert_eq!(report.stopped, Some(Stop::OutOfTime));
        assert_eq!((report.applied, report.left), (0, 3));
        assert!(f.target.writes().is_empty());
        let reason = summary(&f.audit).reason.unwrap_or_default();
        assert!(reason.contains("left 3; out of time"), "{reason}");
    }

    #[tokio::test]
    async fn applying_stops_after_a_run_of_failures() {
        // Arrange: seven users to create, and Identity Center refusing every creation.
        let target = ScriptedTargetClient::new();
        for _ in 0..20 {
            target.fail_next(
                "create_user",
                TargetError::Rejected {
                    status: 400,
                    scim_type: None,
                    detail: "no".into(),
                },
            );
        }
        let okta = FakeOkta {
            users: (1..=7).map(okta_user).collect(),
            ..FakeOkta::default()
        };
        let f = fixture(okta, target, ReconcileMode::Apply);

        // Act
        let report = f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert
        assert_eq!(report.changes, 7, "{report:?}");
        assert_eq!(report.stopped, Some(Stop::Failing));
        assert_eq!((report.failed, report.left), (MAX_CONSECUTIVE_FAILURES, 2));
        assert_eq!(metrics_of(&f.sink)[metrics::DRIFT_FAILED], json!(5.0));
        assert_eq!(summary(&f.audit).outcome, Outcome::Success);
    }

    /// An audit trail that takes its first `room` records and refuses every later one.
    struct FillsUp {
        room: usize,
        taken: std::sync::Mutex<Vec<AuditRecord>>,
    }

    #[async_trait]
    impl AuditLog for FillsUp {
        async fn append(&self, record: AuditRecord) -> Result<(), gateway::AuditError> {
            let mut taken = self.taken.lock().unwrap();
            if taken.len() >= self.room {
                return Err(gateway::AuditError::Unavailable("throttled".into()));
            }
            taken.push(record);
            Ok(())
        }
    }

    #[tokio::test]
    async fn applying_stops_at_the_change_whose_intent_the_trail_refuses() {
        // Arrange: three changes (create a user, a group, the membership); the trail
        // takes the first change's intent and outcome, then nothing.
        let mut f = fixture(
            FakeOkta::with_users(1),
            ScriptedTargetClient::new(),
            ReconcileMode::Apply,
        );
        let audit = Arc::new(FillsUp {
            room: 2,
            taken: std::sync::Mutex::default(),
        });
        f.reconciler.service = Arc::new(ScimService::new(
            f.target.clone(),
            Arc::new(IdentityRules::new()),
            audit.clone(),
            f.reconciler.clock.clone(),
            Duration::from_secs(5),
        ));
        f.reconciler.audit = audit.clone();

        // Act
        let report = f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert: the first change made, the second refused before it reached Identity
        // Center, the third not tried.
        assert_eq!(report.changes, 3, "{report:?}");
        assert_eq!(report.stopped, Some(Stop::AuditUnavailable));
        assert_eq!(
            (report.applied, report.failed, report.left),
            (1, 1, 1),
            "{report:?}"
        );
        assert_eq!(f.target.writes().len(), 1, "{:?}", f.target.writes());
        let taken = audit.taken.lock().unwrap().clone();
        assert_eq!(
            taken.iter().map(|r| r.outcome).collect::<Vec<_>>(),
            [Outcome::Intent, Outcome::Success]
        );
        assert!(report.summary().contains("audit trail refused"));
        // The second change's intent and outcome, and the run's summary.
        assert_eq!(report.audit_append_failed, 3);
        assert_eq!(
            metrics_of(&f.sink)[edge::metrics::AUDIT_APPEND_FAILED],
            json!(3.0)
        );
    }

    #[tokio::test]
    async fn a_run_that_cannot_read_the_rules_fails_with_a_record_and_no_metrics() {
        // Arrange
        let f = fixture_with_rules(
            FakeOkta::with_users(1),
            ScriptedTargetClient::new(),
            ReconcileMode::Apply,
            Arc::new(UnavailableRules),
        );

        // Act
        let result = f.reconciler.run("run-1", PLENTY).await;

        // Assert
        assert!(result.is_err());
        let record = summary(&f.audit);
        assert_eq!(record.outcome, Outcome::Failure);
        assert_eq!(record.rule_set_version, "unavailable");
        assert!(record.error.is_some());
        assert!(f.sink.documents().is_empty());
        assert!(f.target.writes().is_empty());
    }

    #[tokio::test]
    async fn the_metrics_document_carries_every_metric_under_the_function_dimension() {
        // Arrange
        let f = fixture(
            FakeOkta::default(),
            ScriptedTargetClient::new(),
            ReconcileMode::Report,
        );

        // Act
        f.reconciler.run("run-1", PLENTY).await.unwrap();

        // Assert
        let document = &f.sink.documents()[0];
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], edge::metrics::NAMESPACE);
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["Name"].as_str())
            .collect();
        // Its own metrics, and `edge::metrics`' count of failed audit appends.
        let mut expected = metrics::METRIC_NAMES.to_vec();
        expected.push(edge::metrics::AUDIT_APPEND_FAILED);
        assert_eq!(names, expected);
        for name in metrics::METRIC_NAMES {
            assert!(document[name].is_number(), "{name}");
        }
        assert_eq!(document[edge::metrics::AUDIT_APPEND_FAILED], json!(0.0));
    }

    #[test]
    fn the_summary_is_one_capped_line_quoting_a_few_withheld_reasons() {
        // Arrange
        let mut report = RunReport {
            run: "run-1".into(),
            mode: "apply",
            rule_set_version: "3".into(),
            changes: 1,
            by_action: [(Action::Update, 1)].into(),
            applied: 1,
            in_step: 0,
            failed: 0,
            left: 0,
            stopped: None,
            refused: None,
            withheld: (0..5).map(|i| format!("Okta: group {i}\nfailed")).collect(),
            notes: 2,
            left_alone: 1,
            target_calls: 4,
            audit_append_failed: 0,
        };

        // Act
        let summary = report.summary();
        report.withheld = vec!["x".repeat(3 * MAX_SUMMARY_CHARS)];
        let long = report.summary();

        // Assert
        assert!(!summary.contains('\n'), "{summary}");
        assert!(
            summary.starts_with("apply mode: 1 changes (update 1); applied 1"),
            "{summary}"
        );
        assert!(
            summary.contains("Okta: group 2 failed; 2 more"),
            "{summary}"
        );
        assert!(!summary.contains("group 3"), "{summary}");
        assert!(
            summary.ends_with("2 not provisioned under the rules; 1 left alone"),
            "{summary}"
        );
        assert_eq!(long.chars().count(), MAX_SUMMARY_CHARS);
    }
}
