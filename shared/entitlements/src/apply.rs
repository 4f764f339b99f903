//! Applying a plan: the executor's operations, then the ledger and the audit trail.
//!
//! - A refused plan (the breaker) is not applied at all.
//! - Permission set changes run first; an assignment to a permission set the plan
//!   creates gets the ARN Identity Center answered, and fails without a call when the
//!   permission set could not be created. Each permission set change is one audit
//!   record (operation `create` or `patch`, the permission set as the subject, its
//!   before and after), and one created or adopted is recorded as managed.
//! - What was deferred (not started before the executor's `start_by`) changes nothing
//!   and leaves no record: the next plan lists it again.
//! - Each creation that succeeds is recorded as managed; each deletion that succeeds is
//!   forgotten; adoptions and forgettings need no API call.
//! - Each creation and deletion, success or failure, is one audit record (source
//!   `entitlements`, operation `assign`/`unassign`, with the plan id and document
//!   version). A record or ledger write that fails is reported as a failure of the run.

use std::sync::Arc;

use gateway::audit::{
    AttributeChange, AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject,
    Outcome as AuditOutcome,
};
use gateway::translate::ResourceKind;
use gateway::{AuditLog, Clock};
use serde::Serialize;

use crate::execute::{
    AssignmentApi, Limits, OpKind, OpResult, Outcome, PermissionSetOutcome, execute,
    execute_permission_sets,
};
use crate::ledger::ManagedLedger;
use crate::plan::{Plan, pending_name};

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The plan's id.
    pub plan_id: String,
    /// Every permission set change, and how it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_sets: Vec<PermissionSetOutcome>,
    /// Every creation and deletion, and how it ended.
    pub operations: Vec<Outcome>,
    /// Assignments recorded as managed without a call.
    pub adopted: usize,
    /// Managed assignments forgotten (gone from Identity Center).
    pub forgotten: usize,
    /// Ledger or audit writes that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bookkeeping_errors: Vec<String>,
}

impl Report {
    /// Operations (assignments and permission set changes) that failed.
    pub fn failed(&self) -> usize {
        let failed = |r: &OpResult| matches!(r, OpResult::Failed { .. });
        self.operations.iter().filter(|o| failed(&o.result)).count()
            + self
                .permission_sets
                .iter()
                .filter(|o| failed(&o.result))
                .count()
    }

    /// Operations (assignments and permission set changes) that succeeded.
    pub fn done(&self) -> usize {
        let done = |r: &OpResult| *r == OpResult::Done;
        self.operations.iter().filter(|o| done(&o.result)).count()
            + self
                .permission_sets
                .iter()
                .filter(|o| done(&o.result))
                .count()
    }

    /// Operations deferred: not started before the time ran out; the next plan has them.
    pub fn deferred(&self) -> usize {
        let deferred = |r: &OpResult| *r == OpResult::Deferred;
        self.operations
            .iter()
            .filter(|o| deferred(&o.result))
            .count()
            + self
                .permission_sets
                .iter()
                .filter(|o| deferred(&o.result))
                .count()
    }

    /// Whether everything succeeded.
    pub fn succeeded(&self) -> bool {
        self.failed() == 0 && self.bookkeeping_errors.is_empty()
    }
}

/// Who applies, for the audit records.
#[derive(Debug, Clone)]
pub struct Applier {
    /// The credential or principal name (never a secret).
    pub credential: String,
}

