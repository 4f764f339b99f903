//! The reads queue on SQS: [`SqsReadNotes`] implements the gateway's [`ReadNotes`] port
//! (the audit API and `scimgw audit` send a note of each read of the audit trail; the
//! `event-worker` appends it, `gateway::audit_reads`). A standard queue: notes need no
//! order, each record carries its own time. SQS adds the sender's identity (`SenderId`)
//! to every message, which is what the record names as the actor of a read that did not
//! come through the audit API.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use gateway::audit_reads::{ReadNote, ReadNoteError, ReadNotes};

use crate::sdk_error::BoxError;
use crate::sqs_events::{DEFAULT_TIMEOUT, bounded, create_queue_pair};

/// Sends notes to the reads queue at a URL, each call bounded by a timeout.
#[derive(Clone)]
pub struct SqsReadNotes {
    client: Client,
    queue_url: String,
    timeout: Duration,
}

impl fmt::Debug for SqsReadNotes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqsReadNotes")
            .field("queue_url", &self.queue_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SqsReadNotes {
    /// Notes sent to the queue at `queue_url`, each send given
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Gives each send at most `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl ReadNotes for SqsReadNotes {
    async fn send(&self, note: &ReadNote) -> Result<(), ReadNoteError> {
        let body = serde_json::to_string(note).map_err(|e| ReadNoteError(Box::new(e)))?;
        bounded(
            self.timeout,
            "SendMessage",
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(|e| ReadNoteError(Box::new(e)))
    }
}

/// Creates (or finds) the reads queue `<name>` and its dead-letter queue `<name>-dlq`,
/// standard queues with the redrive limit `max_receives`, as the template has them. For
/// tests and `scimgw dev --aws-endpoint`; returns the queue's and the dead-letter queue's
/// URLs.
pub async fn create_read_queues(
    client: &Client,
    name: &str,
    max_receives: u32,
) -> Result<(String, String), BoxError> {
    create_queue_pair(client, name, false, max_receives).await
}
