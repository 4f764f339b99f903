//! `scimgw dev --aws-endpoint URL`: every stateful part of the gateway against that AWS
//! endpoint (a local moto server, typically) instead of memory, as the stack has them:
//! the audit table with its KMS MAC and seal keys and its anchor bucket (Object Lock),
//! the state table (mirror and event ledger), the secrets in Secrets Manager, and the
//! events FIFO queue with its dead-letter queue, and the reads queue that takes a note
//! of every read of the audit trail. Each is created on start when missing,
//! under names that start with a prefix (`--aws-prefix`, default `scimgw-dev`), so a
//! second `dev` with the same prefix finds the first one's trail, and two prefixes keep
//! two developers (or tests) apart on one emulator.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_adapters::kms_audit_keys::{AuditKeyArns, all_powers, ensure_keys};
use aws_adapters::{
    DynamoDbAuditLog, DynamoDbEventLedger, DynamoDbMirror, S3SealAnchors, SecretsManagerSource,
    SqsEventQueue, SqsPoller, SqsReadNotes,
};
use gateway::{SecretError, SecretId, SecretSource, SecretString, SystemClock};

/// The prefix of every name when `--aws-prefix` is not given.
pub const DEFAULT_PREFIX: &str = "scimgw-dev";
/// The region when `--region` is not given.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The anchors' default Object Lock retention in the dev bucket: a day (an emulator's
/// bucket lives no longer; in AWS the template makes it the audit retention).
const ANCHOR_RETENTION_DAYS: i32 = 1;

/// How long dev caches a secret (it writes them itself, once).
const SECRET_TTL: Duration = Duration::from_secs(300);

/// The AWS side of a running `scimgw dev --aws-endpoint`.
pub struct DevAws {
    /// The endpoint.
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// The audit table: `<prefix>-audit`.
    pub audit_table: String,
    /// The state table: `<prefix>-state`.
    pub state_table: String,
    /// The seal anchors' bucket: `<prefix>-seal-anchors`.
    pub seal_bucket: String,
    /// The audit keys' ARNs (aliases `alias/<prefix>-audit-mac`, `…-audit-seal`).
    pub keys: AuditKeyArns,
    /// The events queue's URL.
    pub queue_url: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
    /// The reads queue: notes of reads of the audit trail (`gateway::audit_reads`).
    pub reads_queue_url: String,
    prefix: String,
    config: aws_config::SdkConfig,
}

/// Secrets Manager under dev's prefix: the id `dev/scim-tokens` is the secret
/// `<prefix>/dev/scim-tokens`.
pub struct PrefixedSecrets {
    inner: SecretsManagerSource,
    prefix: String,
}

impl PrefixedSecrets {
    fn id(&self, id: &SecretId) -> SecretId {
        SecretId::new(format!("{}/{id}", self.prefix))
    }
}

#[async_trait]
impl SecretSource for PrefixedSecrets {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.inner.get(&self.id(id)).await
    }

    async fn get_fresh(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        self.inner.get_fresh(&self.id(id)).await
    }
}

