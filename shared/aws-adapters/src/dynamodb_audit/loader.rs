//! Loading a large audit trail into a table fast, for benchmarks and scale tests: the
//! records are chained by the real ledger code (so they read back and verify like any
//! others), each written as of its own time, then written with BatchWriteItem
//! ([`DynamoDbLedger::bulk_load`]) instead of one conditional transaction each. It skips
//! the append conditions: never against a table with live writers.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use gateway::Clock;
use gateway::audit::AuditRecord;
use gateway::audit_store::AuditStoreError;
use gateway::audit_store::keys::AuditPowers;
use gateway::audit_store::ledger::{
    ChainItems, ChainedAuditLog, ClosingEntry, LedgerAppend, LedgerBackend, LedgerError, RawChain,
    RawHead, RawRecord, RawSeal, RawSealHead, SealEntry, SealHeadEntry,
};
use time::{Duration, OffsetDateTime};

use super::DynamoDbLedger;

/// A ledger backend that keeps every append and never conflicts: lets the real chain
/// code produce the items of a bulk load.
#[derive(Default)]
pub struct Collecting(Mutex<Vec<LedgerAppend<AuditRecord>>>);

impl Collecting {
    /// Every append so far.
    pub fn appends(&self) -> Vec<LedgerAppend<AuditRecord>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl LedgerBackend for Collecting {
    type Record = AuditRecord;

    async fn append(&self, append: &LedgerAppend<AuditRecord>) -> Result<(), LedgerError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(append.clone());
        Ok(())
    }
    async fn seal_head(&self) -> Result<Option<RawSealHead>, LedgerError> {
        Ok(None)
    }
    async fn set_closing(&self, _: &ClosingEntry, _: Option<&str>) -> Result<(), LedgerError> {
        Ok(())
    }
    async fn latest_seal_before(&self, _: Option<&str>) -> Result<Option<RawSeal>, LedgerError> {
        Ok(None)
    }
    async fn registrations(&self, _: &str, _: &str) -> Result<Vec<RawChain>, LedgerError> {
        Ok(vec![])
    }
    async fn earliest_chain(&self) -> Result<Option<String>, LedgerError> {
        Ok(None)
    }
    async fn close_chains(&self, _: &[String]) -> Result<Vec<(String, RawHead)>, LedgerError> {
        Ok(vec![])
    }
    async fn put_seal(
        &self,
        _: &SealEntry,
        _: &SealHeadEntry,
        _: Option<&str>,
    ) -> Result<(), LedgerError> {
        Ok(())
    }
    async fn seals(&self, _: &str, _: &str) -> Result<Vec<RawSeal>, LedgerError> {
        Ok(vec![])
    }
    async fn seal_after(&self, _: &str) -> Result<Option<RawSeal>, LedgerError> {
        Ok(None)
    }
    async fn records_between(
        &self,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<Vec<RawRecord>, LedgerError> {
        Ok(vec![])
    }
    async fn chain(&self, _: &str) -> Result<ChainItems, LedgerError> {
        Ok(ChainItems::default())
    }
}

/// A clock that says what it is set to: each record is written as of its own time.
#[derive(Debug)]
pub struct SetClock(Mutex<OffsetDateTime>);

impl SetClock {
    /// A clock at `at`.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves it to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for SetClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Chains `records` (oldest first) as `writers` writers would, round robin, each
/// written at its own time, MACed under `powers`, and bulk loads them into `ledger`'s
/// table. Answers how many were loaded.
pub async fn chain_and_load(
    ledger: &DynamoDbLedger,
    records: Vec<AuditRecord>,
    powers: impl Fn() -> AuditPowers,
    writers: usize,
    retention: Duration,
) -> Result<usize, AuditStoreError> {
    let writers = writers.max(1);
    let start = records
        .first()
        .map_or(OffsetDateTime::UNIX_EPOCH, |r| r.time);
    let clocks: Vec<Arc<SetClock>> = (0..writers)
        .map(|_| Arc::new(SetClock::new(start)))
        .collect();
    let logs: Vec<ChainedAuditLog<Collecting>> = clocks
        .iter()
        .map(|clock| {
            ChainedAuditLog::new(
                Collecting::default(),
                powers(),
                clock.clone() as Arc<dyn Clock>,
                retention,
            )
        })
        .collect();
    let total = records.len();
    for (n, record) in records.into_iter().enumerate() {
        let w = n % writers;
        clocks[w].set(record.time);
        logs[w]
            .append_stored(record)
            .await
            .map_err(AuditStoreError::from)?;
    }
    let appends: Vec<LedgerAppend<AuditRecord>> =
        logs.iter().flat_map(|l| l.backend().appends()).collect();
    for chunk in appends.chunks(10_000) {
        ledger.bulk_load(chunk).await?;
    }
    Ok(total)
}
