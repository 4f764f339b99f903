//! The tamper-evident ledger every audit store is built on: the writer that chains
//! records, the sealer that signs each hour's chains, and verification, generic over a
//! [`LedgerBackend`] that only stores and reads items (in memory, or in DynamoDB).
//!
//! # Design (CloudTrail's log-file integrity validation, adapted to concurrent writers)
//!
//! - **Chains, not a global sequence.** Each writer (one per Lambda execution
//!   environment or process; more while it has concurrent appends) keeps its own hash
//!   chain per UTC hour: record `n` carries `seq = n`, the previous record's hash, and
//!   `hash = SHA-256(chain, seq, prev_hash, written_at, expires_at, canonical JSON)`,
//!   MACed with HMAC-SHA256 under the audit key. Writers never wait for each other.
//! - **Heads.** Each chain has a head item (last seq and hash, MACed) updated in the same
//!   transaction as the record, on the condition that it still ends where the writer
//!   thinks: deleting a chain's tail leaves the head pointing past the end.
//! - **Registrations.** A chain's first append also registers it (a MACed item listing
//!   it under its hour), in the same transaction.
//! - **Seals** (CloudTrail's digest files). After an hour ends (plus [`SEAL_GRACE`]), the
//!   next append by any writer seals it: it stops new chains for the hour, closes every
//!   registered chain's head (so nothing more can be appended to it), and writes one
//!   MACed seal listing every chain of the hours since the last seal with its final seq
//!   and hash, linked to the previous seal's MAC. Deleting a whole chain, or rolling a
//!   head back, then contradicts a seal; deleting a seal breaks the seal chain.
//! - **Retention.** Every item has an `expires_at` inside its MAC. A missing record is
//!   *expired* when a later authentic item of its chain proves its retention had
//!   ended (`written_at` never decreases along a chain), and *deleted* otherwise.
//!
//! What it does not prove, like any log kept where its writers can delete: the most
//! recent hours up to the last seal, and the last seals themselves, can be truncated
//! together. Each seal's MAC is therefore also logged (target `scimgw::audit`), so an
//! auditor can compare the newest seal with an outside copy.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt as _;
use time::{Duration, OffsetDateTime};

use super::chain::{self, AuditKeys, HeadClaim, RecordLink, SealClaim, SealLine, ZERO_HASH};
use super::{
    AuditPage, AuditQuery, AuditStore, AuditStoreError, ProblemKind, RecordIntegrity,
    StoredAuditRecord, VerifyReport, verify,
};
use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::{Clock, SecretId, SecretSource};

pub use crate::ports::ledger::{LedgerBackend, LedgerError};

/// How long after an hour ends before it is sealed: covers clock skew between writers
/// and appends still in flight at the hour's end.
pub const SEAL_GRACE: Duration = Duration::minutes(5);

/// How far a record's `time` (the request's arrival) may precede the start of its
/// chain's hour: the longest request (a Lambda runs at most 15 minutes) plus
/// [`SEAL_GRACE`]. Verification looks this far back for a period's chains.
pub const RECORD_SLACK: Duration = Duration::minutes(20);

/// How long heads, registrations and seals outlive the records they vouch for, so a
/// chain's bookkeeping is still there to tell expired records from deleted ones (the
/// TTL deletes expired items within days, in no particular order).
pub const BOOKKEEPING_MARGIN: Duration = Duration::days(2);

/// How many times an append starts over with a new chain after a conflict.
const APPEND_ATTEMPTS: usize = 3;

/// How many chains verification reads at once.
const CHAIN_READS: usize = 16;

/// How long a writer waits before trying again to seal after a failure.
const SEAL_RETRY: Duration = Duration::minutes(1);

/// A record as the writer made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEntry {
    /// Its id, `<chain>:<seq>`.
    pub id: String,
    /// The record.
    pub record: AuditRecord,
    /// Its canonical JSON: the text stored and hashed.
    pub record_json: String,
    /// Its place in its chain.
    pub integrity: RecordIntegrity,
}

