//! What the ledger keeps: the [`LedgerRecord`] an application's records implement, and
//! a record as stored ([`StoredRecord`]) with its place in its writer's hash chain
//! ([`RecordIntegrity`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A record the ledger can keep. The ledger stores its canonical JSON
/// ([`chain::canonical_record`](crate::chain::canonical_record)), hashes that exact
/// text, and reads nothing of it but its time.
pub trait LedgerRecord: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// When what it records happened, which may be a little before it is appended (up
    /// to [`RECORD_SLACK`](crate::ledger::RECORD_SLACK)). Backends find records by it
    /// ([`LedgerBackend::records_between`](crate::LedgerBackend::records_between)), and
    /// verification reports a record dated far from when it was written.
    fn time(&self) -> OffsetDateTime;
}

/// A record as stored, with what binds it into the tamper-evident trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord<R> {
    /// The record's id, `<chain>:<seq>` (see [`chain::record_id`](crate::chain::record_id));
    /// stable and unique.
    pub id: String,
    /// The record.
    pub record: R,
    /// Its place in its writer's hash chain.
    pub integrity: RecordIntegrity,
}

/// A record's place in its writer's hash chain (see the [`ledger`](crate::ledger)
/// module's design notes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIntegrity {
    /// The chain: one per writer and UTC hour, `<YYYYMMDDTHH>-<16 hex digits>`.
    pub chain: String,
    /// The record's position in its chain, from 1.
    pub seq: u64,
    /// The hash of the record before it (64 zeros for the first), hex.
    pub prev_hash: String,
    /// SHA-256 of the record's canonical form bound to chain, seq, previous hash and
    /// times ([`chain::record_hash`](crate::chain::record_hash)), hex.
    pub hash: String,
    /// HMAC-SHA256 of the hash under the MAC key, hex.
    pub mac: String,
    /// Which MAC key made the MAC (a fingerprint or an identifier, not the key).
    pub key_id: String,
    /// When the writer appended it (its clock, never earlier than the chain's previous
    /// record), fixed-width RFC 3339 with nanoseconds.
    pub written_at: String,
    /// When retention ends and the backend may delete it, epoch seconds.
    pub expires_at: i64,
}
