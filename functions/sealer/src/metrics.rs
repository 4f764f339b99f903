//! The sealer's metrics: one EMF document per invocation (`edge::metrics`' format and
//! namespace), under the `Function` dimension only.
//!
//! The names are a contract with `template.yaml`, whose alarms use exactly these. Every
//! `&str` constant of this file is a metric name the sealer emits, and
//! `tests/template_policy.rs` reads them from here.

use edge::metrics::{DIM_FUNCTION, EmfDocument, Unit};

use crate::Outcome;

/// Seals written by the run (0 or 1).
pub const AUDIT_SEALS_WRITTEN: &str = "AuditSealsWritten";
/// Steering items the run found tampered with and repaired (a rolled-back seal
/// pointer, a forged closing marker, seals missing their anchor).
pub const AUDIT_SEAL_REPAIRS: &str = "AuditSealRepairs";
/// 1 when a sealing run failed (the next run tries again).
pub const AUDIT_SEAL_FAILED: &str = "AuditSealFailed";
/// Problems the daily verification found (0 when the day is intact).
pub const AUDIT_VERIFY_PROBLEMS: &str = "AuditVerifyProblems";
/// 1 when the daily verification could not run to the end.
pub const AUDIT_VERIFY_FAILED: &str = "AuditVerifyFailed";

/// Every metric name above.
pub const METRIC_NAMES: [&str; 5] = [
    AUDIT_SEALS_WRITTEN,
    AUDIT_SEAL_REPAIRS,
    AUDIT_SEAL_FAILED,
    AUDIT_VERIFY_PROBLEMS,
    AUDIT_VERIFY_FAILED,
];

/// The EMF document for an invocation's outcome (`Err`: the task failed).
pub fn document<E>(function: &str, task: crate::Task, outcome: &Result<Outcome, E>) -> EmfDocument {
    let values: Vec<(&str, f64, Unit)> = match (task, outcome) {
        (
            _,
            Ok(Outcome::Seal {
                sealed_through,
                repairs,
                ..
            }),
        ) => vec![
            (
                AUDIT_SEALS_WRITTEN,
                f64::from(u8::from(sealed_through.is_some())),
                Unit::Count,
            ),
            (AUDIT_SEAL_REPAIRS, repairs.len() as f64, Unit::Count),
            (AUDIT_SEAL_FAILED, 0.0, Unit::Count),
        ],
        (_, Ok(Outcome::Verify { report, .. })) => vec![
            (
                AUDIT_VERIFY_PROBLEMS,
                report.problems.len() as f64,
                Unit::Count,
            ),
            (AUDIT_VERIFY_FAILED, 0.0, Unit::Count),
        ],
        (crate::Task::Seal, Err(_)) => vec![(AUDIT_SEAL_FAILED, 1.0, Unit::Count)],
        (crate::Task::Verify, Err(_)) => vec![(AUDIT_VERIFY_FAILED, 1.0, Unit::Count)],
    };
    EmfDocument::new()
        .with(DIM_FUNCTION, function)
        .metrics(&[&[DIM_FUNCTION]], &values)
}
