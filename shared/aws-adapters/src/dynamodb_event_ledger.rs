//! The event ledger in the state table: [`DynamoDbEventLedger`] implements the gateway's
//! [`EventLedger`] port (which Okta event uuids the hook has accepted, and where each
//! stands) over the stack's single-table state table (`StateTable` in `template.yaml`:
//! string keys `pk`/`sk`, TTL attribute [`TTL_ATTRIBUTE`]), with one `GetItem`,
//! `PutItem` or `UpdateItem` per call and never a query or scan.
//!
//! Items, one per event, each in its own partition (a burst of events spreads over the
//! table): `pk = EVENT#<uuid>`, `sk = EVENT`, a prefix no other item of the table uses
//! (the mirror's start with `MIRROR#`, the rule sets' are `RULES`). Attributes: `kind`
//! (`event`), `uuid`, `state` (the [`EventState`]'s snake_case name), `attempts` (N, the
//! worker's failed attempts), `last_error` (the last failure, at most
//! [`MAX_ERROR_CHARS`] characters; kept through later states, as the record of what
//! went wrong), `accepted_at` (RFC 3339, when the hook claimed it), `updated_at`
//! (RFC 3339, the last write) and `expires_at` (epoch seconds: the last write plus the
//! retention, [`DEFAULT_RETENTION_DAYS`] unless [`DynamoDbEventLedger::with_retention`]
//! says otherwise). Counting the retention from the last write keeps the record of an
//! event the worker is still retrying, or that an admin replays from the dead-letter
//! queue, for as long as any message about it can exist (SQS keeps one 14 days at most).
//!
//! An entry past its `expires_at` is as good as gone before DynamoDB's TTL removes it:
//! [`EventLedger::entry`] answers `None` for it and [`EventLedger::claim`] claims it
//! afresh, so the ledger behaves the same whenever the TTL gets round to it.
//!
//! - `claim` is one conditional `PutItem` (only when the item is missing or expired)
//!   that asks for the item it found (`ReturnValuesOnConditionCheckFailure = ALL_OLD`),
//!   so two deliveries of one event racing each other get one `None` between them, and
//!   the loser learns the state in the same round trip.
//! - `set_state` is an `UpdateItem` that creates a missing item. Moving to `queued` is
//!   conditional on the entry still being `accepted` (or missing): the worker can apply
//!   an event before the hook has recorded it as queued, and the hook's late write must
//!   not undo the worker's verdict. A `queued` that finds a later state changes nothing.
//! - `record_failure` is an `UpdateItem` that adds one to `attempts` and sets `failed`
//!   and the error.
//!
//! Reads are strongly consistent. Every failure is an [`EventLedgerError`] whose source
//! is a [`DynamoDbEventLedgerError`] saying what went wrong (unreachable, timed out,
//! throttled, table missing, denied, an unreadable entry), logged here with the table
//! and the uuid; no call panics, and none waits longer than the timeout
//! ([`DEFAULT_TIMEOUT`]): Okta gives an event hook 3 seconds to answer.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use gateway::Clock;
use gateway::ports::events::{EventEntry, EventLedger, EventLedgerError, EventState};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub use crate::dynamodb_mirror::TTL_ATTRIBUTE;

type Item = HashMap<String, AttributeValue>;
use crate::sdk_error::BoxError;

/// The prefix of every event item's partition key.
pub const PK_PREFIX: &str = "EVENT#";

/// The sort key of every event item.
pub const EVENT_SK: &str = "EVENT";

/// How long an entry is kept after its last write when the caller does not say: as long
/// as SQS can keep a message (14 days, the longest retention a queue can have), so no
/// message on the queue or in the dead-letter queue outlives its event's record.
pub const DEFAULT_RETENTION_DAYS: i64 = 14;

/// How long one call may take, SDK retries included, before it counts as failed: far
/// above DynamoDB's milliseconds, within the 3 seconds Okta gives an event hook.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest `last_error` kept, in characters; a longer error is cut and ends in `…`.
pub const MAX_ERROR_CHARS: usize = 1000;

const PK: &str = "pk";
const SK: &str = "sk";
const KIND: &str = "event";

/// The item's partition key for the event `uuid`.
pub fn event_pk(uuid: &str) -> String {
    format!("{PK_PREFIX}{uuid}")
}

