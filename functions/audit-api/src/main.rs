//! The `audit-api` Lambda: wiring only. Reads the configuration, builds the audit
//! table's store, the JWKS token verifier and the reads queue's sender once per cold
//! start, and serves `edge::audit_router` through the Lambda runtime.
//!
//! The router answers at `/audit/...`, with or without an API Gateway stage in front
//! (see the `scim-api` function for the stage handling; the audit router strips a stage
//! in the same way).

use std::sync::Arc;

use aws_adapters::kms_audit_keys::verifier_powers;
use aws_adapters::{DynamoDbAuditLog, S3SealAnchors, SqsReadNotes};
use clients::jwks::{JwksVerifier, JwksVerifierConfig};
use edge::audit::{AuditConfig, ConsoleConfig};
use edge::{AuditApp, audit_router};
use gateway::SystemClock;

/// The audit API only reads; retention matters only to writers (the SCIM and event
/// functions), so any value will do here.
const UNUSED_RETENTION: time::Duration = time::Duration::days(1);

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON output comes from the function's LoggingConfig (AWS_LAMBDA_LOG_FORMAT=JSON).
    lambda_http::tracing::init_default_subscriber();

    let config = AuditConfig::from_env().map_err(|e| format!("audit-api cannot start: {e}"))?;
    let mut jwt = JwksVerifierConfig::new(
        config.jwt_issuer.clone(),
        config.jwt_audience.clone(),
        config.jwt_required_group.clone(),
    )
    .with_jwks_url(config.jwks_url.clone())
    .with_required_scope(config.jwt_required_scope.clone())
    .with_allowed_client_ids(config.jwt_allowed_client_ids.clone());
    if let Some(claim) = &config.jwt_group_claim {
        jwt = jwt.with_group_claim(claim.clone());
    }
    let verifier = JwksVerifier::new(jwt).map_err(|e| format!("audit-api cannot start: {e}"))?;

    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Verifiers hold VerifyMac and GetPublicKey: they can check the trail, never
    // extend it (docs/audit-table.md, "Who holds what").
    let store = DynamoDbAuditLog::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.table_name.clone(),
        verifier_powers(
            &aws_sdk_kms::Client::new(&aws),
            config.mac_key_ids.clone(),
            config.seal_key_ids.clone(),
        ),
        Arc::new(SystemClock),
        UNUSED_RETENTION,
    )
    .with_anchors(Arc::new(S3SealAnchors::new(
        aws_sdk_s3::Client::new(&aws),
        config.anchor_bucket.clone(),
    )));

    // Each read is noted on the reads queue, which the event-worker appends to the
    // trail: the API itself cannot write a record that verifies.
    let notes = SqsReadNotes::new(
        aws_sdk_sqs::Client::new(&aws),
        config.reads_queue_url.clone(),
    );

    // One EMF metrics line per request (edge::metrics): counts, outcomes and latency.
    // The auditor console at /audit/ui signs in against the same issuer.
    let app = AuditApp::new(Arc::new(store), Arc::new(verifier), Arc::new(notes)).with_console(
        ConsoleConfig {
            issuer: config.jwt_issuer.clone(),
            client_id: config.console_client_id.clone(),
            scope: config.jwt_required_scope.clone(),
        },
    );
    edge::lambda::run(audit_router(Arc::new(app))).await
}
