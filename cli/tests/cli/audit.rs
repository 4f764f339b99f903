//! `scimgw audit` as auditors run it: the real binary, against the audit table in
//! moto's DynamoDB through `DynamoDbAuditLog` (records written by the same adapter the
//! functions use), and against the audit API served on loopback.

// Test helpers outside #[test] functions unwrap and panic too: a failure is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use aws_adapters::DynamoDbAuditLog;
use aws_adapters::dynamodb_audit::create_table;
use aws_adapters::kms_audit_keys::{AuditKeyArns, all_powers, ensure_keys, writer_powers};
use aws_adapters::s3_seal_anchors::create_bucket;
use aws_adapters::sqs_read_notes::create_read_queues;
use aws_sdk_dynamodb::types::AttributeValue;
use gateway::audit::ReadVia;
use gateway::audit::{
    AuditActor, AuditLog, AuditOperation, AuditRecord, AuditSource, AuditSubject, Outcome,
};
use gateway::audit_reads::{InMemoryReadNotes, ReadNoteWriter, SenderTrust};
use gateway::audit_store::{AuditQuery, AuditStore, InMemoryAuditStore};
use gateway::auth::StaticAccessTokenVerifier;
use gateway::{Auditor, ResourceKind, SystemClock};
use serde_json::Value;
use time::OffsetDateTime;

fn record(n: usize) -> AuditRecord {
    let outcome = match n % 5 {
        0 => Outcome::Refused,
        1 => Outcome::Failure,
        _ => Outcome::Success,
    };
    AuditRecord {
        time: OffsetDateTime::now_utc(),
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
            // Commas, quotes and a formula start, for the CSV paths.
            name: Some(if n == 3 {
                "=cmd|' /C calc'!A0".into()
            } else {
                format!("user{n}, \"q\"@example.com")
            }),
        },
        operation: if n.is_multiple_of(2) {
            AuditOperation::Patch
        } else {
            AuditOperation::Create
        },
        membership: None,
        changes: vec![],
        query: None,
        rule_set_version: "identity".into(),
        outcome,
        status: 200,
        target_status: Some(200),
        target_calls: 2,
        latency_ms: 11,
        correlation_id: format!("req-{n:03}"),
        error: None,
        reason: None,
        source_ip: None,
        request_id: None,
    }
}

struct Table {
    name: String,
    log: Arc<DynamoDbAuditLog>,
    ddb: aws_sdk_dynamodb::Client,
    keys: AuditKeyArns,
    bucket: String,
    reads_queue: String,
    sqs: aws_sdk_sqs::Client,
}

/// A fresh audit table in moto holding `count` records.
async fn table(count: usize) -> Table {
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let name = test_services::unique_name("cli-audit");
    create_table(&ddb, &name).await.unwrap();
    let keys = ensure_keys(&aws_sdk_kms::Client::new(&config), &name)
        .await
        .unwrap();
    let bucket = test_services::unique_name("cli-anchors");
    create_bucket(&aws_sdk_s3::Client::new(&config), &bucket, 1)
        .await
        .unwrap();
    let log = DynamoDbAuditLog::new(
        ddb.clone(),
        name.clone(),
        writer_powers(&aws_sdk_kms::Client::new(&config), &keys.mac),
        Arc::new(SystemClock),
        time::Duration::days(400),
    );
    for n in 1..=count {
        log.append(record(n)).await.unwrap();
    }
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (reads_queue, _) = create_read_queues(&sqs, &test_services::unique_name("cli-reads"), 5)
        .await
        .unwrap();
    Table {
        name,
        log: Arc::new(log),
        ddb,
        keys,
        bucket,
        reads_queue,
        sqs,
    }
}

/// The verifier material `verify` against the table needs.
fn verifier_args(t: &Table) -> Vec<String> {
    vec![
        "--mac-key-ids".into(),
        t.keys.mac.clone(),
        "--seal-key-ids".into(),
        t.keys.seal.clone(),
        "--anchor-bucket".into(),
        t.bucket.clone(),
    ]
}

