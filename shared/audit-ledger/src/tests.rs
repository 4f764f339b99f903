//! The ledger's tests, end to end over the in-memory backend: chaining, sealing,
//! retention, and every kind of tampering that `verify` must catch and name.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::chain;
use crate::keys::{self, AuditKey, AuditPowers, LocalAuditKeys, LocalMacKeys};
use crate::ledger::{self, RawRecord};
use crate::memory::{AppendFault, MemoryAnchors, MemoryItems, MemoryLedger};
use crate::{
    ChainedAuditLog, Clock, FixedClock, LedgerRecord, NoteKind, ProblemKind, ProblemSubject,
    StoredRecord, VerifyReport,
};

const START: OffsetDateTime = datetime!(2024-04-05 06:00 UTC);

fn key(byte: u8) -> AuditKey {
    AuditKey::new(&[byte; 32]).unwrap()
}

/// What the tests keep: something that happened at a time, with a little content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    name: String,
    status: u16,
}

impl LedgerRecord for Event {
    fn time(&self) -> OffsetDateTime {
        self.time
    }
}

fn record(n: u32, time: OffsetDateTime) -> Event {
    Event {
        time,
        name: format!("event-{n}"),
        status: 200,
    }
}

type Ledger = ChainedAuditLog<MemoryLedger<Event>>;

/// A ledger holding every power through `keys`, over fresh items and anchors in memory.
fn memory_ledger(
    keys: &LocalAuditKeys,
    clock: Arc<FixedClock>,
    retention: Duration,
) -> (Ledger, Arc<MemoryAnchors>) {
    let anchors = Arc::new(MemoryAnchors::default());
    let ledger = ChainedAuditLog::new(
        MemoryLedger::default(),
        AuditPowers::local(keys),
        clock,
        retention,
    )
    .with_anchors(anchors.clone());
    (ledger, anchors)
}

/// A retention at the floor's safe side, as production uses.
const RETENTION: Duration = Duration::days(400);

fn keys_with(mac: LocalMacKeys) -> LocalAuditKeys {
    LocalAuditKeys::with_mac(mac).unwrap()
}

struct Fixture {
    clock: Arc<FixedClock>,
    keys: LocalAuditKeys,
    ledger: Ledger,
    anchors: Arc<MemoryAnchors>,
}

impl Fixture {
    fn new(retention: Duration) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let keys = keys_with(LocalMacKeys::single(key(1)));
        let (ledger, anchors) = memory_ledger(&keys, clock.clone(), retention);
        Self {
            clock,
            keys,
            ledger,
            anchors,
        }
    }

    /// Appends `n` records a minute apart from the clock's time; returns them as stored.
    async fn append(&self, n: u32) -> Vec<StoredRecord<Event>> {
        let mut out = Vec::new();
        for i in 0..n {
            let at = self.clock.now();
            out.push(self.ledger.append_stored(record(i, at)).await.unwrap());
            self.clock.advance(Duration::MINUTE);
        }
        out
    }

    /// Five records in the 06:00 hour, then one at 07:10 that seals the 06:00 hour.
    async fn sealed_hour(&self) -> Vec<StoredRecord<Event>> {
        let records = self.append(5).await;
        self.clock.set(datetime!(2024-04-05 07:10 UTC));
        self.append(1).await;
        records
    }

    async fn verify(&self) -> VerifyReport {
        self.ledger
            .verify_period(START, datetime!(2024-04-05 08:00 UTC))
            .await
            .unwrap()
    }

    fn tamper<R>(&self, change: impl FnOnce(&mut MemoryItems) -> R) -> R {
        self.ledger.backend().tamper(change)
    }
}

fn kinds(report: &VerifyReport) -> Vec<(ProblemKind, ProblemSubject, Option<String>)> {
    report
        .problems
        .iter()
        .map(|p| (p.kind, p.subject, p.record_id.clone()))
        .collect()
}

fn key_of(r: &StoredRecord<Event>) -> (String, u64) {
    (r.integrity.chain.clone(), r.integrity.seq)
}

/// The names of the stored records, in chain order.
fn stored_names(fx: &Fixture) -> Vec<String> {
    fx.ledger
        .backend()
        .records()
        .iter()
        .map(|r| {
            let event: Event = serde_json::from_str(r.record_json.as_deref().unwrap()).unwrap();
            event.name
        })
        .collect()
}

#[tokio::test]
async fn an_append_whose_answer_was_lost_is_reported_written_and_stored_once() {
    // Arrange: the second append lands, and its answer is lost.
    let fx = Fixture::new(RETENTION);
    fx.ledger.backend().fail_appends([AppendFault::AnswerLost]);

    // Act
    let stored = fx.append(3).await;
    fx.clock.set(datetime!(2024-04-05 07:10 UTC));
    fx.append(1).await;

    // Assert: each once, in order, and the trail verifies.
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored_names(&fx),
        ["event-0", "event-1", "event-2", "event-0"]
    );
    let report = fx.verify().await;
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 4);
}

