//! In-process stand-ins for the state table's event ledger and for the SQS FIFO queue
//! with its dead-letter queue, for `scimgw dev` and tests. The queue keeps SQS FIFO's
//! rules that the worker relies on: messages of one group are handed out in order and
//! one batch at a time, a failed message comes back after a delay, a message received
//! more than `max_receives` times moves to the dead-letter queue, and a deduplication
//! id seen within 5 minutes is dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::ports::events::{
    DeadLetter, DeadLetterQueue, EventBatchHandler, EventEntry, EventLedger, EventLedgerError,
    EventQueue, EventQueueError, EventState, QueuedEvent, ReceivedMessage,
};

/// SQS FIFO's deduplication interval.
const DEDUP_WINDOW: Duration = Duration::from_secs(300);

/// The most messages in one batch (SQS's, and Lambda's default for FIFO).
const BATCH: usize = 10;

/// The event ledger in memory.
#[derive(Debug, Default)]
pub struct InMemoryEventLedger {
    entries: Mutex<HashMap<String, EventEntry>>,
}

impl InMemoryEventLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, EventEntry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every uuid and its state, for tests and `scimgw dev`'s state dump.
    pub fn states(&self) -> HashMap<String, EventState> {
        self.entries()
            .iter()
            .map(|(k, v)| (k.clone(), v.state))
            .collect()
    }
}

#[async_trait]
impl EventLedger for InMemoryEventLedger {
    async fn claim(
        &self,
        uuid: &str,
        _now: OffsetDateTime,
    ) -> Result<Option<EventState>, EventLedgerError> {
        let mut entries = self.entries();
        if let Some(entry) = entries.get(uuid) {
            return Ok(Some(entry.state));
        }
        entries.insert(
            uuid.to_owned(),
            EventEntry {
                state: EventState::Accepted,
                attempts: 0,
                last_error: None,
            },
        );
        Ok(None)
    }

    async fn set_state(&self, uuid: &str, state: EventState) -> Result<(), EventLedgerError> {
        self.entries()
            .entry(uuid.to_owned())
            .or_insert(EventEntry {
                state,
                attempts: 0,
                last_error: None,
            })
            .state = state;
        Ok(())
    }

    async fn record_failure(&self, uuid: &str, error: &str) -> Result<(), EventLedgerError> {
        let mut entries = self.entries();
        let entry = entries.entry(uuid.to_owned()).or_insert(EventEntry {
            state: EventState::Failed,
            attempts: 0,
            last_error: None,
        });
        entry.state = EventState::Failed;
        entry.attempts += 1;
        entry.last_error = Some(error.chars().take(1000).collect());
        Ok(())
    }

    async fn entry(&self, uuid: &str) -> Result<Option<EventEntry>, EventLedgerError> {
        Ok(self.entries().get(uuid).cloned())
    }
}

#[derive(Debug, Clone)]
struct Message {
    id: String,
    group: String,
    body: String,
    receive_count: u32,
    visible_at: Instant,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Message>,
    in_flight: HashSet<String>,
    dead: Vec<Message>,
    dedup: HashMap<String, Instant>,
    next_id: u64,
}

/// A FIFO queue and its dead-letter queue in memory.
pub struct LocalEventQueue {
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    max_receives: u32,
    retry_delay: Box<dyn Fn(u32) -> Duration + Send + Sync>,
}

impl std::fmt::Debug for LocalEventQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEventQueue")
            .field("max_receives", &self.max_receives)
            .finish_non_exhaustive()
    }
}