/// Runs `scimgw audit <args>` against the table (or with the arguments given).
async fn scimgw(args: Vec<String>, env: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .arg("audit")
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("SCIMGW_AUDIT_TOKEN")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .env_remove("SCIMGW_AUDIT_API")
            .env("RUST_LOG", "warn")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn on_table(table: &Table, args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    all.extend([
        "--table".into(),
        table.name.clone(),
        "--aws-endpoint".into(),
        test_services::moto_url(),
        "--region".into(),
        "us-east-1".into(),
        "--reads-queue".into(),
        table.reads_queue.clone(),
    ]);
    all
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn correlation_ids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"]["correlation_id"].as_str().unwrap().to_owned())
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(test_services::unique_name(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn query_reads_the_table_page_by_page_with_filters_in_each_format() {
    // Arrange
    let t = table(12).await;

    // Act
    let first = scimgw(
        on_table(&t, &["query", "--format", "json", "--limit", "5"]),
        vec![],
    )
    .await;
    let first_page: Value =
        serde_json::from_str(&stdout(&first)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&first)));
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    let rest = scimgw(
        on_table(
            &t,
            &[
                "query", "--format", "json", "--limit", "100", "--cursor", &cursor,
            ],
        ),
        vec![],
    )
    .await;
    let refused = scimgw(
        on_table(&t, &["query", "--format", "json", "--outcome", "refused"]),
        vec![],
    )
    .await;
    let by_target = scimgw(
        on_table(&t, &["query", "--format", "json", "--target", "00u7"]),
        vec![],
    )
    .await;
    let csv = scimgw(
        on_table(&t, &["query", "--format", "csv", "--operation", "create"]),
        vec![],
    )
    .await;
    let table_view = scimgw(on_table(&t, &["query", "--limit", "3"]), vec![]).await;

    // Assert
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        correlation_ids(&first_page),
        ["req-001", "req-002", "req-003", "req-004", "req-005"]
    );
    let rest_page: Value = serde_json::from_str(&stdout(&rest)).unwrap();
    assert_eq!(correlation_ids(&rest_page).len(), 7);
    assert_eq!(rest_page["next_cursor"], Value::Null);
    let refused_page: Value = serde_json::from_str(&stdout(&refused)).unwrap();
    assert_eq!(correlation_ids(&refused_page), ["req-005", "req-010"]);
    let target_page: Value = serde_json::from_str(&stdout(&by_target)).unwrap();
    assert_eq!(correlation_ids(&target_page), ["req-007"]);

    assert!(csv.status.success(), "{}", stderr(&csv));
    let mut reader = csv::Reader::from_reader(csv.stdout.as_slice());
    let header = reader.headers().unwrap().clone();
    let name_at = header.iter().position(|h| h == "target_name").unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6, "odd n are creates");
    assert_eq!(&rows[0][name_at], "user1, \"q\"@example.com");
    assert_eq!(&rows[1][name_at], "'=cmd|' /C calc'!A0");

    let text = stdout(&table_view);
    assert!(text.starts_with("TIME"), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.contains("req-003") && text.contains("failure"),
        "{text}"
    );
    assert!(
        stderr(&table_view).contains("--cursor"),
        "the next cursor is offered"
    );
}

