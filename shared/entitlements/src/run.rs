//! One unattended run of the stack's entitlements function (`docs/entitlements.md`,
//! "In the stack"): what started it ([`Trigger`], read from the invocation's event), the
//! plan of the active document, and in `apply` mode that plan applied, unless the
//! breaker refuses it.
//!
//! - Every trigger plans the whole organization: a plan reads the OU tree and the
//!   groups' assignments in one pass (a few hundred calls for 500 accounts), so an
//!   account event or a new group costs no more than a scheduled run, and a full plan
//!   also repairs whatever a lost event missed.
//! - A plan the breaker refuses (it deletes more than the threshold's share of the
//!   managed assignments) is **withheld**: nothing of it is applied, not even its
//!   creations, and the run's summary record (outcome `refused`, status 409) and a
//!   warning in the log name the plan id an administrator approves with
//!   `scimgw entitlements apply --plan PLAN.json --approve PLAN_ID`. An unattended run
//!   never approves.
//! - Every run ends with one summary audit record (source `entitlements`, operation
//!   `reconcile`); each assignment created or deleted has its own (`apply`).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use gateway::audit::{
    AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome as AuditOutcome,
};
use gateway::rule_store::RuleStore;
use gateway::{AuditLog, Clock};
use serde::Serialize;
use serde_json::Value;

use crate::apply::{Applier, apply};
use crate::document::Document;
use crate::execute::{AssignmentApi, Limits};
use crate::ledger::ManagedLedger;
use crate::plan::{Plan, Refusal, Safety, pending_name, plan};
use crate::state::Observed;

/// The credential the unattended runs' audit records name: the function, not a person.
pub const RUN_CREDENTIAL: &str = "entitlements-function";

/// The Control Tower lifecycle events that start a run: an account vended, or updated
/// (moved to another OU) by Control Tower's Account Factory
/// (<https://docs.aws.amazon.com/controltower/latest/userguide/lifecycle-events.html>).
pub const CONTROL_TOWER_EVENTS: [&str; 2] = ["CreateManagedAccount", "UpdateManagedAccount"];

/// The Organizations events that start a run: an account moved between OUs, created
/// (`CreateAccountResult`, the end of the asynchronous `CreateAccount`), or joining
/// the organization by accepting its invitation
/// (Organizations' CloudTrail events, and that they are recorded in us-east-1:
/// <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_cloudtrail-integration.html>;
/// EventBridge's reference for them:
/// <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-organizations.html>).
pub const ORGANIZATIONS_EVENTS: [&str; 3] =
    ["MoveAccount", "CreateAccountResult", "AcceptHandshake"];

/// What started a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trigger {
    /// The schedule (drift repair).
    Schedule,
    /// Control Tower or Organizations changed an account: `source` is the event's
    /// (`aws.controltower`, `aws.organizations`), `event_name` CloudTrail's.
    Account {
        /// The event's source.
        source: String,
        /// The CloudTrail event name.
        event_name: String,
        /// The account, when the event names it.
        #[serde(skip_serializing_if = "Option::is_none")]
        account_id: Option<String>,
    },
    /// Groups pushed from Okta were created (the SCIM function's signal, one or more
    /// queue messages).
    GroupsCreated {
        /// The Identity Center group ids.
        group_ids: Vec<String>,
    },
}

/// A group creation signalled by the SCIM function: one queue message's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GroupCreated {
    /// Always `group_created`.
    pub kind: String,
    /// The Identity Center group id.
    pub group_id: String,
}

impl GroupCreated {
    /// The signal for the group `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        Self {
            kind: GROUP_CREATED.to_owned(),
            group_id: group_id.into(),
        }
    }
}

/// [`GroupCreated::kind`].
pub const GROUP_CREATED: &str = "group_created";

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