impl LocalEventQueue {
    /// A queue that sets a message aside after `max_receives` receives, and makes a
    /// failed message wait `retry_delay(receive count)` before its next try.
    pub fn new(
        max_receives: u32,
        retry_delay: impl Fn(u32) -> Duration + Send + Sync + 'static,
    ) -> Self {
        Self {
            queue: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            max_receives: max_receives.max(1),
            retry_delay: Box::new(retry_delay),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Messages waiting or in flight, and dead letters.
    pub fn depth(&self) -> (usize, usize) {
        let queue = self.queue();
        (queue.messages.len(), queue.dead.len())
    }

    /// Hands out the next batch: messages of one group, in order, from a group not in
    /// flight. A message past its receive limit moves to the dead-letter queue.
    fn receive(&self) -> Vec<ReceivedMessage> {
        let mut queue = self.queue();
        let now = Instant::now();
        let max = self.max_receives;
        let mut dead = Vec::new();
        queue.messages.retain(|m| {
            if m.receive_count >= max && m.visible_at <= now {
                dead.push(m.clone());
                false
            } else {
                true
            }
        });
        queue.dead.extend(dead);
        // The first group, in queue order, that is not in flight and whose oldest
        // message is ready.
        let mut heads = HashSet::new();
        let Some(group) = queue
            .messages
            .iter()
            .filter(|m| heads.insert(m.group.clone()))
            .find(|m| !queue.in_flight.contains(&m.group) && m.visible_at <= now)
            .map(|m| m.group.clone())
        else {
            return Vec::new();
        };
        queue.in_flight.insert(group.clone());
        let mut batch = Vec::new();
        for message in queue.messages.iter_mut().filter(|m| m.group == group) {
            if batch.len() == BATCH || message.visible_at > now {
                break;
            }
            message.receive_count += 1;
            batch.push(ReceivedMessage {
                message_id: message.id.clone(),
                body: message.body.clone(),
                receive_count: message.receive_count,
                sender_id: None,
            });
        }
        batch
    }

    /// Ends a batch: deletes the messages that succeeded, delays the failed ones.
    fn complete(&self, batch: &[ReceivedMessage], failed: &[String]) {
        let mut queue = self.queue();
        let now = Instant::now();
        let mut group = None;
        for received in batch {
            let Some(position) = queue
                .messages
                .iter()
                .position(|m| m.id == received.message_id)
            else {
                continue;
            };
            group = Some(queue.messages[position].group.clone());
            if failed.contains(&received.message_id) {
                queue.messages[position].visible_at =
                    now + (self.retry_delay)(received.receive_count);
            } else {
                queue.messages.remove(position);
            }
        }
        if let Some(group) = group {
            queue.in_flight.remove(&group);
        }
        drop(queue);
        self.wake.notify_waiters();
    }

    /// Runs one batch through `handler`; answers how many messages it held.
    pub async fn poll_once(&self, handler: &dyn EventBatchHandler) -> usize {
        let batch = self.receive();
        if batch.is_empty() {
            return 0;
        }
        let failed = handler.handle_batch(batch.clone()).await;
        self.complete(&batch, &failed);
        batch.len()
    }

    /// Runs batches until no message is ready; answers how many were handled. Messages
    /// waiting for a retry are left waiting.
    pub async fn drain(&self, handler: &dyn EventBatchHandler) -> usize {
        let mut handled = 0;
        loop {
            let n = self.poll_once(handler).await;
            if n == 0 {
                return handled;
            }
            handled += n;
        }
    }

    /// Runs the worker as Lambda's event source mapping would, until `shutdown` turns
    /// true. Groups are handled concurrently, up to `concurrency` batches at a time.
    pub async fn run(
        self: Arc<Self>,
        handler: Arc<dyn EventBatchHandler>,
        concurrency: usize,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) {
        let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        loop {
            if *shutdown.borrow() {
                return;
            }
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let batch = self.receive();
            if batch.is_empty() {
                drop(permit);
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(200)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let queue = self.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let failed = handler.handle_batch(batch.clone()).await;
                queue.complete(&batch, &failed);
                drop(permit);
            });
        }
    }
}

#[async_trait]
impl EventQueue for LocalEventQueue {
    async fn send(&self, events: &[QueuedEvent]) -> Result<(), EventQueueError> {
        let mut queue = self.queue();
        let now = Instant::now();
        queue
            .dedup
            .retain(|_, at| now.duration_since(*at) < DEDUP_WINDOW);
        for event in events {
            if queue.dedup.contains_key(&event.uuid) {
                continue;
            }
            let body = serde_json::to_string(event).map_err(|e| EventQueueError {
                message: e.to_string(),
                failed: vec![event.uuid.clone()],
            })?;
            queue.dedup.insert(event.uuid.clone(), now);
            queue.next_id += 1;
            let id = format!("local-{:08}", queue.next_id);
            queue.messages.push_back(Message {
                id,
                group: event.group_key.clone(),
                body,
                receive_count: 0,
                visible_at: now,
            });
        }
        drop(queue);
        self.wake.notify_waiters();
        Ok(())
    }
}

fn dead_letter(message: &Message) -> DeadLetter {
    DeadLetter {
        message_id: message.id.clone(),
        event: serde_json::from_str(&message.body).ok(),
        receive_count: message.receive_count,
        raw: message.body.chars().take(200).collect(),
    }
}

#[async_trait]
impl DeadLetterQueue for LocalEventQueue {
    async fn list(&self, max: usize) -> Result<Vec<DeadLetter>, EventQueueError> {
        Ok(self
            .queue()
            .dead
            .iter()
            .take(max)
            .map(dead_letter)
            .collect())
    }