#[tokio::test]
async fn an_append_the_store_could_not_take_is_sent_again_and_stored_once() {
    // Arrange: unreachable twice, then written with its answer lost.
    let fx = Fixture::new(RETENTION);
    fx.ledger.backend().fail_appends([
        AppendFault::Unreachable,
        AppendFault::Unreachable,
        AppendFault::AnswerLost,
    ]);

    // Act
    let stored = fx.append(2).await;

    // Assert: both on one chain, one after the other.
    assert_eq!(stored_names(&fx), ["event-0", "event-1"]);
    assert_eq!(stored[0].integrity.chain, stored[1].integrity.chain);
    assert_eq!((stored[0].integrity.seq, stored[1].integrity.seq), (1, 2));
}

#[tokio::test]
async fn an_append_the_store_never_takes_fails_with_nothing_written_and_the_next_one_succeeds() {
    // Arrange: unreachable for longer than the retries last.
    let fx = Fixture::new(RETENTION);
    fx.ledger
        .backend()
        .fail_appends([AppendFault::Unreachable; 5]);

    // Act
    let failed = fx.ledger.append_stored(record(0, START)).await;
    let next = fx.ledger.append_stored(record(1, START)).await;

    // Assert
    assert!(failed.is_err(), "{failed:?}");
    assert!(next.is_ok(), "{next:?}");
    assert_eq!(stored_names(&fx), ["event-1"]);
}

/// The names of the stored records, sorted (chains are named at random).
fn stored_names_sorted(fx: &Fixture) -> Vec<String> {
    let mut names = stored_names(fx);
    names.sort();
    names
}

#[tokio::test]
async fn a_record_kept_through_an_outage_is_written_once_the_store_answers_and_verifies() {
    // Arrange: the store is down for longer than an append's own retries.
    let fx = Fixture::new(RETENTION);
    fx.ledger.backend().set_down(true);

    // Act: kept while down; then the store is back.
    let kept = fx.ledger.append_or_keep(record(0, START)).await.unwrap();
    let still_down = fx.ledger.settle_owed().await;
    fx.ledger.backend().set_down(false);
    fx.ledger.append_stored(record(1, START)).await.unwrap();
    let before_the_wait = fx.ledger.owed();
    fx.clock.advance(Duration::seconds(30));
    fx.ledger
        .append_stored(record(2, fx.clock.now()))
        .await
        .unwrap();

    // Assert: kept, tried no sooner than the wait, then written once, and it verifies.
    assert_eq!(kept, crate::Appended::Kept);
    assert_eq!((still_down, before_the_wait, fx.ledger.owed()), (1, 1, 0));
    assert_eq!(stored_names_sorted(&fx), ["event-0", "event-1", "event-2"]);
    let report = fx.verify().await;
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 3);
}

#[tokio::test]
async fn a_kept_record_that_had_landed_before_the_outage_is_found_written_not_written_twice() {
    // Arrange: the append lands, its answer is lost, and the store goes down before
    // the writer can read it back.
    let fx = Fixture::new(RETENTION);
    fx.ledger
        .backend()
        .fail_appends([AppendFault::AnswerLostThenDown]);

    // Act
    let kept = fx.ledger.append_or_keep(record(0, START)).await.unwrap();
    fx.ledger.backend().set_down(false);
    let left = fx.ledger.settle_owed().await;

    // Assert
    assert_eq!(kept, crate::Appended::Kept);
    assert_eq!(left, 0);
    assert_eq!(stored_names(&fx), ["event-0"]);
    let report = fx.verify().await;
    assert!(report.intact, "{report:#?}");
}

#[tokio::test]
async fn a_kept_record_whose_chain_a_seal_closed_meanwhile_is_appended_anew_once() {
    // Arrange: a chain of the 06:00 hour; its next record cannot be written at 06:58.
    let fx = Fixture::new(RETENTION);
    fx.clock.set(datetime!(2024-04-05 06:57 UTC));
    fx.append(1).await;
    fx.ledger.backend().set_down(true);
    let kept = fx
        .ledger
        .append_or_keep(record(1, fx.clock.now()))
        .await
        .unwrap();

    // Act: the store is back after the hour was sealed (its chains closed).
    fx.ledger.backend().set_down(false);
    fx.clock.set(datetime!(2024-04-05 07:06 UTC));
    fx.ledger.seal_due().await.unwrap();
    let left = fx.ledger.settle_owed().await;

    // Assert: written once, on a chain of the new hour, and the trail verifies.
    assert_eq!(kept, crate::Appended::Kept);
    assert_eq!(left, 0);
    assert_eq!(stored_names_sorted(&fx), ["event-0", "event-1"]);
    let records = fx.ledger.backend().records();
    let anew = records
        .iter()
        .find(|r| {
            r.record_json
                .as_deref()
                .is_some_and(|j| j.contains("event-1"))
        })
        .and_then(|r| r.chain.as_deref());
    assert_eq!(
        anew.and_then(chain::chain_hour),
        Some("20240405T07"),
        "{records:#?}"
    );
    let report = fx
        .ledger
        .verify_period(START, datetime!(2024-04-05 08:00 UTC))
        .await
        .unwrap();
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 2);
}

