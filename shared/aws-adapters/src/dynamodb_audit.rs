//! The audit table: [`DynamoDbAuditLog`] implements the audit ports ([`AuditLog`],
//! [`AuditStore`]) over one DynamoDB table, by backing the gateway's tamper-evident
//! ledger ([`gateway::audit_store::ledger`]) with [`DynamoDbLedger`]. The table's
//! layout, and why, is in `docs/audit-table.md`; [`create_table`] creates exactly that.
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, PutRequest, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use futures::StreamExt as _;
use gateway::Clock;
use gateway::audit::{AuditError, AuditLog, AuditRecord, Outcome};
use gateway::audit_store::chain;
use gateway::audit_store::keys::AuditPowers;
use gateway::audit_store::ledger::{
    Anomaly, ChainItems, ChainedAuditLog, ClosingEntry, LedgerAppend, LedgerBackend, LedgerError,
    RawChain, RawHead, RawRecord, RawSeal, RawSealHead, SealAnchors, SealEntry, SealHeadEntry,
    SealRun, SealSummary,
};
use gateway::audit_store::{
    AuditPage, AuditQuery, AuditStore, AuditStoreError, ProblemKind, QueryCursor, RecordIntegrity,
    StoredAuditRecord, VerifyReport,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

type Item = HashMap<String, AttributeValue>;

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

const PK: &str = "pk";
const SK: &str = "sk";
const HEAD_SK: &str = "HEAD";
const CHAINS_PK: &str = "CHAINS";
const SEALS_PK: &str = "SEALS";
/// Reads and writes in flight at once for fan-out work (closing heads, bulk loads).
const FAN_OUT: usize = 16;
/// The most items one query call reads before it hands back a cursor, so that a very
/// unselective residual filter cannot make one call read the whole table.
const SCAN_BUDGET: usize = 5_000;

fn chain_pk(chain: &str) -> String {
    format!("CHAIN#{chain}")
}

fn record_sk(seq: u64) -> String {
    format!("REC#{seq:0width$}", width = chain::SEQ_DIGITS)
}

fn shard(chain: &str) -> u64 {
    chain::chain_number(chain) % SHARDS
}

/// A serde value's name (`success`, `patch`, `User`).
fn word<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|s| !s.is_empty()).cloned()
}

/// A record item as stored: the ledger's fields, the record's canonical JSON, the
/// index attributes and a few plain attributes for people reading the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RecordItem {
    pk: String,
    sk: String,
    kind: String,
    chain: String,
    seq: u64,
    prev_hash: String,
    hash: String,
    mac: String,
    key_id: String,
    written_at: String,
    expires_at: i64,
    /// The record's canonical JSON, exactly as hashed.
    record: String,
    #[serde(flatten)]
    index: IndexAttributes,
}

/// Everything derived from the record for the indexes and for reading: recomputed by
/// `verify`, so a change to any of them shows as an alteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexAttributes {
    time_pk: String,
    time_sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tname: Option<String>,
    actor_pk: String,
    outcome_pk: String,
    op_pk: String,
    time: String,
    actor: String,
    outcome: String,
    operation: String,
    status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_name: Option<String>,
    correlation_id: String,
}

impl IndexAttributes {
    fn of(chain: &str, id: &str, record: &AuditRecord) -> Self {
        let s = shard(chain);
        let outcome = word(&record.outcome);
        let operation = word(&record.operation);
        Self {
            time_pk: format!("REC#{s}"),
            time_sk: chain::sort_key(record.time, id),
            tid: non_empty(record.subject.target_id.as_ref()),
            xid: non_empty(record.subject.external_id.as_ref()),
            tname: non_empty(record.subject.name.as_ref()).map(|n| n.to_lowercase()),
            actor_pk: format!("{}#{s}", record.actor.credential),
            outcome_pk: format!("{outcome}#{s}"),
            op_pk: format!("{operation}#{s}"),
            time: chain::fmt_time(record.time),
            actor: record.actor.credential.clone(),
            outcome,
            operation,
            status: record.status,
            resource_type: record.subject.resource_type.as_ref().map(word),
            target_name: non_empty(record.subject.name.as_ref()),
            correlation_id: record.correlation_id.clone(),
        }
    }

    /// The names of the attributes on which `self` (stored) and `expected` differ.
    fn differences(stored: &Item, expected: &Self) -> Vec<String> {
        let Ok(expected) = to_item(expected) else {
            return vec!["(unreadable)".into()];
        };
        let names: HashSet<&String> = expected.keys().collect();
        let mut out: Vec<String> = expected
            .iter()
            .filter(|(name, value)| stored.get(*name) != Some(value))
            .map(|(name, _)| name.clone())
            .collect();
        // An index attribute the record does not call for (e.g. a planted `tid`).
        for optional in ["tid", "xid", "tname", "resource_type", "target_name"] {
            if !names.iter().any(|n| n.as_str() == optional) && stored.contains_key(optional) {
                out.push(optional.to_owned());
            }
        }
        out.sort();
        out
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, serde_dynamo::Error> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value)
}

