//! Tampering with the audit trail as someone with write access to the table (and, for
//! the anchors, to the bucket) could, against moto through `scimgw dev --aws-endpoint`,
//! each attack caught by `scimgw audit verify --table` (verifier material only) with the
//! record or seal named.
//!
//! Each test starts its own `scimgw dev --aws-endpoint --aws-prefix <unique>` (so the
//! tests' tables, keys and buckets are apart), writes through its SCIM API (records of
//! the current hour, not sealed yet), and adds two earlier hours written by the same
//! adapter with the key dev created, sealed once by a sealer on a clock of an hour ago
//! and once by `scimgw audit seal` (the real clock): two seals, their anchors, and the
//! seal pointer.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use aws_adapters::DynamoDbAuditLog;
use aws_adapters::S3SealAnchors;
use aws_adapters::kms_audit_keys::{sealer_powers, writer_powers};
use aws_adapters::sqs_read_notes::create_read_queues;
use aws_sdk_dynamodb::types::AttributeValue;
use gateway::audit::{AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome};
use gateway::audit_store::StoredAuditRecord;
use gateway::audit_store::chain;
use gateway::{Clock, FixedClock, ResourceKind};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::dev_process::Dev;

type Item = std::collections::HashMap<String, AttributeValue>;

impl Drop for Trail {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `scimgw dev --aws-endpoint` of its own, in a scratch directory.
fn start_dev(prefix: &str, dir: &std::path::Path) -> Dev {
    Dev::start(
        dir,
        &[
            "--aws-endpoint",
            &test_services::moto_url(),
            "--aws-prefix",
            prefix,
        ],
        &aws_env(),
    )
}

pub(crate) fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ]
}

