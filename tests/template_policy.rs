//! `template.yaml` against the code it deploys.
//!
//! **IAM.** Each function's role must grant exactly the AWS calls its code makes, on its
//! own resources only. The calls are derived at test time, not kept in a list: the
//! function's source names the `aws_adapters` types it uses; the code those types reach
//! in their adapter module (their impls, and the module's functions and types those
//! name, transitively: [`reachable_code`]) is searched for SDK calls
//! (`.get_secret_value()`, `.transact_write_items()` with its `Put`/`Update` items, …),
//! which are mapped to IAM actions, and so are the function's own SDK calls. A function
//! that an SQS queue triggers also needs what Lambda's event source mapping does with
//! its role ([`SQS_TRIGGER_ACTIONS`]). Every derived action must be granted unless
//! [`NOT_CALLED`] says, with a reason, why this function never makes it although its
//! adapter can; nothing may be granted that the code cannot call. Resources are checked
//! by what the function is told about: a function may touch only the tables, secrets
//! and queues its environment variables name (and the queue that triggers it), and only
//! its own log group. DynamoDB is checked table by table and key by key: each adapter
//! module reads its table's name from one variable and keeps its items under its own
//! partition keys in a shared table ([`ADAPTER_TABLES`]); the actions granted on a table
//! are exactly those of the adapters bound to it, and a grant limited by
//! `dynamodb:LeadingKeys` to an adapter's keys carries only that adapter's actions.
//! Writes to a table shared by several adapters are always limited to their keys. The
//! audit keys' and the anchors' actions are checked resource by resource too: each on
//! exactly what the variable its adapter reads names ([`ACTION_RESOURCES`]), so a writer
//! (`writer_powers`) gets `kms:GenerateMac` on the MAC key, a verifier
//! (`verifier_powers`) `kms:VerifyMac` on it and `kms:GetPublicKey` on the seal key, and
//! the sealer (`sealer_powers`, `KmsMacVerifier`) `kms:Sign` as well, and the anchors'
//! S3 actions on the bucket (listing) or its objects under their prefix.
//!
//! A role's grants are its inline policies and those of the `AWS::IAM::RolePolicy`,
//! `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources attached to it.
//!
//! **Fences.** Each secret's resource policy, and the audit table's, denies reading the
//! value (writing the items) to every principal but exactly the roles whose grants read
//! it (write them) and the break-glass parameter, and allows nothing; writing a secret's
//! new value is never fenced. Each audit key's policy allows the account's IAM only, and
//! denies the key's power (`kms:GenerateMac`, `kms:Sign`) to every principal but exactly
//! the roles granted it and the break-glass parameter, and disabling or deleting the key
//! to all but the break-glass roles; the anchor bucket's policy does the same for writing
//! and deleting anchors. Whatever the template grants, nobody but the writers can make a
//! MAC and nobody but the sealer a signature or an anchor
//! ([`the_audit_apis_and_the_auditors_permissions_cannot_produce_a_record_or_seal_that_verifies`]).
//! The fence rules alarm on exactly what the fences spare: reads, writes and key uses by
//! anyone but those roles, and changes to the fences; each rule's pattern fits
//! EventBridge's size quota.
//!
//! **Settings.** Every function is built with cargo-lambda from the binary its crate
//! defines, for `provided.al2023` on arm64, with JSON logs and X-Ray.
//!
//! **Metrics.** The alarms and the dashboard name only metrics that the functions emit:
//! `edge::metrics`' names, and those a function declares in its own `src/metrics.rs`
//! (every `&str` constant there, read from the source: [`own_metric_names`]); an alarm
//! on a function's own metric names that function, and the dashboard shows every metric.
//!
//! **Rollout.** Every function is published behind an alias (`AutoPublishAlias`, its own or
//! `Globals.Function`'s), which its events invoke; every function with an API route or a
//! queue trigger, and any other that has a `DeploymentPreference` (the scheduled
//! reconciler, which writes to Identity Center), shifts that alias gradually (a canary or
//! linear `DeploymentPreference`, `AllAtOnce` only by choice of a parameter) and rolls it
//! back on its own Lambda error alarm.
//!
//! **The edge.** Every route of every function, but the audit API's, is on a REST API
//! whose stage has a regional web ACL associated (written generally, so that the SCIM
//! routes and the Okta event hook's are covered alike); no function has a function URL
//! around it. The web ACL limits each source IP and, with a parameter, admits Okta's
//! ranges only. Its rate rules split the SCIM API's requests: the SCIM routes are limited
//! by one, the Okta event hook's by another with a limit at least as high (Okta sends both
//! from the same addresses and never retries a refused event delivery), and every request
//! is counted by exactly one ([`rate_rule_problems`], which evaluates the rules'
//! scope-down statements on the paths WAF sees, stage included). The audit routes are on
//! the HTTP API, behind its JWT authorizer.
//!
//! **Events.** The hook and the worker share one FIFO queue, which triggers the worker
//! with partial batch responses; its redrive limit is the worker's, its visibility
//! timeout six times the worker's timeout, and its dead-letter queue alarms.
//!
//! **Reconciliation.** The reconciler runs on its schedule, one run at a time, within
//! Lambda's 15 minutes, in the mode a parameter gives (the code's modes, reporting by
//! default), touches no queue and no event item, and its drift and refusal alarms watch
//! the metrics it emits, the drift alarm over two periods of the default schedule.
//!
//! **Sealing.** The sealer seals every 15 minutes and verifies the day before once a
//! day, one run at a time; its alarms watch every metric it emits, and its silence
//! (no sealing run for two hours, no verification for a day and more) alarms too.
//!
//! CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, `!If`, …) are parsed as
//! tagged YAML values; their long forms (`Ref:`, `Fn::GetAtt:`) are understood too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

/// Actions a function's adapters can make that the function never does, and why:
/// (function, adapter module, action, reason). An entry that no longer matches an action
/// derived from that module for that function, or that the role grants on that module's
/// items, fails the test, so this cannot rot.
const NOT_CALLED: &[(&str, &str, &str, &str)] = &[
    (
        "AuditApiFunction",
        "dynamodb_audit",
        "dynamodb:PutItem",
        "the audit API reads the trail; appending is the SCIM and event functions' job",
    ),
    (
        "AuditApiFunction",
        "dynamodb_audit",
        "dynamodb:UpdateItem",
        "read-only, as above",
    ),
    (
        "AuditApiFunction",
        "dynamodb_audit",
        "dynamodb:ConditionCheckItem",
        "read-only, as above",
    ),
    (
        "ScimApiFunction",
        "dynamodb_rule_store",
        "dynamodb:PutItem",
        "the function reads the active rule set (StoredRules); saving and activating rule \
         sets is `scimgw rules`', with an administrator's own credentials",
    ),
    (
        "EventWorkerFunction",
        "dynamodb_rule_store",
        "dynamodb:PutItem",
        "as for ScimApiFunction: the worker reads the active rule set",
    ),
    (
        "ReconcilerFunction",
        "dynamodb_rule_store",
        "dynamodb:PutItem",
        "as for ScimApiFunction: a reconcile run reads the active rule set",
    ),
    (
        "AuditApiFunction",
        "s3_seal_anchors",
        "s3:PutObject",
        "the audit API reads the anchors to verify; anchoring a seal is the sealer's",
    ),
    (
        "AuditApiFunction",
        "s3_seal_anchors",
        "s3:PutObjectRetention",
        "as above: the retention is set as the sealer puts an anchor",
    ),
    (
        "EntitlementsFunction",
        "dynamodb_rule_store",
        "dynamodb:PutItem",
        "the function reads the active entitlement document; saving and activating \
         documents is `scimgw entitlements`', with an administrator's own credentials",
    ),
    (
        "EntitlementsFunction",
        "entitlements_aws",
        "sso:ListInstances",
        "the function is told its instance and identity store (IC_INSTANCE_ARN, \
         IDENTITY_STORE_ID; AwsEntitlements::bind); finding them is the CLI's \
         (AwsEntitlements::connect), and ListInstances takes no resource-level permission",
    ),
    (
        "EventWorkerFunction",
        "dynamodb_event_ledger",
        "dynamodb:PutItem",
        "claiming an event's uuid (EventLedger::claim, the ledger's only PutItem) is the \
         hook's intake; the worker reads entries, sets their state and records failures \
         (GetItem, UpdateItem)",
    ),
];

/// SDK calls adapters make for local runs, tests and tools only, never on a deployed
/// function's path: (adapter module, action, where it is used).
const LOCAL_ONLY: &[(&str, &str, &str)] = &[
    (
        "dynamodb_audit",
        "dynamodb:CreateTable",
        "create_table: the tests and scimgw's local runs make their table",
    ),
    (
        "dynamodb_audit",
        "dynamodb:UpdateTimeToLive",
        "create_table, as above",
    ),
    (
        "dynamodb_audit",
        "dynamodb:BatchWriteItem",
        "DynamoDbLedger::bulk_load: the query benchmark's loader",
    ),
    (
        "dynamodb_mirror",
        "dynamodb:CreateTable",
        "create_table: the tests make their state table",
    ),
    (
        "s3_seal_anchors",
        "s3:CreateBucket",
        "create_bucket: the tests and `scimgw dev` make their anchor bucket",
    ),
    (
        "s3_seal_anchors",
        "s3:PutBucketObjectLockConfiguration",
        "create_bucket, as above",
    ),
    (
        "dynamodb_mirror",
        "dynamodb:UpdateTimeToLive",
        "create_table, as above",
    ),
];

/// The environment variable each DynamoDB adapter module's table is named by, in every
/// function that uses it, and the partition keys its items have in that table
/// (`dynamodb:LeadingKeys` patterns; `None`: the table is the module's alone). The
/// module's actions are due on that table, for those keys, and only there. A module
/// that makes DynamoDB calls and is missing here fails the test, and each key pattern
/// is checked against its adapter's constant
/// (`the_state_table_adapters_keep_to_their_own_keys`).
const ADAPTER_TABLES: &[(&str, &str, Option<&str>)] = &[
    ("dynamodb_audit", "AUDIT_TABLE_NAME", None),
    ("dynamodb_event_ledger", "STATE_TABLE_NAME", Some("EVENT#*")),
    ("dynamodb_mirror", "STATE_TABLE_NAME", Some("MIRROR#*")),
    ("dynamodb_rule_store", "STATE_TABLE_NAME", Some("RULES")),
    // The managed-assignment ledger and the managed permission sets (the entitlements
    // function's and the CLI's).
    (
        "entitlements_aws",
        "STATE_TABLE_NAME",
        Some("ENTITLEMENTS#*"),
    ),
];

/// The rule store's partition when a function's code opens it on entitlement documents
/// (`DynamoDbRuleStore::entitlements`) and never on rule sets: its calls are due under
/// this key instead of [`ADAPTER_TABLES`]' `RULES`.
const ENTITLEMENT_DOCUMENTS_PK: &str = "ENTITLEMENTS";

/// The environment variable naming the resource each audit-key and anchor action is on,
/// in every function whose code makes it (`edge::Config`, `edge::audit::AuditConfig` and
/// `SealerConfig` read them; the adapters use what they are given): the action is due
/// on exactly the resources that variable names, and granted nowhere else.
const ACTION_RESOURCES: &[(&str, &str)] = &[
    ("kms:GenerateMac", "AUDIT_MAC_KEY_ID"),
    ("kms:VerifyMac", "AUDIT_MAC_KEY_IDS"),
    ("kms:Sign", "AUDIT_SEAL_KEY_IDS"),
    ("kms:GetPublicKey", "AUDIT_SEAL_KEY_IDS"),
    ("s3:GetObject", "AUDIT_ANCHOR_BUCKET"),
    ("s3:ListBucket", "AUDIT_ANCHOR_BUCKET"),
    ("s3:PutObject", "AUDIT_ANCHOR_BUCKET"),
    ("s3:PutObjectRetention", "AUDIT_ANCHOR_BUCKET"),
];

/// The S3 actions on a bucket rather than its objects: granted on the bucket's ARN; the
/// others on its anchors' objects only (`<bucket>/<DEFAULT_PREFIX>*`).
const S3_BUCKET_ACTIONS: [&str; 1] = ["s3:ListBucket"];

/// What Lambda's SQS event source mapping does with the role of the function a queue
/// triggers: it receives the batches, deletes what the function handled, and reads the
/// queue's attributes (AWS's managed AWSLambdaSQSQueueExecutionRole grants the same).
const SQS_TRIGGER_ACTIONS: [&str; 3] = [
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
];

/// The adapters that send SQS messages, and the variable naming the queue each sends to
/// (in every function that uses it): a function may be granted `sqs:SendMessage` only on
/// the queues its sending adapters' variables name.
const SEND_QUEUES: &[(&str, &str)] = &[
    ("sqs_events", "EVENTS_QUEUE_URL"),
    ("sqs_read_notes", "AUDIT_READS_QUEUE_URL"),
    ("sqs_group_signal", "ENTITLEMENTS_QUEUE_URL"),
];

/// Actions every function needs from the platform rather than its code: writing its
/// own logs, and X-Ray segments (which support no resource-level permissions).
const LOG_ACTIONS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];
const TRACE_ACTIONS: [&str; 2] = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"];

/// The operations of the SDK clients the adapters use (the `operation` modules of
/// aws-sdk-dynamodb, aws-sdk-secretsmanager, aws-sdk-sqs, aws-sdk-kms, aws-sdk-s3,
/// aws-sdk-organizations, aws-sdk-ssoadmin and aws-sdk-identitystore 1.x).
const SDK_OPERATIONS: &[(&str, &str, &[&str])] = &[
    (
        "aws_sdk_dynamodb",
        "dynamodb",
        &[
            "batch_execute_statement",
            "batch_get_item",
            "batch_write_item",
            "create_backup",
            "create_global_table",
            "create_table",
            "delete_backup",
            "delete_item",
            "delete_resource_policy",
            "delete_table",
            "describe_backup",
            "describe_continuous_backups",
            "describe_contributor_insights",
            "describe_endpoints",
            "describe_export",
            "describe_global_table",
            "describe_global_table_settings",
            "describe_import",
            "describe_kinesis_streaming_destination",
            "describe_limits",
            "describe_table",
            "describe_table_replica_auto_scaling",
            "describe_time_to_live",
            "disable_kinesis_streaming_destination",
            "enable_kinesis_streaming_destination",
            "execute_statement",
            "execute_transaction",
            "export_table_to_point_in_time",
            "get_item",
            "get_resource_policy",
            "import_table",
            "list_backups",
            "list_contributor_insights",
            "list_exports",
            "list_global_tables",
            "list_imports",
            "list_tables",
            "list_tags_of_resource",
            "put_item",
            "put_resource_policy",
            "query",
            "restore_table_from_backup",
            "restore_table_to_point_in_time",
            "scan",
            "search_vectors",
            "tag_resource",
            "transact_get_items",
            "transact_write_items",
            "untag_resource",
            "update_continuous_backups",
            "update_contributor_insights",
            "update_global_table",
            "update_global_table_settings",
            "update_item",
            "update_kinesis_streaming_destination",
            "update_table",
            "update_table_replica_auto_scaling",
            "update_time_to_live",
        ],
    ),
    (
        "aws_sdk_secretsmanager",
        "secretsmanager",
        &[
            "batch_get_secret_value",
            "cancel_rotate_secret",
            "create_secret",
            "delete_resource_policy",
            "delete_secret",
            "describe_secret",
            "get_random_password",
            "get_resource_policy",
            "get_secret_value",
            "list_secret_version_ids",
            "list_secrets",
            "put_resource_policy",
            "put_secret_value",
            "remove_regions_from_replication",
            "replicate_secret_to_regions",
            "restore_secret",
            "rotate_secret",
            "stop_replication_to_replica",
            "tag_resource",
            "untag_resource",
            "update_secret",
            "update_secret_version_stage",
            "validate_resource_policy",
        ],
    ),
    (
        "aws_sdk_sqs",
        "sqs",
        &[
            "add_permission",
            "cancel_message_move_task",
            "change_message_visibility",
            "change_message_visibility_batch",
            "create_queue",
            "delete_message",
            "delete_message_batch",
            "delete_queue",
            "get_queue_attributes",
            "get_queue_url",
            "list_dead_letter_source_queues",
            "list_message_move_tasks",
            "list_queue_tags",
            "list_queues",
            "purge_queue",
            "receive_message",
            "remove_permission",
            "send_message",
            "send_message_batch",
            "set_queue_attributes",
            "start_message_move_task",
            "tag_queue",
            "untag_queue",
        ],
    ),
    (
        "aws_sdk_kms",
        "kms",
        &[
            "cancel_key_deletion",
            "connect_custom_key_store",
            "create_alias",
            "create_custom_key_store",
            "create_grant",
            "create_key",
            "decapsulate",
            "decrypt",
            "delete_alias",
            "delete_custom_key_store",
            "delete_imported_key_material",
            "derive_shared_secret",
            "describe_custom_key_stores",
            "describe_key",
            "disable_key",
            "disable_key_rotation",
            "disconnect_custom_key_store",
            "enable_key",
            "enable_key_rotation",
            "encapsulate",
            "encrypt",
            "generate_data_key",
            "generate_data_key_pair",
            "generate_data_key_pair_without_plaintext",
            "generate_data_key_without_plaintext",
            "generate_mac",
            "generate_random",
            "get_key_last_usage",
            "get_key_policy",
            "get_key_rotation_status",
            "get_parameters_for_import",
            "get_public_key",
            "import_key_material",
            "list_aliases",
            "list_grants",
            "list_key_policies",
            "list_key_rotations",
            "list_keys",
            "list_resource_tags",
            "list_retirable_grants",
            "put_key_policy",
            "re_encrypt",
            "replicate_key",
            "retire_grant",
            "revoke_grant",
            "rotate_key_on_demand",
            "schedule_key_deletion",
            "sign",
            "tag_resource",
            "untag_resource",
            "update_alias",
            "update_custom_key_store",
            "update_key_description",
            "update_primary_region",
            "verify",
            "verify_mac",
        ],
    ),
    (
        "aws_sdk_s3",
        "s3",
        &[
            "abort_multipart_upload",
            "complete_multipart_upload",
            "copy_object",
            "create_bucket",
            "create_bucket_metadata_configuration",
            "create_bucket_metadata_table_configuration",
            "create_multipart_upload",
            "create_session",
            "delete_bucket",
            "delete_bucket_analytics_configuration",
            "delete_bucket_cors",
            "delete_bucket_encryption",
            "delete_bucket_intelligent_tiering_configuration",
            "delete_bucket_inventory_configuration",
            "delete_bucket_lifecycle",
            "delete_bucket_metadata_configuration",
            "delete_bucket_metadata_table_configuration",
            "delete_bucket_metrics_configuration",
            "delete_bucket_ownership_controls",
            "delete_bucket_policy",
            "delete_bucket_replication",
            "delete_bucket_tagging",
            "delete_bucket_website",
            "delete_object",
            "delete_object_annotation",
            "delete_object_tagging",
            "delete_objects",
            "delete_public_access_block",
            "get_bucket_abac",
            "get_bucket_accelerate_configuration",
            "get_bucket_acl",
            "get_bucket_analytics_configuration",
            "get_bucket_cors",
            "get_bucket_encryption",
            "get_bucket_intelligent_tiering_configuration",
            "get_bucket_inventory_configuration",
            "get_bucket_lifecycle_configuration",
            "get_bucket_location",
            "get_bucket_logging",
            "get_bucket_metadata_configuration",
            "get_bucket_metadata_table_configuration",
            "get_bucket_metrics_configuration",
            "get_bucket_notification_configuration",
            "get_bucket_ownership_controls",
            "get_bucket_policy",
            "get_bucket_policy_status",
            "get_bucket_replication",
            "get_bucket_request_payment",
            "get_bucket_tagging",
            "get_bucket_versioning",
            "get_bucket_website",
            "get_object",
            "get_object_acl",
            "get_object_annotation",
            "get_object_attributes",
            "get_object_legal_hold",
            "get_object_lock_configuration",
            "get_object_retention",
            "get_object_tagging",
            "get_object_torrent",
            "get_public_access_block",
            "head_bucket",
            "head_object",
            "list_bucket_analytics_configurations",
            "list_bucket_intelligent_tiering_configurations",
            "list_bucket_inventory_configurations",
            "list_bucket_metrics_configurations",
            "list_buckets",
            "list_directory_buckets",
            "list_multipart_uploads",
            "list_object_annotations",
            "list_object_versions",
            "list_objects",
            "list_objects_v2",
            "list_parts",
            "put_bucket_abac",
            "put_bucket_accelerate_configuration",
            "put_bucket_acl",
            "put_bucket_analytics_configuration",
            "put_bucket_cors",
            "put_bucket_encryption",
            "put_bucket_intelligent_tiering_configuration",
            "put_bucket_inventory_configuration",
            "put_bucket_lifecycle_configuration",
            "put_bucket_logging",
            "put_bucket_metrics_configuration",
            "put_bucket_notification_configuration",
            "put_bucket_ownership_controls",
            "put_bucket_policy",
            "put_bucket_replication",
            "put_bucket_request_payment",
            "put_bucket_tagging",
            "put_bucket_versioning",
            "put_bucket_website",
            "put_object",
            "put_object_acl",
            "put_object_annotation",
            "put_object_legal_hold",
            "put_object_lock_configuration",
            "put_object_retention",
            "put_object_tagging",
            "put_public_access_block",
            "rename_object",
            "restore_object",
            "select_object_content",
            "update_bucket_metadata_annotation_table_configuration",
            "update_bucket_metadata_inventory_table_configuration",
            "update_bucket_metadata_journal_table_configuration",
            "update_object_encryption",
            "upload_part",
            "upload_part_copy",
            "write_get_object_response",
        ],
    ),
    (
        "aws_sdk_organizations",
        "organizations",
        &[
            "accept_handshake",
            "attach_policy",
            "cancel_handshake",
            "close_account",
            "create_account",
            "create_gov_cloud_account",
            "create_organization",
            "create_organizational_unit",
            "create_policy",
            "decline_handshake",
            "delete_organization",
            "delete_organizational_unit",
            "delete_policy",
            "delete_resource_policy",
            "deregister_delegated_administrator",
            "describe_account",
            "describe_create_account_status",
            "describe_effective_policy",
            "describe_handshake",
            "describe_organization",
            "describe_organizational_unit",
            "describe_policy",
            "describe_resource_policy",
            "describe_responsibility_transfer",
            "detach_policy",
            "disable_aws_service_access",
            "disable_policy_type",
            "enable_all_features",
            "enable_aws_service_access",
            "enable_policy_type",
            "invite_account_to_organization",
            "invite_organization_to_transfer_responsibility",
            "leave_organization",
            "list_accounts",
            "list_accounts_for_parent",
            "list_accounts_with_invalid_effective_policy",
            "list_aws_service_access_for_organization",
            "list_children",
            "list_create_account_status",
            "list_delegated_administrators",
            "list_delegated_services_for_account",
            "list_effective_policy_validation_errors",
            "list_handshakes_for_account",
            "list_handshakes_for_organization",
            "list_inbound_responsibility_transfers",
            "list_organizational_units_for_parent",
            "list_outbound_responsibility_transfers",
            "list_parents",
            "list_policies",
            "list_policies_for_target",
            "list_roots",
            "list_tags_for_resource",
            "list_targets_for_policy",
            "move_account",
            "put_resource_policy",
            "register_delegated_administrator",
            "remove_account_from_organization",
            "tag_resource",
            "terminate_responsibility_transfer",
            "untag_resource",
            "update_organizational_unit",
            "update_policy",
            "update_responsibility_transfer",
        ],
    ),
    (
        "aws_sdk_ssoadmin",
        "sso",
        &[
            "add_region",
            "attach_customer_managed_policy_reference_to_permission_set",
            "attach_managed_policy_to_permission_set",
            "create_account_assignment",
            "create_application",
            "create_application_assignment",
            "create_instance",
            "create_instance_access_control_attribute_configuration",
            "create_permission_set",
            "create_trusted_token_issuer",
            "delete_account_assignment",
            "delete_application",
            "delete_application_access_scope",
            "delete_application_assignment",
            "delete_application_authentication_method",
            "delete_application_grant",
            "delete_inline_policy_from_permission_set",
            "delete_instance",
            "delete_instance_access_control_attribute_configuration",
            "delete_permission_set",
            "delete_permissions_boundary_from_permission_set",
            "delete_trusted_token_issuer",
            "describe_account_assignment_creation_status",
            "describe_account_assignment_deletion_status",
            "describe_application",
            "describe_application_assignment",
            "describe_application_provider",
            "describe_instance",
            "describe_instance_access_control_attribute_configuration",
            "describe_permission_set",
            "describe_permission_set_provisioning_status",
            "describe_region",
            "describe_trusted_token_issuer",
            "detach_customer_managed_policy_reference_from_permission_set",
            "detach_managed_policy_from_permission_set",
            "get_application_access_scope",
            "get_application_assignment_configuration",
            "get_application_authentication_method",
            "get_application_grant",
            "get_application_session_configuration",
            "get_inline_policy_for_permission_set",
            "get_permissions_boundary_for_permission_set",
            "list_account_assignment_creation_status",
            "list_account_assignment_deletion_status",
            "list_account_assignments",
            "list_account_assignments_for_principal",
            "list_accounts_for_provisioned_permission_set",
            "list_application_access_scopes",
            "list_application_assignments",
            "list_application_assignments_for_principal",
            "list_application_authentication_methods",
            "list_application_grants",
            "list_application_providers",
            "list_applications",
            "list_customer_managed_policy_references_in_permission_set",
            "list_instances",
            "list_managed_policies_in_permission_set",
            "list_permission_set_provisioning_status",
            "list_permission_sets",
            "list_permission_sets_provisioned_to_account",
            "list_regions",
            "list_tags_for_resource",
            "list_trusted_token_issuers",
            "provision_permission_set",
            "put_application_access_scope",
            "put_application_assignment_configuration",
            "put_application_authentication_method",
            "put_application_grant",
            "put_application_session_configuration",
            "put_inline_policy_to_permission_set",
            "put_permissions_boundary_to_permission_set",
            "remove_region",
            "tag_resource",
            "untag_resource",
            "update_application",
            "update_instance",
            "update_instance_access_control_attribute_configuration",
            "update_permission_set",
            "update_trusted_token_issuer",
        ],
    ),
    (
        "aws_sdk_identitystore",
        "identitystore",
        &[
            "create_group",
            "create_group_membership",
            "create_user",
            "delete_group",
            "delete_group_membership",
            "delete_user",
            "describe_group",
            "describe_group_membership",
            "describe_identity_store",
            "describe_user",
            "get_group_id",
            "get_group_membership_id",
            "get_user_id",
            "is_member_in_groups",
            "list_group_memberships",
            "list_group_memberships_for_member",
            "list_groups",
            "list_identity_stores",
            "list_users",
            "update_group",
            "update_identity_store",
            "update_user",
        ],
    ),
];

/// The IAM actions of the S3 operations whose names differ from their operation's (or
/// that need more than one); an S3 operation found in code and missing here must be
/// looked up and added, not guessed.
const S3_ACTIONS: &[(&str, &[&str])] = &[
    ("create_bucket", &["s3:CreateBucket"]),
    ("delete_object", &["s3:DeleteObject"]),
    ("delete_objects", &["s3:DeleteObject"]),
    ("get_object", &["s3:GetObject"]),
    ("get_object_retention", &["s3:GetObjectRetention"]),
    ("head_bucket", &["s3:ListBucket"]),
    ("head_object", &["s3:GetObject"]),
    ("list_object_versions", &["s3:ListBucketVersions"]),
    ("list_objects", &["s3:ListBucket"]),
    ("list_objects_v2", &["s3:ListBucket"]),
    (
        "put_object_lock_configuration",
        &["s3:PutBucketObjectLockConfiguration"],
    ),
    ("put_object_retention", &["s3:PutObjectRetention"]),
];

/// Operations that two of the clients some code names both have, and whose they are
/// where they are called: (operation, the crate, why). A text search cannot tell
/// `organizations.list_tags_for_resource()` from `sso_admin.list_tags_for_resource()`;
/// an ambiguous call missing here fails the test rather than be guessed.
const SHARED_OPERATIONS: &[(&str, &str, &str)] = &[(
    "list_tags_for_resource",
    "aws_sdk_organizations",
    "entitlements_aws reads the accounts' tags (tag scopes); no code reads SSO Admin's \
     permission-set tags",
)];

// ---------------------------------------------------------------------------------------
// Reading the template and the code

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn read(path: impl AsRef<Path>) -> String {
    let path = root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn template() -> Value {
    serde_norway::from_str(&read("template.yaml")).expect("template.yaml is valid YAML")
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
}

fn resource_type<'a>(template: &'a Value, id: &str) -> Option<&'a str> {
    template["Resources"].get(id)?.get("Type")?.as_str()
}

/// A CloudFormation intrinsic in either form: `!Name value` or `{Fn::Name: value}`
/// (`Ref` has no `Fn::`).
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            Some((tag.trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next()?;
            let key = key.as_str()?;
            let name = key
                .strip_prefix("Fn::")
                .or((key == "Ref").then_some("Ref"))?;
            Some((name.to_owned(), inner))
        }
        _ => None,
    }
}

/// The logical ids (resources or parameters) a value refers to, anywhere inside it.
fn refs(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    if let Some((name, inner)) = intrinsic(value) {
        match name.as_str() {
            "Ref" => {
                if let Some(id) = inner.as_str() {
                    out.insert(id.to_owned());
                }
                return;
            }
            "GetAtt" => {
                let id = match inner {
                    Value::String(s) => s.split('.').next().map(str::to_owned),
                    Value::Sequence(parts) => {
                        parts.first().and_then(Value::as_str).map(str::to_owned)
                    }
                    _ => None,
                };
                out.extend(id);
                return;
            }
            "Sub" => {
                let (text, vars) = match inner {
                    Value::String(s) => (s.as_str(), None),
                    Value::Sequence(parts) => (
                        parts.first().and_then(Value::as_str).unwrap_or(""),
                        parts.get(1),
                    ),
                    _ => ("", None),
                };
                // A name the variables map defines is the variable, not a logical id.
                let defined = |name: &String| {
                    vars.and_then(Value::as_mapping)
                        .is_some_and(|m| m.contains_key(name.as_str()))
                };
                out.extend(sub_names(text).into_iter().filter(|n| !defined(n)));
                if let Some(vars) = vars {
                    collect_refs(vars, out);
                }
                return;
            }
            _ => {}
        }
        collect_refs(inner, out);
        return;
    }
    match value {
        Value::Sequence(items) => items.iter().for_each(|v| collect_refs(v, out)),
        Value::Mapping(map) => map.values().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The logical ids in a `!Sub` string: `${Id}` and `${Id.Attribute}`, not `${AWS::…}`
/// pseudo parameters and not `${!literal}`.
fn sub_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') && !name.contains("::") {
            names.push(name.split('.').next().unwrap_or(name).to_owned());
        }
        rest = &after[end..];
    }
    names
}