/// Applies `plan` (see the module docs); `Err` when the breaker refuses it.
pub async fn apply(
    plan: &Plan,
    api: Arc<dyn AssignmentApi>,
    ledger: &dyn ManagedLedger,
    audit: &dyn AuditLog,
    clock: &dyn Clock,
    applier: &Applier,
    limits: Limits,
) -> Result<Report, String> {
    if let Some(refusal) = &plan.refused {
        return Err(format!(
            "plan {} deletes {} of {} managed assignments, more than the {} allowed without \
             an approval: review it and apply it with --approve {}",
            plan.id, refusal.destructive, refusal.managed, refusal.allowed, plan.id
        ));
    }
    let mut bookkeeping_errors = Vec::new();
    let started = clock.now();
    let permission_sets =
        execute_permission_sets(api.as_ref(), &plan.permission_sets, limits).await;
    for op in &permission_sets {
        let arn = op.arn.as_deref().unwrap_or_default();
        // A permission set created is managed even when a later step failed: it is ours.
        let ours = op.change.record_managed
            && !arn.is_empty()
            && (op.change.arn.is_none() || op.result == OpResult::Done);
        if ours && let Err(e) = ledger.record_permission_set(arn).await {
            bookkeeping_errors.push(format!("permission set {}: {e}", op.change.name));
        }
        if !op.change.steps.is_empty() && op.result != OpResult::Deferred {
            let record = permission_set_record(plan, op, applier, clock.now(), started);
            if let Err(e) = audit.append(record).await {
                bookkeeping_errors.push(format!("permission set {}: {e}", op.change.name));
            }
        }
    }
    // Assignments to a permission set this apply created get its ARN; those whose
    // permission set could not be created fail without a call.
    let created: std::collections::HashMap<&str, &str> = permission_sets
        .iter()
        .filter(|o| o.change.arn.is_none())
        .filter_map(|o| Some((o.change.name.as_str(), o.arn.as_deref()?)))
        .collect();
    let deferred: std::collections::HashSet<&str> = permission_sets
        .iter()
        .filter(|o| o.result == OpResult::Deferred)
        .map(|o| o.change.name.as_str())
        .collect();
    let mut create = Vec::with_capacity(plan.create.len());
    let mut unstarted = Vec::new();
    for change in &plan.create {
        let mut change = change.clone();
        if let Some(name) = pending_name(&change.assignment.permission_set_arn).map(str::to_owned) {
            match created.get(name.as_str()) {
                Some(arn) => change.assignment.permission_set_arn = (*arn).to_owned(),
                None if deferred.contains(name.as_str()) => {
                    unstarted.push(Outcome {
                        kind: OpKind::Create,
                        change,
                        result: OpResult::Deferred,
                        calls: 0,
                    });
                    continue;
                }
                None => {
                    unstarted.push(Outcome {
                        kind: OpKind::Create,
                        change,
                        result: OpResult::Failed {
                            error: format!(
                                "not started: its permission set {name} could not be created"
                            ),
                        },
                        calls: 0,
                    });
                    continue;
                }
            }
        }
        create.push(change);
    }
    let mut operations = execute(api, &create, &plan.delete, limits).await;
    operations.extend(unstarted);
    for op in operations.iter().filter(|o| o.result != OpResult::Deferred) {
        let done = op.result == OpResult::Done;
        let written = match (op.kind, done) {
            (OpKind::Create, true) => ledger.record(&op.change.assignment).await,
            (OpKind::Delete, true) => ledger.forget(&op.change.assignment).await,
            _ => Ok(()),
        };
        if let Err(e) = written {
            bookkeeping_errors.push(format!("{}: {e}", op.change.assignment));
        }
        let record = record(plan, op, applier, clock.now(), started);
        if let Err(e) = audit.append(record).await {
            bookkeeping_errors.push(format!("{}: {e}", op.change.assignment));
        }
    }
    for a in &plan.adopt {
        if let Err(e) = ledger.record(a).await {
            bookkeeping_errors.push(format!("{a}: {e}"));
        }
    }
    for a in &plan.forget {
        if let Err(e) = ledger.forget(a).await {
            bookkeeping_errors.push(format!("{a}: {e}"));
        }
    }
    Ok(Report {
        plan_id: plan.id.clone(),
        permission_sets,
        operations,
        adopted: plan.adopt.len(),
        forgotten: plan.forget.len(),
        bookkeeping_errors,
    })
}

