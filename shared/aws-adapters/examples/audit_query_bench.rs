//! Query latency of the audit table for 100 000 records, against moto's server
//! (`docs/audit-table.md`, "Query latency"). It loads a sample through the real adapter
//! (to measure what loading through the adapter costs), chains the rest with the same
//! ledger code in memory and loads it with BatchWriteItem, then times each auditor's
//! question several times and prints the medians.
//!
//! ```text
//! eval "$(scripts/services up)"
//! cargo run --release -p aws-adapters --example audit_query_bench [-- RECORDS [RUNS]]
//! ```

// A benchmark: failing loudly on any error is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use aws_adapters::dynamodb_audit;
use aws_adapters::dynamodb_audit::loader::Collecting;
use aws_adapters::{DynamoDbAuditLog, DynamoDbLedger};
use aws_sdk_dynamodb::Client;
use gateway::audit::{
    AttributeChange, AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome,
};
use gateway::audit_store::MemoryAnchors;
use gateway::audit_store::keys::{AuditPowers, LocalAuditKeys};
use gateway::audit_store::ledger::{ChainedAuditLog, LedgerAppend};
use gateway::audit_store::{AuditQuery, AuditStore};
use gateway::translate::ResourceKind;
use gateway::{Clock, FixedClock};
use serde_json::json;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2024-04-01 00:00 UTC);
const DAYS: i64 = 7;
const TARGETS: u64 = 5_000;
const ADMINS: u64 = 50;
const WRITERS: u64 = 8;
const ADAPTER_SAMPLE: u64 = 200;

/// A small deterministic generator (xorshift64*), so every run loads the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn target(u: u64) -> AuditSubject {
    let group = u >= TARGETS * 4 / 5;
    AuditSubject {
        resource_type: Some(if group {
            ResourceKind::Group
        } else {
            ResourceKind::User
        }),
        external_id: Some(format!("{}{u:05}", if group { "00g" } else { "00u" })),
        target_id: Some(format!("{}-{u:05}", if group { "g" } else { "u" })),
        name: Some(if group {
            format!("Team {u:05}")
        } else {
            format!("user{u:05}@example.com")
        }),
    }
}

fn admin(k: u64) -> String {
    format!("okta-admin:admin{k:02}@example.com")
}