#[tokio::test]
async fn a_record_kept_past_the_time_it_could_still_verify_is_dropped() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    fx.ledger.backend().set_down(true);
    fx.ledger.append_or_keep(record(0, START)).await.unwrap();

    // Act: the store answers again only after the record could still verify.
    fx.ledger.backend().set_down(false);
    fx.clock.advance(crate::OWED_FOR + Duration::SECOND);
    let left = fx.ledger.settle_owed().await;

    // Assert
    assert_eq!(left, 0);
    assert!(stored_names(&fx).is_empty());
}

#[tokio::test]
async fn an_untouched_sealed_period_verifies_clean() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;

    // Act
    let report = fx.verify().await;

    // Assert
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 6);
    assert_eq!(report.chains, 2, "one chain per hour");
    assert!(report.notes.is_empty(), "{:?}", report.notes);
    let seals = fx.tamper(|i| i.seals.clone());
    assert_eq!(seals.len(), 1);
    let seal = seals.values().next().unwrap();
    assert_eq!(seal.through, "20240405T06");
    assert!(
        seal.chains
            .as_deref()
            .unwrap()
            .contains(&format!("{} 5 ", records[0].integrity.chain))
    );
}

#[tokio::test]
async fn records_of_one_writer_form_a_hash_chain_with_macs() {
    // Arrange
    let fx = Fixture::new(RETENTION);

    // Act
    let records = fx.append(3).await;

    // Assert
    assert_eq!(records[0].integrity.prev_hash, chain::ZERO_HASH);
    assert_eq!(records[1].integrity.prev_hash, records[0].integrity.hash);
    assert_eq!(records[2].integrity.seq, 3);
    assert!(key(1).check_hex(
        &chain::record_mac_message(&records[2].integrity.hash),
        &records[2].integrity.mac
    ));
    assert_eq!(
        records[2].id,
        chain::record_id(&records[2].integrity.chain, 3)
    );
    assert_eq!(records[2].integrity.key_id, key(1).id());
}

#[tokio::test]
async fn an_unsealed_recent_hour_verifies_clean_and_a_finished_one_is_noted_as_unsealed() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    fx.append(3).await;

    // Act: still within the hour, then long after it with no write to seal it.
    let within = fx.verify().await;
    fx.clock.set(datetime!(2024-04-05 09:00 UTC));
    let after = fx.verify().await;

    // Assert
    assert!(within.intact && within.notes.is_empty(), "{within:#?}");
    assert!(after.intact, "{after:#?}");
    assert_eq!(after.notes.len(), 1);
    assert_eq!(after.notes[0].kind, NoteKind::Unsealed);
}

#[tokio::test]
async fn a_deleted_record_is_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;

    // Act
    fx.tamper(|i| i.records.remove(&key_of(&records[2])));
    let report = fx.verify().await;

    // Assert
    assert!(!report.intact);
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(records[2].id.clone())
        )]
    );
}

#[tokio::test]
async fn an_edited_field_is_named_as_altered() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;

    // Act: turn a failure into a success.
    fx.tamper(|i| {
        let raw = i.records.get_mut(&key_of(&records[1])).unwrap();
        let json = raw.record_json.take().unwrap();
        raw.record_json = Some(json.replace("\"status\":200", "\"status\":204"));
    });
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Altered,
            ProblemSubject::Record,
            Some(records[1].id.clone())
        )]
    );
}

