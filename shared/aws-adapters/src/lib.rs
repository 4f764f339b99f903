//! AWS implementations of the gateway's ports: Secrets Manager (secrets, and the age of
//! a secret's value) and DynamoDB (the audit trail; in the state table, the mirror of
//! Identity Center's users and groups and the versioned rule sets); SQS is planned for the
//! event-hook path. Each adapter classifies its SDK's errors into the port's error type,
//! so no SDK type crosses into the use cases.

pub mod dynamodb_audit;
pub mod dynamodb_mirror;
pub mod dynamodb_rule_store;
pub mod secret_age;
pub mod secrets_manager;

pub use dynamodb_audit::{DynamoDbAuditLog, DynamoDbLedger};
pub use dynamodb_mirror::DynamoDbMirror;
pub use dynamodb_rule_store::DynamoDbRuleStore;
pub use secret_age::SecretVersionAge;
pub use secrets_manager::SecretsManagerSource;
