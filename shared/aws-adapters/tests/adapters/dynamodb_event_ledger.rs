//! `DynamoDbEventLedger` against a real DynamoDB API (moto's server): a claim answers
//! `None` once and the state it found after that, concurrent claims of one uuid have one
//! winner, the states move as the port says (a late `queued` never undoes the worker's
//! verdict), failures count and keep their (capped) error, items sit under the
//! documented keys with the TTL attribute, an expired entry is gone, and a missing table
//! is an error rather than a panic.

use std::collections::HashMap;
use std::sync::Arc;

use aws_adapters::DynamoDbEventLedger;
use aws_adapters::dynamodb_event_ledger::{
    DEFAULT_RETENTION_DAYS, DynamoDbEventLedgerError, EVENT_SK, MAX_ERROR_CHARS, TTL_ATTRIBUTE,
    event_pk,
};
use aws_adapters::dynamodb_mirror;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use gateway::ports::events::{EventEntry, EventLedger, EventLedgerError, EventState};
use gateway::{Clock, FixedClock};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2024-04-05 06:32:12.5 UTC);

type Item = HashMap<String, AttributeValue>;

struct Fixture {
    client: Client,
    table: String,
    clock: Arc<FixedClock>,
    ledger: Arc<DynamoDbEventLedger>,
}

impl Fixture {
    async fn new() -> Self {
        let client = Client::new(&test_services::moto_sdk_config().await);
        let table = test_services::unique_name("scimgw-state");
        dynamodb_mirror::create_table(&client, &table)
            .await
            .unwrap();
        let clock = Arc::new(FixedClock::new(NOW));
        let ledger = Arc::new(DynamoDbEventLedger::new(
            client.clone(),
            &table,
            clock.clone(),
        ));
        Self {
            client,
            table,
            clock,
            ledger,
        }
    }

    /// The item of the event `uuid`, read directly.
    async fn item(&self, uuid: &str) -> Option<Item> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(event_pk(uuid)))
            .key("sk", AttributeValue::S(EVENT_SK.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn n(item: &Item, name: &str) -> i64 {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().unwrap(),
        other => panic!("{name} is not a number: {other:?}"),
    }
}

fn s(item: &Item, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(v)) => v.clone(),
        other => panic!("{name} is not a string: {other:?}"),
    }
}

fn source(error: &EventLedgerError) -> &DynamoDbEventLedgerError {
    error
        .0
        .downcast_ref::<DynamoDbEventLedgerError>()
        .unwrap_or_else(|| panic!("not classified by the adapter: {error:?}"))
}

#[tokio::test]
async fn a_claim_is_new_once_and_then_answers_the_state_it_found() {
    // Arrange
    let f = Fixture::new().await;
    let id = uuid();

    // Act
    let first = f.ledger.claim(&id, NOW).await.unwrap();
    let again = f.ledger.claim(&id, NOW).await.unwrap();
    f.ledger.set_state(&id, EventState::Queued).await.unwrap();
    let after_queued = f.ledger.claim(&id, NOW).await.unwrap();

    // Assert
    assert_eq!(first, None);
    assert_eq!(again, Some(EventState::Accepted));
    assert_eq!(after_queued, Some(EventState::Queued));
    assert_eq!(
        f.ledger.entry(&id).await.unwrap(),
        Some(EventEntry {
            state: EventState::Queued,
            attempts: 0,
            last_error: None,
        })
    );
}

