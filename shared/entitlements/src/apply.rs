//! Applying a plan: the executor's operations, then the ledger and the audit trail.
//!
//! - A refused plan (the breaker) is not applied at all.
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

use crate::execute::{AssignmentApi, Limits, OpKind, OpResult, Outcome, execute};
use crate::ledger::ManagedLedger;
use crate::plan::Plan;

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The plan's id.
    pub plan_id: String,
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
    /// Operations that failed.
    pub fn failed(&self) -> usize {
        self.operations
            .iter()
            .filter(|o| matches!(o.result, OpResult::Failed { .. }))
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
    let operations = execute(api, &plan.create, &plan.delete, limits).await;
    for op in &operations {
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
        operations,
        adopted: plan.adopt.len(),
        forgotten: plan.forget.len(),
        bookkeeping_errors,
    })
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
    let (outcome, status, error) = match &op.result {
        OpResult::Done => (AuditOutcome::Success, 200, None),
        OpResult::Failed { error } => (AuditOutcome::Failure, 502, Some(error.clone())),
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
            resource_type: Some(ResourceKind::Group),
            external_id: change.okta_group_id.clone(),
            target_id: Some(change.assignment.group_id.clone()),
            name: Some(change.group_name.clone()),
        },
        operation,
        membership: None,
        changes: vec![AttributeChange {
            attribute: "accountAssignment".into(),
            before,
            after,
        }],
        query: None,
        rule_set_version: "-".into(),
        outcome,
        status,
        target_status: None,
        target_calls: op.calls,
        latency_ms: u64::try_from((now - started).whole_milliseconds()).unwrap_or(0),
        correlation_id: plan.id.clone(),
        error,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}
