//! The SQS adapters against a real SQS API (moto's server), on a FIFO events queue whose
//! redrive policy sends a message to a FIFO dead-letter queue after 3 receives: every
//! event sent arrives once, in its group, in order within the group; the uuid is the
//! de-duplication id; a failed send names the events not on the queue (and holds back
//! their group's later ones); the poller deletes what the handler handled and leaves the
//! failures, which land in the dead-letter queue; listing leaves dead letters in place,
//! replaying puts the chosen ones back where the poller handles them, discarding deletes.
//! What moto never does (refuse an entry through no fault of the sender, or hold batches
//! to SQS's 256 KiB) is checked against a scripted stand-in for SQS at the end.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_adapters::sqs_events::MAX_BATCH_BYTES;
use aws_adapters::{SqsDeadLetterQueue, SqsEventQueue, SqsPoller};
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use gateway::ports::events::{
    DeadLetterQueue, EventBatchHandler, EventQueue, QueuedEvent, ReceivedMessage,
};
use serde_json::json;
use tokio::sync::watch;

/// The events queue's redrive policy: a message received this often goes to the
/// dead-letter queue on its next receive.
const MAX_RECEIVE_COUNT: u32 = 3;

struct Queues {
    client: Client,
    url: String,
    dlq_url: String,
}

impl Queues {
    async fn new() -> Self {
        let client = Client::new(&test_services::moto_sdk_config().await);
        let dlq_url = create_fifo(
            &client,
            &test_services::unique_name("scimgw-events-dlq"),
            None,
        )
        .await;
        let attributes = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        let redrive = json!({
            "deadLetterTargetArn": attributes[&QueueAttributeName::QueueArn],
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        })
        .to_string();
        let url = create_fifo(
            &client,
            &test_services::unique_name("scimgw-events"),
            Some(redrive),
        )
        .await;
        Self {
            client,
            url,
            dlq_url,
        }
    }

    fn queue(&self) -> SqsEventQueue {
        SqsEventQueue::new(self.client.clone(), &self.url)
    }

    fn dead_letters(&self) -> SqsDeadLetterQueue {
        SqsDeadLetterQueue::new(self.client.clone(), &self.dlq_url, &self.url)
    }

    fn poller(&self) -> SqsPoller {
        SqsPoller::new(self.client.clone(), &self.url).with_retry_delay(Duration::ZERO)
    }