/// One record with the mix an Okta tenant produces: mostly the SCIM client's reads and
/// patches, a tenth of them triggered by admins' events, a few failures and refusals.
fn record(rng: &mut Rng, n: u64, time: OffsetDateTime) -> AuditRecord {
    let actor = match rng.below(100) {
        0..85 => "scim-token:primary".to_owned(),
        85..90 => "scim-token:secondary".to_owned(),
        _ => admin(rng.below(ADMINS)),
    };
    let operation = match rng.below(100) {
        0..40 => AuditOperation::Get,
        40..50 => AuditOperation::List,
        50..75 => AuditOperation::Patch,
        75..85 => AuditOperation::Create,
        85..90 => AuditOperation::Replace,
        _ => AuditOperation::Delete,
    };
    let outcome = match rng.below(100) {
        0..94 => Outcome::Success,
        94..98 => Outcome::Failure,
        _ => Outcome::Refused,
    };
    let changes = match operation {
        AuditOperation::Patch | AuditOperation::Replace | AuditOperation::Create => vec![
            AttributeChange {
                attribute: "title".into(),
                before: Some(json!(format!("Engineer {}", rng.below(9)))),
                after: Some(json!(format!("Senior Engineer {}", rng.below(9)))),
            },
            AttributeChange {
                attribute: "active".into(),
                before: Some(json!(true)),
                after: Some(json!(rng.below(2) == 0)),
            },
        ],
        _ => vec![],
    };
    AuditRecord {
        time,
        source: if actor.starts_with("okta-admin") {
            AuditSource::Event {
                uuid: format!("evt-{n:08}"),
                published: None,
                event_type: None,
            }
        } else {
            AuditSource::Scim {
                method: "PATCH".into(),
                path: "/Users/{id}".into(),
            }
        },
        actor: AuditActor {
            credential: actor,
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: target(rng.below(TARGETS)),
        operation,
        membership: None,
        changes,
        query: None,
        rule_set_version: "v12".into(),
        outcome,
        status: if outcome == Outcome::Success {
            200
        } else {
            409
        },
        target_status: Some(200),
        target_calls: 1,
        latency_ms: rng.below(400),
        correlation_id: format!("req-{n:08}"),
        error: (outcome != Outcome::Success).then(|| "uniqueness: userName taken".into()),
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

/// One set of local keys for every writer and the verifier of the run.
fn keys() -> AuditPowers {
    static KEYS: std::sync::OnceLock<LocalAuditKeys> = std::sync::OnceLock::new();
    AuditPowers::local(KEYS.get_or_init(|| LocalAuditKeys::random().unwrap()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p90(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).map_or(100_000, |a| a.parse().unwrap());
    let runs: usize = args.get(2).map_or(25, |a| a.parse().unwrap());
    let span = Duration::days(DAYS);
    let step = span / total as f64;

    let config = test_services::moto_sdk_config().await;
    let client = Client::new(&config);
    let table = test_services::unique_name("scimgw-audit-bench");
    dynamodb_audit::create_table(&client, &table).await.unwrap();
    println!("table {table}: {total} records over {DAYS} days, {runs} runs per query");

    // 1. A sample through the real adapter: WRITERS writers (chains), appending in
    // turn. Not concurrently: moto deep-copies the table at the start of every
    // transaction, without a lock, so concurrent transactions fail with 500s there
    // (DynamoDB itself has no such limit).
    let sample = ADAPTER_SAMPLE.min(total);
    let started = Instant::now();
    let clock = Arc::new(FixedClock::new(T0));
    let writers: Vec<DynamoDbAuditLog> = (0..WRITERS)
        .map(|_| {
            DynamoDbAuditLog::new(
                client.clone(),
                &table,
                keys(),
                clock.clone(),
                Duration::days(400),
            )
        })
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut lap = Instant::now();
    for n in 0..sample {
        let at = T0 + step * n as f64;
        clock.set(at);
        writers[(n % WRITERS) as usize]
            .append_stored(record(&mut rng, n, at))
            .await
            .unwrap();
        if (n + 1) % 50 == 0 {
            println!(
                "  adapter: {} appended, last 50 at {:.0} records/s",
                n + 1,
                50.0 / lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
    }
    let adapter_secs = started.elapsed().as_secs_f64();
    println!(
        "adapter: {sample} appends by {WRITERS} writers in {adapter_secs:.1} s = {:.0} records/s",
        sample as f64 / adapter_secs
    );

    // 2. The rest: chained by the same ledger code (WRITERS writers), bulk loaded.
    let started = Instant::now();
    let clocks: Vec<Arc<FixedClock>> = (0..WRITERS)
        .map(|_| Arc::new(FixedClock::new(T0)))
        .collect();
    let collecting: Vec<ChainedAuditLog<Collecting>> = clocks
        .iter()
        .map(|clock| {
            ChainedAuditLog::new(
                Collecting::default(),
                keys(),
                clock.clone() as Arc<dyn Clock>,
                Duration::days(400),
            )
        })
        .collect();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for n in sample..total {
        let at = T0 + step * n as f64;
        let w = (n % WRITERS) as usize;
        clocks[w].set(at);
        collecting[w]
            .append_stored(record(&mut rng, n, at))
            .await
            .unwrap();
    }
    let appends: Vec<LedgerAppend<AuditRecord>> = collecting
        .iter()
        .flat_map(|l| l.backend().appends())
        .collect();
    let chained_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let ledger = DynamoDbLedger::new(client.clone(), &table);
    let mut loaded = sample as usize;
    for chunk in appends.chunks(10_000) {
        ledger.bulk_load(chunk).await.unwrap();
        loaded += chunk.len();
        println!("  {loaded} records in the table");
    }
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "bulk: {} records chained in {chained_secs:.1} s, loaded with BatchWriteItem in {load_secs:.1} s = {:.0} records/s",
        appends.len(),
        appends.len() as f64 / load_secs
    );

    // 3. The auditors' questions.
    let store = DynamoDbAuditLog::new(
        client.clone(),
        &table,
        keys(),
        Arc::new(FixedClock::new(T0 + span)),
        Duration::days(400),
    )
    .with_anchors(Arc::new(MemoryAnchors::default()));
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    type Make = Box<dyn Fn(&mut Rng) -> (AuditQuery, bool)>;
    let hour = |rng: &mut Rng| T0 + Duration::hours(rng.below((DAYS * 24) as u64) as i64);
    let day = |rng: &mut Rng| T0 + Duration::days(rng.below(DAYS as u64) as i64);
    let cases: Vec<(&str, Make)> = vec![
        (
            "target: Identity Center id",
            Box::new(|r: &mut Rng| {
                (
                    AuditQuery {
                        target: target(r.below(TARGETS)).target_id,
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "target: Okta id",
            Box::new(|r: &mut Rng| {
                (
                    AuditQuery {
                        target: target(r.below(TARGETS)).external_id,
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "target: userName / displayName",
            Box::new(|r: &mut Rng| {
                (
                    AuditQuery {
                        target: target(r.below(TARGETS)).name,
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "actor: one Okta admin, first page",
            Box::new(|r: &mut Rng| {
                (
                    AuditQuery {
                        actor: Some(admin(r.below(ADMINS))),
                        ..Default::default()
                    },
                    false,
                )
            }),
        ),
        (
            "actor: one Okta admin, one day",
            Box::new(move |r: &mut Rng| {
                let d = day(r);
                (
                    AuditQuery {
                        actor: Some(admin(r.below(ADMINS))),
                        since: Some(d),
                        until: Some(d + Duration::DAY),
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "time range: one hour, first page",
            Box::new(move |r: &mut Rng| {
                let h = hour(r);
                (
                    AuditQuery {
                        since: Some(h),
                        until: Some(h + Duration::HOUR),
                        ..Default::default()
                    },
                    false,
                )
            }),
        ),
        (
            "time range: one hour, all pages",
            Box::new(move |r: &mut Rng| {
                let h = hour(r);
                (
                    AuditQuery {
                        since: Some(h),
                        until: Some(h + Duration::HOUR),
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "outcome: failures, first page",
            Box::new(|_: &mut Rng| {
                (
                    AuditQuery {
                        outcome: Some(Outcome::Failure),
                        ..Default::default()
                    },
                    false,
                )
            }),
        ),
        (
            "outcome: refusals, one day, all pages",
            Box::new(move |r: &mut Rng| {
                let d = day(r);
                (
                    AuditQuery {
                        outcome: Some(Outcome::Refused),
                        since: Some(d),
                        until: Some(d + Duration::DAY),
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
        (
            "operation: deletes, first page",
            Box::new(|_: &mut Rng| {
                (
                    AuditQuery {
                        operation: Some(AuditOperation::Delete),
                        ..Default::default()
                    },
                    false,
                )
            }),
        ),
        (
            "operation: deletes, one hour",
            Box::new(move |r: &mut Rng| {
                let h = hour(r);
                (
                    AuditQuery {
                        operation: Some(AuditOperation::Delete),
                        since: Some(h),
                        until: Some(h + Duration::HOUR),
                        ..Default::default()
                    },
                    true,
                )
            }),
        ),
    ];
    println!();
    println!("| query (limit 100) | median ms | p90 ms | records (median) | pages (median) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, make) in &cases {
        let mut times = Vec::new();
        let mut counts = Vec::new();
        let mut pages = Vec::new();
        for _ in 0..runs {
            let (query, all_pages) = make(&mut rng);
            let started = Instant::now();
            let mut cursor = None;
            let mut count = 0;
            let mut n_pages = 0;
            loop {
                let page = store
                    .query(&AuditQuery {
                        cursor: cursor.clone(),
                        ..query.clone()
                    })
                    .await
                    .unwrap();
                n_pages += 1;
                count += page.records.len();
                match page.next_cursor {
                    Some(next) if all_pages => cursor = Some(next),
                    _ => break,
                }
            }
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            counts.push(count as f64);
            pages.push(n_pages as f64);
        }
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} |",
            median(times.clone()),
            p90(times),
            median(counts),
            median(pages)
        );
    }

    // For scale: verifying one hour (unsealed here: the bulk data has no seals).
    let mut times = Vec::new();
    let mut checked = 0;
    for _ in 0..3 {
        let h = hour(&mut rng);
        let started = Instant::now();
        let report = store.verify(h, h + Duration::HOUR).await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(report.intact, "{report:#?}");
        checked = report.checked;
    }
    println!(
        "| verify: one hour ({checked} records) | {:.0} | | | |",
        median(times)
    );
}