#[derive(Debug, Serialize)]
struct HeadItem<'a> {
    pk: String,
    sk: &'a str,
    kind: &'a str,
    chain: &'a str,
    seq: u64,
    hash: &'a str,
    last_written_at: &'a str,
    last_expires_at: i64,
    key_id: &'a str,
    mac: &'a str,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct ChainItem<'a> {
    pk: &'a str,
    sk: &'a str,
    kind: &'a str,
    chain: &'a str,
    created_at: &'a str,
    key_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_chain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prev_hash: Option<&'a str>,
    mac: &'a str,
    expires_at: i64,
}

#[derive(Debug, Serialize)]
struct SealItem<'a> {
    pk: &'a str,
    sk: &'a str,
    kind: &'a str,
    from: &'a str,
    prev_mac: &'a str,
    prev_expires_at: i64,
    chains: &'a str,
    key_id: &'a str,
    mac: &'a str,
    expires_at: i64,
}

fn s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().ok(),
        _ => None,
    }
}

fn location(item: &Item) -> String {
    format!(
        "pk={} sk={}",
        s(item, PK).unwrap_or_default(),
        s(item, SK).unwrap_or_default()
    )
}

/// A record item as read for verification, with what its key and index attributes
/// say against its content.
fn raw_record(item: &Item) -> RawRecord {
    let mut raw = RawRecord {
        location: location(item),
        chain: s(item, "chain"),
        seq: n(item, "seq"),
        prev_hash: s(item, "prev_hash"),
        hash: s(item, "hash"),
        mac: s(item, "mac"),
        key_id: s(item, "key_id"),
        written_at: s(item, "written_at"),
        expires_at: n(item, TTL_ATTRIBUTE),
        record_json: s(item, "record"),
        anomalies: Vec::new(),
    };
    if let (Some(chain_id), Some(seq)) = (&raw.chain, raw.seq) {
        let id = chain::record_id(chain_id, seq);
        if s(item, PK).as_deref() != Some(chain_pk(chain_id).as_str())
            || s(item, SK).as_deref() != Some(record_sk(seq).as_str())
        {
            raw.anomalies.push(Anomaly {
                kind: ProblemKind::Reordered,
                detail: format!("stored under {}, but the item is record {id}", raw.location),
            });
        }
        let record = raw
            .record_json
            .as_deref()
            .and_then(|j| serde_json::from_str::<AuditRecord>(j).ok());
        match record {
            Some(record) => {
                let diff = IndexAttributes::differences(
                    item,
                    &IndexAttributes::of(chain_id, &id, &record),
                );
                if !diff.is_empty() {
                    raw.anomalies.push(Anomaly {
                        kind: ProblemKind::Altered,
                        detail: format!(
                            "attributes that disagree with the record: {}",
                            diff.join(", ")
                        ),
                    });
                }
            }
            None => raw.anomalies.push(Anomaly {
                kind: ProblemKind::Altered,
                detail: "the record's JSON does not read as an audit record".into(),
            }),
        }
    }
    raw
}

fn raw_head(item: &Item) -> RawHead {
    RawHead {
        location: location(item),
        seq: n(item, "seq"),
        hash: s(item, "hash"),
        last_written_at: s(item, "last_written_at"),
        last_expires_at: n(item, "last_expires_at"),
        key_id: s(item, "key_id"),
        mac: s(item, "mac"),
    }
}

fn raw_chain(item: &Item) -> RawChain {
    RawChain {
        location: location(item),
        chain: s(item, SK).unwrap_or_default(),
        created_at: s(item, "created_at"),
        key_id: s(item, "key_id"),
        prev_chain: s(item, "prev_chain"),
        prev_seq: n(item, "prev_seq"),
        prev_hash: s(item, "prev_hash"),
        mac: s(item, "mac"),
    }
}

fn raw_seal(item: &Item) -> RawSeal {
    RawSeal {
        location: location(item),
        through: s(item, SK).unwrap_or_default(),
        from: s(item, "from"),
        prev_mac: s(item, "prev_mac"),
        prev_expires_at: n(item, "prev_expires_at"),
        chains: s(item, "chains"),
        key_id: s(item, "key_id"),
        mac: s(item, "mac"),
        expires_at: n(item, TTL_ATTRIBUTE),
    }
}

/// What a query reads of each item: the record and its chain fields, not the index
/// attributes (less to transfer; in moto, far less to serialize).
const QUERY_PROJECTION: &str =
    "chain, seq, prev_hash, #h, mac, key_id, written_at, expires_at, #r, time_sk";

/// What verification's discovery reads of each record in the period.
const DISCOVERY_PROJECTION: &str = "pk, sk, chain, seq";

/// A query result item.
#[derive(Debug, Deserialize)]
struct QueriedItem {
    chain: String,
    seq: u64,
    prev_hash: String,
    hash: String,
    mac: String,
    key_id: String,
    written_at: String,
    expires_at: i64,
    record: String,
}

