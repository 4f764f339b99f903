//! `DynamoDbAuditLog` against real DynamoDB, KMS and S3 APIs (moto's server): the
//! documented table, appends and every query with paging, concurrent writers, the
//! separated powers (KMS MAC and signing keys), seals anchored with Object Lock,
//! tampering of every kind caught and named by `verify`, retention told apart from
//! deletion, and no password in any stored item.

use std::collections::HashMap;
use std::sync::Arc;

use aws_adapters::dynamodb_audit::{self, INDEXES, TIME_SK, TTL_ATTRIBUTE};
use aws_adapters::kms_audit_keys::{
    AuditKeyArns, all_powers, ensure_keys, sealer_powers, verifier_powers, writer_powers,
};
use aws_adapters::s3_seal_anchors::create_bucket;
use aws_adapters::{DynamoDbAuditLog, S3SealAnchors};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use gateway::audit::{
    AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome, attribute_changes,
    secrets_in,
};
use gateway::audit_store::MemoryAnchors;
use gateway::audit_store::keys::KeyError;
use gateway::audit_store::ledger::LedgerBackend as _;
use gateway::audit_store::{
    AuditQuery, AuditStore, AuditStoreError, NoteKind, ProblemKind, ProblemSubject,
    StoredAuditRecord, VerifyReport,
};
use gateway::translate::ResourceKind;
use gateway::{Clock, FixedClock, SystemClock};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2024-04-05 06:00 UTC);
const END: OffsetDateTime = datetime!(2024-04-05 08:00 UTC);

type Item = HashMap<String, AttributeValue>;

/// The retention production uses (at the floor's safe side).
const RETENTION: Duration = Duration::days(400);

fn record(n: u32, time: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        time,
        source: AuditSource::Scim {
            method: "PATCH".into(),
            path: "/Groups/{id}".into(),
        },
        actor: AuditActor {
            credential: if n.is_multiple_of(2) {
                "scim-token:primary"
            } else {
                "okta-admin:alice"
            }
            .into(),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: AuditSubject {
            resource_type: Some(ResourceKind::Group),
            external_id: Some(format!("00g{}", n % 4)),
            target_id: Some(format!("g-{}", n % 4)),
            name: Some(format!("Team {}", n % 4)),
        },
        operation: if n.is_multiple_of(3) {
            AuditOperation::Delete
        } else {
            AuditOperation::Patch
        },
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "v7".into(),
        outcome: match n % 5 {
            0 => Outcome::Failure,
            1 => Outcome::Refused,
            _ => Outcome::Success,
        },
        status: 200,
        target_status: Some(200),
        target_calls: 1,
        latency_ms: 7,
        correlation_id: format!("req-{n}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

struct Fixture {
    client: Client,
    kms: aws_sdk_kms::Client,
    keys: AuditKeyArns,
    table: String,
    clock: Arc<FixedClock>,
    log: DynamoDbAuditLog,
    retention: Duration,
}

impl Fixture {
    async fn new(retention: Duration) -> Self {
        // moto deep-copies a table at the start of each transaction without a lock, so
        // concurrent transactions there sometimes fail with a retryable 500 before they
        // apply; more retries keep the concurrent test about the adapter, not moto.
        let config =
            aws_sdk_dynamodb::config::Builder::from(&test_services::moto_sdk_config().await)
                .retry_config(RetryConfig::standard().with_max_attempts(10))
                .build();
        let client = Client::from_conf(config);
        let table = test_services::unique_name("scimgw-audit");
        dynamodb_audit::create_table(&client, &table).await.unwrap();
        let clock = Arc::new(FixedClock::new(START));
        let kms = aws_sdk_kms::Client::new(&test_services::moto_sdk_config().await);
        let keys = ensure_keys(&kms, &table).await.unwrap();
        // The anchors in memory: these tests run in 2024 by a fixed clock, and S3 takes
        // no retention date in the past (S3 is tested on its own below).
        let log = DynamoDbAuditLog::new(
            client.clone(),
            &table,
            all_powers(&kms, &keys),
            clock.clone(),
            retention,
        )
        .with_anchors(Arc::new(MemoryAnchors::default()));
        Self {
            client,
            kms,
            keys,
            table,
            clock,
            log,
            retention,
        }
    }

    /// Another writer (another Lambda execution environment) on the same table: it
    /// holds the MAC key's power only.
    fn writer(&self) -> DynamoDbAuditLog {
        DynamoDbAuditLog::new(
            self.client.clone(),
            &self.table,
            writer_powers(&self.kms, &self.keys.mac),
            self.clock.clone(),
            self.retention,
        )
    }

    async fn append(&self, n: u32) -> Vec<StoredAuditRecord> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push(
                self.log
                    .append_stored(record(i, self.clock.now()))
                    .await
                    .unwrap(),
            );
            self.clock.advance(Duration::MINUTE);
        }
        out
    }

    /// Five records in the 06:00 hour, then one at 07:10 that seals the hour.
    async fn sealed_hour(&self) -> Vec<StoredAuditRecord> {
        let records = self.append(5).await;
        self.clock.set(datetime!(2024-04-05 07:10 UTC));
        self.append(1).await;
        records
    }

    async fn verify(&self) -> VerifyReport {
        self.log.verify(START, END).await.unwrap()
    }

    fn key(pk: &str, sk: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
            ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    fn record_key(r: &StoredAuditRecord) -> Item {
        Self::key(
            &format!("CHAIN#{}", r.integrity.chain),
            &format!("REC#{:010}", r.integrity.seq),
        )
    }

    async fn get(&self, key: Item) -> Item {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    }

    async fn put(&self, item: Item) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }

    async fn delete(&self, key: Item) {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .send()
            .await
            .unwrap();
    }

    async fn scan(&self) -> Vec<Item> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return out;
            }
        }
    }

    /// Every page of a query, following cursors.
    async fn all(&self, query: AuditQuery) -> Vec<StoredAuditRecord> {
        let mut out = Vec::new();
        let mut cursor = None;
        for _ in 0..100 {
            let page = self
                .log
                .query(&AuditQuery {
                    cursor: cursor.clone(),
                    ..query.clone()
                })
                .await
                .unwrap();
            assert!(page.records.len() <= query.limit as usize);
            out.extend(page.records);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return out,
            }
        }
        panic!("a query that never ends");
    }
}

