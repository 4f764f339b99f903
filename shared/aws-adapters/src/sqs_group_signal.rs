//! The group-created signal (`gateway::ports::group_signal`) as a message on the
//! entitlements function's SQS queue: one message per group created, its body the
//! `entitlements::GroupCreated` JSON (`{"kind": "group_created", "group_id": …}`), which
//! the queue's trigger hands to the function.
//!
//! SQS keeps a message until the function has handled it, so a signal sent is not lost
//! to a busy or failing function; one that cannot be sent is the caller's to log (the
//! scheduled run assigns the group anyway). The call is bounded by a short timeout: a
//! SCIM request must not wait on it.

use std::time::Duration;

use async_trait::async_trait;
use gateway::ports::group_signal::GroupSignal;

use crate::sqs_events::bounded;

/// The longest a signal may take before it is given up (the SCIM request waits for it).
pub const SIGNAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Signals group creations to the entitlements function's queue.
#[derive(Debug, Clone)]
pub struct SqsGroupSignal {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsGroupSignal {
    /// Signals to the queue at `queue_url` (`ENTITLEMENTS_QUEUE_URL`).
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl GroupSignal for SqsGroupSignal {
    async fn group_created(&self, group_id: &str) -> Result<(), String> {
        let body = serde_json::to_string(&entitlements::GroupCreated::new(group_id))
            .map_err(|e| e.to_string())?;
        bounded(
            SIGNAL_TIMEOUT,
            "SendMessage",
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}
