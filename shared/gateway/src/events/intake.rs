//! The hook's use case: record every event of a delivery durably, once, and only then
//! acknowledge it. Each event's uuid is claimed in the ledger (a duplicate delivery,
//! even under a new envelope id, stops there), the new ones go on the queue, and their
//! ledger entries move to `queued`. Okta gives the hook 3 seconds and retries at most
//! once, so the claims and the state changes run concurrently.

use std::collections::HashSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::envelope::Delivery;
use crate::Clock;
use crate::ports::events::{EventLedger, EventQueue, EventState, QueuedEvent};

/// How many ledger writes one delivery runs at once.
const CONCURRENT_WRITES: usize = 32;

/// What a delivery amounted to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeReport {
    /// Events in the delivery that the gateway acts on.
    pub received: usize,
    /// Of those, the ones put on the queue now.
    pub queued: usize,
    /// Of those, the ones already recorded (a duplicate delivery).
    pub duplicates: usize,
    /// Events acknowledged without being queued (types the gateway does not act on,
    /// or without the target they need).
    pub ignored: usize,
}

/// Why a delivery could not be recorded: answered 503, so that Okta retries it. What
/// was recorded stays recorded; the retry finds it and goes on with the rest.
#[derive(Debug, thiserror::Error)]
#[error("the delivery could not be recorded: {0}")]
pub struct IntakeError(pub String);

/// The hook's use case, built once per cold start.
pub struct EventIntake {
    ledger: Arc<dyn EventLedger>,
    queue: Arc<dyn EventQueue>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for EventIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventIntake").finish_non_exhaustive()
    }
}

impl EventIntake {
    /// The use case over its ports.
    pub fn new(
        ledger: Arc<dyn EventLedger>,
        queue: Arc<dyn EventQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            ledger,
            queue,
            clock,
        }
    }

    /// Records a delivery: answers once every event in it is on the queue (now or by an
    /// earlier delivery).
    pub async fn accept(&self, delivery: Delivery) -> Result<IntakeReport, IntakeError> {
        let mut report = IntakeReport {
            ignored: delivery.ignored.len(),
            ..IntakeReport::default()
        };
        // The same uuid twice in one delivery is one event.
        let mut seen = HashSet::new();
        let events: Vec<QueuedEvent> = delivery
            .events
            .into_iter()
            .filter(|e| seen.insert(e.uuid.clone()))
            .collect();
        report.received = events.len();
        let now = self.clock.now();
        let uuids: Vec<String> = events.iter().map(|e| e.uuid.clone()).collect();
        let claims: Vec<Option<EventState>> = stream::iter(uuids)
            .map(|uuid| {
                let ledger = self.ledger.clone();
                async move { ledger.claim(&uuid, now).await }
            })
            .buffered(CONCURRENT_WRITES)
            .try_collect()
            .await
            .map_err(|e| IntakeError(e.to_string()))?;
        let fresh: Vec<QueuedEvent> = events
            .into_iter()
            .zip(claims)
            .filter_map(|(event, claim)| match claim {
                Some(state) if state.is_past_intake() => None,
                _ => Some(event),
            })
            .collect();
        report.duplicates = report.received - fresh.len();
        if fresh.is_empty() {
            return Ok(report);
        }
        self.queue
            .send(&fresh)
            .await
            .map_err(|e| IntakeError(e.to_string()))?;
        let uuids: Vec<String> = fresh.iter().map(|e| e.uuid.clone()).collect();
        stream::iter(uuids)
            .map(|uuid| {
                let ledger = self.ledger.clone();
                async move { ledger.set_state(&uuid, EventState::Queued).await }
            })
            .buffer_unordered(CONCURRENT_WRITES)
            .try_collect::<Vec<()>>()
            .await
            .map_err(|e| IntakeError(e.to_string()))?;
        report.queued = fresh.len();
        Ok(report)
    }
}