pub(crate) fn record(n: u32, time: OffsetDateTime) -> AuditRecord {
    AuditRecord {
        time,
        source: AuditSource::Scim {
            method: "PATCH".into(),
            path: "/Users/{id}".into(),
        },
        actor: AuditActor {
            credential: "scim-token:primary".into(),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: AuditSubject {
            resource_type: Some(ResourceKind::User),
            external_id: Some(format!("00u{n}")),
            target_id: Some(format!("u-{n}")),
            name: Some(format!("user{n}@example.com")),
        },
        operation: AuditOperation::Patch,
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "identity".into(),
        outcome: Outcome::Success,
        status: 200,
        target_status: Some(200),
        target_calls: 1,
        latency_ms: 3,
        correlation_id: format!("earlier-{n}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

/// A running dev with a trail to tamper with.
struct Trail {
    dev: Dev,
    dir: PathBuf,
    ddb: aws_sdk_dynamodb::Client,
    s3: aws_sdk_s3::Client,
    table: String,
    bucket: String,
    /// A reads queue of the test's own for the CLI's notes, which dev does not drain:
    /// records of reads appearing while the test tampers would make the verdicts
    /// depend on timing (`audit::every_command_against_the_table_is_recorded_…` tests
    /// the recording).
    reads_queue: String,
    /// The records of the earliest hour (sealed by the first seal).
    first_hour: Vec<StoredAuditRecord>,
    /// That hour, `YYYYMMDDTHH`.
    first: String,
    /// The last hour of the second seal (by `scimgw audit seal`): the next hour, and
    /// any later one that has ended by now.
    second: String,
    /// The seal pointer as it was after the first seal.
    pointer_after_first: Item,
    since: OffsetDateTime,
}

/// The hour before the one that holds `at`, as a time at its start.
fn hour_start(at: OffsetDateTime) -> OffsetDateTime {
    chain::hour_start(&chain::hour_key(at)).unwrap()
}

impl Trail {
    async fn new(name: &str) -> Self {
        let prefix = test_services::unique_name(name);
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let dev = start_dev(&prefix, &dir);
        let config = test_services::moto_sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        let kms = aws_sdk_kms::Client::new(&config);
        let s3 = aws_sdk_s3::Client::new(&config);
        let table = dev.s("audit_table");
        let bucket = dev.s("seal_bucket");
        let anchors = Arc::new(S3SealAnchors::new(s3.clone(), &bucket));
        let (reads_queue, _) = create_read_queues(
            &aws_sdk_sqs::Client::new(&config),
            &format!("{prefix}-cli-reads"),
            5,
        )
        .await
        .unwrap();

        // Two earlier hours, finished and past the seal's grace whatever the time now.
        let base = hour_start(OffsetDateTime::now_utc() - Duration::minutes(10));
        let first_start = base - Duration::hours(2);
        let clock = Arc::new(FixedClock::new(first_start + Duration::minutes(10)));
        let writer = DynamoDbAuditLog::new(
            ddb.clone(),
            &table,
            writer_powers(&kms, &dev.s("audit_mac_key")),
            clock.clone(),
            Duration::days(400),
        );
        let mut first_hour = Vec::new();
        for n in 0..4 {
            first_hour.push(writer.append_stored(record(n, clock.now())).await.unwrap());
            clock.advance(Duration::MINUTE);
        }
        clock.set(first_start + Duration::hours(1) + Duration::minutes(10));
        for n in 4..7 {
            writer.append_stored(record(n, clock.now())).await.unwrap();
            clock.advance(Duration::MINUTE);
        }
        // The sealer's run of an hour ago seals the first hour only.
        let sealer = DynamoDbAuditLog::new(
            ddb.clone(),
            &table,
            sealer_powers(&kms, vec![dev.s("audit_seal_key")]).unwrap(),
            Arc::new(FixedClock::new(
                first_start + Duration::hours(1) + Duration::minutes(20),
            )),
            Duration::days(400),
        )
        .with_anchors(anchors);
        let first = chain::hour_key(first_start);
        assert_eq!(
            sealer.seal_due().await.unwrap().map(|s| s.through),
            Some(first.clone())
        );
        let pointer_after_first = get(&ddb, &table, "SEALS", "HEAD").await;
        let mut trail = Self {
            ddb,
            s3,
            table,
            bucket,
            reads_queue,
            first_hour,
            second: String::new(),
            first,
            pointer_after_first,
            since: first_start,
            dev,
            dir,
        };
        // Today's sealer: the second hour (and any other finished one).
        let sealed = trail.scimgw_audit(
            &["seal"],
            &["--seal-key-ids", &trail.dev.s("audit_seal_key")],
        );
        assert!(
            sealed.status.success(),
            "{}",
            String::from_utf8_lossy(&sealed.stderr)
        );
        // It seals the second hour, and the current one's predecessor if that has ended.
        let run: Value = serde_json::from_slice(&sealed.stdout).unwrap();
        trail.second = run["sealed_through"].as_str().unwrap().to_owned();
        assert!(trail.second > trail.first, "{run}");
        // And requests through dev's SCIM API, in the current hour.
        for n in 0..3 {
            trail.create_user(n).await;
        }
        trail
    }

    async fn create_user(&self, n: u32) {
        self.dev.create_user("tamper", n).await;
    }

    fn scimgw_audit(&self, command: &[&str], extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .arg("audit")
            .args(command)
            .args(["--table", &self.table, "--anchor-bucket", &self.bucket])
            .args(["--reads-queue", &self.reads_queue])
            .args([
                "--aws-endpoint",
                &test_services::moto_url(),
                "--region",
                "us-east-1",
            ])
            .args(extra)
            .envs(aws_env())
            .env("RUST_LOG", "error")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .output()
            .unwrap()
    }

    /// `scimgw audit verify` over the whole trail, with verifier material only; its
    /// exit code and JSON report.
    fn verify(&self) -> (Option<i32>, Value) {
        let since = self
            .since
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let until = (OffsetDateTime::now_utc() + Duration::minutes(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let output = self.scimgw_audit(
            &[
                "verify", "--since", &since, "--until", &until, "--format", "json",
            ],
            &[
                "--mac-key-ids",
                &self.dev.s("audit_mac_key"),
                "--seal-key-ids",
                &self.dev.s("audit_seal_key"),
            ],
        );
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "verify printed no report: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code(), report)
    }

    /// The records of dev's own chain (the current hour), in order.
    async fn current_chain(&self) -> (String, Vec<Item>) {
        let items = scan(&self.ddb, &self.table).await;
        let current = chain::hour_key(OffsetDateTime::now_utc());
        let mut records: Vec<Item> = items
            .into_iter()
            .filter(|i| s(i, "sk").starts_with("REC#"))
            .filter(|i| chain::chain_hour(&s(i, "chain")) >= Some(current.as_str()))
            .collect();
        records.sort_by_key(|i| s(i, "sk"));
        let chain = s(&records[0], "chain");
        records.retain(|i| s(i, "chain") == chain);
        (chain, records)
    }
}

pub(crate) fn s(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        _ => String::new(),
    }
}

pub(crate) fn key(pk: &str, sk: &str) -> Item {
    Item::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn record_key(r: &StoredAuditRecord) -> Item {
    key(
        &format!("CHAIN#{}", r.integrity.chain),
        &format!("REC#{:010}", r.integrity.seq),
    )
}

async fn get(ddb: &aws_sdk_dynamodb::Client, table: &str, pk: &str, sk: &str) -> Item {
    ddb.get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {pk}/{sk}"))
}

pub(crate) async fn put(ddb: &aws_sdk_dynamodb::Client, table: &str, item: Item) {
    ddb.put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

pub(crate) async fn delete(ddb: &aws_sdk_dynamodb::Client, table: &str, k: Item) {
    ddb.delete_item()
        .table_name(table)
        .set_key(Some(k))
        .send()
        .await
        .unwrap();
}

pub(crate) async fn scan(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = ddb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        out.extend(page.items().iter().cloned());
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// The report's problems as (kind, subject, record id or seal hour).
fn problems(report: &Value) -> Vec<(String, String, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let named = p["record_id"]
                .as_str()
                .or(p["seal"].as_str())
                .or(p["chain"].as_str())
                .unwrap_or("")
                .to_owned();
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["subject"].as_str().unwrap().to_owned(),
                named,
            )
        })
        .collect()
}

/// Asserts the untouched trail verifies, runs `attack`, and returns the report after.
async fn after_attack<F, Fut>(trail: &Trail, attack: F) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (code, report) = trail.verify();
    assert_eq!(code, Some(0), "untouched: {report:#}");
    attack().await;
    let (code, report) = trail.verify();
    assert_eq!(code, Some(1), "after the attack: {report:#}");
    report
}

fn has(report: &Value, kind: &str, subject: &str, named: &str) -> bool {
    problems(report)
        .iter()
        .any(|(k, s, n)| k == kind && s == subject && n == named)
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_a_record() {
    let t = Trail::new("tamper-delete").await;
    let victim = t.first_hour[1].clone();
    let report = after_attack(&t, || delete(&t.ddb, &t.table, record_key(&victim))).await;
    assert!(has(&report, "deleted", "record", &victim.id), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn edit_a_record() {
    let t = Trail::new("tamper-edit").await;
    let victim = t.first_hour[2].clone();
    let report = after_attack(&t, || async {
        let mut item = get(
            &t.ddb,
            &t.table,
            &format!("CHAIN#{}", victim.integrity.chain),
            &format!("REC#{:010}", victim.integrity.seq),
        )
        .await;
        let text = s(&item, "record").replace("\"success\"", "\"refused\"");
        item.insert("record".into(), AttributeValue::S(text));
        put(&t.ddb, &t.table, item).await;
    })
    .await;
    assert!(has(&report, "altered", "record", &victim.id), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn insert_a_record() {
    let t = Trail::new("tamper-insert").await;
    let (chain_id, records) = t.current_chain().await;
    let next = records.len() as u64 + 1;
    let forged_id = chain::record_id(&chain_id, next);
    let report = after_attack(&t, || async {
        // A copy of the last record, moved one place on, its links made to fit.
        let mut item = records.last().unwrap().clone();
        item.insert("sk".into(), AttributeValue::S(format!("REC#{next:010}")));
        item.insert("seq".into(), AttributeValue::N(next.to_string()));
        item.insert("prev_hash".into(), item["hash"].clone());
        item.insert("hash".into(), AttributeValue::S("ab".repeat(32)));
        put(&t.ddb, &t.table, item).await;
    })
    .await;
    assert!(has(&report, "inserted", "record", &forged_id), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn reorder_two_records() {
    let t = Trail::new("tamper-reorder").await;
    let (a, b) = (t.first_hour[0].clone(), t.first_hour[2].clone());
    let report = after_attack(&t, || async {
        let item_a = get(
            &t.ddb,
            &t.table,
            &format!("CHAIN#{}", a.integrity.chain),
            &format!("REC#{:010}", a.integrity.seq),
        )
        .await;
        let item_b = get(
            &t.ddb,
            &t.table,
            &format!("CHAIN#{}", b.integrity.chain),
            &format!("REC#{:010}", b.integrity.seq),
        )
        .await;
        let (mut swapped_a, mut swapped_b) = (item_b.clone(), item_a.clone());
        for (to, from) in [(&mut swapped_a, &item_a), (&mut swapped_b, &item_b)] {
            to.insert("sk".into(), from["sk"].clone());
        }
        put(&t.ddb, &t.table, swapped_a).await;
        put(&t.ddb, &t.table, swapped_b).await;
    })
    .await;
    assert!(has(&report, "reordered", "record", &a.id), "{report:#}");
    assert!(has(&report, "reordered", "record", &b.id), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn truncate_the_tail() {
    let t = Trail::new("tamper-truncate").await;
    let (chain_id, records) = t.current_chain().await;
    let last = records.len() as u64;
    let report = after_attack(&t, || async {
        for seq in [last - 1, last] {
            delete(
                &t.ddb,
                &t.table,
                key(&format!("CHAIN#{chain_id}"), &format!("REC#{seq:010}")),
            )
            .await;
        }
    })
    .await;
    for seq in [last - 1, last] {
        assert!(
            has(
                &report,
                "deleted",
                "record",
                &chain::record_id(&chain_id, seq)
            ),
            "{report:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_a_whole_hour() {
    let t = Trail::new("tamper-hour").await;
    let chain_id = t.first_hour[0].integrity.chain.clone();
    let report = after_attack(&t, || async {
        for item in scan(&t.ddb, &t.table).await {
            if s(&item, "pk") == format!("CHAIN#{chain_id}") || s(&item, "sk") == chain_id {
                delete(&t.ddb, &t.table, key(&s(&item, "pk"), &s(&item, "sk"))).await;
            }
        }
    })
    .await;
    assert!(has(&report, "deleted", "chain", &chain_id), "{report:#}");
    for r in &t.first_hour {
        assert!(has(&report, "deleted", "record", &r.id), "{report:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_the_seal_pointer() {
    let t = Trail::new("tamper-pointer").await;
    let report = after_attack(&t, || delete(&t.ddb, &t.table, key("SEALS", "HEAD"))).await;
    assert!(has(&report, "deleted", "seal", &t.second), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn roll_back_the_seal_pointer() {
    let t = Trail::new("tamper-rollback").await;
    let report = after_attack(&t, || put(&t.ddb, &t.table, t.pointer_after_first.clone())).await;
    assert!(has(&report, "altered", "seal", &t.first), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn write_back_an_older_head() {
    let t = Trail::new("tamper-head").await;
    let (chain_id, _) = t.current_chain().await;
    let older = get(&t.ddb, &t.table, &format!("CHAIN#{chain_id}"), "HEAD").await;
    t.create_user(10).await;
    t.create_user(11).await;
    let (_, records) = t.current_chain().await;
    let report = after_attack(&t, || put(&t.ddb, &t.table, older.clone())).await;
    // The records written after that head are past its end: each is named.
    let head_seq: u64 = match &older["seq"] {
        AttributeValue::N(n) => n.parse().unwrap(),
        _ => unreachable!(),
    };
    for seq in (head_seq + 1)..=records.len() as u64 {
        assert!(
            has(
                &report,
                "inserted",
                "record",
                &chain::record_id(&chain_id, seq)
            ),
            "{report:#}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn manipulate_the_closing_marker() {
    let t = Trail::new("tamper-closing").await;
    let report = after_attack(&t, || async {
        let mut pointer = get(&t.ddb, &t.table, "SEALS", "HEAD").await;
        pointer.insert("closing".into(), AttributeValue::S("20991231T23".into()));
        put(&t.ddb, &t.table, pointer).await;
    })
    .await;
    assert!(has(&report, "altered", "seal", "20991231T23"), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn shorten_an_expiry() {
    let t = Trail::new("tamper-expiry").await;
    let victim = t.first_hour[3].clone();
    let report = after_attack(&t, || async {
        t.ddb
            .update_item()
            .table_name(&t.table)
            .set_key(Some(record_key(&victim)))
            .update_expression("SET expires_at = :soon")
            .expression_attribute_values(
                ":soon",
                AttributeValue::N((OffsetDateTime::now_utc().unix_timestamp() + 60).to_string()),
            )
            .send()
            .await
            .unwrap();
    })
    .await;
    assert!(has(&report, "altered", "record", &victim.id), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replace_a_seal() {
    let t = Trail::new("tamper-seal").await;
    let report = after_attack(&t, || async {
        // The first hour's seal, its chain list emptied (hiding the hour's chain).
        let mut seal = get(&t.ddb, &t.table, "SEALS", &t.first).await;
        seal.insert("chains".into(), AttributeValue::S(String::new()));
        put(&t.ddb, &t.table, seal).await;
    })
    .await;
    assert!(has(&report, "altered", "seal", &t.first), "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_an_anchor() {
    let t = Trail::new("tamper-anchor").await;
    let anchors = S3SealAnchors::new(t.s3.clone(), &t.bucket);
    let report = after_attack(&t, || async {
        // In a bucket under compliance-mode Object Lock this only hides the object
        // behind a delete marker; the locked version stays, and verify misses it all
        // the same.
        t.s3.delete_object()
            .bucket(&t.bucket)
            .key(anchors.key(&t.first))
            .send()
            .await
            .unwrap();
    })
    .await;
    assert!(has(&report, "deleted", "seal", &t.first), "{report:#}");
}
