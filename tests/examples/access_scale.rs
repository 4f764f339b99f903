//! Access reports at scale (`docs/access-reports.md`, "At scale"): an audit trail in
//! moto's DynamoDB of 10 000 users, 50 groups (every user in two, added 100 to a
//! record as Identity Center's PATCH limit has them) and 500 accounts (each group
//! assigned a permission set on 10 of them), plus 100 leavers; then, in a process of
//! its own, the trail read back through the audit table's indexes and the three
//! reports computed, with the time of each step and the process's peak memory.
//!
//! `cargo run -p e2e-tests --example access_scale -- seed [USERS] [GROUPS] [ACCOUNTS]`
//! prints the table's name; `… -- measure TABLE` prints the figures as JSON.
//! Both need `SCIMGW_TEST_MOTO_URL` (`eval "$(scripts/services up)"`). Seeding chains the
//! records with the real ledger code under local keys and bulk loads them
//! (`aws_adapters::dynamodb_audit::loader`): moto answers one conditional transaction
//! per record ever slower as the table grows. Seeding is not what is measured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use aws_adapters::{DynamoDbAuditLog, DynamoDbLedger};
use gateway::audit::{
    AttributeChange, AuditActor, AuditOperation, AuditRecord, AuditSource, AuditSubject,
    MembershipChange, Outcome,
};
use gateway::audit_store::keys::{AuditPowers, LocalAuditKeys};
use gateway::{ResourceKind, SystemClock};
use serde_json::{Value, json};
use time::OffsetDateTime;

