//! The tamper-evident ledger, [`ChainedAuditLog`]: the writer that chains records, the
//! sealer that signs each hour's chains, and verification, generic over a
//! [`LedgerBackend`] that only stores and reads items (in memory, or in a database), and
//! over the [`LedgerRecord`] it keeps. Also the items it hands the backend to store
//! (`*Entry`, [`LedgerAppend`]) and reads back to judge (`Raw*`).
//!
//! # Design (CloudTrail's log-file integrity validation, adapted to concurrent writers)
//!
//! - **Chains, not a global sequence.** Each writer (one per process or serverless
//!   execution environment; more while it has concurrent appends) keeps its own hash
//!   chain per UTC hour: record `n` carries `seq = n`, the previous record's hash, and
//!   `hash = SHA-256(chain, seq, prev_hash, written_at, expires_at, canonical JSON)`,
//!   MACed with HMAC-SHA256 under the MAC key. Writers never wait for each other.
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
//! together. Each seal's MAC is therefore also logged (target [`LOG_TARGET`]), so an
//! auditor can compare the newest seal with an outside copy; the anchors
//! ([`SealAnchors`]) keep a write-once copy of every seal for the same reason.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use futures::StreamExt as _;
use time::{Duration, OffsetDateTime};

pub use crate::chain::ChainLink;
use crate::chain::{self, HeadClaim, RecordLink, ZERO_HASH};
use crate::keys::{AuditPowers, KeyError, MacVerifier, SealPublicKeys};
use crate::{
    Clock, Error, LOG_TARGET, LedgerRecord, ProblemKind, RecordIntegrity, StoredRecord,
    VerifyReport, verify,
};

use crate::owed::{Failed, OwedRecords};
pub use crate::port::{LedgerBackend, LedgerError, SealAnchors};

/// How long after an hour ends before it is sealed: covers clock skew between writers
/// and appends still in flight at the hour's end.
pub const SEAL_GRACE: Duration = Duration::minutes(5);

/// How far a record's [`time`](LedgerRecord::time) may precede the start of its chain's
/// hour: the longest a writer may work between a record's time and its append (15
/// minutes, the longest a Lambda function runs) plus [`SEAL_GRACE`]. Verification looks
/// this far back for a period's chains.
pub const RECORD_SLACK: Duration = Duration::minutes(20);

/// How long heads, registrations and seals outlive the records they vouch for, so a
/// chain's bookkeeping is still there to tell expired records from deleted ones (the
/// TTL deletes expired items within days, in no particular order).
pub const BOOKKEEPING_MARGIN: Duration = Duration::days(2);

/// How many times an append starts over with a new chain after a conflict.
const APPEND_ATTEMPTS: usize = 3;

/// The waits before sending an append again whose answer was lost: about 3 s in all,
/// short enough for a request's budget, long enough for a store's brief outage.
pub(super) const WRITE_RETRY_WAITS: [std::time::Duration; 4] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(200),
    std::time::Duration::from_millis(800),
    std::time::Duration::from_secs(2),
];

/// How many chains verification reads at once.
const CHAIN_READS: usize = 16;

/// How long a writer waits before trying again to seal after a failure.
const SEAL_RETRY: Duration = Duration::minutes(1);

/// How far after a period verification looks for the chains that name the period's
/// chains as their writers' predecessors.
const SUCCESSOR_WINDOW: Duration = Duration::days(1);

/// How many MAC checks verification sends to the key service at once.
const MAC_CHECKS: usize = 16;

/// How many times verification re-runs its judgement with more MACs answered; the
/// judgement asks for more only about items that already failed, so two rounds settle
/// it in practice.
const JUDGE_ROUNDS: usize = 4;

/// The shortest retention a record may carry: 365 days, the year of audit history PCI
/// DSS v4.0 requirement 10.5.1 asks for, and what annual SOC 2 and ISO 27001 reviews
/// look back over. Writers refuse a shorter one (configuration), and `verify` reports a
/// record whose authenticated expiry comes sooner.
pub const RETENTION_FLOOR: Duration = Duration::days(365);

