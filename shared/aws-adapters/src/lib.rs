//! AWS implementations of the gateway's ports: Secrets Manager (secrets, and the age of
//! a secret's value), KMS (the audit trail's MAC and seal keys), S3 (write-once seal
//! anchors), DynamoDB (the audit trail; in the state table, the mirror of
//! Identity Center's users and groups, the versioned rule sets and the ledger of accepted
//! Okta events, the entitlement documents and the assignments they manage), Organizations,
//! Identity Store and SSO Admin (entitlements: the OU tree, groups, permission sets and
//! account assignments) and SQS (the FIFO events queue from the hook to the worker, its
//! dead-letter queue, the queue of notes of reads of the audit trail, the entitlements
//! function's queue of group-created signals, and a poller that stands in for Lambda's SQS trigger in local runs
//! and tests). Each adapter classifies its SDK's errors into the port's error type, so no
//! SDK type crosses into the use cases.

pub mod dynamodb_audit;
pub mod dynamodb_event_ledger;
pub mod dynamodb_mirror;
pub mod dynamodb_rule_store;
pub mod entitlements_aws;
pub mod kms_audit_keys;
pub mod s3_seal_anchors;
mod sdk_error;
pub mod secret_age;
pub mod secrets_manager;
pub mod sqs_events;
pub mod sqs_group_signal;
pub mod sqs_read_notes;

pub use dynamodb_audit::{DynamoDbAuditLog, DynamoDbLedger};
pub use dynamodb_event_ledger::DynamoDbEventLedger;
pub use dynamodb_mirror::DynamoDbMirror;
pub use dynamodb_rule_store::DynamoDbRuleStore;
pub use entitlements_aws::{AwsEntitlements, DynamoDbManagedLedger, SsoAdminAssignments};
pub use kms_audit_keys::{KmsMacSigner, KmsMacVerifier, KmsSealKeys, KmsSealSigner};
pub use s3_seal_anchors::S3SealAnchors;
pub use secret_age::SecretVersionAge;
pub use secrets_manager::SecretsManagerSource;
pub use sqs_events::{SqsDeadLetterQueue, SqsEventQueue, SqsPoller};
pub use sqs_group_signal::SqsGroupSignal;
pub use sqs_read_notes::SqsReadNotes;
