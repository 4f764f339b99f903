//! The reconciler's metrics: one EMF document per run (`edge::metrics`' format and
//! namespace), under the `Function` dimension only.
//!
//! The names are a contract with `template.yaml`, like `edge::metrics`' are: its alarms
//! and dashboard use exactly these. Every `&str` constant of this file is a metric name
//! the reconciler emits, and `tests/template_policy.rs` reads them from here.

use edge::metrics::{AUDIT_APPEND_FAILED, DIM_FUNCTION, EmfDocument, Unit};
use gateway::reconcile::Action;

use crate::run::RunReport;

/// The changes the run's plan holds: the drift between Okta and Identity Center (what
/// the safety rules withheld is not counted; a refused plan's changes are).
pub const DRIFT_CHANGES: &str = "DriftChanges";
/// Planned creations of users and groups.
pub const DRIFT_CREATE: &str = "DriftCreate";
/// Planned attribute changes (adoptions included).
pub const DRIFT_UPDATE: &str = "DriftUpdate";
/// Planned deactivations.
pub const DRIFT_DEACTIVATE: &str = "DriftDeactivate";
/// Planned reactivations.
pub const DRIFT_REACTIVATE: &str = "DriftReactivate";
/// Planned deletions.
pub const DRIFT_DELETE: &str = "DriftDelete";
/// Planned member additions.
pub const DRIFT_ADD_MEMBER: &str = "DriftAddMember";
/// Planned member removals.
pub const DRIFT_REMOVE_MEMBER: &str = "DriftRemoveMember";
/// Changes applied (`apply` mode).
pub const DRIFT_APPLIED: &str = "DriftApplied";
/// Changes that failed to apply (each has its own audit record).
pub const DRIFT_FAILED: &str = "DriftFailed";
/// 1 when the plan took away more than the threshold allows, so nothing was applied.
pub const RECONCILE_REFUSED: &str = "ReconcileRefused";
/// 1 when a read failed or looked wrong, so deactivations, deletions and member
/// removals were held back.
pub const RECONCILE_WITHHELD: &str = "ReconcileWithheld";
/// HTTP requests the run sent to Identity Center, pages and retries included.
pub const RECONCILE_TARGET_CALLS: &str = "ReconcileTargetCalls";

/// Every metric name above.
pub const METRIC_NAMES: [&str; 13] = [
    DRIFT_CHANGES,
    DRIFT_CREATE,
    DRIFT_UPDATE,
    DRIFT_DEACTIVATE,
    DRIFT_REACTIVATE,
    DRIFT_DELETE,
    DRIFT_ADD_MEMBER,
    DRIFT_REMOVE_MEMBER,
    DRIFT_APPLIED,
    DRIFT_FAILED,
    RECONCILE_REFUSED,
    RECONCILE_WITHHELD,
    RECONCILE_TARGET_CALLS,
];

/// Every kind of change, in the order the metrics list them.
pub const ACTIONS: [Action; 7] = [
    Action::Create,
    Action::Update,
    Action::Deactivate,
    Action::Reactivate,
    Action::Delete,
    Action::AddMember,
    Action::RemoveMember,
];

/// The metric counting planned changes of one kind.
pub fn drift_metric(action: Action) -> &'static str {
    match action {
        Action::Create => DRIFT_CREATE,
        Action::Update => DRIFT_UPDATE,
        Action::Deactivate => DRIFT_DEACTIVATE,
        Action::Reactivate => DRIFT_REACTIVATE,
        Action::Delete => DRIFT_DELETE,
        Action::AddMember => DRIFT_ADD_MEMBER,
        Action::RemoveMember => DRIFT_REMOVE_MEMBER,
    }
}

/// The run's metrics, every one present (zeros included, so that the alarms see each
/// run), with the run id and mode as searchable properties.
pub fn document(report: &RunReport, function: &str) -> EmfDocument {
    let count = |n: usize| n as f64;
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let mut metrics = vec![(DRIFT_CHANGES, count(report.changes), Unit::Count)];
    metrics.extend(
        ACTIONS
            .iter()
            .map(|a| (drift_metric(*a), count(report.planned(*a)), Unit::Count)),
    );
    metrics.extend([
        (DRIFT_APPLIED, count(report.applied), Unit::Count),
        (DRIFT_FAILED, count(report.failed), Unit::Count),
        (
            RECONCILE_REFUSED,
            flag(report.refused.is_some()),
            Unit::None,
        ),
        (
            RECONCILE_WITHHELD,
            flag(!report.withheld.is_empty()),
            Unit::None,
        ),
        (
            RECONCILE_TARGET_CALLS,
            report.target_calls as f64,
            Unit::Count,
        ),
        // `edge::metrics`' name: the alarm on failed appends sums it over the functions
        // that write the trail.
        (
            AUDIT_APPEND_FAILED,
            report.audit_append_failed as f64,
            Unit::Count,
        ),
    ]);
    EmfDocument::new()
        .with(DIM_FUNCTION, function)
        .with("RunId", report.run.as_str())
        .with("Mode", report.mode)
        .metrics(&[&[DIM_FUNCTION]], &metrics)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_kind_of_change_has_its_own_drift_metric() {
        let names: BTreeSet<&str> = ACTIONS.iter().map(|a| drift_metric(*a)).collect();
        assert_eq!(names.len(), ACTIONS.len());
        for name in names {
            assert!(METRIC_NAMES.contains(&name), "{name}");
            assert!(name.starts_with("Drift"), "{name}");
        }
    }
}