#[tokio::test]
async fn an_interrupted_export_resumes_and_equals_a_full_export_in_both_formats() {
    // Arrange
    let t = table(40).await;
    let dir = temp_dir("export");
    let since = (OffsetDateTime::now_utc() - time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let until = (OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();

    for extension in ["jsonl", "csv"] {
        let full = dir.join(format!("full.{extension}"));
        let part = dir.join(format!("part.{extension}"));
        let export = |out: &Path, extra: &[&str]| {
            let mut args = vec![
                "export",
                "--since",
                &since,
                "--until",
                &until,
                "--page-size",
                "7",
                "--out",
            ];
            let out = out.to_str().unwrap().to_owned();
            let mut args: Vec<String> = args.drain(..).map(str::to_owned).collect();
            args.push(out);
            args.extend(extra.iter().map(|s| (*s).to_owned()));
            on_table(&t, &args.iter().map(String::as_str).collect::<Vec<_>>())
        };

        // Act: a full export; then one stopped after 3 pages, with a torn page appended
        // as a crash mid-write would leave, then resumed.
        let whole = scimgw(export(&full, &[]), vec![]).await;
        let stopped = scimgw(export(&part, &["--stop-after-pages", "3"]), vec![]).await;
        let state_file = dir.join(format!("part.{extension}.export-state.json"));
        let state: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
        {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .unwrap();
            file.write_all(b"{\"torn\": \"half a rec").unwrap();
        }
        let other_filters = scimgw(export(&part, &["--outcome", "refused"]), vec![]).await;
        let resumed = scimgw(export(&part, &[]), vec![]).await;

        // Assert
        assert!(whole.status.success(), "{}", stderr(&whole));
        assert!(stopped.status.success(), "{}", stderr(&stopped));
        assert_eq!(state["records"], 21, "{state}");
        assert!(state["cursor"].is_string());
        assert_eq!(
            other_filters.status.code(),
            Some(2),
            "a resume with other filters is refused"
        );
        assert!(
            stderr(&other_filters).contains("other filters"),
            "{}",
            stderr(&other_filters)
        );
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert!(
            stderr(&resumed).contains("resuming"),
            "{}",
            stderr(&resumed)
        );
        assert!(!state_file.exists(), "the state is removed when done");
        let (full_bytes, part_bytes) =
            (std::fs::read(&full).unwrap(), std::fs::read(&part).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&part_bytes),
            String::from_utf8_lossy(&full_bytes)
        );
        match extension {
            "jsonl" => {
                let lines: Vec<Value> = full_bytes
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| serde_json::from_slice(l).unwrap())
                    .collect();
                assert_eq!(lines.len(), 40);
                let ids: Vec<&str> = lines
                    .iter()
                    .map(|l| l["record"]["correlation_id"].as_str().unwrap())
                    .collect();
                let expected: Vec<String> = (1..=40).map(|n| format!("req-{n:03}")).collect();
                assert_eq!(ids, expected);
            }
            _ => assert_eq!(
                csv::Reader::from_reader(full_bytes.as_slice())
                    .records()
                    .count(),
                40
            ),
        }
        // A second export to an existing file is refused rather than clobbering it.
        let again = scimgw(export(&full, &[]), vec![]).await;
        assert_eq!(again.status.code(), Some(2));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn verify_exits_0_on_an_intact_table_and_1_naming_a_deleted_record() {
    // Arrange
    let t = table(6).await;
    let keys = verifier_args(&t);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let page = t.log.query(&AuditQuery::default()).await.unwrap();
    let victim = page.records[2].clone();

    // Act
    let clean = scimgw(on_table(&t, &[&["verify"], &keys[..]].concat()), vec![]).await;
    let no_key = scimgw(on_table(&t, &["verify"]), vec![]).await;
    t.ddb
        .delete_item()
        .table_name(&t.name)
        .key(
            "pk",
            AttributeValue::S(format!("CHAIN#{}", victim.integrity.chain)),
        )
        .key(
            "sk",
            AttributeValue::S(format!("REC#{:010}", victim.integrity.seq)),
        )
        .send()
        .await
        .unwrap();
    let tampered = scimgw(on_table(&t, &[&["verify"], &keys[..]].concat()), vec![]).await;
    let tampered_json = scimgw(
        on_table(
            &t,
            &[&["verify"], &keys[..], &["--format", "json"]].concat(),
        ),
        vec![],
    )
    .await;

    // Assert
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}{}",
        stdout(&clean),
        stderr(&clean)
    );
    assert!(
        stdout(&clean).starts_with("INTACT: 6 records"),
        "{}",
        stdout(&clean)
    );
    assert_eq!(no_key.status.code(), Some(2));
    assert!(
        stderr(&no_key).contains("--mac-key-ids"),
        "{}",
        stderr(&no_key)
    );
    assert_eq!(
        tampered.status.code(),
        Some(1),
        "{}{}",
        stdout(&tampered),
        stderr(&tampered)
    );
    let text = stdout(&tampered);
    assert!(text.starts_with("NOT INTACT"), "{text}");
    assert!(
        text.contains("DELETED") && text.contains(&victim.id),
        "{text}"
    );
    assert_eq!(tampered_json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&tampered_json.stdout).unwrap();
    assert_eq!(report["intact"], false);
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["record_id"] == victim.id.as_str())
    );
}