impl Trigger {
    /// Reads an invocation's event: an EventBridge schedule's (`Scheduled Event`), a
    /// Control Tower lifecycle event or an Organizations event delivered through
    /// CloudTrail (forwarded from us-east-1 when the stack is elsewhere: the event is the
    /// same), or an SQS batch of [`GroupCreated`] messages. Anything else is refused: a
    /// function invoked with what it does not know plans nothing.
    pub fn from_event(event: &Value) -> Result<Self, String> {
        if let Some(records) = event.get("Records").and_then(Value::as_array) {
            let mut group_ids = Vec::new();
            for record in records {
                let body = text(record, &["body"]).unwrap_or_default();
                let signal: GroupCreated = serde_json::from_str(body)
                    .map_err(|e| format!("a queue message that is not a group signal: {e}"))?;
                if signal.kind != GROUP_CREATED {
                    return Err(format!("a queue message of kind {:?}", signal.kind));
                }
                group_ids.push(signal.group_id);
            }
            return Ok(Self::GroupsCreated { group_ids });
        }
        let source = text(event, &["source"]).unwrap_or_default();
        let detail_type = text(event, &["detail-type"]).unwrap_or_default();
        let event_name = text(event, &["detail", "eventName"]).unwrap_or_default();
        match (source, detail_type) {
            ("aws.events", "Scheduled Event") => Ok(Self::Schedule),
            ("aws.controltower", _) if CONTROL_TOWER_EVENTS.contains(&event_name) => {
                // The status object is named after the event: createManagedAccountStatus,
                // updateManagedAccountStatus.
                let status = format!(
                    "{}{}Status",
                    event_name[..1].to_ascii_lowercase(),
                    &event_name[1..]
                );
                let account_id = text(
                    event,
                    &[
                        "detail",
                        "serviceEventDetails",
                        &status,
                        "account",
                        "accountId",
                    ],
                );
                Ok(Self::Account {
                    source: source.to_owned(),
                    event_name: event_name.to_owned(),
                    account_id: account_id.map(str::to_owned),
                })
            }
            ("aws.organizations", _) if ORGANIZATIONS_EVENTS.contains(&event_name) => {
                let account_id = text(event, &["detail", "requestParameters", "accountId"])
                    .or_else(|| {
                        text(
                            event,
                            &[
                                "detail",
                                "serviceEventDetails",
                                "createAccountStatus",
                                "accountId",
                            ],
                        )
                    });
                Ok(Self::Account {
                    source: source.to_owned(),
                    event_name: event_name.to_owned(),
                    account_id: account_id.map(str::to_owned),
                })
            }
            _ => Err(format!(
                "an event this function does not handle (source {source:?}, detail-type \
                 {detail_type:?}, eventName {event_name:?})"
            )),
        }
    }

    /// In a line, for the summary.
    pub fn describe(&self) -> String {
        match self {
            Self::Schedule => "scheduled run".to_owned(),
            Self::Account {
                source,
                event_name,
                account_id,
            } => format!(
                "{event_name} from {source}{}",
                account_id
                    .as_deref()
                    .map(|a| format!(" (account {a})"))
                    .unwrap_or_default()
            ),
            Self::GroupsCreated { group_ids } => {
                format!("{} group(s) created from Okta", group_ids.len())
            }
        }
    }
}

/// What a run does with its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Plan, record and log; change nothing (a dry run).
    Plan,
    /// Apply the plan too, unless the breaker refuses it.
    Apply,
}

impl Mode {
    /// The mode named `text` (`plan` or `apply`).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "plan" => Some(Self::Plan),
            "apply" => Some(Self::Apply),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plan => "plan",
            Self::Apply => "apply",
        }
    }
}

/// Reads what a plan of a document needs (`aws_adapters::entitlements_aws::AwsEntitlements`
/// against AWS).
#[async_trait]
pub trait Observe: Send + Sync {
    /// The organization, Identity Center's groups, permission sets and the assignments
    /// of the groups `document` or `ledger` names; a failed read is a problem recorded
    /// in the answer, never dropped.
    async fn observe(&self, document: &Document, ledger: &dyn ManagedLedger) -> Observed;
}