const PERMISSION_SET: &str =
    "arn:aws:sso:::permissionSet/ssoins-1111111111111111/ps-1111111111111111";

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn base(
    kind: ResourceKind,
    operation: AuditOperation,
    id: String,
    okta: String,
    name: String,
) -> AuditRecord {
    AuditRecord {
        time: OffsetDateTime::now_utc(),
        source: AuditSource::Scim {
            method: "POST".into(),
            path: "/Users".into(),
        },
        actor: AuditActor {
            credential: "scim-token:primary".into(),
            user_agent: Some("Okta SCIM Client 1.0.0".into()),
        },
        subject: AuditSubject {
            resource_type: Some(kind),
            external_id: Some(okta),
            target_id: Some(id),
            name: Some(name),
        },
        operation,
        membership: None,
        changes: Vec::new(),
        query: None,
        rule_set_version: "identity".into(),
        outcome: Outcome::Success,
        status: 201,
        target_status: Some(201),
        target_calls: 1,
        latency_ms: 5,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

fn active(before: Option<bool>, after: bool) -> Vec<AttributeChange> {
    vec![AttributeChange {
        attribute: "active".into(),
        before: before.map(Value::Bool),
        after: Some(Value::Bool(after)),
    }]
}

async fn seed(users: usize, groups: usize, accounts: usize) {
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let table = test_services::unique_name("access-scale");
    aws_adapters::dynamodb_audit::create_table(&ddb, &table)
        .await
        .unwrap();
    let user = |n: usize| format!("u-{n:06}");
    let group = |g: usize| format!("g-{g:03}");
    let mut records = Vec::new();
    for n in 0..users {
        let mut r = base(
            ResourceKind::User,
            AuditOperation::Create,
            user(n),
            format!("00u{n:017}"),
            format!("user{n}@example.com"),
        );
        r.changes = active(None, true);
        records.push(r);
    }
    // Every user in groups n % G and (n + 1) % G, added 100 to a record.
    for g in 0..groups {
        let members: Vec<String> = (0..users)
            .filter(|n| n % groups == g || (n + 1) % groups == g)
            .map(user)
            .collect();
        for (i, chunk) in members
            .chunks(gateway::audit::MAX_LISTED_MEMBER_IDS)
            .enumerate()
        {
            let op = if i == 0 {
                AuditOperation::Create
            } else {
                AuditOperation::Patch
            };
            let mut r = base(
                ResourceKind::Group,
                op,
                group(g),
                format!("00g{g:017}"),
                format!("group-{g}"),
            );
            r.membership = Some(MembershipChange::new(chunk, &[]));
            records.push(r);
        }
    }
    // Each group on its own 10 accounts (500 accounts for 50 groups).
    let per_group = accounts / groups;
    for g in 0..groups {
        for a in 0..per_group {
            let mut r = base(
                ResourceKind::Group,
                AuditOperation::Assign,
                group(g),
                format!("00g{g:017}"),
                format!("group-{g}"),
            );
            r.source = AuditSource::Entitlements {
                run: "plan-scale".into(),
                document_version: "v1".into(),
            };
            r.changes = vec![AttributeChange {
                attribute: "accountAssignment".into(),
                before: None,
                after: Some(
                    json!({"account_id": format!("{:012}", 100_000_000_000 + g * per_group + a),
                                   "permission_set_arn": PERMISSION_SET, "permission_set_name": "ReadOnly"}),
                ),
            }];
            records.push(r);
        }
    }
    // 100 leavers, Okta's event worked a few seconds after its publication.
    for n in 0..users.min(100) {
        let mut r = base(
            ResourceKind::User,
            AuditOperation::Patch,
            user(n * 7 % users),
            format!("00u{:017}", n * 7 % users),
            format!("user{}@example.com", n * 7 % users),
        );
        r.source = AuditSource::Event {
            uuid: uuid::Uuid::new_v4().to_string(),
            published: Some(
                (OffsetDateTime::now_utc() - time::Duration::seconds(3))
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
            ),
            event_type: Some("user.lifecycle.deactivate".into()),
        };
        r.changes = active(Some(true), false);
        records.push(r);
    }
    // One second apart, ending now: the order every report reads them in.
    let total = records.len();
    let t0 = OffsetDateTime::now_utc() - time::Duration::seconds(total as i64);
    for (i, record) in records.iter_mut().enumerate() {
        record.time = t0 + time::Duration::seconds(i as i64);
        if let AuditSource::Event { published, .. } = &mut record.source {
            *published = (record.time - time::Duration::seconds(3))
                .format(&time::format_description::well_known::Rfc3339)
                .ok();
        }
    }
    let started = Instant::now();
    let keys = LocalAuditKeys::random().unwrap();
    aws_adapters::dynamodb_audit::loader::chain_and_load(
        &DynamoDbLedger::new(ddb, table.clone()),
        records,
        || AuditPowers::local(&keys),
        8,
        time::Duration::days(400),
    )
    .await
    .unwrap();
    eprintln!(
        "loaded {total} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("{table}");
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn measure(table: String) {
    let config = test_services::moto_sdk_config().await;
    let log = DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&config),
        table,
        AuditPowers::default(),
        Arc::new(SystemClock),
        time::Duration::days(400),
    );
    let baseline = peak_rss_mib();
    let now = OffsetDateTime::now_utc();
    let started = Instant::now();
    let history = access::read_history(&log, access::read_until(now))
        .await
        .unwrap();
    let read_s = started.elapsed().as_secs_f64();
    let evidence = history.evidence(access::read_until(now), None);
    let after_read = peak_rss_mib();
    let t = Instant::now();
    let rows = access::as_of(&history, now, &access::Filter::default());
    let report_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    // Written to a file, as `scimgw access report --format csv --out FILE` writes it.
    let csv_path = std::env::temp_dir().join(test_services::unique_name("access-scale.csv"));
    access::output::write_csv(
        std::io::BufWriter::new(std::fs::File::create(&csv_path).unwrap()),
        access::output::ROW_COLUMNS,
        rows.iter().map(|r| serde_json::to_value(r).unwrap()),
    )
    .unwrap();
    let csv_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let first = evidence.first.as_ref().map_or(now, |f| f.time);
    let changes = access::diff(&history, first, now, &access::Filter::default());
    let diff_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let leavers = access::leavers(
        &history,
        first - time::Duration::minutes(1),
        now,
        access::DEFAULT_LEAVER_THRESHOLD,
        now,
    );
    let leavers_s = t.elapsed().as_secs_f64();
    let figures = json!({
        "records": evidence.records,
        "users": history.users.len(),
        "groups": history.groups.len(),
        "rows": rows.len(),
        "csv_bytes": std::fs::metadata(&csv_path).map(|m| m.len()).unwrap_or(0),
        "changes": changes.len(),
        "leavers": leavers.len(),
        "read_trail_s": read_s,
        "report_s": report_s,
        "csv_s": csv_s,
        "diff_s": diff_s,
        "leavers_s": leavers_s,
        "rss_baseline_mib": baseline,
        "rss_after_read_mib": after_read,
        "rss_peak_mib": peak_rss_mib(),
        "build": if cfg!(debug_assertions) { "debug" } else { "optimised" },
    });
    let _ = std::fs::remove_file(&csv_path);
    println!("{figures}");
}

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("seed") => seed(arg(2, 10_000), arg(3, 50), arg(4, 500)).await,
        Some("measure") => measure(std::env::args().nth(2).expect("measure TABLE")).await,
        _ => panic!("usage: access_scale seed [USERS] [GROUPS] [ACCOUNTS] | measure TABLE"),
    }
}