fn permission_set_record(
    plan: &Plan,
    op: &PermissionSetOutcome,
    applier: &Applier,
    now: time::OffsetDateTime,
    started: time::OffsetDateTime,
) -> AuditRecord {
    let change = &op.change;
    let mut record = entitlements_record(plan, &op.result, op.calls, applier, now, started);
    record.subject = AuditSubject {
        resource_type: None,
        external_id: None,
        target_id: op.arn.clone(),
        name: Some(change.name.clone()),
    };
    record.operation = if change.arn.is_none() {
        AuditOperation::Create
    } else {
        AuditOperation::Patch
    };
    record.changes = vec![AttributeChange {
        attribute: "permissionSet".into(),
        before: change.before.clone(),
        after: Some(change.after.clone()),
    }];
    record.reason = Some(format!(
        "{} ({} of {} steps done)",
        change.reason,
        op.steps_done,
        change.steps.len()
    ));
    record
}

fn record(
    plan: &Plan,
    op: &Outcome,
    applier: &Applier,
    now: time::OffsetDateTime,
    started: time::OffsetDateTime,
) -> AuditRecord {
    let change = &op.change;
    let value = serde_json::json!({
        "account_id": change.assignment.account_id,
        "permission_set_arn": change.assignment.permission_set_arn,
        "permission_set_name": change.permission_set_name,
        "reason": change.reason,
    });
    let (operation, before, after) = match op.kind {
        OpKind::Create => (AuditOperation::Assign, None, Some(value)),
        OpKind::Delete => (AuditOperation::Unassign, Some(value), None),
    };
    let mut record = entitlements_record(plan, &op.result, op.calls, applier, now, started);
    record.subject = AuditSubject {
        resource_type: Some(ResourceKind::Group),
        external_id: change.okta_group_id.clone(),
        target_id: Some(change.assignment.group_id.clone()),
        name: Some(change.group_name.clone()),
    };
    record.operation = operation;
    record.changes = vec![AttributeChange {
        attribute: "accountAssignment".into(),
        before,
        after,
    }];
    record
}