impl RecordEntry {
    /// The record as the store port hands it out.
    pub fn stored(&self) -> StoredAuditRecord {
        StoredAuditRecord {
            id: self.id.clone(),
            record: self.record.clone(),
            integrity: self.integrity.clone(),
        }
    }
}

/// A chain's head as the writer sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadEntry {
    /// The chain.
    pub chain: String,
    /// Its last seq.
    pub seq: u64,
    /// Its last record's hash.
    pub hash: String,
    /// When its last record was written ([`chain::fmt_time`]).
    pub last_written_at: String,
    /// Its last record's expiry, epoch seconds.
    pub last_expires_at: i64,
    /// The signing key's id.
    pub key_id: String,
    /// [`HeadClaim::mac`].
    pub mac: String,
    /// The head's own expiry: [`BOOKKEEPING_MARGIN`] after its last record's.
    pub expires_at: i64,
}

/// A chain's registration (genesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    /// The chain (its hour is part of the id).
    pub chain: String,
    /// When it was created ([`chain::fmt_time`]).
    pub created_at: String,
    /// The signing key's id.
    pub key_id: String,
    /// [`chain::chain_mac`].
    pub mac: String,
    /// End of the chain's hour plus retention plus [`BOOKKEEPING_MARGIN`].
    pub expires_at: i64,
}

/// An hourly seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealEntry {
    /// The first hour covered.
    pub from: String,
    /// The last hour covered (the seal's key).
    pub through: String,
    /// The previous seal's MAC ([`ZERO_HASH`] for the first seal).
    pub prev_mac: String,
    /// The previous seal's expiry (0 for the first seal).
    pub prev_expires_at: i64,
    /// The chains, [`chain::format_seal_lines`].
    pub chains: String,
    /// The signing key's id.
    pub key_id: String,
    /// [`SealClaim::mac`].
    pub mac: String,
    /// End of `through` plus retention plus [`BOOKKEEPING_MARGIN`].
    pub expires_at: i64,
}

/// The pointer to the latest seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealHeadEntry {
    /// The latest seal's last hour.
    pub through: String,
    /// The latest seal's MAC.
    pub last_mac: String,
    /// The latest seal's expiry.
    pub last_expires_at: i64,
    /// The signing key's id.
    pub key_id: String,
    /// [`chain::seal_head_mac`].
    pub mac: String,
}

/// One append: the record, the chain's new head, and for a chain's first record its
/// registration. Backends write all of it atomically, on the conditions that the head
/// still ends at `head.seq - 1` and is not closed, and (for a registration) that the
/// chain's hour is not closed for new chains.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerAppend {
    /// The record.
    pub record: RecordEntry,
    /// The head after it.
    pub head: HeadEntry,
    /// The registration, with the first record of a chain only.
    pub genesis: Option<ChainEntry>,
}

/// Something a backend found wrong with an item that the ledger's hashes do not cover
/// (its key disagrees with its content; an index attribute disagrees with the record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// How to report it.
    pub kind: ProblemKind,
    /// What is wrong.
    pub detail: String,
}

/// A record item as read back: every field optional, because a tampered item may lack
/// any of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRecord {
    /// Where it is stored, for reports.
    pub location: String,
    /// Its chain attribute.
    pub chain: Option<String>,
    /// Its seq attribute.
    pub seq: Option<u64>,
    /// Its previous hash.
    pub prev_hash: Option<String>,
    /// Its hash.
    pub hash: Option<String>,
    /// Its MAC.
    pub mac: Option<String>,
    /// Its key id.
    pub key_id: Option<String>,
    /// Its written-at.
    pub written_at: Option<String>,
    /// Its expiry.
    pub expires_at: Option<i64>,
    /// Its canonical JSON.
    pub record_json: Option<String>,
    /// What the backend found wrong beyond the hashes' reach.
    pub anomalies: Vec<Anomaly>,
}

