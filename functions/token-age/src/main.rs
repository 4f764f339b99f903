//! The `token-age` Lambda: wiring only. An EventBridge schedule invokes it; it reads when
//! the Identity Center token's current value was put (`TARGET_TOKEN_SECRET_ID`, metadata
//! only, never the value) and publishes the age in days as the EMF metric
//! `TargetTokenAgeDays`, which the template's alarm compares with `TokenMaxAgeDays`.
//!
//! A scheduled check rather than a figure the SCIM function emits as it reads the token:
//! the alarm must fire even when Okta sends nothing for weeks, and an idle gateway whose
//! token silently expires is exactly the failure to catch. When the age cannot be read
//! (no value put yet, access denied) the invocation fails and publishes nothing; the
//! alarm treats missing data as breaching, so that is an alarm too.

use std::time::SystemTime;

use aws_adapters::SecretVersionAge;
use edge::metrics::{
    DIM_FUNCTION, EmfDocument, EmfSink, StdoutSink, TARGET_TOKEN_AGE_DAYS, Unit, function_name,
};
use gateway::SecretId;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

const SECONDS_PER_DAY: f64 = 86_400.0;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let secret = std::env::var("TARGET_TOKEN_SECRET_ID")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(SecretId::new)
        .ok_or("token-age cannot start: TARGET_TOKEN_SECRET_ID is not set")?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ages = SecretVersionAge::new(aws_sdk_secretsmanager::Client::new(&aws));
    let function = function_name("token-age");

    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| {
        let (ages, secret, function) = (&ages, &secret, &function);
        async move {
            let created = ages.current_version_created(secret).await?;
            let age = SystemTime::now()
                .duration_since(created)
                .unwrap_or_default();
            let days = age.as_secs_f64() / SECONDS_PER_DAY;
            let document = EmfDocument::new()
                .with(DIM_FUNCTION, function.as_str())
                .metrics(
                    &[&[DIM_FUNCTION]],
                    &[(TARGET_TOKEN_AGE_DAYS, days, Unit::None)],
                );
            StdoutSink.write_line(&document.to_line());
            tracing::info!(secret_id = %secret, age_days = days, "target token age");
            Ok::<_, lambda_runtime::Error>(json!({ "ageDays": days }))
        }
    }))
    .await
}
