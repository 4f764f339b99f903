//! `scimgw` as administrators and auditors run it: the real binary against real local
//! services (moto's DynamoDB and Secrets Manager, started by `scripts/services up`), one
//! module per command.

// Test set-up and assertions: a failed call must fail the test, loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod audit;
mod console;
mod dev_process;
mod docs_commands;
mod doctor;
mod entitlements;
mod events;
mod rules;
mod soak;
mod sync;
mod tamper;

/// The audit records in `table`, as their canonical JSON (each item's `record`).
async fn audit_records(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Vec<serde_json::Value> {
    let items = ddb.scan().table_name(table).send().await.unwrap();
    items
        .items()
        .iter()
        .filter_map(|item| match item.get("record") {
            Some(aws_sdk_dynamodb::types::AttributeValue::S(json)) => {
                serde_json::from_str(json).ok()
            }
            _ => None,
        })
        .collect()
}

/// A fresh audit table named after `prefix` and its HMAC key in moto's KMS (the records
/// an admin command writes are MACed with it): the table's name and the key's ARN.
async fn audit_table_with_key(config: &aws_config::SdkConfig, prefix: &str) -> (String, String) {
    let table = test_services::unique_name(prefix);
    aws_adapters::dynamodb_audit::create_table(&aws_sdk_dynamodb::Client::new(config), &table)
        .await
        .unwrap();
    let key = aws_adapters::kms_audit_keys::ensure_keys(&aws_sdk_kms::Client::new(config), &table)
        .await
        .unwrap()
        .mac;
    (table, key)
}