#[tokio::test]
async fn a_forged_record_is_named_as_inserted_wherever_it_is_put() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;
    let chain_id = records[0].integrity.chain.clone();
    let forged = |seq: u64, prev: &str| RawRecord {
        location: format!("memory:forged:{seq}"),
        chain: Some(chain_id.clone()),
        seq: Some(seq),
        prev_hash: Some(prev.to_owned()),
        hash: Some("ab".repeat(32)),
        mac: Some("cd".repeat(32)),
        key_id: Some(key(1).id().to_owned()),
        written_at: Some(records[4].integrity.written_at.clone()),
        expires_at: Some(records[4].integrity.expires_at),
        record_json: Some(chain::canonical_record(&record(99, START)).unwrap()),
        anomalies: vec![],
    };

    // Act: one after the sealed end, one in a new, unregistered chain.
    let after_end = forged(6, &records[4].integrity.hash);
    fx.tamper(|i| {
        i.records.insert((chain_id.clone(), 6), after_end);
        let mut stray = forged(1, chain::ZERO_HASH);
        stray.chain = Some("20240405T06-00000000deadbeef".into());
        i.records
            .insert(("20240405T06-00000000deadbeef".into(), 1), stray);
    });
    let report = fx.verify().await;

    // Assert
    let found = kinds(&report);
    assert_eq!(found.len(), 2, "{report:#?}");
    assert!(found.contains(&(
        ProblemKind::Inserted,
        ProblemSubject::Record,
        Some(chain::record_id(&chain_id, 6))
    )));
    assert!(found.contains(&(
        ProblemKind::Inserted,
        ProblemSubject::Record,
        Some(chain::record_id("20240405T06-00000000deadbeef", 1))
    )));
}

#[tokio::test]
async fn a_second_item_for_a_taken_position_is_named_as_inserted() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;
    let chain_id = records[1].integrity.chain.clone();

    // Act: another item claiming to be record 2, with other content.
    fx.tamper(|i| {
        let mut twin = i.records.get(&key_of(&records[1])).unwrap().clone();
        twin.location = "memory:twin".into();
        twin.record_json = Some(chain::canonical_record(&record(77, START)).unwrap());
        i.records.insert((chain_id.clone(), 1_000), twin);
    });
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Inserted,
            ProblemSubject::Record,
            Some(records[1].id.clone())
        )]
    );
    assert_eq!(report.problems[0].location.as_deref(), Some("memory:twin"));
}

#[tokio::test]
async fn a_deleted_head_and_registration_are_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;
    let chain_id = records[0].integrity.chain.clone();

    // Act
    fx.tamper(|i| {
        i.heads.remove(&chain_id);
        i.registry.remove(&chain_id);
    });
    let report = fx.verify().await;

    // Assert
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.subject))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::Deleted, ProblemSubject::ChainRegistration),
            (ProblemKind::Deleted, ProblemSubject::ChainHead)
        ]
    );
}

#[tokio::test]
async fn an_altered_seal_is_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    fx.sealed_hour().await;

    // Act: drop a chain from the seal's list.
    fx.tamper(|i| {
        let seal = i.seals.get_mut("20240405T06").unwrap();
        seal.chains = Some(String::new());
    });
    let report = fx.verify().await;

    // Assert
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Altered && p.subject == ProblemSubject::Seal),
        "{report:#?}"
    );
}

#[tokio::test]
async fn two_swapped_records_are_named_with_where_each_belongs() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;

    // Act: swap the contents of records 2 and 4, leaving their chain links in place.
    fx.tamper(|i| {
        let a = i
            .records
            .get(&key_of(&records[1]))
            .unwrap()
            .record_json
            .clone();
        let b = i
            .records
            .get(&key_of(&records[3]))
            .unwrap()
            .record_json
            .clone();
        i.records.get_mut(&key_of(&records[1])).unwrap().record_json = b;
        i.records.get_mut(&key_of(&records[3])).unwrap().record_json = a;
    });
    let report = fx.verify().await;

    // Assert
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.seq, p.belongs_at))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::Reordered, Some(2), Some(4)),
            (ProblemKind::Reordered, Some(4), Some(2))
        ]
    );
}

#[tokio::test]
async fn records_whose_positions_were_swapped_are_named_as_reordered() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;

    // Act: swap the seq of records 1 and 3 (each keeps its own hash and MAC).
    fx.tamper(|i| {
        let mut a = i.records.remove(&key_of(&records[0])).unwrap();
        let mut b = i.records.remove(&key_of(&records[2])).unwrap();
        a.seq = Some(3);
        b.seq = Some(1);
        i.records.insert(key_of(&records[2]), a);
        i.records.insert(key_of(&records[0]), b);
    });
    let report = fx.verify().await;

    // Assert
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.seq, p.belongs_at))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::Reordered, Some(1), Some(3)),
            (ProblemKind::Reordered, Some(3), Some(1))
        ]
    );
}

#[tokio::test]
async fn a_deleted_tail_is_caught_by_the_head_before_the_hour_is_sealed() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.append(5).await;

    // Act
    fx.tamper(|i| {
        i.records.remove(&key_of(&records[3]));
        i.records.remove(&key_of(&records[4]));
    });
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [
            (
                ProblemKind::Deleted,
                ProblemSubject::Record,
                Some(records[3].id.clone())
            ),
            (
                ProblemKind::Deleted,
                ProblemSubject::Record,
                Some(records[4].id.clone())
            )
        ]
    );
}

