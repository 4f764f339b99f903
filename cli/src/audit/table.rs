//! `scimgw audit --table`: the audit table read directly through
//! `aws_adapters::DynamoDbAuditLog`, with IAM credentials from the default chain. The
//! audit key, needed only to verify, is read from Secrets Manager.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use aws_adapters::{DynamoDbAuditLog, SecretsManagerSource};
use aws_config::{BehaviorVersion, Region};
use gateway::audit_store::AuditStore;
use gateway::audit_store::ledger::AuditKeySource;
use gateway::{SecretError, SecretId, SecretSource, SecretString, SystemClock};

use super::SourceArgs;

/// How long the audit key is trusted once read: one CLI run.
const KEY_CACHE_TTL: Duration = Duration::from_secs(3600);

/// Retention only matters to writers, and the CLI never writes; any value will do.
const UNUSED_RETENTION: time::Duration = time::Duration::days(1);

/// Opens the audit table `table` as an [`AuditStore`].
pub async fn open(table: &str, source: &SourceArgs) -> anyhow::Result<Box<dyn AuditStore>> {
    if table.trim().is_empty() {
        anyhow::bail!("--table: the table name is empty");
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = &source.aws_endpoint {
        reqwest::Url::parse(endpoint)
            .with_context(|| format!("--aws-endpoint {endpoint}: not a URL"))?;
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &source.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let aws = loader.load().await;
    let keys = match &source.key_secret_id {
        Some(id) => AuditKeySource::Secret {
            source: Arc::new(SecretsManagerSource::new(
                aws_sdk_secretsmanager::Client::new(&aws),
                KEY_CACHE_TTL,
            )),
            id: SecretId::new(id.clone()),
        },
        None => AuditKeySource::Secret {
            source: Arc::new(NoKey),
            id: SecretId::new("--key-secret-id"),
        },
    };
    Ok(Box::new(DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        keys,
        Arc::new(SystemClock),
        UNUSED_RETENTION,
    )))
}

/// The key source when `--key-secret-id` is not given: queries need no key, and
/// `verify` says which option is missing.
struct NoKey;

#[async_trait]
impl SecretSource for NoKey {
    async fn get(&self, id: &SecretId) -> Result<SecretString, SecretError> {
        Err(SecretError::NotFound(id.clone()))
    }
}
