//! The append and seal backend: [`DynamoDbLedger`] stores the ledger's items (records,
//! chain heads, registrations, seals and the seal pointer) with conditional writes and
//! transactions, reads them back for verification, loads test data in bulk, and sorts
//! the SDK's errors into the ledger's.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, PutRequest, ReturnValue, TransactWriteItem, Update,
    WriteRequest,
};
use futures::StreamExt as _;
use gateway::audit::AuditRecord;
use gateway::audit_store::chain;
use gateway::audit_store::ledger::{
    ChainItems, ClosingEntry, LedgerAppend, LedgerBackend, LedgerError, RawChain, RawHead,
    RawRecord, RawSeal, RawSealHead, SealEntry, SealHeadEntry,
};
use gateway::audit_store::{AuditIndex, AuditPage, AuditQuery, AuditStoreError};
use time::{Duration, OffsetDateTime};

use super::items::{
    DISCOVERY_PROJECTION, Item, chain_item, head_item, key, location, n, raw_chain, raw_head,
    raw_record, raw_seal, record_item, s, seal_item,
};
use super::query::Stream;
use super::schema::{
    CHAINS_PK, HEAD_SK, PK, SEALS_PK, SHARDS, SK, TIME_INDEX, TTL_ATTRIBUTE, chain_pk, record_sk,
};

/// Reads and writes in flight at once for fan-out work (closing heads, bulk loads).
const FAN_OUT: usize = 16;

pub(super) fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> LedgerError {
    LedgerError::Unavailable(Box::new(e))
}

pub(super) fn store_unavailable<E: std::error::Error + Send + Sync + 'static>(
    e: E,
) -> AuditStoreError {
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
    pub(super) client: Client,
    pub(super) table: String,
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

    /// Writes already chained appends straight to the table with BatchWriteItem: each
    /// record, and each chain's registration and last head. For loading test and
    /// benchmark data only: it skips the append conditions, so it must not race with
    /// real writers on the same chains.
    pub async fn bulk_load(
        &self,
        appends: &[LedgerAppend<AuditRecord>],
    ) -> Result<(), AuditStoreError> {
        let mut items: Vec<Item> = Vec::with_capacity(appends.len() + appends.len() / 8);
        let mut last_head: HashMap<&str, &LedgerAppend<AuditRecord>> = HashMap::new();
        for append in appends {
            items.push(record_item(append)?);
            if let Some(registration) = chain_item(append)? {
                items.push(registration);
            }
            let entry = last_head
                .entry(append.head.chain.as_str())
                .or_insert(append);
            if entry.head.seq < append.head.seq {
                *entry = append;
            }
        }
        for append in last_head.values() {
            items.push(head_item(append)?);
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
}

#[async_trait]
impl LedgerBackend for DynamoDbLedger {
    type Record = AuditRecord;

    async fn append(&self, append: &LedgerAppend<AuditRecord>) -> Result<(), LedgerError> {
        let chain_id = &append.head.chain;
        let not_exists = "attribute_not_exists(#pk)";
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_item(append)?))
            .condition_expression(not_exists)
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(unavailable)?;
        let mut items = vec![TransactWriteItem::builder().put(record).build()];
        match chain_item(append)? {
            Some(registration) => {
                let hour = chain::chain_hour(chain_id).unwrap_or_default();
                let head = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(head_item(append)?))
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
                    .set_key(Some(key(SEALS_PK, HEAD_SK)))
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
                    .set_key(Some(key(&chain_pk(chain_id), HEAD_SK)))
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
        // The record's hash names this exact write, so a transport retry of a committed
        // transaction is answered as done by DynamoDB within its idempotency window
        // (ClientRequestToken, at most 36 characters:
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html).
        let token = append.record.integrity.hash.get(..36);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .set_client_request_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(classify_transaction)?;
        Ok(())
    }

    async fn record(&self, chain: &str, seq: u64) -> Result<Option<RawRecord>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(&chain_pk(chain), &record_sk(seq))))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.as_ref().map(raw_record))
    }

    async fn seal_head(&self) -> Result<Option<RawSealHead>, LedgerError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SEALS_PK, HEAD_SK)))
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
            .set_key(Some(key(SEALS_PK, HEAD_SK)))
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
                        .set_key(Some(key(&chain_pk(&chain_id), HEAD_SK)))
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
        let item = seal_item(seal)?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(unavailable)?;
        let mut pointer = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(SEALS_PK, HEAD_SK)))
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
}

#[async_trait]
impl AuditIndex for DynamoDbLedger {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        self.query_page(query).await
    }
}