/// The stored record of a query result item; `None` (logged) for an item that does not
/// read as one, which `verify` reports.
fn stored_record(item: Item) -> Option<StoredAuditRecord> {
    let location = location(&item);
    let parsed: Result<QueriedItem, _> = serde_dynamo::aws_sdk_dynamodb_1::from_item(item);
    let stored = parsed.ok().and_then(|r| {
        Some(StoredAuditRecord {
            id: chain::record_id(&r.chain, r.seq),
            record: serde_json::from_str(&r.record).ok()?,
            integrity: RecordIntegrity {
                chain: r.chain,
                seq: r.seq,
                prev_hash: r.prev_hash,
                hash: r.hash,
                mac: r.mac,
                key_id: r.key_id,
                written_at: r.written_at,
                expires_at: r.expires_at,
            },
        })
    });
    if stored.is_none() {
        tracing::warn!(target: "scimgw::audit", %location, "audit: an item in an index does not read as a record");
    }
    stored
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> LedgerError {
    LedgerError::Unavailable(Box::new(e))
}

fn store_unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> AuditStoreError {
    AuditStoreError::Unavailable(Box::new(e))
}

/// Whether a failed call failed only on its condition.
fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

/// Sorts a failed transaction: a condition (or a concurrent transaction on the same
/// items) is a conflict the ledger handles by starting over; the rest is an outage.
fn classify_transaction<R>(err: SdkError<TransactWriteItemsError, R>) -> LedgerError
where
    R: fmt::Debug + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = &err
        && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
        && cancelled.cancellation_reasons().iter().any(|r| {
            matches!(
                r.code(),
                Some("ConditionalCheckFailed") | Some("TransactionConflict")
            )
        })
    {
        return LedgerError::Conflict;
    }
    unavailable(err)
}

/// Stores the ledger's items in one DynamoDB table (see the module docs).
#[derive(Debug, Clone)]
pub struct DynamoDbLedger {
    client: Client,
    table: String,
}

impl DynamoDbLedger {
    /// A backend over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn record_item(append: &LedgerAppend) -> Result<Item, LedgerError> {
        let entry = &append.record;
        let i = &entry.integrity;
        to_item(&RecordItem {
            pk: chain_pk(&i.chain),
            sk: record_sk(i.seq),
            kind: "record".into(),
            chain: i.chain.clone(),
            seq: i.seq,
            prev_hash: i.prev_hash.clone(),
            hash: i.hash.clone(),
            mac: i.mac.clone(),
            key_id: i.key_id.clone(),
            written_at: i.written_at.clone(),
            expires_at: i.expires_at,
            record: entry.record_json.clone(),
            index: IndexAttributes::of(&i.chain, &entry.id, &entry.record),
        })
        .map_err(unavailable)
    }

    fn head_item(append: &LedgerAppend) -> Result<Item, LedgerError> {
        let h = &append.head;
        to_item(&HeadItem {
            pk: chain_pk(&h.chain),
            sk: HEAD_SK,
            kind: "head",
            chain: &h.chain,
            seq: h.seq,
            hash: &h.hash,
            last_written_at: &h.last_written_at,
            last_expires_at: h.last_expires_at,
            key_id: &h.key_id,
            mac: &h.mac,
            expires_at: h.expires_at,
        })
        .map_err(unavailable)
    }

    fn chain_item(append: &LedgerAppend) -> Result<Option<Item>, LedgerError> {
        append
            .genesis
            .as_ref()
            .map(|g| {
                to_item(&ChainItem {
                    pk: CHAINS_PK,
                    sk: &g.chain,
                    kind: "chain",
                    chain: &g.chain,
                    created_at: &g.created_at,
                    key_id: &g.key_id,
                    prev_chain: g.prev.as_ref().map(|p| p.chain.as_str()),
                    prev_seq: g.prev.as_ref().map(|p| p.seq),
                    prev_hash: g.prev.as_ref().map(|p| p.hash.as_str()),
                    mac: &g.mac,
                    expires_at: g.expires_at,
                })
                .map_err(unavailable)
            })
            .transpose()
    }

    fn key(pk: &str, sk: &str) -> Item {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk.to_owned())),
            (SK.to_owned(), AttributeValue::S(sk.to_owned())),
        ])
    }

    /// Writes already chained appends straight to the table with BatchWriteItem: each
    /// record, and each chain's registration and last head. For loading test and
    /// benchmark data only: it skips the append conditions, so it must not race with
    /// real writers on the same chains.
    pub async fn bulk_load(&self, appends: &[LedgerAppend]) -> Result<(), AuditStoreError> {
        let mut items: Vec<Item> = Vec::with_capacity(appends.len() + appends.len() / 8);
        let mut last_head: HashMap<&str, &LedgerAppend> = HashMap::new();
        for append in appends {
            items.push(Self::record_item(append)?);
            if let Some(chain_item) = Self::chain_item(append)? {
                items.push(chain_item);
            }
            let entry = last_head
                .entry(append.head.chain.as_str())
                .or_insert(append);
            if entry.head.seq < append.head.seq {
                *entry = append;
            }
        }
        for append in last_head.values() {
            items.push(Self::head_item(append)?);
        }
        let batches: Vec<Vec<Item>> = items.chunks(25).map(<[Item]>::to_vec).collect();
        let results: Vec<Result<(), AuditStoreError>> = futures::stream::iter(batches)
            .map(|batch| self.batch_write(batch))
            .buffer_unordered(FAN_OUT)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn batch_write(&self, batch: Vec<Item>) -> Result<(), AuditStoreError> {
        let mut requests: Vec<WriteRequest> = batch
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<_, BuildError>>()
            .map_err(store_unavailable)?;
        for attempt in 0..10u32 {
            if requests.is_empty() {
                return Ok(());
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, requests)
                .send()
                .await
                .map_err(store_unavailable)?;
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if !requests.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt.min(6))).await;
            }
        }
        Err(AuditStoreError::InvalidQuery(
            "bulk load: items stayed unprocessed after retries".into(),
        ))
    }

    /// Every item of one partition, optionally within a sort-key range, consistently.
    async fn partition(
        &self,
        pk: &str,
        range: Option<(&str, &str)>,
    ) -> Result<Vec<Item>, LedgerError> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            req = match range {
                Some((lo, hi)) => req
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":lo", AttributeValue::S(lo.to_owned()))
                    .expression_attribute_values(":hi", AttributeValue::S(hi.to_owned())),
                None => req.key_condition_expression("#pk = :pk"),
            };
            let page = req.send().await.map_err(unavailable)?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(out),
            }
        }
    }

    /// One page of one index partition within `[lo, hi]` of the sort key.
    async fn index_page(
        &self,
        stream: &Stream,
        lo: &str,
        hi: &str,
        page_size: i32,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<Item>), AuditStoreError> {
        let mut request = self.client.query();
        if let Some(projection) = projection {
            request = request.projection_expression(projection);
            // `hash` is a reserved word; `record` is aliased alike for symmetry. Names
            // a request does not use are an error, so only where the projection has them.
            if projection.contains("#h") {
                request = request
                    .expression_attribute_names("#h", "hash")
                    .expression_attribute_names("#r", "record");
            }
        }
        let page = request
            .table_name(&self.table)
            .index_name(stream.index)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", stream.attribute)
            .expression_attribute_names("#sk", TIME_SK)
            .expression_attribute_values(":pk", AttributeValue::S(stream.value.clone()))
            .expression_attribute_values(":lo", AttributeValue::S(lo.to_owned()))
            .expression_attribute_values(":hi", AttributeValue::S(hi.to_owned()))
            .limit(page_size)
            .set_exclusive_start_key(stream.next.clone())
            .send()
            .await
            .map_err(store_unavailable)?;
        let next = page.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((page.items.unwrap_or_default(), next))
    }
}