    async fn replay(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError> {
        let mut queue = self.queue();
        let (chosen, kept): (Vec<Message>, Vec<Message>) = std::mem::take(&mut queue.dead)
            .into_iter()
            .partition(|m| ids.is_empty() || ids.contains(&m.id));
        queue.dead = kept;
        let replayed = chosen.iter().map(dead_letter).collect();
        let now = Instant::now();
        for mut message in chosen {
            message.receive_count = 0;
            message.visible_at = now;
            queue.messages.push_back(message);
        }
        drop(queue);
        self.wake.notify_waiters();
        Ok(replayed)
    }

    async fn discard(&self, ids: &[String]) -> Result<Vec<DeadLetter>, EventQueueError> {
        let mut queue = self.queue();
        let (chosen, kept): (Vec<Message>, Vec<Message>) = std::mem::take(&mut queue.dead)
            .into_iter()
            .partition(|m| ids.is_empty() || ids.contains(&m.id));
        queue.dead = kept;
        Ok(chosen.iter().map(dead_letter).collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn event(uuid: &str, group: &str) -> QueuedEvent {
        QueuedEvent {
            uuid: uuid.into(),
            published: "2026-11-30T10:00:00Z".into(),
            event_type: "user.lifecycle.create".into(),
            group_key: group.into(),
            event: json!({}),
        }
    }

    struct Failing(Vec<&'static str>);

    #[async_trait]
    impl EventBatchHandler for Failing {
        async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<String> {
            batch
                .into_iter()
                .filter(|m| self.0.iter().any(|u| m.body.contains(u)))
                .map(|m| m.message_id)
                .collect()
        }
    }

    #[tokio::test]
    async fn a_group_is_handed_out_in_order_and_a_message_failing_too_often_is_set_aside() {
        let queue = LocalEventQueue::new(3, |_| Duration::ZERO);
        queue
            .send(&[
                event("a", "g1"),
                event("b", "g2"),
                event("c", "g1"),
                event("a", "g1"),
            ])
            .await
            .unwrap();
        assert_eq!(queue.depth(), (3, 0), "the duplicate uuid is dropped");
        let first = queue.receive();
        assert_eq!(first.len(), 2, "both of g1's messages, in order");
        assert!(first[0].body.contains("\"a\"") && first[1].body.contains("\"c\""));
        let second = queue.receive();
        assert_eq!(second.len(), 1, "g2 while g1 is in flight");
        assert!(queue.receive().is_empty());
        queue.complete(&first, &[]);
        queue.complete(&second, &[second[0].message_id.clone()]);
        let handler = Failing(vec!["\"b\""]);
        queue.drain(&handler).await;
        assert_eq!(queue.depth(), (0, 1));
        let dead = queue.list(10).await.unwrap();
        assert_eq!(dead[0].event.as_ref().unwrap().uuid, "b");
        assert_eq!(dead[0].receive_count, 3);
        queue.replay(&[]).await.unwrap();
        assert_eq!(queue.depth(), (1, 0));
        assert_eq!(queue.drain(&Failing(vec![])).await, 1);
        assert_eq!(queue.depth(), (0, 0));
    }

    #[tokio::test]
    async fn the_ledger_answers_the_state_a_uuid_already_had() {
        let ledger = InMemoryEventLedger::new();
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(ledger.claim("u", now).await.unwrap(), None);
        assert_eq!(
            ledger.claim("u", now).await.unwrap(),
            Some(EventState::Accepted)
        );
        ledger.set_state("u", EventState::Queued).await.unwrap();
        ledger.record_failure("u", "boom").await.unwrap();
        ledger.record_failure("u", "boom again").await.unwrap();
        let entry = ledger.entry("u").await.unwrap().unwrap();
        assert_eq!(entry.state, EventState::Failed);
        assert_eq!(entry.attempts, 2);
        assert_eq!(entry.last_error.as_deref(), Some("boom again"));
    }
}
