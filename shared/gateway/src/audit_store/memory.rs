//! The in-memory audit store for `scimgw dev` and tests: the ledger over its in-memory
//! backend ([`MemoryLedger`], [`MemoryAnchors`]), so it chains, seals and verifies
//! exactly as the DynamoDB store does, and answers queries by reading every record.
//! [`InMemoryAuditStore`] keeps each record parsed once, so that a page of a trail of
//! 100 000 records does not parse them all again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

pub use audit_ledger::memory::{MemoryAnchors, MemoryItems, MemoryLedger};

use super::keys::{AuditPowers, KeyError, LocalAuditKeys};
use super::ledger::{ChainedAuditLog, RawRecord, SealRun, SealSummary};
use super::{
    AuditIndex, AuditPage, AuditQuery, AuditStore, AuditStoreError, QueryCursor, StoredAuditRecord,
    VerifyReport, chain,
};
use crate::Clock;
use crate::audit::{Appended, AuditError, AuditLog, AuditRecord};

/// The query plan the in-memory cursors name.
const MEMORY_PLAN: &str = "memory";

#[async_trait]
impl AuditIndex for MemoryLedger<AuditRecord> {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        const PLAN: &str = MEMORY_PLAN;
        let after = match &query.cursor {
            Some(text) => Some(QueryCursor::decode(text, PLAN)?.after),
            None => None,
        };
        let mut matching: Vec<(String, _)> = self
            .records()
            .iter()
            .filter_map(RawRecord::to_stored::<AuditRecord>)
            .filter(|s| query.matches(&s.record))
            .map(|s| (chain::sort_key(s.record.time, &s.id), s))
            .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
            .collect();
        matching.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = query.limit as usize;
        let more = matching.len() > limit;
        matching.truncate(limit);
        let next_cursor = more.then(|| {
            QueryCursor {
                plan: PLAN.into(),
                after: matching.last().map(|(k, _)| k.clone()).unwrap_or_default(),
            }
            .encode()
        });
        Ok(AuditPage {
            records: matching.into_iter().map(|(_, s)| s).collect(),
            next_cursor,
        })
    }
}

/// An [`AuditLog`] and [`AuditStore`] in memory, chained, sealed and verified like the
/// DynamoDB store. For `scimgw dev` and tests; nothing survives the process.
#[derive(Debug)]
pub struct InMemoryAuditStore {
    ledger: ChainedAuditLog<MemoryLedger<AuditRecord>>,
    anchors: Arc<MemoryAnchors>,
    parsed: Mutex<Parsed>,
}

/// Records as parsed, by chain and seq, with the JSON they were parsed from: an item
/// changed in place (a test's tampering) no longer matches, and is parsed again.
type Parsed = HashMap<(String, u64), (String, StoredAuditRecord)>;

impl InMemoryAuditStore {
    /// A store holding every power through `keys` that keeps records for `retention`.
    pub fn new(keys: &LocalAuditKeys, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        Self::with_powers(AuditPowers::local(keys), clock, retention)
    }

    /// A store that may do what `powers` allow.
    pub fn with_powers(powers: AuditPowers, clock: Arc<dyn Clock>, retention: Duration) -> Self {
        let anchors = Arc::new(MemoryAnchors::default());
        Self {
            ledger: ChainedAuditLog::new(MemoryLedger::default(), powers, clock, retention)
                .with_anchors(anchors.clone()),
            anchors,
            parsed: Mutex::default(),
        }
    }

    /// A store with random keys, which lives and dies with the process (`scimgw dev`).
    pub fn ephemeral(clock: Arc<dyn Clock>, retention: Duration) -> Result<Self, KeyError> {
        Ok(Self::new(&LocalAuditKeys::random()?, clock, retention))
    }

    /// The ledger (to seal on demand, or to reach the items in tests).
    pub fn ledger(&self) -> &ChainedAuditLog<MemoryLedger<AuditRecord>> {
        &self.ledger
    }

    /// The seal anchors.
    pub fn anchors(&self) -> &Arc<MemoryAnchors> {
        &self.anchors
    }

    /// Seals every finished hour not sealed yet (normally done by the next append).
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        Ok(self.ledger.seal_due().await?)
    }

    /// As [`Self::seal_due`], with the repairs the run made.
    pub async fn seal_run(&self) -> Result<SealRun, AuditStoreError> {
        Ok(self.ledger.seal_run().await?)
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditStore {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.ledger.append(record).await
    }

    async fn append_or_keep(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        AuditLog::append_or_keep(&self.ledger, record).await
    }
}

impl InMemoryAuditStore {
    /// A page of `query`, as [`MemoryLedger`]'s index answers it, from the records as
    /// parsed before: only the records appended or changed since are parsed, and only
    /// the page's records are copied.
    fn query_parsed(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        let after = match &query.cursor {
            Some(text) => Some(QueryCursor::decode(text, MEMORY_PLAN)?.after),
            None => None,
        };
        let mut parsed = self.parsed.lock().unwrap_or_else(|p| p.into_inner());
        let mut matching: Vec<(String, (String, u64))> = Vec::new();
        self.ledger.backend().visit_records(|raw| {
            let (Some(chain), Some(seq), Some(json)) = (&raw.chain, raw.seq, &raw.record_json)
            else {
                return;
            };
            let key = (chain.clone(), seq);
            let fresh = parsed.get(&key).is_some_and(|(seen, _)| seen == json);
            if !fresh {
                match raw.to_stored::<AuditRecord>() {
                    Some(stored) => parsed.insert(key.clone(), (json.clone(), stored)),
                    None => parsed.remove(&key),
                };
            }
            let Some((_, stored)) = parsed.get(&key) else {
                return;
            };
            if !query.matches(&stored.record) {
                return;
            }
            let sort_key = chain::sort_key(stored.record.time, &stored.id);
            if after.as_ref().is_none_or(|a| &sort_key > a) {
                matching.push((sort_key, key));
            }
        });
        matching.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let limit = query.limit as usize;
        let more = matching.len() > limit;
        matching.truncate(limit);
        let next_cursor = more.then(|| {
            QueryCursor {
                plan: MEMORY_PLAN.into(),
                after: matching.last().map(|(k, _)| k.clone()).unwrap_or_default(),
            }
            .encode()
        });
        let records = matching
            .iter()
            .filter_map(|(_, key)| parsed.get(key).map(|(_, stored)| stored.clone()))
            .collect();
        Ok(AuditPage {
            records,
            next_cursor,
        })
    }
}

#[async_trait]
impl AuditStore for InMemoryAuditStore {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        self.query_parsed(query)
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.ledger.verify(since, until).await
    }

    async fn latest_seal(&self) -> Result<Option<(String, String)>, AuditStoreError> {
        self.ledger.latest_seal().await
    }
}