#[tokio::test]
async fn the_same_commands_work_through_the_audit_api_with_a_token() {
    // Arrange: the audit router on loopback over an in-memory store.
    let store = Arc::new(
        InMemoryAuditStore::ephemeral(Arc::new(SystemClock), time::Duration::days(400)).unwrap(),
    );
    for n in 1..=9 {
        store.append(record(n)).await.unwrap();
    }
    let verifier = StaticAccessTokenVerifier::new().with(
        "auditor-token",
        Ok(Auditor {
            subject: "auditor@example.com".into(),
            client_id: None,
        }),
    );
    let notes = Arc::new(InMemoryReadNotes::new());
    let app = Arc::new(edge::AuditApp::new(
        store,
        Arc::new(verifier),
        notes.clone(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, edge::audit_router(app)).await;
    });
    let token = || vec![("SCIMGW_AUDIT_TOKEN", "auditor-token".to_owned())];
    let dir = temp_dir("api-export");
    let out = dir.join("trail.jsonl");

    // Act
    let query = scimgw(
        vec![
            "query".into(),
            "--api".into(),
            api.clone(),
            "--format".into(),
            "json".into(),
            "--outcome".into(),
            "failure".into(),
        ],
        token(),
    )
    .await;
    let export = scimgw(
        vec![
            "export".into(),
            "--api".into(),
            api.clone(),
            "--page-size".into(),
            "4".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ],
        token(),
    )
    .await;
    let verify = scimgw(
        vec!["verify".into(), "--api".into(), format!("{api}/audit")],
        token(),
    )
    .await;
    let wrong_token = scimgw(
        vec!["query".into(), "--api".into(), api.clone()],
        vec![("SCIMGW_AUDIT_TOKEN", "nope".into())],
    )
    .await;
    let no_token = scimgw(vec!["query".into(), "--api".into(), api.clone()], vec![]).await;
    let bad_filter = scimgw(
        vec![
            "query".into(),
            "--api".into(),
            api.clone(),
            "--since".into(),
            "2024-02-01".into(),
            "--until".into(),
            "2024-01-01".into(),
        ],
        token(),
    )
    .await;

    // Assert
    assert!(query.status.success(), "{}", stderr(&query));
    let page: Value = serde_json::from_slice(&query.stdout).unwrap();
    assert_eq!(correlation_ids(&page), ["req-001", "req-006"]);
    assert!(export.status.success(), "{}", stderr(&export));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 9);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    assert!(stdout(&verify).starts_with("INTACT: 9 records"));
    // Every read the API answered was noted, under the auditor's name; the refused
    // tokens' calls were not.
    let noted = notes.notes();
    assert!(
        noted.iter().any(|n| n.path == "/audit/records"
            && n.query.as_deref() == Some("limit=100&outcome=failure")
            && n.records == Some(2)),
        "{noted:?}"
    );
    assert!(noted.iter().any(|n| n.path == "/audit/verify"));
    assert!(
        noted
            .iter()
            .all(|n| n.reader.as_deref() == Some("auditor@example.com"))
    );
    assert_eq!(wrong_token.status.code(), Some(2));
    assert!(
        stderr(&wrong_token).contains("401"),
        "{}",
        stderr(&wrong_token)
    );
    assert!(
        !stderr(&wrong_token).contains("nope"),
        "the token is never echoed"
    );
    assert_eq!(no_token.status.code(), Some(2));
    assert!(stderr(&no_token).contains("SCIMGW_AUDIT_TOKEN"));
    assert_eq!(bad_filter.status.code(), Some(2));
    assert!(
        stderr(&bad_filter).contains("since"),
        "{}",
        stderr(&bad_filter)
    );
    server.abort();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn no_source_or_two_sources_is_a_usage_error() {
    let neither = scimgw(vec!["query".into()], vec![]).await;
    assert_eq!(neither.status.code(), Some(2));
    assert!(stderr(&neither).contains("--table"));
    let both = scimgw(
        vec![
            "query".into(),
            "--table".into(),
            "t".into(),
            "--api".into(),
            "https://x".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(both.status.code(), Some(2));
}

#[tokio::test]
async fn a_verify_through_the_api_in_pages_has_the_verdict_of_one_verify_of_the_period() {
    // Arrange: a day of records, one every two hours, written as time went by, behind
    // the audit API on loopback; then the record of 06:10 deleted, in a chain that the
    // pages on both sides of 06:00 read.
    let t0 = time::macros::datetime!(2024-04-05 00:10 UTC);
    let clock = Arc::new(gateway::FixedClock::new(t0));
    let store =
        Arc::new(InMemoryAuditStore::ephemeral(clock.clone(), time::Duration::days(400)).unwrap());
    for n in 0..12 {
        clock.set(t0 + time::Duration::hours(2 * n as i64));
        let mut r = record(n + 1);
        r.time = gateway::Clock::now(clock.as_ref());
        store.append(r).await.unwrap();
    }
    clock.set(t0 + time::Duration::hours(24));
    let victim = store.ledger().backend().tamper(|items| {
        let key = items
            .records
            .keys()
            .find(|(chain, _)| chain.starts_with("20240405T06"))
            .cloned()
            .unwrap();
        items.records.remove(&key);
        format!("{}:{:010}", key.0, key.1)
    });
    let (since, until) = (
        time::macros::datetime!(2024-04-05 00:00 UTC),
        time::macros::datetime!(2024-04-06 00:00 UTC),
    );
    let single = store.verify(since, until).await.unwrap();
    let verifier = StaticAccessTokenVerifier::new().with(
        "auditor-token",
        Ok(Auditor {
            subject: "auditor@example.com".into(),
            client_id: None,
        }),
    );
    let app = Arc::new(
        edge::AuditApp::new(
            store.clone(),
            Arc::new(verifier),
            Arc::new(InMemoryReadNotes::new()),
        )
        .with_clock(clock),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, edge::audit_router(app)).await;
    });

    // Act
    let paged = scimgw(
        vec![
            "verify".into(),
            "--api".into(),
            api,
            "--since".into(),
            "2024-04-05T00:00:00Z".into(),
            "--until".into(),
            "2024-04-06T00:00:00Z".into(),
            "--format".into(),
            "json".into(),
        ],
        vec![("SCIMGW_AUDIT_TOKEN", "auditor-token".to_owned())],
    )
    .await;

    // Assert: the pages' report has the single verification's verdict and problems,
    // the deleted record named once although two pages judged its chain.
    assert_eq!(paged.status.code(), Some(1), "{}", stderr(&paged));
    let report: Value = serde_json::from_slice(&paged.stdout).unwrap();
    assert!(!single.intact);
    assert_eq!(report["intact"], false);
    let mut expected: Vec<String> = single
        .problems
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    let mut found: Vec<String> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    let naming_victim = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["record_id"] == victim.as_str())
        .count();
    assert_eq!(naming_victim, 1, "{report}");
    // Every record was read; chains of the boundary hours count once per page.
    assert!(report["checked"].as_u64().unwrap() >= single.checked);
    assert!(report["chains"].as_u64().unwrap() >= single.chains);
    assert!(
        !stdout(&paged).contains('\r'),
        "no progress bar on a stdout that is not a terminal"
    );
    server.abort();
}