impl RawRecord {
    /// The raw form of a record as written.
    pub fn from_entry(entry: &RecordEntry, location: String) -> Self {
        let i = &entry.integrity;
        Self {
            location,
            chain: Some(i.chain.clone()),
            seq: Some(i.seq),
            prev_hash: Some(i.prev_hash.clone()),
            hash: Some(i.hash.clone()),
            mac: Some(i.mac.clone()),
            key_id: Some(i.key_id.clone()),
            written_at: Some(i.written_at.clone()),
            expires_at: Some(i.expires_at),
            record_json: Some(entry.record_json.clone()),
            anomalies: Vec::new(),
        }
    }

    /// The stored record, if the item is complete and its JSON reads as a record.
    /// Queries use it; they do not verify (that is `verify`'s job).
    pub fn to_stored(&self) -> Option<StoredAuditRecord> {
        let chain = self.chain.clone()?;
        let seq = self.seq?;
        Some(StoredAuditRecord {
            id: chain::record_id(&chain, seq),
            record: serde_json::from_str(self.record_json.as_deref()?).ok()?,
            integrity: RecordIntegrity {
                chain,
                seq,
                prev_hash: self.prev_hash.clone()?,
                hash: self.hash.clone()?,
                mac: self.mac.clone()?,
                key_id: self.key_id.clone()?,
                written_at: self.written_at.clone()?,
                expires_at: self.expires_at?,
            },
        })
    }
}

/// A chain head as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawHead {
    /// Where it is stored.
    pub location: String,
    /// Its seq.
    pub seq: Option<u64>,
    /// Its hash.
    pub hash: Option<String>,
    /// Its last written-at.
    pub last_written_at: Option<String>,
    /// Its last record's expiry.
    pub last_expires_at: Option<i64>,
    /// Its key id.
    pub key_id: Option<String>,
    /// Its MAC.
    pub mac: Option<String>,
}

impl RawHead {
    /// The raw form of a head as written.
    pub fn from_entry(entry: &HeadEntry, location: String) -> Self {
        Self {
            location,
            seq: Some(entry.seq),
            hash: Some(entry.hash.clone()),
            last_written_at: Some(entry.last_written_at.clone()),
            last_expires_at: Some(entry.last_expires_at),
            key_id: Some(entry.key_id.clone()),
            mac: Some(entry.mac.clone()),
        }
    }
}

/// A chain registration as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawChain {
    /// Where it is stored.
    pub location: String,
    /// The chain (from the item's key).
    pub chain: String,
    /// Its creation time.
    pub created_at: Option<String>,
    /// Its key id.
    pub key_id: Option<String>,
    /// Its MAC.
    pub mac: Option<String>,
}

impl RawChain {
    /// The raw form of a registration as written.
    pub fn from_entry(entry: &ChainEntry, location: String) -> Self {
        Self {
            location,
            chain: entry.chain.clone(),
            created_at: Some(entry.created_at.clone()),
            key_id: Some(entry.key_id.clone()),
            mac: Some(entry.mac.clone()),
        }
    }
}

/// A seal as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSeal {
    /// Where it is stored.
    pub location: String,
    /// Its last hour (from the item's key).
    pub through: String,
    /// Its first hour.
    pub from: Option<String>,
    /// The previous seal's MAC.
    pub prev_mac: Option<String>,
    /// The previous seal's expiry.
    pub prev_expires_at: Option<i64>,
    /// Its chain list.
    pub chains: Option<String>,
    /// Its key id.
    pub key_id: Option<String>,
    /// Its MAC.
    pub mac: Option<String>,
    /// Its expiry.
    pub expires_at: Option<i64>,
}

impl RawSeal {
    /// The raw form of a seal as written.
    pub fn from_entry(entry: &SealEntry, location: String) -> Self {
        Self {
            location,
            through: entry.through.clone(),
            from: Some(entry.from.clone()),
            prev_mac: Some(entry.prev_mac.clone()),
            prev_expires_at: Some(entry.prev_expires_at),
            chains: Some(entry.chains.clone()),
            key_id: Some(entry.key_id.clone()),
            mac: Some(entry.mac.clone()),
            expires_at: Some(entry.expires_at),
        }
    }
}