    /// Every message on `url`, received (with its group) and deleted batch by batch: the
    /// test's view, in the order SQS handed them out.
    async fn drain(&self, url: &str) -> Vec<(String, QueuedEvent)> {
        let mut out = Vec::new();
        loop {
            let messages = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for message in messages {
                let group = message.attributes.as_ref().unwrap()
                    [&MessageSystemAttributeName::MessageGroupId]
                    .clone();
                out.push((
                    group,
                    serde_json::from_str(message.body().unwrap()).unwrap(),
                ));
                self.client
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// How many messages `url` holds, visible or not.
    async fn depth(&self, url: &str) -> usize {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|name| attributes[name].parse::<usize>().unwrap())
        .sum()
    }
}

async fn create_fifo(client: &Client, name: &str, redrive: Option<String>) -> String {
    let mut request = client
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::VisibilityTimeout, "30");
    if let Some(redrive) = redrive {
        request = request.attributes(QueueAttributeName::RedrivePolicy, redrive);
    }
    request.send().await.unwrap().queue_url.unwrap()
}

fn event(uuid: &str, group_key: &str) -> QueuedEvent {
    QueuedEvent {
        uuid: uuid.into(),
        published: "2024-04-05T06:32:12.345Z".into(),
        event_type: "user.account.update_profile".into(),
        group_key: group_key.into(),
        event: json!({
            "uuid": uuid,
            "eventType": "user.account.update_profile",
            "target": [{"id": group_key, "type": "User"}]
        }),
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A worker stand-in: records every message it is handed, and fails those whose event
/// `fail` picks.
struct Recording {
    fail: Mutex<HashSet<String>>,
    seen: Mutex<Vec<(ReceivedMessage, QueuedEvent)>>,
    answer_unknown_id: bool,
}

impl Recording {
    fn failing(uuids: &[&str]) -> Self {
        Self {
            fail: Mutex::new(uuids.iter().map(|u| (*u).to_owned()).collect()),
            seen: Mutex::new(Vec::new()),
            answer_unknown_id: false,
        }
    }

    fn seen(&self) -> Vec<(ReceivedMessage, QueuedEvent)> {
        self.seen.lock().unwrap().clone()
    }

    fn seen_uuids(&self) -> Vec<String> {
        self.seen().into_iter().map(|(_, e)| e.uuid).collect()
    }
}

#[async_trait]
impl EventBatchHandler for Recording {
    async fn handle_batch(&self, batch: Vec<ReceivedMessage>) -> Vec<String> {
        if self.answer_unknown_id {
            self.seen.lock().unwrap().extend(
                batch
                    .into_iter()
                    .map(|m| (m.clone(), serde_json::from_str(&m.body).unwrap())),
            );
            return vec!["not-in-the-batch".into()];
        }
        let fail = self.fail.lock().unwrap().clone();
        let mut failed = Vec::new();
        for message in batch {
            let event: QueuedEvent = serde_json::from_str(&message.body).unwrap();
            if fail.contains(&event.uuid) {
                failed.push(message.message_id.clone());
            }
            self.seen.lock().unwrap().push((message, event));
        }
        failed
    }
}

/// Polls until a poll brings nothing.
async fn poll_until_empty(poller: &SqsPoller, handler: &Recording) -> usize {
    let mut total = 0;
    loop {
        let n = poller.poll_once(handler, Duration::ZERO).await.unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

#[tokio::test]
async fn every_event_arrives_once_in_its_group_in_order() {
    // Arrange: 25 events over 3 groups, more than two batches' worth.
    let q = Queues::new().await;
    let groups = ["00u1aaaa", "00u2bbbb", "00g3cccc"];
    let events: Vec<QueuedEvent> = (0..25)
        .map(|i| event(&uuid(), groups[i % groups.len()]))
        .collect();

    // Act
    q.queue().send(&events).await.unwrap();
    let received = q.drain(&q.url).await;

    // Assert: each message in the group of its event, each group in sending order.
    assert_eq!(received.len(), 25);
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (group, event) in &received {
        assert_eq!(group, &event.group_key);
        by_group
            .entry(group.clone())
            .or_default()
            .push(event.uuid.clone());
    }
    for group in groups {
        let sent: Vec<String> = events
            .iter()
            .filter(|e| e.group_key == group)
            .map(|e| e.uuid.clone())
            .collect();
        assert_eq!(by_group[group], sent, "group {group}");
    }
    // The body is the event as sent.
    assert!(received.iter().all(|(_, e)| events.contains(e)));
}

#[tokio::test]
async fn large_events_are_split_into_batches_under_the_size_limit() {
    // Arrange: 10 events of about 60 KB, more than one batch may carry.
    let q = Queues::new().await;
    let events: Vec<QueuedEvent> = (0..10)
        .map(|_| {
            let mut e = event(&uuid(), "00u1aaaa");
            e.event["padding"] = json!("x".repeat(60 * 1024));
            e
        })
        .collect();
    let total: usize = events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap().len())
        .sum();
    assert!(total > MAX_BATCH_BYTES);

    // Act
    q.queue().send(&events).await.unwrap();

    // Assert
    let received: Vec<String> = q
        .drain(&q.url)
        .await
        .into_iter()
        .map(|(_, e)| e.uuid)
        .collect();
    let sent: Vec<String> = events.iter().map(|e| e.uuid.clone()).collect();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn the_uuid_is_the_deduplication_id() {
    // Arrange
    let q = Queues::new().await;
    let first = event(&uuid(), "00u1aaaa");
    let mut same_uuid_other_body = first.clone();
    same_uuid_other_body.event_type = "user.lifecycle.deactivate".into();
    let same_body_other_uuid = event(&uuid(), "00u1aaaa");

    // Act: the hook sends twice (a retried delivery), then a lookalike event.
    q.queue().send(std::slice::from_ref(&first)).await.unwrap();
    q.queue()
        .send(&[same_uuid_other_body, same_body_other_uuid.clone()])
        .await
        .unwrap();

    // Assert
    let received: Vec<QueuedEvent> = q.drain(&q.url).await.into_iter().map(|(_, e)| e).collect();
    assert_eq!(received, vec![first, same_body_other_uuid]);
}

#[tokio::test]
async fn a_send_to_a_missing_queue_names_every_event() {
    // Arrange
    let q = Queues::new().await;
    let missing = q.url.replace("scimgw-events", "scimgw-no-such-queue");
    let queue = SqsEventQueue::new(q.client.clone(), missing);
    let events: Vec<QueuedEvent> = (0..12).map(|_| event(&uuid(), "00u1aaaa")).collect();

    // Act
    let error = queue.send(&events).await.unwrap_err();

    // Assert
    let uuids: Vec<String> = events.iter().map(|e| e.uuid.clone()).collect();
    assert_eq!(error.failed, uuids);
    assert!(
        error.message.contains("the queue does not exist"),
        "{}",
        error.message
    );
    assert!(
        error.message.starts_with("12 of 12 events"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn an_event_that_cannot_be_a_message_is_named_and_holds_back_its_group() {
    // Arrange: b's uuid is no valid de-duplication id, e has no group key.
    let q = Queues::new().await;
    let (a, c, d) = (uuid(), uuid(), uuid());
    let events = vec![
        event(&a, "00u1aaaa"),
        event("not a valid id", "00u2bbbb"),
        event(&c, "00u2bbbb"),
        event(&d, "00u1aaaa"),
        event("e", ""),
    ];

    // Act
    let error = q.queue().send(&events).await.unwrap_err();

    // Assert: the rest of the other groups got through, in order.
    assert_eq!(
        error.failed,
        vec!["not a valid id".to_owned(), c, "e".into()]
    );
    assert!(
        error
            .message
            .contains("held back behind an earlier event of its group"),
        "{}",
        error.message
    );
    let received: Vec<String> = q
        .drain(&q.url)
        .await
        .into_iter()
        .map(|(_, e)| e.uuid)
        .collect();
    assert_eq!(received, vec![a, d]);
}

#[tokio::test]
async fn the_poller_deletes_what_was_handled_and_failures_end_in_the_dead_letter_queue() {
    // Arrange: one group whose second event fails, and another group.
    let q = Queues::new().await;
    let (ok1, bad, ok2) = (uuid(), uuid(), uuid());
    q.queue()
        .send(&[
            event(&ok1, "00u1aaaa"),
            event(&bad, "00u1aaaa"),
            event(&ok2, "00u2bbbb"),
        ])
        .await
        .unwrap();
    let handler = Recording::failing(&[&bad]);
    let poller = q.poller();

    // Act: poll until the queue is empty.
    let handled = poll_until_empty(&poller, &handler).await;

    // Assert: the failure was handed out maxReceiveCount times, with its count, then
    // moved; the others once each.
    assert_eq!(handled, 2 + MAX_RECEIVE_COUNT as usize);
    let counts: Vec<u32> = handler
        .seen()
        .into_iter()
        .filter(|(_, e)| e.uuid == bad)
        .map(|(m, _)| m.receive_count)
        .collect();
    assert_eq!(counts, (1..=MAX_RECEIVE_COUNT).collect::<Vec<_>>());
    for uuid in [&ok1, &ok2] {
        assert_eq!(
            handler.seen_uuids().iter().filter(|u| *u == uuid).count(),
            1
        );
    }
    assert_eq!(q.depth(&q.url).await, 0);
    assert_eq!(q.depth(&q.dlq_url).await, 1);

    // Listing shows it, with its group and count, and leaves it there.
    let dead_letters = q.dead_letters();
    let listed = dead_letters.list(10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event, Some(event(&bad, "00u1aaaa")));
    assert_eq!(listed[0].receive_count, MAX_RECEIVE_COUNT);
    assert_eq!(listed[0].raw, "");
    let again = dead_letters.list(10).await.unwrap();
    assert_eq!(
        again.iter().map(|d| &d.message_id).collect::<Vec<_>>(),
        vec![&listed[0].message_id]
    );
    assert_eq!(q.depth(&q.dlq_url).await, 1);
}

/// Drives each event through the poller into the dead-letter queue.
async fn dead_letter(q: &Queues, events: &[QueuedEvent]) {
    q.queue().send(events).await.unwrap();
    let uuids: Vec<&str> = events.iter().map(|e| e.uuid.as_str()).collect();
    let handler = Recording::failing(&uuids);
    poll_until_empty(&q.poller(), &handler).await;
    assert_eq!(q.depth(&q.dlq_url).await, events.len());
}

#[tokio::test]
async fn replaying_chosen_dead_letters_puts_them_back_for_the_worker() {
    // Arrange: three dead letters, two in one group.
    let q = Queues::new().await;
    let events = vec![
        event(&uuid(), "00u1aaaa"),
        event(&uuid(), "00u1aaaa"),
        event(&uuid(), "00u2bbbb"),
    ];
    dead_letter(&q, &events).await;
    let dead_letters = q.dead_letters();
    let listed = dead_letters.list(10).await.unwrap();
    assert_eq!(listed.len(), 3);
    let id_of = |uuid: &str| {
        listed
            .iter()
            .find(|d| d.event.as_ref().is_some_and(|e| e.uuid == uuid))
            .unwrap()
            .message_id
            .clone()
    };

    // Act: replay the second of the first group and the other group's.
    let chosen = vec![id_of(&events[1].uuid), id_of(&events[2].uuid)];
    let replayed = dead_letters.replay(&chosen).await.unwrap();

    // Assert: those two moved, the other stayed; the worker gets them afresh.
    let mut moved: Vec<String> = replayed.iter().map(|d| d.message_id.clone()).collect();
    moved.sort();
    let mut expected = chosen.clone();
    expected.sort();
    assert_eq!(moved, expected);
    let left = dead_letters.list(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].event.as_ref().unwrap().uuid, events[0].uuid);
    let handler = Recording::failing(&[]);
    assert_eq!(poll_until_empty(&q.poller(), &handler).await, 2);
    let mut seen = handler.seen_uuids();
    seen.sort();
    let mut want = vec![events[1].uuid.clone(), events[2].uuid.clone()];
    want.sort();
    assert_eq!(seen, want);
    assert!(handler.seen().iter().all(|(m, _)| m.receive_count == 1));
    assert_eq!(q.depth(&q.url).await, 0);
}

#[tokio::test]
async fn replaying_everything_keeps_each_groups_order_and_a_second_failure_returns() {
    // Arrange
    let q = Queues::new().await;
    let events = vec![
        event(&uuid(), "00u1aaaa"),
        event(&uuid(), "00u1aaaa"),
        event(&uuid(), "00u1aaaa"),
    ];
    dead_letter(&q, &events).await;

    // Act
    let replayed = q.dead_letters().replay(&[]).await.unwrap();

    // Assert: in the group's order, and handled by a worker that fails again they go
    // back to the dead-letter queue (a fresh de-duplication id each time).
    assert_eq!(
        replayed
            .iter()
            .map(|d| d.event.as_ref().unwrap().uuid.clone())
            .collect::<Vec<_>>(),
        events.iter().map(|e| e.uuid.clone()).collect::<Vec<_>>()
    );
    assert_eq!(q.depth(&q.dlq_url).await, 0);
    let failing = Recording::failing(&events.iter().map(|e| e.uuid.as_str()).collect::<Vec<_>>());
    poll_until_empty(&q.poller(), &failing).await;
    assert_eq!(q.depth(&q.dlq_url).await, 3);
    assert_eq!(q.dead_letters().replay(&[]).await.unwrap().len(), 3);
    let handler = Recording::failing(&[]);
    assert_eq!(poll_until_empty(&q.poller(), &handler).await, 3);
    assert_eq!(
        handler.seen_uuids(),
        events.iter().map(|e| e.uuid.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn discarding_deletes_the_chosen_dead_letters_and_a_foreign_one_is_listed_raw() {
    // Arrange: two dead letters, and a message that is no event.
    let q = Queues::new().await;
    let events = vec![event(&uuid(), "00u1aaaa"), event(&uuid(), "00u2bbbb")];
    dead_letter(&q, &events).await;
    let foreign = format!("not an event {}", "y".repeat(300));
    q.client
        .send_message()
        .queue_url(&q.dlq_url)
        .message_body(&foreign)
        .message_group_id("elsewhere")
        .message_deduplication_id(uuid())
        .send()
        .await
        .unwrap();
    let dead_letters = q.dead_letters();
    let listed = dead_letters.list(10).await.unwrap();
    assert_eq!(listed.len(), 3);
    let raw = listed.iter().find(|d| d.event.is_none()).unwrap();
    assert_eq!(raw.raw, foreign[..200]);

    // Act
    let discarded = dead_letters
        .discard(std::slice::from_ref(&raw.message_id))
        .await
        .unwrap();

    // Assert
    assert_eq!(discarded.len(), 1);
    assert_eq!(discarded[0].message_id, raw.message_id);
    assert_eq!(dead_letters.list(10).await.unwrap().len(), 2);

    // And discarding with no ids deletes them all.
    assert_eq!(dead_letters.discard(&[]).await.unwrap().len(), 2);
    assert!(dead_letters.list(10).await.unwrap().is_empty());
    assert_eq!(q.depth(&q.dlq_url).await, 0);
}

#[tokio::test]
async fn listing_stops_at_max() {
    let q = Queues::new().await;
    let events: Vec<QueuedEvent> = (0..4).map(|i| event(&uuid(), &format!("00u{i}"))).collect();
    dead_letter(&q, &events).await;
    let dead_letters = q.dead_letters();
    assert_eq!(dead_letters.list(3).await.unwrap().len(), 3);
    assert!(dead_letters.list(0).await.unwrap().is_empty());
    assert_eq!(dead_letters.list(10).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_handler_naming_an_unknown_id_fails_the_whole_batch() {
    // Arrange
    let q = Queues::new().await;
    let id = uuid();
    q.queue().send(&[event(&id, "00u1aaaa")]).await.unwrap();
    let confused = Recording {
        answer_unknown_id: true,
        ..Recording::failing(&[])
    };
    let poller = q.poller();

    // Act
    assert_eq!(
        poller.poll_once(&confused, Duration::ZERO).await.unwrap(),
        1
    );
    let handler = Recording::failing(&[]);
    let n = poller.poll_once(&handler, Duration::ZERO).await.unwrap();

    // Assert: the message came back.
    assert_eq!(n, 1);
    assert_eq!(handler.seen()[0].0.receive_count, 2);
    assert_eq!(q.depth(&q.url).await, 0);
}

#[tokio::test]
async fn run_handles_messages_until_shut_down() {
    // Arrange
    let q = Queues::new().await;
    let events: Vec<QueuedEvent> = (0..5).map(|_| event(&uuid(), "00u1aaaa")).collect();
    q.queue().send(&events).await.unwrap();
    let handler = Recording::failing(&[]);
    let poller = q.poller().with_wait(Duration::from_secs(1));
    let (stop, shutdown) = watch::channel(false);

    // Act: stop once the handler has seen all five.
    let watcher = async {
        while handler.seen().len() < 5 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
    };
    let (received, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(poller.run(&handler, shutdown), watcher)
    })
    .await
    .unwrap();

    // Assert
    assert_eq!(received, 5);
    assert_eq!(
        handler.seen_uuids(),
        events.iter().map(|e| e.uuid.clone()).collect::<Vec<_>>()
    );
    assert_eq!(q.depth(&q.url).await, 0);
}

/// A stand-in for SQS that answers each `SendMessageBatch` with `answer(call number,
/// request)` and records the requests: for the refusals moto never makes (moto refuses
/// entries only for the sender's fault).
async fn scripted_sqs(
    answer: fn(usize, &serde_json::Value) -> serde_json::Value,
) -> (String, std::sync::Arc<Mutex<Vec<serde_json::Value>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(Mutex::new(Vec::new()));
    let recorded = requests.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let recorded = recorded.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    stream.read_exact(&mut body).await.unwrap();
                    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let answer = {
                        let mut recorded = recorded.lock().unwrap();
                        recorded.push(request.clone());
                        answer(recorded.len(), &request).to_string()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                         x-amzn-requestid: r-1\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    stream
                        .get_mut()
                        .write_all(response.as_bytes())
                        .await
                        .unwrap();
                }
            });
        }
    });
    (endpoint, requests)
}

/// The ids of a `SendMessageBatch` request's entries.
fn entry_ids(request: &serde_json::Value) -> Vec<String> {
    request["Entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Id"].as_str().unwrap().to_owned())
        .collect()
}

/// An answer taking every entry but those `refuse` names (id, sender's fault).
fn batch_answer(request: &serde_json::Value, refuse: &[(&str, bool)]) -> serde_json::Value {
    let ids = entry_ids(request);
    let successful: Vec<serde_json::Value> = ids
        .iter()
        .filter(|id| !refuse.iter().any(|(r, _)| r == id))
        .map(|id| {
            json!({"Id": id, "MessageId": format!("m-{id}"),
                   "MD5OfMessageBody": "00000000000000000000000000000000"})
        })
        .collect();
    let failed: Vec<serde_json::Value> = refuse
        .iter()
        .filter(|(r, _)| ids.iter().any(|id| id == r))
        .map(|(id, sender_fault)| {
            json!({"Id": id, "SenderFault": sender_fault,
                   "Code": if *sender_fault { "InvalidParameterValue" } else { "InternalError" },
                   "Message": "a message that may quote the entry"})
        })
        .collect();
    json!({"Successful": successful, "Failed": failed})
}

async fn queue_at(endpoint: &str) -> SqsEventQueue {
    let config = aws_sdk_sqs::config::Builder::from(&test_services::moto_sdk_config().await)
        .endpoint_url(endpoint)
        .build();
    SqsEventQueue::new(
        Client::from_conf(config),
        "https://sqs.us-east-1.amazonaws.com/123456789012/scimgw-events.fifo",
    )
}

#[tokio::test]
async fn a_refusal_not_the_senders_fault_is_retried_once_and_a_refused_group_is_held_back() {
    // Arrange: 11 events; SQS refuses entry 1 once (its own fault) and entry 2 for the
    // sender's fault; event 10 is in event 2's group, in the second chunk.
    let (endpoint, requests) = scripted_sqs(|call, request| match call {
        1 => batch_answer(request, &[("1", false), ("2", true)]),
        _ => batch_answer(request, &[]),
    })
    .await;
    let queue = queue_at(&endpoint).await;
    let mut events: Vec<QueuedEvent> = (0..10)
        .map(|i| event(&uuid(), &format!("00u{i}")))
        .collect();
    events.push(event(&uuid(), "00u2"));

    // Act
    let error = queue.send(&events).await.unwrap_err();

    // Assert: entry 1 sent again on its own, entry 2 not; event 10 never sent.
    assert_eq!(
        error.failed,
        vec![events[2].uuid.clone(), events[10].uuid.clone()]
    );
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        entry_ids(&requests[0]),
        (0..10).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(entry_ids(&requests[1]), vec!["1"]);
    assert_eq!(
        requests[1]["Entries"][0]["MessageDeduplicationId"],
        json!(events[1].uuid)
    );
    assert_eq!(requests[1]["Entries"][0]["MessageGroupId"], json!("00u1"));
    assert_eq!(
        error.message,
        "2 of 11 events are not on the queue: refused (InvalidParameterValue); held back \
         behind an earlier event of its group"
    );
}

#[tokio::test]
async fn a_refusal_not_the_senders_fault_is_retried_only_once() {
    let (endpoint, requests) =
        scripted_sqs(|_, request| batch_answer(request, &[("0", false)])).await;
    let queue = queue_at(&endpoint).await;
    let events = vec![event(&uuid(), "00u1"), event(&uuid(), "00u2")];

    let error = queue.send(&events).await.unwrap_err();

    assert_eq!(error.failed, vec![events[0].uuid.clone()]);
    assert_eq!(requests.lock().unwrap().len(), 2);
    assert!(
        error.message.contains("refused (InternalError)"),
        "{}",
        error.message
    );
    assert!(!error.message.contains("quote"), "{}", error.message);
}

#[tokio::test]
async fn no_batch_carries_more_than_the_size_limit() {
    // Arrange: 10 events of about 60 KB: four fit in a batch.
    let (endpoint, requests) = scripted_sqs(|_, request| batch_answer(request, &[])).await;
    let queue = queue_at(&endpoint).await;
    let events: Vec<QueuedEvent> = (0..10)
        .map(|_| {
            let mut e = event(&uuid(), "00u1aaaa");
            e.event["padding"] = json!("x".repeat(60 * 1024));
            e
        })
        .collect();

    // Act
    queue.send(&events).await.unwrap();

    // Assert: every event sent once, in order, in batches under the limit.
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    let mut sent = Vec::new();
    for request in &requests {
        let entries = request["Entries"].as_array().unwrap();
        let bytes: usize = entries
            .iter()
            .map(|e| e["MessageBody"].as_str().unwrap().len())
            .sum();
        assert!(bytes <= MAX_BATCH_BYTES, "{bytes}");
        sent.extend(entries.iter().map(|e| e["MessageDeduplicationId"].clone()));
    }
    let uuids: Vec<serde_json::Value> = events.iter().map(|e| json!(e.uuid)).collect();
    assert_eq!(sent, uuids);
}
