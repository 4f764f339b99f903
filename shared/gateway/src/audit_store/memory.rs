//! The in-memory audit store for `scimgw dev` and tests: the ledger of
//! [`super::ledger`] over a map, so it chains, seals and verifies exactly as the
//! DynamoDB store does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::{Duration, OffsetDateTime};

use super::chain;
use super::keys::{AuditPowers, KeyError, LocalAuditKeys};
use super::ledger::{
    ChainItems, ChainedAuditLog, ClosingEntry, LedgerAppend, LedgerBackend, LedgerError, RawChain,
    RawHead, RawRecord, RawSeal, RawSealHead, SealAnchors, SealEntry, SealHeadEntry, SealRun,
    SealSummary,
};
use super::{AuditPage, AuditQuery, AuditStore, AuditStoreError, QueryCursor, VerifyReport};
use crate::Clock;
use crate::audit::{AuditError, AuditLog, AuditRecord};

/// The items of the in-memory ledger. Public behind `test-util` so tests can tamper
/// with them the way someone with write access to a table could.
#[derive(Debug, Default, Clone)]
pub struct MemoryItems {
    /// Record items by (chain, seq) as keyed when written.
    pub records: BTreeMap<(String, u64), RawRecord>,
    /// Chain heads by chain, with whether the head is closed.
    pub heads: HashMap<String, (RawHead, bool)>,
    /// Chain registrations by chain id.
    pub registry: BTreeMap<String, RawChain>,
    /// Seals by their last hour.
    pub seals: BTreeMap<String, RawSeal>,
    /// The seal pointer.
    pub seal_head: Option<RawSealHead>,
}

/// A [`LedgerBackend`] over [`MemoryItems`] behind a mutex: every operation is atomic.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    items: Mutex<MemoryItems>,
}

impl MemoryLedger {
    fn items(&self) -> MutexGuard<'_, MemoryItems> {
        // A poisoned lock means a panic elsewhere mid-operation; each operation leaves
        // the maps consistent before it can panic, so they are still usable.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the stored items directly, as an attacker with table access could.
    #[cfg(any(test, feature = "test-util"))]
    pub fn tamper<R>(&self, change: impl FnOnce(&mut MemoryItems) -> R) -> R {
        change(&mut self.items())
    }
}

fn location(chain: &str, seq: u64) -> String {
    format!("memory:{}", chain::record_id(chain, seq))
}

fn record_time(raw: &RawRecord) -> Option<OffsetDateTime> {
    let json = raw.record_json.as_deref()?;
    let record: AuditRecord = serde_json::from_str(json).ok()?;
    Some(record.time)
}

#[async_trait]
impl LedgerBackend for MemoryLedger {
    async fn append(&self, append: &LedgerAppend) -> Result<(), LedgerError> {
        let mut items = self.items();
        let chain_id = &append.head.chain;
        let seq = append.head.seq;
        let key = (chain_id.clone(), seq);
        if items.records.contains_key(&key) {
            return Err(LedgerError::Conflict);
        }
        match &append.genesis {
            Some(genesis) => {
                let closing = items.seal_head.as_ref().and_then(|h| h.closing.clone());
                let hour = chain::chain_hour(chain_id).unwrap_or_default();
                if items.heads.contains_key(chain_id)
                    || items.registry.contains_key(chain_id)
                    || closing.is_some_and(|c| c.as_str() >= hour)
                {
                    return Err(LedgerError::Conflict);
                }
                items.registry.insert(
                    chain_id.clone(),
                    RawChain::from_entry(genesis, format!("memory:chain:{chain_id}")),
                );
            }
            None => match items.heads.get(chain_id) {
                Some((head, false)) if head.seq == Some(seq - 1) => {}
                _ => return Err(LedgerError::Conflict),
            },
        }
        items.heads.insert(
            chain_id.clone(),
            (
                RawHead::from_entry(&append.head, format!("memory:head:{chain_id}")),
                false,
            ),
        );
        items.records.insert(
            key,
            RawRecord::from_entry(&append.record, location(chain_id, seq)),
        );
        Ok(())
    }

    async fn seal_head(&self) -> Result<Option<RawSealHead>, LedgerError> {
        Ok(self.items().seal_head.clone())
    }

    async fn set_closing(
        &self,
        closing: &ClosingEntry,
        expected: Option<&str>,
    ) -> Result<(), LedgerError> {
        let mut items = self.items();
        let head = items.seal_head.get_or_insert_with(RawSealHead::default);
        if head.closing.as_deref() != expected {
            return Err(LedgerError::Conflict);
        }
        head.closing = Some(closing.hour.clone());
        head.closing_key_id = Some(closing.key_id.clone());
        head.closing_sig = Some(closing.sig.clone());
        Ok(())
    }

    async fn registrations(&self, from: &str, through: &str) -> Result<Vec<RawChain>, LedgerError> {
        Ok(self
            .items()
            .registry
            .values()
            .filter(|c| chain::chain_hour(&c.chain).is_some_and(|h| h >= from && h <= through))
            .cloned()
            .collect())
    }

    async fn earliest_chain(&self) -> Result<Option<String>, LedgerError> {
        Ok(self.items().registry.keys().next().cloned())
    }

    async fn close_chains(&self, chains: &[String]) -> Result<Vec<(String, RawHead)>, LedgerError> {
        let mut items = self.items();
        Ok(chains
            .iter()
            .filter_map(|c| {
                let (head, closed) = items.heads.get_mut(c)?;
                *closed = true;
                Some((c.clone(), head.clone()))
            })
            .collect())
    }