/// The seal pointer as read back, with the hour up to which new chains are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawSealHead {
    /// The latest seal's last hour.
    pub through: Option<String>,
    /// The latest seal's MAC.
    pub last_mac: Option<String>,
    /// The latest seal's expiry.
    pub last_expires_at: Option<i64>,
    /// Its key id.
    pub key_id: Option<String>,
    /// Its MAC.
    pub mac: Option<String>,
    /// New chains for this hour or earlier are refused (set before sealing starts;
    /// not MACed: it only steers writers).
    pub closing: Option<String>,
}

/// A chain's items: its records and its head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainItems {
    /// Every record item stored for the chain.
    pub records: Vec<RawRecord>,
    /// Its head, if stored.
    pub head: Option<RawHead>,
}

impl From<LedgerError> for AuditStoreError {
    fn from(e: LedgerError) -> Self {
        AuditStoreError::Unavailable(Box::new(e))
    }
}

/// Where the ledger's HMAC keys come from.
#[derive(Clone)]
pub enum AuditKeySource {
    /// Fixed keys (`scimgw dev`, tests).
    Fixed(Arc<AuditKeys>),
    /// A secret holding whitespace-separated keys, the signing key first, read through
    /// the secrets port (whose adapter caches it with a TTL, so a rotation is picked up).
    Secret {
        /// The secret source.
        source: Arc<dyn SecretSource>,
        /// The secret's id.
        id: SecretId,
    },
}

impl std::fmt::Debug for AuditKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(keys) => write!(f, "Fixed({})", keys.signing().id()),
            Self::Secret { id, .. } => write!(f, "Secret({id})"),
        }
    }
}

impl AuditKeySource {
    async fn keys(&self) -> Result<Arc<AuditKeys>, AuditStoreError> {
        match self {
            Self::Fixed(keys) => Ok(keys.clone()),
            Self::Secret { source, id } => {
                let secret = source.get(id).await.map_err(AuditStoreError::Key)?;
                AuditKeys::parse(&secret)
                    .map(Arc::new)
                    .map_err(|_| AuditStoreError::Key(crate::SecretError::NoValue(id.clone())))
            }
        }
    }
}

/// A chain this writer holds open.
#[derive(Debug, Clone)]
struct OpenChain {
    id: String,
    hour: String,
    seq: u64,
    hash: String,
    last_written: Option<OffsetDateTime>,
}

#[derive(Debug, Default)]
struct WriterState {
    /// Chains not in use by an append right now. Concurrent appends each take one, so
    /// a writer never waits for itself either; in a Lambda there is one.
    idle: Vec<OpenChain>,
    /// New chains must be of this hour or later (learnt when an hour was closed).
    min_hour: Option<String>,
    /// The last hour this writer knows to be sealed.
    sealed_through: Option<String>,
    /// Do not try to seal before this time (after a failure).
    next_seal_try: Option<OffsetDateTime>,
}

/// What a seal covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealSummary {
    /// The first hour.
    pub from: String,
    /// The last hour.
    pub through: String,
    /// How many chains it lists.
    pub chains: usize,
    /// Its MAC: an auditor's outside anchor for the newest seal.
    pub mac: String,
}

/// An [`AuditLog`] and [`AuditStore`] over a [`LedgerBackend`]: the writer, the sealer
/// and the verifier (see the module docs).
pub struct ChainedAuditLog<B> {
    backend: B,
    keys: AuditKeySource,
    clock: Arc<dyn Clock>,
    retention: Duration,
    state: Mutex<WriterState>,
    sealing: AtomicBool,
}