/// What a run found and did: the invocation's answer, and its summary record's source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The invocation's id.
    pub run: String,
    /// What started it.
    pub trigger: Trigger,
    /// `plan` or `apply`.
    pub mode: Mode,
    /// The active document's version; `None` when none is active.
    pub document_version: Option<String>,
    /// The plan's id.
    pub plan_id: Option<String>,
    /// Assignments the plan creates.
    pub create: usize,
    /// Managed assignments the plan deletes.
    pub delete: usize,
    /// Permission sets the plan creates or brings in line with their definitions.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub permission_sets: usize,
    /// Of those, the changes left for an administrator (the run may not make them).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub permission_sets_left: usize,
    /// Grants or parts of grants that could not be resolved.
    pub unresolved: usize,
    /// Why deletions were held back (a failed read).
    pub withheld: Vec<String>,
    /// Set when the breaker refused the plan: nothing was applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
    /// Operations done.
    pub done: usize,
    /// Operations failed.
    pub failed: usize,
    /// Operations not started before the invocation's time ran out (nothing sent; the
    /// next run plans them again).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferred: usize,
    /// Assignments recorded as managed without a call, and managed ones forgotten.
    pub adopted: usize,
    /// Managed assignments forgotten (gone from Identity Center).
    pub forgotten: usize,
    /// Ledger or audit writes that failed.
    pub bookkeeping_errors: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl RunReport {
    /// A run that has planned and done nothing yet.
    pub fn new(run: &str, trigger: Trigger, mode: Mode) -> Self {
        Self {
            run: run.to_owned(),
            trigger,
            mode,
            document_version: None,
            plan_id: None,
            create: 0,
            delete: 0,
            permission_sets: 0,
            permission_sets_left: 0,
            deferred: 0,
            unresolved: 0,
            withheld: Vec::new(),
            refused: None,
            done: 0,
            failed: 0,
            adopted: 0,
            forgotten: 0,
            bookkeeping_errors: 0,
        }
    }

    /// The summary record's `reason`: one line.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "{} mode, {}",
            self.mode.as_str(),
            self.trigger.describe()
        )];
        match (&self.document_version, &self.plan_id) {
            (None, _) => parts.push("no entitlement document is active: nothing planned".into()),
            (Some(version), Some(id)) => {
                let mut line = format!(
                    "plan {id} of {version}: {} to create, {} to delete",
                    self.create, self.delete
                );
                if self.permission_sets > 0 {
                    line.push_str(&format!(
                        ", {} permission sets to change",
                        self.permission_sets
                    ));
                }
                parts.push(line);
            }
            (Some(version), None) => parts.push(format!("document {version}")),
        }
        if let Some(r) = &self.refused {
            parts.push(format!(
                "WITHHELD: it deletes {} of {} managed assignments ({} allowed); nothing \
                 applied; an administrator reviews it and applies it with `scimgw \
                 entitlements apply --plan PLAN.json --approve {}`",
                r.destructive,
                r.managed,
                r.allowed,
                self.plan_id.as_deref().unwrap_or_default()
            ));
        } else if self.mode == Mode::Apply && self.plan_id.is_some() {
            parts.push(format!(
                "done {}, failed {}, adopted {}, forgotten {}",
                self.done, self.failed, self.adopted, self.forgotten
            ));
        }
        if !self.withheld.is_empty() {
            parts.push(format!("deletions withheld: {}", self.withheld.join("; ")));
        }
        if self.deferred > 0 {
            parts.push(format!(
                "DEFERRED: {} operations not started before the invocation's time ran out; \
                 the next run continues",
                self.deferred
            ));
        }
        if self.permission_sets_left > 0 {
            parts.push(format!(
                "LEFT for an administrator: {} permission set changes (this function may not \
                 change permission sets: EntitlementsPermissionSets is read-only); apply them \
                 with `scimgw entitlements apply --plan PLAN.json`",
                self.permission_sets_left
            ));
        }
        if self.unresolved > 0 {
            parts.push(format!("{} unresolved", self.unresolved));
        }
        if self.bookkeeping_errors > 0 {
            parts.push(format!("{} records not written", self.bookkeeping_errors));
        }
        let line: String = parts
            .join("; ")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        line.chars().take(MAX_SUMMARY_CHARS).collect()
    }

    /// Whether the run did all it set out to (a withheld plan is not a failure of the
    /// run: it is the breaker working).
    pub fn succeeded(&self) -> bool {
        self.failed == 0 && self.bookkeeping_errors == 0
    }
}

/// How long before the invocation's deadline the run stops starting operations: enough
/// for those in flight to finish (the executor polls each for at most two minutes) and
/// for their audit records, the ledger and the summary to be written.
pub const RESERVED_FOR_THE_END: std::time::Duration = std::time::Duration::from_secs(4 * 60);

/// The longest summary kept in the record's `reason`.
pub const MAX_SUMMARY_CHARS: usize = 2_000;

/// The unattended runner, built once per cold start.
pub struct Runner {
    /// The entitlement documents (the state table's `ENTITLEMENTS` partition).
    pub store: Arc<dyn RuleStore>,
    /// The organization's and Identity Center's reader.
    pub observer: Arc<dyn Observe>,
    /// SSO Admin's assignment operations.
    pub api: Arc<dyn AssignmentApi>,
    /// The managed-assignment ledger.
    pub ledger: Arc<dyn ManagedLedger>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The records' time.
    pub clock: Arc<dyn Clock>,
    /// Plan only, or apply.
    pub mode: Mode,
    /// The breaker's threshold (never approved by a run).
    pub threshold_percent: u32,
    /// The executor's limits.
    pub limits: Limits,
    /// Whether the run may create and change the permission sets the document defines
    /// (the stack's `EntitlementsPermissionSets=manage`). When not, those changes, and
    /// the assignments to permission sets not created yet, are left for an
    /// administrator's `scimgw entitlements apply`, and the run says so.
    pub manage_permission_sets: bool,
}