/// A list that may be written as a single value.
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// A policy statement, with the condition it is included under (`!If [Cond, stmt, NoValue]`).
struct Statement<'a> {
    value: &'a Value,
    condition: Option<String>,
}

impl Statement<'_> {
    fn actions(&self) -> Vec<String> {
        one_or_many(&self.value["Action"])
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_owned)
            .collect()
    }

    fn resources(&self) -> Vec<&Value> {
        one_or_many(&self.value["Resource"])
    }

    fn sid(&self) -> String {
        self.value["Sid"].as_str().unwrap_or("(no Sid)").to_owned()
    }
}

/// The policy documents that grant a role's permissions: its inline policies, and those
/// of the policy resources attached to it (`RoleName`, or `Roles`, naming it).
fn policy_documents<'a>(template: &'a Value, role_id: &str) -> Vec<&'a Value> {
    let role = &template["Resources"][role_id];
    let mut documents: Vec<&Value> = one_or_many(&role["Properties"]["Policies"])
        .into_iter()
        .map(|policy| &policy["PolicyDocument"])
        .collect();
    for (_, resource) in resources(template) {
        let attached = match resource["Type"].as_str() {
            Some("AWS::IAM::RolePolicy") => refs(&resource["Properties"]["RoleName"]),
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => {
                refs(&resource["Properties"]["Roles"])
            }
            _ => continue,
        };
        if attached.contains(role_id) {
            documents.push(&resource["Properties"]["PolicyDocument"]);
        }
    }
    documents
}

/// The statements of a policy document, each `!If` branch but `AWS::NoValue` its own.
fn document_statements(document: &Value) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for statement in one_or_many(&document["Statement"]) {
        match intrinsic(statement) {
            Some((name, Value::Sequence(branches))) if name == "If" => {
                let condition = branches.first().and_then(Value::as_str).map(str::to_owned);
                for branch in branches.iter().skip(1) {
                    let is_no_value = intrinsic(branch)
                        .is_some_and(|(n, v)| n == "Ref" && v.as_str() == Some("AWS::NoValue"));
                    if !is_no_value {
                        out.push(Statement {
                            value: branch,
                            condition: condition.clone(),
                        });
                    }
                }
            }
            _ => out.push(Statement {
                value: statement,
                condition: None,
            }),
        }
    }
    out
}

fn statements<'a>(template: &'a Value, role_id: &str) -> Vec<Statement<'a>> {
    policy_documents(template, role_id)
        .into_iter()
        .flat_map(document_statements)
        .collect()
}

/// A function of the template, with what the test needs to know about it.
struct Function<'a> {
    id: String,
    value: &'a Value,
    globals: &'a Value,
}

impl<'a> Function<'a> {
    /// A property, from the function or else from `Globals.Function`.
    fn property(&self, name: &str) -> &'a Value {
        match self.value["Properties"].get(name) {
            Some(v) => v,
            None => &self.globals[name],
        }
    }

    fn code_uri(&self) -> String {
        self.value["Properties"]["CodeUri"]
            .as_str()
            .expect("CodeUri is a path")
            .to_owned()
    }

    fn role_id(&self) -> String {
        let role = refs(&self.value["Properties"]["Role"]);
        assert_eq!(
            role.len(),
            1,
            "{}: Role must be !GetAtt <its own role>.Arn",
            self.id
        );
        role.into_iter().next().unwrap_or_default()
    }

    fn log_group_id(&self) -> String {
        let group = refs(&self.value["Properties"]["LoggingConfig"]["LogGroup"]);
        assert_eq!(
            group.len(),
            1,
            "{}: LoggingConfig.LogGroup must be !Ref its log group",
            self.id
        );
        group.into_iter().next().unwrap_or_default()
    }

    /// The resources its environment variables name.
    fn environment_refs(&self) -> BTreeSet<String> {
        refs(&self.value["Properties"]["Environment"])
    }

    /// The resources one environment variable names.
    fn variable_refs(&self, variable: &str) -> BTreeSet<String> {
        self.value["Properties"]["Environment"]["Variables"]
            .get(variable)
            .map(refs)
            .unwrap_or_default()
    }

    /// The queues whose SQS events trigger it (`Queue: !GetAtt <queue>.Arn`).
    fn sqs_triggers(&self) -> BTreeSet<String> {
        self.value["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter(|(_, event)| event["Type"].as_str() == Some("SQS"))
            .flat_map(|(_, event)| refs(&event["Properties"]["Queue"]))
            .collect()
    }

    /// The resources it may touch: those its environment names, and the queues that
    /// trigger it.
    fn own_resources(&self) -> BTreeSet<String> {
        let mut own = self.environment_refs();
        own.extend(self.sqs_triggers());
        own
    }

    /// Its Rust source: every file under `<CodeUri>/src`, without test modules.
    fn source(&self) -> String {
        rust_files(&root().join(self.code_uri()).join("src"))
            .iter()
            .map(std::fs::read_to_string)
            .filter_map(Result::ok)
            .map(|code| without_tests(&code).to_owned())
            .collect()
    }
}

fn functions(template: &Value) -> Vec<Function<'_>> {
    resources(template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .map(|(id, value)| Function {
            id: id.as_str().unwrap_or_default().to_owned(),
            value,
            globals: &template["Globals"]["Function"],
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its test module (by convention the last item).
fn without_tests(source: &str) -> &str {
    source
        .find("#[cfg(test)]")
        .map_or(source, |at| &source[..at])
}

fn is_word_in(word: &str, text: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

// ---------------------------------------------------------------------------------------
// Deriving the AWS calls from the code

/// The `aws_adapters` modules and the public names each exports (from its `lib.rs`).
fn adapter_modules() -> BTreeMap<String, Vec<String>> {
    let lib = read("shared/aws-adapters/src/lib.rs");
    let mut modules: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lib.lines().map(str::trim) {
        if let Some(module) = line
            .strip_prefix("pub mod ")
            .and_then(|m| m.strip_suffix(';'))
        {
            modules
                .entry(module.to_owned())
                .or_default()
                .push(module.to_owned());
        }
        if let Some(rest) = line
            .strip_prefix("pub use ")
            .and_then(|m| m.strip_suffix(';'))
        {
            let (module, names) = rest.split_once("::").unwrap_or((rest, ""));
            let names = names.trim_start_matches('{').trim_end_matches('}');
            modules.entry(module.to_owned()).or_default().extend(
                names
                    .split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty()),
            );
        }
    }
    modules
}

/// The source files of an adapter module: `<module>.rs` and anything under `<module>/`.
fn adapter_files(module: &str) -> Vec<PathBuf> {
    let dir = root().join("shared/aws-adapters/src");
    let mut files = vec![dir.join(format!("{module}.rs"))];
    files.extend(rust_files(&dir.join(module)));
    files.into_iter().filter(|f| f.exists()).collect()
}

/// The adapter modules a function's source uses.
fn modules_used(source: &str) -> BTreeSet<String> {
    adapter_modules()
        .into_iter()
        .filter(|(_, names)| names.iter().any(|n| is_word_in(n, source)))
        .map(|(module, _)| module)
        .collect()
}

/// An AWS call found in code, as the IAM actions it needs and whether it reads an index.
#[derive(Debug, Default)]
struct Calls {
    actions: BTreeSet<String>,
    uses_index: bool,
}

/// The SDK calls in some code, as IAM actions.
fn sdk_calls(code: &str) -> Calls {
    let mut calls = Calls::default();
    let named = |krate: &str| code.contains(krate);
    for (krate, prefix, operations) in SDK_OPERATIONS {
        if !named(krate) {
            continue;
        }
        for op in *operations {
            if !code.contains(&format!(".{op}()")) {
                continue;
            }
            let clients: Vec<&str> = SDK_OPERATIONS
                .iter()
                .filter(|(k, _, ops)| named(k) && ops.contains(op))
                .map(|(k, _, _)| *k)
                .collect();
            if clients.len() > 1 {
                let Some((_, owner, _)) = SHARED_OPERATIONS.iter().find(|(o, _, _)| o == op) else {
                    panic!(
                        "{op} is an operation of {clients:?}: say whose it is in SHARED_OPERATIONS"
                    )
                };
                if owner != krate {
                    continue;
                }
            }
            calls.actions.extend(iam_actions(prefix, op, code));
        }
    }
    calls.uses_index = code.contains(".index_name(");
    calls
}

/// The IAM actions one SDK operation needs. Most are the operation's name; the
/// exceptions are the DynamoDB transactions (authorized per item action), the SQS
/// batches (authorized as their single-message actions), KMS's re-encryption, and S3's
/// ([`S3_ACTIONS`]; a put that locks its object needs the lock's action too).
fn iam_actions(prefix: &str, op: &str, code: &str) -> Vec<String> {
    let action = |name: &str| format!("{prefix}:{name}");
    match (prefix, op) {
        ("dynamodb", "transact_write_items") => [
            ("Put::builder()", "PutItem"),
            ("Update::builder()", "UpdateItem"),
            ("Delete::builder()", "DeleteItem"),
            ("ConditionCheck::builder()", "ConditionCheckItem"),
        ]
        .iter()
        .filter(|(builder, _)| is_word_in(builder, code))
        .map(|(_, name)| action(name))
        .collect(),
        ("dynamodb", "transact_get_items") => vec![action("GetItem")],
        ("dynamodb", "execute_statement" | "batch_execute_statement" | "execute_transaction") => {
            panic!(
                "PartiQL ({op}) maps to dynamodb:PartiQL* actions; teach template_policy.rs which"
            )
        }
        ("sqs", op) if op.ends_with("_batch") => {
            vec![action(&pascal(op.trim_end_matches("_batch")))]
        }
        ("secretsmanager", "batch_get_secret_value") => {
            vec![action("BatchGetSecretValue"), action("GetSecretValue")]
        }
        ("kms", "re_encrypt") => vec![action("ReEncryptFrom"), action("ReEncryptTo")],
        ("s3", "put_object") => {
            let mut actions = vec![action("PutObject")];
            if code.contains(".object_lock_mode(")
                || code.contains(".object_lock_retain_until_date(")
            {
                actions.push(action("PutObjectRetention"));
            }
            if code.contains(".object_lock_legal_hold_status(") {
                actions.push(action("PutObjectLegalHold"));
            }
            actions
        }
        ("s3", op) => S3_ACTIONS
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, actions)| actions.iter().map(|a| (*a).to_owned()).collect())
            .unwrap_or_else(|| {
                panic!("S3's {op}: name its IAM actions in S3_ACTIONS (template_policy.rs)")
            }),
        _ => vec![action(&pascal(op))],
    }
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// What an adapter module's code can call on a deployed function's path: its SDK
/// calls less its local-only ones.
fn module_calls(module: &str) -> Calls {
    let mut calls = Calls::default();
    for file in adapter_files(module) {
        let code = std::fs::read_to_string(&file).unwrap_or_default();
        let found = sdk_calls(without_tests(&code));
        calls.uses_index |= found.uses_index;
        calls.actions.extend(
            found
                .actions
                .into_iter()
                .filter(|a| !is_local_only(module, a)),
        );
    }
    calls
}

fn is_local_only(module: &str, action: &str) -> bool {
    LOCAL_ONLY
        .iter()
        .any(|(m, l, _)| *m == module && *l == action)
}

/// What a function whose source is `source` can call through one adapter module: the
/// SDK calls in the code that the module's names it uses reach ([`reachable_code`]),
/// those it names by path included (`kms_audit_keys::writer_powers`, [`path_names`]),
/// or in the whole module when it names the module any other way (`use
/// aws_adapters::dynamodb_audit;` could lead anywhere in it), less the module's
/// local-only calls.
fn module_calls_for(module: &str, source: &str) -> Calls {
    let mut used: BTreeSet<String> = adapter_modules()
        .remove(module)
        .unwrap_or_default()
        .into_iter()
        .filter(|name| is_word_in(name, source))
        .collect();
    if is_word_in(module, source) {
        match path_names(module, source) {
            Some(names) => used.extend(names),
            None => return module_calls(module),
        }
    }
    let mut calls = sdk_calls(&reachable_code(module, &used));
    calls.actions.retain(|a| !is_local_only(module, a));
    calls
}

/// The names of a module's items that `source` reaches by path, `module::name` or
/// `module::{a, b}`; `None` when it names the module otherwise (`use …::module;`,
/// `module::*`, a path to a name the module does not define, such as a submodule's),
/// which could lead anywhere in it.
fn path_names(module: &str, source: &str) -> Option<BTreeSet<String>> {
    let code = blank_comments_and_literals(source);
    let defined: BTreeSet<String> = adapter_files(module)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|code| items(&blank_comments_and_literals(without_tests(&code))))
        .filter_map(|(kind, _)| match kind {
            ItemKind::Impl(name) | ItemKind::Named(name) => Some(name),
            ItemKind::Use | ItemKind::Other => None,
        })
        .collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(module) {
        let rest = &code[at + module.len()..];
        if code[..at].chars().next_back().is_some_and(is_ident)
            || rest.chars().next().is_some_and(is_ident)
        {
            continue;
        }
        let rest = rest.trim_start().strip_prefix("::")?.trim_start();
        let named: Vec<&str> = match rest.strip_prefix('{') {
            Some(list) => {
                let list = &list[..list.find('}')?];
                if list.contains('{') {
                    return None;
                }
                list.split(',')
                    .map(|n| n.split(" as ").next().unwrap_or(n).trim())
                    .filter(|n| !n.is_empty())
                    .collect()
            }
            None => vec![&rest[..rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len())]],
        };
        for name in named {
            if !defined.contains(name) {
                return None;
            }
            names.insert(name.to_owned());
        }
    }
    Some(names)
}

/// Rust code with its comments and the contents of its string and character literals
/// blanked (replaced by spaces, line breaks kept), so that braces, names and calls
/// inside them are not taken for code.
fn blank_comments_and_literals(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < chars.len() {
                let pair = (chars[i], chars.get(i + 1).copied());
                if pair == ('/', Some('*')) {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if pair == ('*', Some('/')) {
                    depth = depth.saturating_sub(1);
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            continue;
        }
        // A raw string: r"…", r#"…"#, br"…" (the `r` not the end of an identifier).
        let starts_word = |at: usize| at == 0 || !is_ident(chars[at - 1]);
        let raw_prefix = c == 'r'
            && (starts_word(i) || (chars[i - 1] == 'b' && (i < 2 || !is_ident(chars[i - 2]))));
        if raw_prefix {
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            if chars.get(i + 1 + hashes) == Some(&'"') {
                let open = 2 + hashes;
                out.extend(&chars[i..i + open]);
                i += open;
                let closes_at = |at: usize| {
                    chars[at] == '"' && (1..=hashes).all(|k| chars.get(at + k) == Some(&'#'))
                };
                while i < chars.len() && !closes_at(i) {
                    out.push(blank(chars[i]));
                    i += 1;
                }
                let close = (1 + hashes).min(chars.len() - i);
                out.extend(&chars[i..i + close]);
                i += close;
                continue;
            }
        }
        if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    out.push(' ');
                    i += 1;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            if i < chars.len() {
                out.push('"');
                i += 1;
            }
            continue;
        }
        // A character literal ('{', '\'', '\u{7d}'), not a lifetime ('a, 'static).
        if c == '\'' {
            let end = if next == Some('\\') {
                chars
                    .get(i + 3..)
                    .and_then(|rest| rest.iter().position(|&q| q == '\''))
                    .map(|p| i + 3 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            if let Some(end) = end {
                out.push('\'');
                out.extend(std::iter::repeat_n(' ', end - i - 1));
                out.push('\'');
                i = end + 1;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// What a top-level item of a Rust file is, as far as reaching code goes.
#[derive(Debug, PartialEq)]
enum ItemKind {
    /// `use …;`: always kept (the SDK crate's name is in it).
    Use,
    /// `impl … for Type` or `impl Type`: reached with its type.
    Impl(String),
    /// A named item (function, type, trait, constant, static, macro).
    Named(String),
    /// Anything else: always kept.
    Other,
}

/// The words an item starts with, after its attributes and visibility.
fn item_words(text: &str) -> Vec<&str> {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix('#') {
        let mut depth = 0usize;
        let mut end = after.len();
        for (at, c) in after.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = at + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = after[end..].trim_start();
    }
    let words: Vec<&str> = rest
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let skip = words
        .iter()
        .take_while(|w| {
            matches!(
                **w,
                "pub" | "crate" | "super" | "in" | "async" | "unsafe" | "extern" | "default"
            )
        })
        .count();
    words[skip..].to_vec()
}

/// An `impl` block's type: the last path segment after `for` (or after `impl` and its
/// generics), without its own generics.
fn impl_self_type(header: &str) -> String {
    let header = header.trim_start().trim_start_matches("impl").trim_start();
    let mut depth = 0usize;
    let mut start = 0;
    if header.starts_with('<') {
        for (at, c) in header.char_indices() {
            match c {
                '<' => depth += 1,
                '>' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        start = at + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let header = &header[start..];
    let header = header.split(" where ").next().unwrap_or(header);
    let after_for = header
        .match_indices("for")
        .filter(|(at, _)| {
            let before = header[..*at].chars().next_back();
            let after = header[at + 3..].chars().next();
            before.is_some_and(char::is_whitespace) && after.is_some_and(char::is_whitespace)
        })
        .last()
        .map_or(header, |(at, _)| &header[at + 3..]);
    let path: String = after_for
        .trim_start()
        .trim_start_matches('&')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    path.rsplit("::").next().unwrap_or_default().to_owned()
}

/// The top-level items of (blanked) Rust code: each ends at a `;` outside brackets, or
/// at the `}` that closes its body (a `const`, `static`, `use` or `type` at its `;`).
fn items(code: &str) -> Vec<(ItemKind, String)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let push = |text: &str, out: &mut Vec<(ItemKind, String)>| {
        if text.trim().is_empty() {
            return;
        }
        let words = item_words(text);
        let name = |at: usize| words.get(at).map(|w| (*w).to_owned()).unwrap_or_default();
        let kind = match words.first().copied() {
            Some("use") => ItemKind::Use,
            Some("impl") => {
                let at = text
                    .match_indices("impl")
                    .find(|(at, _)| {
                        let before = text[..*at].chars().next_back();
                        let after = text[at + 4..].chars().next();
                        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                            && after.is_some_and(|c| c.is_whitespace() || c == '<')
                    })
                    .map_or(0, |(at, _)| at);
                let header = text[at..].split('{').next().unwrap_or_default();
                ItemKind::Impl(impl_self_type(header))
            }
            Some("const") if matches!(words.get(1).copied(), Some("fn" | "unsafe" | "async")) => {
                let at = words.iter().position(|w| *w == "fn").map_or(0, |p| p + 1);
                ItemKind::Named(name(at))
            }
            Some("fn" | "struct" | "enum" | "union" | "trait" | "type" | "const" | "static") => {
                ItemKind::Named(name(1))
            }
            Some("macro_rules") => ItemKind::Named(name(1)),
            _ => ItemKind::Other,
        };
        out.push((kind, text.to_owned()));
    };
    let ends_at_semicolon = |text: &str| {
        let words = item_words(text);
        match words.first().copied() {
            Some("use" | "type" | "static") => true,
            Some("const") => !matches!(words.get(1).copied(), Some("fn" | "unsafe" | "async")),
            _ => false,
        }
    };
    for (at, c) in code.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && !ends_at_semicolon(&code[start..at]) {
                    push(&code[start..=at], &mut out);
                    start = at + 1;
                }
            }
            ';' if depth == 0 => {
                push(&code[start..=at], &mut out);
                start = at + 1;
            }
            _ => {}
        }
    }
    push(&code[start..], &mut out);
    out
}

/// Whether `text` names `name` other than as a method call or field (`.name`).
fn names(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(|c| is_ident(c) || c == '.') && !after.is_some_and(is_ident)
    })
}

/// The code of an adapter module (its test modules excepted) that the names `used`
/// reach: their definitions and `impl` blocks, then, transitively, every function,
/// type, constant or macro of the module that reached code names (a type with its
/// `impl` blocks), and the module's `use` lines and other items always. It errs on the
/// side of more code: a name is taken as used wherever it appears.
fn reachable_code(module: &str, used: &BTreeSet<String>) -> String {
    let items: Vec<(ItemKind, String)> = adapter_files(module)
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|code| items(&blank_comments_and_literals(without_tests(&code))))
        .collect();
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut reached = BTreeSet::new();
    for (index, (kind, _)) in items.iter().enumerate() {
        match kind {
            ItemKind::Impl(name) | ItemKind::Named(name) => {
                by_name.entry(name.as_str()).or_default().push(index);
            }
            ItemKind::Use | ItemKind::Other => {
                reached.insert(index);
            }
        }
    }
    let mut todo: Vec<&str> = used.iter().map(String::as_str).collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        for &index in by_name.get(name).into_iter().flatten() {
            if reached.insert(index) {
                let text = &items[index].1;
                todo.extend(
                    by_name
                        .keys()
                        .filter(|other| !seen.contains(*other) && names(text, other)),
                );
            }
        }
    }
    reached
        .iter()
        .map(|&index| items[index].1.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether [`NOT_CALLED`] says that `function` never makes `action` through `module`.
fn is_not_called(function: &str, module: &str, action: &str) -> bool {
    NOT_CALLED
        .iter()
        .any(|(f, m, a, _)| *f == function && *m == module && *a == action)
}

/// What a function's code can call: its own SDK calls, those of the adapter code it
/// uses (less what [`NOT_CALLED`] excepts), and, when a queue triggers it, what Lambda's
/// event source mapping calls with its role.
fn derived_calls(function: &Function<'_>) -> (Calls, BTreeSet<String>) {
    let source = function.source();
    let modules = modules_used(&source);
    let mut calls = sdk_calls(&source);
    for module in &modules {
        let found = module_calls_for(module, &source);
        calls.uses_index |= found.uses_index;
        calls.actions.extend(
            found
                .actions
                .into_iter()
                .filter(|a| !is_not_called(&function.id, module, a)),
        );
    }
    if !function.sqs_triggers().is_empty() {
        calls.actions.extend(SQS_TRIGGER_ACTIONS.map(str::to_owned));
    }
    (calls, modules)
}

fn is_dynamodb(action: &str) -> bool {
    action.starts_with("dynamodb:")
}

/// Who needs an action on a table's items: the partition keys it is needed for (an
/// adapter's `LeadingKeys` pattern; `None`: any key), and what needs it.
type KeyNeed = (Option<&'static str>, String);

/// The DynamoDB actions a function's code makes on each table, and for which keys, by
/// the variable each adapter module reads its table from; problems when that cannot be
/// told.
fn dynamodb_calls_by_table(
    function: &Function<'_>,
    template: &Value,
    problems: &mut Vec<String>,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<KeyNeed>>> {
    let id = &function.id;
    let source = function.source();
    let is_table = |r: &String| resource_type(template, r) == Some("AWS::DynamoDB::Table");
    let tables: BTreeSet<String> = function
        .environment_refs()
        .into_iter()
        .filter(|r| is_table(r))
        .collect();
    let mut due: BTreeMap<String, BTreeMap<String, BTreeSet<KeyNeed>>> = BTreeMap::new();
    for module in modules_used(&source) {
        let actions: BTreeSet<String> = module_calls_for(&module, &source)
            .actions
            .into_iter()
            .filter(|a| is_dynamodb(a) && !is_not_called(id, &module, a))
            .collect();
        if actions.is_empty() {
            continue;
        }
        let Some((_, variable, keys)) = ADAPTER_TABLES.iter().find(|(m, _, _)| *m == module) else {
            problems.push(format!(
                "{module} makes DynamoDB calls; name the variable its table comes from in ADAPTER_TABLES"
            ));
            continue;
        };
        let entitlements_only = module == "dynamodb_rule_store"
            && source.contains("DynamoDbRuleStore::entitlements(")
            && !source.contains("DynamoDbRuleStore::new(");
        let keys = if entitlements_only {
            &Some(ENTITLEMENT_DOCUMENTS_PK)
        } else {
            keys
        };
        let named: BTreeSet<String> = function
            .variable_refs(variable)
            .into_iter()
            .filter(|r| is_table(r))
            .collect();
        if named.len() != 1 {
            problems.push(format!(
                "{id}: uses {module}, whose table {variable} must name (one table), not {named:?}"
            ));
        }
        for table in named {
            let on_table = due.entry(table).or_default();
            for action in &actions {
                on_table
                    .entry(action.clone())
                    .or_default()
                    .insert((*keys, module.clone()));
            }
        }
    }
    // The function's own DynamoDB calls (none today) could be on any of its tables, any key.
    let own: BTreeSet<String> = sdk_calls(&source)
        .actions
        .into_iter()
        .filter(|a| is_dynamodb(a))
        .collect();
    for table in &tables {
        let on_table = due.entry(table.clone()).or_default();
        for action in &own {
            on_table
                .entry(action.clone())
                .or_default()
                .insert((None, "its own code".to_owned()));
        }
        if on_table.is_empty() {
            problems.push(format!(
                "{id}: its environment names {table}, which none of its code uses"
            ));
        }
    }
    due
}

/// A DynamoDB statement's grant on one table: its Sid, its actions, and the partition
/// keys it is limited to (`None`: any).
type TableGrant = (String, BTreeSet<String>, Option<BTreeSet<String>>);

/// The partition keys a DynamoDB statement is limited to (its `dynamodb:LeadingKeys`
/// patterns), `None` when it is not; problems for a condition that does not limit
/// every request so.
fn leading_keys(
    statement: &Statement<'_>,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<BTreeSet<String>> {
    let condition = &statement.value["Condition"];
    let condition = condition.as_mapping()?;
    let mut keys = None;
    for (operator, tests) in condition {
        let operator = operator.as_str().unwrap_or_default();
        let Some(tests) = tests.as_mapping() else {
            problems.push(format!("{what}: an unreadable condition {operator}"));
            continue;
        };
        for (key, values) in tests {
            let key = key.as_str().unwrap_or_default();
            if key != "dynamodb:LeadingKeys" {
                problems.push(format!(
                    "{what}: condition {operator} on {key}: only dynamodb:LeadingKeys is understood here"
                ));
                continue;
            }
            // ForAnyValue, or a plain operator, lets a request through on one key of
            // several, or on none (a Scan has no leading key).
            if !matches!(
                operator,
                "ForAllValues:StringLike" | "ForAllValues:StringEquals"
            ) {
                problems.push(format!(
                    "{what}: dynamodb:LeadingKeys under {operator}; use ForAllValues:StringLike"
                ));
            }
            keys = Some(
                one_or_many(values)
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(str::to_owned)
                    .collect(),
            );
        }
    }
    keys
}

// ---------------------------------------------------------------------------------------
// The checks

#[test]
fn the_policy_test_derives_calls_from_adapter_code() {
    // Guards the derivation itself, so that a policy check cannot pass by finding nothing.
    let code = r#"
        use aws_sdk_dynamodb::types::{Put, ConditionCheck};
        client.transact_write_items().transact_items(TransactWriteItem::builder().put(Put::builder().build()).build()).send();
        client.query().index_name("time-index").send();
        other.query(&pairs);
    "#;
    let calls = sdk_calls(code);
    assert_eq!(
        calls.actions.into_iter().collect::<Vec<_>>(),
        ["dynamodb:PutItem", "dynamodb:Query"],
        "ConditionCheck is imported but never built; reqwest's .query(..) is not an SDK call"
    );
    assert!(calls.uses_index);
    assert_eq!(
        iam_actions("sqs", "send_message_batch", ""),
        ["sqs:SendMessage"]
    );
    assert_eq!(pascal("list_secret_version_ids"), "ListSecretVersionIds");
    assert!(modules_used("let s = SecretsManagerSource::new(c, ttl);").contains("secrets_manager"));
    assert!(!modules_used("let s = SecretsManagerSourceX;").contains("secrets_manager"));
    assert!(modules_used("DynamoDbMirror::new(c, t, clock)").contains("dynamodb_mirror"));

    // Every module that calls DynamoDB says where its table comes from, and every entry
    // of ADAPTER_TABLES is such a module.
    let modules = adapter_modules();
    for module in modules.keys() {
        if module_calls(module).actions.iter().any(|a| is_dynamodb(a)) {
            assert!(
                ADAPTER_TABLES.iter().any(|(m, _, _)| m == module),
                "{module} calls DynamoDB but is not in ADAPTER_TABLES"
            );
        }
    }
    for (module, _, _) in ADAPTER_TABLES {
        assert!(
            module_calls(module).actions.iter().any(|a| is_dynamodb(a)),
            "ADAPTER_TABLES lists {module}, which makes no DynamoDB call"
        );
    }
}

#[test]
fn the_policy_test_follows_each_adapter_type_to_the_code_it_reaches() {
    // Items, and the names in comments and literals that must not count.
    let code = r##"
        use aws_sdk_sqs::Client;
        /// Unlike [`Poller`], never receives; see "Poller { .. }" and '{'.
        pub struct Sender { client: Client, limit: Limits }
        struct Limits;
        const MAX: [usize; 2] = [1, 2];
        #[async_trait::async_trait]
        impl Port for Sender {
            async fn send(&self) { self.client.send_message_batch().send(); encode(MAX); }
        }
        impl<'a> fmt::Debug for Poller<'a> { fn fmt(&self) { let s = r#"}"#; } }
        impl Poller<'_> { fn run(&self) { receive(&self.client); self.encode(); } }
        fn encode(_: [usize; 2]) {}
        async fn receive(client: &Client) { client.receive_message().send(); }
    "##;
    let items = items(&blank_comments_and_literals(code));
    let kinds: Vec<&ItemKind> = items.iter().map(|(kind, _)| kind).collect();
    assert_eq!(
        kinds,
        [
            &ItemKind::Use,
            &ItemKind::Named("Sender".into()),
            &ItemKind::Named("Limits".into()),
            &ItemKind::Named("MAX".into()),
            &ItemKind::Impl("Sender".into()),
            &ItemKind::Impl("Poller".into()),
            &ItemKind::Impl("Poller".into()),
            &ItemKind::Named("encode".into()),
            &ItemKind::Named("receive".into()),
        ],
        "{items:#?}"
    );
    assert!(names("encode(MAX)", "encode") && !names("self.encode()", "encode"));

    // The real events adapter: the hook's SqsEventQueue sends, and only the CLI's and
    // local runs' types receive, delete and hold messages back.
    let reached = |names: &[&str]| -> Vec<String> {
        let used = names.iter().map(|n| (*n).to_owned()).collect();
        sdk_calls(&reachable_code("sqs_events", &used))
            .actions
            .into_iter()
            .collect()
    };
    assert_eq!(reached(&["SqsEventQueue"]), ["sqs:SendMessage"]);
    let poller = reached(&["SqsPoller"]);
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    ] {
        assert!(poller.iter().any(|a| a == action), "{poller:?}");
    }
    assert!(!poller.iter().any(|a| a == "sqs:SendMessage"), "{poller:?}");
    // Naming the module itself takes all of it; a path to one of its items takes what
    // that item reaches.
    for source in [
        "use aws_adapters::sqs_events;",
        "use aws_adapters::sqs_events::*;",
        "aws_adapters::sqs_events::not_an_item();",
    ] {
        let whole = module_calls_for("sqs_events", source);
        assert!(
            whole.actions.contains("sqs:ReceiveMessage")
                && whole.actions.contains("sqs:SendMessage"),
            "{source}: {whole:?}"
        );
    }
    let by_path = module_calls_for(
        "sqs_events",
        "let q = aws_adapters::sqs_events::SqsEventQueue::new(c, url);",
    );
    assert_eq!(
        by_path.actions.into_iter().collect::<Vec<_>>(),
        ["sqs:SendMessage"]
    );

    // The audit keys: each role's powers reach their KMS calls only (writers MAC,
    // verifiers check, the sealer signs and checks).
    let keys = |source: &str| -> Vec<String> {
        module_calls_for("kms_audit_keys", source)
            .actions
            .into_iter()
            .collect()
    };
    assert_eq!(
        keys("let p = aws_adapters::kms_audit_keys::writer_powers(&kms, &id);"),
        ["kms:GenerateMac"]
    );
    assert_eq!(
        keys("use aws_adapters::kms_audit_keys::verifier_powers;"),
        ["kms:GetPublicKey", "kms:VerifyMac"]
    );
    assert_eq!(
        keys("use aws_adapters::kms_audit_keys::{KmsMacVerifier, sealer_powers};"),
        ["kms:GetPublicKey", "kms:Sign", "kms:VerifyMac"]
    );
    // The anchors: a put with a retention needs PutObjectRetention; making the bucket
    // is local only.
    assert_eq!(
        module_calls_for("s3_seal_anchors", "S3SealAnchors::new(s3, bucket)")
            .actions
            .into_iter()
            .collect::<Vec<_>>(),
        [
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "s3:PutObjectRetention"
        ]
    );
    assert!(
        module_calls("s3_seal_anchors")
            .actions
            .iter()
            .all(|a| !a.contains("Bucket") || S3_BUCKET_ACTIONS.contains(&a.as_str()))
    );
}

#[test]
fn every_function_is_built_with_cargo_lambda_for_arm64_with_json_logs_and_tracing() {
    let template = template();
    let functions = functions(&template);
    assert!(
        functions.len() >= 3,
        "scim-api, audit-api and token-age at least"
    );
    // Every function crate is deployed, so that every main's grants are checked here
    // (the sealer's as the others').
    let deployed: BTreeSet<String> = functions.iter().map(Function::code_uri).collect();
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let dir = entry.expect("functions/ entry").path();
        if dir.join("src/main.rs").exists() {
            let code_uri = format!(
                "functions/{}",
                dir.file_name().unwrap_or_default().to_string_lossy()
            );
            assert!(
                deployed.contains(&code_uri),
                "{code_uri} is no function of template.yaml"
            );
        }
    }
    assert!(deployed.contains("functions/sealer"), "{deployed:?}");
    for function in &functions {
        let id = &function.id;
        assert_eq!(
            function.value["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{id}"
        );
        assert_eq!(
            function.property("Runtime").as_str(),
            Some("provided.al2023"),
            "{id}"
        );
        let architectures: Vec<_> = one_or_many(function.property("Architectures"))
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(architectures, ["arm64"], "{id}");
        assert_eq!(
            function.property("Tracing").as_str(),
            Some("Active"),
            "{id}"
        );
        assert_eq!(
            function.globals["LoggingConfig"]["LogFormat"].as_str(),
            Some("JSON"),
            "{id}: Globals"
        );
        assert!(
            function.value["Properties"]["LoggingConfig"]
                .get("LogFormat")
                .is_none_or(|f| f.as_str() == Some("JSON")),
            "{id}"
        );
        // The binary named in the template is the one the crate builds.
        let binary = function.value["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let manifest = read(Path::new(&function.code_uri()).join("Cargo.toml"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{id}: {binary} is not a binary of {}",
            function.code_uri()
        );
        // Its own log group, with a retention.
        let group = function.log_group_id();
        assert_eq!(
            resource_type(&template, &group),
            Some("AWS::Logs::LogGroup"),
            "{id}"
        );
        assert!(
            template["Resources"][group.as_str()]["Properties"]
                .get("RetentionInDays")
                .is_some(),
            "{id}: {group} has no retention"
        );
    }
}

#[test]
fn each_function_has_its_own_role_granting_exactly_what_its_code_calls() {
    let problems = policy_problems(&template());
    assert!(
        problems.is_empty(),
        "template.yaml's IAM policies:\n  {}",
        problems.join("\n  ")
    );
}

/// The problems the policy check finds in the template with one role's statements edited.
fn problems_after(role: &str, edit: impl FnOnce(&mut Vec<Value>)) -> Vec<String> {
    let mut template = template();
    let statements = &mut template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    match statements {
        Value::Sequence(statements) => edit(statements),
        _ => panic!("{role} has no statement list"),
    }
    policy_problems(&template)
}

#[test]
fn the_policy_check_catches_excess_missing_wildcard_and_foreign_grants() {
    let statement = |yaml: &str| -> Value { serde_norway::from_str(yaml).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));

    let excess = problems_after("AuditApiRole", |s| {
        s.push(statement(
            "{Sid: Extra, Effect: Allow, Action: [dynamodb:Scan], Resource: !GetAtt AuditTable.Arn}",
        ))
    });
    assert!(
        mentions(&excess, "grants dynamodb:Scan, which its code"),
        "{excess:?}"
    );

    let missing = problems_after("ScimApiRole", |s| {
        s.retain(|st| st["Sid"].as_str() != Some("Secrets"))
    });
    assert!(
        mentions(
            &missing,
            "calls secretsmanager:GetSecretValue, which its role does not grant"
        ),
        "{missing:?}"
    );

    let wildcard = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: Wild, Effect: Allow, Action: ['secretsmanager:*'], Resource: !Ref ScimTokensSecret}",
        ))
    });
    assert!(
        mentions(&wildcard, "wildcard action secretsmanager:*"),
        "{wildcard:?}"
    );

    let foreign = problems_after("AuditApiRole", |s| {
        s.push(statement(
            "{Sid: Foreign, Effect: Allow, Action: [dynamodb:GetItem], Resource: !GetAtt StateTable.Arn}",
        ))
    });
    assert!(mentions(&foreign, "StateTable is not a"), "{foreign:?}");

    // DynamoDB table by table: the mirror's DeleteItem granted on the audit table too,
    // or its statements on the state table gone.
    let wrong_table = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: Wrong, Effect: Allow, Action: [dynamodb:DeleteItem], Resource: !GetAtt AuditTable.Arn}",
        ))
    });
    assert!(
        mentions(
            &wrong_table,
            "grants dynamodb:DeleteItem on AuditTable, which its code never calls there"
        ),
        "{wrong_table:?}"
    );
    let no_mirror = problems_after("ScimApiRole", |s| {
        s.retain(|st| {
            !matches!(
                st["Sid"].as_str(),
                Some("StateTableMirror" | "StateTableReads")
            )
        })
    });
    assert!(
        mentions(
            &no_mirror,
            "calls dynamodb:GetItem on StateTable, which its role does not grant there"
        ),
        "{no_mirror:?}"
    );
    let merged = problems_after("ScimApiRole", |s| {
        s.retain(|st| st["Sid"].as_str() != Some("StateTableMirror"));
        s.push(statement(
            "{Sid: Merged, Effect: Allow, Action: [dynamodb:DeleteItem, dynamodb:GetItem, dynamodb:PutItem], Resource: [!GetAtt AuditTable.Arn, !GetAtt StateTable.Arn]}",
        ));
    });
    assert!(
        mentions(&merged, "grants dynamodb:DeleteItem on AuditTable"),
        "{merged:?}"
    );
    let foreign_logs = problems_after("ScimApiRole", |s| {
        s.push(statement(
            "{Sid: OtherLogs, Effect: Allow, Action: [logs:PutLogEvents], Resource: !GetAtt TokenAgeLogGroup.Arn}",
        ))
    });
    assert!(
        mentions(&foreign_logs, "on its own log group"),
        "{foreign_logs:?}"
    );
}