/// A record as the writer made it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordEntry<R> {
    /// Its id, `<chain>:<seq>`.
    pub id: String,
    /// The record.
    pub record: R,
    /// Its canonical JSON: the text stored and hashed.
    pub record_json: String,
    /// Its place in its chain.
    pub integrity: RecordIntegrity,
}

impl<R: Clone> RecordEntry<R> {
    /// The record as stored.
    pub fn stored(&self) -> StoredRecord<R> {
        StoredRecord {
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
    /// The MAC of [`HeadClaim::message`].
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
    /// The writer's previous chain and where it ended, if the writer had one.
    pub prev: Option<ChainLink>,
    /// The MAC of [`chain::chain_message`].
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
    /// The previous seal's signature ([`ZERO_HASH`] for the first seal).
    pub prev_mac: String,
    /// The previous seal's expiry (0 for the first seal).
    pub prev_expires_at: i64,
    /// The chains, [`chain::format_seal_lines`].
    pub chains: String,
    /// The seal key's id.
    pub key_id: String,
    /// The sealer's signature of [`chain::SealClaim::message`]'s digest (named `mac` in items
    /// for continuity).
    pub mac: String,
    /// End of `through` plus retention plus [`BOOKKEEPING_MARGIN`].
    pub expires_at: i64,
}

/// The pointer to the latest seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealHeadEntry {
    /// The latest seal's last hour.
    pub through: String,
    /// The latest seal's signature.
    pub last_mac: String,
    /// The latest seal's expiry.
    pub last_expires_at: i64,
    /// The seal key's id.
    pub key_id: String,
    /// The sealer's signature of [`chain::seal_head_message`]'s digest.
    pub mac: String,
}

/// The closing marker: new chains for `hour` or earlier are refused. Signed by the
/// sealer, so nobody else can move it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingEntry {
    /// The last closed hour.
    pub hour: String,
    /// The seal key's id.
    pub key_id: String,
    /// The sealer's signature of [`chain::closing_message`]'s digest.
    pub sig: String,
}