impl Runner {
    /// One run. `Err` when no plan could be made (the documents or the organization
    /// could not be read, or the active document does not load): the summary record
    /// says so too, and the invocation fails, which alarms.
    pub async fn run(&self, run: &str, trigger: Trigger) -> Result<RunReport, String> {
        self.run_until(run, trigger, None).await
    }

    /// [`Runner::run`] within an invocation that ends at `deadline` (Lambda's): no
    /// operation starts later than [`RESERVED_FOR_THE_END`] before it, so that what
    /// started finishes, is recorded and leaves the ledger right. What did not start is
    /// deferred: the run says how many, and the next run plans them again.
    pub async fn run_until(
        &self,
        run: &str,
        trigger: Trigger,
        deadline: Option<std::time::SystemTime>,
    ) -> Result<RunReport, String> {
        let started = Instant::now();
        let started_at = self.clock.now();
        let mut report = RunReport::new(run, trigger, self.mode);
        match self.plan_and_apply(&mut report, deadline).await {
            Ok(()) => {
                let (outcome, status) = if report.refused.is_some() {
                    tracing::warn!(
                        run,
                        plan = report.plan_id.as_deref().unwrap_or_default(),
                        "entitlements plan withheld: it deletes more than the threshold allows; \
                         an administrator approves it with scimgw entitlements apply --plan \
                         --approve"
                    );
                    (AuditOutcome::Refused, 409)
                } else if report.succeeded() {
                    (AuditOutcome::Success, 200)
                } else {
                    (AuditOutcome::Failure, 502)
                };
                tracing::info!(run, summary = report.summary(), "entitlements run");
                let record =
                    self.summary_record(&report, started, started_at, outcome, status, None);
                if self.audit.append(record).await.is_err() {
                    report.bookkeeping_errors += 1;
                }
                Ok(report)
            }
            Err(error) => {
                tracing::error!(run, error = error.as_str(), "entitlements run failed");
                let record = self.summary_record(
                    &report,
                    started,
                    started_at,
                    AuditOutcome::Failure,
                    500,
                    Some(error.clone()),
                );
                let _ = self.audit.append(record).await;
                Err(error)
            }
        }
    }

    async fn plan_and_apply(
        &self,
        report: &mut RunReport,
        deadline: Option<std::time::SystemTime>,
    ) -> Result<(), String> {
        let Some(active) = self
            .store
            .active()
            .await
            .map_err(|e| format!("the entitlement documents could not be read: {e}"))?
        else {
            return Ok(());
        };
        let version = active.version.to_string();
        report.document_version = Some(version.clone());
        let document = Document::load(&active.document).map_err(|invalid| {
            format!(
                "the active entitlement document {version} does not load: {} problem(s)",
                invalid.problems.len()
            )
        })?;
        let observed = self.observer.observe(&document, self.ledger.as_ref()).await;
        if observed.organization.root_id.is_empty() {
            // Without the organization every grant resolves to nothing: that is no plan.
            return Err(format!(
                "the organization could not be read: {}",
                observed.problems.join("; ")
            ));
        }
        let safety = Safety {
            threshold_percent: self.threshold_percent,
            approved_plan: None,
        };
        let mut plan = plan(&document, &version, &observed, &safety);
        self.fill(report, &plan);
        if self.mode == Mode::Plan || plan.refused.is_some() {
            return Ok(());
        }
        if !self.manage_permission_sets && !plan.permission_sets.is_empty() {
            report.permission_sets_left = plan.permission_sets.len();
            plan.permission_sets.clear();
            plan.create
                .retain(|c| pending_name(&c.assignment.permission_set_arn).is_none());
        }
        let applied = apply(
            &plan,
            self.api.clone(),
            self.ledger.as_ref(),
            self.audit.as_ref(),
            self.clock.as_ref(),
            &Applier {
                credential: RUN_CREDENTIAL.to_owned(),
            },
            Limits {
                start_by: deadline.map(|deadline| {
                    let left = deadline
                        .duration_since(std::time::SystemTime::now())
                        .unwrap_or_default();
                    tokio::time::Instant::now() + left.saturating_sub(RESERVED_FOR_THE_END)
                }),
                ..self.limits
            },
        )
        .await?;
        report.failed = applied.failed();
        report.done = applied.done();
        report.deferred = applied.deferred();
        report.adopted = applied.adopted;
        report.forgotten = applied.forgotten;
        report.bookkeeping_errors = applied.bookkeeping_errors.len();
        Ok(())
    }