impl DevAws {
    /// Connects to `endpoint` and creates what is missing, named after `prefix`.
    pub async fn prepare(
        endpoint: &str,
        region: Option<&str>,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let valid = (3..=40).contains(&prefix.len())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !prefix.starts_with('-');
        if !valid {
            anyhow::bail!(
                "--aws-prefix {prefix}: expected 3 to 40 lower-case letters, digits and \
                 hyphens (it names a bucket)"
            );
        }
        let region = region.unwrap_or(DEFAULT_REGION).to_owned();
        let audit_table = format!("{prefix}-audit");
        let state_table = format!("{prefix}-state");
        let seal_bucket = format!("{prefix}-seal-anchors");
        let config = crate::audit::table::aws_config(Some(endpoint), Some(&region)).await?;
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        let existing = ddb
            .list_tables()
            .send()
            .await
            .with_context(|| format!("--aws-endpoint {endpoint}: DynamoDB did not answer"))?;
        let has = |t: &str| existing.table_names().iter().any(|n| n == t);
        if !has(&audit_table) {
            aws_adapters::dynamodb_audit::create_table(&ddb, &audit_table)
                .await
                .context("creating the audit table")?;
        }
        if !has(&state_table) {
            aws_adapters::dynamodb_mirror::create_table(&ddb, &state_table)
                .await
                .context("creating the state table")?;
        }
        let keys = ensure_keys(&aws_sdk_kms::Client::new(&config), prefix)
            .await
            .context("creating the audit keys in KMS")?;
        aws_adapters::s3_seal_anchors::create_bucket(
            &aws_sdk_s3::Client::new(&config),
            &seal_bucket,
            ANCHOR_RETENTION_DAYS,
        )
        .await
        .context("creating the seal anchors' bucket")?;
        let (queue_url, dlq_url) = aws_adapters::sqs_events::create_queues(
            &aws_sdk_sqs::Client::new(&config),
            &format!("{prefix}-events"),
            crate::dev_events::MAX_RECEIVES,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e).context("creating the events queues"))?;
        let (reads_queue_url, _) = aws_adapters::sqs_read_notes::create_read_queues(
            &aws_sdk_sqs::Client::new(&config),
            &format!("{prefix}-audit-reads"),
            crate::dev_events::MAX_RECEIVES,
        )
        .await
        .map_err(|e| anyhow::anyhow!(e).context("creating the reads queues"))?;
        Ok(Self {
            endpoint: endpoint.to_owned(),
            region,
            audit_table,
            state_table,
            seal_bucket,
            keys,
            queue_url,
            dlq_url,
            reads_queue_url,
            prefix: prefix.to_owned(),
            config,
        })
    }

    /// The audit trail with every power, through KMS: dev is the writers, the sealer
    /// and the audit API in one process. It seals as it writes, and its anchors are in
    /// the bucket.
    pub fn audit_store(&self) -> DynamoDbAuditLog {
        let powers = all_powers(&aws_sdk_kms::Client::new(&self.config), &self.keys);
        DynamoDbAuditLog::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.audit_table,
            powers,
            Arc::new(SystemClock),
            crate::dev_audit::RETENTION,
        )
        .with_anchors(Arc::new(S3SealAnchors::new(
            aws_sdk_s3::Client::new(&self.config),
            &self.seal_bucket,
        )))
    }

    /// Writes `values` into Secrets Manager as `<prefix>/<id>` (creating each secret
    /// when missing) and returns the source that reads them back by their plain ids.
    pub async fn secrets(&self, values: &[(&str, &str)]) -> anyhow::Result<PrefixedSecrets> {
        let client = aws_sdk_secretsmanager::Client::new(&self.config);
        for (id, value) in values {
            let name = format!("{}/{id}", self.prefix);
            let put = client
                .put_secret_value()
                .secret_id(&name)
                .secret_string(*value)
                .send()
                .await;
            if put.is_err() {
                client
                    .create_secret()
                    .name(&name)
                    .secret_string(*value)
                    .send()
                    .await
                    .with_context(|| format!("creating the secret {name}"))?;
            }
        }
        Ok(PrefixedSecrets {
            inner: SecretsManagerSource::new(client, SECRET_TTL),
            prefix: self.prefix.clone(),
        })
    }

    /// The mirror in the state table.
    pub fn mirror(&self) -> DynamoDbMirror {
        DynamoDbMirror::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.state_table,
            Arc::new(SystemClock),
        )
    }

    /// The active rule set of the state table, as the functions read it
    /// (`scimgw dev --stored-rules`).
    pub fn stored_rules(&self) -> Arc<dyn gateway::rules::RuleSource> {
        Arc::new(gateway::rules::StoredRules::new(Arc::new(
            aws_adapters::DynamoDbRuleStore::new(
                aws_sdk_dynamodb::Client::new(&self.config),
                &self.state_table,
                Arc::new(SystemClock),
            ),
        )))
    }

    /// The event ledger in the state table.
    pub fn event_ledger(&self) -> DynamoDbEventLedger {
        DynamoDbEventLedger::new(
            aws_sdk_dynamodb::Client::new(&self.config),
            &self.state_table,
            Arc::new(SystemClock),
        )
    }

    /// The events queue, for the hook.
    pub fn event_queue(&self) -> SqsEventQueue {
        SqsEventQueue::new(aws_sdk_sqs::Client::new(&self.config), &self.queue_url)
    }

    /// A poller of the events queue, for the worker.
    pub fn poller(&self) -> SqsPoller {
        SqsPoller::new(aws_sdk_sqs::Client::new(&self.config), &self.queue_url)
    }

    /// The reads queue's sender, for the audit API.
    pub fn read_notes(&self) -> SqsReadNotes {
        SqsReadNotes::new(
            aws_sdk_sqs::Client::new(&self.config),
            &self.reads_queue_url,
        )
    }

    /// A poller of the reads queue, for the writer that appends its notes.
    pub fn reads_poller(&self) -> SqsPoller {
        SqsPoller::new(
            aws_sdk_sqs::Client::new(&self.config),
            &self.reads_queue_url,
        )
    }
}