#[tokio::test]
async fn a_deleted_tail_with_a_rolled_back_head_is_caught_by_the_seal() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let mut records = fx.append(3).await;
    let chain_id = records[0].integrity.chain.clone();
    let head_at_3 = fx.tamper(|i| i.heads.get(&chain_id).cloned()).unwrap();
    records.extend(fx.append(2).await);
    fx.clock.set(datetime!(2024-04-05 07:10 UTC));
    fx.append(1).await; // seals hour 06

    // Act: delete records 4 and 5 and put back the genuine head as it was after 3.
    fx.tamper(|i| {
        i.records.remove(&key_of(&records[3]));
        i.records.remove(&key_of(&records[4]));
        i.heads.insert(chain_id.clone(), head_at_3.clone());
    });
    let report = fx.verify().await;

    // Assert
    let found = kinds(&report);
    assert!(
        found.contains(&(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(records[3].id.clone())
        )),
        "{report:#?}"
    );
    assert!(found.contains(&(
        ProblemKind::Deleted,
        ProblemSubject::Record,
        Some(records[4].id.clone())
    )));
    assert!(
        found
            .iter()
            .any(|(k, s, _)| *k == ProblemKind::Altered && *s == ProblemSubject::ChainHead)
    );
}

#[tokio::test]
async fn a_whole_deleted_chain_is_caught_by_its_seal_and_each_record_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;
    let chain_id = records[0].integrity.chain.clone();

    // Act
    fx.tamper(|i| {
        i.records.retain(|(c, _), _| *c != chain_id);
        i.heads.remove(&chain_id);
        i.registry.remove(&chain_id);
    });
    let report = fx.verify().await;

    // Assert
    let found = kinds(&report);
    assert!(
        found.contains(&(ProblemKind::Deleted, ProblemSubject::Chain, None)),
        "{report:#?}"
    );
    for r in &records {
        assert!(found.contains(&(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(r.id.clone())
        )));
    }
}

#[tokio::test]
async fn a_deleted_seal_is_caught_by_the_next_seal() {
    // Arrange: hours 06, 07 and 08 each sealed by a write in the next hour.
    let fx = Fixture::new(RETENTION);
    fx.append(2).await;
    for hour in [7, 8, 9] {
        fx.clock
            .set(START + Duration::hours(hour - 6) + Duration::minutes(10));
        fx.append(1).await;
    }

    // Act
    fx.tamper(|i| i.seals.remove("20240405T07"));
    let report = fx
        .ledger
        .verify_period(START, datetime!(2024-04-05 09:00 UTC))
        .await
        .unwrap();

    // Assert
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.kind == ProblemKind::Deleted
                && p.subject == ProblemSubject::Seal
                && p.seal.as_deref() == Some("20240405T07")),
        "{report:#?}"
    );
}

#[tokio::test]
async fn an_expired_prefix_is_a_note_but_a_deleted_young_record_is_a_problem() {
    // Arrange: records at 06:00..06:04.
    let fx = Fixture::new(RETENTION);
    let records = fx.sealed_hour().await;
    // A retention after 06:03:30: records 1..4 (written 06:00..06:03) have expired, 5
    // has not; the TTL has removed 1..3 so far. The sealer has run meanwhile.
    fx.clock.set(datetime!(2024-04-05 06:03:30 UTC) + RETENTION);
    fx.ledger.seal_due().await.unwrap();

    // Act: the TTL removes 1..3; someone deletes 5.
    fx.tamper(|i| {
        for r in &records[..3] {
            i.records.remove(&key_of(r));
        }
    });
    let expired_only = fx.verify().await;
    fx.tamper(|i| i.records.remove(&key_of(&records[4])));
    let with_deletion = fx.verify().await;

    // Assert
    assert!(expired_only.intact, "{expired_only:#?}");
    assert_eq!(expired_only.notes.len(), 1);
    assert_eq!(expired_only.notes[0].kind, NoteKind::Expired);
    assert_eq!(expired_only.notes[0].seqs, Some((1, 3)));
    assert_eq!(
        kinds(&with_deletion),
        [(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(records[4].id.clone())
        )]
    );
}

#[tokio::test]
async fn a_new_chain_starts_each_hour_and_after_a_seal_closes_the_old_one() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    let first = fx.append(1).await;

    // Act: next hour, after the grace, so the append seals hour 06 first... and then a
    // second append in the same hour reuses the new chain.
    fx.clock.set(datetime!(2024-04-05 07:06 UTC));
    let second = fx.append(2).await;

    // Assert
    assert_ne!(first[0].integrity.chain, second[0].integrity.chain);
    assert_eq!(second[1].integrity.chain, second[0].integrity.chain);
    assert_eq!(
        chain::chain_hour(&second[0].integrity.chain),
        Some("20240405T07")
    );
    let closed = fx.tamper(|i| i.heads.get(&first[0].integrity.chain).map(|(_, c)| *c));
    assert_eq!(closed, Some(true));
}

