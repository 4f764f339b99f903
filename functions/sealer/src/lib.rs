//! The sealer's logic, apart from its Lambda wiring (`main.rs`): what one scheduled
//! invocation does ([`Task`], [`run`]) and the metrics it publishes ([`metrics`]).
//!
//! Two schedules invoke it: every 15 minutes with `{"task": "seal"}`, which seals every
//! finished hour (so a quiet hour is sealed as surely as a busy one, as CloudTrail emits
//! its digest files whatever the traffic), and once a day with `{"task": "verify"}`,
//! which verifies the previous day and publishes how many problems it found, for the
//! template's alarm.

pub mod metrics;

use gateway::audit_store::ledger::{ChainedAuditLog, LedgerBackend};
use gateway::audit_store::{AuditStore as _, AuditStoreError, VerifyReport};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// What an invocation is asked to do (the schedule's input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Seal every finished hour not sealed yet, and anchor it.
    #[default]
    Seal,
    /// Verify the day before.
    Verify,
}

/// The invocation's input: `{"task": "seal"}` or `{"task": "verify"}`; anything else
/// (an EventBridge event without input) seals.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Input {
    /// The task.
    #[serde(default)]
    pub task: Task,
}

/// What an invocation did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "task")]
pub enum Outcome {
    /// A sealing run.
    Seal {
        /// The last hour of the seal written, if one was.
        sealed_through: Option<String>,
        /// How many chains it lists.
        chains: usize,
        /// Its signature (also logged): an outside copy of the newest seal.
        signature: Option<String>,
        /// What the run found tampered with and set right.
        repairs: Vec<String>,
    },
    /// A verification of the day before.
    Verify {
        /// Its start.
        since: String,
        /// Its end (exclusive).
        until: String,
        /// The report.
        report: VerifyReport,
    },
}

/// The day verified at `now`: the 24 hours ending at the start of the current hour
/// less an hour, so that the hours verified are sealed.
pub fn verify_period(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let hour_start = now
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(now);
    let until = hour_start - Duration::HOUR;
    (until - Duration::DAY, until)
}

/// Runs one invocation's task against the ledger.
pub async fn run<B: LedgerBackend>(
    task: Task,
    ledger: &ChainedAuditLog<B>,
    now: OffsetDateTime,
) -> Result<Outcome, AuditStoreError> {
    match task {
        Task::Seal => {
            let run = ledger.seal_run().await?;
            Ok(Outcome::Seal {
                sealed_through: run.sealed.as_ref().map(|s| s.through.clone()),
                chains: run.sealed.as_ref().map_or(0, |s| s.chains),
                signature: run.sealed.map(|s| s.mac),
                repairs: run.repairs,
            })
        }
        Task::Verify => {
            let (since, until) = verify_period(now);
            let report = ledger.verify(since, until).await?;
            let fmt = |t: OffsetDateTime| gateway::audit_store::chain::fmt_time(t);
            Ok(Outcome::Verify {
                since: fmt(since),
                until: fmt(until),
                report,
            })
        }
    }
}
