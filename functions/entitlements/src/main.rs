//! The `entitlements` Lambda (deployed only with the stack's `EntitlementsMode` set to
//! `plan` or `apply`): wiring only. Its schedule, the Control Tower and Organizations
//! account events, and the SCIM function's group signals (an SQS queue) invoke it; each
//! invocation is one [`entitlements::Runner::run`]: the active entitlement document's
//! plan, applied in `apply` mode unless the breaker withholds it. The template's reserved
//! concurrency of 1 keeps runs from overlapping. Each run ends with one EMF metrics line
//! ([`metrics`]).
//!
//! | variable | required | meaning |
//! |---|---|---|
//! | `ENTITLEMENTS_MODE` | yes | `plan` (plan, record, change nothing) or `apply` |
//! | `STATE_TABLE_NAME` | yes | the entitlement documents and the managed-assignment ledger |
//! | `AUDIT_TABLE_NAME`, `AUDIT_MAC_KEY_ID` | yes | the audit trail and its MAC key |
//! | `AUDIT_RETENTION_DAYS` | no | the records' retention, default 400 |
//! | `IC_INSTANCE_ARN`, `IDENTITY_STORE_ID` | yes | the Identity Center instance and its identity store |
//! | `ENTITLEMENTS_THRESHOLD_PERCENT` | no | the breaker's threshold, default 10 |

mod metrics;

use std::sync::Arc;

use aws_adapters::entitlements_aws::{AwsEntitlements, DynamoDbManagedLedger};
use aws_adapters::{DynamoDbAuditLog, DynamoDbRuleStore};
use edge::metrics::{EmfSink as _, StdoutSink, function_name};
use entitlements::{Limits, Mode, Runner, Trigger};
use gateway::SystemClock;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// The default retention of audit records, as the other writers' (`edge::Config`).
const DEFAULT_AUDIT_RETENTION_DAYS: i64 = 400;

fn var(name: &'static str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

fn number(name: &'static str, default: i64) -> Result<i64, String> {
    match var(name) {
        Err(_) => Ok(default),
        Ok(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name}: expected a positive whole number")),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let fail = |e: String| format!("entitlements cannot start: {e}");
    let mode = var("ENTITLEMENTS_MODE").map_err(fail)?;
    let mode = Mode::parse(&mode)
        .ok_or_else(|| fail("ENTITLEMENTS_MODE: expected `plan` or `apply`".into()))?;
    let table = var("STATE_TABLE_NAME").map_err(fail)?;
    let audit_table = var("AUDIT_TABLE_NAME").map_err(fail)?;
    let mac_key = var("AUDIT_MAC_KEY_ID").map_err(fail)?;
    let retention = number("AUDIT_RETENTION_DAYS", DEFAULT_AUDIT_RETENTION_DAYS).map_err(fail)?;
    let instance_arn = var("IC_INSTANCE_ARN").map_err(fail)?;
    let identity_store_id = var("IDENTITY_STORE_ID").map_err(fail)?;
    // Off unless the stack's EntitlementsPermissionSets parameter says `manage`: the
    // role then holds the permission set actions too.
    let manage_permission_sets = match var("ENTITLEMENTS_PERMISSION_SETS").as_deref() {
        Err(_) | Ok("read-only") => false,
        Ok("manage") => true,
        Ok(_) => {
            return Err(fail(
                "ENTITLEMENTS_PERMISSION_SETS: expected `read-only` or `manage`".into(),
            )
            .into());
        }
    };
    let threshold = number(
        "ENTITLEMENTS_THRESHOLD_PERCENT",
        i64::from(gateway::reconcile::plan::DEFAULT_THRESHOLD_PERCENT),
    )
    .map_err(fail)?;

    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let audit = Arc::new(DynamoDbAuditLog::new(
        dynamodb.clone(),
        audit_table,
        // Writers hold the MAC key's GenerateMac and nothing more (docs/audit-table.md).
        aws_adapters::kms_audit_keys::writer_powers(&aws_sdk_kms::Client::new(&aws), &mac_key),
        Arc::new(SystemClock),
        time::Duration::days(retention),
    ));
    let reader = AwsEntitlements::bind(
        aws_sdk_organizations::Client::new(&aws),
        aws_sdk_identitystore::Client::new(&aws),
        aws_sdk_ssoadmin::Client::new(&aws),
        instance_arn,
        identity_store_id,
    );
    let runner = Arc::new(Runner {
        store: Arc::new(DynamoDbRuleStore::entitlements(
            dynamodb.clone(),
            table.clone(),
            Arc::new(SystemClock),
        )),
        api: Arc::new(reader.sso_admin.clone()),
        observer: Arc::new(reader),
        ledger: Arc::new(DynamoDbManagedLedger::new(dynamodb, table)),
        audit,
        clock: Arc::new(SystemClock),
        mode,
        threshold_percent: u32::try_from(threshold).unwrap_or(u32::MAX),
        limits: Limits::default(),
        manage_permission_sets,
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let runner = runner.clone();
        async move {
            let trigger = Trigger::from_event(&event.payload)?;
            // Lambda's deadline: operations stop starting well before it.
            let deadline =
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
            let report = runner
                .run_until(&event.context.request_id, trigger, Some(deadline))
                .await?;
            // One EMF line per run: EntitlementsWithheldAlarm watches the withheld plans.
            StdoutSink
                .write_line(&metrics::document(&report, &function_name("entitlements")).to_line());
            if report.succeeded() {
                Ok(serde_json::to_value(&report)?)
            } else {
                // Failed operations fail the invocation (an alarm, and a queue batch's
                // retry); the next run plans exactly what failed.
                Err(lambda_runtime::Error::from(report.summary()))
            }
        }
    }))
    .await
}
