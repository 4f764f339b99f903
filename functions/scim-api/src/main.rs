//! The `scim-api` Lambda: wiring only. Reads the configuration, builds the adapters once
//! per cold start, and serves `edge::scim_router` through the Lambda runtime.
//!
//! The router answers at `/scim/v2/...`. API Gateway stages are handled either way:
//! `lambda_http` prepends a named stage to the path (`/prod/scim/v2/Users`) and the
//! router strips one such leading segment; setting `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
//! (or using the `$default` stage) leaves the path as `/scim/v2/...` to begin with. Set
//! `PUBLIC_BASE_URL` when clients reach the function through a custom domain, so that
//! `Location` headers name the URL they use.
//!
//! With `STATE_TABLE_NAME` set, the mirror of Identity Center's users and groups lives in
//! the state table (`DynamoDbMirror`), shared by every instance and kept across cold
//! starts, and the active attribute-mapping rule set is read from it (`StoredRules`);
//! without it, each instance keeps its own mirror in memory and applies the identity.
//! With `ENTITLEMENTS_QUEUE_URL` set (the stack's entitlements function is deployed), each
//! group created is signalled on that queue (`SqsGroupSignal`).

use std::sync::Arc;

use aws_adapters::{
    DynamoDbAuditLog, DynamoDbMirror, DynamoDbRuleStore, SecretsManagerSource, SqsGroupSignal,
};
use clients::{HttpTargetScimClient, TargetClientConfig};
use edge::metrics::{RequestMetrics, function_name};
use edge::{BearerAuthenticator, Config, ScimApp, scim_router};
use gateway::rules::{IdentityRules, RuleSource, StoredRules};
use gateway::{ScimService, SecretId, SystemClock};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // JSON output comes from the function's LoggingConfig (AWS_LAMBDA_LOG_FORMAT=JSON).
    lambda_http::tracing::init_default_subscriber();

    let config = Config::from_env().map_err(|e| format!("scim-api cannot start: {e}"))?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        config.secret_cache_ttl,
    ));

    let target_config = TargetClientConfig::new(
        config.target_base_url.clone(),
        SecretId::new(config.target_token_secret_id.clone()),
        config.target_dialect,
    );
    let target = HttpTargetScimClient::new(target_config, secrets.clone())
        .map_err(|e| format!("scim-api cannot start: {e}"))?;
    let counters = target.counters();
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    // Every request leaves one hash-chained record in the audit table (docs/audit-table.md).
    let audit = DynamoDbAuditLog::new(
        dynamodb.clone(),
        config.audit_table_name.clone(),
        // Writers hold the MAC key's GenerateMac and nothing more (docs/audit-table.md).
        aws_adapters::kms_audit_keys::writer_powers(
            &aws_sdk_kms::Client::new(&aws),
            &config.audit_mac_key_id,
        ),
        Arc::new(SystemClock),
        time::Duration::try_from(config.audit_retention)
            .map_err(|e| format!("scim-api cannot start: audit retention: {e}"))?,
    );

    // The active rule set: the one activated in the state table (`scimgw rules apply`),
    // reloaded within 30 s of a switch; the identity without a state table.
    let rules: Arc<dyn RuleSource> = match &config.state_table_name {
        Some(table) => Arc::new(StoredRules::new(Arc::new(DynamoDbRuleStore::new(
            dynamodb.clone(),
            table.clone(),
            Arc::new(SystemClock),
        )))),
        None => Arc::new(IdentityRules::new()),
    };
    let mut service = ScimService::new(
        Arc::new(target),
        rules,
        Arc::new(audit),
        Arc::new(SystemClock),
        config.request_budget,
    );
    // What the gateway knows of Identity Center, so that a write needs no read first.
    if let Some(table) = &config.state_table_name {
        let retention = time::Duration::try_from(config.mirror_retention)
            .map_err(|e| format!("scim-api cannot start: mirror retention: {e}"))?;
        let mirror = DynamoDbMirror::new(dynamodb, table.clone(), Arc::new(SystemClock))
            .with_retention(retention);
        service = service.with_mirror(Arc::new(mirror));
    }
    // Groups it creates are signalled to the entitlements function when the stack deploys
    // it (ENTITLEMENTS_QUEUE_URL), so that their account assignments are made at once; a
    // signal that fails is logged and never fails the request (its scheduled run repairs).
    if let Some(queue) = std::env::var("ENTITLEMENTS_QUEUE_URL")
        .ok()
        .filter(|q| !q.trim().is_empty())
    {
        service = service.with_group_signal(Arc::new(SqsGroupSignal::new(
            aws_sdk_sqs::Client::new(&aws),
            queue,
        )));
    }
    let authenticator =
        BearerAuthenticator::new(secrets, SecretId::new(config.scim_tokens_secret_id.clone()));
    // One EMF metrics line per request (edge::metrics), with the target client's counts.
    let metrics = RequestMetrics::new(function_name("scim-api"))
        .with_target_counts(Arc::new(move || counters.take()));
    let app = ScimApp::new(service, authenticator)
        .with_public_base_url(config.public_base_url)
        .with_metrics(metrics);
    edge::lambda::run(scim_router(Arc::new(app))).await
}