/// What is wrong with the template's roles, one line each (empty when all is well).
/// The resources of an SSO Admin or Identity Store statement: the function's own
/// Identity Center instance (`IC_INSTANCE_ARN`) or identity store (`IDENTITY_STORE_ID`),
/// that instance's permission sets, and the accounts and groups (which have no owner to
/// scope them by); problems for anything else, and when its own is missing.
fn identity_center_resource_problems(
    function: &Function<'_>,
    service: &str,
    resources: &[&Value],
) -> Vec<String> {
    let mut problems = Vec::new();
    let variable = if service == "sso" {
        "IC_INSTANCE_ARN"
    } else {
        "IDENTITY_STORE_ID"
    };
    let named = function.variable_refs(variable);
    if named.is_empty() {
        problems.push(format!(
            "{service} actions, but its environment sets no {variable}"
        ));
        return problems;
    }
    let mut own = false;
    for resource in resources {
        let sub = match intrinsic(resource) {
            Some((name, Value::String(text))) if name == "Sub" => Some((text.as_str(), None)),
            Some((name, Value::Sequence(parts))) if name == "Sub" => parts
                .first()
                .and_then(Value::as_str)
                .map(|t| (t, parts.get(1))),
            _ => None,
        };
        let refs_named = !refs(resource).is_empty() && refs(resource).is_subset(&named);
        let ok = match (service, sub) {
            ("sso", None) => {
                let is_ref = intrinsic(resource).is_some_and(|(n, _)| n == "Ref");
                own |= is_ref && refs_named;
                is_ref && refs_named
            }
            ("sso", Some((text, vars))) => {
                let of_own = vars.is_some_and(|v| {
                    let r = refs(v);
                    !r.is_empty() && r.is_subset(&named)
                });
                let instance = text == "arn:${AWS::Partition}:sso:::instance/${InstanceId}";
                own |= instance && of_own;
                text == "arn:${AWS::Partition}:sso:::account/*"
                    || ((instance
                        || text == "arn:${AWS::Partition}:sso:::permissionSet/${InstanceId}/*")
                        && of_own)
            }
            (_, Some((text, _))) => {
                let store = format!(
                    "arn:${{AWS::Partition}}:identitystore::${{AWS::AccountId}}:identitystore/${{{}}}",
                    named.iter().next().map(String::as_str).unwrap_or_default()
                );
                own |= text == store;
                text == store || text == "arn:${AWS::Partition}:identitystore:::group/*"
            }
            _ => false,
        };
        if !ok {
            problems.push(format!(
                "{resource:?} is not its {variable}'s, nor of its permission sets, accounts or groups"
            ));
        }
    }
    if !own {
        problems.push(format!("not on its own {variable}"));
    }
    problems
}