/// One append: the record, the chain's new head, and for a chain's first record its
/// registration. Backends write all of it atomically, on the conditions that the head
/// still ends at `head.seq - 1` and is not closed, and (for a registration) that the
/// chain's hour is not closed for new chains.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerAppend<R> {
    /// The record.
    pub record: RecordEntry<R>,
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
    pub fn from_entry<R>(entry: &RecordEntry<R>, location: String) -> Self {
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
    pub fn to_stored<R: LedgerRecord>(&self) -> Option<StoredRecord<R>> {
        let chain = self.chain.clone()?;
        let seq = self.seq?;
        Some(StoredRecord {
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
    /// The writer's previous chain, if it named one.
    pub prev_chain: Option<String>,
    /// Where that chain ended.
    pub prev_seq: Option<u64>,
    /// That record's hash.
    pub prev_hash: Option<String>,
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
            prev_chain: entry.prev.as_ref().map(|p| p.chain.clone()),
            prev_seq: entry.prev.as_ref().map(|p| p.seq),
            prev_hash: entry.prev.as_ref().map(|p| p.hash.clone()),
            mac: Some(entry.mac.clone()),
        }
    }

    /// The previous chain it names: `Some(None)` for none, `None` if the fields are
    /// incomplete (tampered).
    pub fn prev_link(&self) -> Option<Option<ChainLink>> {
        match (&self.prev_chain, self.prev_seq, &self.prev_hash) {
            (None, None, None) => Some(None),
            (Some(chain), Some(seq), Some(hash)) => Some(Some(ChainLink {
                chain: chain.clone(),
                seq,
                hash: hash.clone(),
            })),
            _ => None,
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
    /// New chains for this hour or earlier are refused (set before sealing starts).
    pub closing: Option<String>,
    /// The closing marker's seal key id.
    pub closing_key_id: Option<String>,
    /// The sealer's signature of the closing marker.
    pub closing_sig: Option<String>,
}

impl RawSealHead {
    /// The closing marker, if all its fields are there.
    pub fn closing_entry(&self) -> Option<ClosingEntry> {
        Some(ClosingEntry {
            hour: self.closing.clone()?,
            key_id: self.closing_key_id.clone()?,
            sig: self.closing_sig.clone()?,
        })
    }
}

/// A chain's items: its records and its head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainItems {
    /// Every record item stored for the chain.
    pub records: Vec<RawRecord>,
    /// Its head, if stored.
    pub head: Option<RawHead>,
}

/// A chain this writer holds open.
#[derive(Debug, Clone)]
struct OpenChain {
    id: String,
    hour: String,
    seq: u64,
    hash: String,
    last_written: Option<OffsetDateTime>,
    /// The writer's chain this one continues (named in its registration).
    prev: Option<ChainLink>,
}

impl OpenChain {
    /// Where this chain ends now, for the registration of the chain that follows it.
    fn link(&self) -> Option<ChainLink> {
        (self.seq > 0).then(|| ChainLink {
            chain: self.id.clone(),
            seq: self.seq,
            hash: self.hash.clone(),
        })
    }
}

#[derive(Debug, Default)]
struct WriterState {
    /// Chains not in use by an append right now. Concurrent appends each take one, so
    /// a writer never waits for itself either; in a Lambda there is one.
    idle: Vec<OpenChain>,
    /// Chains this writer left (hour over, closed by a seal) that no newer chain names
    /// yet: the next new chain names one as its predecessor.
    retired: Vec<ChainLink>,
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
    /// Its signature: an auditor's outside anchor for the newest seal.
    pub mac: String,
}

/// What one sealing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealRun {
    /// The seal written, if the run wrote one.
    pub sealed: Option<SealSummary>,
    /// Steering items the run found tampered with and set right (a rolled-back or
    /// missing seal pointer, a closing marker not signed by the sealer, seals without
    /// their anchor). Each is also logged; `verify` reports the tampering itself.
    pub repairs: Vec<String>,
}

/// The ledger over a [`LedgerBackend`]: the writer, the sealer and the verifier (see the
/// module docs), each needing its own [`AuditPowers`].
pub struct ChainedAuditLog<B: LedgerBackend> {
    pub(super) backend: B,
    pub(super) powers: AuditPowers,
    pub(super) anchors: Option<Arc<dyn SealAnchors>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) retention: Duration,
    state: Mutex<WriterState>,
    pub(super) sealing: AtomicBool,
    /// Records kept by [`Self::append_or_keep`] until the store takes them.
    pub(super) owed: Mutex<OwedRecords<B::Record>>,
}

