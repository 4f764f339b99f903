//! The event queues on SQS: [`SqsEventQueue`] implements the gateway's [`EventQueue`]
//! port (the hook puts accepted events on the FIFO events queue),
//! [`SqsDeadLetterQueue`] its [`DeadLetterQueue`] port (what `scimgw events dlq` lists,
//! replays and discards), and [`SqsPoller`] does for local runs and tests what Lambda's
//! SQS event source mapping does in AWS: receive a batch, hand it to the worker, delete
//! what it did not name as failed.
//!
//! A message is one [`QueuedEvent`] as JSON, with `MessageGroupId` = its `group_key` (SQS
//! hands out one group's messages one batch at a time, in order) and
//! `MessageDeduplicationId` = its `uuid`, given explicitly so that the queue needs no
//! content-based de-duplication: a send the hook repeats within SQS's 5-minute window
//! (after a failure half way) puts no event on the queue twice.
//!
//! **Sending.** `SendMessageBatch`, at most [`MAX_BATCH_ENTRIES`] entries and
//! [`MAX_BATCH_BYTES`] of bodies a call, the entries named by their index (SQS allows
//! only `[A-Za-z0-9_-]{1,80}` there). An entry SQS refuses through no fault of the sender
//! (`SenderFault = false`) is sent once more at once; one it refuses for the sender's
//! fault is not. Once an event of a group is not on the queue, the group's later events
//! are held back rather than sent ahead of it, so that the worker never applies a later
//! change to a user or group before an earlier one. (SQS may still take a batch's later
//! entry of a group and refuse an earlier one; the retry then lands right behind it.)
//! An event that cannot be a message (a group key or uuid that is not a valid SQS id, a
//! body over the size limit) is refused before any call. When a call itself fails
//! (unreachable, throttled, the queue missing), no further call is made and every event
//! not yet on the queue is named.
//!
//! **The dead-letter queue.** SQS moves a message there after the events queue's
//! `maxReceiveCount` receives. Looking at dead letters means receiving them: a receive
//! hides them for a short while ([`DEAD_LETTER_HOLD`]), and each look ends by making
//! every message it did not remove visible again at once (`ChangeMessageVisibility 0`).
//! In a FIFO queue a received message hides the rest of its group until it is deleted or
//! visible again, so receives are repeated until one brings nothing new (messages are
//! de-duplicated by id), and a look sees at most the first 10 dead letters of each group.
//! Replaying and discarding delete as they go, which uncovers the group's next ones. A
//! replayed message goes back on the events queue with its group and a fresh
//! de-duplication id (`<uuid>-replay-<first 20 characters of its message id>`): the uuid
//! alone would be dropped as a duplicate within 5 minutes of the original send. The
//! errors of `replay` and `discard` name the dead letters' message ids, which is what
//! their callers name them by. A dead letter's receive count is SQS's
//! `ApproximateReceiveCount` (which the move to the dead-letter queue keeps) less the
//! look's own receive; each earlier look counts one more.
//!
//! **Polling.** [`SqsPoller`] receives up to 10 messages with a long poll, hands them to
//! an [`EventBatchHandler`], deletes every one the handler did not name as failed
//! (`DeleteMessageBatch`), and leaves the failed ones to come back after the queue's
//! visibility timeout, as Lambda's partial batch responses do, or after a retry delay
//! given with [`SqsPoller::with_retry_delay`] (tests use zero so that they need not wait
//! the timeout out). As in Lambda, a handler that names an id not in the batch fails the
//! whole batch.
//!
//! Every call is bounded by a timeout ([`DEFAULT_TIMEOUT`], plus the long poll's wait for
//! a receive), and every failure is classified as an [`SqsEventsError`], whose message
//! names the operation and SQS's error code and never a message body.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use gateway::ports::events::{
    DeadLetter, DeadLetterQueue, EventBatchHandler, EventQueue, EventQueueError, QueuedEvent,
    ReceivedMessage,
};
use tokio::sync::watch;

use crate::sdk_error::BoxError;

/// The most entries SQS takes in one batch call.
pub const MAX_BATCH_ENTRIES: usize = 10;

/// The most bytes of message bodies one `SendMessageBatch` carries: SQS's long-standing
/// limit on a batch's payload, kept even where a queue would take more.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// How long one call may take, SDK retries included (a receive gets its long poll's
/// wait on top): far above SQS's milliseconds, within the 3 seconds Okta gives an event
/// hook.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest long poll SQS allows (`WaitTimeSeconds`), and the poller's default.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// How long a look at the dead-letter queue hides the messages it received, should it
/// die before making them visible again.
pub const DEAD_LETTER_HOLD: Duration = Duration::from_secs(60);

/// How long a look at the dead-letter queue waits for messages on each receive: long
/// enough that SQS asks all its servers rather than a sample.
pub const DEAD_LETTER_WAIT: Duration = Duration::from_secs(1);