/// One index partition read in sort-key order during a query.
#[derive(Debug)]
struct Stream {
    index: &'static str,
    attribute: &'static str,
    value: String,
    buffer: VecDeque<Item>,
    next: Option<Item>,
    done: bool,
}

impl Stream {
    fn new(index: &'static str, attribute: &'static str, value: String) -> Self {
        Self {
            index,
            attribute,
            value,
            buffer: VecDeque::new(),
            next: None,
            done: false,
        }
    }

    fn head_key(&self) -> Option<String> {
        self.buffer.front().and_then(|item| s(item, TIME_SK))
    }
}

/// The index a query reads (the most selective its filters allow) and its partitions;
/// the other filters are applied to what it returns.
fn plan(query: &AuditQuery) -> (&'static str, Vec<Stream>) {
    let sharded = |index: &'static str, attribute: &'static str, prefix: &str| {
        (0..SHARDS)
            .map(|s| Stream::new(index, attribute, format!("{prefix}#{s}")))
            .collect::<Vec<_>>()
    };
    if let Some(target) = &query.target {
        return (
            "target",
            vec![
                Stream::new(TARGET_ID_INDEX, "tid", target.clone()),
                Stream::new(EXTERNAL_ID_INDEX, "xid", target.clone()),
                Stream::new(NAME_INDEX, "tname", target.to_lowercase()),
            ],
        );
    }
    // Failures and refusals are rare, so their index partitions are small; successes
    // are most of the table and come last.
    if let Some(outcome) = query.outcome.filter(|o| *o != Outcome::Success) {
        return (
            "outcome",
            sharded(OUTCOME_INDEX, "outcome_pk", &word(&outcome)),
        );
    }
    if let Some(actor) = &query.actor {
        return ("actor", sharded(ACTOR_INDEX, "actor_pk", actor));
    }
    if let Some(op) = &query.operation {
        return ("operation", sharded(OPERATION_INDEX, "op_pk", &word(op)));
    }
    if let Some(outcome) = &query.outcome {
        return (
            "outcome",
            sharded(OUTCOME_INDEX, "outcome_pk", &word(outcome)),
        );
    }
    ("time", sharded(TIME_INDEX, "time_pk", "REC"))
}