impl<B: LedgerBackend> std::fmt::Debug for ChainedAuditLog<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainedAuditLog")
            .field("powers", &self.powers)
            .field("anchored", &self.anchors.is_some())
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<B: LedgerBackend> ChainedAuditLog<B> {
    /// A ledger over `backend` that keeps records for `retention` and may do what
    /// `powers` allow. Sealing and verifying also need [`Self::with_anchors`].
    pub fn new(
        backend: B,
        powers: AuditPowers,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Self {
        Self {
            backend,
            powers,
            anchors: None,
            clock,
            retention,
            state: Mutex::new(WriterState::default()),
            sealing: AtomicBool::new(false),
            owed: Mutex::new(OwedRecords::default()),
        }
    }

    /// Where seals are anchored write-once (the sealer writes, verifiers read).
    pub fn with_anchors(mut self, anchors: Arc<dyn SealAnchors>) -> Self {
        self.anchors = Some(anchors);
        self
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The retention.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The anchors, which sealing and verifying need.
    pub(super) fn anchors(&self) -> Result<&Arc<dyn SealAnchors>, Error> {
        self.anchors
            .as_ref()
            .ok_or(Error::Key(KeyError::NotHeld("read the seal anchors")))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        // A poisoned lock means a panic elsewhere mid-update; the state is still usable
        // (at worst a chain is dropped and a new one started).
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn note_sealed_through(&self, hour: Option<String>) {
        self.state().sealed_through = hour;
    }

    /// Appends a record and returns it as stored. Starts a new chain when the hour
    /// changed or the chain was closed by a seal. A ledger that also holds the seal
    /// power (one local process) seals finished hours afterwards; in AWS the sealer
    /// does that on its schedule.
    ///
    /// Records kept by [`Self::append_or_keep`] are tried first when a try is due.
    pub async fn append_stored(&self, record: B::Record) -> Result<StoredRecord<B::Record>, Error> {
        self.settle_owed_if_due().await;
        self.append_with(record, &WRITE_RETRY_WAITS)
            .await
            .map_err(|failed| failed.error)
    }

    /// One append: takes a chain, chains and MACs the record, writes it, sending a write
    /// whose answer was lost again after each of `waits`. A failure says what may be
    /// kept to try again: the record when nothing was sent, the very append when it was
    /// sent and whether it landed is unknown.
    pub(super) async fn append_with(
        &self,
        record: B::Record,
        waits: &[std::time::Duration],
    ) -> Result<StoredRecord<B::Record>, Failed<B::Record>> {
        let signer = match self.powers.mac_signer() {
            Ok(signer) => signer.clone(),
            Err(e) => return Err(Failed::unkept(e.into())),
        };
        let record_json = match chain::canonical_record(&record) {
            Ok(json) => json,
            Err(e) => return Err(Failed::unkept(Error::Unavailable(Box::new(e)))),
        };
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
            let claim = HeadClaim {
                chain: &open.id,
                seq,
                hash: &hash,
                last_written_at: &written_at,
                last_expires_at: expires_at,
            };
            let genesis_message =
                (seq == 1).then(|| chain::chain_message(&open.id, &written_at, open.prev.as_ref()));
            // The MACs are independent: ask for them at once (each is a key-service
            // call in AWS).
            let record_message = chain::record_mac_message(&hash);
            let head_message = claim.message();
            let tags = futures::try_join!(
                signer.mac(&record_message),
                signer.mac(&head_message),
                async {
                    match &genesis_message {
                        Some(m) => signer.mac(m).await.map(Some),
                        None => Ok(None),
                    }
                }
            );
            let (record_tag, head_tag, genesis_tag) = match tags {
                Ok(tags) => tags,
                // Nothing was sent: the record may be appended anew later.
                Err(e @ KeyError::Unavailable(_)) => return Err(Failed::unsent(record, e.into())),
                Err(e) => return Err(Failed::unkept(e.into())),
            };
            let integrity = RecordIntegrity {
                chain: open.id.clone(),
                seq,
                prev_hash: open.hash.clone(),
                mac: record_tag.value,
                hash: hash.clone(),
                key_id: record_tag.key_id,
                written_at: written_at.clone(),
                expires_at,
            };
            let head = HeadEntry {
                chain: open.id.clone(),
                seq,
                hash: hash.clone(),
                last_written_at: written_at.clone(),
                last_expires_at: expires_at,
                key_id: head_tag.key_id,
                mac: head_tag.value,
                expires_at: expires_at + BOOKKEEPING_MARGIN.whole_seconds(),
            };
            let genesis = genesis_tag.map(|tag| ChainEntry {
                chain: open.id.clone(),
                created_at: written_at.clone(),
                key_id: tag.key_id,
                prev: open.prev.clone(),
                mac: tag.value,
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
            match self.write(&append, waits).await {
                Ok(()) => {
                    self.state().idle.push(OpenChain {
                        seq,
                        hash,
                        last_written: Some(written),
                        prev: None,
                        ..open
                    });
                    if self.powers.seal.is_some() && self.anchors.is_some() {
                        self.seal_if_due(now).await;
                    }
                    return Ok(append.record.stored());
                }
                Err(LedgerError::Conflict) => {
                    self.leave_chain(open, now).await;
                }
                // Still unknown after the retries: the chain's state is unknown, so it
                // is dropped rather than returned to the pool.
                Err(e) => return Err(Failed::sent(append, e.into())),
            }
        }
        Err(Failed::unsent(record, LedgerError::Conflict.into()))
    }

    /// Writes one append, and when its answer is lost, finds out whether it was written.
    /// A failure may follow a write that landed: a connection dropped after the commit,
    /// or a transport retry of a committed write failing its own condition. So after any
    /// failure the record's slot is read, and this record found there (by its hash)
    /// means written. Otherwise the very same append (same chain, seq and conditions) is
    /// sent again after a wait, never another on a new chain while the first may still
    /// land, so at most one of them is ever written. A refusal with the slot known not to
    /// hold this record is a true conflict and goes back to the caller.
    pub(super) async fn write(
        &self,
        append: &LedgerAppend<B::Record>,
        waits: &[std::time::Duration],
    ) -> Result<(), LedgerError> {
        let written = &append.record.integrity;
        let mut waits = waits.iter();
        loop {
            let error = match self.backend.append(append).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            let slot = self.backend.record(&written.chain, written.seq).await;
            match slot {
                Ok(Some(found)) if found.hash.as_deref() == Some(written.hash.as_str()) => {
                    return Ok(());
                }
                Ok(_) if matches!(error, LedgerError::Conflict) => return Err(error),
                // Not written, or not known: the same append again while the waits last.
                _ => {}
            }
            match waits.next() {
                Some(wait) => tokio::time::sleep(*wait).await,
                // A refusal whose slot could not be read is not known to be a conflict:
                // the append may have landed (a transport retry of a committed write).
                None if matches!(error, LedgerError::Conflict) => {
                    return Err(LedgerError::Unavailable(
                        "a condition failed and the record's slot could not be read".into(),
                    ));
                }
                None => return Err(error),
            }
        }
    }

    /// After a conflict: the chain was closed by a seal (or its hour was). Drop it,
    /// remember where it ended for the next chain's registration, and learn which hours
    /// are closed, trusting the closing marker only as far as it can be right: a marker
    /// at or past the current hour was not set by the sealer (it closes finished hours
    /// only), so it is reported and not followed.
    async fn leave_chain(&self, open: OpenChain, now: OffsetDateTime) {
        let closing = match self.backend.seal_head().await {
            Ok(Some(head)) => head.closing,
            _ => None,
        };
        let current = chain::hour_key(now);
        let mut state = self.state();
        match open.link() {
            Some(link) => state.retired.push(link),
            // Nothing was written to it: its predecessor still waits for a successor.
            None => state.retired.extend(open.prev),
        }
        let Some(next) = closing.as_deref().and_then(chain::next_hour) else {
            return;
        };
        // The sealer closes an hour only after it ended plus the grace, so a marker
        // whose next hour starts later than the grace from now was not set by it (or a
        // clock is far off): following it would date chains in the future.
        if chain::hour_start(&next).is_none_or(|start| start > now + SEAL_GRACE) {
            tracing::error!(
                target: LOG_TARGET,
                closing = closing.as_deref().unwrap_or_default(),
                current_hour = %current,
                "audit: the closing marker is past what the sealer can have set; new chains are refused until the sealer repairs it"
            );
            return;
        }
        if state.min_hour.as_deref().is_none_or(|m| m < next.as_str()) {
            state.min_hour = Some(next);
        }
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
        // Chains of earlier hours are left to the sealer, which closes them; the next
        // new chain names where one of them ended.
        let (keep, old): (Vec<OpenChain>, Vec<OpenChain>) = std::mem::take(&mut state.idle)
            .into_iter()
            .partition(|c| c.hour == hour);
        state.idle = keep;
        state.retired.extend(old.iter().filter_map(OpenChain::link));
        if let Some(open) = state.idle.pop() {
            return open;
        }
        let prev = state.retired.pop();
        OpenChain {
            id: chain::new_chain_id(&hour),
            hour,
            seq: 0,
            hash: ZERO_HASH.to_owned(),
            last_written: None,
            prev,
        }
    }

    /// The last hour that can be sealed at `now`.
    pub(super) fn seal_target(now: OffsetDateTime) -> Option<String> {
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
            tracing::warn!(target: LOG_TARGET, error = %e, "audit: sealing failed");
            self.state().next_seal_try = Some(now + SEAL_RETRY);
        }
    }

    /// Checks every record whose time is in `[since, until)`, and every writer chain
    /// that could hold one, for deletion, alteration, insertion and re-ordering:
    /// gathers everything that needs and judges it.
    pub async fn verify_period(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, Error> {
        if since >= until {
            return Err(Error::InvalidPeriod("since must be before until".into()));
        }
        let macs = self.powers.mac_verifier()?.clone();
        let seal_keys = self.powers.seal_keys().await?;
        let anchors = self.anchors()?.clone();
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
        let latest_seal = self.backend.latest_seal_before(None).await?;
        // Only the first seal ever may start a seal chain: for each start in view, is
        // there an earlier seal?
        let mut earlier_seal = BTreeMap::new();
        for seal in seals
            .iter()
            .filter(|s| s.prev_mac.as_deref() == Some(ZERO_HASH))
        {
            let earlier = self
                .backend
                .latest_seal_before(Some(&seal.through))
                .await?
                .map(|s| s.through);
            earlier_seal.insert(seal.through.clone(), earlier);
        }
        let anchored = anchors.list(&before, &span_through).await?;
        let latest_anchor = anchors.latest().await?;
        // The registrations of the day after the span too: a writer's next chain, which
        // names where its chain of the span ended, may start hours later.
        let successor_registry = match chain::next_hour(&span_through) {
            Some(after) => {
                let through = chain::hour_start(&span_through)
                    .map_or_else(|| after.clone(), |s| chain::hour_key(s + SUCCESSOR_WINDOW));
                self.backend.registrations(&after, &through).await?
            }
            None => Vec::new(),
        };
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
            latest_seal,
            earlier_seal,
            anchored,
            latest_anchor,
            successor_registry,
            span_from,
            span_through,
            retention_floor: RETENTION_FLOOR,
        };
        judge_with::<B::Record>(&*macs, &seal_keys, now, &evidence).await
    }
}

/// Runs the pure judgement of `evidence`, answering its MAC questions through `macs`.
/// The judgement is synchronous and a MAC check may need a key service, so it runs,
/// says which checks it could not answer yet, those are resolved (several at once), and
/// it runs again until it asks nothing new.
pub(super) async fn judge_with<R: LedgerRecord>(
    macs: &dyn MacVerifier,
    seal_keys: &SealPublicKeys,
    now: OffsetDateTime,
    evidence: &verify::Evidence,
) -> Result<VerifyReport, Error> {
    let mut known: HashMap<verify::MacQuestion, bool> = HashMap::new();
    for _ in 0..JUDGE_ROUNDS {
        let checks = verify::Checks::new(&known, macs, seal_keys);
        let report = verify::verify::<R>(&checks, now, evidence);
        let asked = checks.into_asked();
        if asked.is_empty() {
            return Ok(report);
        }
        let answers: Vec<Result<(verify::MacQuestion, bool), KeyError>> =
            futures::stream::iter(asked)
                .map(|q| async move {
                    let ok = macs.verify(&q.key_id, &q.message, &q.mac).await?;
                    Ok((q, ok))
                })
                .buffer_unordered(MAC_CHECKS)
                .collect()
                .await;
        for answer in answers {
            let (q, ok) = answer?;
            known.insert(q, ok);
        }
    }
    Err(Error::Unavailable(
        "audit verify: the MAC checks did not settle".into(),
    ))
}