/// How many characters of a foreign message's body a dead letter shows.
pub const RAW_PREVIEW_CHARS: usize = 200;

/// The group a replayed message goes back in when it has none (it cannot have come from
/// the FIFO events queue; the worker will set it aside again).
pub const FOREIGN_GROUP: &str = "foreign";

/// SQS's longest message group id and de-duplication id.
const MAX_SQS_ID: usize = 128;

/// What went wrong with a call to SQS. Messages name the operation and SQS's error code,
/// never a message body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqsEventsError {
    /// SQS could not be reached, or answered nothing that reads as a response.
    #[error("sqs: {op} could not reach SQS")]
    Unreachable {
        /// The SQS operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// No answer within the adapter's timeout.
    #[error("sqs: {op} had no answer within {timeout:?}")]
    TimedOut {
        /// The SQS operation.
        op: &'static str,
        /// The timeout.
        timeout: Duration,
    },
    /// SQS throttled the call (after the SDK's own retries), or the queue holds as many
    /// messages in flight as it may.
    #[error("sqs: {op} was throttled ({code})")]
    Throttled {
        /// The SQS operation.
        op: &'static str,
        /// SQS's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The queue does not exist (a wrong queue URL, or another Region).
    #[error("sqs: {op}: the queue does not exist")]
    QueueMissing {
        /// The SQS operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// The caller's credentials may not make the call (the role, or the queue's KMS key).
    #[error("sqs: {op} was denied ({code})")]
    Denied {
        /// The SQS operation.
        op: &'static str,
        /// SQS's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// Any other error SQS answered.
    #[error("sqs: {op} failed ({code})")]
    Failed {
        /// The SQS operation.
        op: &'static str,
        /// SQS's error code.
        code: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// A request the SDK would not build (a required field missing).
    #[error("sqs: {op}: the request could not be built")]
    Unbuildable {
        /// The SQS operation.
        op: &'static str,
        /// The SDK's error.
        #[source]
        source: BuildError,
    },
}

/// Sorts a failed SDK call by its error code, keeping the SDK's error as the source.
fn classify<E, R>(op: &'static str, err: SdkError<E, R>) -> SqsEventsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    use crate::sdk_error::Kind;
    let crate::sdk_error::Failure { kind, code, source } =
        crate::sdk_error::sort(err, &crate::sdk_error::SQS);
    match kind {
        Kind::Unreachable => SqsEventsError::Unreachable { op, source },
        Kind::Throttled => SqsEventsError::Throttled { op, code, source },
        Kind::Missing => SqsEventsError::QueueMissing { op, source },
        Kind::Denied => SqsEventsError::Denied { op, code, source },
        Kind::ConditionFailed | Kind::Failed => SqsEventsError::Failed { op, code, source },
    }
}

/// Runs one SDK call within `timeout`, classifying its failure.
pub(crate) async fn bounded<T, E, R>(
    timeout: Duration,
    op: &'static str,
    call: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, SqsEventsError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(|e| classify(op, e)),
        Err(_) => Err(SqsEventsError::TimedOut { op, timeout }),
    }
}

fn unbuildable(op: &'static str) -> impl Fn(BuildError) -> SqsEventsError {
    move |source| SqsEventsError::Unbuildable { op, source }
}

/// Whether SQS takes `s` as a message group id or de-duplication id: 1 to 128
/// characters, letters, digits and ASCII punctuation.
fn is_sqs_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SQS_ID && s.bytes().all(|b| b.is_ascii_graphic())
}

/// `s`'s first `n` characters.
fn prefix(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(end, _)| &s[..end])
}

/// Whole seconds, as SQS's `i32` parameters take them.
fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

/// A received message, with what the adapter reads of its attributes.
#[derive(Debug, Clone)]
struct Received {
    message_id: String,
    receipt: String,
    body: String,
    group: Option<String>,
    receive_count: u32,
    sent_at: u64,
    sender_id: Option<String>,
}

impl Received {
    /// `None` for a message without an id or receipt handle, which nothing can be done
    /// with (SQS always gives both).
    fn from_message(message: Message) -> Option<Self> {
        let attribute = |name: &MessageSystemAttributeName| {
            message
                .attributes
                .as_ref()
                .and_then(|a| a.get(name))
                .cloned()
        };
        let receive_count = attribute(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let sent_at = attribute(&MessageSystemAttributeName::SentTimestamp)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let group = attribute(&MessageSystemAttributeName::MessageGroupId);
        let sender_id = attribute(&MessageSystemAttributeName::SenderId);
        Some(Self {
            message_id: message.message_id?,
            receipt: message.receipt_handle?,
            body: message.body.unwrap_or_default(),
            group,
            receive_count,
            sent_at,
            sender_id,
        })
    }

    /// The event the body holds, if it holds one.
    fn event(&self) -> Option<QueuedEvent> {
        serde_json::from_str(&self.body).ok()
    }

    fn dead_letter(&self) -> DeadLetter {
        let event = self.event();
        DeadLetter {
            message_id: self.message_id.clone(),
            raw: match event {
                Some(_) => String::new(),
                None => prefix(&self.body, RAW_PREVIEW_CHARS).to_owned(),
            },
            event,
            // The look's own receive counted one more.
            receive_count: self.receive_count.saturating_sub(1),
        }
    }
}

/// One `ReceiveMessage` of up to `max` messages, asking for the attributes the adapter
/// reads.
async fn receive(
    client: &Client,
    queue_url: &str,
    max: usize,
    visibility: Option<Duration>,
    wait: Duration,
    timeout: Duration,
) -> Result<Vec<Received>, SqsEventsError> {
    let wait = wait.min(MAX_WAIT);
    let max = i32::try_from(max.clamp(1, MAX_BATCH_ENTRIES)).unwrap_or(1);
    let output = bounded(
        timeout + wait,
        "ReceiveMessage",
        client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(max)
            .wait_time_seconds(seconds(wait))
            .set_visibility_timeout(visibility.map(seconds))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::SenderId)
            .send(),
    )
    .await?;
    Ok(output
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(Received::from_message)
        .collect())
}

/// Sets the visibility of the messages behind `receipts` to `visibility`, 10 at a time;
/// answers how many SQS refused. A refusal costs only time: the message comes back when
/// its current visibility ends.
async fn change_visibility(
    client: &Client,
    queue_url: &str,
    receipts: &[String],
    visibility: Duration,
    timeout: Duration,
) -> Result<usize, SqsEventsError> {
    const OP: &str = "ChangeMessageVisibilityBatch";
    let mut refused = 0;
    for chunk in receipts.chunks(MAX_BATCH_ENTRIES) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(seconds(visibility))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(unbuildable(OP))?;
        let output = bounded(
            timeout,
            OP,
            client
                .change_message_visibility_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries))
                .send(),
        )
        .await?;
        refused += output.failed.len();
    }
    Ok(refused)
}