fn policy_problems(template: &Value) -> Vec<String> {
    let functions = functions(template);
    let mut roles_seen = BTreeSet::new();
    let mut problems = Vec::new();

    for function in &functions {
        let id = function.id.as_str();
        let role_id = function.role_id();
        assert!(
            roles_seen.insert(role_id.clone()),
            "{id}: role {role_id} is shared with another function"
        );
        let role = &template["Resources"][role_id.as_str()];
        assert_eq!(
            role["Type"].as_str(),
            Some("AWS::IAM::Role"),
            "{id}: {role_id}"
        );
        assert!(
            role["Properties"].get("ManagedPolicyArns").is_none(),
            "{id}: managed policies grant more than the code calls"
        );

        let (calls, modules) = derived_calls(function);
        let own = function.own_resources();
        let log_group = function.log_group_id();
        let mut granted = BTreeSet::new();
        // Per table: each statement's Sid, actions and the keys it is limited to.
        let mut granted_on: BTreeMap<String, Vec<TableGrant>> = BTreeMap::new();
        // The audit keys' and the anchors' actions: the resources each is granted on.
        let mut granted_bound: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // SQS: the queues each action is granted on.
        let mut queue_grants: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();

        for statement in statements(template, &role_id) {
            let sid = statement.sid();
            assert_eq!(
                statement.value["Effect"].as_str(),
                Some("Allow"),
                "{id}/{sid}"
            );
            let actions = statement.actions();
            for action in &actions {
                if action.contains('*') {
                    problems.push(format!("{id}/{sid}: wildcard action {action}"));
                }
            }
            let resources = statement.resources();
            let resource_refs: BTreeSet<String> = resources.iter().flat_map(|r| refs(r)).collect();
            let literal_star = resources.iter().any(|r| r.as_str() == Some("*"));
            let services: BTreeSet<&str> =
                actions.iter().filter_map(|a| a.split(':').next()).collect();
            assert_eq!(
                services.len(),
                1,
                "{id}/{sid}: one service per statement keeps resources checkable"
            );
            let service = services.into_iter().next().unwrap_or_default();
            let on_audit_keys = !resource_refs.is_empty()
                && resource_refs
                    .iter()
                    .all(|r| resource_type(template, r) == Some("AWS::KMS::Key"));

            match service {
                // The audit keys' powers and the anchors: each action on exactly what its
                // variable names (ACTION_RESOURCES), the anchors' by bucket or object.
                "s3" | "kms" if service == "s3" || on_audit_keys => {
                    granted.extend(actions.iter().cloned());
                    if literal_star {
                        problems.push(format!("{id}/{sid}: Resource \"*\" for {service}"));
                    }
                    if statement.value.get("Condition").is_some() {
                        problems.push(format!(
                            "{id}/{sid}: a condition here is not understood by this check"
                        ));
                    }
                    for action in &actions {
                        let Some((_, variable)) =
                            ACTION_RESOURCES.iter().find(|(a, _)| a == action)
                        else {
                            problems.push(format!(
                                "{id}/{sid}: {action} is bound to no variable in ACTION_RESOURCES"
                            ));
                            continue;
                        };
                        let named = function.variable_refs(variable);
                        for r in resource_refs.difference(&named) {
                            problems.push(format!(
                                "{id}/{sid}: grants {action} on {r}, which its {variable} does not name"
                            ));
                        }
                        granted_bound
                            .entry(action.clone())
                            .or_default()
                            .extend(resource_refs.iter().cloned());
                        if service == "s3" {
                            let on_bucket = S3_BUCKET_ACTIONS.contains(&action.as_str());
                            let want = if on_bucket {
                                String::new()
                            } else {
                                format!("/{}*", aws_adapters::s3_seal_anchors::DEFAULT_PREFIX)
                            };
                            for resource in &resources {
                                let path = s3_arn_path(resource);
                                if path.as_deref() != Some(want.as_str()) {
                                    problems.push(format!(
                                        "{id}/{sid}: {action} on a resource ending {path:?}; it must be on the \
                                         bucket's ARN{}",
                                        if on_bucket { "".to_owned() } else { format!(" followed by {want:?}") }
                                    ));
                                }
                            }
                        }
                    }
                }
                "logs" => {
                    if actions.iter().any(|a| !LOG_ACTIONS.contains(&a.as_str()))
                        || resource_refs != BTreeSet::from([log_group.clone()])
                        || literal_star
                    {
                        problems.push(format!("{id}/{sid}: logs actions must be {LOG_ACTIONS:?} on its own log group {log_group} only"));
                    }
                }
                "xray" => {
                    if actions.iter().any(|a| !TRACE_ACTIONS.contains(&a.as_str())) {
                        problems.push(format!(
                            "{id}/{sid}: only {TRACE_ACTIONS:?} may use Resource \"*\""
                        ));
                    }
                }
                "kms" => {
                    // Only with a customer-managed key, only through the services the code
                    // uses, and encrypting only for a function that writes to DynamoDB or
                    // sends to a queue.
                    let via: BTreeSet<String> = one_or_many(
                        &statement.value["Condition"]["StringEquals"]["kms:ViaService"],
                    )
                    .iter()
                    .filter_map(|v| match intrinsic(v) {
                        Some((name, inner)) if name == "Sub" => inner.as_str(),
                        _ => v.as_str(),
                    })
                    .filter_map(|service| service.split('.').next())
                    .map(str::to_owned)
                    .collect();
                    let used: BTreeSet<String> = calls
                        .actions
                        .iter()
                        .filter_map(|a| a.split(':').next())
                        .map(str::to_owned)
                        .collect();
                    let writes = calls.actions.iter().any(|a| {
                        a == "sqs:SendMessage"
                            || (a.starts_with("dynamodb:")
                                && ["Put", "Update", "Delete", "ConditionCheck", "BatchWrite"]
                                    .iter()
                                    .any(|verb| a["dynamodb:".len()..].starts_with(verb)))
                    });
                    let allowed: &[&str] = if writes {
                        &["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
                    } else {
                        &["kms:Decrypt"]
                    };
                    if statement.condition.as_deref() != Some("HasKmsKey")
                        || actions.iter().any(|a| !allowed.contains(&a.as_str()))
                        || resource_refs != BTreeSet::from(["KmsKeyArn".to_owned()])
                        || via.is_empty()
                        || !via.is_subset(&used)
                    {
                        problems.push(format!(
                            "{id}/{sid}: kms must be {allowed:?} on KmsKeyArn, under HasKmsKey, \
                             via the services its code uses ({used:?}), not {actions:?} via {via:?}"
                        ));
                    }
                }
                "dynamodb" | "secretsmanager" | "sqs" => {
                    granted.extend(actions.iter().cloned());
                    let kind = match service {
                        "dynamodb" => "AWS::DynamoDB::Table",
                        "secretsmanager" => "AWS::SecretsManager::Secret",
                        _ => "AWS::SQS::Queue",
                    };
                    if literal_star {
                        problems.push(format!("{id}/{sid}: Resource \"*\" for {service}"));
                    }
                    // Its own resources only: those its environment names (or that trigger it).
                    for r in &resource_refs {
                        if resource_type(template, r) != Some(kind) || !own.contains(r) {
                            problems.push(format!(
                                "{id}/{sid}: {r} is not a {kind} its environment names"
                            ));
                        }
                    }
                    if service == "dynamodb" {
                        // Checked table by table, and key by key, below.
                        let keys = leading_keys(&statement, &format!("{id}/{sid}"), &mut problems);
                        for r in &resource_refs {
                            granted_on.entry(r.clone()).or_default().push((
                                sid.clone(),
                                actions.iter().cloned().collect(),
                                keys.clone(),
                            ));
                        }
                    } else {
                        if statement.value.get("Condition").is_some() {
                            problems.push(format!(
                                "{id}/{sid}: a condition here is not understood by this check"
                            ));
                        }
                        if service == "sqs" {
                            // Checked queue by queue, below.
                            for action in &actions {
                                queue_grants
                                    .entry(action.clone())
                                    .or_default()
                                    .extend(resource_refs.iter().cloned());
                            }
                        } else {
                            // Every such resource it is told about is granted (the code
                            // uses what it is given).
                            for r in own
                                .iter()
                                .filter(|r| resource_type(template, r) == Some(kind))
                            {
                                if !resource_refs.contains(r) {
                                    problems.push(format!("{id}/{sid}: its environment names {r}, which the statement does not grant"));
                                }
                            }
                        }
                    }
                    let index_arns = resources.iter().filter(|r| {
                        intrinsic(r).is_some_and(|(n, v)| {
                            n == "Sub" && v.as_str().is_some_and(|s| s.ends_with("/index/*"))
                        })
                    });
                    if index_arns.count() > 0 && !calls.uses_index {
                        problems.push(format!(
                            "{id}/{sid}: grants index access its code never uses"
                        ));
                    }
                }
                // Entitlements: Organizations read-only; SSO Admin and the Identity Store on
                // the instance and identity store the function's environment names.
                "organizations" => {
                    granted.extend(actions.iter().cloned());
                    for action in &actions {
                        let name = action.trim_start_matches("organizations:");
                        if !(name.starts_with("List") || name.starts_with("Describe")) {
                            problems.push(format!(
                                "{id}/{sid}: {action} is not read-only; Organizations is read here, never changed"
                            ));
                        }
                    }
                    if statement.value.get("Condition").is_some() {
                        problems.push(format!(
                            "{id}/{sid}: a condition here is not understood by this check"
                        ));
                    }
                }
                "sso" | "identitystore" => {
                    granted.extend(actions.iter().cloned());
                    if literal_star {
                        problems.push(format!("{id}/{sid}: Resource \"*\" for {service}"));
                    }
                    if statement.value.get("Condition").is_some() {
                        problems.push(format!(
                            "{id}/{sid}: a condition here is not understood by this check"
                        ));
                    }
                    problems.extend(
                        identity_center_resource_problems(function, service, &resources)
                            .into_iter()
                            .map(|p| format!("{id}/{sid}: {p}")),
                    );
                }
                other => problems.push(format!("{id}/{sid}: unexpected service {other}")),
            }
        }

        // SQS, queue by queue: every queue it is told about is granted something; the
        // queues that trigger it, the trigger's actions; and messages are sent only to
        // the queues its sending adapters are told about.
        let granted_queues: BTreeSet<&String> = queue_grants.values().flatten().collect();
        for r in own
            .iter()
            .filter(|r| resource_type(template, r) == Some("AWS::SQS::Queue"))
        {
            if !granted_queues.contains(r) {
                problems.push(format!(
                    "{id}: its environment names {r}, which no statement grants"
                ));
            }
        }
        for queue in function.sqs_triggers() {
            for action in SQS_TRIGGER_ACTIONS {
                if !queue_grants.get(action).is_some_and(|q| q.contains(&queue)) {
                    problems.push(format!(
                        "{id}: {queue} triggers it, but its role does not grant {action} on it"
                    ));
                }
            }
        }
        let source = function.source();
        let may_send: BTreeSet<String> = SEND_QUEUES
            .iter()
            .filter(|(module, _)| {
                modules.contains(*module)
                    && module_calls_for(module, &source)
                        .actions
                        .contains("sqs:SendMessage")
            })
            .flat_map(|(_, variable)| function.variable_refs(variable))
            .collect();
        for queue in queue_grants.get("sqs:SendMessage").into_iter().flatten() {
            if !may_send.contains(queue) {
                problems.push(format!(
                    "{id}: grants sqs:SendMessage on {queue}, which no variable of its sending adapters names ({SEND_QUEUES:?})"
                ));
            }
        }

        // DynamoDB, table by table and key by key: exactly the actions of the adapters
        // bound to it, each granted for the keys that adapter's items have.
        let due_on = dynamodb_calls_by_table(function, template, &mut problems);
        let covers = |table: &str, action: &str, keys: Option<&str>| {
            granted_on
                .get(table)
                .into_iter()
                .flatten()
                .any(|(_, actions, limit)| {
                    actions.contains(action)
                        && match (limit, keys) {
                            (None, _) => true,
                            (Some(limit), Some(keys)) => limit.contains(keys),
                            (Some(_), None) => false,
                        }
                })
        };
        let tables: BTreeSet<&String> = due_on.keys().chain(granted_on.keys()).collect();
        for table in tables {
            let due = due_on.get(table).cloned().unwrap_or_default();
            for (action, needs) in &due {
                for (keys, by) in needs {
                    if !covers(table, action, *keys) {
                        let under = keys.map(|k| format!(" under {k}")).unwrap_or_default();
                        problems.push(format!(
                            "{id}: its code calls {action} on {table}, which its role does not grant there ({by}{under})"
                        ));
                    }
                }
            }
            // A table whose every use is limited to some adapters' keys (the state table)
            // is written only under those keys.
            let keyed = !due.is_empty() && due.values().flatten().all(|(keys, _)| keys.is_some());
            for (sid, actions, limit) in granted_on.get(table).into_iter().flatten() {
                for action in actions {
                    match limit {
                        None => {
                            if !due.contains_key(action) {
                                problems.push(format!(
                                    "{id}: grants {action} on {table}, which its code never calls there"
                                ));
                            }
                            if keyed && looks_like_item_write(action) {
                                problems.push(format!(
                                    "{id}/{sid}: writes ({action}) to {table} under any key; limit them with \
                                     dynamodb:LeadingKeys to the keys of the adapters that write there"
                                ));
                            }
                        }
                        Some(limit) => {
                            for keys in limit {
                                let needed = due.get(action).is_some_and(|needs| {
                                    needs.iter().any(|(k, _)| *k == Some(keys.as_str()))
                                });
                                if !needed {
                                    problems.push(format!(
                                        "{id}/{sid}: grants {action} on {table} under {keys}, which its code never calls there"
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
        // The exceptions: each still derived from its module, and not granted for it.
        let source = function.source();
        for (_, module, action, _) in NOT_CALLED.iter().filter(|(f, _, _, _)| *f == id) {
            let derived = modules.contains(*module)
                && module_calls_for(module, &source).actions.contains(*action);
            let table = ADAPTER_TABLES
                .iter()
                .find(|(m, _, _)| m == module)
                .map(|(_, variable, keys)| (function.variable_refs(variable), *keys));
            let still_granted = match table {
                Some((tables, keys)) if is_dynamodb(action) => {
                    tables.iter().any(|t| covers(t, action, keys))
                }
                _ => granted.contains(*action) && !calls.actions.contains(*action),
            };
            if !derived || still_granted {
                problems.push(format!(
                    "{id}: NOT_CALLED lists {action} of {module}, which its code cannot call or its role grants"
                ));
            }
        }
        // The audit keys and the anchors: each action the code makes on every resource its
        // variable names.
        for action in calls
            .actions
            .iter()
            .filter(|a| a.starts_with("kms:") || a.starts_with("s3:"))
        {
            let Some((_, variable)) = ACTION_RESOURCES.iter().find(|(a, _)| a == action) else {
                problems.push(format!(
                    "{id}: its code calls {action}; bind it to the variable naming its resource in ACTION_RESOURCES"
                ));
                continue;
            };
            let named = function.variable_refs(variable);
            if named.is_empty() {
                problems.push(format!(
                    "{id}: its code calls {action}, but its environment sets no {variable} naming where"
                ));
            }
            let on = granted_bound
                .get(action.as_str())
                .cloned()
                .unwrap_or_default();
            for r in named.difference(&on) {
                problems.push(format!(
                    "{id}: its code calls {action} on {r} ({variable}), which its role does not grant there"
                ));
            }
        }
        for action in &calls.actions {
            if !granted.contains(action) {
                problems.push(format!(
                    "{id}: its code ({modules:?}) calls {action}, which its role does not grant"
                ));
            }
        }
        for action in &granted {
            if !calls.actions.contains(action) {
                problems.push(format!(
                    "{id}: grants {action}, which its code ({modules:?}) never calls"
                ));
            }
        }
    }
    problems
}

/// What follows the last substitution of an S3 ARN (`!GetAtt Bucket.Arn`: nothing;
/// `!Sub "arn:…:s3:::${Bucket}/seals/*"`: `/seals/*`), `None` for anything else.
fn s3_arn_path(resource: &Value) -> Option<String> {
    let (name, inner) = intrinsic(resource)?;
    match name.as_str() {
        "GetAtt" => (refs(resource).len() == 1).then(String::new),
        "Sub" => {
            let text = match inner {
                Value::String(text) => text.as_str(),
                Value::Sequence(parts) => parts.first()?.as_str()?,
                _ => return None,
            };
            Some(text[text.rfind('}')? + 1..].to_owned())
        }
        _ => None,
    }
}

#[test]
fn no_role_reaches_another_functions_resources() {
    let template = template();
    let functions = functions(&template);
    let own: BTreeMap<String, BTreeSet<String>> = functions
        .iter()
        .map(|f| {
            let mut mine = f.own_resources();
            mine.insert(f.log_group_id());
            (f.role_id(), mine)
        })
        .collect();
    let everyones: BTreeSet<String> = own.values().flatten().cloned().collect();
    for (role, mine) in &own {
        for statement in statements(&template, role) {
            for r in statement.resources().iter().flat_map(|r| refs(r)) {
                assert!(
                    mine.contains(&r) || !everyones.contains(&r),
                    "{role}/{}: {r} belongs to another function",
                    statement.sid()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The edge: which API each route is on, and the web ACL in front of the SCIM API

/// The binary of the one function whose routes are not behind the web ACL: the audit
/// API, whose callers API Gateway's JWT authorizer checks before the function does.
const AUDIT_API_BINARY: &str = "audit-api";

/// The context variables the SCIM API's access log must carry: API Gateway's ids, who
/// called what, the answer, the Lambda request id (the correlation id of the function's
/// logs and audit records), what the web ACL did, and the latency.
const SCIM_ACCESS_LOG_FIELDS: &[&str] = &[
    "$context.requestId",
    "$context.extendedRequestId",
    "$context.identity.sourceIp",
    "$context.httpMethod",
    "$context.resourcePath",
    "$context.status",
    "$context.integration.requestId",
    "$context.waf.error",
    "$context.waf.status",
    "$context.responseLatency",
];

/// A route of a function: one of its `Api` (REST) or `HttpApi` events.
struct Route<'a> {
    function: String,
    event: String,
    kind: String,
    properties: &'a Value,
}

impl Route<'_> {
    fn label(&self) -> String {
        format!(
            "{}/{} ({} {} {})",
            self.function,
            self.event,
            self.kind,
            self.properties["Method"].as_str().unwrap_or("?"),
            self.properties["Path"].as_str().unwrap_or("?")
        )
    }

    /// The API it names (`RestApiId` or `ApiId`); none for SAM's implicit APIs.
    fn api(&self) -> Option<String> {
        let key = if self.kind == "Api" {
            "RestApiId"
        } else {
            "ApiId"
        };
        let named = refs(&self.properties[key]);
        (named.len() == 1).then(|| named.into_iter().next().unwrap_or_default())
    }
}

fn binary<'a>(function: &Function<'a>) -> &'a str {
    function.value["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .unwrap_or_default()
}

fn routes<'a>(function: &Function<'a>) -> Vec<Route<'a>> {
    let Some(events) = function.value["Properties"]["Events"].as_mapping() else {
        return Vec::new();
    };
    events
        .iter()
        .filter(|(_, event)| matches!(event["Type"].as_str(), Some("Api" | "HttpApi")))
        .map(|(name, event)| Route {
            function: function.id.clone(),
            event: name.as_str().unwrap_or_default().to_owned(),
            kind: event["Type"].as_str().unwrap_or_default().to_owned(),
            properties: &event["Properties"],
        })
        .collect()
}

/// A list item written as `!If [Condition, item, !Ref AWS::NoValue]`: the condition and
/// the item; a plain item has no condition.
fn conditional(item: &Value) -> (Option<String>, &Value) {
    match intrinsic(item) {
        Some((name, Value::Sequence(branches))) if name == "If" && branches.len() == 3 => {
            let no_value = intrinsic(&branches[2])
                .is_some_and(|(n, v)| n == "Ref" && v.as_str() == Some("AWS::NoValue"));
            if no_value {
                let condition = branches[0].as_str().map(str::to_owned);
                return (condition, &branches[1]);
            }
            (None, item)
        }
        _ => (None, item),
    }
}

/// The REST APIs whose stage has a regional web ACL associated, unconditionally, with
/// that web ACL: read from each `WebACLAssociation`'s `ResourceArn`
/// (`!Sub …/restapis/${Api}/stages/${Api.Stage}`) and `WebACLArn` (`!GetAtt Acl.Arn`).
fn web_acls_of_apis(template: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (_, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::WAFv2::WebACLAssociation")
            || resource.get("Condition").is_some()
        {
            continue;
        }
        let properties = &resource["Properties"];
        let Some((name, arn)) = intrinsic(&properties["ResourceArn"]) else {
            continue;
        };
        let Some(arn) = arn.as_str().filter(|_| name == "Sub") else {
            continue;
        };
        let Some(api) = arn
            .split_once("/restapis/${")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(api, _)| api.to_owned())
        else {
            continue;
        };
        let stage = arn
            .rsplit_once("/stages/")
            .map(|(_, s)| s)
            .unwrap_or_default();
        let stage_name = template["Resources"][api.as_str()]["Properties"]["StageName"].as_str();
        let whole_stage = stage == format!("${{{api}.Stage}}") || Some(stage) == stage_name;
        let acl = refs(&properties["WebACLArn"]);
        let Some(acl) = acl.iter().next().filter(|_| acl.len() == 1) else {
            continue;
        };
        let acl_resource = &template["Resources"][acl.as_str()];
        let regional = acl_resource["Type"].as_str() == Some("AWS::WAFv2::WebACL")
            && acl_resource.get("Condition").is_none()
            && acl_resource["Properties"]["Scope"].as_str() == Some("REGIONAL");
        if resource_type(template, &api) == Some("AWS::Serverless::Api") && whole_stage && regional
        {
            out.insert(api, acl.clone());
        }
    }
    out
}

/// What keeps an audit route from being on an HTTP API behind a JWT authorizer.
/// The auditor console's routes (`edge::audit::console`): its page, and its assets.
const CONSOLE_ROUTES: [&str; 2] = ["/audit/ui", "/audit/ui/{asset}"];

fn audit_route_problems(template: &Value, route: &Route<'_>) -> Vec<String> {
    let label = route.label();
    let Some(api) = route.api().filter(|_| route.kind == "HttpApi") else {
        return vec![format!(
            "{label}: an audit route must name the HTTP API (ApiId)"
        )];
    };
    if resource_type(template, &api) != Some("AWS::Serverless::HttpApi") {
        return vec![format!("{label}: {api} is not an HTTP API")];
    }
    let mut problems = Vec::new();
    let path = route.properties["Path"].as_str().unwrap_or_default();
    if CONSOLE_ROUTES.contains(&path) {
        // The console's page and assets, static and holding no data, are the only audit
        // routes without the authorizer; GET only (the function serves nothing else there).
        if route.properties["Method"].as_str() != Some("GET") {
            problems.push(format!("{label}: the console's routes are GET only"));
        }
        return problems;
    }
    if !path.starts_with("/audit/") {
        problems.push(format!("{label}: an audit route is under /audit/"));
    }
    let auth = &template["Resources"][api.as_str()]["Properties"]["Auth"];
    let authorizer = route.properties["Auth"]["Authorizer"]
        .as_str()
        .or_else(|| auth["DefaultAuthorizer"].as_str())
        .unwrap_or("NONE");
    let jwt = &auth["Authorizers"][authorizer]["JwtConfiguration"];
    if jwt.get("issuer").is_none() || jwt.get("audience").is_none() {
        problems.push(format!(
            "{label}: its authorizer {authorizer} is not a JWT authorizer of {api} with an issuer and an audience"
        ));
    }
    problems
}

/// What lets a route reach a function around the web ACL, one line each (empty when
/// every route but the audit API's is on a REST API whose stage has the web ACL).
fn edge_problems(template: &Value) -> Vec<String> {
    let protected = web_acls_of_apis(template);
    let mut problems = Vec::new();
    for function in functions(template) {
        if function.value["Properties"]
            .get("FunctionUrlConfig")
            .is_some()
        {
            problems.push(format!(
                "{}: a function URL reaches the function around any web ACL",
                function.id
            ));
        }
        let is_audit_api = binary(&function) == AUDIT_API_BINARY;
        for route in routes(&function) {
            if is_audit_api {
                problems.extend(audit_route_problems(template, &route));
                continue;
            }
            let label = route.label();
            match route.api().filter(|_| route.kind == "Api") {
                Some(api) if protected.contains_key(&api) => {}
                Some(api) => problems.push(format!(
                    "{label}: {api} is not a REST API whose stage has a regional web ACL"
                )),
                None => problems.push(format!(
                    "{label}: not on a REST API of the template (RestApiId), so not behind the web ACL"
                )),
            }
        }
    }
    problems
}

/// The problems the edge check finds in the template after `edit`.
fn edge_problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = template();
    edit(&mut template);
    edge_problems(&template)
}

/// The SCIM API: the REST API the scim-api function's routes are on.
fn scim_api(template: &Value) -> String {
    let functions = functions(template);
    let scim = functions
        .iter()
        .find(|f| binary(f) == "scim-api")
        .expect("the scim-api function");
    let apis: BTreeSet<String> = routes(scim).iter().filter_map(Route::api).collect();
    assert_eq!(apis.len(), 1, "the SCIM routes are on one API: {apis:?}");
    apis.into_iter().next().unwrap_or_default()
}

#[test]
fn every_function_route_but_the_audit_apis_is_behind_the_web_acl() {
    let template = template();
    let problems = edge_problems(&template);
    assert!(
        problems.is_empty(),
        "routes around the web ACL:\n  {}",
        problems.join("\n  ")
    );

    // Not vacuously: the SCIM function's routes, its Identity Center-bound proxy and the
    // discovery endpoints, are all there.
    let functions = functions(&template);
    let scim = functions
        .iter()
        .find(|f| binary(f) == "scim-api")
        .expect("the scim-api function");
    let served: BTreeSet<(String, String)> = routes(scim)
        .iter()
        .map(|r| {
            let field = |name: &str| r.properties[name].as_str().unwrap_or_default().to_owned();
            (field("Method"), field("Path"))
        })
        .collect();
    for (method, path) in [
        ("ANY", "/scim/v2/{proxy+}"),
        ("GET", "/scim/v2/ServiceProviderConfig"),
        ("GET", "/scim/v2/Schemas"),
        ("GET", "/scim/v2/ResourceTypes"),
    ] {
        assert!(
            served.contains(&(method.to_owned(), path.to_owned())),
            "scim-api serves {method} {path}: {served:?}"
        );
    }
    assert!(web_acls_of_apis(&template).contains_key(&scim_api(&template)));
}

#[test]
fn the_okta_hook_serves_its_path_on_the_scim_api_and_its_url_carries_the_stage() {
    let template = template();
    let api = scim_api(&template);
    let functions = functions(&template);
    let hook = functions
        .iter()
        .find(|f| binary(f) == "okta-hook")
        .expect("the okta-hook function");
    // Okta's one-time verification (GET) and its deliveries (POST), on the SCIM API and
    // so behind its web ACL (every_function_route_but_the_audit_apis_is_behind_the_web_acl).
    let served: BTreeSet<(String, String, Option<String>)> = routes(hook)
        .iter()
        .map(|r| {
            let field = |name: &str| r.properties[name].as_str().unwrap_or_default().to_owned();
            (field("Method"), field("Path"), r.api())
        })
        .collect();
    let expected: BTreeSet<(String, String, Option<String>)> = ["GET", "POST"]
        .into_iter()
        .map(|m| (m.to_owned(), edge::HOOK_PATH.to_owned(), Some(api.clone())))
        .collect();
    assert_eq!(served, expected);
    assert!(web_acls_of_apis(&template).contains_key(&api));

    // HookUrl: the default endpoint carries the stage in front of the hook's path, which
    // the hook's router strips as the SCIM router does.
    let (_, branches) = intrinsic(&template["Outputs"]["HookUrl"]["Value"])
        .expect("HookUrl is !If [HasPublicBaseUrl, …, …]");
    let default_url = one_or_many(branches)
        .into_iter()
        .filter_map(intrinsic)
        .find(|(name, _)| name == "Sub")
        .and_then(|(_, text)| text.as_str().map(str::to_owned))
        .expect("a !Sub default URL");
    assert_eq!(
        default_url,
        format!(
            "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{api}.Stage}}{}",
            edge::HOOK_PATH
        )
    );
    let stage = template["Resources"][api.as_str()]["Properties"]["StageName"]
        .as_str()
        .expect("a stage name");
    let request = http::Request::builder()
        .method("POST")
        .uri(format!("/{stage}{}", edge::HOOK_PATH))
        .body(axum::body::Body::empty())
        .unwrap();
    let stripped = edge::http::strip_stage_prefix(request, edge::HOOK_PATH);
    assert_eq!(
        stripped.uri().path(),
        edge::HOOK_PATH,
        "the router strips {stage}"
    );
}

#[test]
fn the_edge_check_catches_routes_around_the_web_acl() {
    let hook = |api: &str| -> Value {
        let yaml = format!(
            "Type: AWS::Serverless::Function\n\
             Metadata: {{BuildMethod: rust-cargolambda, BuildProperties: {{Binary: okta-hook}}}}\n\
             Properties:\n  CodeUri: functions/okta-hook\n  Events:\n    Hook:\n      {api}\n"
        );
        serde_norway::from_str(&yaml).unwrap()
    };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    fn resources_of(t: &mut Value) -> &mut serde_norway::Mapping {
        t["Resources"].as_mapping_mut().expect("Resources")
    }

    // The Okta event hook moved to the HTTP API, or back on the REST API.
    let on_http_api = edge_problems_after(|t| {
        let function = hook(
            "Type: HttpApi\n      Properties: {ApiId: !Ref HttpApi, Path: /hooks/okta, Method: POST}",
        );
        resources_of(t).insert("OktaHookFunction".into(), function);
    });
    assert!(
        mentions(
            &on_http_api,
            "OktaHookFunction/Hook (HttpApi POST /hooks/okta)"
        ),
        "{on_http_api:?}"
    );
    let template = template();
    let scim = scim_api(&template);
    let on_rest_api = edge_problems_after(|t| {
        let function = hook(&format!(
            "Type: Api\n      Properties: {{RestApiId: !Ref {scim}, Path: /hooks/okta, Method: POST}}"
        ));
        resources_of(t).insert("OktaHookFunction".into(), function);
    });
    assert!(on_rest_api.is_empty(), "{on_rest_api:?}");

    // The SCIM proxy on SAM's implicit REST API.
    let implicit = edge_problems_after(|t| {
        let properties =
            &mut t["Resources"]["ScimApiFunction"]["Properties"]["Events"]["Scim"]["Properties"];
        properties
            .as_mapping_mut()
            .expect("event properties")
            .remove("RestApiId");
    });
    assert!(
        mentions(
            &implicit,
            "ScimApiFunction/Scim (Api ANY /scim/v2/{proxy+}): not on a REST API"
        ),
        "{implicit:?}"
    );

    // The web ACL no longer associated, or only under a condition.
    let association: Vec<String> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::WAFv2::WebACLAssociation"))
        .filter_map(|(id, _)| id.as_str().map(str::to_owned))
        .collect();
    let unassociated = edge_problems_after(|t| {
        for id in &association {
            resources_of(t).remove(id.as_str());
        }
    });
    assert!(
        mentions(
            &unassociated,
            "is not a REST API whose stage has a regional web ACL"
        ),
        "{unassociated:?}"
    );
    let conditional_association = edge_problems_after(|t| {
        for id in &association {
            t["Resources"][id.as_str()]["Condition"] = Value::from("HasOktaIpAllowList");
        }
    });
    assert!(
        !conditional_association.is_empty(),
        "an association under a condition is not always there"
    );

    // A function URL, and an audit route without its authorizer.
    let url = edge_problems_after(|t| {
        t["Resources"]["AuditApiFunction"]["Properties"]["FunctionUrlConfig"] =
            serde_norway::from_str("{AuthType: NONE}").unwrap();
    });
    assert!(
        mentions(&url, "AuditApiFunction: a function URL"),
        "{url:?}"
    );
    let unauthorized = edge_problems_after(|t| {
        let events = t["Resources"]["AuditApiFunction"]["Properties"]["Events"]
            .as_mapping_mut()
            .expect("audit events");
        for (_, event) in events.iter_mut() {
            if let Some(properties) = event["Properties"].as_mapping_mut() {
                properties.remove("Auth");
            }
        }
    });
    assert!(
        mentions(&unauthorized, "is not a JWT authorizer"),
        "{unauthorized:?}"
    );
}

#[test]
fn the_audit_routes_are_on_the_http_api_behind_its_jwt_authorizer() {
    let template = template();
    let functions = functions(&template);
    let audit = functions
        .iter()
        .find(|f| binary(f) == AUDIT_API_BINARY)
        .expect("the audit-api function");
    let routes = routes(audit);
    assert!(!routes.is_empty(), "the audit API has routes");
    for route in &routes {
        let problems = audit_route_problems(&template, route);
        assert!(problems.is_empty(), "{problems:?}");
    }
}

/// The web ACL's rate rule for the SCIM routes: every request to the SCIM API but the
/// Okta event hook's.
const SCIM_RATE_RULE: &str = "RateLimitPerSourceIp";

/// The web ACL's rate rule for the Okta event hook's path, with a limit of its own: Okta
/// sends its SCIM calls and its event deliveries from the same addresses, and never
/// retries a delivery refused with a 4xx, so SCIM traffic must not spend the hook's count.
const HOOK_RATE_RULE: &str = "HookRateLimitPerSourceIp";

/// The SCIM API's web ACL.
fn scim_web_acl(template: &Value) -> String {
    web_acls_of_apis(template)
        .get(&scim_api(template))
        .cloned()
        .expect("the SCIM API's web ACL")
}

/// Whether a WAF statement matches a request with this URI path, for the statements a
/// scope-down on the path is written with: `ByteMatchStatement` on `UriPath` (`EXACTLY`,
/// `STARTS_WITH`, `ENDS_WITH`, `CONTAINS`; text transformations `NONE`, `LOWERCASE` and
/// `URL_DECODE`, applied in priority order to the path, never to the search string), and
/// `NotStatement`, `AndStatement` and `OrStatement` of those. `Err` names what it cannot
/// evaluate.
fn waf_matches(statement: &Value, path: &str) -> Result<bool, String> {
    let Some((kind, inner)) = statement
        .as_mapping()
        .filter(|m| m.len() == 1)
        .and_then(|m| m.iter().next())
    else {
        return Err(format!("not one WAF statement: {statement:?}"));
    };
    let all = |key: &str| -> Result<Vec<bool>, String> {
        let statements = one_or_many(&inner[key]);
        if statements.len() < 2 {
            return Err(format!("{key} needs two statements or more"));
        }
        statements
            .into_iter()
            .map(|s| waf_matches(s, path))
            .collect()
    };
    match kind.as_str() {
        Some("NotStatement") => Ok(!waf_matches(&inner["Statement"], path)?),
        Some("AndStatement") => Ok(all("Statements")?.into_iter().all(|m| m)),
        Some("OrStatement") => Ok(all("Statements")?.into_iter().any(|m| m)),
        Some("ByteMatchStatement") => {
            if inner["FieldToMatch"].get("UriPath").is_none() {
                return Err(format!(
                    "a byte match on {:?}, not UriPath",
                    inner["FieldToMatch"]
                ));
            }
            let search = inner["SearchString"]
                .as_str()
                .ok_or_else(|| format!("SearchString {:?} is not text", inner["SearchString"]))?;
            let mut transformations: Vec<(u64, &str)> = one_or_many(&inner["TextTransformations"])
                .into_iter()
                .map(|t| {
                    (
                        t["Priority"].as_u64().unwrap_or_default(),
                        t["Type"].as_str().unwrap_or("?"),
                    )
                })
                .collect();
            transformations.sort_unstable();
            let mut value = path.to_owned();
            for (_, transformation) in transformations {
                value = match transformation {
                    "NONE" => value,
                    "LOWERCASE" => value.to_ascii_lowercase(),
                    "URL_DECODE" => url_decode(&value),
                    other => return Err(format!("cannot apply text transformation {other}")),
                };
            }
            match inner["PositionalConstraint"].as_str() {
                Some("EXACTLY") => Ok(value == search),
                Some("STARTS_WITH") => Ok(value.starts_with(search)),
                Some("ENDS_WITH") => Ok(value.ends_with(search)),
                Some("CONTAINS") => Ok(value.contains(search)),
                other => Err(format!("cannot evaluate PositionalConstraint {other:?}")),
            }
        }
        other => Err(format!("cannot evaluate a {other:?}")),
    }
}

/// WAF's `URL_DECODE`: `%XX` escapes decoded, anything else kept.
fn url_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = if bytes[i] == b'%' {
            text.get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        } else {
            None
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URI paths WAF sees for requests to a REST API route: on the stage's execute-api
/// endpoint, where the stage is the first segment (`/prod/hooks/okta`), and on a custom
/// domain mapped to the stage's root (`/hooks/okta`); each with and without a trailing
/// slash. A greedy `{proxy+}` stands for a SCIM resource, and for one whose path ends
/// like the hook's (a SCIM request may not trade its rule for the hook's).
fn waf_paths(stage: &str, route_path: &str) -> Vec<String> {
    let hook_tail = edge::HOOK_PATH.trim_start_matches('/');
    let concrete: Vec<String> = match route_path.split_once("{proxy+}") {
        Some((head, tail)) => [
            "Users/2819c223".to_owned(),
            format!("Users/2819c223/{hook_tail}"),
        ]
        .iter()
        .map(|resource| format!("{head}{resource}{tail}"))
        .collect(),
        None => vec![route_path.to_owned()],
    };
    concrete
        .iter()
        .flat_map(|path| [format!("/{stage}{path}"), path.clone()])
        .flat_map(|path| [format!("{path}/"), path])
        .collect()
}

/// What keeps the SCIM API's web ACL from limiting each source IP with one rate rule for
/// the SCIM routes and another, at least as high, for the Okta event hook's, every request
/// counted by exactly one (one line each; empty when it does).
fn rate_rule_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let api = scim_api(template);
    let acl_id = scim_web_acl(template);
    let acl = &template["Resources"][acl_id.as_str()]["Properties"];
    let rules: Vec<(Option<String>, &Value)> = one_or_many(&acl["Rules"])
        .into_iter()
        .map(conditional)
        .collect();
    let name = |rule: &Value| rule["Name"].as_str().unwrap_or("?").to_owned();
    let rate_rules: Vec<(Option<String>, &Value)> = rules
        .iter()
        .filter(|(_, r)| r["Statement"].get("RateBasedStatement").is_some())
        .cloned()
        .collect();
    let parameter_default = |value: &Value| -> Option<u64> {
        let named = refs(value);
        let parameter = named.iter().next().filter(|_| named.len() == 1)?;
        let default = &template["Parameters"][parameter.as_str()]["Default"];
        default
            .as_u64()
            .or_else(|| default.as_str().and_then(|d| d.parse().ok()))
    };

    // Each rate rule: always there, per source IP, from a parameter with a default, and
    // answering 429 with Retry-After (Okta's SCIM client retries it; a 403 it would not).
    let mut limits = BTreeMap::new();
    let mut metric_names = BTreeSet::new();
    for (condition, rule) in &rate_rules {
        let rule_name = name(rule);
        if let Some(condition) = condition {
            problems.push(format!("{rule_name}: only under {condition}"));
        }
        let statement = &rule["Statement"]["RateBasedStatement"];
        if statement["AggregateKeyType"].as_str() != Some("IP") {
            problems.push(format!("{rule_name}: not keyed on the source IP"));
        }
        match parameter_default(&statement["Limit"]) {
            Some(limit) if limit >= 10 => {
                limits.insert(rule_name.clone(), limit);
            }
            other => problems.push(format!(
                "{rule_name}: its Limit is not a parameter with a default of 10 or more ({other:?})"
            )),
        }
        let response = &rule["Action"]["Block"]["CustomResponse"];
        let retry_after = one_or_many(&response["ResponseHeaders"])
            .iter()
            .any(|h| h["Name"].as_str() == Some("Retry-After"));
        if response["ResponseCode"].as_u64() != Some(429) || !retry_after {
            problems.push(format!(
                "{rule_name}: does not block with 429 and Retry-After"
            ));
        }
        let metric = rule["VisibilityConfig"]["MetricName"]
            .as_str()
            .unwrap_or("?");
        if !metric_names.insert(metric.to_owned()) {
            problems.push(format!(
                "{rule_name}: metric name {metric} is another rule's"
            ));
        }
    }
    for wanted in [SCIM_RATE_RULE, HOOK_RATE_RULE] {
        if !rate_rules.iter().any(|(_, r)| name(r) == wanted) {
            problems.push(format!("{acl_id}: no rate-based rule {wanted}"));
        }
    }
    if let (Some(scim), Some(hook)) = (limits.get(SCIM_RATE_RULE), limits.get(HOOK_RATE_RULE))
        && hook < scim
    {
        problems.push(format!(
            "{HOOK_RATE_RULE}'s default limit {hook} is below {SCIM_RATE_RULE}'s {scim}"
        ));
    }

    // Priorities: unique, and the allow-list (block what is not in an IP set) before
    // every rate rule, so that what is not Okta never spends Okta's count.
    let priority = |rule: &Value| rule["Priority"].as_u64();
    let mut priorities = BTreeSet::new();
    for (_, rule) in &rules {
        if !priority(rule).is_some_and(|p| priorities.insert(p)) {
            problems.push(format!(
                "{}: priority {:?} is missing or another rule's",
                name(rule),
                rule["Priority"]
            ));
        }
    }
    for (_, allow) in rules.iter().filter(|(_, r)| {
        r["Statement"]["NotStatement"]["Statement"]
            .get("IPSetReferenceStatement")
            .is_some()
    }) {
        for (_, rate) in &rate_rules {
            if priority(allow) >= priority(rate) {
                problems.push(format!("{} comes after {}", name(allow), name(rate)));
            }
        }
    }

    // Every request is counted by exactly one of the two: the SCIM rule's scope-down
    // statement is the negation of the hook rule's, word for word.
    let scope = |wanted: &str| {
        rate_rules
            .iter()
            .find(|(_, r)| name(r) == wanted)
            .map(|(_, r)| &r["Statement"]["RateBasedStatement"]["ScopeDownStatement"])
    };
    if let (Some(scim), Some(hook)) = (scope(SCIM_RATE_RULE), scope(HOOK_RATE_RULE))
        && (hook.is_null() || scim["NotStatement"]["Statement"] != *hook)
    {
        problems.push(format!(
            "{SCIM_RATE_RULE}'s scope-down statement is not the negation of {HOOK_RATE_RULE}'s: \
             a request could be counted by both, or by neither"
        ));
    }

    // Each route of the SCIM API, at each path WAF may see for it, is counted by exactly
    // one rate rule: the SCIM function's by the SCIM rule, the hook's by the hook rule.
    let stage = template["Resources"][api.as_str()]["Properties"]["StageName"]
        .as_str()
        .unwrap_or("prod");
    let mut covered = 0;
    for function in functions(template) {
        let expected = match binary(&function) {
            "scim-api" => Some(SCIM_RATE_RULE),
            "okta-hook" => Some(HOOK_RATE_RULE),
            _ => None,
        };
        for route in routes(&function) {
            if route.kind != "Api" || route.api().as_deref() != Some(api.as_str()) {
                continue;
            }
            let label = route.label();
            for path in waf_paths(stage, route.properties["Path"].as_str().unwrap_or("/")) {
                let mut counting = Vec::new();
                for (_, rule) in &rate_rules {
                    let scope = &rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"];
                    let counts = if scope.is_null() {
                        Ok(true)
                    } else {
                        waf_matches(scope, &path)
                    };
                    match counts {
                        Ok(true) => counting.push(name(rule)),
                        Ok(false) => {}
                        Err(e) => problems.push(format!("{}: {e}", name(rule))),
                    }
                }
                covered += 1;
                match (counting.as_slice(), expected) {
                    ([], _) => problems.push(format!("{label}: {path} is counted by no rate rule")),
                    ([one], Some(expected)) if one != expected => problems.push(format!(
                        "{label}: {path} is limited by {one}, not {expected}"
                    )),
                    ([_], _) => {}
                    (several, _) => problems.push(format!(
                        "{label}: {path} is counted by several rate rules: {several:?}"
                    )),
                }
            }
        }
    }
    if covered == 0 {
        problems.push(format!("{api}: no route to check the rate rules against"));
    }
    problems.sort();
    problems.dedup();
    problems
}

/// The problems the rate rule check finds in the template after `edit`.
fn rate_rule_problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = template();
    edit(&mut template);
    rate_rule_problems(&template)
}

#[test]
fn the_web_acl_limits_each_source_ip_and_can_admit_only_oktas_ranges() {
    let template = template();
    let acls = web_acls_of_apis(&template);
    let acl_id = acls
        .get(&scim_api(&template))
        .expect("the SCIM API's web ACL");
    let acl = &template["Resources"][acl_id.as_str()]["Properties"];
    assert!(
        acl["DefaultAction"].get("Allow").is_some(),
        "{acl_id}: the allow-list rule blocks, the default allows"
    );
    assert_eq!(
        acl["VisibilityConfig"]["CloudWatchMetricsEnabled"].as_bool(),
        Some(true),
        "{acl_id}: metrics"
    );
    let rules: Vec<(Option<String>, &Value)> = one_or_many(&acl["Rules"])
        .into_iter()
        .map(conditional)
        .collect();
    for (_, rule) in &rules {
        assert_eq!(
            rule["VisibilityConfig"]["CloudWatchMetricsEnabled"].as_bool(),
            Some(true),
            "{acl_id}/{}: metrics",
            rule["Name"].as_str().unwrap_or("?")
        );
    }

    // The rate rules: the SCIM routes limited by one, the event hook's by the other, each
    // request counted by exactly one, per source IP, answering 429.
    let problems = rate_rule_problems(&template);
    assert!(
        problems.is_empty(),
        "the web ACL's rate rules:\n  {}",
        problems.join("\n  ")
    );
    let rule = |wanted: &str| -> &Value {
        rules
            .iter()
            .map(|(_, r)| *r)
            .find(|r| r["Name"].as_str() == Some(wanted))
            .unwrap_or_else(|| panic!("{acl_id}: the rule {wanted}"))
    };
    let (scim_rate, hook_rate) = (rule(SCIM_RATE_RULE), rule(HOOK_RATE_RULE));
    let limit_parameter = |rule: &Value| refs(&rule["Statement"]["RateBasedStatement"]["Limit"]);
    assert_eq!(
        limit_parameter(scim_rate),
        BTreeSet::from(["ScimSourceIpRateLimit".to_owned()])
    );
    assert_eq!(
        limit_parameter(hook_rate),
        BTreeSet::from(["HookSourceIpRateLimit".to_owned()])
    );

    // The allow-list: present only when its parameter (empty by default) is set, blocking
    // every source outside the IP set built from it, before the rate rules
    // (rate_rule_problems checks the order).
    let (allow_condition, allow) = rules
        .iter()
        .find(|(_, r)| {
            r["Statement"]["NotStatement"]["Statement"]
                .get("IPSetReferenceStatement")
                .is_some()
        })
        .expect("an allow-list rule: block what is not in an IP set");
    let condition = allow_condition
        .as_deref()
        .expect("the allow-list rule is conditional");
    assert!(
        allow["Action"].get("Block").is_some(),
        "the allow-list rule blocks the rest"
    );
    let parameter = match intrinsic(&template["Conditions"][condition]) {
        Some((not, Value::Sequence(inner))) if not == "Not" => match inner
            .first()
            .and_then(intrinsic)
        {
            Some((equals, Value::Sequence(sides))) if equals == "Equals" && sides.len() == 2 => {
                assert_eq!(
                    sides[1].as_str(),
                    Some(""),
                    "{condition}: set when not empty"
                );
                refs(&sides[0])
            }
            _ => BTreeSet::new(),
        },
        _ => BTreeSet::new(),
    };
    assert_eq!(
        parameter.len(),
        1,
        "{condition} is !Not [!Equals [!Ref <parameter>, \"\"]]"
    );
    let parameter = parameter.into_iter().next().unwrap_or_default();
    assert_eq!(
        template["Parameters"][parameter.as_str()]["Default"].as_str(),
        Some(""),
        "{parameter}: off by default"
    );
    let ip_set =
        refs(&allow["Statement"]["NotStatement"]["Statement"]["IPSetReferenceStatement"]["Arn"]);
    assert_eq!(ip_set.len(), 1);
    let ip_set = &template["Resources"][ip_set.iter().next().map_or("", String::as_str)];
    assert_eq!(ip_set["Type"].as_str(), Some("AWS::WAFv2::IPSet"));
    assert_eq!(ip_set["Condition"].as_str(), Some(condition));
    assert_eq!(ip_set["Properties"]["Scope"].as_str(), Some("REGIONAL"));
    assert!(refs(&ip_set["Properties"]["Addresses"]).contains(&parameter));

    // Its blocks are logged, without the bearer token.
    let logging = resources(&template)
        .values()
        .find(|r| {
            r["Type"].as_str() == Some("AWS::WAFv2::LoggingConfiguration")
                && refs(&r["Properties"]["ResourceArn"]).contains(acl_id)
        })
        .expect("a logging configuration for the web ACL");
    let redacted: Vec<String> = one_or_many(&logging["Properties"]["RedactedFields"])
        .iter()
        .filter_map(|f| f["SingleHeader"]["Name"].as_str())
        .map(str::to_ascii_lowercase)
        .collect();
    assert!(
        redacted.iter().any(|h| h == "authorization"),
        "{redacted:?}"
    );
}

#[test]
fn the_rate_rule_check_catches_a_hook_counted_by_both_or_neither_and_a_wrong_split() {
    let acl = scim_web_acl(&template());
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    let rule = |t: &Value, name: &str| -> Value {
        t["Resources"][acl.as_str()]["Properties"]["Rules"]
            .as_sequence()
            .and_then(|rules| rules.iter().find(|r| r["Name"].as_str() == Some(name)))
            .cloned()
            .unwrap_or_else(|| panic!("the rule {name}"))
    };
    let set_rule = |t: &mut Value, name: &str, edit: &dyn Fn(&mut Value)| {
        let rules = t["Resources"][acl.as_str()]["Properties"]["Rules"]
            .as_sequence_mut()
            .expect("Rules");
        let rule = rules
            .iter_mut()
            .find(|r| r["Name"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("the rule {name}"));
        edit(rule);
    };
    fn scope(rule: &mut Value) -> &mut Value {
        &mut rule["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    }
    // The hook's match, written on both rules (the hook's, and negated on the SCIM rule's).
    let hook_match_on_both = |t: &mut Value, statement: &str| {
        let statement: Value = serde_norway::from_str(statement).unwrap();
        set_rule(t, HOOK_RATE_RULE, &|r| *scope(r) = statement.clone());
        set_rule(t, SCIM_RATE_RULE, &|r| {
            scope(r)["NotStatement"]["Statement"] = statement.clone();
        });
    };
    let byte_match = |constraint: &str, search: &str| {
        format!(
            "ByteMatchStatement: {{FieldToMatch: {{UriPath: {{}}}}, PositionalConstraint: {constraint}, \
             SearchString: {search}, TextTransformations: [{{Priority: 0, Type: LOWERCASE}}]}}"
        )
    };
    let hook_post = "OktaHookFunction/Deliver (Api POST /hooks/okta)";

    // The hook excluded from both rules: the hook rule matches only the path without the
    // stage, while the SCIM rule still leaves out every path containing /hooks/okta.
    let neither = rate_rule_problems_after(|t| {
        set_rule(t, HOOK_RATE_RULE, &|r| {
            scope(r)["AndStatement"]["Statements"][0]["ByteMatchStatement"]["PositionalConstraint"] =
                Value::from("EXACTLY");
        });
    });
    assert!(
        mentions(
            &neither,
            &format!("{hook_post}: /prod/hooks/okta is counted by no rate rule")
        ),
        "{neither:?}"
    );
    assert!(mentions(&neither, "is not the negation of"), "{neither:?}");

    // The hook rule gone: its deliveries are counted by nothing.
    let removed = rate_rule_problems_after(|t| {
        t["Resources"][acl.as_str()]["Properties"]["Rules"]
            .as_sequence_mut()
            .expect("Rules")
            .retain(|r| r["Name"].as_str() != Some(HOOK_RATE_RULE));
    });
    assert!(
        mentions(&removed, &format!("no rate-based rule {HOOK_RATE_RULE}")),
        "{removed:?}"
    );
    assert!(
        mentions(
            &removed,
            &format!("{hook_post}: /prod/hooks/okta is counted by no rate rule")
        ),
        "{removed:?}"
    );

    // The SCIM rule counting every request again: the hook's deliveries spend its count.
    let both = rate_rule_problems_after(|t| {
        set_rule(t, SCIM_RATE_RULE, &|r| {
            r["Statement"]["RateBasedStatement"]
                .as_mapping_mut()
                .expect("RateBasedStatement")
                .remove("ScopeDownStatement");
        });
    });
    assert!(
        mentions(
            &both,
            &format!("{hook_post}: /prod/hooks/okta is counted by several rate rules")
        ),
        "{both:?}"
    );

    // A split blind to the stage prefix: on the execute-api endpoint the path is
    // /prod/hooks/okta, so a match on the start of the path leaves the hook to the SCIM rule.
    let stage_blind = rate_rule_problems_after(|t| {
        hook_match_on_both(t, &byte_match("STARTS_WITH", "/hooks/okta"));
    });
    assert!(
        mentions(
            &stage_blind,
            &format!(
                "{hook_post}: /prod/hooks/okta is limited by {SCIM_RATE_RULE}, not {HOOK_RATE_RULE}"
            )
        ),
        "{stage_blind:?}"
    );
    assert!(
        !mentions(&stage_blind, "(Api POST /hooks/okta): /hooks/okta "),
        "without the stage (a custom domain) it works: {stage_blind:?}"
    );

    // A split on the hook's path alone: a SCIM request whose path ends in /hooks/okta
    // gets the hook's higher limit.
    let suffix = rate_rule_problems_after(|t| {
        hook_match_on_both(t, &byte_match("ENDS_WITH", "/hooks/okta"));
    });
    assert!(
        mentions(
            &suffix,
            &format!(
                "(Api ANY /scim/v2/{{proxy+}}): /prod/scim/v2/Users/2819c223/hooks/okta is limited by {HOOK_RATE_RULE}, not {SCIM_RATE_RULE}"
            )
        ),
        "{suffix:?}"
    );

    // A search string that the lowercased path can never equal.
    let case = rate_rule_problems_after(|t| {
        set_rule(t, HOOK_RATE_RULE, &|r| {
            scope(r)["AndStatement"]["Statements"][0]["ByteMatchStatement"]["SearchString"] =
                Value::from("/Hooks/Okta");
        });
    });
    assert!(
        mentions(
            &case,
            &format!("{hook_post}: /prod/hooks/okta is counted by no rate rule")
        ),
        "{case:?}"
    );

    // The hook's limit below the SCIM one; a 403 that Okta would not retry; a shared
    // priority and metric name; the allow-list after a rate rule.
    let lower = rate_rule_problems_after(|t| {
        t["Parameters"]["HookSourceIpRateLimit"]["Default"] = Value::from(100);
    });
    assert!(
        mentions(
            &lower,
            &format!("{HOOK_RATE_RULE}'s default limit 100 is below")
        ),
        "{lower:?}"
    );
    let forbidden = rate_rule_problems_after(|t| {
        set_rule(t, HOOK_RATE_RULE, &|r| {
            r["Action"]["Block"]["CustomResponse"]["ResponseCode"] = Value::from(403);
        });
    });
    assert!(
        mentions(
            &forbidden,
            &format!("{HOOK_RATE_RULE}: does not block with 429 and Retry-After")
        ),
        "{forbidden:?}"
    );
    let scim_rule = rule(&template(), SCIM_RATE_RULE);
    let shared = rate_rule_problems_after(|t| {
        set_rule(t, HOOK_RATE_RULE, &|r| {
            r["Priority"] = scim_rule["Priority"].clone();
            r["VisibilityConfig"]["MetricName"] =
                scim_rule["VisibilityConfig"]["MetricName"].clone();
        });
    });
    assert!(
        mentions(&shared, "is missing or another rule's"),
        "{shared:?}"
    );
    assert!(mentions(&shared, "is another rule's"), "{shared:?}");
    let late_allow_list = rate_rule_problems_after(|t| {
        set_rule(t, HOOK_RATE_RULE, &|r| r["Priority"] = Value::from(0));
        set_rule(t, SCIM_RATE_RULE, &|r| r["Priority"] = Value::from(5));
    });
    assert!(
        mentions(
            &late_allow_list,
            &format!("OktaIpAllowList comes after {HOOK_RATE_RULE}")
        ),
        "{late_allow_list:?}"
    );
}

#[test]
fn the_scim_api_stage_keeps_the_throttle_logs_access_and_its_base_url_carries_the_stage() {
    let template = template();
    let api = scim_api(&template);
    let properties = &template["Resources"][api.as_str()]["Properties"];
    assert_eq!(
        properties["EndpointConfiguration"]["Type"].as_str(),
        Some("REGIONAL"),
        "{api}"
    );

    // The stage default is the SCIM throttle.
    let default = one_or_many(&properties["MethodSettings"])
        .into_iter()
        .find(|m| m["ResourcePath"].as_str() == Some("/*") && m["HttpMethod"].as_str() == Some("*"))
        .expect("a stage-wide method setting");
    assert_eq!(
        refs(&default["ThrottlingRateLimit"]),
        BTreeSet::from(["ScimThrottleRateLimit".to_owned()])
    );
    assert_eq!(
        refs(&default["ThrottlingBurstLimit"]),
        BTreeSet::from(["ScimThrottleBurstLimit".to_owned()])
    );

    // A JSON access log, to a log group with a retention.
    let log = &properties["AccessLogSetting"];
    let group = refs(&log["DestinationArn"]);
    let group = group.iter().next().expect("an access log group");
    assert_eq!(resource_type(&template, group), Some("AWS::Logs::LogGroup"));
    assert!(
        template["Resources"][group.as_str()]["Properties"]
            .get("RetentionInDays")
            .is_some()
    );
    let format = log["Format"].as_str().expect("a format");
    assert!(
        serde_json::from_str::<serde_json::Value>(format).is_ok(),
        "the access log format is JSON: {format}"
    );
    for field in SCIM_ACCESS_LOG_FIELDS {
        assert!(
            format.contains(&format!("\"{field}\"")),
            "the access log has {field}"
        );
    }

    // ScimBaseUrl: the default endpoint carries the stage in front of /scim/v2, which the
    // router strips (shared/edge/src/http.rs).
    let (_, branches) = intrinsic(&template["Outputs"]["ScimBaseUrl"]["Value"])
        .expect("ScimBaseUrl is !If [HasPublicBaseUrl, …, …]");
    let default_url = one_or_many(branches)
        .into_iter()
        .filter_map(intrinsic)
        .find(|(name, _)| name == "Sub")
        .and_then(|(_, text)| text.as_str().map(str::to_owned))
        .expect("a !Sub default URL");
    assert_eq!(
        default_url,
        format!(
            "https://${{{api}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{{api}.Stage}}/scim/v2"
        )
    );
    let stage = properties["StageName"].as_str().expect("a stage name");
    let request = http::Request::builder()
        .uri(format!("/{stage}/scim/v2/Users?count=1"))
        .body(axum::body::Body::empty())
        .unwrap();
    let stripped = edge::http::strip_stage_prefix(request, "/scim/v2");
    assert_eq!(
        stripped.uri().path(),
        "/scim/v2/Users",
        "the router strips {stage}"
    );
}

// ---------------------------------------------------------------------------------------
// Fences

/// The parameter naming the break-glass roles, spared by every fence.
const BREAK_GLASS: &str = "BreakGlassPrincipalArns";

/// The condition under which the fences name the break-glass roles.
const HAS_BREAK_GLASS: &str = "HasBreakGlassPrincipals";

/// The item writes the audit table's fence denies: every way to write or delete an item
/// (a transaction's items are authorised as these).
const ITEM_WRITES: [&str; 7] = [
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
];

/// Whether a DynamoDB action writes items, by its name (for actions found in code).
fn looks_like_item_write(action: &str) -> bool {
    let Some(name) = action.strip_prefix("dynamodb:") else {
        return false;
    };
    (name.ends_with("Item") && !matches!(name, "GetItem" | "BatchGetItem" | "ConditionCheckItem"))
        || (name.starts_with("PartiQL") && name != "PartiQLSelect")
}

/// The function roles whose grants allow `actions` on `resource` (a table or secret id).
fn roles_granting(template: &Value, actions: &[&str], resource: &str) -> BTreeSet<String> {
    functions(template)
        .iter()
        .map(Function::role_id)
        .filter(|role| {
            statements(template, role).iter().any(|s| {
                s.value["Effect"].as_str() == Some("Allow")
                    && s.actions().iter().any(|a| actions.contains(&a.as_str()))
                    && s.resources().iter().any(|r| refs(r).contains(resource))
            })
        })
        .collect()
}

/// The roles (and the break-glass parameter) a list of principal ARNs names, each entry
/// being exactly a role's ARN (`!GetAtt Role.Arn`, `${Role.Arn}` in a `!Split` of a
/// `!Sub`) or the break-glass parameter (`${BreakGlassPrincipalArns}`); problems for
/// anything else, which could spare more than it seems to.
fn principal_arns(value: &Value, what: &str, problems: &mut Vec<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    match intrinsic(value) {
        // A role that exists under a condition (the entitlements function's): the list
        // with it, and the same list without it otherwise. What the fence spares is the
        // list with it; `the_entitlements_function_is_opt_in_and_least_privileged` checks
        // that the roles only the first list names are the condition's.
        Some((name, Value::Sequence(args)))
            if name == "If" && args.len() == 3 && args[0].as_str().is_some() =>
        {
            let with = principal_arns(&args[1], what, problems);
            let without = principal_arns(&args[2], what, problems);
            if !without.is_subset(&with) || with == without {
                problems.push(format!(
                    "{what}: under {:?}, {with:?} must be {without:?} and the condition's roles",
                    args[0]
                ));
            }
            return with;
        }
        Some((name, Value::Sequence(args))) if name == "Split" => {
            let text = args
                .get(1)
                .and_then(intrinsic)
                .filter(|(n, _)| n == "Sub")
                .and_then(|(_, v)| v.as_str());
            let (Some(","), Some(text)) = (args.first().and_then(Value::as_str), text) else {
                problems.push(format!("{what}: expected !Split [\",\", !Sub \"...\"]"));
                return out;
            };
            for part in text.split(',') {
                let name = part.strip_prefix("${").and_then(|p| p.strip_suffix('}'));
                match name {
                    Some(BREAK_GLASS) => {
                        out.insert(BREAK_GLASS.to_owned());
                    }
                    Some(name) if name.ends_with(".Arn") => {
                        out.insert(name.trim_end_matches(".Arn").to_owned());
                    }
                    _ => problems.push(format!("{what}: {part:?} is not a role's ARN")),
                }
            }
        }
        _ => {
            for arn in one_or_many(value) {
                match role_of_arn(arn) {
                    Some(role) => {
                        out.insert(role);
                    }
                    None => problems.push(format!("{what}: {arn:?} is not a role's ARN")),
                }
            }
        }
    }
    out
}

/// The role whose ARN `value` is (`!GetAtt Role.Arn`), if that is what it is.
fn role_of_arn(value: &Value) -> Option<String> {
    let (name, inner) = intrinsic(value)?;
    if name != "GetAtt" {
        return None;
    }
    let parts: Vec<&str> = match inner {
        Value::String(s) => s.split('.').collect(),
        Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match parts.as_slice() {
        [role, "Arn"] => Some((*role).to_owned()),
        _ => None,
    }
}

/// What a fence's deny statement spares: the principals its `aws:PrincipalArn`
/// condition names when break-glass roles are given, and when they are not.
fn spared(statement: &Value, what: &str, problems: &mut Vec<String>) -> [BTreeSet<String>; 2] {
    let condition = &statement["Condition"];
    let only_arn_not_equals = condition.as_mapping().is_some_and(|c| c.len() == 1)
        && condition["ArnNotEquals"]
            .as_mapping()
            .is_some_and(|c| c.len() == 1);
    if !only_arn_not_equals {
        problems.push(format!(
            "{what}: the condition must be ArnNotEquals on aws:PrincipalArn alone, not {condition:?}"
        ));
    }
    let arns = &condition["ArnNotEquals"]["aws:PrincipalArn"];
    match intrinsic(arns) {
        Some((name, Value::Sequence(branches)))
            if name == "If"
                && branches.len() == 3
                && branches[0].as_str() == Some(HAS_BREAK_GLASS) =>
        {
            [
                principal_arns(&branches[1], what, problems),
                principal_arns(&branches[2], what, problems),
            ]
        }
        _ => {
            problems.push(format!(
                "{what}: aws:PrincipalArn must be !If [{HAS_BREAK_GLASS}, <with>, <without>]"
            ));
            [BTreeSet::new(), BTreeSet::new()]
        }
    }
}

/// A fence statement's `Resource` where the policy is the resource's own (a secret's,
/// a table's, a key's): `"*"`.
fn any_resource(resource: &Value) -> bool {
    resource.as_str() == Some("*")
}

/// Checks one fence: a policy document that allows nothing, and denies `denied` (at
/// least; never anything in `never`) to every principal but `expected` roles and the
/// break-glass roles, on the resources `resource_ok` accepts.
fn check_fence(
    what: &str,
    document: &Value,
    denied: &BTreeSet<String>,
    never: &dyn Fn(&str) -> bool,
    expected: &BTreeSet<String>,
    resource_ok: &dyn Fn(&Value) -> bool,
    problems: &mut Vec<String>,
) {
    let statements = one_or_many(&document["Statement"]);
    if statements.is_empty() {
        problems.push(format!("{what}: no fence"));
    }
    let mut covered = BTreeSet::new();
    for statement in statements {
        let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
        let what = format!("{what}/{sid}");
        if statement["Effect"].as_str() != Some("Deny") {
            problems.push(format!(
                "{what}: a fence allows nothing; only Deny statements"
            ));
            continue;
        }
        if statement["Principal"].as_str() != Some("*") || !resource_ok(&statement["Resource"]) {
            problems.push(format!(
                "{what}: Principal must be \"*\", and Resource the fenced resource whole"
            ));
        }
        let actions: BTreeSet<String> = one_or_many(&statement["Action"])
            .iter()
            .filter_map(|a| a.as_str())
            .map(str::to_owned)
            .collect();
        for action in actions.iter().filter(|a| never(a) || a.contains('*')) {
            problems.push(format!("{what}: denies {action}, which must stay allowed"));
        }
        let [with, without] = spared(statement, &what, problems);
        let mut expected_with = expected.clone();
        expected_with.insert(BREAK_GLASS.to_owned());
        if with != expected_with {
            problems.push(format!(
                "{what}: spares {with:?} with break-glass roles; exactly {expected_with:?} are granted what it fences"
            ));
        }
        if without != *expected {
            problems.push(format!(
                "{what}: spares {without:?} without break-glass roles; exactly {expected:?} are granted what it fences"
            ));
        }
        covered.extend(actions);
    }
    for action in denied.difference(&covered) {
        problems.push(format!("{what}: does not deny {action}"));
    }
}

/// The secrets' fences: one resource policy per secret.
fn secret_fence_problems(template: &Value, problems: &mut Vec<String>) {
    let denied = BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()]);
    // A new value can always be put (the rotation runbooks), and nothing else is fenced.
    let never = |action: &str| action != "secretsmanager:GetSecretValue";
    for (id, resource) in resources(template) {
        let Some(secret) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::SecretsManager::Secret") {
            continue;
        }
        let policies: Vec<&Value> = resources(template)
            .values()
            .filter(|r| r["Type"].as_str() == Some("AWS::SecretsManager::ResourcePolicy"))
            .filter(|r| refs(&r["Properties"]["SecretId"]) == BTreeSet::from([secret.to_owned()]))
            .collect();
        let [policy] = policies.as_slice() else {
            problems.push(format!(
                "{secret}: {} resource policies, not one",
                policies.len()
            ));
            continue;
        };
        if policy["Properties"]["BlockPublicPolicy"].as_bool() != Some(true) {
            problems.push(format!("{secret}: the fence must block public policies"));
        }
        let readers = roles_granting(template, &["secretsmanager:GetSecretValue"], secret);
        if readers.is_empty() {
            problems.push(format!(
                "{secret}: no function reads it; drop it or fence it shut"
            ));
        }
        check_fence(
            secret,
            &policy["Properties"]["ResourcePolicy"],
            &denied,
            &never,
            &readers,
            &any_resource,
            problems,
        );
    }
}

/// The audit table's fence: its own resource policy.
fn table_fence_problems(template: &Value, problems: &mut Vec<String>) {
    // Every item write the audit adapter can make (its local-only bulk load included) is
    // one the fence knows.
    let adapter_writes: BTreeSet<String> = adapter_files("dynamodb_audit")
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|code| sdk_calls(without_tests(&code)).actions)
        .filter(|a| looks_like_item_write(a))
        .collect();
    assert!(
        adapter_writes.contains("dynamodb:PutItem")
            && adapter_writes.contains("dynamodb:UpdateItem"),
        "the audit adapter's writes were not found: {adapter_writes:?}"
    );
    for action in adapter_writes
        .iter()
        .filter(|a| !ITEM_WRITES.contains(&a.as_str()))
    {
        problems.push(format!(
            "the audit adapter writes with {action}, which ITEM_WRITES lacks"
        ));
    }
    let denied: BTreeSet<String> = ITEM_WRITES.map(str::to_owned).into();
    let writers = roles_granting(template, &ITEM_WRITES, "AuditTable");
    if writers.is_empty() {
        problems.push("AuditTable: no function writes it".to_owned());
    }
    // Reads stay with IAM (the audit API, auditors), as do the table's settings.
    let never = |action: &str| !ITEM_WRITES.contains(&action);
    check_fence(
        "AuditTable",
        &template["Resources"]["AuditTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"],
        &denied,
        &never,
        &writers,
        &any_resource,
        problems,
    );
}

/// The audit keys, by `KeyUsage`: the key spec the adapter's algorithm needs, the power
/// (the action that makes what verifiers accept) and the actions that only check.
const AUDIT_KEY_KINDS: &[(&str, &str, &str, &[&str])] = &[
    (
        "GENERATE_VERIFY_MAC",
        "HMAC_256",
        "kms:GenerateMac",
        &["kms:VerifyMac", "kms:DescribeKey"],
    ),
    (
        "SIGN_VERIFY",
        "ECC_NIST_P256",
        "kms:Sign",
        &["kms:GetPublicKey", "kms:Verify", "kms:DescribeKey"],
    ),
];

/// What retires an audit key, and so leaves the retained trail unverifiable: the
/// break-glass roles' alone (without them, nobody's).
const KEY_RETIREMENT: [&str; 2] = ["kms:DisableKey", "kms:ScheduleKeyDeletion"];

/// The anchor bucket the stack creates (unless a parameter names one of your own).
const ANCHOR_BUCKET: &str = "AuditAnchorBucket";

/// Writing an anchor: a new version, which readers get instead of the sealer's.
const ANCHOR_WRITES: [&str; 2] = ["s3:PutObject", "s3:PutObjectRetention"];

/// Hiding an anchor (a delete marker) or, once its retention is over, deleting it.
const ANCHOR_DELETES: [&str; 2] = ["s3:DeleteObject", "s3:DeleteObjectVersion"];

/// Whether an IAM action pattern (`kms:*`, `kms:Generate*`, `*`) covers `action`.
fn action_matches(pattern: &str, action: &str) -> bool {
    fn glob(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|at| glob(rest, &text[at..])),
            Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
            Some((c, rest)) => text
                .first()
                .is_some_and(|t| t.eq_ignore_ascii_case(c) && glob(rest, &text[1..])),
        }
    }
    glob(pattern.as_bytes(), action.as_bytes())
}

/// Every principal of the template that an identity policy lets do `action` on
/// `resource` (a logical id): roles, users and groups by their inline policies and the
/// policy resources attached to them, and a managed policy attached to nobody here (it
/// could be attached to anyone) by its own id. Erring on the side of more: an action
/// pattern that covers it, `NotAction`, `Resource: "*"`, `NotResource` and any ARN
/// pattern with a wildcard all count.
fn principals_allowed(template: &Value, action: &str, resource: &str) -> BTreeSet<String> {
    let allows = |document: &Value| {
        document_statements(document).iter().any(|s| {
            let v = s.value;
            let action_hit = v.get("NotAction").is_some()
                || one_or_many(&v["Action"])
                    .iter()
                    .filter_map(|a| a.as_str())
                    .any(|a| action_matches(a, action));
            let resource_hit = v.get("NotResource").is_some()
                || one_or_many(&v["Resource"])
                    .iter()
                    .any(|r| refs(r).contains(resource) || format!("{r:?}").contains('*'));
            v["Effect"].as_str() == Some("Allow") && action_hit && resource_hit
        })
    };
    let mut out = BTreeSet::new();
    for (id, r) in resources(template) {
        let id = id.as_str().unwrap_or_default();
        let p = &r["Properties"];
        let (grantees, documents): (BTreeSet<String>, Vec<&Value>) = match r["Type"].as_str() {
            Some("AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group") => (
                BTreeSet::from([id.to_owned()]),
                one_or_many(&p["Policies"])
                    .into_iter()
                    .map(|policy| &policy["PolicyDocument"])
                    .collect(),
            ),
            Some("AWS::IAM::RolePolicy" | "AWS::IAM::UserPolicy" | "AWS::IAM::GroupPolicy") => {
                let mut to = refs(&p["RoleName"]);
                to.extend(refs(&p["UserName"]));
                to.extend(refs(&p["GroupName"]));
                (to, vec![&p["PolicyDocument"]])
            }
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy") => {
                let mut to = refs(&p["Roles"]);
                to.extend(refs(&p["Users"]));
                to.extend(refs(&p["Groups"]));
                if to.is_empty() {
                    to.insert(id.to_owned());
                }
                (to, vec![&p["PolicyDocument"]])
            }
            _ => continue,
        };
        if documents.into_iter().any(allows) {
            out.extend(grantees);
        }
    }
    out
}

/// The account itself as a key policy's principal: `arn:<partition>:iam::<account>:root`,
/// which delegates to the account's IAM policies.
fn is_account_root(principal: &Value) -> bool {
    let aws = &principal["AWS"];
    intrinsic(aws).is_some_and(|(name, inner)| {
        name == "Sub" && inner.as_str() == Some("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    })
}

/// Checks a deny that spares the break-glass roles alone: its condition is
/// `!If [HasBreakGlassPrincipals, {ArnNotEquals: {aws:PrincipalArn: !Split [",", !Ref
/// BreakGlassPrincipalArns]}}, !Ref AWS::NoValue]`, so that without them it denies
/// everyone.
fn check_break_glass_only(what: &str, statement: &Value, problems: &mut Vec<String>) {
    let ok = match intrinsic(&statement["Condition"]) {
        Some((name, Value::Sequence(branches))) if name == "If" && branches.len() == 3 => {
            let with = &branches[1];
            let only_arn = with.as_mapping().is_some_and(|m| m.len() == 1)
                && with["ArnNotEquals"]
                    .as_mapping()
                    .is_some_and(|m| m.len() == 1);
            let split =
                intrinsic(&with["ArnNotEquals"]["aws:PrincipalArn"]).is_some_and(|(name, args)| {
                    name == "Split"
                        && args.get(0).and_then(Value::as_str) == Some(",")
                        && args.get(1).map(refs) == Some(BTreeSet::from([BREAK_GLASS.to_owned()]))
                });
            let without = intrinsic(&branches[2])
                .is_some_and(|(n, v)| n == "Ref" && v.as_str() == Some("AWS::NoValue"));
            branches[0].as_str() == Some(HAS_BREAK_GLASS) && only_arn && split && without
        }
        _ => false,
    };
    if !ok {
        problems.push(format!(
            "{what}: the condition must be !If [{HAS_BREAK_GLASS}, ArnNotEquals aws:PrincipalArn \
             !Split [\",\", !Ref {BREAK_GLASS}], !Ref AWS::NoValue]: the break-glass roles alone, else nobody"
        ));
    }
}

/// An audit key's fence: the key policy allows the account (its IAM) only; it denies the
/// key's power to every principal but exactly the roles granted it and the break-glass
/// roles, never the checks verifiers need, and retiring the key to all but the
/// break-glass roles. The key is of the spec its adapter's algorithm needs, and retained.
fn audit_key_fence_problems(template: &Value, problems: &mut Vec<String>) {
    let adapter = read("shared/aws-adapters/src/kms_audit_keys.rs");
    assert!(
        adapter.contains("MacAlgorithmSpec::HmacSha256")
            && adapter.contains("SigningAlgorithmSpec::EcdsaSha256"),
        "the key specs below follow the adapter's algorithms: HMAC_SHA_256, ECDSA_SHA_256"
    );
    let mut kinds = BTreeSet::new();
    for (id, resource) in resources(template) {
        let Some(key) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::KMS::Key") {
            continue;
        }
        let p = &resource["Properties"];
        let usage = p["KeyUsage"].as_str().unwrap_or_default();
        let Some((_, spec, power, checks)) = AUDIT_KEY_KINDS.iter().find(|(u, ..)| *u == usage)
        else {
            problems.push(format!(
                "{key}: KeyUsage {usage:?} is not an audit key's (AUDIT_KEY_KINDS)"
            ));
            continue;
        };
        kinds.insert(usage);
        if p["KeySpec"].as_str() != Some(spec) {
            problems.push(format!("{key}: KeySpec must be {spec}"));
        }
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if resource[policy].as_str() != Some("Retain") {
                problems.push(format!(
                    "{key}: {policy} must be Retain: the retained trail needs its keys"
                ));
            }
        }
        let holders = principals_allowed(template, power, key);
        if holders.is_empty() {
            problems.push(format!("{key}: no role holds {power}"));
        }
        let mut fence = Vec::new();
        let mut retired = BTreeSet::new();
        for statement in one_or_many(&p["KeyPolicy"]["Statement"]) {
            let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
            let what = format!("{key}/{sid}");
            match statement["Effect"].as_str() {
                Some("Allow") => {
                    if !is_account_root(&statement["Principal"])
                        || statement.get("Condition").is_some()
                    {
                        problems.push(format!(
                            "{what}: a key policy allows the account's root (its IAM) only; anyone \
                             else gets a key's use through IAM, which the denies bound"
                        ));
                    }
                }
                Some("Deny") if intrinsic(&statement["Condition"]).is_some() => {
                    check_break_glass_only(&what, statement, problems);
                    for action in one_or_many(&statement["Action"])
                        .iter()
                        .filter_map(|a| a.as_str())
                    {
                        if action == *power || checks.contains(&action) || action.contains('*') {
                            problems.push(format!(
                                "{what}: {action} is not the break-glass roles' alone"
                            ));
                        }
                        retired.insert(action.to_owned());
                    }
                }
                Some("Deny") => fence.push(statement.clone()),
                other => problems.push(format!("{what}: Effect {other:?}")),
            }
        }
        for action in KEY_RETIREMENT {
            if !retired.contains(action) {
                problems.push(format!(
                    "{key}: nothing keeps {action} to the break-glass roles"
                ));
            }
        }
        let mut document = serde_norway::Mapping::new();
        document.insert("Statement".into(), Value::Sequence(fence));
        check_fence(
            key,
            &Value::Mapping(document),
            &BTreeSet::from([(*power).to_owned()]),
            &|action: &str| checks.contains(&action),
            &holders,
            &any_resource,
            problems,
        );
    }
    for (usage, ..) in AUDIT_KEY_KINDS {
        if !kinds.contains(usage) {
            problems.push(format!("no audit key with KeyUsage {usage}"));
        }
    }
}

/// The anchor bucket: Object Lock in compliance mode for at least the seals' retention,
/// versioned, private, retained; its policy refuses plain HTTP, denies writing anchors to
/// every principal but exactly the roles granted it and the break-glass roles, and
/// deleting them to all but the break-glass roles.
fn anchor_fence_problems(template: &Value, problems: &mut Vec<String>) {
    let bucket = &template["Resources"][ANCHOR_BUCKET];
    let p = &bucket["Properties"];
    if bucket["Type"].as_str() != Some("AWS::S3::Bucket") {
        problems.push(format!("no {ANCHOR_BUCKET}"));
        return;
    }
    for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
        if bucket[policy].as_str() != Some("Retain") {
            problems.push(format!("{ANCHOR_BUCKET}: {policy} must be Retain"));
        }
    }
    let retention = &p["ObjectLockConfiguration"]["Rule"]["DefaultRetention"];
    if p["ObjectLockEnabled"].as_bool() != Some(true)
        || p["ObjectLockConfiguration"]["ObjectLockEnabled"].as_str() != Some("Enabled")
        || retention["Mode"].as_str() != Some("COMPLIANCE")
        || refs(&retention["Days"]) != BTreeSet::from(["AuditAnchorRetentionDays".to_owned()])
    {
        problems.push(format!(
            "{ANCHOR_BUCKET}: Object Lock on, by default in COMPLIANCE mode for AuditAnchorRetentionDays"
        ));
    }
    if p["VersioningConfiguration"]["Status"].as_str() != Some("Enabled") {
        problems.push(format!("{ANCHOR_BUCKET}: versioning must be on"));
    }
    let block = &p["PublicAccessBlockConfiguration"];
    for setting in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        if block[setting].as_bool() != Some(true) {
            problems.push(format!("{ANCHOR_BUCKET}: {setting} must be true"));
        }
    }
    if one_or_many(&p["OwnershipControls"]["Rules"])
        .iter()
        .all(|r| r["ObjectOwnership"].as_str() != Some("BucketOwnerEnforced"))
    {
        problems.push(format!(
            "{ANCHOR_BUCKET}: ObjectOwnership must be BucketOwnerEnforced"
        ));
    }
    // The seals outlive their records by the bookkeeping margin; so must the anchors'
    // default, and records may not be kept less than the floor the functions enforce.
    let parameters = &template["Parameters"];
    let number = |name: &str, field: &str| number_or_default(template, &parameters[name][field]);
    let floor = gateway::audit_store::ledger::RETENTION_FLOOR
        .whole_days()
        .unsigned_abs();
    let margin = gateway::audit_store::ledger::BOOKKEEPING_MARGIN
        .whole_days()
        .unsigned_abs();
    if number("AuditRetentionDays", "MinValue") != Some(floor) {
        problems.push(format!(
            "AuditRetentionDays: MinValue must be the retention floor, {floor}"
        ));
    }
    for field in ["MinValue", "Default"] {
        let records = number("AuditRetentionDays", field).unwrap_or(u64::MAX);
        let anchors = number("AuditAnchorRetentionDays", field).unwrap_or(0);
        if anchors < records.saturating_add(margin) {
            problems.push(format!(
                "AuditAnchorRetentionDays' {field} ({anchors}) is less than AuditRetentionDays' plus {margin}"
            ));
        }
    }

    let policies: Vec<&Value> = resources(template)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::S3::BucketPolicy"))
        .filter(|r| refs(&r["Properties"]["Bucket"]).contains(ANCHOR_BUCKET))
        .collect();
    let [policy] = policies.as_slice() else {
        problems.push(format!(
            "{ANCHOR_BUCKET}: {} bucket policies, not one",
            policies.len()
        ));
        return;
    };
    if policy["Condition"].as_str() != bucket["Condition"].as_str() {
        problems.push(format!(
            "{ANCHOR_BUCKET}: its policy must exist exactly when it does"
        ));
    }
    let writers = principals_allowed(template, "s3:PutObject", ANCHOR_BUCKET);
    if writers.is_empty() {
        problems.push(format!("{ANCHOR_BUCKET}: nobody writes anchors"));
    }
    let mut fence = Vec::new();
    let (mut tls, mut deletes) = (false, BTreeSet::new());
    for statement in one_or_many(&policy["Properties"]["PolicyDocument"]["Statement"]) {
        let sid = statement["Sid"].as_str().unwrap_or("(no Sid)");
        let what = format!("{ANCHOR_BUCKET}/{sid}");
        let actions: Vec<&str> = one_or_many(&statement["Action"])
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        if statement["Condition"]["Bool"]["aws:SecureTransport"].as_str() == Some("false") {
            tls |= statement["Effect"].as_str() == Some("Deny") && actions == ["s3:*"];
        } else if intrinsic(&statement["Condition"]).is_some() {
            check_break_glass_only(&what, statement, problems);
            for action in actions {
                if !ANCHOR_DELETES.contains(&action) {
                    problems.push(format!(
                        "{what}: {action} is not the break-glass roles' alone"
                    ));
                }
                deletes.insert(action.to_owned());
            }
        } else {
            fence.push(statement.clone());
        }
    }
    if !tls {
        problems.push(format!(
            "{ANCHOR_BUCKET}: its policy must deny s3:* without TLS"
        ));
    }
    for action in ANCHOR_DELETES {
        if !deletes.contains(action) {
            problems.push(format!(
                "{ANCHOR_BUCKET}: nothing keeps {action} to the break-glass roles"
            ));
        }
    }
    let mut document = serde_norway::Mapping::new();
    document.insert("Statement".into(), Value::Sequence(fence));
    check_fence(
        ANCHOR_BUCKET,
        &Value::Mapping(document),
        &ANCHOR_WRITES.map(str::to_owned).into(),
        &|action: &str| !ANCHOR_WRITES.contains(&action),
        &writers,
        &|resource: &Value| refs(resource) == BTreeSet::from([ANCHOR_BUCKET.to_owned()]),
        problems,
    );
}

/// The roles a fence-rule branch exempts (`anything-but` on the session issuer's ARN),
/// and whether callers without a session issuer (users, the root user) match too.
fn rule_exempts(branch: &Value) -> (BTreeSet<String>, bool) {
    let mut exempt = BTreeSet::new();
    let mut no_issuer = false;
    let identity = &branch["detail"]["userIdentity"];
    for alternative in one_or_many(&identity["$or"]) {
        for matcher in one_or_many(&alternative["sessionContext"]["sessionIssuer"]["arn"]) {
            if matcher["exists"].as_bool() == Some(false) {
                no_issuer = true;
            }
            exempt.extend(
                one_or_many(&matcher["anything-but"])
                    .into_iter()
                    .flat_map(refs),
            );
        }
    }
    (exempt, no_issuer)
}

/// The fence rule: each secret's reads by anyone but its readers, the audit table's item
/// writes by anyone but its writers, and every change of a fence, to the alarm topic.
/// The fence rules: the EventBridge rules whose logical id starts with this.
const FENCE_RULE_PREFIX: &str = "Fence";

/// EventBridge's default quota on an event pattern's size, in characters (adjustable;
/// the template must deploy without an increase).
const EVENT_PATTERN_MAX_CHARS: usize = 2048;

/// The stack name's length the pattern size estimate assumes.
const ESTIMATE_STACK_NAME_CHARS: usize = 32;

fn fence_rules(template: &Value) -> Vec<(String, &Value)> {
    resources(template)
        .iter()
        .filter(|(id, r)| {
            r["Type"].as_str() == Some("AWS::Events::Rule")
                && id
                    .as_str()
                    .is_some_and(|id| id.starts_with(FENCE_RULE_PREFIX))
        })
        .map(|(id, r)| (id.as_str().unwrap_or_default().to_owned(), r))
        .collect()
}

/// How long a value CloudFormation substitutes for an intrinsic can be: ARNs and names
/// CloudFormation generates (`<stack>-<logical id>-<13 characters>`, a role's cut to 64),
/// with an [`ESTIMATE_STACK_NAME_CHARS`] stack name, in a long Region name.
fn estimated_chars(template: &Value, name: &str, inner: &Value) -> usize {
    let stack = ESTIMATE_STACK_NAME_CHARS;
    let generated = |id: &str| stack + 1 + id.len() + 1 + 13;
    let target = |id: &str| resource_type(template, id).unwrap_or_default();
    // A `!Sub` string: the stack's name as assumed, anything else substituted 64 long.
    let sub_chars = |text: &str| {
        let mut chars = 0;
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let end = rest[start..]
                .find('}')
                .map_or(rest.len(), |e| start + e + 1);
            let name = &rest[start + 2..end.saturating_sub(1).max(start + 2)];
            chars += start
                + match name {
                    "AWS::StackName" => stack,
                    literal if literal.starts_with('!') => literal.len() + 2,
                    _ => 64,
                };
            rest = &rest[end..];
        }
        chars + rest.len()
    };
    match name {
        "GetAtt" => {
            let parts: Vec<&str> = match inner {
                Value::String(s) => s.split('.').collect(),
                Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            match (parts.first().copied().map(target), parts.get(1).copied()) {
                (Some("AWS::IAM::Role"), Some("Arn")) => {
                    "arn:aws:iam::123456789012:role/".len() + generated(parts[0]).min(64)
                }
                (Some("AWS::DynamoDB::Table"), Some("Arn")) => {
                    "arn:aws:dynamodb:ap-southeast-2:123456789012:table/".len()
                        + generated(parts[0])
                }
                // A key id is a UUID, or mrk- and 32 hex digits: 36 characters either way.
                (Some("AWS::KMS::Key"), Some("Arn")) => {
                    "arn:aws:kms:ap-southeast-2:123456789012:key/".len() + 36
                }
                _ => 128,
            }
        }
        "Ref" => {
            let id = inner.as_str().unwrap_or_default();
            match target(id) {
                "AWS::SecretsManager::Secret" => {
                    let named = intrinsic(&template["Resources"][id]["Properties"]["Name"])
                        .and_then(|(_, n)| n.as_str().map(sub_chars));
                    "arn:aws:secretsmanager:ap-southeast-2:123456789012:secret:".len()
                        + named.unwrap_or(id.len() + 13)
                        + "-AbCdEf".len()
                }
                "AWS::DynamoDB::Table" => generated(id),
                _ => 128,
            }
        }
        "Sub" => inner.as_str().map_or(128, sub_chars),
        _ => 128,
    }
}

/// A value as the JSON CloudFormation hands on, each intrinsic replaced by a string of
/// its estimated length.
fn estimated_json(template: &Value, value: &Value) -> serde_json::Value {
    // A condition's choice: the longer of its two values.
    if let Some((name, Value::Sequence(args))) = intrinsic(value)
        && name == "If"
        && args.len() == 3
    {
        let [a, b] = [&args[1], &args[2]].map(|v| estimated_json(template, v));
        return if a.to_string().len() >= b.to_string().len() {
            a
        } else {
            b
        };
    }
    if let Some((name, inner)) = intrinsic(value) {
        return serde_json::Value::String("x".repeat(estimated_chars(template, &name, inner)));
    }
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap_or_default(),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => items.iter().map(|v| estimated_json(template, v)).collect(),
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap_or_default().to_owned(),
                    estimated_json(template, v),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Tagged(tagged) => estimated_json(template, &tagged.value),
    }
}

fn fence_rule_problems(template: &Value, problems: &mut Vec<String>) {
    let rules = fence_rules(template);
    if rules.is_empty() {
        problems.push(format!("no fence rules ({FENCE_RULE_PREFIX}…)"));
        return;
    }
    let mut branches: Vec<&Value> = Vec::new();
    for (rule, resource) in &rules {
        let properties = &resource["Properties"];
        if properties["State"].as_str() != Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") {
            problems.push(format!(
                "{rule} must take read-only management events (GetSecretValue)"
            ));
        }
        let targets: BTreeSet<String> = one_or_many(&properties["Targets"])
            .iter()
            .flat_map(|t| refs(&t["Arn"]))
            .collect();
        if targets != BTreeSet::from(["AlarmTopic".to_owned(), "AlarmTopicArn".to_owned()]) {
            problems.push(format!(
                "{rule} must notify the alarm topic, not {targets:?}"
            ));
        }
        let pattern = &properties["EventPattern"];
        if one_or_many(&pattern["detail-type"])
            .iter()
            .filter_map(|d| d.as_str())
            .collect::<Vec<_>>()
            != ["AWS API Call via CloudTrail"]
        {
            problems.push(format!("{rule} must match CloudTrail's API calls"));
        }
        match pattern.get("$or") {
            Some(alternatives) => branches.extend(one_or_many(alternatives)),
            None => branches.push(pattern),
        }
        let chars = estimated_json(template, pattern).to_string().len();
        if chars > EVENT_PATTERN_MAX_CHARS {
            problems.push(format!(
                "{rule}'s pattern may reach {chars} characters, over EventBridge's {EVENT_PATTERN_MAX_CHARS}: split it"
            ));
        }
        // Its failed deliveries alarm.
        let watched = resources(template).values().any(|alarm| {
            alarm["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && std::iter::once(&alarm["Properties"])
                    .chain(
                        one_or_many(&alarm["Properties"]["Metrics"])
                            .into_iter()
                            .map(|m| &m["MetricStat"]["Metric"]),
                    )
                    .any(|metric| {
                        metric["Namespace"].as_str() == Some("AWS/Events")
                            && metric["MetricName"].as_str() == Some("FailedInvocations")
                            && refs(&metric["Dimensions"]).contains(rule)
                    })
        });
        if !watched {
            problems.push(format!("no alarm on {rule}'s failed deliveries"));
        }
    }
    let names = |branch: &Value| -> BTreeSet<String> {
        one_or_many(&branch["detail"]["eventName"])
            .iter()
            .filter_map(|n| n.as_str())
            .map(str::to_owned)
            .collect()
    };
    // A secret is matched by its ARN (`!Ref`) and, when named, by its name anywhere.
    let matches_secret = |branch: &Value, secret: &str| {
        let name = template["Resources"][secret]["Properties"]["Name"].clone();
        one_or_many(&branch["detail"]["requestParameters"]["secretId"])
            .iter()
            .any(|id| {
                refs(id).contains(secret)
                    || intrinsic(&name)
                        .and_then(|(_, n)| n.as_str().map(str::to_owned))
                        .zip(intrinsic(&id["wildcard"]).and_then(|(_, w)| w.as_str()))
                        .is_some_and(|(n, w)| w == format!("*{n}*"))
            })
    };
    for (id, resource) in resources(template) {
        let Some(secret) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::SecretsManager::Secret") {
            continue;
        }
        let readers = roles_granting(template, &["secretsmanager:GetSecretValue"], secret);
        let reads: Vec<&&Value> = branches
            .iter()
            .filter(|b| names(b).contains("GetSecretValue") && matches_secret(b, secret))
            .collect();
        if reads.is_empty() {
            problems.push(format!("the fence rule does not watch reads of {secret}"));
        }
        for branch in reads {
            let (exempt, no_issuer) = rule_exempts(branch);
            if exempt != readers || !no_issuer {
                problems.push(format!(
                    "the fence rule exempts {exempt:?} (callers without a role: {no_issuer}) from reads of {secret}; exactly {readers:?} read it"
                ));
            }
        }
        let changes = branches.iter().any(|b| {
            let n = names(b);
            n.contains("PutResourcePolicy")
                && n.contains("DeleteResourcePolicy")
                && matches_secret(b, secret)
        });
        if !changes {
            problems.push(format!(
                "the fence rule does not watch changes of {secret}'s fence"
            ));
        }
    }
    let writers = roles_granting(template, &ITEM_WRITES, "AuditTable");
    let on_table = |branch: &Value| {
        refs(&branch["detail"]["resources"]).contains("AuditTable")
            || refs(&branch["detail"]["requestParameters"]).contains("AuditTable")
    };
    let item_writes: Vec<&&Value> = branches
        .iter()
        .filter(|b| {
            on_table(b)
                && [
                    "PutItem",
                    "UpdateItem",
                    "DeleteItem",
                    "BatchWriteItem",
                    "TransactWriteItems",
                    "ExecuteStatement",
                ]
                .iter()
                .all(|n| names(b).contains(*n))
        })
        .collect();
    if item_writes.is_empty() {
        problems.push("the fence rule does not watch writes to AuditTable's items".into());
    }
    for branch in item_writes {
        let (exempt, no_issuer) = rule_exempts(branch);
        if exempt != writers || !no_issuer {
            problems.push(format!(
                "the fence rule exempts {exempt:?} from writes to AuditTable; exactly {writers:?} write it"
            ));
        }
    }
    for change in ["PutResourcePolicy", "DeleteResourcePolicy", "UpdateTable"] {
        if !branches
            .iter()
            .any(|b| on_table(b) && names(b).contains(change))
        {
            problems.push(format!(
                "the fence rule does not watch {change} on AuditTable"
            ));
        }
    }
    // Each audit key: its power used by anyone but its holders, and its policy changed
    // or the key retired.
    let on_resource = |branch: &Value, id: &str| refs(&branch["detail"]["resources"]).contains(id);
    for (id, resource) in resources(template) {
        let Some(key) = id.as_str() else { continue };
        if resource["Type"].as_str() != Some("AWS::KMS::Key") {
            continue;
        }
        let usage = resource["Properties"]["KeyUsage"]
            .as_str()
            .unwrap_or_default();
        let Some((_, _, power, _)) = AUDIT_KEY_KINDS.iter().find(|(u, ..)| *u == usage) else {
            continue;
        };
        let holders = principals_allowed(template, power, key);
        let event = power.trim_start_matches("kms:");
        let uses: Vec<&&Value> = branches
            .iter()
            .filter(|b| names(b).contains(event) && on_resource(b, key))
            .collect();
        if uses.is_empty() {
            problems.push(format!("the fence rule does not watch {event} with {key}"));
        }
        for branch in uses {
            let (exempt, no_issuer) = rule_exempts(branch);
            if exempt != holders || !no_issuer {
                problems.push(format!(
                    "the fence rule exempts {exempt:?} (callers without a role: {no_issuer}) from {event} with {key}; exactly {holders:?} hold it"
                ));
            }
        }
        let changes = branches.iter().any(|b| {
            let n = names(b);
            on_resource(b, key)
                && ["PutKeyPolicy", "DisableKey", "ScheduleKeyDeletion"]
                    .iter()
                    .all(|c| n.contains(*c))
        });
        if !changes {
            problems.push(format!(
                "the fence rule does not watch PutKeyPolicy, DisableKey and ScheduleKeyDeletion on {key}"
            ));
        }
    }
    // The anchor bucket: its fence changed or removed, or a lifecycle rule (which
    // expires objects past any bucket policy) added.
    let bucket_changes = branches.iter().any(|b| {
        let n = names(b);
        refs(&b["detail"]["requestParameters"]["bucketName"]).contains(ANCHOR_BUCKET)
            && [
                "PutBucketPolicy",
                "DeleteBucketPolicy",
                "PutBucketLifecycle",
            ]
            .iter()
            .all(|c| n.contains(*c))
    });
    if !bucket_changes {
        problems.push(format!(
            "the fence rule does not watch PutBucketPolicy, DeleteBucketPolicy and PutBucketLifecycle on {ANCHOR_BUCKET}"
        ));
    }
    // The created topic lets the rules, and only they, publish.
    let rule_ids: BTreeSet<String> = rules.iter().map(|(id, _)| id.clone()).collect();
    let topic_allows_rules = resources(template)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::SNS::TopicPolicy"))
        .filter(|r| refs(&r["Properties"]["Topics"]).contains("AlarmTopic"))
        .flat_map(|r| one_or_many(&r["Properties"]["PolicyDocument"]["Statement"]))
        .any(|s| {
            s["Effect"].as_str() == Some("Allow")
                && s["Principal"]["Service"].as_str() == Some("events.amazonaws.com")
                && refs(&s["Condition"]) == rule_ids
        });
    if !topic_allows_rules {
        problems.push(format!(
            "the alarm topic's policy does not let exactly the fence rules {rule_ids:?} publish"
        ));
    }
}

fn fence_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    secret_fence_problems(template, &mut problems);
    table_fence_problems(template, &mut problems);
    audit_key_fence_problems(template, &mut problems);
    anchor_fence_problems(template, &mut problems);
    fence_rule_problems(template, &mut problems);
    problems
}