#[async_trait]
impl LedgerBackend for DynamoDbLedger {
    async fn append(&self, append: &LedgerAppend) -> Result<(), LedgerError> {
        let chain_id = &append.head.chain;
        let not_exists = "attribute_not_exists(#pk)";
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::record_item(append)?))
            .condition_expression(not_exists)
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![TransactWriteItem::builder().put(record).build()];
        match Self::chain_item(append)? {
            Some(registration) => {
                let hour = chain::chain_hour(chain_id).unwrap_or_default();
                let head = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(Self::head_item(append)?))
                    .condition_expression(not_exists)
                    .expression_attribute_names("#pk", PK)
                    .build()
                    .map_err(unavailable)?;
                let register = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(registration))
                    .condition_expression(not_exists)
                    .expression_attribute_names("#pk", PK)
                    .build()
                    .map_err(unavailable)?;
                // The hour must still be open for new chains: the sealer closes it
                // before listing its chains.
                let open = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(SEALS_PK, HEAD_SK)))
                    .condition_expression("attribute_not_exists(#closing) OR #closing < :hour")
                    .expression_attribute_names("#closing", "closing")
                    .expression_attribute_values(":hour", AttributeValue::S(hour.to_owned()))
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().put(head).build());
                items.push(TransactWriteItem::builder().put(register).build());
                items.push(TransactWriteItem::builder().condition_check(open).build());
            }
            None => {
                let h = &append.head;
                let head = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(&chain_pk(chain_id), HEAD_SK)))
                    .update_expression(
                        "SET #seq = :seq, #hash = :hash, #lw = :lw, #le = :le, #key = :key, #mac = :mac, #exp = :exp",
                    )
                    .condition_expression("#seq = :prev AND attribute_not_exists(#closed)")
                    .expression_attribute_names("#seq", "seq")
                    .expression_attribute_names("#hash", "hash")
                    .expression_attribute_names("#lw", "last_written_at")
                    .expression_attribute_names("#le", "last_expires_at")
                    .expression_attribute_names("#key", "key_id")
                    .expression_attribute_names("#mac", "mac")
                    .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                    .expression_attribute_names("#closed", "closed")
                    .expression_attribute_values(":seq", AttributeValue::N(h.seq.to_string()))
                    .expression_attribute_values(":prev", AttributeValue::N((h.seq - 1).to_string()))
                    .expression_attribute_values(":hash", AttributeValue::S(h.hash.clone()))
                    .expression_attribute_values(":lw", AttributeValue::S(h.last_written_at.clone()))
                    .expression_attribute_values(":le", AttributeValue::N(h.last_expires_at.to_string()))
                    .expression_attribute_values(":key", AttributeValue::S(h.key_id.clone()))
                    .expression_attribute_values(":mac", AttributeValue::S(h.mac.clone()))
                    .expression_attribute_values(":exp", AttributeValue::N(h.expires_at.to_string()))
                    .build()
                    .map_err(unavailable)?;
                items.push(TransactWriteItem::builder().update(head).build());
            }
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(classify_transaction)?;
        Ok(())
    }

    async fn seal_head(&self) -> Result<Option<RawSealHead>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(SEALS_PK, HEAD_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.map(|item| RawSealHead {
            through: s(&item, "through"),
            last_mac: s(&item, "last_mac"),
            last_expires_at: n(&item, "last_expires_at"),
            key_id: s(&item, "key_id"),
            mac: s(&item, "mac"),
            closing: s(&item, "closing"),
            closing_key_id: s(&item, "closing_key_id"),
            closing_sig: s(&item, "closing_sig"),
        }))
    }

    async fn set_closing(
        &self,
        closing: &ClosingEntry,
        expected: Option<&str>,
    ) -> Result<(), LedgerError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(SEALS_PK, HEAD_SK)))
            .update_expression("SET #closing = :hour, #ck = :key, #cs = :sig, #kind = :kind")
            .expression_attribute_names("#closing", "closing")
            .expression_attribute_names("#ck", "closing_key_id")
            .expression_attribute_names("#cs", "closing_sig")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":hour", AttributeValue::S(closing.hour.clone()))
            .expression_attribute_values(":key", AttributeValue::S(closing.key_id.clone()))
            .expression_attribute_values(":sig", AttributeValue::S(closing.sig.clone()))
            .expression_attribute_values(":kind", AttributeValue::S("seal-head".into()));
        let update = match expected {
            Some(expected) => update
                .condition_expression("#closing = :expected")
                .expression_attribute_values(":expected", AttributeValue::S(expected.to_owned())),
            None => update.condition_expression("attribute_not_exists(#closing)"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(LedgerError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn registrations(&self, from: &str, through: &str) -> Result<Vec<RawChain>, LedgerError> {
        // Chain ids are `<hour>-<hex>`; `~` sorts after `-`, so this takes all of `through`.
        let hi = format!("{through}~");
        let items = self.partition(CHAINS_PK, Some((from, &hi))).await?;
        Ok(items.iter().map(raw_chain).collect())
    }

    async fn earliest_chain(&self) -> Result<Option<String>, LedgerError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", AttributeValue::S(CHAINS_PK.into()))
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out
            .items
            .unwrap_or_default()
            .first()
            .and_then(|item| s(item, SK)))
    }

    async fn close_chains(&self, chains: &[String]) -> Result<Vec<(String, RawHead)>, LedgerError> {
        let closed: Vec<Result<Option<(String, RawHead)>, LedgerError>> =
            futures::stream::iter(chains.to_vec())
                .map(|chain_id| async move {
                    let result = self
                        .client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(Self::key(&chain_pk(&chain_id), HEAD_SK)))
                        .update_expression("SET #closed = :t")
                        .condition_expression("attribute_exists(#pk)")
                        .expression_attribute_names("#closed", "closed")
                        .expression_attribute_names("#pk", PK)
                        .expression_attribute_values(":t", AttributeValue::Bool(true))
                        .return_values(ReturnValue::AllNew)
                        .send()
                        .await;
                    match result {
                        Ok(out) => Ok(out.attributes.map(|a| (chain_id, raw_head(&a)))),
                        Err(e) if condition_failed(&e) => Ok(None),
                        Err(e) => Err(unavailable(e)),
                    }
                })
                .buffer_unordered(FAN_OUT)
                .collect()
                .await;
        let mut heads = Vec::with_capacity(closed.len());
        for result in closed {
            heads.extend(result?);
        }
        Ok(heads)
    }

    async fn put_seal(
        &self,
        seal: &SealEntry,
        head: &SealHeadEntry,
        expected_through: Option<&str>,
    ) -> Result<(), LedgerError> {
        let item = to_item(&SealItem {
            pk: SEALS_PK,
            sk: &seal.through,
            kind: "seal",
            from: &seal.from,
            prev_mac: &seal.prev_mac,
            prev_expires_at: seal.prev_expires_at,
            chains: &seal.chains,
            key_id: &seal.key_id,
            mac: &seal.mac,
            expires_at: seal.expires_at,
        })
        .map_err(unavailable)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(unavailable)?;
        let mut pointer = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(SEALS_PK, HEAD_SK)))
            .update_expression(
                "SET #through = :through, #lm = :lm, #le = :le, #key = :key, #mac = :mac, #kind = :kind",
            )
            .expression_attribute_names("#through", "through")
            .expression_attribute_names("#lm", "last_mac")
            .expression_attribute_names("#le", "last_expires_at")
            .expression_attribute_names("#key", "key_id")
            .expression_attribute_names("#mac", "mac")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":through", AttributeValue::S(head.through.clone()))
            .expression_attribute_values(":lm", AttributeValue::S(head.last_mac.clone()))
            .expression_attribute_values(":le", AttributeValue::N(head.last_expires_at.to_string()))
            .expression_attribute_values(":key", AttributeValue::S(head.key_id.clone()))
            .expression_attribute_values(":mac", AttributeValue::S(head.mac.clone()))
            .expression_attribute_values(":kind", AttributeValue::S("seal-head".into()));
        pointer = match expected_through {
            Some(expected) => pointer
                .condition_expression("#through = :expected")
                .expression_attribute_values(":expected", AttributeValue::S(expected.to_owned())),
            None => pointer.condition_expression("attribute_not_exists(#through)"),
        };
        let pointer = pointer.build().map_err(unavailable)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(pointer).build())
            .send()
            .await
            .map_err(classify_transaction)?;
        Ok(())
    }

    async fn seals(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError> {
        let items = self.partition(SEALS_PK, Some((from, through))).await?;
        Ok(items.iter().map(raw_seal).collect())
    }

    async fn seal_after(&self, hour: &str) -> Result<Option<RawSeal>, LedgerError> {
        let Some(next) = chain::next_hour(hour) else {
            return Ok(None);
        };
        // Hour keys are digits first; the pointer's `HEAD` sorts after them all.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(SEALS_PK.into()))
            .expression_attribute_values(":lo", AttributeValue::S(next))
            .expression_attribute_values(":hi", AttributeValue::S("99991231T23".into()))
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.items.unwrap_or_default().first().map(raw_seal))
    }

    async fn latest_seal_before(&self, hour: Option<&str>) -> Result<Option<RawSeal>, LedgerError> {
        // Hour keys are digits first; the pointer's `HEAD` sorts after them all.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND #sk < :hi")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(SEALS_PK.into()))
            .expression_attribute_values(
                ":hi",
                AttributeValue::S(hour.unwrap_or(HEAD_SK).to_owned()),
            )
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.items.unwrap_or_default().first().map(raw_seal))
    }

    async fn records_between(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<RawRecord>, LedgerError> {
        let lo = chain::fmt_time(since);
        let hi = format!("{}~", chain::fmt_time(until - Duration::nanoseconds(1)));
        let mut out = Vec::new();
        for shard in 0..SHARDS {
            let mut stream = Stream::new(TIME_INDEX, "time_pk", format!("REC#{shard}"));
            loop {
                // Only where each record is and what it claims: its content is read
                // (and judged) with its chain.
                let (items, next) = self
                    .index_page(&stream, &lo, &hi, 1000, Some(DISCOVERY_PROJECTION))
                    .await
                    .map_err(|e| LedgerError::Unavailable(Box::new(e)))?;
                out.extend(items.iter().map(|item| RawRecord {
                    location: location(item),
                    chain: s(item, "chain"),
                    seq: n(item, "seq"),
                    ..RawRecord::default()
                }));
                match next {
                    Some(key) => stream.next = Some(key),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    async fn chain(&self, chain_id: &str) -> Result<ChainItems, LedgerError> {
        let items = self.partition(&chain_pk(chain_id), None).await?;
        let mut out = ChainItems::default();
        for item in &items {
            if s(item, SK).as_deref() == Some(HEAD_SK) {
                out.head = Some(raw_head(item));
            } else {
                out.records.push(raw_record(item));
            }
        }
        Ok(out)
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        let (plan_id, mut streams) = plan(query);
        let mut lo = query.since.map_or_else(|| "0".to_owned(), chain::fmt_time);
        if let Some(text) = &query.cursor {
            // Sort keys are prefix-free, so anything after `after` sorts after `after!`.
            let after = format!("{}!", QueryCursor::decode(text, plan_id)?.after);
            lo = lo.max(after);
        }
        let hi = query.until.map_or_else(
            || "~".to_owned(),
            |u| format!("{}~", chain::fmt_time(u - Duration::nanoseconds(1))),
        );
        let limit = query.limit as usize;
        let mut records = Vec::new();
        if lo > hi {
            return Ok(AuditPage {
                records,
                next_cursor: None,
            });
        }
        // Each partition is read a page at a time and the pages merged by sort key, so
        // the result is in time order across shards and indexes. Records spread evenly
        // over the shards, so each page asks for a share of the limit (plus a margin),
        // and a partition whose page runs out first is simply read again.
        let share = limit / streams.len().max(1);
        let page_size = i32::try_from((share + share / 4 + 5).clamp(5, 1000)).unwrap_or(1000);
        let mut seen: HashSet<String> = HashSet::new();
        let mut position: Option<String> = None;
        let mut scanned = 0usize;
        while records.len() < limit && scanned < SCAN_BUDGET {
            let refill: Vec<usize> = (0..streams.len())
                .filter(|&i| streams[i].buffer.is_empty() && !streams[i].done)
                .collect();
            let pages = futures::future::join_all(refill.iter().map(|&i| {
                self.index_page(&streams[i], &lo, &hi, page_size, Some(QUERY_PROJECTION))
            }))
            .await;
            for (&i, page) in refill.iter().zip(pages) {
                let (items, next) = page?;
                let stream = &mut streams[i];
                stream.buffer.extend(items);
                stream.done = next.is_none();
                stream.next = next;
            }
            let Some(i) = (0..streams.len())
                .filter_map(|i| streams[i].head_key().map(|k| (k, i)))
                .min()
                .map(|(_, i)| i)
            else {
                break;
            };
            let Some(item) = streams[i].buffer.pop_front() else {
                break;
            };
            scanned += 1;
            position = s(&item, TIME_SK);
            let Some(stored) = stored_record(item) else {
                continue;
            };
            if seen.insert(stored.id.clone()) && query.matches(&stored.record) {
                records.push(stored);
            }
        }
        let more = streams.iter().any(|s| !s.buffer.is_empty() || !s.done);
        let next_cursor = match position {
            Some(after) if more => Some(
                QueryCursor {
                    plan: plan_id.to_owned(),
                    after,
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }
}

/// The audit ports over the audit table: records are chained, sealed and verified by
/// the gateway's ledger, stored by [`DynamoDbLedger`].
#[derive(Debug)]
pub struct DynamoDbAuditLog {
    ledger: ChainedAuditLog<DynamoDbLedger>,
}

impl DynamoDbAuditLog {
    /// An audit log over `table` that may do what `powers` allow (a writer MACs, the
    /// sealer signs, verifiers check), keeping records for `retention` (the TTL).
    /// Sealing and verifying also need [`Self::with_anchors`].
    pub fn new(
        client: Client,
        table: impl Into<String>,
        powers: AuditPowers,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Self {
        Self {
            ledger: ChainedAuditLog::new(
                DynamoDbLedger::new(client, table),
                powers,
                clock,
                retention,
            ),
        }
    }

    /// Where seals are anchored write-once.
    pub fn with_anchors(self, anchors: Arc<dyn SealAnchors>) -> Self {
        Self {
            ledger: self.ledger.with_anchors(anchors),
        }
    }

    /// The ledger (for `seal_due`, `append_stored`, or the backend).
    pub fn ledger(&self) -> &ChainedAuditLog<DynamoDbLedger> {
        &self.ledger
    }

    /// Appends a record and returns it as stored.
    pub async fn append_stored(
        &self,
        record: AuditRecord,
    ) -> Result<StoredAuditRecord, AuditStoreError> {
        self.ledger.append_stored(record).await
    }

    /// Seals every finished hour not sealed yet (the sealer's scheduled job).
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        self.ledger.seal_due().await
    }

    /// As [`Self::seal_due`], with the repairs the run made.
    pub async fn seal_run(&self) -> Result<SealRun, AuditStoreError> {
        self.ledger.seal_run().await
    }
}

#[async_trait]
impl AuditLog for DynamoDbAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.ledger.append(record).await
    }
}

#[async_trait]
impl AuditStore for DynamoDbAuditLog {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        self.ledger.query(query).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.ledger.verify(since, until).await
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gateway::audit::{AuditActor, AuditOperation, AuditSource, AuditSubject};
    use time::macros::datetime;

    fn record() -> AuditRecord {
        AuditRecord {
            time: datetime!(2024-04-05 06:32:12 UTC),
            source: AuditSource::Event {
                uuid: "e-1".into(),
                published: None,
                event_type: None,
            },
            actor: AuditActor {
                credential: "okta-admin:alice".into(),
                user_agent: None,
            },
            subject: AuditSubject {
                resource_type: None,
                external_id: Some("00u1".into()),
                target_id: Some(String::new()),
                name: Some("BJensen".into()),
            },
            operation: AuditOperation::Delete,
            membership: None,
            changes: vec![],
            query: None,
            rule_set_version: "v1".into(),
            outcome: Outcome::Refused,
            status: 404,
            target_status: None,
            target_calls: 0,
            latency_ms: 1,
            correlation_id: "req-1".into(),
            error: None,
            reason: None,
            source_ip: None,
            request_id: None,
        }
    }

    #[test]
    fn index_attributes_are_sharded_by_chain_and_leave_empty_ids_out() {
        // Act
        let chain = "20240405T06-0000000000000006";
        let attrs = IndexAttributes::of(chain, &chain::record_id(chain, 1), &record());

        // Assert
        assert_eq!(attrs.time_pk, "REC#2");
        assert_eq!(attrs.outcome_pk, "refused#2");
        assert_eq!(attrs.op_pk, "delete#2");
        assert_eq!(attrs.actor_pk, "okta-admin:alice#2");
        assert_eq!(attrs.tid, None, "an empty id is not a key");
        assert_eq!(attrs.tname.as_deref(), Some("bjensen"));
        assert!(attrs.time_sk.starts_with("2024-04-05T06:32:12.000000000Z#"));
    }

    #[test]
    fn the_plan_reads_the_most_selective_index() {
        let q = |f: fn(&mut AuditQuery)| {
            let mut q = AuditQuery::default();
            f(&mut q);
            let (id, streams) = plan(&q);
            (id, streams.len(), streams[0].index)
        };
        assert_eq!(
            q(|q| q.target = Some("x".into())),
            ("target", 3, TARGET_ID_INDEX)
        );
        assert_eq!(
            q(|q| {
                q.actor = Some("a".into());
                q.outcome = Some(Outcome::Failure)
            }),
            ("outcome", 4, OUTCOME_INDEX)
        );
        assert_eq!(
            q(|q| {
                q.actor = Some("a".into());
                q.outcome = Some(Outcome::Success)
            }),
            ("actor", 4, ACTOR_INDEX)
        );
        assert_eq!(
            q(|q| q.operation = Some(AuditOperation::Delete)),
            ("operation", 4, OPERATION_INDEX)
        );
        assert_eq!(q(|_| {}), ("time", 4, TIME_INDEX));
    }

    #[test]
    fn a_record_item_whose_index_attributes_were_changed_is_flagged() {
        // Arrange
        let chain = "20240405T06-0000000000000006";
        let id = chain::record_id(chain, 1);
        let index = IndexAttributes::of(chain, &id, &record());
        let mut item = to_item(&index).unwrap();
        item.insert(
            "record".into(),
            AttributeValue::S(chain::canonical_record(&record()).unwrap()),
        );
        item.insert("chain".into(), AttributeValue::S(chain.into()));
        item.insert("seq".into(), AttributeValue::N("1".into()));
        item.insert(PK.into(), AttributeValue::S(chain_pk(chain)));
        item.insert(SK.into(), AttributeValue::S(record_sk(1)));
        assert!(raw_record(&item).anomalies.is_empty());

        // Act
        item.insert("outcome_pk".into(), AttributeValue::S("success#2".into()));
        item.insert("tid".into(), AttributeValue::S("u-9".into()));

        // Assert
        let anomalies = raw_record(&item).anomalies;
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, ProblemKind::Altered);
        assert!(
            anomalies[0].detail.ends_with("outcome_pk, tid"),
            "{}",
            anomalies[0].detail
        );
    }
}