/// Makes the messages behind `receipts` visible again at once; a failure is logged (the
/// messages come back when their visibility ends).
async fn release(client: &Client, queue_url: &str, receipts: &[String], timeout: Duration) {
    match change_visibility(client, queue_url, receipts, Duration::ZERO, timeout).await {
        Ok(0) => {}
        // Typically a receipt handle superseded by a later receive of the same message.
        Ok(refused) => tracing::debug!(
            target: "scimgw::events",
            refused,
            "sqs: some messages were not made visible again; they come back when their visibility ends"
        ),
        Err(error) => tracing::warn!(
            target: "scimgw::events",
            error = %error,
            "sqs: messages were not made visible again; they come back when their visibility ends"
        ),
    }
}

// ---------------------------------------------------------------------------------
// Sending.
// ---------------------------------------------------------------------------------

/// An event made ready for the queue: its index in the caller's slice, and its body.
struct Outgoing<'a> {
    index: usize,
    event: &'a QueuedEvent,
    body: String,
}

/// The body of `event`'s message, or why it cannot be one.
fn body_of(event: &QueuedEvent) -> Result<String, &'static str> {
    if !is_sqs_id(&event.group_key) {
        return Err("its group key is not a valid SQS message group id");
    }
    if !is_sqs_id(&event.uuid) {
        return Err("its uuid is not a valid SQS de-duplication id");
    }
    let body = serde_json::to_string(event).map_err(|_| "it could not be written as JSON")?;
    if body.len() > MAX_BATCH_BYTES {
        return Err("it is larger than an SQS message may be");
    }
    Ok(body)
}

/// An entry SQS did not take: its index, why, and whether the fault was the sender's.
struct Refused {
    index: usize,
    reason: String,
    sender_fault: bool,
}

/// [`EventQueue`] over an SQS FIFO queue (see the module docs).
pub struct SqsEventQueue {
    client: Client,
    queue_url: String,
    timeout: Duration,
}