    async fn put_seal(
        &self,
        seal: &SealEntry,
        head: &SealHeadEntry,
        expected_through: Option<&str>,
    ) -> Result<(), LedgerError> {
        let mut items = self.items();
        let current = items.seal_head.as_ref().and_then(|h| h.through.as_deref());
        if current != expected_through || items.seals.contains_key(&seal.through) {
            return Err(LedgerError::Conflict);
        }
        items.seals.insert(
            seal.through.clone(),
            RawSeal::from_entry(seal, format!("memory:seal:{}", seal.through)),
        );
        let pointer = items.seal_head.get_or_insert_with(RawSealHead::default);
        pointer.through = Some(head.through.clone());
        pointer.last_mac = Some(head.last_mac.clone());
        pointer.last_expires_at = Some(head.last_expires_at);
        pointer.key_id = Some(head.key_id.clone());
        pointer.mac = Some(head.mac.clone());
        Ok(())
    }

    async fn seals(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError> {
        Ok(self
            .items()
            .seals
            .range(from.to_owned()..=through.to_owned())
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn seal_after(&self, hour: &str) -> Result<Option<RawSeal>, LedgerError> {
        Ok(self
            .items()
            .seals
            .iter()
            .find(|(k, _)| k.as_str() > hour)
            .map(|(_, s)| s.clone()))
    }

    async fn latest_seal_before(&self, hour: Option<&str>) -> Result<Option<RawSeal>, LedgerError> {
        Ok(self
            .items()
            .seals
            .iter()
            .rev()
            .find(|(k, _)| hour.is_none_or(|h| k.as_str() < h))
            .map(|(_, s)| s.clone()))
    }

    async fn records_between(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<RawRecord>, LedgerError> {
        Ok(self
            .items()
            .records
            .values()
            .filter(|r| record_time(r).is_some_and(|t| t >= since && t < until))
            .cloned()
            .collect())
    }

    async fn chain(&self, chain: &str) -> Result<ChainItems, LedgerError> {
        let items = self.items();
        Ok(ChainItems {
            records: items
                .records
                .iter()
                .filter(|((c, _), _)| c == chain)
                .map(|(_, r)| r.clone())
                .collect(),
            head: items.heads.get(chain).map(|(h, _)| h.clone()),
        })
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        const PLAN: &str = "memory";
        let after = match &query.cursor {
            Some(text) => Some(QueryCursor::decode(text, PLAN)?.after),
            None => None,
        };
        let mut matching: Vec<(String, _)> = self
            .items()
            .records
            .values()
            .filter_map(RawRecord::to_stored)
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

/// Seal anchors in memory: what `scimgw dev` and tests use in place of the S3 bucket.
/// Public behind `test-util` so tests can delete one, as nobody can in a bucket with
/// Object Lock in compliance mode.
#[derive(Debug, Default)]
pub struct MemoryAnchors {
    seals: Mutex<BTreeMap<String, RawSeal>>,
}

impl MemoryAnchors {
    fn seals(&self) -> MutexGuard<'_, BTreeMap<String, RawSeal>> {
        self.seals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the anchors directly (tests).
    #[cfg(any(test, feature = "test-util"))]
    pub fn tamper<R>(&self, change: impl FnOnce(&mut BTreeMap<String, RawSeal>) -> R) -> R {
        change(&mut self.seals())
    }
}

#[async_trait]
impl SealAnchors for MemoryAnchors {
    async fn put(&self, seal: &SealEntry) -> Result<(), LedgerError> {
        // Write-once, like the bucket: a second write of a key keeps the first.
        self.seals().entry(seal.through.clone()).or_insert_with(|| {
            RawSeal::from_entry(seal, format!("memory:anchor:{}", seal.through))
        });
        Ok(())
    }

    async fn list(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError> {
        if from > through {
            return Ok(Vec::new());
        }
        Ok(self
            .seals()
            .range(from.to_owned()..=through.to_owned())
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn latest(&self) -> Result<Option<RawSeal>, LedgerError> {
        Ok(self.seals().values().next_back().cloned())
    }
}

/// An [`AuditLog`] and [`AuditStore`] in memory, chained, sealed and verified like the
/// DynamoDB store. For `scimgw dev` and tests; nothing survives the process.
#[derive(Debug)]
pub struct InMemoryAuditStore {
    ledger: ChainedAuditLog<MemoryLedger>,
    anchors: Arc<MemoryAnchors>,
}

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
        }
    }

    /// A store with random keys, which lives and dies with the process (`scimgw dev`).
    pub fn ephemeral(clock: Arc<dyn Clock>, retention: Duration) -> Result<Self, KeyError> {
        Ok(Self::new(&LocalAuditKeys::random()?, clock, retention))
    }

    /// The ledger (to seal on demand, or to reach the items in tests).
    pub fn ledger(&self) -> &ChainedAuditLog<MemoryLedger> {
        &self.ledger
    }

    /// The seal anchors.
    pub fn anchors(&self) -> &Arc<MemoryAnchors> {
        &self.anchors
    }

    /// Seals every finished hour not sealed yet (normally done by the next append).
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        self.ledger.seal_due().await
    }

    /// As [`Self::seal_due`], with the repairs the run made.
    pub async fn seal_run(&self) -> Result<SealRun, AuditStoreError> {
        self.ledger.seal_run().await
    }
}

#[async_trait]
impl AuditLog for InMemoryAuditStore {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.ledger.append(record).await
    }
}

#[async_trait]
impl AuditStore for InMemoryAuditStore {
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
