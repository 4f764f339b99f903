//! The `reconciler` Lambda: wiring only. An EventBridge schedule invokes it (the payload
//! is ignored); each run plans what would make Identity Center match Okta, reports the
//! drift as one audit record and one metrics document, and with `RECONCILE_MODE=apply`
//! applies the plan within the safety rules and the invocation's time
//! ([`reconciler::run`]). The target client, audit trail, rules and mirror are built as
//! the event worker builds them; the template's reserved concurrency of 1 keeps runs
//! from overlapping.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_adapters::{DynamoDbAuditLog, DynamoDbMirror, DynamoDbRuleStore, SecretsManagerSource};
use clients::{HttpTargetScimClient, OktaClient, OktaClientConfig, TargetClientConfig};
use edge::metrics::{StdoutSink, function_name};
use edge::{Config, ReconcileConfig};
use gateway::reconcile::Safety;
use gateway::rules::StoredRules;
use gateway::service::cause_chain;
use gateway::{ScimService, SecretId, SystemClock};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

use reconciler::run::{Reconciler, Timing};

/// Kept free at the end of each invocation for the run's record and metrics.
const MARGIN: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();

    let fail = |e: &dyn std::fmt::Display| format!("reconciler cannot start: {e}");
    let config =
        Config::worker_from_lookup(|name| std::env::var(name).ok()).map_err(|e| fail(&e))?;
    let reconcile = ReconcileConfig::from_env().map_err(|e| fail(&e))?;
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
    let counters = target.counters();
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
    let table = reconcile.state_table_name.clone();
    let rules = StoredRules::new(Arc::new(DynamoDbRuleStore::new(
        dynamodb.clone(),
        table.clone(),
        Arc::new(SystemClock),
    )));
    let mirror = DynamoDbMirror::new(dynamodb, table, Arc::new(SystemClock))
        .with_retention(time::Duration::try_from(config.mirror_retention).map_err(|e| fail(&e))?);
    let service = ScimService::new(
        Arc::new(target),
        Arc::new(rules),
        audit.clone(),
        Arc::new(SystemClock),
        config.request_budget,
    )
    .with_mirror(Arc::new(mirror));
    let okta = OktaClient::new(
        OktaClientConfig::new(
            reconcile.okta_org_url,
            SecretId::new(reconcile.okta_token_secret_id),
        ),
        secrets,
    )
    .map_err(|e| fail(&e))?;
    let reconciler = Arc::new(Reconciler {
        service: Arc::new(service),
        okta: Arc::new(okta),
        audit,
        clock: Arc::new(SystemClock),
        target_counts: Arc::new(move || counters.take()),
        sink: Arc::new(StdoutSink),
        function: function_name("reconciler"),
        mode: reconcile.mode,
        safety: Safety::default(),
        timing: Timing {
            margin: MARGIN,
            per_change: config.request_budget,
        },
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let reconciler = reconciler.clone();
        async move {
            let time_left = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            reconciler
                .run(&event.context.request_id, time_left)
                .await
                .map_err(|e| lambda_runtime::Error::from(cause_chain(&e)))
        }
    }))
    .await
}
