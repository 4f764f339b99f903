//! `scimgw events dlq` as an admin runs it: the real binary against moto's SQS FIFO
//! queues, the state table's event ledger and the audit table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::sync::Arc;

use aws_adapters::dynamodb_mirror::create_table as create_state_table;
use aws_adapters::{DynamoDbEventLedger, SqsDeadLetterQueue};
use aws_sdk_sqs::types::QueueAttributeName;
use gateway::SystemClock;
use gateway::ports::events::{DeadLetterQueue, EventLedger, EventState, QueuedEvent};
use serde_json::{Value, json};

struct Place {
    queue_url: String,
    dlq_url: String,
    state_table: String,
    audit_table: String,
    audit_key: String,
    sqs: aws_sdk_sqs::Client,
    ddb: aws_sdk_dynamodb::Client,
    ledger: DynamoDbEventLedger,
}

fn queued(uuid: &str, user: &str) -> QueuedEvent {
    QueuedEvent {
        uuid: uuid.into(),
        published: "2026-11-30T10:00:00.000Z".into(),
        event_type: "user.lifecycle.create".into(),
        group_key: user.into(),
        event: json!({"uuid": uuid, "target": [{"id": user, "type": "User"}]}),
    }
}

/// Queues, tables and the audit key in moto, with three dead letters whose events the
/// ledger shows as failed.
async fn place() -> Place {
    let config = test_services::moto_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let name = test_services::unique_name("cli-events");
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let state_table = test_services::unique_name("cli-events-state");
    create_state_table(&ddb, &state_table).await.unwrap();
    // Replays and discards are MACed with the audit trail's key.
    let (audit_table, audit_key) = crate::audit_table_with_key(&config, "cli-events-audit").await;
    let ledger = DynamoDbEventLedger::new(ddb.clone(), state_table.clone(), Arc::new(SystemClock));
    for (n, user) in ["00u1", "00u2", "00u3"].iter().enumerate() {
        let event = queued(&format!("dead-{n}"), user);
        sqs.send_message()
            .queue_url(&dlq_url)
            .message_group_id(*user)
            .message_deduplication_id(&event.uuid)
            .message_body(serde_json::to_string(&event).unwrap())
            .send()
            .await
            .unwrap();
        ledger
            .claim(&event.uuid, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        ledger
            .record_failure(&event.uuid, "identity center: 409 the userName is taken")
            .await
            .unwrap();
    }
    Place {
        queue_url,
        dlq_url,
        state_table,
        audit_table,
        audit_key,
        sqs,
        ddb,
        ledger,
    }
}

async fn scimgw(place: &Place, args: &[&str], audited: bool) -> Output {
    let mut all: Vec<String> = vec!["events".into()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    all.extend([
        "--queue-url".into(),
        place.queue_url.clone(),
        "--dlq-url".into(),
        place.dlq_url.clone(),
        "--table".into(),
        place.state_table.clone(),
        "--aws-endpoint".into(),
        test_services::moto_url(),
        "--region".into(),
        "us-east-1".into(),
    ]);
    if audited {
        all.extend([
            "--audit-table".into(),
            place.audit_table.clone(),
            "--audit-mac-key".into(),
            place.audit_key.clone(),
        ]);
    }
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scimgw"))
            .args(&all)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
            .env_remove("SCIMGW_AUDIT_TABLE")
            .env_remove("SCIMGW_AUDIT_MAC_KEY")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The audit records in the table, as their canonical JSON.
async fn audit_records(place: &Place) -> Vec<Value> {
    crate::audit_records(&place.ddb, &place.audit_table).await
}

#[tokio::test]
async fn list_shows_each_dead_letter_with_its_last_error_and_moves_none() {
    let place = place().await;

    let first = scimgw(&place, &["dlq", "list", "--json"], false).await;
    let second = scimgw(&place, &["dlq", "list", "--json"], false).await;

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let letters = lines(&first);
    assert_eq!(letters.len(), 3);
    let mut uuids: Vec<&str> = letters
        .iter()
        .map(|l| l["uuid"].as_str().unwrap())
        .collect();
    uuids.sort_unstable();
    assert_eq!(uuids, ["dead-0", "dead-1", "dead-2"]);
    assert!(
        letters
            .iter()
            .all(|l| l["last_error"] == "identity center: 409 the userName is taken")
    );
    assert_eq!(lines(&second).len(), 3, "listing moved nothing");
}

#[tokio::test]
async fn replay_and_discard_move_dead_letters_and_each_is_audited() {
    let place = place().await;
    let letters = lines(&scimgw(&place, &["dlq", "list", "--json"], false).await);
    let id_of = |uuid: &str| {
        letters.iter().find(|l| l["uuid"] == uuid).unwrap()["message_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Without the audit trail, nothing is moved.
    let refused = scimgw(&place, &["dlq", "replay"], false).await;
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--audit-table"));

    let replayed = scimgw(&place, &["dlq", "replay", "--id", &id_of("dead-0")], true).await;
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let discarded = scimgw(&place, &["dlq", "discard", "--id", &id_of("dead-1")], true).await;
    assert!(
        discarded.status.success(),
        "{}",
        String::from_utf8_lossy(&discarded.stderr)
    );

    // dead-0 is back on the events queue, dead-1 is gone, dead-2 is still a dead letter.
    let back = place
        .sqs
        .receive_message()
        .queue_url(&place.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<QueuedEvent> = back
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0].uuid, "dead-0");
    let dlq = SqsDeadLetterQueue::new(
        place.sqs.clone(),
        place.dlq_url.clone(),
        place.queue_url.clone(),
    );
    let left: Vec<String> = dlq
        .list(10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event.unwrap().uuid)
        .collect();
    assert_eq!(left, ["dead-2"]);
    assert_eq!(
        place.ledger.entry("dead-1").await.unwrap().unwrap().state,
        EventState::Discarded
    );

    // One audit record each, naming the command, the event and the operator.
    let records = audit_records(&place).await;
    assert_eq!(records.len(), 2, "{records:?}");
    for (operation, uuid) in [("replay", "dead-0"), ("discard", "dead-1")] {
        let record = records
            .iter()
            .find(|r| r["operation"] == operation)
            .unwrap_or_else(|| panic!("a {operation} record"));
        assert_eq!(record["source"]["kind"], "admin");
        assert_eq!(record["source"]["event_uuid"], uuid);
        assert_eq!(record["actor"]["credential"], "scimgw-cli");
    }
}
