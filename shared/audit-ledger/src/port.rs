//! The ledger's storage ports: [`LedgerBackend`], where the ledger keeps its items
//! (records, chain heads, registrations, seals; in memory in [`crate::memory`], in a
//! database in the application's adapters), and [`SealAnchors`], where seals are copied
//! write-once. Only storage lives behind them; chaining, MACs and judgement stay in the
//! ledger.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::LedgerRecord;
use crate::ledger::{
    ChainItems, ClosingEntry, LedgerAppend, RawChain, RawHead, RawRecord, RawSeal, RawSealHead,
    SealEntry, SealHeadEntry,
};

/// Why a backend operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A condition failed: the head moved or was closed, the hour is closed for new
    /// chains, or the seal pointer moved. The ledger starts over.
    #[error("audit ledger: a condition failed")]
    Conflict,
    /// The store refused or could not be reached.
    #[error("audit ledger: the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Storage for the ledger's items. Implementations only store and read, atomically
/// where the docs say so; all chaining, MACs and judgement live in the ledger. A backend
/// may also answer questions about the records' content (by indexes of its own), but
/// that is the application's business, not the ledger's.
#[async_trait]
pub trait LedgerBackend: Send + Sync {
    /// The records it keeps.
    type Record: LedgerRecord;

    /// Writes an append atomically under the conditions of [`LedgerAppend`]; a failed
    /// condition is [`LedgerError::Conflict`].
    async fn append(&self, append: &LedgerAppend<Self::Record>) -> Result<(), LedgerError>;

    /// The seal pointer, if any seal or closing was ever written.
    async fn seal_head(&self) -> Result<Option<RawSealHead>, LedgerError>;

    /// Refuses new chains for `closing.hour` and earlier from now on: sets the closing
    /// marker, on the condition that it is still `expected` (the hour read before;
    /// `None`: no marker), else [`LedgerError::Conflict`].
    async fn set_closing(
        &self,
        closing: &ClosingEntry,
        expected: Option<&str>,
    ) -> Result<(), LedgerError>;

    /// The registrations of chains whose hour is in `from..=through`, read
    /// consistently (a registration committed before the call is seen).
    async fn registrations(&self, from: &str, through: &str) -> Result<Vec<RawChain>, LedgerError>;

    /// The earliest registered chain id, if any.
    async fn earliest_chain(&self) -> Result<Option<String>, LedgerError>;

    /// Marks each chain's head closed, so no append to it succeeds any more, and
    /// returns the heads as closed (chains without a head are left out).
    async fn close_chains(&self, chains: &[String]) -> Result<Vec<(String, RawHead)>, LedgerError>;

    /// Writes a seal and moves the seal pointer to it, atomically, on the condition that
    /// the pointer is still at `expected_through` (`None`: no seal yet).
    async fn put_seal(
        &self,
        seal: &SealEntry,
        head: &SealHeadEntry,
        expected_through: Option<&str>,
    ) -> Result<(), LedgerError>;

    /// The seals whose last hour is in `from..=through`.
    async fn seals(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError>;

    /// The first seal whose last hour is after `hour`.
    async fn seal_after(&self, hour: &str) -> Result<Option<RawSeal>, LedgerError>;

    /// The last seal whose last hour is before `hour` (`None`: the last seal of all),
    /// found by its key, whatever the seal pointer says.
    async fn latest_seal_before(&self, hour: Option<&str>) -> Result<Option<RawSeal>, LedgerError>;

    /// Every record item whose record time is in `[since, until)`, by any means the
    /// backend has (a time index); used to find records outside any known chain.
    async fn records_between(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<RawRecord>, LedgerError>;

    /// Every item stored for one chain, read consistently.
    async fn chain(&self, chain: &str) -> Result<ChainItems, LedgerError>;

    /// The record item at `seq` of `chain`, read consistently. The ledger asks after an
    /// append whose answer was lost, to learn whether it was written; a backend with a
    /// cheaper point read than reading the whole chain should override this.
    async fn record(&self, chain: &str, seq: u64) -> Result<Option<RawRecord>, LedgerError> {
        let items = self.chain(chain).await?;
        Ok(items.records.into_iter().find(|r| r.seq == Some(seq)))
    }
}

/// Where seals are anchored outside the backend, write-once (e.g. an S3 bucket with
/// Object Lock in compliance mode, possibly in another account): what the backend's
/// writers and administrators cannot delete or replace before the seal's retention ends.
#[async_trait]
pub trait SealAnchors: Send + Sync + std::fmt::Debug {
    /// Stores a copy of a seal, retained until the seal's `expires_at`. Writing the same
    /// seal again is harmless.
    async fn put(&self, seal: &SealEntry) -> Result<(), LedgerError>;

    /// The anchored seals whose last hour is in `from..=through`.
    async fn list(&self, from: &str, through: &str) -> Result<Vec<RawSeal>, LedgerError>;

    /// The newest anchored seal.
    async fn latest(&self) -> Result<Option<RawSeal>, LedgerError>;
}
