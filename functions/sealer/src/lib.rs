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
use gateway::audit_store::{AuditStoreError, VerifyReport};
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
            let report = ledger.verify_period(since, until).await?;
            let fmt = |t: OffsetDateTime| gateway::audit_store::chain::fmt_time(t);
            Ok(Outcome::Verify {
                since: fmt(since),
                until: fmt(until),
                report,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use gateway::audit::{
        AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject,
        Outcome as RecordOutcome,
    };
    use gateway::audit_store::InMemoryAuditStore;
    use gateway::audit_store::keys::LocalAuditKeys;
    use gateway::{Clock, FixedClock};
    use time::macros::datetime;

    use super::*;

    fn record(time: OffsetDateTime) -> AuditRecord {
        AuditRecord {
            time,
            source: AuditSource::Scim {
                method: "POST".into(),
                path: "/Users".into(),
            },
            actor: AuditActor {
                credential: "scim-token:primary".into(),
                user_agent: None,
            },
            subject: AuditSubject::default(),
            operation: AuditOperation::Create,
            membership: None,
            changes: vec![],
            query: None,
            rule_set_version: "identity".into(),
            outcome: RecordOutcome::Success,
            status: 201,
            target_status: Some(201),
            target_calls: 1,
            latency_ms: 2,
            correlation_id: "req-1".into(),
            error: None,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[tokio::test]
    async fn the_schedule_seals_a_quiet_hour_and_the_daily_task_verifies_the_day_before() {
        // Arrange: one record at 06:10; the writer then falls silent.
        let clock = Arc::new(FixedClock::new(datetime!(2024-04-05 06:10 UTC)));
        let keys = LocalAuditKeys::random().unwrap();
        let store = InMemoryAuditStore::new(&keys, clock.clone(), Duration::days(400));
        store
            .ledger()
            .append_stored(record(clock.now()))
            .await
            .unwrap();

        // Act: the 15-minute runs at 07:15 and at 09:15, then the daily run at 01:30.
        clock.set(datetime!(2024-04-05 07:15 UTC));
        let first = run(Task::Seal, store.ledger(), clock.now()).await.unwrap();
        clock.set(datetime!(2024-04-05 09:15 UTC));
        let quiet = run(Task::Seal, store.ledger(), clock.now()).await.unwrap();
        clock.set(datetime!(2024-04-06 01:30 UTC));
        run(Task::Seal, store.ledger(), clock.now()).await.unwrap();
        let daily = run(Task::Verify, store.ledger(), clock.now())
            .await
            .unwrap();

        // Assert
        assert!(
            matches!(first, Outcome::Seal { sealed_through: Some(ref h), chains: 1, .. } if h == "20240405T06")
        );
        assert!(
            matches!(quiet, Outcome::Seal { sealed_through: Some(ref h), chains: 0, .. } if h == "20240405T08")
        );
        let Outcome::Verify {
            since,
            until,
            report,
        } = daily
        else {
            panic!("{daily:?}");
        };
        assert_eq!(
            (since.as_str(), until.as_str()),
            (
                "2024-04-05T00:00:00.000000000Z",
                "2024-04-06T00:00:00.000000000Z"
            )
        );
        assert!(report.intact, "{report:#?}");
        let line = metrics::document(
            "sealer",
            Task::Verify,
            &Ok::<_, ()>(Outcome::Verify {
                since,
                until,
                report,
            }),
        )
        .to_line();
        assert!(line.contains(metrics::AUDIT_VERIFY_PROBLEMS), "{line}");
    }

    #[tokio::test]
    async fn a_repair_and_a_failure_are_in_the_metrics() {
        // Arrange: a closing marker nobody signed.
        let clock = Arc::new(FixedClock::new(datetime!(2024-04-05 06:10 UTC)));
        let keys = LocalAuditKeys::random().unwrap();
        let store = InMemoryAuditStore::new(&keys, clock.clone(), Duration::days(400));
        store
            .ledger()
            .append_stored(record(clock.now()))
            .await
            .unwrap();
        store.ledger().backend().tamper(|i| {
            if let Some(head) = i.seal_head.as_mut() {
                head.closing = Some("20991231T23".into());
            } else {
                i.seal_head = Some(gateway::audit_store::ledger::RawSealHead {
                    closing: Some("20991231T23".into()),
                    ..Default::default()
                });
            }
        });
        clock.set(datetime!(2024-04-05 07:15 UTC));

        // Act
        let outcome = run(Task::Seal, store.ledger(), clock.now()).await;
        let line = metrics::document("sealer", Task::Seal, &outcome).to_line();
        let failed = metrics::document(
            "sealer",
            Task::Seal,
            &Err::<Outcome, _>("the table is unreachable"),
        )
        .to_line();

        // Assert
        let Ok(Outcome::Seal { repairs, .. }) = &outcome else {
            panic!("{outcome:?}");
        };
        assert_eq!(repairs.len(), 1, "{repairs:?}");
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(doc[metrics::AUDIT_SEAL_REPAIRS], 1.0);
        assert_eq!(doc[metrics::AUDIT_SEALS_WRITTEN], 1.0);
        let doc: serde_json::Value = serde_json::from_str(&failed).unwrap();
        assert_eq!(doc[metrics::AUDIT_SEAL_FAILED], 1.0);
    }

    #[test]
    fn an_input_without_a_task_seals() {
        let input: Input =
            serde_json::from_value(serde_json::json!({"source": "aws.events"})).unwrap();
        assert_eq!(input.task, Task::Seal);
        let input: Input = serde_json::from_value(serde_json::json!({"task": "verify"})).unwrap();
        assert_eq!(input.task, Task::Verify);
    }
}
