//! The audit table: [`DynamoDbAuditLog`] implements the audit ports
//! ([`AuditLog`](gateway::audit::AuditLog), [`AuditStore`](gateway::audit_store::AuditStore))
//! over one DynamoDB table, by backing the tamper-evident ledger of the `audit-ledger`
//! crate ([`gateway::audit_store::ledger`]) with [`DynamoDbLedger`], which also answers
//! the auditors' queries from the table's indexes
//! ([`AuditIndex`](gateway::audit_store::AuditIndex)). The table's layout, and
//! why, is in `docs/audit-table.md`; [`create_table`] creates exactly that.
//!
//! Items (base table):
//! - record: `pk = CHAIN#<chain>`, `sk = REC#<seq>`; the record's canonical JSON in
//!   `record`, its chain fields, and the index attributes below;
//! - chain head: `pk = CHAIN#<chain>`, `sk = HEAD`;
//! - chain registration: `pk = CHAINS`, `sk = <chain>`;
//! - seal: `pk = SEALS`, `sk = <last hour>`; seal pointer: `pk = SEALS`, `sk = HEAD`.
//!
//! Every index sorts by `time_sk = <time>#<record id>`, so each auditor's question is a
//! key-range query on one index.
//!
//! The code is split by concern, each part in `dynamodb_audit/`: `schema.rs`, the
//! table's definition (keys, [`INDEXES`], [`SHARDS`], [`create_table`]); `items.rs`,
//! encoding items and reading them back for verification; `backend.rs`,
//! [`DynamoDbLedger`]'s appends, seals and reads, and its error classification;
//! `query.rs`, the query planner (an index, its partitions merged, cursors); and
//! `log.rs`, [`DynamoDbAuditLog`], the port wrapper.

mod backend;
mod items;
pub mod loader;
mod log;
mod query;
mod schema;

pub use backend::DynamoDbLedger;
pub use log::DynamoDbAuditLog;
pub use schema::{
    ACTOR_INDEX, EXTERNAL_ID_INDEX, INDEXES, NAME_INDEX, OPERATION_INDEX, OUTCOME_INDEX, SHARDS,
    TARGET_ID_INDEX, TIME_INDEX, TIME_SK, TTL_ATTRIBUTE, create_table,
};