#[tokio::test]
async fn verify_against_the_table_goes_a_bounded_span_at_a_time_to_the_same_verdict() {
    // Arrange: a day of records in the table, one every two hours, written as time went
    // by; then the record of 12:10 deleted.
    let t0 = time::macros::datetime!(2024-04-05 00:10 UTC);
    let clock = Arc::new(gateway::FixedClock::new(t0));
    let config = test_services::moto_sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let name = test_services::unique_name("cli-audit-span");
    create_table(&ddb, &name).await.unwrap();
    // One process with every power, through KMS in moto; its seals anchored in S3.
    let kms = aws_sdk_kms::Client::new(&config);
    let keys = ensure_keys(&kms, &name).await.unwrap();
    let bucket = test_services::unique_name("cli-audit-span");
    create_bucket(&aws_sdk_s3::Client::new(&config), &bucket, 1)
        .await
        .unwrap();
    let log = DynamoDbAuditLog::new(
        ddb.clone(),
        name.clone(),
        all_powers(&kms, &keys),
        clock.clone(),
        time::Duration::days(3650),
    )
    .with_anchors(Arc::new(aws_adapters::S3SealAnchors::new(
        aws_sdk_s3::Client::new(&config),
        &bucket,
    )));
    for n in 0..12 {
        clock.set(t0 + time::Duration::hours(2 * n as i64));
        let mut r = record(n + 1);
        r.time = gateway::Clock::now(clock.as_ref());
        log.append(r).await.unwrap();
    }
    let (since, until) = (
        time::macros::datetime!(2024-04-05 00:00 UTC),
        time::macros::datetime!(2024-04-06 00:00 UTC),
    );
    let page = log
        .query(&AuditQuery {
            since: Some(time::macros::datetime!(2024-04-05 12:00 UTC)),
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let victim = page.records[0].clone();
    ddb.delete_item()
        .table_name(&name)
        .key(
            "pk",
            AttributeValue::S(format!("CHAIN#{}", victim.integrity.chain)),
        )
        .key(
            "sk",
            AttributeValue::S(format!("REC#{:010}", victim.integrity.seq)),
        )
        .send()
        .await
        .unwrap();
    clock.set(t0 + time::Duration::hours(24));
    let single = log.verify(since, until).await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let (reads_queue, _) = create_read_queues(&sqs, &test_services::unique_name("cli-reads"), 5)
        .await
        .unwrap();
    let t = Table {
        name,
        log: Arc::new(log),
        ddb: ddb.clone(),
        keys,
        bucket,
        reads_queue,
        sqs,
    };
    let keys = verifier_args(&t);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

    // Act
    let paged = scimgw(
        on_table(
            &t,
            &[
                &["verify"][..],
                &keys[..],
                &[
                    "--since",
                    "2024-04-05T00:00:00Z",
                    "--until",
                    "2024-04-06T00:00:00Z",
                    "--format",
                    "json",
                ],
            ]
            .concat(),
        ),
        vec![],
    )
    .await;

    // Assert
    assert_eq!(paged.status.code(), Some(1), "{}", stderr(&paged));
    let report: Value = serde_json::from_slice(&paged.stdout).unwrap();
    assert!(!single.intact);
    assert_eq!(report["intact"], false);
    let as_text = |problems: Vec<Value>| {
        let mut text: Vec<String> = problems.iter().map(Value::to_string).collect();
        text.sort();
        text
    };
    assert_eq!(
        as_text(report["problems"].as_array().unwrap().clone()),
        as_text(
            single
                .problems
                .iter()
                .map(|p| serde_json::to_value(p).unwrap())
                .collect()
        )
    );
    assert_eq!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["record_id"] == victim.id.as_str())
            .count(),
        1,
        "{report}"
    );
    assert!(report["checked"].as_u64().unwrap() >= single.checked);
}

