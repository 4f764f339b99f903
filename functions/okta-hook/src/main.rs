//! The `okta-hook` Lambda: wiring only. Serves `edge::hook_router` at `/hooks/okta`:
//! authenticates Okta's shared secret, records each event's uuid in the state table and
//! puts the event on the SQS FIFO queue, and answers once all of it is durable. It never
//! calls Okta or Identity Center (`docs/okta-events.md`).

use std::sync::Arc;

use aws_adapters::{DynamoDbEventLedger, SecretsManagerSource, SqsEventQueue};
use edge::config::DEFAULT_SECRET_CACHE_TTL;
use edge::{BearerAuthenticator, EventsConfig, HookApp, hook_router};
use gateway::SecretId;
use gateway::SystemClock;
use gateway::events::EventIntake;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::tracing::init_default_subscriber();

    let config = EventsConfig::from_env().map_err(|e| format!("okta-hook cannot start: {e}"))?;
    let hook_secret_id = config
        .hook_secret_id
        .clone()
        .ok_or("okta-hook cannot start: config: HOOK_SECRET_ID is not set")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let secrets = Arc::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        DEFAULT_SECRET_CACHE_TTL,
    ));
    let retention = time::Duration::try_from(config.retention)
        .map_err(|e| format!("okta-hook cannot start: event retention: {e}"))?;
    let ledger = DynamoDbEventLedger::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.state_table_name.clone(),
        Arc::new(SystemClock),
    )
    .with_retention(retention);
    let queue = SqsEventQueue::new(aws_sdk_sqs::Client::new(&aws), config.queue_url.clone());
    let intake = EventIntake::new(Arc::new(ledger), Arc::new(queue), Arc::new(SystemClock));
    let authenticator = BearerAuthenticator::hook_secret(secrets, SecretId::new(hook_secret_id));
    edge::lambda::run(hook_router(Arc::new(HookApp::new(intake, authenticator)))).await
}