/// What every record of an apply shares: the plan as its source and correlation, the
/// applier, and how the operation ended; the caller sets the subject, the operation
/// and the change.
fn entitlements_record(
    plan: &Plan,
    result: &OpResult,
    calls: u32,
    applier: &Applier,
    now: time::OffsetDateTime,
    started: time::OffsetDateTime,
) -> AuditRecord {
    let (outcome, status, error) = match result {
        OpResult::Done => (AuditOutcome::Success, 200, None),
        OpResult::Failed { error } => (AuditOutcome::Failure, 502, Some(error.clone())),
        // Never recorded (the callers skip deferred operations: nothing happened).
        OpResult::Deferred => (AuditOutcome::Skipped, 200, None),
    };
    AuditRecord {
        time: now,
        source: AuditSource::Entitlements {
            run: plan.id.clone(),
            document_version: plan.document_version.clone(),
        },
        actor: AuditActor {
            credential: applier.credential.clone(),
            user_agent: None,
        },
        subject: AuditSubject {
            resource_type: None,
            external_id: None,
            target_id: None,
            name: None,
        },
        operation: AuditOperation::Patch,
        membership: None,
        changes: Vec::new(),
        query: None,
        rule_set_version: "-".into(),
        outcome,
        status,
        target_status: None,
        target_calls: calls,
        latency_ms: u64::try_from((now - started).whole_milliseconds()).unwrap_or(0),
        correlation_id: plan.id.clone(),
        error,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use async_trait::async_trait;
    use gateway::{FixedClock, InMemoryAuditLog};
    use time::macros::datetime;

    use super::*;
    use crate::execute::{ApiError, OpStatus};
    use crate::ledger::InMemoryLedger;
    use crate::plan::{Change, PermissionSetChange, PermissionSetStep, pending_arn};
    use crate::state::Assignment;

    /// Creates assignments at once; refuses to create the permission set `Broken`.
    struct Api;

    #[async_trait]
    impl AssignmentApi for Api {
        async fn start(&self, _: OpKind, _: &Assignment) -> Result<(String, OpStatus), ApiError> {
            Ok(("req".into(), OpStatus::Succeeded))
        }
        async fn status(&self, _: OpKind, _: &str) -> Result<OpStatus, ApiError> {
            Ok(OpStatus::Succeeded)
        }
        async fn create_permission_set(
            &self,
            name: &str,
            _: Option<&str>,
            _: &str,
        ) -> Result<String, ApiError> {
            if name == "Broken" {
                return Err(ApiError::Other(
                    "CreatePermissionSet: AccessDeniedException".into(),
                ));
            }
            Ok(format!("arn:aws:sso:::permissionSet/ssoins-1/ps-{name}"))
        }
        async fn permission_set_step(
            &self,
            _: &str,
            _: &PermissionSetStep,
        ) -> Result<Option<(String, OpStatus)>, ApiError> {
            Ok(None)
        }
    }

    fn created(name: &str) -> PermissionSetChange {
        PermissionSetChange {
            name: name.into(),
            arn: None,
            steps: vec![
                PermissionSetStep::Create {
                    description: None,
                    session_duration: "PT1H".into(),
                },
                PermissionSetStep::DeleteInlinePolicy,
            ],
            record_managed: true,
            before: None,
            after: serde_json::json!({}),
            reason: "defined".into(),
        }
    }

    fn assign(name: &str, account: &str) -> Change {
        Change {
            assignment: Assignment {
                account_id: account.into(),
                permission_set_arn: pending_arn(name),
                group_id: "g-1".into(),
            },
            group_name: "Admins".into(),
            okta_group_id: None,
            permission_set_name: name.into(),
            reason: "grant".into(),
        }
    }

    #[tokio::test]
    async fn assignments_get_the_created_arn_and_fail_unstarted_when_their_permission_set_was_not_created()
     {
        let plan = Plan {
            id: "p1".into(),
            document_version: "v1".into(),
            permission_sets: vec![created("DataReader"), created("Broken")],
            create: vec![
                assign("DataReader", "111111111111"),
                assign("Broken", "111111111111"),
            ],
            delete: Vec::new(),
            adopt: Vec::new(),
            forget: Vec::new(),
            left_alone: 0,
            unresolved: Vec::new(),
            withheld: Vec::new(),
            refused: None,
        };
        let ledger = InMemoryLedger::default();
        let audit = InMemoryAuditLog::default();
        let clock = FixedClock::new(datetime!(2026-12-02 05:00 UTC));
        let applier = Applier {
            credential: "test".into(),
        };
        let report = apply(
            &plan,
            Arc::new(Api),
            &ledger,
            &audit,
            &clock,
            &applier,
            Limits::default(),
        )
        .await
        .unwrap();
        let reader = "arn:aws:sso:::permissionSet/ssoins-1/ps-DataReader";
        assert_eq!(report.permission_sets[0].result, OpResult::Done);
        assert_eq!(report.permission_sets[0].steps_done, 2);
        assert!(matches!(
            &report.permission_sets[1].result,
            OpResult::Failed { error } if error.contains("AccessDeniedException")
        ));
        assert_eq!(report.operations.len(), 2);
        let done = &report.operations[0];
        assert_eq!(done.result, OpResult::Done);
        assert_eq!(done.change.assignment.permission_set_arn, reader);
        let unstarted = &report.operations[1];
        assert_eq!(unstarted.calls, 0);
        assert_eq!(
            unstarted.result,
            OpResult::Failed {
                error: "not started: its permission set Broken could not be created".into()
            }
        );
        assert_eq!((report.done(), report.failed()), (2, 2));
        // Only what exists is managed; the ledger holds the real ARN.
        assert_eq!(
            ledger.permission_sets().await.unwrap(),
            [reader.to_owned()].into()
        );
        assert_eq!(ledger.list().await.unwrap().len(), 1);
        // One record per permission set change and per assignment, failures included.
        let records = audit.records();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].operation, AuditOperation::Create);
        assert_eq!(records[0].subject.target_id.as_deref(), Some(reader));
        assert_eq!(records[1].outcome, AuditOutcome::Failure);
        assert_eq!(records[1].subject.name.as_deref(), Some("Broken"));
    }
}