/// An event item as stored (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    kind: String,
    uuid: String,
    state: EventState,
    #[serde(default)]
    attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    accepted_at: Option<String>,
    updated_at: String,
    expires_at: i64,
}

/// What went wrong with a call to the ledger's items: the source of every
/// [`EventLedgerError`] this adapter returns. Messages name the operation, the error
/// code and the item's key, never an error text stored in it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DynamoDbEventLedgerError {
    /// DynamoDB could not be reached, or answered nothing that reads as a response.
    #[error("state table: {op} could not reach DynamoDB")]
    Unreachable {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// No answer within the adapter's timeout.
    #[error("state table: {op} had no answer within {timeout:?}")]
    TimedOut {
        /// The DynamoDB operation.
        op: &'static str,
        /// The timeout.
        timeout: std::time::Duration,
    },
    /// DynamoDB throttled the call (after the SDK's own retries).
    #[error("state table: {op} was throttled ({code})")]
    Throttled {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The table does not exist (a wrong `STATE_TABLE_NAME`, or another Region).
    #[error("state table: {op}: the table does not exist")]
    TableMissing {
        /// The DynamoDB operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The caller's credentials may not make the call (the role, or a KMS key).
    #[error("state table: {op} was denied ({code})")]
    Denied {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// A conditional write's condition did not hold (`ConditionalCheckFailedException`).
    /// The adapter answers what the condition means rather than this.
    #[error("state table: {op}: the condition failed")]
    ConditionFailed {
        /// The DynamoDB operation.
        op: &'static str,
    },
    /// Any other error DynamoDB answered (a validation error, a key too long, …).
    #[error("state table: {op} failed ({code})")]
    Failed {
        /// The DynamoDB operation.
        op: &'static str,
        /// DynamoDB's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// An item under an event key that does not read as an entry.
    #[error("state table: the item {key} does not read as an event entry ({reason})")]
    Unreadable {
        /// The item's `pk`.
        key: String,
        /// What is wrong with it, without its values.
        reason: String,
    },
    /// An entry that could not be written as an item.
    #[error("state table: the entry {key} could not be encoded ({reason})")]
    Unencodable {
        /// The item's `pk`.
        key: String,
        /// What is wrong, without values.
        reason: String,
    },
}

/// Sorts a failed SDK call by its error code, keeping the SDK's error as the source.
fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> DynamoDbEventLedgerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    use crate::sdk_error::Kind;
    let crate::sdk_error::Failure { kind, code, source } =
        crate::sdk_error::sort(err, &crate::sdk_error::DYNAMODB);
    match kind {
        Kind::Unreachable => DynamoDbEventLedgerError::Unreachable { op, source },
        Kind::ConditionFailed => DynamoDbEventLedgerError::ConditionFailed { op },
        Kind::Throttled => DynamoDbEventLedgerError::Throttled { op, code, source },
        Kind::Missing => DynamoDbEventLedgerError::TableMissing { op, source },
        Kind::Denied => DynamoDbEventLedgerError::Denied { op, code, source },
        Kind::Failed => DynamoDbEventLedgerError::Failed { op, code, source },
    }
}

/// `error` cut to [`MAX_ERROR_CHARS`] characters (the last one `…` when cut).
fn capped(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR_CHARS.saturating_sub(1)) {
        Some((end, _)) if error.chars().count() > MAX_ERROR_CHARS => {
            format!("{}…", &error[..end])
        }
        _ => error.to_owned(),
    }
}

/// [`EventLedger`] over the state table (see the module docs).
pub struct DynamoDbEventLedger {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    retention: Duration,
    timeout: std::time::Duration,
}

impl fmt::Debug for DynamoDbEventLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbEventLedger")
            .field("table", &self.table)
            .field("retention", &self.retention)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl DynamoDbEventLedger {
    /// A ledger in `table` (the state table), keeping entries for
    /// [`DEFAULT_RETENTION_DAYS`] after their last write and giving each call
    /// [`DEFAULT_TIMEOUT`]. `clock` times the writes that the port does not give a time
    /// (`set_state`, `record_failure`) and the reads' expiry check.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            retention: Duration::days(DEFAULT_RETENTION_DAYS),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Keeps entries for `retention` after their last write (the TTL). A retention that
    /// is not positive is taken as one second: such entries are as good as unwritten.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(Duration::SECOND);
        self
    }

    /// Gives each call at most `timeout`, the SDK's retries included.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How long entries are kept after their last write.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn key(uuid: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(event_pk(uuid))),
            (SK.to_owned(), AttributeValue::S(EVENT_SK.to_owned())),
        ])
    }

    /// Runs one SDK call within the timeout; a failure is classified, with the SDK's
    /// error kept so that a failed condition can still be read.
    async fn bounded<T, E, R>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, SdkError<E, R>>>,
    ) -> Result<Result<T, SdkError<E, R>>, DynamoDbEventLedgerError> {
        tokio::time::timeout(self.timeout, call).await.map_err(|_| {
            DynamoDbEventLedgerError::TimedOut {
                op,
                timeout: self.timeout,
            }
        })
    }

    /// The times a write records: `updated_at` and `expires_at`.
    fn stamps(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<(String, i64), DynamoDbEventLedgerError> {
        let at = now
            .format(&Rfc3339)
            .map_err(|_| DynamoDbEventLedgerError::Unencodable {
                key: event_pk(uuid),
                reason: "the time is not RFC 3339".into(),
            })?;
        Ok((at, (now + self.retention).unix_timestamp()))
    }

    /// Reads an item as an entry; `None` when it is past its expiry at `now`.
    fn decode(
        uuid: &str,
        item: Item,
        now: OffsetDateTime,
    ) -> Result<Option<EventEntry>, DynamoDbEventLedgerError> {
        let unreadable = |reason: &str| DynamoDbEventLedgerError::Unreadable {
            key: event_pk(uuid),
            reason: reason.to_owned(),
        };
        let stored: EventItem = serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
            .map_err(|_| unreadable("missing or mistyped attributes"))?;
        if stored.kind != KIND || stored.uuid != uuid {
            return Err(unreadable("its kind or uuid is not that of its key"));
        }
        if stored.expires_at <= now.unix_timestamp() {
            // Past its retention; DynamoDB's TTL removes it within days.
            return Ok(None);
        }
        Ok(Some(EventEntry {
            state: stored.state,
            attempts: stored.attempts,
            last_error: stored.last_error,
        }))
    }

    async fn get(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<EventEntry>, DynamoDbEventLedgerError> {
        let output = self
            .bounded(
                "GetItem",
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(uuid)))
                    .consistent_read(true)
                    .send(),
            )
            .await?
            .map_err(|e| classify("GetItem", e))?;
        match output.item {
            Some(item) => Self::decode(uuid, item, now),
            None => Ok(None),
        }
    }

    /// Puts the `accepted` entry unless a live one exists; answers the one that exists.
    async fn put_new(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<Result<(), Option<Item>>, DynamoDbEventLedgerError> {
        let (at, expires_at) = self.stamps(uuid, now)?;
        let entry = EventItem {
            pk: event_pk(uuid),
            sk: EVENT_SK.to_owned(),
            kind: KIND.to_owned(),
            uuid: uuid.to_owned(),
            state: EventState::Accepted,
            attempts: 0,
            last_error: None,
            accepted_at: Some(at.clone()),
            updated_at: at,
            expires_at,
        };
        let item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(&entry).map_err(|_| {
            DynamoDbEventLedgerError::Unencodable {
                key: event_pk(uuid),
                reason: "the item".into(),
            }
        })?;
        let result = self
            .bounded(
                "PutItem",
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk) OR #ttl <= :now")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(
                        ":now",
                        AttributeValue::N(now.unix_timestamp().to_string()),
                    )
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send(),
            )
            .await?;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let old = match service.into_err() {
                    PutItemError::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                };
                Ok(Err(old))
            }
            Err(e) => Err(classify("PutItem", e)),
        }
    }

    async fn claim_entry(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<EventState>, DynamoDbEventLedgerError> {
        // Twice at most: the fallback read below can find nothing when the entry expired
        // (or was removed) between the put and the read, and then the put succeeds.
        for _ in 0..2 {
            let old = match self.put_new(uuid, now).await? {
                Ok(()) => return Ok(None),
                Err(old) => old,
            };
            let entry = match old {
                Some(item) => Self::decode(uuid, item, now)?,
                // An emulator that ignores ReturnValuesOnConditionCheckFailure.
                None => self.get(uuid, now).await?,
            };
            if let Some(entry) = entry {
                return Ok(Some(entry.state));
            }
        }
        Err(DynamoDbEventLedgerError::Unreadable {
            key: event_pk(uuid),
            reason: "the claim's condition failed, yet no live entry was found".into(),
        })
    }

    async fn update_state(
        &self,
        uuid: &str,
        state: EventState,
    ) -> Result<(), DynamoDbEventLedgerError> {
        let now = self.clock.now();
        let (at, expires_at) = self.stamps(uuid, now)?;
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(uuid)))
            .update_expression(
                "SET #kind = :kind, #uuid = :uuid, #state = :state, \
                 #attempts = if_not_exists(#attempts, :zero), #updated = :updated, \
                 #ttl = :expires",
            )
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_names("#uuid", "uuid")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":kind", AttributeValue::S(KIND.to_owned()))
            .expression_attribute_values(":uuid", AttributeValue::S(uuid.to_owned()))
            .expression_attribute_values(":state", state_value(uuid, state)?)
            .expression_attribute_values(":zero", AttributeValue::N("0".to_owned()))
            .expression_attribute_values(":updated", AttributeValue::S(at))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()));
        if state == EventState::Queued {
            request = request
                .condition_expression(
                    "attribute_not_exists(#pk) OR #state = :accepted OR #ttl <= :now",
                )
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":accepted", state_value(uuid, EventState::Accepted)?)
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(now.unix_timestamp().to_string()),
                );
        }
        match self
            .bounded("UpdateItem", request.send())
            .await?
            .map_err(|e| classify("UpdateItem", e))
        {
            Ok(_) => Ok(()),
            // The worker's verdict came first; it stands.
            Err(DynamoDbEventLedgerError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn add_failure(&self, uuid: &str, error: &str) -> Result<(), DynamoDbEventLedgerError> {
        let (at, expires_at) = self.stamps(uuid, self.clock.now())?;
        self.bounded(
            "UpdateItem",
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key(uuid)))
                .update_expression(
                    "SET #kind = :kind, #uuid = :uuid, #state = :state, #error = :error, \
                     #updated = :updated, #ttl = :expires ADD #attempts :one",
                )
                .expression_attribute_names("#kind", "kind")
                .expression_attribute_names("#uuid", "uuid")
                .expression_attribute_names("#state", "state")
                .expression_attribute_names("#error", "last_error")
                .expression_attribute_names("#updated", "updated_at")
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_names("#attempts", "attempts")
                .expression_attribute_values(":kind", AttributeValue::S(KIND.to_owned()))
                .expression_attribute_values(":uuid", AttributeValue::S(uuid.to_owned()))
                .expression_attribute_values(":state", state_value(uuid, EventState::Failed)?)
                .expression_attribute_values(":error", AttributeValue::S(capped(error)))
                .expression_attribute_values(":updated", AttributeValue::S(at))
                .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
                .send(),
        )
        .await?
        .map_err(|e| classify("UpdateItem", e))?;
        Ok(())
    }

    /// Logs a failure with the table and the uuid, and wraps it for the port.
    fn fail(&self, uuid: &str, error: DynamoDbEventLedgerError) -> EventLedgerError {
        tracing::warn!(
            target: "scimgw::event_ledger",
            table = %self.table,
            uuid,
            error = %error,
            "event ledger: the state table call failed"
        );
        EventLedgerError(Box::new(error))
    }
}