#[test]
fn the_secrets_and_the_audit_table_are_fenced_to_exactly_their_readers_and_writers() {
    let problems = fence_problems(&template());
    assert!(
        problems.is_empty(),
        "template.yaml's fences:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_audit_routes_require_the_auditors_scope_which_the_function_checks_again() {
    let template = template();
    let functions = functions(&template);
    let audit = functions
        .iter()
        .find(|f| f.code_uri() == "functions/audit-api")
        .expect("the audit-api function");
    let scope = BTreeSet::from(["AuditJwtScope".to_owned()]);
    let events: Vec<(&Value, &Value)> = audit.value["Properties"]["Events"]
        .as_mapping()
        .map(|events| events.iter().collect())
        .unwrap_or_default();
    assert!(!events.is_empty(), "the audit API has routes");
    let (console, events): (Vec<_>, Vec<_>) = events.into_iter().partition(|(_, event)| {
        CONSOLE_ROUTES.contains(&event["Properties"]["Path"].as_str().unwrap_or_default())
    });
    // The console's page and assets only are served without a token.
    let console_paths: BTreeSet<&str> = console
        .iter()
        .filter_map(|(_, event)| event["Properties"]["Path"].as_str())
        .collect();
    assert_eq!(console_paths, BTreeSet::from(CONSOLE_ROUTES));
    for (name, event) in console {
        assert_eq!(
            event["Properties"]["Method"].as_str(),
            Some("GET"),
            "{name:?}"
        );
    }
    assert!(
        audit
            .variable_refs("AUDIT_CONSOLE_CLIENT_ID")
            .contains("AuditConsoleClientId")
    );
    for (name, event) in events {
        let auth = &event["Properties"]["Auth"];
        assert!(
            auth["Authorizer"].as_str().is_some(),
            "{name:?}: a JWT authorizer"
        );
        let scopes = one_or_many(&auth["AuthorizationScopes"]);
        assert_eq!(scopes.len(), 1, "{name:?}: exactly the auditors' scope");
        assert_eq!(refs(scopes[0]), scope, "{name:?}: AuthorizationScopes");
    }
    // The function checks the same scope, and the client allow-list, itself.
    assert_eq!(audit.variable_refs("JWT_REQUIRED_SCOPE"), scope);
    assert!(
        audit
            .variable_refs("JWT_ALLOWED_CLIENT_IDS")
            .contains("AuditJwtClientIds")
    );
    // The defaults: the verifier's scope, and an audience of the audit API's own.
    let parameters = &template["Parameters"];
    assert_eq!(
        parameters["AuditJwtScope"]["Default"].as_str(),
        Some(clients::jwks::DEFAULT_REQUIRED_SCOPE)
    );
    assert!(
        parameters["AuditJwtAudience"]["Default"]
            .as_str()
            .is_some_and(|a| a != "api://default"),
        "the default audience is a dedicated one, not Okta's default server's"
    );
    assert_eq!(
        parameters["AuditJwtClientIds"]["Default"].as_str(),
        Some("")
    );
}

/// The value at `path` under `value`: mapping keys, or sequence indexes.
fn at_path<'a>(mut value: &'a mut Value, path: &[&str]) -> &'a mut Value {
    for key in path {
        value = match (value, key.parse::<usize>()) {
            (Value::Sequence(items), Ok(index)) => &mut items[index],
            (other, _) => &mut other[*key],
        };
    }
    value
}