fn kinds(report: &VerifyReport) -> Vec<(ProblemKind, ProblemSubject, Option<String>)> {
    report
        .problems
        .iter()
        .map(|p| (p.kind, p.subject, p.record_id.clone()))
        .collect()
}

#[tokio::test]
async fn the_helper_creates_the_documented_table() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;

    // Act
    let table = fx
        .client
        .describe_table()
        .table_name(&fx.table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let ttl = fx
        .client
        .describe_time_to_live()
        .table_name(&fx.table)
        .send()
        .await
        .unwrap();

    // Assert
    let keys: Vec<(String, KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name().to_owned(), k.key_type().clone()))
        .collect();
    assert_eq!(
        keys,
        [("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
    );
    let mut indexes: Vec<(String, String, String)> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let ks = i.key_schema();
            (
                i.index_name().unwrap().to_owned(),
                ks[0].attribute_name().to_owned(),
                ks[1].attribute_name().to_owned(),
            )
        })
        .collect();
    indexes.sort();
    let mut expected: Vec<(String, String, String)> = INDEXES
        .iter()
        .map(|(n, a)| ((*n).to_owned(), (*a).to_owned(), TIME_SK.to_owned()))
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some(TTL_ATTRIBUTE)
    );
}

#[tokio::test]
async fn records_are_found_by_each_filter_page_by_page_in_time_order() {
    // Arrange: 20 records from two writers, alternating.
    let fx = Fixture::new(RETENTION).await;
    let other = fx.writer();
    let mut written = Vec::new();
    for i in 0..20 {
        let at = fx.clock.now();
        let log = if i % 2 == 0 { &fx.log } else { &other };
        written.push(log.append_stored(record(i, at)).await.unwrap());
        fx.clock.advance(Duration::SECOND * 30);
    }
    let expect = |f: &dyn Fn(&AuditRecord) -> bool| -> Vec<String> {
        written
            .iter()
            .filter(|r| f(&r.record))
            .map(|r| r.id.clone())
            .collect()
    };
    let ids = |records: Vec<StoredAuditRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.id).collect()
    };
    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery {
            limit: 3,
            ..AuditQuery::default()
        };
        f(&mut q);
        q
    };

    // Act & Assert: each question, in pages of 3.
    assert_eq!(ids(fx.all(q(|_| {})).await), expect(&|_| true));
    for target in ["g-1", "00g1", "team 1"] {
        let query = AuditQuery {
            target: Some(target.into()),
            limit: 2,
            ..AuditQuery::default()
        };
        assert_eq!(
            ids(fx.all(query).await),
            expect(&|r| r.subject.target_id.as_deref() == Some("g-1")),
            "{target}"
        );
    }
    assert_eq!(
        ids(fx
            .all(q(|q| q.actor = Some("okta-admin:alice".into())))
            .await),
        expect(&|r| r.actor.credential == "okta-admin:alice")
    );
    assert_eq!(
        ids(fx.all(q(|q| q.outcome = Some(Outcome::Failure))).await),
        expect(&|r| r.outcome == Outcome::Failure)
    );
    assert_eq!(
        ids(fx.all(q(|q| q.outcome = Some(Outcome::Refused))).await),
        expect(&|r| r.outcome == Outcome::Refused)
    );
    assert_eq!(
        ids(fx
            .all(q(|q| q.operation = Some(AuditOperation::Delete)))
            .await),
        expect(&|r| r.operation == AuditOperation::Delete)
    );
    let since = written[4].record.time;
    let until = written[11].record.time;
    let range = AuditQuery {
        since: Some(since),
        until: Some(until),
        limit: 3,
        ..AuditQuery::default()
    };
    assert_eq!(
        ids(fx.all(range).await),
        expect(&|r| r.time >= since && r.time < until)
    );
    // Combined: a target's failures in a period.
    let combined = AuditQuery {
        target: Some("g-0".into()),
        outcome: Some(Outcome::Failure),
        since: Some(since),
        limit: 5,
        ..AuditQuery::default()
    };
    assert_eq!(
        ids(fx.all(combined).await),
        expect(&|r| r.subject.target_id.as_deref() == Some("g-0")
            && r.outcome == Outcome::Failure
            && r.time >= since)
    );
    // The stored record reads back whole.
    let first = fx.all(q(|_| {})).await.remove(0);
    assert_eq!(first, written[0]);
}

