//! The `sealer` Lambda: wiring only. Reads its configuration (`edge::audit::SealerConfig`),
//! builds the audit table's ledger with the sealer's powers (KMS `Sign` on the seal key,
//! `GetPublicKey`, `VerifyMac` for the daily verification; no MAC key power) and the S3
//! anchors, and runs each scheduled invocation's task (`sealer::run`), publishing its
//! metrics (`sealer::metrics`). A failed task fails the invocation, so Lambda's own
//! `Errors` metric counts it too.

use std::sync::Arc;

use aws_adapters::kms_audit_keys::{KmsMacVerifier, sealer_powers};
use aws_adapters::{DynamoDbAuditLog, S3SealAnchors};
use edge::audit::SealerConfig;
use edge::metrics::{EmfSink, StdoutSink, function_name};
use gateway::{Clock, SystemClock};
use lambda_runtime::{LambdaEvent, service_fn};
use sealer::{Input, metrics, run};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = SealerConfig::from_env().map_err(|e| format!("sealer cannot start: {e}"))?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let kms = aws_sdk_kms::Client::new(&aws);
    let mut powers = sealer_powers(&kms, config.seal_key_ids.clone())
        .ok_or("sealer cannot start: AUDIT_SEAL_KEY_IDS is empty")?;
    // The daily verification checks record MACs; the sealer may check them, not make them.
    powers.mac_check = Some(Arc::new(KmsMacVerifier::new(
        kms.clone(),
        config.mac_key_ids.clone(),
    )));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let retention = time::Duration::try_from(config.retention)
        .map_err(|e| format!("sealer cannot start: retention: {e}"))?;
    let store = DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
        powers,
        clock.clone(),
        retention,
    )
    .with_anchors(Arc::new(S3SealAnchors::new(
        aws_sdk_s3::Client::new(&aws),
        config.anchor_bucket.clone(),
    )));
    let function = function_name("sealer");

    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (store, clock, function) = (&store, &clock, &function);
        async move {
            let input: Input = serde_json::from_value(event.payload).unwrap_or_default();
            let outcome = run(input.task, store.ledger(), clock.now()).await;
            StdoutSink.write_line(&metrics::document(function, input.task, &outcome).to_line());
            let outcome = outcome?;
            tracing::info!(target: "scimgw::audit", outcome = ?outcome, "sealer: done");
            Ok::<_, lambda_runtime::Error>(serde_json::to_value(outcome)?)
        }
    }))
    .await
}
