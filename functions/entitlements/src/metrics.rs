//! The entitlements function's metrics: one EMF document per run (`edge::metrics`'
//! format and namespace), under the `Function` dimension only.
//!
//! The names are a contract with `template.yaml`: its alarm and dashboard use exactly
//! these. Every `&str` constant of this file is a metric name the function emits, and
//! `tests/template_policy.rs` reads them from here.

use edge::metrics::{DIM_FUNCTION, EmfDocument, Unit};
use entitlements::RunReport;

/// Assignments the run's plan creates.
pub const ENTITLEMENTS_PLANNED_CREATE: &str = "EntitlementsPlannedCreate";
/// Managed assignments the run's plan deletes.
pub const ENTITLEMENTS_PLANNED_DELETE: &str = "EntitlementsPlannedDelete";
/// Operations done (`apply` mode).
pub const ENTITLEMENTS_DONE: &str = "EntitlementsDone";
/// Operations failed (each has its own audit record).
pub const ENTITLEMENTS_FAILED: &str = "EntitlementsFailed";
/// 1 when part of the plan waits for an administrator: the breaker withheld it (it
/// waits for an approval), or it changes permission sets this function may not change.
pub const ENTITLEMENTS_WITHHELD: &str = "EntitlementsWithheld";

/// The run's metrics, every one present (zeros included), with the run id, the mode and
/// the plan id as searchable properties.
pub fn document(report: &RunReport, function: &str) -> EmfDocument {
    let count = |n: usize| n as f64;
    EmfDocument::new()
        .with(DIM_FUNCTION, function)
        .with("RunId", report.run.as_str())
        .with("Mode", report.mode.as_str())
        .with("PlanId", report.plan_id.clone().unwrap_or_default())
        .metrics(
            &[&[DIM_FUNCTION]],
            &[
                (
                    ENTITLEMENTS_PLANNED_CREATE,
                    count(report.create),
                    Unit::Count,
                ),
                (
                    ENTITLEMENTS_PLANNED_DELETE,
                    count(report.delete),
                    Unit::Count,
                ),
                (ENTITLEMENTS_DONE, count(report.done), Unit::Count),
                (ENTITLEMENTS_FAILED, count(report.failed), Unit::Count),
                (
                    ENTITLEMENTS_WITHHELD,
                    if report.refused.is_some() || report.permission_sets_left > 0 {
                        1.0
                    } else {
                        0.0
                    },
                    Unit::None,
                ),
            ],
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use entitlements::{Mode, Refusal, Trigger};

    use super::*;

    #[test]
    fn a_withheld_plan_is_one_on_its_metric_and_every_metric_is_there() {
        let report = RunReport {
            document_version: Some("v2".into()),
            plan_id: Some("p-1".into()),
            create: 2,
            delete: 9,
            refused: Some(Refusal {
                destructive: 9,
                managed: 10,
                allowed: 1,
            }),
            ..RunReport::new("r-1", Trigger::Schedule, Mode::Apply)
        };
        let line: serde_json::Value =
            serde_json::from_str(&document(&report, "fn").to_line()).unwrap();
        assert_eq!(line[ENTITLEMENTS_WITHHELD], 1.0);
        assert_eq!(line[ENTITLEMENTS_PLANNED_DELETE], 9.0);
        assert_eq!(line[ENTITLEMENTS_PLANNED_CREATE], 2.0);
        assert_eq!(line[ENTITLEMENTS_DONE], 0.0);
        assert_eq!(line[ENTITLEMENTS_FAILED], 0.0);
        assert_eq!(line["PlanId"], "p-1");
        assert_eq!(line[DIM_FUNCTION], "fn");
    }
}