impl fmt::Debug for SqsEventQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsEventQueue")
            .field("queue_url", &self.queue_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqsEventQueue {
    /// The events queue at `queue_url` (a FIFO queue), each call given
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Gives each call at most `timeout`, the SDK's retries included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// One `SendMessageBatch`: the entries SQS did not take.
    async fn send_batch(&self, batch: &[&Outgoing<'_>]) -> Result<Vec<Refused>, SqsEventsError> {
        const OP: &str = "SendMessageBatch";
        let entries = batch
            .iter()
            .map(|o| {
                SendMessageBatchRequestEntry::builder()
                    .id(o.index.to_string())
                    .message_body(&o.body)
                    .message_group_id(&o.event.group_key)
                    .message_deduplication_id(&o.event.uuid)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(unbuildable(OP))?;
        let output = bounded(
            self.timeout,
            OP,
            self.client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send(),
        )
        .await?;
        let mut unanswered: HashMap<String, usize> = batch
            .iter()
            .map(|o| (o.index.to_string(), o.index))
            .collect();
        for entry in &output.successful {
            unanswered.remove(&entry.id);
        }
        let mut refused = Vec::new();
        for entry in &output.failed {
            if let Some(index) = unanswered.remove(&entry.id) {
                refused.push(Refused {
                    index,
                    reason: format!("refused ({})", entry.code),
                    sender_fault: entry.sender_fault,
                });
            }
        }
        // An entry the answer does not mention is as good as refused, and worth a retry.
        refused.extend(unanswered.into_values().map(|index| Refused {
            index,
            reason: "not in SQS's answer".to_owned(),
            sender_fault: false,
        }));
        Ok(refused)
    }

    /// Sends one chunk, retrying once the entries SQS refused through no fault of the
    /// sender: the entries not on the queue, and the error that should stop further
    /// sending.
    async fn send_chunk(&self, chunk: &[Outgoing<'_>]) -> (Vec<Refused>, Option<SqsEventsError>) {
        let mut pending: Vec<&Outgoing<'_>> = chunk.iter().collect();
        let mut failed = Vec::new();
        for attempt in 0..2 {
            let refused = match self.send_batch(&pending).await {
                Ok(refused) => refused,
                Err(error) => {
                    failed.extend(pending.iter().map(|o| Refused {
                        index: o.index,
                        reason: error.to_string(),
                        sender_fault: false,
                    }));
                    return (failed, Some(error));
                }
            };
            let (retry, not): (Vec<Refused>, Vec<Refused>) = refused
                .into_iter()
                .partition(|r| !r.sender_fault && attempt == 0);
            failed.extend(not);
            if retry.is_empty() {
                break;
            }
            let again: HashSet<usize> = retry.iter().map(|r| r.index).collect();
            pending.retain(|o| again.contains(&o.index));
        }
        (failed, None)
    }
}

#[async_trait]
impl EventQueue for SqsEventQueue {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), EventQueueError> {
        let mut refused: Vec<Refused> = Vec::new();
        // Groups with an event not on the queue: their later events wait behind it.
        let mut held: HashSet<&str> = HashSet::new();
        let mut stopped: Option<SqsEventsError> = None;
        let mut next = 0;
        while next < events.len() && stopped.is_none() {
            let mut chunk: Vec<Outgoing<'_>> = Vec::new();
            let mut bytes = 0;
            while next < events.len() && chunk.len() < MAX_BATCH_ENTRIES {
                let event = &events[next];
                let body = if held.contains(event.group_key.as_str()) {
                    Err("held back behind an earlier event of its group")
                } else {
                    body_of(event)
                };
                let body = match body {
                    Ok(body) => body,
                    Err(reason) => {
                        held.insert(&event.group_key);
                        refused.push(Refused {
                            index: next,
                            reason: reason.to_owned(),
                            sender_fault: true,
                        });
                        next += 1;
                        continue;
                    }
                };
                if !chunk.is_empty() && bytes + body.len() > MAX_BATCH_BYTES {
                    break;
                }
                bytes += body.len();
                chunk.push(Outgoing {
                    index: next,
                    event,
                    body,
                });
                next += 1;
            }
            if chunk.is_empty() {
                continue;
            }
            let (failed, error) = self.send_chunk(&chunk).await;
            for r in &failed {
                held.insert(&events[r.index].group_key);
            }
            refused.extend(failed);
            stopped = error;
        }
        if let Some(error) = &stopped {
            refused.extend((next..events.len()).map(|index| Refused {
                index,
                reason: error.to_string(),
                sender_fault: false,
            }));
        }
        if refused.is_empty() {
            return Ok(());
        }
        refused.sort_by_key(|r| r.index);
        let mut reasons: Vec<&str> = Vec::new();
        for r in &refused {
            if !reasons.contains(&r.reason.as_str()) {
                reasons.push(&r.reason);
            }
        }
        let failed: Vec<String> = refused
            .iter()
            .map(|r| events[r.index].uuid.clone())
            .collect();
        let message = format!(
            "{} of {} events are not on the queue: {}",
            failed.len(),
            events.len(),
            reasons.join("; ")
        );
        tracing::warn!(
            target: "scimgw::events",
            queue_url = %self.queue_url,
            failed = ?failed,
            "{message}"
        );
        Err(EventQueueError { message, failed })
    }
}

// ---------------------------------------------------------------------------------
// The dead-letter queue.
// ---------------------------------------------------------------------------------

/// What a sweep of the dead-letter queue does with each selected message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Replay,
    Discard,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Self::Replay => "replayed",
            Self::Discard => "discarded",
        }
    }
}

/// The de-duplication id of a replayed message: fresh for each dead letter (its message
/// id is new each time the message is dead-lettered), and still telling which event it
/// carries.
fn replay_deduplication_id(uuid: Option<&str>, message_id: &str) -> String {
    let tail = prefix(message_id, 20);
    match uuid.map(|uuid| format!("{uuid}-replay-{tail}")) {
        Some(id) if is_sqs_id(&id) => id,
        _ => prefix(&format!("replay-{message_id}"), MAX_SQS_ID).to_owned(),
    }
}

/// [`DeadLetterQueue`] over the events queue's SQS dead-letter queue (see the module
/// docs).
pub struct SqsDeadLetterQueue {
    client: Client,
    dead_letter_queue_url: String,
    queue_url: String,
    hold: Duration,
    wait: Duration,
    timeout: Duration,
}

impl fmt::Debug for SqsDeadLetterQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsDeadLetterQueue")
            .field("dead_letter_queue_url", &self.dead_letter_queue_url)
            .field("queue_url", &self.queue_url)
            .field("hold", &self.hold)
            .field("wait", &self.wait)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqsDeadLetterQueue {
    /// The dead-letter queue at `dead_letter_queue_url`, replaying to the events queue at
    /// `queue_url`; each call given [`DEFAULT_TIMEOUT`], received messages hidden for
    /// [`DEAD_LETTER_HOLD`] at most, receives waiting [`DEAD_LETTER_WAIT`].
    pub fn new(
        client: Client,
        dead_letter_queue_url: impl Into<String>,
        queue_url: impl Into<String>,
    ) -> Self {
        Self {
            client,
            dead_letter_queue_url: dead_letter_queue_url.into(),
            queue_url: queue_url.into(),
            hold: DEAD_LETTER_HOLD,
            wait: DEAD_LETTER_WAIT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Gives each call at most `timeout`, the SDK's retries included.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Waits `wait` (at most [`MAX_WAIT`]) on each receive for messages to come.
    pub fn with_receive_wait(mut self, wait: Duration) -> Self {
        self.wait = wait.min(MAX_WAIT);
        self
    }

    async fn receive(&self, max: usize) -> Result<Vec<Received>, SqsEventsError> {
        receive(
            &self.client,
            &self.dead_letter_queue_url,
            max,
            Some(self.hold),
            self.wait,
            self.timeout,
        )
        .await
    }

    async fn release(&self, receipts: &[String]) {
        release(
            &self.client,
            &self.dead_letter_queue_url,
            receipts,
            self.timeout,
        )
        .await;
    }

    async fn delete(&self, message: &Received) -> Result<(), SqsEventsError> {
        bounded(
            self.timeout,
            "DeleteMessage",
            self.client
                .delete_message()
                .queue_url(&self.dead_letter_queue_url)
                .receipt_handle(&message.receipt)
                .send(),
        )
        .await?;
        Ok(())
    }

    /// Puts a dead letter back on the events queue, then removes it from the dead-letter
    /// queue.
    async fn replay_one(&self, message: &Received) -> Result<(), SqsEventsError> {
        let event = message.event();
        let group = message
            .group
            .clone()
            .or_else(|| event.as_ref().map(|e| e.group_key.clone()))
            .filter(|g| is_sqs_id(g))
            .unwrap_or_else(|| FOREIGN_GROUP.to_owned());
        let deduplication_id =
            replay_deduplication_id(event.as_ref().map(|e| e.uuid.as_str()), &message.message_id);
        bounded(
            self.timeout,
            "SendMessage",
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(&message.body)
                .message_group_id(group)
                .message_deduplication_id(deduplication_id)
                .send(),
        )
        .await?;
        self.delete(message).await
    }

    /// Receives dead letters until a receive brings nothing new (or every named one has
    /// been seen), doing `action` with the selected ones as they come, in their order,
    /// and making the rest visible again at the end.
    async fn sweep(
        &self,
        ids: &[String],
        action: Action,
    ) -> Result<Vec<DeadLetter>, EventQueueError> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut done: Vec<DeadLetter> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        // Groups with a dead letter not replayed: the group's later ones wait behind it.
        let mut blocked: HashSet<String> = HashSet::new();
        let mut keep: Vec<String> = Vec::new();
        let mut error: Option<SqsEventsError> = None;
        loop {
            let batch = match self.receive(MAX_BATCH_ENTRIES).await {
                Ok(batch) => batch,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let mut new = 0;
            let mut batch = batch.into_iter();
            let mut stop = false;
            for message in batch.by_ref() {
                if !seen.insert(message.message_id.clone()) {
                    keep.push(message.receipt);
                    continue;
                }
                new += 1;
                if !wanted.is_empty() && !wanted.contains(message.message_id.as_str()) {
                    keep.push(message.receipt);
                    continue;
                }
                let group = message.group.clone().unwrap_or_default();
                if action == Action::Replay && blocked.contains(&group) {
                    failed.push(message.message_id.clone());
                    keep.push(message.receipt);
                    continue;
                }
                let result = match action {
                    Action::Replay => self.replay_one(&message).await,
                    Action::Discard => self.delete(&message).await,
                };
                match result {
                    Ok(()) => done.push(message.dead_letter()),
                    Err(e) => {
                        blocked.insert(group);
                        failed.push(message.message_id.clone());
                        keep.push(message.receipt);
                        // No later call would fare better.
                        stop = matches!(
                            e,
                            SqsEventsError::Unreachable { .. }
                                | SqsEventsError::QueueMissing { .. }
                                | SqsEventsError::Denied { .. }
                        );
                        error.get_or_insert(e);
                        if stop {
                            break;
                        }
                    }
                }
            }
            if stop {
                keep.extend(batch.map(|m| m.receipt));
                break;
            }
            if new == 0 || (!wanted.is_empty() && wanted.iter().all(|id| seen.contains(*id))) {
                break;
            }
        }
        self.release(&keep).await;
        match error {
            None if failed.is_empty() => Ok(done),
            error => {
                if error.is_some() {
                    // A named dead letter never reached is not done either.
                    let reached: HashSet<&str> = done
                        .iter()
                        .map(|d| d.message_id.as_str())
                        .chain(failed.iter().map(String::as_str))
                        .collect();
                    let missed: Vec<String> = ids
                        .iter()
                        .filter(|id| !reached.contains(id.as_str()))
                        .cloned()
                        .collect();
                    failed.extend(missed);
                }
                let cause = error.map_or_else(
                    || "held back behind an earlier dead letter of their group".to_owned(),
                    |e| e.to_string(),
                );
                Err(EventQueueError {
                    message: format!(
                        "{} {} dead letters; {} not: {cause}",
                        action.done(),
                        done.len(),
                        failed.len()
                    ),
                    failed,
                })
            }
        }
    }
}

fn dead_letter_error(error: SqsEventsError) -> EventQueueError {
    EventQueueError {
        message: error.to_string(),
        failed: Vec::new(),
    }
}

#[async_trait]
impl DeadLetterQueue for SqsDeadLetterQueue {
    async fn list(&self, max: usize) -> Result<Vec<DeadLetter>, EventQueueError> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut found: Vec<Received> = Vec::new();
        let mut receipts: Vec<String> = Vec::new();
        let mut error = None;
        while found.len() < max {
            let batch = match self.receive(max - found.len()).await {
                Ok(batch) => batch,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            };
            let mut new = 0;
            for message in batch {
                receipts.push(message.receipt.clone());
                if seen.insert(message.message_id.clone()) && found.len() < max {
                    new += 1;
                    found.push(message);
                }
            }
            if new == 0 {
                break;
            }
        }
        self.release(&receipts).await;
        if let Some(error) = error {
            return Err(dead_letter_error(error));
        }
        // Oldest first; a group's messages keep their order among equal timestamps.
        found.sort_by_key(|m| m.sent_at);
        Ok(found.iter().map(Received::dead_letter).collect())
    }

    async fn replay(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError> {
        self.sweep(ids, Action::Replay).await
    }

    async fn discard(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError> {
        self.sweep(ids, Action::Discard).await
    }
}

// ---------------------------------------------------------------------------------
// Polling.
// ---------------------------------------------------------------------------------

/// Receives batches from the events queue and hands them to a handler, as Lambda's SQS
/// event source mapping does (see the module docs). For local runs and tests.
pub struct SqsPoller {
    client: Client,
    queue_url: String,
    retry_delay: Option<Duration>,
    wait: Duration,
    timeout: Duration,
}

impl fmt::Debug for SqsPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsPoller")
            .field("queue_url", &self.queue_url)
            .field("retry_delay", &self.retry_delay)
            .field("wait", &self.wait)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqsPoller {
    /// A poller of the queue at `queue_url`: failed messages come back after the queue's
    /// visibility timeout, [`SqsPoller::run`] long-polls [`MAX_WAIT`], and each call is
    /// given [`DEFAULT_TIMEOUT`] (plus a receive's wait).
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            retry_delay: None,
            wait: MAX_WAIT,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Makes failed messages visible again `delay` after the handler named them, rather
    /// than after the queue's visibility timeout. Zero hands them out again at once,
    /// which lets tests drive a message to the dead-letter queue without waiting.
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = Some(delay);
        self
    }

    /// Long-polls `wait` (at most [`MAX_WAIT`]) on each receive of [`SqsPoller::run`].
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait.min(MAX_WAIT);
        self
    }

    /// Gives each call at most `timeout` (a receive: plus its wait).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Receives one batch of up to 10 messages (waiting up to `wait`, at most
    /// [`MAX_WAIT`], for the first), hands it to `handler`, deletes the messages it did
    /// not name as failed, and answers how many it received (0: none came).
    pub async fn poll_once(
        &self,
        handler: &dyn EventBatchHandler,
        wait: Duration,
    ) -> Result<usize, SqsEventsError> {
        let batch = self.receive(wait).await?;
        self.handle(handler, batch).await
    }

    /// Polls until `shutdown` holds `true` (or its sender is gone), and answers how many
    /// messages it received. A batch being handled is finished first; a failed call is
    /// logged and retried after a pause that doubles up to 30 seconds.
    pub async fn run(
        &self,
        handler: &dyn EventBatchHandler,
        mut shutdown: watch::Receiver<bool>,
    ) -> usize {
        let mut received = 0;
        let mut failures: u32 = 0;
        loop {
            if *shutdown.borrow_and_update() {
                return received;
            }
            let batch = tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        return received;
                    }
                    continue;
                }
                batch = self.receive(self.wait) => batch,
            };
            let result = match batch {
                Ok(batch) => self.handle(handler, batch).await,
                Err(error) => Err(error),
            };
            match result {
                Ok(n) => {
                    received += n;
                    failures = 0;
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let pause = Duration::from_secs(1 << failures.min(6).saturating_sub(1))
                        .min(Duration::from_secs(30));
                    tracing::warn!(
                        target: "scimgw::events",
                        queue_url = %self.queue_url,
                        error = %error,
                        pause = ?pause,
                        "sqs poller: the call failed; polling again after a pause"
                    );
                    tokio::select! {
                        biased;
                        changed = shutdown.changed() => {
                            if changed.is_err() {
                                return received;
                            }
                        }
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    async fn receive(&self, wait: Duration) -> Result<Vec<Received>, SqsEventsError> {
        receive(
            &self.client,
            &self.queue_url,
            MAX_BATCH_ENTRIES,
            None,
            wait,
            self.timeout,
        )
        .await
    }

    async fn handle(
        &self,
        handler: &dyn EventBatchHandler,
        batch: Vec<Received>,
    ) -> Result<usize, SqsEventsError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let messages = batch
            .iter()
            .map(|m| ReceivedMessage {
                message_id: m.message_id.clone(),
                body: m.body.clone(),
                receive_count: m.receive_count,
                sender_id: m.sender_id.clone(),
            })
            .collect();
        let named: HashSet<String> = handler.handle_batch(messages).await.into_iter().collect();
        let ids: HashSet<&str> = batch.iter().map(|m| m.message_id.as_str()).collect();
        let whole_batch = named.iter().any(|id| !ids.contains(id.as_str()));
        if whole_batch {
            tracing::warn!(
                target: "scimgw::events",
                queue_url = %self.queue_url,
                "sqs poller: the handler named a message not in the batch; the whole batch failed, as in Lambda"
            );
        }
        let (failed, succeeded): (Vec<&Received>, Vec<&Received>) = batch
            .iter()
            .partition(|m| whole_batch || named.contains(&m.message_id));
        self.delete(&succeeded).await?;
        if let Some(delay) = self.retry_delay {
            let receipts: Vec<String> = failed.iter().map(|m| m.receipt.clone()).collect();
            if let Err(error) = change_visibility(
                &self.client,
                &self.queue_url,
                &receipts,
                delay,
                self.timeout,
            )
            .await
            {
                tracing::warn!(
                    target: "scimgw::events",
                    error = %error,
                    "sqs poller: failed messages keep the queue's visibility timeout"
                );
            }
        }
        Ok(batch.len())
    }

    /// Deletes handled messages; one SQS refuses is logged, and will be handed out again.
    async fn delete(&self, messages: &[&Received]) -> Result<(), SqsEventsError> {
        const OP: &str = "DeleteMessageBatch";
        for chunk in messages.chunks(MAX_BATCH_ENTRIES) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(unbuildable(OP))?;
            let output = bounded(
                self.timeout,
                OP,
                self.client
                    .delete_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries))
                    .send(),
            )
            .await?;
            for entry in &output.failed {
                tracing::warn!(
                    target: "scimgw::events",
                    queue_url = %self.queue_url,
                    code = %entry.code,
                    "sqs poller: a handled message was not deleted; it will be handed out again"
                );
            }
        }
        Ok(())
    }
}