#[tokio::test]
async fn a_writer_whose_clock_lags_behind_the_sealers_moves_to_the_next_hour() {
    // Arrange: the sealer, its clock a few minutes ahead, has closed hour 06.
    let fx = Fixture::new(RETENTION);
    let tag = keys::SealSigner::sign(
        &*fx.keys.seal,
        &keys::digest(&chain::closing_message("20240405T06")),
    )
    .await
    .unwrap();
    fx.ledger.backend().tamper(|i| {
        i.seal_head = Some(ledger::RawSealHead {
            closing: Some("20240405T06".into()),
            closing_key_id: Some(tag.key_id),
            closing_sig: Some(tag.value),
            ..Default::default()
        })
    });

    // Act: this writer's clock still says 06:57.
    fx.clock.set(datetime!(2024-04-05 06:57 UTC));
    let stored = fx.append(1).await;

    // Assert: the record went to an hour-07 chain, which verify accepts.
    assert_eq!(
        chain::chain_hour(&stored[0].integrity.chain),
        Some("20240405T07")
    );
    let report = fx.verify().await;
    assert!(report.intact, "{report:#?}");
}

#[tokio::test]
async fn a_closing_marker_past_what_the_sealer_sets_is_not_followed() {
    // Arrange: someone with table access sets the marker far into the future.
    let fx = Fixture::new(RETENTION);
    fx.ledger.backend().tamper(|i| {
        i.seal_head = Some(ledger::RawSealHead {
            closing: Some("20991231T23".into()),
            ..Default::default()
        })
    });

    // Act
    let result = fx.ledger.append_stored(record(1, START)).await;

    // Assert: nothing is written to a chain dated in the future; the append fails (so
    // the caller can refuse its request), and the sealer's next run repairs the marker.
    assert!(result.is_err());
    assert!(fx.tamper(|i| i.records.is_empty()));
    fx.clock.set(datetime!(2024-04-05 07:06 UTC));
    let run = fx.ledger.seal_run().await.unwrap();
    assert!(
        run.repairs.iter().any(|r| r.contains("closing marker")),
        "{run:?}"
    );
    let stored = fx.ledger.append_stored(record(2, fx.clock.now())).await;
    assert!(stored.is_ok());
}

#[tokio::test]
async fn records_signed_with_a_rotated_out_key_verify_while_the_old_key_is_kept() {
    // Arrange: records signed with key 1.
    let fx = Fixture::new(RETENTION);
    fx.sealed_hour().await;
    let items = fx.tamper(|i| i.clone());
    let anchors = fx.anchors.tamper(|a| a.clone());
    let with_seal_key = |mac| LocalAuditKeys {
        mac: Arc::new(mac),
        seal: fx.keys.seal.clone(),
    };
    let rotated = memory_ledger(
        &with_seal_key(LocalMacKeys::new(vec![key(9), key(1)]).unwrap()),
        fx.clock.clone(),
        RETENTION,
    );
    let without_old = memory_ledger(
        &with_seal_key(LocalMacKeys::single(key(2))),
        fx.clock.clone(),
        RETENTION,
    );
    for (ledger, ledger_anchors) in [&rotated, &without_old] {
        ledger.backend().tamper(|i| *i = items.clone());
        ledger_anchors.tamper(|a| *a = anchors.clone());
    }

    // Act
    let kept = rotated
        .0
        .verify_period(START, datetime!(2024-04-05 08:00 UTC))
        .await
        .unwrap();
    let lost = without_old
        .0
        .verify_period(START, datetime!(2024-04-05 08:00 UTC))
        .await
        .unwrap();

    // Assert
    assert!(kept.intact, "{kept:#?}");
    assert!(!lost.intact);
    assert!(
        lost.problems
            .iter()
            .all(|p| p.kind == ProblemKind::Unverifiable),
        "{lost:#?}"
    );
}

/// The seal problems of a report, as (kind, the seal's hour).
fn seal_problems(report: &VerifyReport) -> Vec<(ProblemKind, Option<String>)> {
    report
        .problems
        .iter()
        .filter(|p| p.subject == ProblemSubject::Seal)
        .map(|p| (p.kind, p.seal.clone()))
        .collect()
}

/// Hours 06, 07 and 08 each sealed by the write that follows them.
async fn three_sealed_hours(fx: &Fixture) {
    fx.append(2).await;
    for hour in [7, 8, 9] {
        fx.clock
            .set(START + Duration::hours(hour - 6) + Duration::minutes(10));
        fx.append(1).await;
    }
}

