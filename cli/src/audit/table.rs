//! `scimgw audit --table`: the audit table read directly through
//! `aws_adapters::DynamoDbAuditLog`, with IAM credentials from the default chain. Only
//! verifier material is used to verify (KMS `VerifyMac` on the MAC keys, the seal keys'
//! public halves, the anchors bucket); `seal` alone uses a power, the seal key's `Sign`.

use std::sync::Arc;

use anyhow::Context as _;
use aws_adapters::kms_audit_keys::{sealer_powers, verifier_powers};
use aws_adapters::{DynamoDbAuditLog, S3SealAnchors};
use aws_config::{BehaviorVersion, Region};
use gateway::SystemClock;
use gateway::audit_store::keys::AuditPowers;

use super::SourceArgs;

/// Retention only matters to writers, which the CLI is not; the sealer's seals outlive
/// their records by a margin computed from it, so `seal` takes the deployed value.
const UNUSED_RETENTION: time::Duration = time::Duration::days(400);

/// The AWS configuration for `--aws-endpoint` and `--region`.
pub async fn aws_config(
    endpoint: Option<&str>,
    region: Option<&str>,
) -> anyhow::Result<aws_config::SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(endpoint) = endpoint {
        reqwest::Url::parse(endpoint)
            .with_context(|| format!("--aws-endpoint {endpoint}: not a URL"))?;
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    Ok(loader.load().await)
}

/// Opens the audit table `table` for reading and verifying.
pub async fn open(table: &str, source: &SourceArgs) -> anyhow::Result<DynamoDbAuditLog> {
    open_with(table, source, Role::Verifier).await
}

/// Opens the audit table `table` with the sealer's power (`scimgw audit seal`).
pub async fn open_sealer(table: &str, source: &SourceArgs) -> anyhow::Result<DynamoDbAuditLog> {
    open_with(table, source, Role::Sealer).await
}

enum Role {
    Verifier,
    Sealer,
}

async fn open_with(
    table: &str,
    source: &SourceArgs,
    role: Role,
) -> anyhow::Result<DynamoDbAuditLog> {
    if table.trim().is_empty() {
        anyhow::bail!("--table: the table name is empty");
    }
    let aws = aws_config(source.aws_endpoint.as_deref(), source.region.as_deref()).await?;
    let kms = aws_sdk_kms::Client::new(&aws);
    let powers = match role {
        // Queries need no keys; verify says which option is missing.
        Role::Verifier if source.mac_key_ids.is_empty() || source.seal_key_ids.is_empty() => {
            AuditPowers::default()
        }
        Role::Verifier => verifier_powers(
            &kms,
            source.mac_key_ids.clone(),
            source.seal_key_ids.clone(),
        ),
        Role::Sealer => sealer_powers(&kms, source.seal_key_ids.clone())
            .context("seal needs --seal-key-ids (the stack's AuditSealKeyArn output)")?,
    };
    let mut store = DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table,
        powers,
        Arc::new(SystemClock),
        UNUSED_RETENTION,
    );
    if let Some(bucket) = &source.anchor_bucket {
        store = store.with_anchors(Arc::new(S3SealAnchors::new(
            aws_sdk_s3::Client::new(&aws),
            bucket.clone(),
        )));
    }
    Ok(store)
}