/// The `state` attribute for `state`: its snake_case name, as serde writes it.
fn state_value(uuid: &str, state: EventState) -> Result<AttributeValue, DynamoDbEventLedgerError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(state).map_err(|_| {
        DynamoDbEventLedgerError::Unencodable {
            key: event_pk(uuid),
            reason: "the state".into(),
        }
    })
}

#[async_trait]
impl EventLedger for DynamoDbEventLedger {
    async fn claim(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<EventState>, EventLedgerError> {
        self.claim_entry(uuid, now)
            .await
            .map_err(|e| self.fail(uuid, e))
    }

    async fn set_state(&self, uuid: &str, state: EventState) -> Result<(), EventLedgerError> {
        self.update_state(uuid, state)
            .await
            .map_err(|e| self.fail(uuid, e))
    }

    async fn record_failure(&self, uuid: &str, error: &str) -> Result<(), EventLedgerError> {
        self.add_failure(uuid, error)
            .await
            .map_err(|e| self.fail(uuid, e))
    }

    async fn entry(&self, uuid: &str) -> Result<Option<EventEntry>, EventLedgerError> {
        self.get(uuid, self.clock.now())
            .await
            .map_err(|e| self.fail(uuid, e))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use time::macros::datetime;

    use super::*;

    fn service(code: &str) -> SdkError<PutItemError, ()> {
        SdkError::service_error(
            PutItemError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("the message")
                    .build(),
            ),
            (),
        )
    }

    fn item(kind: &str, uuid: &str, expires_at: i64) -> Item {
        serde_dynamo::aws_sdk_dynamodb_1::to_item(EventItem {
            pk: event_pk(uuid),
            sk: EVENT_SK.into(),
            kind: kind.into(),
            uuid: uuid.into(),
            state: EventState::Queued,
            attempts: 2,
            last_error: Some("target: 503".into()),
            accepted_at: None,
            updated_at: "2024-04-05T06:32:12Z".into(),
            expires_at,
        })
        .unwrap()
    }

    #[test]
    fn keys_put_each_event_in_its_own_partition_apart_from_the_other_items() {
        assert_eq!(event_pk("a1b2"), "EVENT#a1b2");
        assert!(!event_pk("x").starts_with(crate::dynamodb_mirror::PK_PREFIX));
        assert_ne!(
            event_pk(""),
            crate::dynamodb_rule_store::RULES_PK.to_owned()
        );
    }

    #[test]
    fn the_state_is_stored_as_its_snake_case_name() {
        assert_eq!(
            state_value("u", EventState::Discarded).unwrap(),
            AttributeValue::S("discarded".into())
        );
        let stored = item(KIND, "u", 10);
        assert_eq!(stored["state"], AttributeValue::S("queued".into()));
        assert_eq!(stored["attempts"], AttributeValue::N("2".into()));
        assert!(!stored.contains_key("accepted_at"));
    }

    #[test]
    fn an_entry_past_its_expiry_reads_as_missing_and_a_foreign_item_as_unreadable() {
        let now = datetime!(2024-04-05 06:32:12 UTC);
        let t = now.unix_timestamp();
        let live = DynamoDbEventLedger::decode("u", item(KIND, "u", t + 1), now).unwrap();
        assert_eq!(
            live,
            Some(EventEntry {
                state: EventState::Queued,
                attempts: 2,
                last_error: Some("target: 503".into()),
            })
        );
        assert_eq!(
            DynamoDbEventLedger::decode("u", item(KIND, "u", t), now).unwrap(),
            None
        );
        assert!(matches!(
            DynamoDbEventLedger::decode("u", item("mirror-user", "u", t + 1), now),
            Err(DynamoDbEventLedgerError::Unreadable { .. })
        ));
        assert!(matches!(
            DynamoDbEventLedger::decode("v", item(KIND, "u", t + 1), now),
            Err(DynamoDbEventLedgerError::Unreadable { .. })
        ));
    }

    #[test]
    fn errors_are_capped_at_a_character_boundary() {
        assert_eq!(capped("short"), "short");
        let exact = "é".repeat(MAX_ERROR_CHARS);
        assert_eq!(capped(&exact), exact);
        let long = "é".repeat(MAX_ERROR_CHARS + 5);
        let cut = capped(&long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS);
        assert!(cut.ends_with("é…"));
    }

    #[test]
    fn sdk_errors_are_classified_by_code() {
        assert!(matches!(
            classify("PutItem", service("ConditionalCheckFailedException")),
            DynamoDbEventLedgerError::ConditionFailed { op: "PutItem" }
        ));
        assert!(matches!(
            classify("PutItem", service("ThrottlingException")),
            DynamoDbEventLedgerError::Throttled { .. }
        ));
        assert!(matches!(
            classify("PutItem", service("ResourceNotFoundException")),
            DynamoDbEventLedgerError::TableMissing { .. }
        ));
        assert!(matches!(
            classify("PutItem", service("AccessDeniedException")),
            DynamoDbEventLedgerError::Denied { .. }
        ));
        assert_eq!(
            classify("PutItem", service("ValidationException")).to_string(),
            "state table: PutItem failed (ValidationException)"
        );
        let timeout: SdkError<PutItemError, ()> = SdkError::timeout_error("took too long");
        assert!(matches!(
            classify("PutItem", timeout),
            DynamoDbEventLedgerError::Unreachable { .. }
        ));
    }
}
