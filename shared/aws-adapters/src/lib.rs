//! AWS implementations of the gateway's ports: Secrets Manager (and, as they are
//! written, DynamoDB and SQS). Each adapter classifies its SDK's errors into the port's
//! error type, so no SDK type crosses into the use cases.

pub mod dynamodb_audit;
pub mod secret_age;
pub mod secrets_manager;

pub use dynamodb_audit::{DynamoDbAuditLog, DynamoDbLedger};
pub use secret_age::SecretVersionAge;
pub use secrets_manager::SecretsManagerSource;