#[test]
fn the_fence_check_catches_extra_missing_and_wrong_principals_and_actions() {
    let template = template();
    let edited = |path: &[&str], edit: &dyn Fn(&mut Value)| {
        let mut template = template.clone();
        edit(at_path(&mut template["Resources"], path));
        fence_problems(&template)
    };
    let yaml = |text: &str| -> Value { serde_norway::from_str(text).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    let arns = |policy: &'static str| -> Vec<&'static str> {
        vec![
            policy,
            "Properties",
            "ResourcePolicy",
            "Statement",
            "0",
            "Condition",
            "ArnNotEquals",
        ]
    };

    // The audit API's role spared on the Identity Center token, which it never reads.
    let extra = edited(&arns("IdentityCenterTokenSecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole.Arn},${AuditApiRole.Arn},${BreakGlassPrincipalArns}'], [!GetAtt ScimApiRole.Arn, !GetAtt AuditApiRole.Arn]]",
        )
    });
    assert!(
        mentions(
            &extra,
            "IdentityCenterTokenSecret/OnlyItsReadersReadTheValue: spares"
        ),
        "{extra:?}"
    );

    // The reconciler's role not spared on the Okta API token, which it reads; no break-glass.
    let missing = edited(&arns("OktaApiTokenSecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${EventWorkerRole.Arn}'], [!GetAtt EventWorkerRole.Arn]]",
        )
    });
    assert!(
        mentions(
            &missing,
            "OktaApiTokenSecret/OnlyItsReadersReadTheValue: spares"
        ),
        "{missing:?}"
    );

    // A role's name where its ARN belongs; a looser operator; an allow; a fenced put.
    let name = edited(&arns("ScimTokensSecretPolicy"), &|c| {
        c["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole},${BreakGlassPrincipalArns}'], [!Ref ScimApiRole]]",
        )
    });
    assert!(mentions(&name, "is not a role's ARN"), "{name:?}");
    let statement = [
        "ScimTokensSecretPolicy",
        "Properties",
        "ResourcePolicy",
        "Statement",
    ];
    let like = edited(&[&statement[..], &["0", "Condition"][..]].concat(), &|c| {
        let principals = c["ArnNotEquals"]["aws:PrincipalArn"].clone();
        *c = yaml("{ArnNotLike: {aws:PrincipalArn: placeholder}}");
        c["ArnNotLike"]["aws:PrincipalArn"] = principals;
    });
    assert!(
        mentions(&like, "ArnNotEquals on aws:PrincipalArn alone"),
        "{like:?}"
    );
    let allow = edited(&statement, &|s| {
        if let Value::Sequence(s) = s {
            s.push(yaml("{Sid: Open, Effect: Allow, Principal: '*', Action: secretsmanager:GetSecretValue, Resource: '*'}"));
        }
    });
    assert!(mentions(&allow, "only Deny statements"), "{allow:?}");
    let put = edited(&[&statement[..], &["0"][..]].concat(), &|s| {
        s["Action"] = yaml("[secretsmanager:GetSecretValue, secretsmanager:PutSecretValue]")
    });
    assert!(
        mentions(&put, "denies secretsmanager:PutSecretValue"),
        "{put:?}"
    );

    // The table's fence without DeleteItem, or denying reads.
    let table = [
        "AuditTable",
        "Properties",
        "ResourcePolicy",
        "PolicyDocument",
        "Statement",
        "0",
        "Action",
    ];
    let no_delete = edited(&table, &|actions| {
        if let Value::Sequence(actions) = actions {
            actions.retain(|a| a.as_str() != Some("dynamodb:DeleteItem"));
        }
    });
    assert!(
        mentions(&no_delete, "AuditTable: does not deny dynamodb:DeleteItem"),
        "{no_delete:?}"
    );
    let reads = edited(&table, &|actions| {
        if let Value::Sequence(actions) = actions {
            actions.push(yaml("dynamodb:Query"));
        }
    });
    assert!(mentions(&reads, "denies dynamodb:Query"), "{reads:?}");

    // The rule exempting the audit API's role from reads of the Identity Center token, or
    // not watching callers without a role.
    let identity = [
        "FenceRule",
        "Properties",
        "EventPattern",
        "$or",
        "0",
        "detail",
        "userIdentity",
    ];
    let rule = edited(&identity, &|u| {
        *u = yaml(
            "{$or: [{sessionContext: {sessionIssuer: {arn: [anything-but: [!GetAtt ScimApiRole.Arn, !GetAtt AuditApiRole.Arn]]}}}, {sessionContext: {sessionIssuer: {arn: [exists: false]}}}]}",
        );
    });
    assert!(
        mentions(&rule, "from reads of IdentityCenterTokenSecret"),
        "{rule:?}"
    );
    let roles_only = edited(&identity, &|u| {
        *u = yaml(
            "{sessionContext: {sessionIssuer: {arn: [anything-but: [!GetAtt ScimApiRole.Arn]]}}}",
        );
    });
    assert!(
        mentions(&roles_only, "callers without a role: false"),
        "{roles_only:?}"
    );

    // The key rule exempting the audit API's role from MACs; the change rule without the
    // keys' or the anchor bucket's branch.
    let macs = edited(
        &[
            "FenceAuditKeyRule",
            "Properties",
            "EventPattern",
            "$or",
            "0",
            "detail",
            "userIdentity",
        ],
        &|u| {
            *u = yaml(
                "{$or: [{sessionContext: {sessionIssuer: {arn: [anything-but: [!GetAtt ScimApiRole.Arn, !GetAtt EventWorkerRole.Arn, !GetAtt ReconcilerRole.Arn, !GetAtt AuditApiRole.Arn]]}}}, {sessionContext: {sessionIssuer: {arn: [exists: false]}}}]}",
            );
        },
    );
    assert!(
        mentions(&macs, "from GenerateMac with AuditMacKey"),
        "{macs:?}"
    );
    let changes = ["FenceChangeRule", "Properties", "EventPattern", "$or"];
    let no_keys = edited(&changes, &|branches| {
        if let Value::Sequence(branches) = branches {
            branches.retain(|b| !matches!(b["source"][0].as_str(), Some("aws.kms" | "aws.s3")));
        }
    });
    for key in ["AuditMacKey", "AuditSealKey"] {
        assert!(
            mentions(
                &no_keys,
                &format!(
                    "does not watch PutKeyPolicy, DisableKey and ScheduleKeyDeletion on {key}"
                )
            ),
            "{no_keys:?}"
        );
    }
    assert!(
        mentions(&no_keys, "PutBucketLifecycle on AuditAnchorBucket"),
        "{no_keys:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Separated powers: who can make the audit trail verify

/// The powers that make something verifiers accept: (action, on what, what it makes).
const POWERS: [(&str, &str, &str); 3] = [
    (
        "kms:GenerateMac",
        "AuditMacKey",
        "a record, head or registration",
    ),
    ("kms:Sign", "AuditSealKey", "a seal"),
    ("s3:PutObject", ANCHOR_BUCKET, "a seal's anchor"),
];

/// The roles of the functions whose code makes `action` (derived as the policy check
/// derives it).
fn roles_whose_code_calls(template: &Value, action: &str) -> BTreeSet<String> {
    functions(template)
        .iter()
        .filter(|f| derived_calls(f).0.actions.contains(action))
        .map(Function::role_id)
        .collect()
}

/// What could let anyone but the writers make a MAC, or anyone but the sealer a seal's
/// signature or anchor, that verifies: a grant of a power to any other principal of the
/// template (by any action pattern or resource pattern that covers it), any power in the
/// audit API's role, and a key or bucket policy that does not deny the power to every
/// principal outside its holders and the break-glass roles (the auditors' roles, the
/// account's administrators: whatever IAM grants them). Empty when nothing could.
fn power_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let audit_api = functions(template)
        .iter()
        .find(|f| f.code_uri() == "functions/audit-api")
        .map(Function::role_id)
        .expect("the audit-api function");
    for (power, resource, makes) in POWERS {
        let by_code = roles_whose_code_calls(template, power);
        let by_grant = principals_allowed(template, power, resource);
        if by_code.is_empty() {
            problems.push(format!(
                "no function's code calls {power}: who makes {makes}?"
            ));
        }
        if by_grant != by_code {
            problems.push(format!(
                "{power} on {resource}, which makes {makes} that verifies, is granted to {by_grant:?}; \
                 exactly {by_code:?}, whose code makes it, may hold it"
            ));
        }
        if by_code.contains(&audit_api) {
            problems.push(format!("the audit API's code makes {makes} ({power})"));
        }
    }
    for statement in statements(template, &audit_api) {
        for action in statement.actions() {
            for (power, ..) in POWERS {
                if action_matches(&action, power) {
                    problems.push(format!(
                        "{audit_api}/{}: {action} covers {power}; the audit API only verifies",
                        statement.sid()
                    ));
                }
            }
        }
    }
    // Whatever IAM grants: the keys' and the bucket's own policies.
    audit_key_fence_problems(template, &mut problems);
    anchor_fence_problems(template, &mut problems);
    problems
}