impl<B> std::fmt::Debug for ChainedAuditLog<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedAuditLog")
            .field("keys", &self.keys)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<B: LedgerBackend> ChainedAuditLog<B> {
    /// A ledger over `backend` that keeps records for `retention`.
    pub fn new(
        backend: B,
        keys: AuditKeySource,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Self {
        Self {
            backend,
            keys,
            clock,
            retention,
            state: Mutex::new(WriterState::default()),
            sealing: AtomicBool::new(false),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The retention.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        // A poisoned lock means a panic elsewhere mid-update; the state is still usable
        // (at worst a chain is dropped and a new one started).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a record and returns it as stored. Starts a new chain when the hour
    /// changed or the chain was closed by a seal, and seals finished hours afterwards.
    pub async fn append_stored(
        &self,
        record: AuditRecord,
    ) -> Result<StoredAuditRecord, AuditStoreError> {
        let keys = self.keys.keys().await?;
        let key = keys.signing();
        let record_json = chain::canonical_record(&record)
            .map_err(|e| AuditStoreError::Unavailable(Box::new(e)))?;
        let mut last_err = None;
        for _ in 0..APPEND_ATTEMPTS {
            let now = self.clock.now();
            let open = self.take_chain(now);
            let written = open.last_written.map_or(now, |last| last.max(now));
            let written_at = chain::fmt_time(written);
            let seq = open.seq + 1;
            let expires_at = chain::expiry(written, self.retention);
            let link = RecordLink {
                chain: &open.id,
                seq,
                prev_hash: &open.hash,
                written_at: &written_at,
                expires_at,
                record_json: &record_json,
            };
            let hash = chain::record_hash(&link);
            let integrity = RecordIntegrity {
                chain: open.id.clone(),
                seq,
                prev_hash: open.hash.clone(),
                mac: chain::record_mac(key, &hash),
                hash: hash.clone(),
                key_id: key.id().to_owned(),
                written_at: written_at.clone(),
                expires_at,
            };
            let claim = HeadClaim {
                chain: &open.id,
                seq,
                hash: &hash,
                last_written_at: &written_at,
                last_expires_at: expires_at,
            };
            let head = HeadEntry {
                chain: open.id.clone(),
                seq,
                hash: hash.clone(),
                last_written_at: written_at.clone(),
                last_expires_at: expires_at,
                key_id: key.id().to_owned(),
                mac: claim.mac(key),
                expires_at: expires_at + BOOKKEEPING_MARGIN.whole_seconds(),
            };
            let genesis = (seq == 1).then(|| ChainEntry {
                chain: open.id.clone(),
                created_at: written_at.clone(),
                key_id: key.id().to_owned(),
                mac: chain::chain_mac(key, &open.id, &written_at),
                expires_at: chain::hour_end(&open.hour)
                    .map_or(expires_at, |end| chain::expiry(end, self.retention))
                    + BOOKKEEPING_MARGIN.whole_seconds(),
            });
            let entry = RecordEntry {
                id: chain::record_id(&open.id, seq),
                record: record.clone(),
                record_json: record_json.clone(),
                integrity,
            };
            let append = LedgerAppend {
                record: entry,
                head,
                genesis,
            };
            match self.backend.append(&append).await {
                Ok(()) => {
                    self.state().idle.push(OpenChain {
                        seq,
                        hash,
                        last_written: Some(written),
                        ..open
                    });
                    self.seal_if_due(now).await;
                    return Ok(append.record.stored());
                }
                Err(LedgerError::Conflict) => {
                    // The chain was closed by a seal (or its hour was): drop it, learn
                    // which hours are closed, and start a new chain.
                    if let Ok(Some(head)) = self.backend.seal_head().await
                        && let Some(closing) = head.closing.as_deref().and_then(chain::next_hour)
                    {
                        let mut state = self.state();
                        if state
                            .min_hour
                            .as_deref()
                            .is_none_or(|m| m < closing.as_str())
                        {
                            state.min_hour = Some(closing);
                        }
                    }
                    last_err = Some(LedgerError::Conflict);
                }
                // The write may or may not have happened: the chain's state is unknown,
                // so it is dropped rather than returned to the pool.
                Err(e) => return Err(e.into()),
            }
        }
        Err(last_err.unwrap_or(LedgerError::Conflict).into())
    }

    /// An idle chain of the current hour, or a new one.
    fn take_chain(&self, now: OffsetDateTime) -> OpenChain {
        let mut state = self.state();
        let mut hour = chain::hour_key(now);
        if let Some(min) = &state.min_hour
            && min.as_str() > hour.as_str()
        {
            hour = min.clone();
        }
        // Chains of earlier hours are left to the sealer, which closes them.
        state.idle.retain(|c| c.hour == hour);
        state.idle.pop().unwrap_or_else(|| OpenChain {
            id: chain::new_chain_id(&hour),
            hour,
            seq: 0,
            hash: ZERO_HASH.to_owned(),
            last_written: None,
        })
    }

    /// The last hour that can be sealed at `now`.
    fn seal_target(now: OffsetDateTime) -> Option<String> {
        chain::prev_hour(&chain::hour_key(now - SEAL_GRACE))
    }

    async fn seal_if_due(&self, now: OffsetDateTime) {
        let due = {
            let state = self.state();
            let behind = match (&state.sealed_through, Self::seal_target(now)) {
                (Some(done), Some(target)) => done < &target,
                (None, Some(_)) => true,
                (_, None) => false,
            };
            behind && state.next_seal_try.is_none_or(|t| now >= t)
        };
        if !due {
            return;
        }
        if let Err(e) = self.seal_due().await {
            // Sealing is best effort on the write path: the next append tries again.
            tracing::warn!(target: "scimgw::audit", error = %e, "audit: sealing failed");
            self.state().next_seal_try = Some(now + SEAL_RETRY);
        }
    }

    /// Seals every finished hour not sealed yet (see the module docs), unless another
    /// writer is doing it. Returns what was sealed, if anything. Safe to call from
    /// several writers at once, and from a scheduled job.
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        if self.sealing.swap(true, Ordering::AcqRel) {
            return Ok(None);
        }
        let result = self.seal_inner().await;
        self.sealing.store(false, Ordering::Release);
        result
    }

    async fn seal_inner(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        let now = self.clock.now();
        let Some(target) = Self::seal_target(now) else {
            return Ok(None);
        };
        let head = self.backend.seal_head().await?.unwrap_or_default();
        if head
            .through
            .as_deref()
            .is_some_and(|t| t >= target.as_str())
        {
            self.state().sealed_through = head.through;
            return Ok(None);
        }
        let from = match head.through.as_deref() {
            Some(through) => chain::next_hour(through),
            None => self
                .backend
                .earliest_chain()
                .await?
                .as_deref()
                .and_then(chain::chain_hour)
                .map(str::to_owned),
        };
        let Some(from) = from.filter(|f| f.as_str() <= target.as_str()) else {
            // Nothing was ever written, or nothing before the current hour.
            self.state().sealed_through = Some(target);
            return Ok(None);
        };
        let keys = self.keys.keys().await?;
        let key = keys.signing();
        // Order matters: first refuse new chains for the hours, then list the chains,
        // then close them. A chain either registered before the refusal (and is listed
        // and closed) or could not register at all.
        self.backend.close_hours_through(&target).await?;
        let chains: Vec<String> = self
            .backend
            .registrations(&from, &target)
            .await?
            .into_iter()
            .map(|c| c.chain)
            .collect();
        let closed = self.backend.close_chains(&chains).await?;
        let lines: Vec<SealLine> = closed
            .into_iter()
            .filter_map(|(chain, head)| {
                Some(SealLine {
                    chain,
                    seq: head.seq?,
                    hash: head.hash?,
                    last_expires_at: head.last_expires_at?,
                })
            })
            .collect();
        if lines.len() < chains.len() {
            tracing::warn!(
                target: "scimgw::audit",
                registered = chains.len(),
                with_head = lines.len(),
                "audit: sealing chains whose head is missing; verify will report them"
            );
        }
        let chains_text = chain::format_seal_lines(&lines);
        let prev_mac = head
            .last_mac
            .clone()
            .unwrap_or_else(|| ZERO_HASH.to_owned());
        let prev_expires_at = head.last_expires_at.unwrap_or(0);
        let claim = SealClaim {
            from: &from,
            through: &target,
            prev_mac: &prev_mac,
            prev_expires_at,
            chains: &chains_text,
        };
        let expires_at = chain::hour_end(&target).map_or(0, |end| {
            chain::expiry(end, self.retention) + BOOKKEEPING_MARGIN.whole_seconds()
        });
        let mac = claim.mac(key);
        let seal = SealEntry {
            from: from.clone(),
            through: target.clone(),
            prev_mac,
            prev_expires_at,
            chains: chains_text,
            key_id: key.id().to_owned(),
            mac,
            expires_at,
        };
        let pointer = SealHeadEntry {
            through: target.clone(),
            last_mac: seal.mac.clone(),
            last_expires_at: expires_at,
            key_id: key.id().to_owned(),
            mac: chain::seal_head_mac(key, &target, &seal.mac, expires_at),
        };
        match self
            .backend
            .put_seal(&seal, &pointer, head.through.as_deref())
            .await
        {
            Ok(()) => {
                tracing::info!(
                    target: "scimgw::audit",
                    seal_from = %from,
                    seal_through = %target,
                    chains = lines.len(),
                    seal_mac = %seal.mac,
                    "audit: hours sealed"
                );
                self.state().sealed_through = Some(target.clone());
                Ok(Some(SealSummary {
                    from,
                    through: target,
                    chains: lines.len(),
                    mac: seal.mac,
                }))
            }
            // Another writer sealed first; its seal covers the same chains.
            Err(LedgerError::Conflict) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Gathers everything verification of `[since, until)` needs and judges it.
    async fn verify_period(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        if since >= until {
            return Err(AuditStoreError::InvalidQuery(
                "since must be before until".into(),
            ));
        }
        let keys = self.keys.keys().await?;
        let now = self.clock.now();
        let discovered = self.backend.records_between(since, until).await?;
        // A record's chain is of its time's hour or up to RECORD_SLACK later; a record
        // found with a chain elsewhere widens the span, so that it is checked in full.
        let mut span_from = chain::hour_key(since);
        let mut span_through = chain::hour_key((until + RECORD_SLACK).min(now.max(since)));
        for hour in discovered
            .iter()
            .filter_map(|r| r.chain.as_deref().and_then(chain::chain_hour))
        {
            if hour < span_from.as_str() {
                span_from = hour.to_owned();
            }
            if hour > span_through.as_str() {
                span_through = hour.to_owned();
            }
        }
        let registry = self
            .backend
            .registrations(&span_from, &span_through)
            .await?;
        let before = chain::prev_hour(&span_from).unwrap_or_else(|| span_from.clone());
        let mut seals = self.backend.seals(&before, &span_through).await?;
        if let Some(after) = self.backend.seal_after(&span_through).await? {
            seals.push(after);
        }
        let seal_head = self.backend.seal_head().await?;
        let mut ids: BTreeSet<String> = registry.iter().map(|c| c.chain.clone()).collect();
        ids.extend(
            discovered
                .iter()
                .filter_map(|r| r.chain.clone())
                .filter(|c| chain::chain_hour(c).is_some()),
        );
        for seal in &seals {
            let lines = seal
                .chains
                .as_deref()
                .and_then(chain::parse_seal_lines)
                .unwrap_or_default();
            ids.extend(lines.into_iter().map(|l| l.chain).filter(|c| {
                chain::chain_hour(c)
                    .is_some_and(|h| h >= span_from.as_str() && h <= span_through.as_str())
            }));
        }
        // Chains are independent partitions: read several at once.
        let loaded: Vec<Result<(String, ChainItems), LedgerError>> = futures::stream::iter(ids)
            .map(|id| async move {
                let items = self.backend.chain(&id).await?;
                Ok((id, items))
            })
            .buffer_unordered(CHAIN_READS)
            .collect()
            .await;
        let mut chains = BTreeMap::new();
        for result in loaded {
            let (id, items) = result?;
            chains.insert(id, items);
        }
        let evidence = verify::Evidence {
            discovered,
            registry,
            chains,
            seals,
            seal_head,
            span_from,
            span_through,
        };
        Ok(verify::verify(&keys, now, &evidence))
    }
}

#[async_trait]
impl<B: LedgerBackend> AuditLog for ChainedAuditLog<B> {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.append_stored(record)
            .await
            .map(|_| ())
            .map_err(|e| AuditError::Unavailable(Box::new(e)))
    }
}

#[async_trait]
impl<B: LedgerBackend> AuditStore for ChainedAuditLog<B> {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        query.validate()?;
        self.backend.query(query).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.verify_period(since, until).await
    }
}
