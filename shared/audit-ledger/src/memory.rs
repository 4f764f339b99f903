//! The in-memory backend and anchors, for development and tests: [`MemoryLedger`] keeps
//! the ledger's items in maps and [`MemoryAnchors`] its seals' copies, so that a
//! [`ChainedAuditLog`](crate::ChainedAuditLog) over them chains, seals and verifies
//! exactly as over a database. Nothing survives the process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::LedgerRecord;
use crate::chain;
use crate::ledger::{
    ChainItems, ClosingEntry, LedgerAppend, LedgerBackend, LedgerError, RawChain, RawHead,
    RawRecord, RawSeal, RawSealHead, SealAnchors, SealEntry, SealHeadEntry,
};

/// The items of the in-memory ledger, which tests can tamper with (behind `test-util`)
/// the way someone with write access to a database could.
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

/// How an append to the in-memory ledger fails when a test asks it to (behind
/// `test-util`), standing for a database's transport failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFault {
    /// Nothing is written and the store answers unavailable.
    Unreachable,
    /// The append is written, and its answer lost: the caller sees unavailable, as after
    /// a connection dropped once the commit was made.
    AnswerLost,
    /// The append is written, its answer lost, and the store goes down before anyone
    /// can read it back: appends and reads of chains answer unavailable until a test
    /// brings it back (`set_down(false)`, behind `test-util`).
    AnswerLostThenDown,
}

/// A [`LedgerBackend`] of records `R` over [`MemoryItems`] behind a mutex: every
/// operation is atomic.
pub struct MemoryLedger<R> {
    items: Mutex<MemoryItems>,
    faults: Mutex<VecDeque<AppendFault>>,
    down: AtomicBool,
    records: PhantomData<fn() -> R>,
}

impl<R> Default for MemoryLedger<R> {
    fn default() -> Self {
        Self {
            items: Mutex::default(),
            faults: Mutex::default(),
            down: AtomicBool::new(false),
            records: PhantomData,
        }
    }
}

impl<R> fmt::Debug for MemoryLedger<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLedger")
            .field("items", &self.items)
            .finish()
    }
}

impl<R> MemoryLedger<R> {
    fn items(&self) -> MutexGuard<'_, MemoryItems> {
        // A poisoned lock means a panic elsewhere mid-operation; each operation leaves
        // the maps consistent before it can panic, so they are still usable.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every record item, in chain and seq order: what an application reads to answer
    /// questions about the records' content (this backend has no index but the map).
    pub fn records(&self) -> Vec<RawRecord> {
        self.items().records.values().cloned().collect()
    }

    /// Calls `visit` with every record item, in chain and seq order, without copying
    /// them (the items stay locked meanwhile: `visit` must not call back in).
    pub fn visit_records(&self, mut visit: impl FnMut(&RawRecord)) {
        self.items().records.values().for_each(&mut visit);
    }

    /// Changes the stored items directly, as an attacker with table access could.
    #[cfg(any(test, feature = "test-util"))]
    pub fn tamper<T>(&self, change: impl FnOnce(&mut MemoryItems) -> T) -> T {
        change(&mut self.items())
    }

    /// Makes the next appends fail, one fault each, in order.
    #[cfg(any(test, feature = "test-util"))]
    pub fn fail_appends(&self, faults: impl IntoIterator<Item = AppendFault>) {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(faults);
    }

    /// Takes the store down (`true`: appends and reads of chains answer unavailable, as
    /// during an outage) or brings it back.
    #[cfg(any(test, feature = "test-util"))]
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn set_down_now(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    fn reachable(&self) -> Result<(), LedgerError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(unavailable());
        }
        Ok(())
    }

    fn next_fault(&self) -> Option<AppendFault> {
        self.faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }
}

fn unavailable() -> LedgerError {
    LedgerError::Unavailable("the in-memory store was told to fail".into())
}

fn location(chain: &str, seq: u64) -> String {
    format!("memory:{}", chain::record_id(chain, seq))
}

fn record_time<R: LedgerRecord>(raw: &RawRecord) -> Option<OffsetDateTime> {
    let json = raw.record_json.as_deref()?;
    let record: R = serde_json::from_str(json).ok()?;
    Some(record.time())
}

impl<R: LedgerRecord> MemoryLedger<R> {
    /// Writes an append atomically under its conditions.
    fn write(&self, append: &LedgerAppend<R>) -> Result<(), LedgerError> {
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
}

#[async_trait]
impl<R: LedgerRecord> LedgerBackend for MemoryLedger<R> {
    type Record = R;

    async fn append(&self, append: &LedgerAppend<R>) -> Result<(), LedgerError> {
        self.reachable()?;
        match self.next_fault() {
            None => self.write(append),
            Some(AppendFault::Unreachable) => Err(unavailable()),
            Some(AppendFault::AnswerLost) => self.write(append).and_then(|()| Err(unavailable())),
            Some(AppendFault::AnswerLostThenDown) => {
                self.write(append)?;
                self.set_down_now();
                Err(unavailable())
            }
        }
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
            .filter(|r| record_time::<R>(r).is_some_and(|t| t >= since && t < until))
            .cloned()
            .collect())
    }

    async fn chain(&self, chain: &str) -> Result<ChainItems, LedgerError> {
        self.reachable()?;
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
}

/// Seal anchors in memory: what development and tests use in place of a write-once
/// bucket. Tests can delete one (behind `test-util`), as nobody can in a bucket with
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