#[test]
fn the_audit_apis_and_the_auditors_permissions_cannot_produce_a_record_or_seal_that_verifies() {
    let template = template();
    let problems = power_problems(&template);
    assert!(
        problems.is_empty(),
        "template.yaml's audit powers:\n  {}",
        problems.join("\n  ")
    );
    // Who holds them, by name: the writers MAC; the sealer signs and anchors.
    let all = functions(&template);
    let roles = |binaries: &[&str]| -> BTreeSet<String> {
        binaries
            .iter()
            .map(|b| function_by_binary(&all, b).role_id())
            .collect()
    };
    for (power, resource, _) in POWERS {
        let holders = principals_allowed(&template, power, resource);
        let expected = if power == "kms:GenerateMac" {
            roles(&["scim-api", "event-worker", "reconciler", "entitlements"])
        } else {
            roles(&["sealer"])
        };
        assert_eq!(holders, expected, "{power} on {resource}");
        assert!(!holders.contains("AuditApiRole"), "{power}");
    }
    // The audit API verifies: it checks MACs and reads the seal key's public half.
    let (calls, _) = derived_calls(function_by_binary(&all, "audit-api"));
    for action in [
        "kms:VerifyMac",
        "kms:GetPublicKey",
        "s3:GetObject",
        "s3:ListBucket",
    ] {
        assert!(calls.actions.contains(action), "{action}: {calls:?}");
    }
}