#[tokio::test]
async fn a_garbled_or_foreign_cursor_is_refused_not_a_panic() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    fx.append(3).await;
    let page = fx
        .log
        .query(&AuditQuery {
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let time_cursor = page.next_cursor.unwrap();

    // Act & Assert
    for (cursor, actor) in [
        ("%%%".to_owned(), None),
        ("eyJwIjoidGltZSIsImEiOiJ4In0".to_owned(), None),
        (time_cursor, Some("okta-admin:alice".to_owned())),
    ] {
        let result = fx
            .log
            .query(&AuditQuery {
                cursor: Some(cursor),
                actor,
                ..AuditQuery::default()
            })
            .await;
        assert!(
            matches!(result, Err(AuditStoreError::InvalidCursor)),
            "{result:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_writers_each_keep_a_chain_and_the_period_verifies_clean() {
    // Arrange: four writers, each appending 10 records at once with the others.
    let fx = Fixture::new(RETENTION).await;
    let writers: Vec<Arc<DynamoDbAuditLog>> = (0..4).map(|_| Arc::new(fx.writer())).collect();
    let mut tasks = Vec::new();
    for (w, writer) in writers.iter().enumerate() {
        let writer = writer.clone();
        let clock = fx.clock.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let n = (w * 10 + i) as u32;
                writer.append_stored(record(n, clock.now())).await.unwrap();
            }
        }));
    }
    // And one writer with concurrent appends of its own (several requests at once).
    let shared = Arc::new(fx.writer());
    for i in 0..8 {
        let shared = shared.clone();
        let clock = fx.clock.clone();
        tasks.push(tokio::spawn(async move {
            shared
                .append_stored(record(100 + i, clock.now()))
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    // The next hour's first write seals the hour.
    fx.clock.set(datetime!(2024-04-05 07:10 UTC));
    fx.append(1).await;

    // Act
    let report = fx.verify().await;

    // Assert
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 49);
    assert!(report.chains >= 6, "{report:#?}");
}

#[tokio::test]
async fn each_role_holds_only_its_power_and_seals_are_anchored_with_object_lock() {
    // Arrange: records of two hours ago (so that the sealer, on the real clock, seals
    // their hour, and the anchor's retention date is in the future).
    let fx = Fixture::new(RETENTION).await;
    let config = test_services::moto_sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let bucket = test_services::unique_name("scimgw-anchors");
    create_bucket(&s3, &bucket, 1).await.unwrap();
    let anchors = Arc::new(S3SealAnchors::new(s3.clone(), &bucket));
    let then = OffsetDateTime::now_utc() - Duration::hours(2);
    let writer_clock = Arc::new(FixedClock::new(then));
    let writer = DynamoDbAuditLog::new(
        fx.client.clone(),
        &fx.table,
        writer_powers(&fx.kms, &fx.keys.mac),
        writer_clock.clone(),
        RETENTION,
    )
    .with_anchors(anchors.clone());
    let verifier = DynamoDbAuditLog::new(
        fx.client.clone(),
        &fx.table,
        verifier_powers(
            &fx.kms,
            vec![fx.keys.mac.clone()],
            vec![fx.keys.seal.clone()],
        ),
        Arc::new(SystemClock),
        RETENTION,
    )
    .with_anchors(anchors.clone());
    let sealer = DynamoDbAuditLog::new(
        fx.client.clone(),
        &fx.table,
        sealer_powers(&fx.kms, vec![fx.keys.seal.clone()]).unwrap(),
        Arc::new(SystemClock),
        RETENTION,
    )
    .with_anchors(anchors.clone());

    // Act
    let first = writer.append_stored(record(1, then)).await.unwrap();
    writer.append_stored(record(2, then)).await.unwrap();
    let writer_seals = writer.seal_due().await;
    let writer_verifies = writer
        .verify(then - Duration::HOUR, then + Duration::HOUR)
        .await;
    let verifier_writes = verifier.append_stored(record(3, then)).await;
    let sealed = sealer.seal_run().await.unwrap();
    let report = verifier
        .verify(then - Duration::HOUR, then + Duration::HOUR)
        .await
        .unwrap();

    // Assert: the writer MACs under the KMS key and can do nothing else; the verifier
    // cannot write; the sealer's seal verifies and its anchor is locked in compliance
    // mode until the seal expires.
    assert_eq!(first.integrity.key_id, fx.keys.mac);
    assert!(matches!(
        writer_seals,
        Err(AuditStoreError::Key(KeyError::NotHeld(_)))
    ));
    assert!(matches!(
        writer_verifies,
        Err(AuditStoreError::Key(KeyError::NotHeld(_)))
    ));
    assert!(matches!(
        verifier_writes,
        Err(AuditStoreError::Key(KeyError::NotHeld(_)))
    ));
    let seal = sealed.sealed.expect("the hour of two hours ago is sealed");
    assert!(report.intact, "{report:#?}");
    // (HeadObject rather than GetObjectRetention, which moto's server does not route.)
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key(anchors.key(&seal.through))
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.object_lock_mode(),
        Some(&aws_sdk_s3::types::ObjectLockMode::Compliance)
    );
    let until = head.object_lock_retain_until_date().unwrap().secs();
    assert!(
        until > OffsetDateTime::now_utc().unix_timestamp() + 399 * 86_400,
        "{until}"
    );
}

#[tokio::test]
async fn a_record_is_read_back_by_its_chain_and_seq_and_an_empty_slot_reads_as_none() {
    // Arrange: what the ledger reads after an append whose answer was lost.
    let fx = Fixture::new(RETENTION).await;
    let stored = fx.append(2).await;
    let backend = fx.log.ledger().backend();
    let written = &stored[1].integrity;

    // Act
    let found = backend.record(&written.chain, written.seq).await.unwrap();
    let empty = backend
        .record(&written.chain, written.seq + 1)
        .await
        .unwrap();

    // Assert
    let found = found.expect("the record just written");
    assert_eq!(found.hash.as_deref(), Some(written.hash.as_str()));
    assert_eq!(found.seq, Some(written.seq));
    assert!(empty.is_none(), "{empty:?}");
}

#[tokio::test]
async fn an_untouched_period_verifies_clean() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    fx.sealed_hour().await;

    // Act
    let report = fx.verify().await;

    // Assert
    assert!(report.intact, "{report:#?}");
    assert_eq!(report.checked, 6);
    assert!(report.problems.is_empty() && report.notes.is_empty());
}

