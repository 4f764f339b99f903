//! The `event-worker` Lambda: wiring only. Triggered by the events queue (SQS FIFO, with
//! `ReportBatchItemFailures`), it hands each batch to `gateway::events::EventWorker`,
//! which reads Okta's current state and converges Identity Center through the same
//! SCIM use cases, rules, mirror and audit trail as `scim-api`. Failed messages are
//! reported back as batch item failures, and their visibility is stretched so that each
//! retry waits longer (`gateway::events::retry_delay`); after the queue's redrive limit
//! they land in the dead-letter queue (`scimgw events dlq`). After each batch it writes
//! one EMF line with the batch's failed audit appends (`AuditAppendFailed`).
//!
//! It is also the writer of the reads queue (`gateway::audit_reads`): a batch whose
//! records come from that queue (by `eventSourceARN`) is a batch of notes of reads of the
//! audit trail, each appended as one record; those that fail go back to the queue.
//!
//! With `ENTITLEMENTS_QUEUE_URL` set (the stack's entitlements function is deployed), each
//! group an event creates is signalled on that queue (`SqsGroupSignal`).

use std::sync::Arc;

use aws_adapters::{
    DynamoDbAuditLog, DynamoDbEventLedger, DynamoDbMirror, DynamoDbRuleStore, SecretsManagerSource,
    SqsGroupSignal,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::audit::config::ReadNotesConfig;
use edge::metrics::{EmfSink, StdoutSink, audit_failures_document, function_name};
use edge::{Config, EventsConfig};
use gateway::audit_reads::{ReadNoteWriter, SenderTrust};
use gateway::events::{EventWorker, retry_delay};
use gateway::ports::events::{EventBatchHandler, ReceivedMessage};
use gateway::rules::StoredRules;
use gateway::{ScimService, SecretId, SystemClock};
use lambda_runtime::{LambdaEvent, service_fn};

/// Whether a batch came from the queue with ARN `arn` (an event source mapping hands a
/// function batches of one queue each).
fn from_queue(event: &SqsEvent, arn: &str) -> bool {
    event
        .records
        .first()
        .and_then(|r| r.event_source_arn.as_deref())
        == Some(arn)
}

/// The batch as the worker takes it, and each message's receipt handle (for the
/// backoff), from Lambda's SQS event.
fn received(event: SqsEvent) -> (Vec<ReceivedMessage>, Vec<(String, String)>) {
    let mut messages = Vec::new();
    let mut receipts = Vec::new();
    for record in event.records {
        let sender_id = record.attributes.get("SenderId").cloned();
        let message_id = record.message_id.unwrap_or_default();
        if let Some(receipt) = record.receipt_handle {
            receipts.push((message_id.clone(), receipt));
        }
        let receive_count = record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        messages.push(ReceivedMessage {
            message_id,
            body: record.body.unwrap_or_default(),
            receive_count,
            sender_id,
        });
    }
    (messages, receipts)
}

struct Handler {
    worker: EventWorker,
    reads: ReadNoteWriter,
    reads_queue_arn: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Handler {
    async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        if from_queue(&event.payload, &self.reads_queue_arn) {
            let (notes, _) = received(event.payload);
            let mut response = SqsBatchResponse::default();
            for id in self.reads.handle_batch(notes).await {
                response.add_failure(id);
            }
            return Ok(response);
        }
        let (messages, receipts) = received(event.payload);
        let counts: Vec<(String, u32)> = messages
            .iter()
            .map(|m| (m.message_id.clone(), m.receive_count))
            .collect();
        let failed = self.worker.handle_batch(messages).await;
        // The batch's failed audit appends, for the alarm on them (edge::metrics).
        let appends_failed = self.worker.take_audit_append_failures();
        StdoutSink.write_line(
            &audit_failures_document(&function_name("event-worker"), appends_failed).to_line(),
        );
        // A failed message comes back after the queue's visibility timeout unless told
        // otherwise: stretch it so that each retry waits longer. Best effort: without
        // it the message still comes back, only sooner.
        for id in &failed {
            let (Some((_, receipt)), Some((_, count))) = (
                receipts.iter().find(|(m, _)| m == id),
                counts.iter().find(|(m, _)| m == id),
            ) else {
                continue;
            };
            let delay = i32::try_from(retry_delay(*count).as_secs()).unwrap_or(900);
            if let Err(error) = self
                .sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(delay)
                .send()
                .await
            {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "a retry could not be delayed");
            }
        }
        let mut response = SqsBatchResponse::default();
        for id in failed {
            response.add_failure(id);
        }
        Ok(response)
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let fail = |e: &dyn std::fmt::Display| format!("event-worker cannot start: {e}");
    let config =
        Config::worker_from_lookup(|name| std::env::var(name).ok()).map_err(|e| fail(&e))?;
    let events = EventsConfig::from_env().map_err(|e| fail(&e))?;
    let reads = ReadNotesConfig::from_env().map_err(|e| fail(&e))?;
    let okta_org_url = events
        .okta_org_url
        .clone()
        .ok_or_else(|| fail(&"config: OKTA_ORG_URL is not set"))?;
    let okta_token = events
        .okta_token_secret_id
        .clone()
        .ok_or_else(|| fail(&"config: OKTA_TOKEN_SECRET_ID is not set"))?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.secret_cache_ttl,
    ));
    let target = HttpTargetScimClient::new(
        TargetClientConfig::new(
            config.target_base_url.clone(),
            SecretId::new(config.target_token_secret_id.clone()),
            config.target_dialect,
        ),
        secrets.clone(),
    )
    .map_err(|e| fail(&e))?;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let audit = Arc::new(DynamoDbAuditLog::new(
        dynamodb.clone(),
        config.audit_table_name.clone(),
        // Writers hold the MAC key's GenerateMac and nothing more (docs/audit-table.md).
        aws_adapters::kms_audit_keys::writer_powers(
            &aws_sdk_kms::Client::new(&aws),
            &config.audit_mac_key_id,
        ),
        Arc::new(SystemClock),
        time::Duration::try_from(config.audit_retention).map_err(|e| fail(&e))?,
    ));
    let reads_writer = ReadNoteWriter::new(
        audit.clone(),
        SenderTrust::AuditApi(reads.audit_api_role_id),
        Arc::new(SystemClock),
    );
    let table = events.state_table_name.clone();
    let rules = StoredRules::new(Arc::new(DynamoDbRuleStore::new(
        dynamodb.clone(),
        table.clone(),
        Arc::new(SystemClock),
    )));
    let mirror = DynamoDbMirror::new(dynamodb.clone(), table.clone(), Arc::new(SystemClock))
        .with_retention(time::Duration::try_from(config.mirror_retention).map_err(|e| fail(&e))?);
    let mut service = ScimService::new(
        Arc::new(target),
        Arc::new(rules),
        audit,
        Arc::new(SystemClock),
        config.request_budget,
    )
    .with_mirror(Arc::new(mirror));
    // As scim-api: groups it creates are signalled to the entitlements function, when
    // the stack deploys it (ENTITLEMENTS_QUEUE_URL); a failed signal fails no event.
    if let Some(queue) = std::env::var("ENTITLEMENTS_QUEUE_URL")
        .ok()
        .filter(|q| !q.trim().is_empty())
    {
        service = service.with_group_signal(Arc::new(SqsGroupSignal::new(
            aws_sdk_sqs::Client::new(&aws),
            queue,
        )));
    }
    let okta = OktaClient::new(
        OktaClientConfig::new(okta_org_url, SecretId::new(okta_token)),
        secrets,
    )
    .map_err(|e| fail(&e))?;
    let ledger = DynamoDbEventLedger::new(dynamodb, table, Arc::new(SystemClock))
        .with_retention(time::Duration::try_from(events.retention).map_err(|e| fail(&e))?);
    let worker = EventWorker::new(
        Arc::new(service),
        Arc::new(okta),
        Arc::new(ledger),
        events.max_receives,
    );
    let handler = Arc::new(Handler {
        worker,
        reads: reads_writer,
        reads_queue_arn: reads.queue_arn,
        sqs: aws_sdk_sqs::Client::new(&aws),
        queue_url: events.queue_url,
    });
    lambda_runtime::run(service_fn(move |event| {
        let handler = handler.clone();
        async move { handler.handle(event).await }
    }))
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn an_sqs_event_becomes_a_batch_with_receive_counts_and_receipts() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [
                {"messageId": "m1", "receiptHandle": "r1", "body": "{}",
                 "attributes": {"ApproximateReceiveCount": "3", "MessageGroupId": "00u1"},
                 "eventSource": "aws:sqs"},
                {"messageId": "m2", "body": "x", "attributes": {}}
            ]
        }))
        .unwrap();
        let (messages, receipts) = received(event);
        assert_eq!(messages[0].receive_count, 3);
        assert_eq!(messages[1].receive_count, 1);
        assert_eq!(receipts, [("m1".to_owned(), "r1".to_owned())]);
    }

    #[test]
    fn a_batch_from_the_reads_queue_is_told_apart_and_keeps_its_senders() {
        let reads = "arn:aws:sqs:us-east-1:1:scimgw-audit-reads";
        let batch = |arn: &str| -> SqsEvent {
            serde_json::from_value(serde_json::json!({
                "Records": [{"messageId": "m1", "body": "{}", "eventSourceARN": arn,
                             "attributes": {"SenderId": "AIDAEXAMPLE"}}]
            }))
            .unwrap()
        };
        assert!(from_queue(&batch(reads), reads));
        assert!(!from_queue(
            &batch("arn:aws:sqs:us-east-1:1:scimgw-events.fifo"),
            reads
        ));
        assert!(!from_queue(&SqsEvent::default(), reads));
        let (messages, _) = received(batch(reads));
        assert_eq!(messages[0].sender_id.as_deref(), Some("AIDAEXAMPLE"));
    }
}