async fn verify_three_hours(fx: &Fixture) -> VerifyReport {
    fx.ledger
        .verify_period(START, datetime!(2024-04-05 09:00 UTC))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deleted_seal_pointer_is_named_and_the_sealer_goes_on_from_the_newest_seal() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    three_sealed_hours(&fx).await;
    let newest = fx.tamper(|i| i.seals.get("20240405T08").cloned()).unwrap();

    // Act: the pointer goes (the old sealer would have started a second seal chain).
    fx.tamper(|i| i.seal_head = None);
    let report = verify_three_hours(&fx).await;
    fx.clock.set(datetime!(2024-04-05 10:10 UTC));
    let run = fx.ledger.seal_run().await.unwrap();

    // Assert: verify names it; the next seal links to the newest seal, not to nothing.
    assert!(
        seal_problems(&report).contains(&(ProblemKind::Deleted, Some("20240405T08".into()))),
        "{report:#?}"
    );
    assert!(
        run.repairs.iter().any(|r| r.contains("seal pointer")),
        "{run:?}"
    );
    let next = fx.tamper(|i| i.seals.get("20240405T09").cloned()).unwrap();
    assert_eq!(next.prev_mac, newest.mac);
    let after = fx
        .ledger
        .verify_period(START, datetime!(2024-04-05 10:00 UTC))
        .await
        .unwrap();
    assert!(after.intact, "{after:#?}");
}