/// Creates (or finds, as SQS answers an existing queue of the same attributes) the
/// events FIFO queue `<name>.fifo` and its dead-letter queue `<name>-dlq.fifo`, with the
/// redrive limit `max_receives`, as the template has them. For tests and `scimgw dev
/// --aws-endpoint`; returns the queue's and the dead-letter queue's URLs.
pub async fn create_queues(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), BoxError> {
    create_queue_pair(client, name, true, max_receives).await
}

/// Creates (or finds) the queue `<name>` and its dead-letter queue `<name>-dlq` (each
/// with `.fifo` when `fifo`), the queue redriving to the other after `max_receives`
/// receives; returns their URLs.
pub(crate) async fn create_queue_pair(
    client: &Client,
    name: &str,
    fifo: bool,
    max_receives: u32,
) -> Result<(String, String), BoxError> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let suffix = if fifo { ".fifo" } else { "" };
    let create = |queue_name: String| {
        let request = client.create_queue().queue_name(queue_name);
        if fifo {
            request.attributes(QueueAttributeName::FifoQueue, "true")
        } else {
            request
        }
    };
    let dlq_url = create(format!("{name}-dlq{suffix}"))
        .send()
        .await?
        .queue_url()
        .ok_or("SQS answered without the dead-letter queue's URL")?
        .to_owned();
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("SQS answered without the dead-letter queue's ARN")?;
    let queue_url = create(format!("{name}{suffix}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":{max_receives}}}"#),
        )
        .send()
        .await?
        .queue_url()
        .ok_or("SQS answered without the queue's URL")?
        .to_owned();
    Ok((queue_url, dlq_url))
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::error::ErrorMetadata;
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;
    use serde_json::json;

    use super::*;

    fn service(code: &str) -> SdkError<SendMessageBatchError, ()> {
        SdkError::service_error(
            SendMessageBatchError::generic(
                ErrorMetadata::builder()
                    .code(code)
                    .message("the message")
                    .build(),
            ),
            (),
        )
    }

    fn event(uuid: &str, group_key: &str) -> QueuedEvent {
        QueuedEvent {
            uuid: uuid.into(),
            published: "2024-04-05T06:32:12.345Z".into(),
            event_type: "user.lifecycle.create".into(),
            group_key: group_key.into(),
            event: json!({"uuid": uuid}),
        }
    }

    #[test]
    fn sdk_errors_are_classified_by_code() {
        assert!(matches!(
            classify(
                "SendMessageBatch",
                service("AWS.SimpleQueueService.NonExistentQueue")
            ),
            SqsEventsError::QueueMissing { .. }
        ));
        assert!(matches!(
            classify("SendMessageBatch", service("RequestThrottled")),
            SqsEventsError::Throttled { .. }
        ));
        assert!(matches!(
            classify("SendMessageBatch", service("KMS.AccessDeniedException")),
            SqsEventsError::Denied { .. }
        ));
        assert_eq!(
            classify("SendMessageBatch", service("InvalidParameterValue")).to_string(),
            "sqs: SendMessageBatch failed (InvalidParameterValue)"
        );
        let timeout: SdkError<SendMessageBatchError, ()> = SdkError::timeout_error("slow");
        assert!(matches!(
            classify("SendMessageBatch", timeout),
            SqsEventsError::Unreachable { .. }
        ));
    }

    #[test]
    fn only_events_that_can_be_messages_get_a_body() {
        assert!(body_of(&event("a1b2-c3", "00u1a2b3c4")).is_ok());
        assert!(body_of(&event("a1b2", "")).is_err());
        assert!(body_of(&event("a1b2", "has space")).is_err());
        assert!(body_of(&event(&"x".repeat(129), "00u1")).is_err());
        let mut huge = event("a1b2", "00u1");
        huge.event = json!({"blob": "x".repeat(MAX_BATCH_BYTES)});
        assert!(body_of(&huge).is_err());
    }

    #[test]
    fn a_replay_gets_a_fresh_valid_deduplication_id() {
        let message_id = "0d7f7c4e-8a9b-4c3d-9e2f-1a2b3c4d5e6f";
        assert_eq!(
            replay_deduplication_id(Some("a1b2"), message_id),
            "a1b2-replay-0d7f7c4e-8a9b-4c3d-9"
        );
        // A uuid that cannot be part of one falls back to the message id.
        let fallback = replay_deduplication_id(Some("not valid"), message_id);
        assert_eq!(fallback, format!("replay-{message_id}"));
        assert!(is_sqs_id(&replay_deduplication_id(None, &"m".repeat(300))));
    }

    #[test]
    fn a_foreign_dead_letter_shows_the_start_of_its_body() {
        let received = |body: String| Received {
            message_id: "m-1".into(),
            receipt: "r-1".into(),
            body,
            group: Some("g".into()),
            receive_count: 4,
            sent_at: 0,
            sender_id: None,
        };
        let foreign = received("é".repeat(500)).dead_letter();
        assert_eq!(foreign.event, None);
        assert_eq!(foreign.raw.chars().count(), RAW_PREVIEW_CHARS);
        assert_eq!(foreign.receive_count, 3);
        let body = serde_json::to_string(&event("a1b2", "00u1")).unwrap();
        let ours = received(body).dead_letter();
        assert_eq!(ours.event, Some(event("a1b2", "00u1")));
        assert_eq!(ours.raw, "");
    }
}