#[tokio::test]
async fn the_emulator_answers_the_item_a_failed_claim_found() {
    // What the adapter relies on to answer a duplicate in one round trip (it falls back to
    // a read when the item is missing from the answer).
    let f = Fixture::new().await;
    let id = uuid();
    f.ledger.claim(&id, NOW).await.unwrap();

    let error = f
        .client
        .put_item()
        .table_name(&f.table)
        .item("pk", AttributeValue::S(event_pk(&id)))
        .item("sk", AttributeValue::S(EVENT_SK.to_owned()))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();

    match error.into_service_error() {
        PutItemError::ConditionalCheckFailedException(e) => {
            let item = e.item.expect("moto returns the item it found");
            assert_eq!(s(&item, "state"), "accepted");
        }
        other => panic!("not a failed condition: {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_uuid_have_exactly_one_winner() {
    // Arrange
    let f = Fixture::new().await;
    let id = uuid();

    // Act
    let claims = futures::future::join_all((0..10).map(|_| {
        let ledger = f.ledger.clone();
        let id = id.clone();
        tokio::spawn(async move { ledger.claim(&id, NOW).await.unwrap() })
    }))
    .await;

    // Assert
    let answers: Vec<Option<EventState>> = claims.into_iter().map(Result::unwrap).collect();
    assert_eq!(answers.iter().filter(|a| a.is_none()).count(), 1);
    assert_eq!(
        answers
            .iter()
            .filter(|a| **a == Some(EventState::Accepted))
            .count(),
        9
    );
}

#[tokio::test]
async fn the_item_sits_under_the_documented_key_with_the_ttl_attribute() {
    // Arrange
    let f = Fixture::new().await;
    let id = uuid();

    // Act
    f.ledger.claim(&id, NOW).await.unwrap();

    // Assert
    let item = f.item(&id).await.unwrap();
    assert_eq!(s(&item, "pk"), format!("EVENT#{id}"));
    assert_eq!(s(&item, "sk"), "EVENT");
    assert_eq!(s(&item, "kind"), "event");
    assert_eq!(s(&item, "uuid"), id);
    assert_eq!(s(&item, "state"), "accepted");
    assert_eq!(n(&item, "attempts"), 0);
    assert_eq!(s(&item, "accepted_at"), "2024-04-05T06:32:12.5Z");
    assert_eq!(s(&item, "updated_at"), "2024-04-05T06:32:12.5Z");
    assert!(!item.contains_key("last_error"));
    assert_eq!(
        n(&item, TTL_ATTRIBUTE),
        (NOW + Duration::days(DEFAULT_RETENTION_DAYS)).unix_timestamp()
    );
    assert_eq!(TTL_ATTRIBUTE, "expires_at");
}

#[tokio::test]
async fn failures_count_up_and_keep_the_last_error_capped() {
    // Arrange
    let f = Fixture::new().await;
    let id = uuid();
    f.ledger.claim(&id, NOW).await.unwrap();
    f.ledger.set_state(&id, EventState::Queued).await.unwrap();
    let long = format!("target: {}", "x".repeat(3 * MAX_ERROR_CHARS));

    // Act
    f.ledger
        .record_failure(&id, "target: 503 Service Unavailable")
        .await
        .unwrap();
    f.clock.advance(Duration::minutes(1));
    f.ledger.record_failure(&id, &long).await.unwrap();

    // Assert
    let entry = f.ledger.entry(&id).await.unwrap().unwrap();
    assert_eq!(entry.state, EventState::Failed);
    assert_eq!(entry.attempts, 2);
    let last = entry.last_error.unwrap();
    assert_eq!(last.chars().count(), MAX_ERROR_CHARS);
    assert!(
        last.starts_with("target: xxx") && last.ends_with('…'),
        "{last}"
    );
    // Each write pushes the expiry out, and the claim's time stays.
    let item = f.item(&id).await.unwrap();
    assert_eq!(
        n(&item, TTL_ATTRIBUTE),
        (NOW + Duration::minutes(1) + Duration::days(DEFAULT_RETENTION_DAYS)).unix_timestamp()
    );
    assert_eq!(s(&item, "accepted_at"), "2024-04-05T06:32:12.5Z");

    // And a later verdict keeps the count and the error, as the record of the failures.
    f.ledger.set_state(&id, EventState::Applied).await.unwrap();
    let entry = f.ledger.entry(&id).await.unwrap().unwrap();
    assert_eq!(entry.state, EventState::Applied);
    assert_eq!(entry.attempts, 2);
    assert!(entry.last_error.is_some());
}

#[tokio::test]
async fn a_late_queued_does_not_undo_the_workers_verdict() {
    // Arrange: the worker applied the event before the hook recorded it as queued.
    let f = Fixture::new().await;
    let id = uuid();
    f.ledger.claim(&id, NOW).await.unwrap();
    f.ledger.set_state(&id, EventState::Applied).await.unwrap();

    // Act
    f.ledger.set_state(&id, EventState::Queued).await.unwrap();

    // Assert
    let entry = f.ledger.entry(&id).await.unwrap().unwrap();
    assert_eq!(entry.state, EventState::Applied);
    assert!(entry.state.is_final());
}

#[tokio::test]
async fn unknown_uuids_are_recorded_by_set_state_and_record_failure() {
    // Arrange
    let f = Fixture::new().await;
    let (a, b, c) = (uuid(), uuid(), uuid());

    // Act
    f.ledger.set_state(&a, EventState::Discarded).await.unwrap();
    f.ledger.set_state(&c, EventState::Queued).await.unwrap();
    f.ledger
        .record_failure(&b, "worker: timeout")
        .await
        .unwrap();

    // Assert
    assert_eq!(
        f.ledger.entry(&a).await.unwrap(),
        Some(EventEntry {
            state: EventState::Discarded,
            attempts: 0,
            last_error: None,
        })
    );
    assert_eq!(
        f.ledger.entry(&b).await.unwrap(),
        Some(EventEntry {
            state: EventState::Failed,
            attempts: 1,
            last_error: Some("worker: timeout".into()),
        })
    );
    assert_eq!(
        f.ledger.entry(&c).await.unwrap().map(|e| e.state),
        Some(EventState::Queued)
    );
    assert_eq!(f.ledger.entry(&uuid()).await.unwrap(), None);
    let item = f.item(&a).await.unwrap();
    assert!(item.contains_key(TTL_ATTRIBUTE));
    assert!(!item.contains_key("accepted_at"));
}

#[tokio::test]
async fn an_entry_past_its_retention_is_gone_and_can_be_claimed_afresh() {
    // Arrange
    let f = Fixture::new().await;
    let ledger = DynamoDbEventLedger::new(f.client.clone(), &f.table, f.clock.clone())
        .with_retention(Duration::hours(1));
    let id = uuid();
    ledger.claim(&id, NOW).await.unwrap();
    ledger.record_failure(&id, "target: 500").await.unwrap();
    let item = f.item(&id).await.unwrap();
    assert_eq!(
        n(&item, TTL_ATTRIBUTE),
        (NOW + Duration::hours(1)).unix_timestamp()
    );

    // Act: an hour on, before DynamoDB's TTL has removed the item.
    f.clock.advance(Duration::hours(1));
    let read = ledger.entry(&id).await.unwrap();
    let claimed = ledger.claim(&id, f.clock.now()).await.unwrap();

    // Assert
    assert_eq!(read, None);
    assert_eq!(claimed, None);
    assert_eq!(
        ledger.entry(&id).await.unwrap(),
        Some(EventEntry {
            state: EventState::Accepted,
            attempts: 0,
            last_error: None,
        })
    );
}

#[tokio::test]
async fn a_missing_table_is_classified() {
    let client = Client::new(&test_services::moto_sdk_config().await);
    let ledger = DynamoDbEventLedger::new(
        client,
        test_services::unique_name("scimgw-no-such-table"),
        Arc::new(FixedClock::new(NOW)),
    );
    for error in [
        ledger.claim("u-1", NOW).await.map(|_| ()).unwrap_err(),
        ledger
            .set_state("u-1", EventState::Queued)
            .await
            .unwrap_err(),
        ledger.record_failure("u-1", "s3cr3t").await.unwrap_err(),
        ledger.entry("u-1").await.map(|_| ()).unwrap_err(),
    ] {
        assert!(
            matches!(
                source(&error),
                DynamoDbEventLedgerError::TableMissing { .. }
            ),
            "{error:?}"
        );
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }
}