#[tokio::test]
async fn a_deleted_record_is_caught_and_named() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;

    // Act
    fx.delete(Fixture::record_key(&records[2])).await;
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
async fn an_edited_field_is_caught_and_named() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;

    // Act: rewrite who did it in the stored record.
    let mut item = fx.get(Fixture::record_key(&records[1])).await;
    let AttributeValue::S(json) = item["record"].clone() else {
        panic!("record is a string");
    };
    item.insert(
        "record".into(),
        AttributeValue::S(json.replace("okta-admin:alice", "okta-admin:mallory")),
    );
    fx.put(item).await;
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
async fn an_edited_index_attribute_is_caught_so_a_failure_cannot_hide_from_queries() {
    // Arrange: record 0 is a failure.
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;
    assert_eq!(records[0].record.outcome, Outcome::Failure);

    // Act: move it to the success partition of the outcome index.
    let mut item = fx.get(Fixture::record_key(&records[0])).await;
    let AttributeValue::S(pk) = item["outcome_pk"].clone() else {
        panic!("outcome_pk is a string");
    };
    item.insert(
        "outcome_pk".into(),
        AttributeValue::S(pk.replace("failure", "success")),
    );
    fx.put(item).await;
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Altered,
            ProblemSubject::Record,
            Some(records[0].id.clone())
        )]
    );
    assert!(
        report.problems[0].detail.contains("outcome_pk"),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_forged_record_is_caught_and_named() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;

    // Act: a copy of record 5 with other content, put after it as record 6, with a
    // plausible hash it cannot MAC.
    let mut item = fx.get(Fixture::record_key(&records[4])).await;
    let forged_id = format!("{}:{:010}", records[4].integrity.chain, 6);
    item.insert("sk".into(), AttributeValue::S(format!("REC#{:010}", 6)));
    item.insert("seq".into(), AttributeValue::N("6".into()));
    item.insert(
        "prev_hash".into(),
        AttributeValue::S(records[4].integrity.hash.clone()),
    );
    item.insert("hash".into(), AttributeValue::S("ab".repeat(32)));
    fx.put(item).await;
    let report = fx.verify().await;

    // Assert
    assert_eq!(
        kinds(&report),
        [(
            ProblemKind::Inserted,
            ProblemSubject::Record,
            Some(forged_id)
        )]
    );
}