#[test]
fn the_power_check_catches_a_mac_signature_or_anchor_power_beyond_its_holders() {
    let template = template();
    let yaml = |text: &str| -> Value { serde_norway::from_str(text).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut template = template.clone();
        edit(&mut template);
        power_problems(&template)
    };
    let grant = |role: &'static str, statement: &'static str| {
        move |t: &mut Value| {
            if let Value::Sequence(statements) = &mut t["Resources"][role]["Properties"]["Policies"]
                [0]["PolicyDocument"]["Statement"]
            {
                statements.push(serde_norway::from_str(statement).unwrap());
            }
        }
    };

    // The audit API's role granted GenerateMac: the grant and the role are named, and
    // the policy check finds a grant its code never calls.
    let forge = grant(
        "AuditApiRole",
        "{Sid: Forge, Effect: Allow, Action: [kms:GenerateMac], Resource: !GetAtt AuditMacKey.Arn}",
    );
    let problems = with(&forge);
    assert!(
        mentions(&problems, "kms:GenerateMac on AuditMacKey")
            && mentions(
                &problems,
                "AuditApiRole/Forge: kms:GenerateMac covers kms:GenerateMac"
            ),
        "{problems:?}"
    );
    let mut edited = template.clone();
    forge(&mut edited);
    assert!(
        mentions(
            &policy_problems(&edited),
            "AuditApiFunction: grants kms:GenerateMac, which its code"
        ),
        "the policy check too"
    );

    // A wildcard for another function, on every key: both key powers.
    let problems = with(&grant(
        "TokenAgeRole",
        "{Sid: All, Effect: Allow, Action: ['kms:*'], Resource: '*'}",
    ));
    assert!(
        mentions(&problems, "kms:GenerateMac on AuditMacKey")
            && mentions(&problems, "kms:Sign on AuditSealKey"),
        "{problems:?}"
    );

    // The sealer's power given to a writer; a policy for auditors attached to nobody yet.
    let problems = with(&grant(
        "ScimApiRole",
        "{Sid: Anchor, Effect: Allow, Action: [s3:PutObject], Resource: !Sub '${AuditAnchorBucket.Arn}/seals/*'}",
    ));
    assert!(
        mentions(&problems, "s3:PutObject on AuditAnchorBucket"),
        "{problems:?}"
    );
    let problems = with(&|t| {
        t["Resources"]["Auditors"] = yaml(
            "{Type: AWS::IAM::ManagedPolicy, Properties: {PolicyDocument: {Version: '2012-10-17', \
             Statement: [{Effect: Allow, Action: ['kms:S*'], Resource: !GetAtt AuditSealKey.Arn}]}}}",
        );
    });
    assert!(mentions(&problems, "\"Auditors\""), "{problems:?}");

    // The MAC key's fence sparing the audit API's role; the key policy allowing it.
    let problems = with(&|t| {
        t["Resources"]["AuditMacKey"]["Properties"]["KeyPolicy"]["Statement"][1]["Condition"]["ArnNotEquals"]
            ["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${ScimApiRole.Arn},${EventWorkerRole.Arn},${ReconcilerRole.Arn},${AuditApiRole.Arn},${BreakGlassPrincipalArns}'], \
             [!GetAtt ScimApiRole.Arn, !GetAtt EventWorkerRole.Arn, !GetAtt ReconcilerRole.Arn, !GetAtt AuditApiRole.Arn]]",
        );
    });
    assert!(
        mentions(&problems, "AuditMacKey/OnlyTheWritersMakeMacs: spares"),
        "{problems:?}"
    );
    let problems = with(&|t| {
        if let Value::Sequence(statements) =
            &mut t["Resources"]["AuditSealKey"]["Properties"]["KeyPolicy"]["Statement"]
        {
            statements.push(yaml(
                "{Sid: Auditors, Effect: Allow, Principal: {AWS: !GetAtt AuditApiRole.Arn}, Action: kms:Sign, Resource: '*'}",
            ));
        }
    });
    assert!(
        mentions(&problems, "AuditSealKey/Auditors: a key policy allows"),
        "{problems:?}"
    );

    // No fence on Sign; retirement left to anyone.
    let problems = with(&|t| {
        if let Value::Sequence(statements) =
            &mut t["Resources"]["AuditSealKey"]["Properties"]["KeyPolicy"]["Statement"]
        {
            statements.retain(|s| s["Effect"].as_str() == Some("Allow"));
        }
    });
    assert!(
        mentions(&problems, "AuditSealKey: does not deny kms:Sign")
            && mentions(
                &problems,
                "AuditSealKey: nothing keeps kms:ScheduleKeyDeletion"
            ),
        "{problems:?}"
    );

    // The bucket's fence sparing the audit API's role, or gone.
    let problems = with(&|t| {
        t["Resources"]["AuditAnchorBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][1]
            ["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = yaml(
            "!If [HasBreakGlassPrincipals, !Split [',', !Sub '${SealerRole.Arn},${AuditApiRole.Arn},${BreakGlassPrincipalArns}'], [!GetAtt SealerRole.Arn, !GetAtt AuditApiRole.Arn]]",
        );
    });
    assert!(
        mentions(
            &problems,
            "AuditAnchorBucket/OnlyTheSealerWritesAnchors: spares"
        ),
        "{problems:?}"
    );
    let problems = with(&|t| {
        t["Resources"]
            .as_mapping_mut()
            .expect("Resources")
            .remove("AuditAnchorBucketPolicy");
    });
    assert!(
        mentions(&problems, "AuditAnchorBucket: 0 bucket policies"),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Metrics

/// The metric names a function declares itself, by constant name: every
/// `pub const NAME: &str = "Value";` of its `src/metrics.rs` (outside its tests), empty
/// when it has none (its metrics are `edge::metrics`').
fn own_metric_names(function: &Function<'_>) -> BTreeMap<String, String> {
    let path = root()
        .join(function.code_uri())
        .join("src")
        .join("metrics.rs");
    let code = std::fs::read_to_string(path).unwrap_or_default();
    without_tests(&code)
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": &str = \"")?;
            let value = value.strip_suffix("\";")?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Every metric the functions emit: `edge::metrics`' and each function's own (see
/// [`own_metric_names`]), with the functions that declare each of the latter.
fn emitted_metrics(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut emitted: BTreeMap<String, BTreeSet<String>> = edge::metrics::METRIC_NAMES
        .iter()
        .map(|name| ((*name).to_owned(), BTreeSet::new()))
        .collect();
    for function in functions(template) {
        for value in own_metric_names(&function).into_values() {
            emitted
                .entry(value)
                .or_default()
                .insert(function.id.clone());
        }
    }
    emitted
}

/// The `scimgw` metric names the alarms use.
fn alarm_metric_names(template: &Value) -> Vec<String> {
    let mut names = Vec::new();
    for (_, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let properties = &resource["Properties"];
        if properties["Namespace"].as_str() == Some(edge::metrics::NAMESPACE) {
            names.extend(properties["MetricName"].as_str().map(str::to_owned));
            for dimension in one_or_many(&properties["Dimensions"]) {
                assert_eq!(
                    dimension["Name"].as_str(),
                    Some(edge::metrics::DIM_FUNCTION)
                );
            }
        }
        for metric in one_or_many(&properties["Metrics"]) {
            let metric = &metric["MetricStat"]["Metric"];
            if metric["Namespace"].as_str() == Some(edge::metrics::NAMESPACE) {
                names.extend(metric["MetricName"].as_str().map(str::to_owned));
            }
        }
    }
    names
}

/// The dashboard's body, with `${…}` substitutions replaced so that it parses as JSON.
/// Every dashboard's widgets, as one body (the entitlements function's runs are on a
/// dashboard of their own, which exists only with it).
fn dashboard_body(template: &Value) -> serde_json::Value {
    let mut widgets = Vec::new();
    for dashboard in resources(template)
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::CloudWatch::Dashboard"))
    {
        let (_, body) = intrinsic(&dashboard["Properties"]["DashboardBody"])
            .expect("a dashboard with a !Sub body");
        let mut text = body.as_str().expect("a string body").to_owned();
        while let Some(start) = text.find("${") {
            let end = text[start..]
                .find('}')
                .map_or(text.len(), |e| start + e + 1);
            text.replace_range(start..end, "1");
        }
        let body: serde_json::Value =
            serde_json::from_str(&text).expect("the dashboard body is JSON");
        widgets.extend(body["widgets"].as_array().cloned().unwrap_or_default());
    }
    assert!(!widgets.is_empty(), "a dashboard");
    serde_json::json!({ "widgets": widgets })
}

/// The `scimgw` metric names a dashboard shows: in metric arrays and in SEARCH expressions.
fn dashboard_metric_names(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Array(items) => {
            if items.first().and_then(|v| v.as_str()) == Some(edge::metrics::NAMESPACE) {
                out.extend(items.get(1).and_then(|v| v.as_str()).map(str::to_owned));
            }
            items.iter().for_each(|v| dashboard_metric_names(v, out));
        }
        serde_json::Value::Object(map) => {
            if let Some(expression) = map.get("expression").and_then(|e| e.as_str())
                && expression.contains(&format!("{{{},", edge::metrics::NAMESPACE))
            {
                for part in expression.split("MetricName=\"").skip(1) {
                    out.extend(part.split('"').next().map(str::to_owned));
                }
            }
            map.values().for_each(|v| dashboard_metric_names(v, out));
        }
        _ => {}
    }
}

#[test]
fn alarms_and_dashboard_use_exactly_the_metrics_the_functions_emit() {
    let template = template();
    let emitted = emitted_metrics(&template);
    let all = functions(&template);
    let reconciler = own_metric_names(function_by_binary(&all, "reconciler"));
    assert!(
        reconciler.len() >= 10,
        "the reconciler's metric names are read from its source: {reconciler:?}"
    );
    let sealer = own_metric_names(function_by_binary(&all, "sealer"));
    assert!(
        sealer.len() >= 5,
        "the sealer's metric names are read from its source: {sealer:?}"
    );
    assert!(
        emitted.len() >= edge::metrics::METRIC_NAMES.len() + reconciler.len() + sealer.len(),
        "no function's own metric shadows another's or edge::metrics': {emitted:?}"
    );

    let alarmed = alarm_metric_names(&template);
    for name in &alarmed {
        assert!(
            emitted.contains_key(name.as_str()),
            "an alarm uses {name}, which no function emits"
        );
    }
    // The alarms the deployment promises: Identity Center throttling and token age, drift
    // that persists, a reconcile plan refused for its size, and every metric of the
    // sealer (failed and silent sealing, repairs, the daily verification's findings).
    let metric = |of: &BTreeMap<String, String>, constant: &str| {
        of.get(constant)
            .cloned()
            .unwrap_or_else(|| panic!("{constant} is declared"))
    };
    for required in [
        edge::metrics::TARGET_THROTTLES.to_owned(),
        edge::metrics::TARGET_CALLS.to_owned(),
        edge::metrics::TARGET_TOKEN_AGE_DAYS.to_owned(),
        metric(&reconciler, "DRIFT_CHANGES"),
        metric(&reconciler, "RECONCILE_REFUSED"),
    ]
    .into_iter()
    .chain(sealer.values().cloned())
    {
        assert!(alarmed.contains(&required), "no alarm on {required}");
    }
    // An alarm on a function's own metric names that function.
    for (id, resource) in resources(&template) {
        let properties = &resource["Properties"];
        let Some(name) = properties["MetricName"].as_str() else {
            continue;
        };
        let owners = emitted.get(name).cloned().unwrap_or_default();
        if properties["Namespace"].as_str() != Some(edge::metrics::NAMESPACE) || owners.is_empty() {
            continue;
        }
        let named = refs(&properties["Dimensions"]);
        assert!(
            !named.is_empty() && named.is_subset(&owners),
            "{id:?}: {name} is emitted by {owners:?} only, the alarm names {named:?}"
        );
    }

    let mut shown = Vec::new();
    dashboard_metric_names(&dashboard_body(&template), &mut shown);
    for name in &shown {
        assert!(
            emitted.contains_key(name.as_str()),
            "the dashboard shows {name}, which no function emits"
        );
    }
    for name in emitted.keys() {
        assert!(
            shown.iter().any(|s| s == name),
            "the dashboard does not show {name}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tables

#[test]
fn the_audit_table_is_the_one_the_adapter_creates() {
    use aws_adapters::dynamodb_audit::{INDEXES, TIME_SK, TTL_ATTRIBUTE};

    let template = template();
    let table = &template["Resources"]["AuditTable"]["Properties"];
    let key = |schema: &Value| -> Vec<(String, String)> {
        one_or_many(schema)
            .iter()
            .map(|k| {
                let field = |name: &str| k[name].as_str().unwrap_or_default().to_owned();
                (field("AttributeName"), field("KeyType"))
            })
            .collect()
    };
    assert_eq!(
        key(&table["KeySchema"]),
        [
            ("pk".to_owned(), "HASH".to_owned()),
            ("sk".to_owned(), "RANGE".to_owned())
        ]
    );
    let indexes: BTreeMap<String, Vec<(String, String)>> =
        one_or_many(&table["GlobalSecondaryIndexes"])
            .iter()
            .map(|gsi| {
                assert_eq!(gsi["Projection"]["ProjectionType"].as_str(), Some("ALL"));
                (
                    gsi["IndexName"].as_str().unwrap_or_default().to_owned(),
                    key(&gsi["KeySchema"]),
                )
            })
            .collect();
    let expected: BTreeMap<String, Vec<(String, String)>> = INDEXES
        .iter()
        .map(|(name, attribute)| {
            let schema = vec![
                ((*attribute).to_owned(), "HASH".to_owned()),
                (TIME_SK.to_owned(), "RANGE".to_owned()),
            ];
            ((*name).to_owned(), schema)
        })
        .collect();
    assert_eq!(indexes, expected);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
    for table_id in ["AuditTable", "StateTable"] {
        let resource = &template["Resources"][table_id];
        let properties = &resource["Properties"];
        assert_eq!(
            properties["BillingMode"].as_str(),
            Some("PAY_PER_REQUEST"),
            "{table_id}"
        );
        assert_eq!(
            properties["DeletionProtectionEnabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert_eq!(
            properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert_eq!(
            properties["TimeToLiveSpecification"]["Enabled"].as_bool(),
            Some(true),
            "{table_id}"
        );
        assert!(properties.get("SSESpecification").is_some(), "{table_id}");
        assert_eq!(
            resource["DeletionPolicy"].as_str(),
            Some("Retain"),
            "{table_id}"
        );
        assert_eq!(
            resource["UpdateReplacePolicy"].as_str(),
            Some("Retain"),
            "{table_id}"
        );
    }
}

#[test]
fn the_state_table_is_the_one_the_mirror_creates() {
    use aws_adapters::dynamodb_mirror::TTL_ATTRIBUTE;

    let template = template();
    let table = &template["Resources"]["StateTable"]["Properties"];
    let key: Vec<(&str, &str)> = one_or_many(&table["KeySchema"])
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default(),
                k["KeyType"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(key, [("pk", "HASH"), ("sk", "RANGE")]);
    let attributes: Vec<(&str, &str)> = one_or_many(&table["AttributeDefinitions"])
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or_default(),
                a["AttributeType"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(attributes, [("pk", "S"), ("sk", "S")]);
    assert_eq!(
        table["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
}

#[test]
fn the_scim_function_writes_only_mirror_items_in_the_state_table() {
    // The state table also holds the rule sets, which only admins may write: the
    // function's writes there are fenced to the mirror's own keys.
    let template = template();
    let writes: Vec<&Value> = statements(&template, "ScimApiRole")
        .into_iter()
        .filter(|s| {
            s.actions()
                .iter()
                .any(|a| a == "dynamodb:PutItem" || a == "dynamodb:DeleteItem")
        })
        .filter(|s| format!("{:?}", s.value["Resource"]).contains("StateTable"))
        .map(|s| s.value)
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    let keys = &writes[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
    assert_eq!(
        one_or_many(keys)
            .iter()
            .filter_map(|k| k.as_str())
            .collect::<Vec<_>>(),
        ["MIRROR#*"],
        "{:?}",
        writes[0]
    );
    assert_eq!(
        aws_adapters::dynamodb_mirror::PK_PREFIX,
        "MIRROR#",
        "the condition names the mirror's key prefix"
    );
}

/// The `AWS/Lambda` `Errors` alarms of each function (by the `FunctionName` dimension).
fn lambda_error_alarms(template: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (id, resource) in resources(template) {
        let p = &resource["Properties"];
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm")
            || p["Namespace"].as_str() != Some("AWS/Lambda")
            || p["MetricName"].as_str() != Some("Errors")
        {
            continue;
        }
        for dimension in p["Dimensions"].as_sequence().into_iter().flatten() {
            if dimension["Name"].as_str() == Some("FunctionName") {
                for function in refs(&dimension["Value"]) {
                    out.entry(function)
                        .or_default()
                        .insert(id.as_str().unwrap_or_default().to_owned());
                }
            }
        }
    }
    out
}

/// Whether a function serves traffic a bad release would fail: API routes, or a queue
/// that triggers it (a schedule's next run replaces a failed one).
fn carries_traffic(function: &Function<'_>) -> bool {
    !routes(function).is_empty() || !function.sqs_triggers().is_empty()
}

/// Whether a bad release of a function does harm that the next run does not undo: it
/// serves traffic, or it writes to Identity Center (its environment names the target),
/// as the scheduled reconciler does.
fn needs_gradual_rollout(function: &Function<'_>) -> bool {
    carries_traffic(function)
        || function.value["Properties"]["Environment"]["Variables"]
            .get("TARGET_BASE_URL")
            .is_some()
}

/// A deployment type that shifts traffic gradually (CodeDeploy's predefined Lambda configs).
fn is_gradual(kind: &str) -> bool {
    kind.starts_with("Canary") || kind.starts_with("Linear")
}

fn rollout_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let error_alarms = lambda_error_alarms(template);
    for function in functions(template) {
        let id = &function.id;
        match function.property("AutoPublishAlias").as_str() {
            Some(alias) if !alias.is_empty() => {}
            _ => problems.push(format!(
                "{id}: no AutoPublishAlias (its own or Globals.Function's): its events would invoke $LATEST, \
                 and no deployment could roll it back"
            )),
        }
        let alarms = error_alarms.get(id).cloned().unwrap_or_default();
        if alarms.is_empty() {
            problems.push(format!("{id}: no AWS/Lambda Errors alarm on it"));
        }
        if !needs_gradual_rollout(&function) {
            continue;
        }
        let preference = function.property("DeploymentPreference");
        if preference.is_null() {
            problems.push(format!(
                "{id}: a function that serves traffic or writes to Identity Center without a \
                 DeploymentPreference"
            ));
            continue;
        }
        // The type: a gradual literal, or a parameter whose default is gradual.
        let kind = &preference["Type"];
        let default = match intrinsic(kind) {
            Some((name, inner)) if name == "Ref" => {
                let parameter = inner.as_str().unwrap_or_default();
                template["Parameters"][parameter]["Default"]
                    .as_str()
                    .map(str::to_owned)
            }
            _ => kind.as_str().map(str::to_owned),
        };
        match default {
            Some(kind) if is_gradual(&kind) => {}
            other => problems.push(format!(
                "{id}: DeploymentPreference.Type must be (default to) a canary or linear shift, not {other:?}"
            )),
        }
        // The rollback alarms: every Errors alarm of the function, each an alarm of the
        // template.
        let named = refs(&preference["Alarms"]);
        for alarm in &named {
            if resource_type(template, alarm) != Some("AWS::CloudWatch::Alarm") {
                problems.push(format!(
                    "{id}: DeploymentPreference names {alarm}, not an alarm"
                ));
            }
        }
        for alarm in alarms.difference(&named) {
            problems.push(format!(
                "{id}: DeploymentPreference.Alarms lacks its error alarm {alarm}: a failing release would not roll back"
            ));
        }
        if preference.get("Enabled").and_then(Value::as_bool) == Some(false) {
            problems.push(format!("{id}: DeploymentPreference is disabled"));
        }
    }
    problems
}

fn rollout_problems_after(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut template = template();
    edit(&mut template);
    rollout_problems(&template)
}

#[test]
fn every_function_is_behind_an_alias_and_the_api_functions_roll_back_on_their_error_alarms() {
    let problems = rollout_problems(&template());
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_rollout_check_catches_a_missing_alias_preference_alarm_or_gradual_default() {
    fn function<'a>(t: &'a mut Value, id: &str) -> &'a mut serde_norway::Mapping {
        t["Resources"][id]["Properties"]
            .as_mapping_mut()
            .expect("a function's Properties")
    }
    // A new function, without an alias of its own, once the global one goes.
    let problems = rollout_problems_after(|t| {
        t["Globals"]["Function"]
            .as_mapping_mut()
            .expect("Globals.Function")
            .remove("AutoPublishAlias");
    });
    assert!(
        problems
            .iter()
            .filter(|p| p.contains("AutoPublishAlias"))
            .count()
            >= 3,
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        function(t, "AuditApiFunction").remove("DeploymentPreference");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("AuditApiFunction: a function that serves traffic or writes")),
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        function(t, "EventWorkerFunction").remove("DeploymentPreference");
    });
    assert!(
        problems
            .iter()
            .any(|p| p
                .starts_with("EventWorkerFunction: a function that serves traffic or writes")),
        "{problems:#?}"
    );
    // The scheduled reconciler serves no traffic, but writes to Identity Center.
    let problems = rollout_problems_after(|t| {
        function(t, "ReconcilerFunction").remove("DeploymentPreference");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("ReconcilerFunction: a function that serves traffic or writes")),
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        function(t, "ScimApiFunction")["DeploymentPreference"]["Alarms"] =
            serde_norway::from_str("[!Ref ScimApi5xxAlarm]").expect("YAML");
    });
    assert!(
        problems
            .iter()
            .any(|p| p.contains("lacks its error alarm ScimApiErrorsAlarm")),
        "{problems:#?}"
    );
    let problems = rollout_problems_after(|t| {
        t["Parameters"]["DeploymentType"]["Default"] = Value::from("AllAtOnce");
    });
    let template = template();
    let shifting = functions(&template)
        .iter()
        .filter(|f| needs_gradual_rollout(f))
        .count();
    assert!(
        shifting >= 5,
        "scim-api, audit-api, okta-hook, event-worker and reconciler"
    );
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.contains("canary or linear"))
            .count(),
        shifting,
        "{problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// The event-hook path

#[test]
fn the_state_table_adapters_keep_to_their_own_keys() {
    // The LeadingKeys patterns the roles are checked against are the adapters' own
    // partition keys, and no two adapters share one.
    let pattern = |module: &str| {
        ADAPTER_TABLES
            .iter()
            .find(|(m, _, _)| *m == module)
            .and_then(|(_, _, keys)| *keys)
            .unwrap_or_else(|| panic!("{module} has no key pattern"))
    };
    assert_eq!(
        pattern("dynamodb_mirror"),
        format!("{}*", aws_adapters::dynamodb_mirror::PK_PREFIX)
    );
    assert_eq!(
        pattern("dynamodb_event_ledger"),
        format!("{}*", aws_adapters::dynamodb_event_ledger::PK_PREFIX)
    );
    assert_eq!(
        pattern("dynamodb_rule_store"),
        aws_adapters::dynamodb_rule_store::RULES_PK
    );
    assert_eq!(
        ENTITLEMENT_DOCUMENTS_PK,
        aws_adapters::dynamodb_rule_store::ENTITLEMENTS_PK
    );
    for pk in [
        aws_adapters::entitlements_aws::MANAGED_PK,
        aws_adapters::entitlements_aws::MANAGED_PERMISSION_SETS_PK,
    ] {
        assert_eq!(
            format!("{}*", pk.split_inclusive('#').next().unwrap_or_default()),
            pattern("entitlements_aws"),
            "{pk}"
        );
    }
    let on_state: Vec<&str> = ADAPTER_TABLES
        .iter()
        .filter(|(_, variable, _)| *variable == "STATE_TABLE_NAME")
        .filter_map(|(_, _, keys)| *keys)
        .collect();
    for (i, a) in on_state.iter().enumerate() {
        for b in &on_state[i + 1..] {
            let prefix = |p: &str| p.trim_end_matches('*').to_owned();
            assert!(
                !prefix(a).starts_with(&prefix(b)) && !prefix(b).starts_with(&prefix(a)),
                "{a} and {b} overlap"
            );
        }
    }
}

/// The function with this binary.
fn function_by_binary<'a>(functions: &'a [Function<'a>], name: &str) -> &'a Function<'a> {
    functions
        .iter()
        .find(|f| binary(f) == name)
        .unwrap_or_else(|| panic!("the {name} function"))
}

/// A number a property holds, literally or as a parameter's default.
fn number_or_default(template: &Value, value: &Value) -> Option<u64> {
    if let Some((name, inner)) = intrinsic(value) {
        if name != "Ref" {
            return None;
        }
        let default = &template["Parameters"][inner.as_str()?]["Default"];
        return default
            .as_u64()
            .or_else(|| default.as_str().and_then(|s| s.parse().ok()));
    }
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

#[test]
fn the_hook_and_the_worker_share_one_fifo_queue_whose_redrive_limit_is_the_workers() {
    let template = template();
    let functions = functions(&template);
    let hook = function_by_binary(&functions, "okta-hook");
    let worker = function_by_binary(&functions, "event-worker");

    // One queue: the hook sends to it, and it triggers the worker.
    let queue = hook.variable_refs("EVENTS_QUEUE_URL");
    assert_eq!(queue.len(), 1, "{queue:?}");
    assert_eq!(worker.variable_refs("EVENTS_QUEUE_URL"), queue);
    // Its other trigger is the reads queue (the notes of reads of the audit trail).
    let mut triggers = queue.clone();
    triggers.extend(worker.variable_refs("AUDIT_READS_QUEUE_ARN"));
    assert_eq!(triggers.len(), 2, "{triggers:?}");
    assert_eq!(worker.sqs_triggers(), triggers);
    let queue_id = queue.iter().next().map(String::as_str).unwrap_or_default();
    assert_eq!(resource_type(&template, queue_id), Some("AWS::SQS::Queue"));
    let properties = &template["Resources"][queue_id]["Properties"];

    // FIFO, de-duplicated by the id the hook gives (the event uuid), per message group.
    assert_eq!(properties["FifoQueue"].as_bool(), Some(true));
    assert_eq!(
        properties["ContentBasedDeduplication"].as_bool(),
        Some(false)
    );
    assert_eq!(
        properties["DeduplicationScope"].as_str(),
        Some("messageGroup")
    );
    assert_eq!(
        properties["FifoThroughputLimit"].as_str(),
        Some("perMessageGroupId")
    );
    let encrypted =
        |p: &Value| p.get("SqsManagedSseEnabled").is_some() || p.get("KmsMasterKeyId").is_some();
    assert!(encrypted(properties), "{queue_id} is encrypted");

    // A visibility timeout of at least 6 times the worker's timeout (AWS's advice for a
    // Lambda trigger), and the worker told the redrive limit it works to.
    let timeout = number_or_default(&template, worker.property("Timeout")).expect("a timeout");
    let visibility = number_or_default(&template, &properties["VisibilityTimeout"])
        .expect("a visibility timeout");
    assert!(visibility >= 6 * timeout, "{visibility} < 6 × {timeout}");
    let redrive = &properties["RedrivePolicy"];
    assert_eq!(
        refs(&redrive["maxReceiveCount"]),
        worker.variable_refs("EVENTS_MAX_RECEIVES"),
        "the worker's EVENTS_MAX_RECEIVES is the queue's maxReceiveCount"
    );
    assert_eq!(
        number_or_default(&template, &redrive["maxReceiveCount"]),
        Some(u64::from(edge::config::DEFAULT_EVENTS_MAX_RECEIVES)),
        "the parameter's default is the code's"
    );

    // The dead-letter queue: FIFO, encrypted, 14 days, taking only this queue's failures.
    let dlq = refs(&redrive["deadLetterTargetArn"]);
    let dlq_id = dlq.iter().next().map(String::as_str).unwrap_or_default();
    let dlq_properties = &template["Resources"][dlq_id]["Properties"];
    assert_eq!(dlq_properties["FifoQueue"].as_bool(), Some(true));
    assert!(encrypted(dlq_properties), "{dlq_id} is encrypted");
    assert_eq!(
        number_or_default(&template, &dlq_properties["MessageRetentionPeriod"]),
        Some(14 * 86_400)
    );
    let allow = &dlq_properties["RedriveAllowPolicy"];
    assert_eq!(allow["redrivePermission"].as_str(), Some("byQueue"));
    assert_eq!(one_or_many(&allow["sourceQueueArns"]).len(), 1);

    // The triggers (the events queue, the reads queue): batches of at most 10, partial
    // batch responses, a concurrency cap.
    let events: Vec<&Value> = worker.value["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .filter(|e| e["Type"].as_str() == Some("SQS"))
        .collect();
    assert_eq!(events.len(), 2, "two SQS triggers: {events:?}");
    for event in &events {
        let trigger = &event["Properties"];
        assert!(number_or_default(&template, &trigger["BatchSize"]).is_some_and(|n| n <= 10));
        assert!(
            one_or_many(&trigger["FunctionResponseTypes"])
                .iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
            "the worker answers partial batch failures"
        );
        assert!(
            trigger["ScalingConfig"].get("MaximumConcurrency").is_some(),
            "Identity Center's load is capped"
        );
    }

    // The reads queue: encrypted, its notes kept 14 days and handed out long enough for
    // the worker, and those that fail parked in an encrypted dead-letter queue that alarms.
    let reads = worker.variable_refs("AUDIT_READS_QUEUE_ARN");
    let reads_id = reads.iter().next().map(String::as_str).unwrap_or_default();
    let reads_properties = &template["Resources"][reads_id]["Properties"];
    assert!(encrypted(reads_properties), "{reads_id} is encrypted");
    assert_eq!(
        number_or_default(&template, &reads_properties["MessageRetentionPeriod"]),
        Some(14 * 86_400)
    );
    let reads_visibility = number_or_default(&template, &reads_properties["VisibilityTimeout"])
        .expect("a visibility timeout");
    assert!(reads_visibility >= 6 * timeout);
    let reads_dlq = refs(&reads_properties["RedrivePolicy"]["deadLetterTargetArn"]);
    let reads_dlq_id = reads_dlq
        .iter()
        .next()
        .map(String::as_str)
        .unwrap_or_default();
    assert!(encrypted(
        &template["Resources"][reads_dlq_id]["Properties"]
    ));

    // Alarms: anything in the dead-letter queue, and an old message on the queue.
    let sqs_alarm = |queue: &str, metric: &str| {
        resources(&template).values().any(|alarm| {
            let p = &alarm["Properties"];
            alarm["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && p["Namespace"].as_str() == Some("AWS/SQS")
                && p["MetricName"].as_str() == Some(metric)
                && refs(&p["Dimensions"]).contains(queue)
        })
    };
    assert!(sqs_alarm(dlq_id, "ApproximateNumberOfMessagesVisible"));
    assert!(sqs_alarm(
        reads_dlq_id,
        "ApproximateNumberOfMessagesVisible"
    ));
    assert!(sqs_alarm(queue_id, "ApproximateAgeOfOldestMessage"));
}

#[test]
fn the_policy_check_holds_the_event_functions_to_their_keys_and_queue() {
    let statement = |yaml: &str| -> Value { serde_norway::from_str(yaml).unwrap() };
    let mentions = |problems: &[String], text: &str| problems.iter().any(|p| p.contains(text));
    let set = |sid: &'static str, key: &'static str, value: &'static str| {
        move |s: &mut Vec<Value>| {
            for st in s.iter_mut().filter(|st| st["Sid"].as_str() == Some(sid)) {
                st[key] = serde_norway::from_str(value).unwrap();
            }
        }
    };

    // The hook's ledger grant moved to the mirror's keys, or to any key.
    let mirror_keys = problems_after(
        "OktaHookRole",
        set(
            "StateTableEvents",
            "Condition",
            "{ForAllValues:StringLike: {dynamodb:LeadingKeys: ['MIRROR#*']}}",
        ),
    );
    assert!(
        mentions(
            &mirror_keys,
            "grants dynamodb:PutItem on StateTable under MIRROR#*, which its code never calls there"
        ),
        "{mirror_keys:?}"
    );
    assert!(
        mentions(
            &mirror_keys,
            "calls dynamodb:PutItem on StateTable, which its role does not grant there (dynamodb_event_ledger under EVENT#*)"
        ),
        "{mirror_keys:?}"
    );
    let any_key = problems_after("OktaHookRole", |s| {
        for st in s
            .iter_mut()
            .filter(|st| st["Sid"].as_str() == Some("StateTableEvents"))
        {
            st.as_mapping_mut()
                .expect("a statement")
                .remove("Condition");
        }
    });
    assert!(
        mentions(
            &any_key,
            "writes (dynamodb:PutItem) to StateTable under any key"
        ),
        "{any_key:?}"
    );
    let any_value = problems_after(
        "OktaHookRole",
        set(
            "StateTableEvents",
            "Condition",
            "{ForAnyValue:StringLike: {dynamodb:LeadingKeys: ['EVENT#*']}}",
        ),
    );
    assert!(
        mentions(&any_value, "use ForAllValues:StringLike"),
        "{any_value:?}"
    );

    // The hook receiving from its queue, which only the worker's trigger does.
    let receives = problems_after(
        "OktaHookRole",
        set(
            "EventsQueueSend",
            "Action",
            "[sqs:ReceiveMessage, sqs:SendMessage]",
        ),
    );
    assert!(
        mentions(&receives, "grants sqs:ReceiveMessage, which its code"),
        "{receives:?}"
    );

    // The worker without its trigger's grant, or claiming uuids (the hook's), or sending.
    let no_trigger = problems_after(
        "EventWorkerRole",
        set(
            "Queues",
            "Action",
            "[sqs:ChangeMessageVisibility, sqs:DeleteMessage, sqs:GetQueueAttributes]",
        ),
    );
    assert!(
        mentions(
            &no_trigger,
            "calls sqs:ReceiveMessage, which its role does not grant"
        ),
        "{no_trigger:?}"
    );
    let no_backoff = problems_after(
        "EventWorkerRole",
        set(
            "Queues",
            "Action",
            "[sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage]",
        ),
    );
    assert!(
        mentions(
            &no_backoff,
            "calls sqs:ChangeMessageVisibility, which its role does not grant"
        ),
        "{no_backoff:?}"
    );
    let claims = problems_after(
        "EventWorkerRole",
        set(
            "StateTableEvents",
            "Action",
            "[dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem]",
        ),
    );
    assert!(
        mentions(
            &claims,
            "grants dynamodb:PutItem on StateTable under EVENT#*"
        ),
        "{claims:?}"
    );
    assert!(
        mentions(
            &claims,
            "NOT_CALLED lists dynamodb:PutItem of dynamodb_event_ledger"
        ),
        "{claims:?}"
    );
    // The worker sends group signals to the entitlements queue only: not to its own.
    let sends = problems_after("EventWorkerRole", |s| {
        s.push(statement(
            "{Sid: Send, Effect: Allow, Action: [sqs:SendMessage], Resource: !GetAtt EventsQueue.Arn}",
        ))
    });
    assert!(
        mentions(
            &sends,
            "grants sqs:SendMessage on EventsQueue, which no variable"
        ),
        "{sends:?}"
    );
    // The dead-letter queue is no function's.
    let dead_letters = problems_after("EventWorkerRole", |s| {
        s.push(statement(
            "{Sid: Dlq, Effect: Allow, Action: [sqs:ReceiveMessage], Resource: !GetAtt EventsDeadLetterQueue.Arn}",
        ))
    });
    assert!(
        mentions(
            &dead_letters,
            "EventsDeadLetterQueue is not a AWS::SQS::Queue its environment names"
        ),
        "{dead_letters:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Reconciliation

/// Lambda's longest timeout, in seconds.
const LAMBDA_MAX_TIMEOUT: u64 = 900;

/// The seconds between runs of a `rate(…)` schedule expression; `None` for a `cron(…)`.
fn rate_seconds(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (value, unit) = inner.trim().split_once(' ')?;
    let value: u64 = value.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        _ => return None,
    };
    Some(value * unit)
}

/// The alarm on a `scimgw` metric of `function`, by metric name.
fn function_metric_alarm<'a>(template: &'a Value, function: &str, metric: &str) -> &'a Value {
    let found: Vec<&Value> = resources(template)
        .values()
        .filter(|r| {
            let p = &r["Properties"];
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && p["Namespace"].as_str() == Some(edge::metrics::NAMESPACE)
                && p["MetricName"].as_str() == Some(metric)
                && refs(&p["Dimensions"]).contains(function)
        })
        .map(|r| &r["Properties"])
        .collect();
    let [alarm] = found.as_slice() else {
        panic!("one alarm on {function}'s {metric}: {found:?}")
    };
    alarm
}

#[test]
fn the_reconciler_runs_on_its_schedule_one_at_a_time_and_its_alarms_watch_what_it_emits() {
    let template = template();
    let functions = functions(&template);
    let reconciler = function_by_binary(&functions, "reconciler");
    let id = reconciler.id.as_str();

    // One schedule, from a parameter whose default the drift alarm's period follows.
    let events: Vec<&Value> = reconciler.value["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .collect();
    let [event] = events.as_slice() else {
        panic!("{id}: one event, its schedule: {events:?}")
    };
    assert_eq!(event["Type"].as_str(), Some("Schedule"), "{id}");
    assert_eq!(
        refs(&event["Properties"]["Schedule"]),
        BTreeSet::from(["ReconcileSchedule".to_owned()])
    );
    let schedule = template["Parameters"]["ReconcileSchedule"]["Default"]
        .as_str()
        .unwrap_or_default();
    let every = rate_seconds(schedule).expect("ReconcileSchedule's default is a rate(…)");
    assert_eq!(every, 3_600, "{schedule}");

    // One run at a time, within Lambda's limit.
    assert_eq!(
        number_or_default(
            &template,
            reconciler.property("ReservedConcurrentExecutions")
        ),
        Some(1),
        "{id}: runs must not overlap"
    );
    assert_eq!(
        number_or_default(&template, reconciler.property("Timeout")),
        Some(LAMBDA_MAX_TIMEOUT)
    );

    // The mode: the code's two, reporting by default.
    assert_eq!(
        reconciler.variable_refs("RECONCILE_MODE"),
        BTreeSet::from(["ReconcileMode".to_owned()])
    );
    let mode = &template["Parameters"]["ReconcileMode"];
    assert_eq!(
        mode["Default"].as_str(),
        Some(edge::ReconcileMode::default().as_str())
    );
    assert_eq!(edge::ReconcileMode::default(), edge::ReconcileMode::Report);
    let allowed: Vec<&str> = one_or_many(&mode["AllowedValues"])
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        allowed,
        [
            edge::ReconcileMode::Report.as_str(),
            edge::ReconcileMode::Apply.as_str()
        ]
    );

    // No queue, no event item: told about none, granted none.
    for resource in reconciler.own_resources() {
        assert_ne!(
            resource_type(&template, &resource),
            Some("AWS::SQS::Queue"),
            "{id}: {resource}"
        );
    }
    for statement in statements(&template, &reconciler.role_id()) {
        let sid = statement.sid();
        assert!(
            statement.actions().iter().all(|a| !a.starts_with("sqs:")),
            "{id}/{sid}"
        );
        assert!(
            !format!("{:?}", statement.value["Condition"]).contains("EVENT#"),
            "{id}/{sid}"
        );
    }
    let (calls, modules) = derived_calls(reconciler);
    assert!(
        !modules.contains("dynamodb_event_ledger") && !modules.contains("sqs_events"),
        "{modules:?}"
    );
    assert!(calls.actions.contains("dynamodb:PutItem"), "{calls:?}");

    // Drift that two runs in a row found, and a refused plan.
    let own = own_metric_names(reconciler);
    let drift = function_metric_alarm(&template, id, &own["DRIFT_CHANGES"]);
    assert_eq!(number_or_default(&template, &drift["Period"]), Some(every));
    assert_eq!(
        number_or_default(&template, &drift["EvaluationPeriods"]),
        Some(2)
    );
    assert_eq!(
        number_or_default(&template, &drift["DatapointsToAlarm"]),
        Some(2)
    );
    assert_eq!(number_or_default(&template, &drift["Threshold"]), Some(0));
    assert_eq!(
        drift["ComparisonOperator"].as_str(),
        Some("GreaterThanThreshold")
    );
    let refused = function_metric_alarm(&template, id, &own["RECONCILE_REFUSED"]);
    assert_eq!(number_or_default(&template, &refused["Threshold"]), Some(1));
    assert_eq!(
        refused["ComparisonOperator"].as_str(),
        Some("GreaterThanOrEqualToThreshold")
    );
}

#[test]
fn the_fence_rules_fit_eventbridges_pattern_quota() {
    let template = template();
    let mut problems = Vec::new();
    fence_rule_problems(&template, &mut problems);
    assert!(
        !problems.iter().any(|p| p.contains("characters")),
        "{problems:?}"
    );
    // The estimate is not vacuous: all the fences in one rule would not fit.
    let mut one_rule = template.clone();
    let mut alternatives = Vec::new();
    for (id, rule) in fence_rules(&template) {
        let pattern = &rule["Properties"]["EventPattern"];
        match pattern.get("$or") {
            Some(Value::Sequence(items)) => alternatives.extend(items.iter().cloned()),
            _ => {
                let mut branch = pattern.clone();
                if let Some(map) = branch.as_mapping_mut() {
                    map.remove("detail-type");
                }
                alternatives.push(branch);
            }
        }
        if id != "FenceRule" {
            one_rule["Resources"]
                .as_mapping_mut()
                .expect("Resources")
                .remove(id.as_str());
        }
    }
    one_rule["Resources"]["FenceRule"]["Properties"]["EventPattern"]["$or"] =
        Value::Sequence(alternatives);
    let mut problems = Vec::new();
    fence_rule_problems(&one_rule, &mut problems);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("FenceRule's pattern may reach")),
        "{problems:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Sealing

/// The `scimgw` alarms on a function's metric, by metric name.
fn function_metric_alarms<'a>(template: &'a Value, function: &str, metric: &str) -> Vec<&'a Value> {
    resources(template)
        .values()
        .filter(|r| {
            let p = &r["Properties"];
            r["Type"].as_str() == Some("AWS::CloudWatch::Alarm")
                && p["Namespace"].as_str() == Some(edge::metrics::NAMESPACE)
                && p["MetricName"].as_str() == Some(metric)
                && refs(&p["Dimensions"]).contains(function)
        })
        .map(|r| &r["Properties"])
        .collect()
}

#[test]
fn the_sealer_seals_and_verifies_on_its_schedules_one_at_a_time_and_its_alarms_watch_what_it_emits()
{
    let template = template();
    let functions = functions(&template);
    let sealer = function_by_binary(&functions, "sealer");
    let id = sealer.id.as_str();

    // Two schedules, each with the task the code reads (`sealer::Task`, snake_case).
    let lib = read(Path::new(&sealer.code_uri()).join("src/lib.rs"));
    assert!(
        lib.contains("#[serde(rename_all = \"snake_case\")]\npub enum Task")
            && lib.contains("    Seal,")
            && lib.contains("    Verify,"),
        "sealer::Task's variants, seal and verify"
    );
    let mut tasks = BTreeMap::new();
    for (name, event) in sealer.value["Properties"]["Events"]
        .as_mapping()
        .into_iter()
        .flatten()
    {
        assert_eq!(event["Type"].as_str(), Some("Schedule"), "{id}: {name:?}");
        let input: serde_json::Value =
            serde_json::from_str(event["Properties"]["Input"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("{id}: {name:?}'s Input: {e}"));
        let task = input["task"].as_str().unwrap_or_default().to_owned();
        let schedule = event["Properties"]["Schedule"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            tasks.insert(task, schedule).is_none(),
            "{id}: one schedule per task"
        );
    }
    assert_eq!(
        tasks.keys().map(String::as_str).collect::<Vec<_>>(),
        ["seal", "verify"]
    );
    // Sealing every 15 minutes: an hour is sealed within 20 minutes of its end.
    assert_eq!(rate_seconds(&tasks["seal"]), Some(900), "{tasks:?}");
    // Verifying once a day (cron(minutes hours * * ? *)), after midnight's hour is sealed.
    let fields: Vec<&str> = tasks["verify"]
        .trim_start_matches("cron(")
        .trim_end_matches(')')
        .split(' ')
        .collect();
    assert!(
        matches!(fields.as_slice(), [m, h, "*", "*", "?", "*"]
            if m.parse::<u8>().is_ok() && h.parse::<u8>().is_ok_and(|h| h >= 1)),
        "{tasks:?}"
    );

    // One sealer at a time, within Lambda's limit; the keys and retention it is given.
    assert_eq!(
        number_or_default(&template, sealer.property("ReservedConcurrentExecutions")),
        Some(1),
        "{id}: runs must not overlap"
    );
    assert_eq!(
        number_or_default(&template, sealer.property("Timeout")),
        Some(LAMBDA_MAX_TIMEOUT)
    );
    for (variable, expected) in [
        ("AUDIT_SEAL_KEY_IDS", "AuditSealKey"),
        ("AUDIT_MAC_KEY_IDS", "AuditMacKey"),
        ("AUDIT_RETENTION_DAYS", "AuditRetentionDays"),
        ("AUDIT_TABLE_NAME", "AuditTable"),
    ] {
        assert_eq!(
            sealer.variable_refs(variable),
            BTreeSet::from([expected.to_owned()]),
            "{id}: {variable}"
        );
    }

    // Its alarms: a failed run, a repair, problems found, a failed verification (each at
    // the first), and its silence, as breaching.
    let own = own_metric_names(sealer);
    let alarms = |constant: &str| function_metric_alarms(&template, id, &own[constant]);
    for constant in [
        "AUDIT_SEAL_FAILED",
        "AUDIT_SEAL_REPAIRS",
        "AUDIT_VERIFY_PROBLEMS",
        "AUDIT_VERIFY_FAILED",
    ] {
        let at_first = alarms(constant).into_iter().any(|a| {
            a["Statistic"].as_str() == Some("Maximum")
                && number_or_default(&template, &a["Threshold"]) == Some(1)
                && a["ComparisonOperator"].as_str() == Some("GreaterThanOrEqualToThreshold")
        });
        assert!(at_first, "{id}: no alarm at the first {constant}");
    }
    // Silence: a metric every run of a task publishes (AuditSealsWritten for sealing,
    // AuditVerifyFailed for verifying), counted, missing data breaching, over a window
    // longer than the schedule's interval and not much longer.
    let silence = |constant: &str, least: u64, most: u64| {
        let found = alarms(constant).into_iter().any(|a| {
            let number = |field: &str| number_or_default(&template, &a[field]).unwrap_or(0);
            let window = number("Period") * number("DatapointsToAlarm").max(1);
            a["Statistic"].as_str() == Some("SampleCount")
                && a["TreatMissingData"].as_str() == Some("breaching")
                && a["ComparisonOperator"].as_str() == Some("LessThanThreshold")
                && number("Threshold") == 1
                && number("EvaluationPeriods") == number("DatapointsToAlarm")
                && (least..=most).contains(&window)
        });
        assert!(
            found,
            "{id}: no alarm on {constant} missing for {least}-{most} s"
        );
    };
    silence("AUDIT_SEALS_WRITTEN", 2 * 900, 3 * 3_600);
    silence("AUDIT_VERIFY_FAILED", 86_400 + 900, 30 * 3_600);
}

// ---------------------------------------------------------------------------------------
// Entitlements

/// The condition every entitlements resource is under.
const ENTITLEMENTS_ON: &str = "EntitlementsOn";

/// The references `value` makes outside the branch an `!If [cond, …]` takes when `cond`
/// holds: what a resource deployed without `cond` would refer to.
fn refs_without(value: &Value, cond: &str, out: &mut BTreeSet<String>) {
    if let Some((name, Value::Sequence(args))) = intrinsic(value)
        && name == "If"
        && args.len() == 3
        && args[0].as_str() == Some(cond)
    {
        refs_without(&args[2], cond, out);
        return;
    }
    if intrinsic(value).is_some_and(|(name, _)| ["Ref", "GetAtt", "Sub"].contains(&name.as_str())) {
        out.extend(refs(value));
        return;
    }
    match value {
        Value::Sequence(items) => items.iter().for_each(|v| refs_without(v, cond, out)),
        Value::Mapping(map) => map.values().for_each(|v| refs_without(v, cond, out)),
        Value::Tagged(tagged) => refs_without(&tagged.value, cond, out),
        _ => {}
    }
}

/// Whether an event matches an EventBridge pattern of exact values (the only kind the
/// entitlements rules use): every key of the pattern, recursively, lists the event's value.
fn pattern_matches(pattern: &Value, event: &serde_json::Value) -> bool {
    let Some(pattern) = pattern.as_mapping() else {
        return false;
    };
    pattern.iter().all(|(key, wanted)| {
        let key = key.as_str().unwrap_or_default();
        let value = &event[key];
        match wanted {
            Value::Mapping(_) => pattern_matches(wanted, value),
            _ => one_or_many(wanted)
                .iter()
                .any(|w| w.as_str().is_some_and(|w| value.as_str() == Some(w))),
        }
    })
}

fn aws_event(name: &str) -> serde_json::Value {
    serde_json::from_str(&read(format!("tests/fixtures/aws-events/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn the_entitlements_function_is_opt_in_and_least_privileged() {
    let template = template();
    // Off unless the parameter turns it on; its other values are the code's modes.
    let mode = &template["Parameters"]["EntitlementsMode"];
    assert_eq!(mode["Default"].as_str(), Some("off"));
    let values: Vec<&str> = one_or_many(&mode["AllowedValues"])
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(values, ["off", "plan", "apply"]);
    for value in &values[1..] {
        assert!(entitlements::Mode::parse(value).is_some(), "{value}");
    }
    let condition =
        serde_json::to_string(&template["Conditions"][ENTITLEMENTS_ON]).unwrap_or_default();
    assert!(
        condition.contains("EntitlementsMode")
            && condition.contains("\"off\"")
            && condition.contains("Not"),
        "{ENTITLEMENTS_ON} is EntitlementsMode other than off: {condition}"
    );

    // Every resource of the function exists only when it is on, and nothing deployed
    // without it refers to one, but through !If [EntitlementsOn, …].
    let conditional: BTreeSet<String> = resources(&template)
        .iter()
        .filter(|(_, r)| r["Condition"].as_str() == Some(ENTITLEMENTS_ON))
        .filter_map(|(id, _)| id.as_str().map(str::to_owned))
        .collect();
    for id in [
        "EntitlementsFunction",
        "EntitlementsRole",
        "EntitlementsLogGroup",
        "EntitlementsAuditTrail",
        "EntitlementsErrorsAlarm",
    ] {
        assert!(
            conditional.contains(id),
            "{id} is not under {ENTITLEMENTS_ON}"
        );
    }
    for (id, resource) in resources(&template) {
        let id = id.as_str().unwrap_or_default();
        if resource["Condition"].as_str() == Some(ENTITLEMENTS_ON) {
            continue;
        }
        let mut used = BTreeSet::new();
        refs_without(resource, ENTITLEMENTS_ON, &mut used);
        let wrong: Vec<&String> = used.intersection(&conditional).collect();
        assert!(
            wrong.is_empty(),
            "{id} refers to {wrong:?} outside !If [{ENTITLEMENTS_ON}, …]"
        );
    }
    for (id, output) in template["Outputs"].as_mapping().into_iter().flatten() {
        let mut used = BTreeSet::new();
        refs_without(output, ENTITLEMENTS_ON, &mut used);
        assert!(
            output["Condition"].as_str() == Some(ENTITLEMENTS_ON) || used.is_disjoint(&conditional),
            "output {id:?} refers to an entitlements resource unconditionally"
        );
    }

    let all = functions(&template);
    let function = function_by_binary(&all, "entitlements");
    assert_eq!(function.role_id(), "EntitlementsRole");
    // The derivation found its AWS calls (so that the policy check is not vacuous).
    let (calls, _) = derived_calls(function);
    for action in [
        "sso:CreateAccountAssignment",
        "sso:DeleteAccountAssignment",
        "sso:ListAccountAssignmentsForPrincipal",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListTagsForResource",
        "identitystore:ListGroups",
        "kms:GenerateMac",
    ] {
        assert!(
            calls.actions.contains(action),
            "{action}: {:?}",
            calls.actions
        );
    }
    assert!(!calls.actions.contains("sso:ListTagsForResource"));
    // No SSO write on "*" or outside its instance; Organizations read-only; no
    // ListInstances (it is told its instance).
    for statement in statements(&template, "EntitlementsRole") {
        let sid = statement.sid();
        for action in statement.actions() {
            let resources = statement.resources();
            if let Some(name) = action.strip_prefix("sso:") {
                assert!(
                    resources.iter().all(|r| r.as_str() != Some("*")),
                    "{sid}: {action} on \"*\""
                );
                assert!(
                    resources
                        .iter()
                        .any(|r| refs(r).contains("IdentityCenterInstanceArn")),
                    "{sid}: {action} not on the instance"
                );
                assert_ne!(name, "ListInstances", "{sid}");
            }
            if let Some(name) = action.strip_prefix("organizations:") {
                assert!(
                    name.starts_with("List") || name.starts_with("Describe"),
                    "{sid}: {action} is not read-only"
                );
            }
            assert!(!action.contains('*'), "{sid}: {action}");
        }
    }

    // Permission sets: created and changed only with EntitlementsPermissionSets=manage
    // (and apply), read always; never deleted.
    let ps_writes = [
        "sso:CreatePermissionSet",
        "sso:UpdatePermissionSet",
        "sso:AttachManagedPolicyToPermissionSet",
        "sso:PutInlinePolicyToPermissionSet",
        "sso:ProvisionPermissionSet",
    ];
    for action in ps_writes
        .iter()
        .chain(&["sso:ListManagedPoliciesInPermissionSet"])
    {
        assert!(calls.actions.contains(*action), "{action}: not derived");
    }
    for statement in statements(&template, "EntitlementsRole") {
        let actions = statement.actions();
        assert!(
            !actions.iter().any(|a| a == "sso:DeletePermissionSet"),
            "{}",
            statement.sid()
        );
        if actions.iter().any(|a| ps_writes.contains(&a.as_str())) {
            assert_eq!(
                statement.condition.as_deref(),
                Some("EntitlementsManagesPermissionSets"),
                "{}",
                statement.sid()
            );
        }
    }
    let manages =
        serde_json::to_string(&template["Conditions"]["EntitlementsManagesPermissionSets"])
            .unwrap_or_default();
    assert!(
        manages.contains("apply") && manages.contains("manage"),
        "{manages}"
    );
    let parameter = &template["Parameters"]["EntitlementsPermissionSets"];
    assert_eq!(parameter["Default"].as_str(), Some("read-only"));

    // A withheld plan alarms (the approval step), on the function's own metric.
    let withheld = own_metric_names(function)
        .get("ENTITLEMENTS_WITHHELD")
        .cloned()
        .expect("the withheld metric is declared");
    assert!(
        alarm_metric_names(&template).contains(&withheld),
        "no alarm on {withheld}"
    );
    assert!(
        conditional.contains("EntitlementsWithheldAlarm")
            && conditional.contains("EntitlementsDashboard"),
        "the alarm and the dashboard exist only with the function"
    );

    // The checks catch a trigger's grant missing, and SSO writes on "*".
    let with_sid = |sid: &'static str, key: &'static str, value: &'static str| {
        move |statements: &mut Vec<Value>| {
            for s in statements.iter_mut() {
                if s["Sid"].as_str() == Some(sid) {
                    s[key] = serde_norway::from_str(value).expect("a YAML value");
                }
            }
        }
    };
    let no_receive = problems_after(
        "EntitlementsRole",
        with_sid(
            "GroupSignals",
            "Action",
            "[sqs:DeleteMessage, sqs:GetQueueAttributes]",
        ),
    );
    assert!(
        no_receive.iter().any(|p| p.contains(
            "EntitlementsQueue triggers it, but its role does not grant sqs:ReceiveMessage"
        )),
        "{no_receive:?}"
    );
    let anywhere = problems_after(
        "EntitlementsRole",
        with_sid("SsoAssignments", "Resource", "'*'"),
    );
    assert!(
        anywhere
            .iter()
            .any(|p| p.contains("SsoAssignments: Resource \"*\" for sso")),
        "{anywhere:?}"
    );
    let other_instance = problems_after(
        "EntitlementsRole",
        with_sid(
            "SsoAssignments",
            "Resource",
            "['arn:aws:sso:::instance/ssoins-0000000000000000', 'arn:aws:sso:::account/*']",
        ),
    );
    assert!(
        other_instance
            .iter()
            .any(|p| p.contains("not on its own IC_INSTANCE_ARN")),
        "{other_instance:?}"
    );
    let writes_orgs = problems_after(
        "EntitlementsRole",
        with_sid(
            "Organizations",
            "Action",
            "[organizations:ListRoots, organizations:MoveAccount]",
        ),
    );
    assert!(
        writes_orgs
            .iter()
            .any(|p| p.contains("organizations:MoveAccount is not read-only")),
        "{writes_orgs:?}"
    );

    // One run at a time, within Lambda's limit, never retried (the schedule repairs).
    assert_eq!(
        number_or_default(&template, function.property("ReservedConcurrentExecutions")),
        Some(1)
    );
    assert!(
        number_or_default(&template, function.property("Timeout"))
            .is_some_and(|t| t <= LAMBDA_MAX_TIMEOUT)
    );
    let events = function.value["Properties"]["Events"]
        .as_mapping()
        .expect("the function's events");
    let schedule: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("Schedule"))
        .collect();
    assert_eq!(schedule.len(), 1);
    assert_eq!(
        refs(&schedule[0]["Properties"]["Schedule"]),
        BTreeSet::from(["EntitlementsSchedule".to_owned()])
    );
    let rules: Vec<&Value> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("EventBridgeRule"))
        .map(|e| &e["Properties"]["Pattern"])
        .collect();
    let names_of = |source: &str| -> BTreeSet<String> {
        rules
            .iter()
            .filter(|p| {
                one_or_many(&p["source"])
                    .iter()
                    .any(|s| s.as_str() == Some(source))
            })
            .flat_map(|p| one_or_many(&p["detail"]["eventName"]))
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    };
    let code = |names: &[&str]| {
        names
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        names_of("aws.controltower"),
        code(&entitlements::run::CONTROL_TOWER_EVENTS)
    );
    assert_eq!(
        names_of("aws.organizations"),
        code(&entitlements::run::ORGANIZATIONS_EVENTS)
    );

    // The sample events: each matches a rule of the function, and the code reads it.
    for name in [
        "controltower-create-managed-account",
        "controltower-update-managed-account",
        "organizations-move-account",
        "organizations-create-account-result",
    ] {
        let event = aws_event(name);
        assert!(
            rules.iter().any(|p| pattern_matches(p, &event)),
            "{name} matches none of {rules:?}"
        );
        let trigger =
            entitlements::Trigger::from_event(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            matches!(
                trigger,
                entitlements::Trigger::Account {
                    account_id: Some(_),
                    ..
                }
            ),
            "{name}: {trigger:?}"
        );
    }
    assert_eq!(
        entitlements::Trigger::from_event(&aws_event("scheduled")),
        Ok(entitlements::Trigger::Schedule)
    );

    // The us-east-1 forwarder: the same Organizations pattern, sent to the stack
    // Region's default bus by a role that can do nothing else, deployable in us-east-1 only.
    let forwarder: Value =
        serde_norway::from_str(&read("infra/entitlements-forwarder.yaml")).expect("the forwarder");
    let rule = &forwarder["Resources"]["ForwardOrganizationsAccounts"]["Properties"];
    let organizations_rule = rules
        .iter()
        .find(|p| {
            one_or_many(&p["source"])
                .iter()
                .any(|s| s.as_str() == Some("aws.organizations"))
        })
        .expect("the Organizations rule");
    assert_eq!(&&rule["EventPattern"], organizations_rule);
    let target = &rule["Targets"][0];
    let bus = intrinsic(&target["Arn"]).and_then(|(_, v)| v.as_str().map(str::to_owned));
    assert_eq!(
        bus.as_deref(),
        Some("arn:${AWS::Partition}:events:${StackRegion}:${AWS::AccountId}:event-bus/default")
    );
    assert_eq!(
        refs(&target["RoleArn"]),
        BTreeSet::from(["ForwarderRole".to_owned()])
    );
    let statements = document_statements(
        &forwarder["Resources"]["ForwarderRole"]["Properties"]["Policies"][0]["PolicyDocument"],
    );
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0].actions(), ["events:PutEvents"]);
    assert_eq!(
        intrinsic(statements[0].resources()[0]).and_then(|(_, v)| v.as_str().map(str::to_owned)),
        bus
    );
    let asserts = serde_json::to_string(&forwarder["Rules"]).unwrap_or_default();
    assert!(
        asserts.contains("us-east-1") && asserts.contains("AWS::Region"),
        "{asserts}"
    );
}