#[tokio::test]
async fn a_rolled_back_seal_pointer_is_named() {
    // Arrange: the genuine pointer as it was after the seal of hour 07.
    let fx = Fixture::new(RETENTION);
    fx.append(2).await;
    for hour in [7, 8] {
        fx.clock
            .set(START + Duration::hours(hour - 6) + Duration::minutes(10));
        fx.append(1).await;
    }
    let pointer_at_07 = fx.tamper(|i| i.seal_head.clone());
    fx.clock.set(datetime!(2024-04-05 09:10 UTC));
    fx.append(1).await;

    // Act: the older, authentic pointer is written back.
    fx.tamper(|i| i.seal_head = pointer_at_07);
    let report = verify_three_hours(&fx).await;

    // Assert
    assert!(
        seal_problems(&report).contains(&(ProblemKind::Altered, Some("20240405T07".into()))),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_second_start_of_the_seal_chain_is_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    three_sealed_hours(&fx).await;

    // Act: a seal through 08, genuinely signed, that starts a seal chain afresh (what
    // a sealer steered by a deleted pointer would once have written).
    let claim = chain::SealClaim {
        from: "20240405T08",
        through: "20240405T08",
        prev_mac: chain::ZERO_HASH,
        prev_expires_at: 0,
        chains: "",
    };
    let tag = keys::SealSigner::sign(&*fx.keys.seal, &keys::digest(&claim.message()))
        .await
        .unwrap();
    fx.tamper(|i| {
        let seal = i.seals.get_mut("20240405T08").unwrap();
        seal.from = Some(claim.from.into());
        seal.prev_mac = Some(claim.prev_mac.into());
        seal.prev_expires_at = Some(0);
        seal.chains = Some(String::new());
        seal.key_id = Some(tag.key_id.clone());
        seal.mac = Some(tag.value.clone());
    });
    let report = verify_three_hours(&fx).await;

    // Assert: a second start, and a seal that no longer matches its anchor.
    let found = seal_problems(&report);
    assert!(
        found.contains(&(ProblemKind::Inserted, Some("20240405T08".into()))),
        "{report:#?}"
    );
    assert!(found.contains(&(ProblemKind::Altered, Some("20240405T08".into()))));
}

#[tokio::test]
async fn a_closing_marker_not_set_by_the_sealer_is_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    three_sealed_hours(&fx).await;

    // Act: someone with table access moves the marker back (to let chains register in
    // sealed hours) without the sealer's signature.
    fx.tamper(|i| {
        if let Some(h) = i.seal_head.as_mut() {
            h.closing = Some("20240405T06".into());
        }
    });
    let report = verify_three_hours(&fx).await;

    // Assert
    assert!(
        seal_problems(&report).contains(&(ProblemKind::Altered, Some("20240405T06".into()))),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_deleted_anchor_is_named() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    three_sealed_hours(&fx).await;

    // Act (impossible in a bucket under compliance-mode Object Lock; shown anyway)
    fx.anchors.tamper(|a| a.remove("20240405T07"));
    let report = verify_three_hours(&fx).await;

    // Assert
    assert_eq!(
        seal_problems(&report),
        [(ProblemKind::Deleted, Some("20240405T07".into()))],
        "{report:#?}"
    );
}

#[tokio::test]
async fn the_newest_seals_deleted_with_the_pointer_are_named_by_their_anchors() {
    // Arrange
    let fx = Fixture::new(RETENTION);
    three_sealed_hours(&fx).await;
    let pointer_at_07 = {
        // What the pointer said after hour 07 was sealed: rebuilt from the seal, as the
        // sealer signed it then.
        let seal = fx.tamper(|i| i.seals.get("20240405T07").cloned()).unwrap();
        let (mac, expires) = (seal.mac.unwrap(), seal.expires_at.unwrap());
        let tag = keys::SealSigner::sign(
            &*fx.keys.seal,
            &keys::digest(&chain::seal_head_message("20240405T07", &mac, expires)),
        )
        .await
        .unwrap();
        (mac, expires, tag)
    };

    // Act: the whole tail goes: the seal of hour 08, its chains, and the pointer is put
    // back to 07. Only the anchors still know.
    fx.tamper(|i| {
        i.seals.remove("20240405T08");
        let head = i.seal_head.as_mut().unwrap();
        head.through = Some("20240405T07".into());
        head.last_mac = Some(pointer_at_07.0.clone());
        head.last_expires_at = Some(pointer_at_07.1);
        head.key_id = Some(pointer_at_07.2.key_id.clone());
        head.mac = Some(pointer_at_07.2.value.clone());
    });
    let report = verify_three_hours(&fx).await;

    // Assert
    assert!(
        seal_problems(&report).contains(&(ProblemKind::Deleted, Some("20240405T08".into()))),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_head_rolled_back_before_sealing_is_named_by_the_writers_next_chain() {
    // Arrange: three records at 06:00..06:02; the head as it was after two.
    let fx = Fixture::new(RETENTION);
    let records = fx.append(2).await;
    let chain_id = records[0].integrity.chain.clone();
    let head_at_2 = fx.tamper(|i| i.heads.get(&chain_id).cloned()).unwrap();
    let third = fx.append(1).await;
    // 07:01: the writer starts the next hour's chain (before the seal is due), which
    // names where the 06 chain ended.
    fx.clock.set(datetime!(2024-04-05 07:01 UTC));
    fx.append(1).await;

    // Act: before the seal, the third record is deleted and the head rolled back to its
    // genuine state after two; then the sealer seals the rolled-back head.
    fx.tamper(|i| {
        i.records.remove(&key_of(&third[0]));
        i.heads.insert(chain_id.clone(), head_at_2.clone());
    });
    fx.clock.set(datetime!(2024-04-05 07:10 UTC));
    fx.ledger.seal_due().await.unwrap();
    let report = fx.verify().await;

    // Assert: the deleted record is named, and the head and seal as cut short.
    let found = kinds(&report);
    assert!(
        found.contains(&(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(third[0].id.clone())
        )),
        "{report:#?}"
    );
    assert!(
        found
            .iter()
            .any(|(k, s, _)| *k == ProblemKind::Altered && *s == ProblemSubject::ChainHead)
    );
}

#[tokio::test]
async fn records_kept_for_less_than_the_retention_floor_are_named() {
    // Arrange: a writer configured below the floor (the functions refuse to start so).
    let fx = Fixture::new(Duration::days(30));

    // Act
    let records = fx.append(1).await;
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Altered,
            ProblemSubject::Record,
            Some(records[0].id.clone())
        )],
        "{report:#?}"
    );
    assert!(report.problems[0].detail.contains("retention floor"));
}

#[tokio::test]
async fn a_quiet_hour_is_sealed_and_anchored_by_the_schedule_without_any_write() {
    // Arrange: records in hour 06, then nothing.
    let fx = Fixture::new(RETENTION);
    fx.append(2).await;

    // Act: the sealer's schedule runs at 07:15 and again at 09:15, with no traffic.
    fx.clock.set(datetime!(2024-04-05 07:15 UTC));
    let first = fx.ledger.seal_run().await.unwrap();
    fx.clock.set(datetime!(2024-04-05 09:15 UTC));
    let second = fx.ledger.seal_run().await.unwrap();

    // Assert: 06 sealed, then the quiet 07 and 08; each seal anchored.
    assert_eq!(
        first.sealed.map(|s| s.through).as_deref(),
        Some("20240405T06")
    );
    assert_eq!(
        second.sealed.map(|s| (s.from, s.through)),
        Some(("20240405T07".into(), "20240405T08".into()))
    );
    let anchored: Vec<String> = fx.anchors.tamper(|a| a.keys().cloned().collect());
    assert_eq!(anchored, ["20240405T06", "20240405T08"]);
    let report = fx
        .ledger
        .verify_period(START, datetime!(2024-04-05 09:00 UTC))
        .await
        .unwrap();
    assert!(report.intact && report.notes.is_empty(), "{report:#?}");
}