#[tokio::test]
async fn two_swapped_records_are_caught_and_each_named_with_its_true_place() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;

    // Act: swap records 2 and 4 (their content and index attributes), leaving the
    // chain fields where they were.
    let a = fx.get(Fixture::record_key(&records[1])).await;
    let b = fx.get(Fixture::record_key(&records[3])).await;
    let chain_fields = [
        "pk",
        "sk",
        "kind",
        "chain",
        "seq",
        "prev_hash",
        "hash",
        "mac",
        "key_id",
        "written_at",
        "expires_at",
    ];
    let swap = |into: &Item, from: &Item| -> Item {
        let mut out: Item = from
            .iter()
            .filter(|(k, _)| !chain_fields.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for field in chain_fields {
            out.insert(field.to_owned(), into[field].clone());
        }
        out
    };
    let (new_a, new_b) = (swap(&a, &b), swap(&b, &a));
    fx.put(new_a).await;
    fx.put(new_b).await;
    let report = fx.verify().await;

    // Assert
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.kind, p.record_id.clone(), p.belongs_at))
        .collect();
    assert_eq!(
        found,
        [
            (ProblemKind::Reordered, Some(records[1].id.clone()), Some(4)),
            (ProblemKind::Reordered, Some(records[3].id.clone()), Some(2))
        ],
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_deleted_chain_tail_is_caught_by_its_head() {
    // Arrange: an unsealed hour, so only the head protects the tail.
    let fx = Fixture::new(RETENTION).await;
    let records = fx.append(5).await;

    // Act
    fx.delete(Fixture::record_key(&records[3])).await;
    fx.delete(Fixture::record_key(&records[4])).await;
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
async fn a_deleted_whole_chain_is_caught_by_the_hours_seal() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;
    let chain_id = records[0].integrity.chain.clone();

    // Act: its records, its head and its registration, all gone.
    for r in &records {
        fx.delete(Fixture::record_key(r)).await;
    }
    fx.delete(Fixture::key(&format!("CHAIN#{chain_id}"), "HEAD"))
        .await;
    fx.delete(Fixture::key("CHAINS", &chain_id)).await;
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
async fn records_removed_at_the_end_of_retention_are_a_note_not_a_problem() {
    // Arrange: records written at 06:00..06:04; a retention after 06:03:30 (the sealer
    // ran meanwhile), 1 to 4 have expired, 5 has not.
    let fx = Fixture::new(RETENTION).await;
    let records = fx.sealed_hour().await;
    fx.clock.set(datetime!(2024-04-05 06:03:30 UTC) + RETENTION);
    fx.log.seal_due().await.unwrap();

    // Act: what the TTL would delete by now (records 1 to 3), and separately a
    // record whose retention has not ended (5).
    for r in &records[..3] {
        fx.delete(Fixture::record_key(r)).await;
    }
    let expired = fx.verify().await;
    fx.delete(Fixture::record_key(&records[4])).await;
    let deleted = fx.verify().await;

    // Assert
    assert!(expired.intact, "{expired:#?}");
    assert_eq!(expired.notes.len(), 1);
    assert_eq!(expired.notes[0].kind, NoteKind::Expired);
    assert_eq!(expired.notes[0].seqs, Some((1, 3)));
    assert_eq!(
        kinds(&deleted),
        [(
            ProblemKind::Deleted,
            ProblemSubject::Record,
            Some(records[4].id.clone())
        )]
    );
}

#[tokio::test]
async fn every_item_carries_the_ttl_attribute() {
    // Arrange
    let fx = Fixture::new(RETENTION).await;
    fx.sealed_hour().await;

    // Act
    let items = fx.scan().await;

    // Assert: all but the seal pointer, which must outlive every seal.
    for item in &items {
        let is_pointer = item["pk"] == AttributeValue::S("SEALS".into())
            && item["sk"] == AttributeValue::S("HEAD".into());
        assert_eq!(item.contains_key(TTL_ATTRIBUTE), !is_pointer, "{item:?}");
    }
}

fn strings(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) => out.push(s.clone()),
        AttributeValue::Ss(v) => out.extend(v.iter().cloned()),
        AttributeValue::L(v) => v.iter().for_each(|x| strings(x, out)),
        AttributeValue::M(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn no_stored_item_holds_a_password() {
    // Arrange: a create whose body carried a password, audited as the gateway does
    // (changes without sensitive attributes, every text redacted of the request's
    // secrets), with the password echoed in an error message too.
    let fx = Fixture::new(RETENTION).await;
    let password = "Tr0ub4dor&3-correct-horse";
    let body = json!({"userName": "bjensen", "password": password, "name": {"givenName": "B"}});
    let mut rec = record(1, START);
    rec.changes = attribute_changes(None, Some(&body));
    rec.error = Some(format!("invalid value \"{password}\" for password"));
    rec.redact(&secrets_in(&body));

    // Act
    fx.log.append_stored(rec).await.unwrap();
    let items = fx.scan().await;

    // Assert: no value anywhere contains it, and no stored value sits under a
    // `password` key in the record's JSON.
    assert!(!items.is_empty());
    for item in &items {
        for value in item.values() {
            let mut found = Vec::new();
            strings(value, &mut found);
            for text in found {
                assert!(!text.contains(password), "{text}");
                assert!(!text.to_lowercase().contains("\"password\":"), "{text}");
            }
        }
    }
}
