//! The event ports: where the hook records which Okta events it has accepted (the
//! ledger, in the state table), the queue that carries them to the worker (SQS FIFO),
//! and the dead-letter queue an admin drains (`scimgw events dlq`).
//!
//! An event's uuid moves through the ledger as `accepted` (the hook claimed it),
//! `queued` (it is on the queue), then `applied`, `skipped` or `failed` (the worker's
//! verdict), or `discarded` (an admin dropped it from the dead-letter queue). A claim
//! that finds `queued` or later is a duplicate delivery and stops there; one that finds
//! `accepted` is a delivery that failed half way, and goes on.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// Where an event's uuid stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// The hook claimed it; it may not be on the queue yet.
    Accepted,
    /// It is on the queue.
    Queued,
    /// The worker applied it.
    Applied,
    /// The worker looked at it and had nothing to do (out of scope, already in step).
    Skipped,
    /// The worker's last attempt failed; it will be retried, or it is a dead letter.
    Failed,
    /// An admin discarded it from the dead-letter queue.
    Discarded,
}

impl EventState {
    /// Whether a delivery of an event in this state is a duplicate: it is on the queue
    /// or past it.
    pub fn is_past_intake(self) -> bool {
        !matches!(self, Self::Accepted)
    }

    /// Whether the worker has finished with the event for good.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Applied | Self::Skipped | Self::Discarded)
    }
}

/// An event's entry in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEntry {
    /// Where it stands.
    pub state: EventState,
    /// How many times the worker has tried it.
    pub attempts: u32,
    /// The last attempt's error, for failed events (never a secret).
    pub last_error: Option<String>,
}

/// An event on its way from the hook to the worker: the Okta event (a System Log
/// `LogEvent`), narrowed to what the worker reads, plus how the queue orders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// The event's `uuid`, Okta's de-duplication key.
    pub uuid: String,
    /// Okta's `published` time, RFC 3339.
    pub published: String,
    /// The event type, e.g. `user.lifecycle.create`.
    pub event_type: String,
    /// The FIFO message group: the Okta id of the user or group the event concerns, so
    /// that events about one resource are applied one at a time, in arrival order.
    pub group_key: String,
    /// The event as Okta sent it, narrowed to `uuid`, `published`, `eventType`,
    /// `actor` and `target` (never more than the hook validated).
    pub event: Value,
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("event ledger: {0}")]
pub struct EventLedgerError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Why the queue did not take every event.
#[derive(Debug, thiserror::Error)]
#[error("event queue: {message}")]
pub struct EventQueueError {
    /// What went wrong.
    pub message: String,
    /// The uuids the queue did not take (all of them when it could not be reached).
    pub failed: Vec<String>,
}

/// The record of accepted event uuids (the state table's `EVENT#<uuid>` items, which
/// expire after the retention the adapter is built with).
#[async_trait]
pub trait EventLedger: Send + Sync {
    /// Claims `uuid` for intake: records it as `accepted` unless it is already known,
    /// and answers the state it already had (`None`: it is new).
    async fn claim(
        &self,
        uuid: &str,
        now: OffsetDateTime,
    ) -> Result<Option<EventState>, EventLedgerError>;
    /// Moves `uuid` to `state` (an unknown uuid is recorded with it).
    async fn set_state(&self, uuid: &str, state: EventState) -> Result<(), EventLedgerError>;
    /// Records a failed attempt: state `failed`, attempts plus one, the error.
    async fn record_failure(&self, uuid: &str, error: &str) -> Result<(), EventLedgerError>;
    /// The entry for `uuid`, if any.
    async fn entry(&self, uuid: &str) -> Result<Option<EventEntry>, EventLedgerError>;
}

/// The queue from the hook to the worker.
#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Puts the events on the queue, in order within each group; on error, names the
    /// uuids that are not on it.
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), EventQueueError>;
}

/// A message in the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The queue's id for the message (for `replay` and `discard`).
    pub message_id: String,
    /// The event, when the message holds one (a foreign message is listed with `None`).
    pub event: Option<QueuedEvent>,
    /// How many times the worker received it before it was set aside.
    pub receive_count: u32,
    /// The message body's first characters, for a foreign message.
    pub raw: String,
}

/// The dead-letter queue, for `scimgw events dlq` and `scimgw dev`.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Up to `max` dead letters, oldest first; listing moves none of them.
    async fn list(&self, max: usize) -> Result<Vec<DeadLetter>, EventQueueError>;
    /// Puts the named dead letters (all when `ids` is empty) back on the events queue
    /// and removes them from the dead-letter queue; answers the ones moved.
    async fn replay(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError>;
    /// Deletes the named dead letters (all when `ids` is empty); answers the ones deleted.
    async fn discard(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError>;
}

/// A message as the queue hands it to the worker (an SQS record of a Lambda SQS event,
/// or a message the local poller received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The queue's id for the message, named back in a partial batch failure.
    pub message_id: String,
    /// The body: a [`QueuedEvent`] as JSON.
    pub body: String,
    /// How many times the queue has handed out this message, this time included.
    pub receive_count: u32,
    /// Who sent it, as SQS reports it (`SenderId`: the IAM principal's unique id);
    /// `None` when the queue does not say (the in-process queue of `scimgw dev`).
    pub sender_id: Option<String>,
}

/// What consumes batches from the events queue: the worker. Answers the message ids
/// that failed (they return to the queue after its visibility timeout; the rest are
/// deleted), as Lambda's partial batch responses do.
#[async_trait]
pub trait EventBatchHandler: Send + Sync {
    /// Handles one batch and answers the ids of the messages that failed.
    async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<String>;
}