/// Drains the table's reads queue into its trail, as the stack's event-worker does
/// (with writer powers), and answers the records of reads.
async fn recorded_reads(t: &Table) -> Vec<AuditRecord> {
    let writer = ReadNoteWriter::new(
        t.log.clone(),
        SenderTrust::AuditApi("AROANOTTHECLI".into()),
        Arc::new(SystemClock),
    );
    let poller = aws_adapters::SqsPoller::new(t.sqs.clone(), &t.reads_queue);
    while poller
        .poll_once(&writer, std::time::Duration::from_secs(1))
        .await
        .unwrap()
        > 0
    {}
    let page = t
        .log
        .query(&AuditQuery {
            operation: Some(AuditOperation::Read),
            limit: 100,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    page.records.into_iter().map(|r| r.record).collect()
}

#[tokio::test]
async fn every_command_against_the_table_is_recorded_under_the_sqs_sender() {
    // Arrange
    let t = table(3).await;
    let dir = temp_dir("recorded-export");
    let out = dir.join("trail.jsonl");
    let keys = verifier_args(&t);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();

    // Act
    let query = scimgw(
        on_table(&t, &["query", "--format", "json", "--target", "00u2"]),
        vec![],
    )
    .await;
    let export = scimgw(
        on_table(&t, &["export", "--out", out.to_str().unwrap()]),
        vec![],
    )
    .await;
    let verify = scimgw(on_table(&t, &[&["verify"], &keys[..]].concat()), vec![]).await;
    let reads = recorded_reads(&t).await;

    // Assert
    for output in [&query, &export, &verify] {
        assert!(output.status.success(), "{}", stderr(output));
    }
    let paths: Vec<String> = reads
        .iter()
        .map(|r| match &r.source {
            AuditSource::Read { path, .. } => path.clone(),
            other => panic!("not a read: {other:?}"),
        })
        .collect();
    assert_eq!(
        paths,
        [
            "scimgw audit query",
            "scimgw audit export",
            "scimgw audit verify"
        ]
    );
    let query_record = &reads[0];
    assert_eq!(
        query_record.query.as_ref().unwrap().filter.as_deref(),
        Some("target=00u2&limit=100")
    );
    for read in &reads {
        let AuditSource::Read { via, sender, .. } = &read.source else {
            unreachable!()
        };
        assert_eq!(*via, ReadVia::Cli);
        // The actor is whoever SQS says sent the note, not anything the CLI wrote.
        let sender = sender.as_deref().unwrap();
        assert!(!sender.is_empty());
        assert_eq!(read.actor.credential, format!("aws:{sender}"));
        assert!(
            read.actor
                .user_agent
                .as_deref()
                .unwrap()
                .starts_with("scimgw/")
        );
    }
    // The reads are part of the trail, and it still verifies.
    let again = scimgw(on_table(&t, &[&["verify"], &keys[..]].concat()), vec![]).await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_table_read_that_cannot_be_recorded_reads_nothing() {
    // Arrange
    let t = table(2).await;
    let without: Vec<String> = on_table(&t, &["query", "--format", "json"])
        .into_iter()
        .take_while(|a| a != "--reads-queue")
        .collect();
    let mut missing_queue = on_table(&t, &["query", "--format", "json"]);
    *missing_queue.last_mut().unwrap() = format!("{}-gone", t.reads_queue);

    // Act
    let no_queue = scimgw(without, vec![]).await;
    let gone = scimgw(missing_queue, vec![]).await;

    // Assert
    for output in [&no_queue, &gone] {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
        assert!(stdout(output).is_empty(), "{}", stdout(output));
    }
    assert!(stderr(&no_queue).contains("--reads-queue"));
    assert!(
        stderr(&gone).contains("could not be recorded"),
        "{}",
        stderr(&gone)
    );
    assert!(recorded_reads(&t).await.is_empty());
}

#[tokio::test]
async fn reads_through_dev_at_an_aws_endpoint_go_through_the_reads_queue_into_the_trail() {
    // Arrange: dev with its state in moto; its audit API notes reads on the reads queue
    // there, and its writer drains it, as the stack's event-worker does.
    let prefix = test_services::unique_name("dev-reads");
    let dir = temp_dir("dev-reads");
    let aws_env = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
    ];
    let moto = test_services::moto_url();
    let dev = crate::dev_process::Dev::start(
        &dir,
        &["--aws-endpoint", &moto, "--aws-prefix", &prefix],
        &aws_env,
    );
    let http = reqwest::Client::new();
    let get = |query: &str| {
        http.get(format!("{}/records?{query}", dev.s("audit_url")))
            .bearer_auth(dev.s("auditor_token"))
            .header("user-agent", "reads-test/1")
            .send()
    };

    // Act: one read, then look for its record (the writer polls the queue).
    let first = get("target=nobody%40example.com").await.unwrap();
    assert_eq!(first.status(), 200);
    let mut found = Value::Null;
    for _ in 0..50 {
        let page: Value = get("operation=read").await.unwrap().json().await.unwrap();
        if let Some(record) = page["records"].as_array().and_then(|r| {
            r.iter()
                .find(|r| r["record"]["query"]["filter"] == "target=nobody%40example.com")
        }) {
            found = record["record"].clone();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // Assert
    assert_eq!(found["operation"], "read", "no record of the read: {found}");
    assert_eq!(found["source"]["kind"], "read");
    assert_eq!(found["source"]["via"], "audit_api");
    assert_eq!(found["source"]["path"], "/audit/records");
    assert_eq!(found["actor"]["credential"], "dev-auditor");
    assert_eq!(found["actor"]["user_agent"], "reads-test/1");
    assert_eq!(found["source_ip"], "127.0.0.1");
    assert_eq!(found["query"]["total_results"], 0);
    // The queue said who sent the note.
    assert!(
        found["source"]["sender"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    drop(dev);
    let _ = std::fs::remove_dir_all(dir);
}