    fn fill(&self, report: &mut RunReport, plan: &Plan) {
        report.plan_id = Some(plan.id.clone());
        report.create = plan.create.len();
        report.delete = plan.delete.len();
        report.permission_sets = plan.permission_sets.len();
        report.unresolved = plan.unresolved.len();
        report.withheld = plan.withheld.clone();
        report.refused = plan.refused.clone();
    }

    fn summary_record(
        &self,
        report: &RunReport,
        started: Instant,
        started_at: time::OffsetDateTime,
        outcome: AuditOutcome,
        status: u16,
        error: Option<String>,
    ) -> AuditRecord {
        let run = report.plan_id.clone().unwrap_or_else(|| report.run.clone());
        AuditRecord {
            time: started_at,
            source: AuditSource::Entitlements {
                run: run.clone(),
                document_version: report
                    .document_version
                    .clone()
                    .unwrap_or_else(|| "-".into()),
            },
            actor: AuditActor {
                credential: RUN_CREDENTIAL.to_owned(),
                user_agent: None,
            },
            subject: AuditSubject::default(),
            operation: AuditOperation::Reconcile,
            membership: None,
            changes: Vec::new(),
            query: None,
            rule_set_version: "-".into(),
            outcome,
            status,
            target_status: None,
            target_calls: 0,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            correlation_id: run,
            error,
            reason: Some(report.summary()),
            source_ip: None,
            request_id: Some(report.run.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn events_are_read_and_anything_else_refused() {
        let schedule = serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(Trigger::from_event(&schedule), Ok(Trigger::Schedule));
        let moved = serde_json::json!({
            "source": "aws.organizations",
            "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventName": "MoveAccount", "requestParameters": {"accountId": "111122223333"}}
        });
        assert_eq!(
            Trigger::from_event(&moved),
            Ok(Trigger::Account {
                source: "aws.organizations".into(),
                event_name: "MoveAccount".into(),
                account_id: Some("111122223333".into())
            })
        );
        let created = serde_json::json!({
            "source": "aws.controltower",
            "detail-type": "AWS Service Event via CloudTrail",
            "detail": {"eventName": "CreateManagedAccount", "serviceEventDetails": {
                "createManagedAccountStatus": {"account": {"accountId": "444455556666"}}}}
        });
        let Ok(Trigger::Account { account_id, .. }) = Trigger::from_event(&created) else {
            panic!("not an account event");
        };
        assert_eq!(account_id.as_deref(), Some("444455556666"));
        let batch = serde_json::json!({"Records": [
            {"eventSource": "aws:sqs", "body": serde_json::to_string(&GroupCreated::new("g-1")).unwrap()},
            {"eventSource": "aws:sqs", "body": serde_json::to_string(&GroupCreated::new("g-2")).unwrap()}
        ]});
        assert_eq!(
            Trigger::from_event(&batch),
            Ok(Trigger::GroupsCreated {
                group_ids: vec!["g-1".into(), "g-2".into()]
            })
        );
        for other in [
            serde_json::json!({}),
            serde_json::json!({"source": "aws.organizations", "detail": {"eventName": "DeleteOrganization"}}),
            serde_json::json!({"Records": [{"body": "{\"kind\": \"user_created\", \"group_id\": \"x\"}"}]}),
            serde_json::json!({"Records": [{"body": "not json"}]}),
        ] {
            assert!(Trigger::from_event(&other).is_err(), "{other}");
        }
    }

    #[test]
    fn a_withheld_plan_says_how_to_approve_it() {
        let report = RunReport {
            document_version: Some("v2".into()),
            plan_id: Some("p-abc".into()),
            create: 1,
            delete: 9,
            refused: Some(Refusal {
                destructive: 9,
                managed: 10,
                allowed: 1,
            }),
            ..RunReport::new("r-1", Trigger::Schedule, Mode::Apply)
        };
        let summary = report.summary();
        assert!(summary.contains("WITHHELD"), "{summary}");
        assert!(summary.contains("--approve p-abc"), "{summary}");
        assert!(report.succeeded());
    }
}
