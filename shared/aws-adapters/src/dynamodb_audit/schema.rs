//! The table's definition: its key and index attribute names, the global secondary
//! indexes ([`INDEXES`]), the shards of the low-cardinality partition keys, the TTL
//! attribute, the partition and sort keys of each kind of item, and [`create_table`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use gateway::audit_store::AuditStoreError;
use gateway::audit_store::chain;

use super::backend::store_unavailable;

/// How many shards the low-cardinality partition keys (the time index, actor, outcome
/// and operation) are spread over: each shard is one DynamoDB partition key with its
/// own ~1,000 WCU/s, and a query reads them all and merges. Fixed by the table's data:
/// changing it needs a rewrite of the index attributes.
pub const SHARDS: u64 = 4;

/// The TTL attribute (epoch seconds) on every item.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The table's global secondary indexes: name and partition-key attribute. All sort by
/// [`TIME_SK`] and project all attributes.
pub const INDEXES: [(&str, &str); 7] = [
    (TIME_INDEX, "time_pk"),
    (TARGET_ID_INDEX, "tid"),
    (EXTERNAL_ID_INDEX, "xid"),
    (NAME_INDEX, "tname"),
    (ACTOR_INDEX, "actor_pk"),
    (OUTCOME_INDEX, "outcome_pk"),
    (OPERATION_INDEX, "op_pk"),
];

/// By time: `time_pk = REC#<shard>`.
pub const TIME_INDEX: &str = "time-index";
/// By Identity Center id: `tid = <id>`.
pub const TARGET_ID_INDEX: &str = "target-id-index";
/// By Okta id (`externalId`): `xid = <id>`.
pub const EXTERNAL_ID_INDEX: &str = "external-id-index";
/// By `userName` / `displayName`, lower-cased: `tname = <name>`.
pub const NAME_INDEX: &str = "name-index";
/// By actor: `actor_pk = <credential>#<shard>`.
pub const ACTOR_INDEX: &str = "actor-index";
/// By outcome: `outcome_pk = <outcome>#<shard>`.
pub const OUTCOME_INDEX: &str = "outcome-index";
/// By operation: `op_pk = <operation>#<shard>`.
pub const OPERATION_INDEX: &str = "operation-index";
/// The sort key of every index: `<time>#<record id>`.
pub const TIME_SK: &str = "time_sk";

pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const HEAD_SK: &str = "HEAD";
pub(super) const CHAINS_PK: &str = "CHAINS";
pub(super) const SEALS_PK: &str = "SEALS";

pub(super) fn chain_pk(chain: &str) -> String {
    format!("CHAIN#{chain}")
}

pub(super) fn record_sk(seq: u64) -> String {
    format!("REC#{seq:0width$}", width = chain::SEQ_DIGITS)
}

pub(super) fn shard(chain: &str) -> u64 {
    chain::chain_number(chain) % SHARDS
}

/// Creates the audit table exactly as `docs/audit-table.md` defines it (key schema,
/// the seven indexes, on-demand capacity) and turns on its TTL. For tests and
/// `scimgw audit` against a local emulator; in AWS the template creates it, with point-in-time
/// recovery and deletion protection on.
pub async fn create_table(client: &Client, table: &str) -> Result<(), AuditStoreError> {
    let string_key = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let mut attributes = vec![string_key(PK), string_key(SK), string_key(TIME_SK)];
    attributes.extend(INDEXES.iter().map(|(_, attr)| string_key(attr)));
    let attributes = attributes
        .into_iter()
        .collect::<Result<Vec<_>, BuildError>>()
        .map_err(store_unavailable)?;
    let indexes = INDEXES
        .iter()
        .map(|(name, attr)| {
            GlobalSecondaryIndex::builder()
                .index_name(*name)
                .key_schema(key(attr, KeyType::Hash)?)
                .key_schema(key(TIME_SK, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
        })
        .collect::<Result<Vec<_>, BuildError>>()
        .map_err(store_unavailable)?;
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .key_schema(key(PK, KeyType::Hash).map_err(store_unavailable)?)
        .key_schema(key(SK, KeyType::Range).map_err(store_unavailable)?)
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(store_unavailable)?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name(TTL_ATTRIBUTE)
        .enabled(true)
        .build()
        .map_err(store_unavailable)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(store_unavailable)?;
    Ok(())
}
