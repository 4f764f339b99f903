//! A tamper-evident, append-only ledger. Each writer keeps its own hash chain of
//! records per UTC hour, each record and each chain's head MACed; every finished hour
//! is sealed with a signature over where each of its chains ends, each seal linked to
//! the one before and anchored write-once outside the store. Verification reads the
//! items back and names every record or item that was deleted, altered, inserted or
//! reordered, telling those apart from records whose retention ended.
//!
//! The ledger is generic over what it keeps and where:
//!
//! - **Records**: any [`LedgerRecord`] (serde in and out, and a time). The ledger stores
//!   each record as canonical JSON and reads nothing of it but its time; questions
//!   about the records' content (filters, indexes) are the application's, answered
//!   over its own backend.
//! - **Storage**: a [`LedgerBackend`] for the items and [`SealAnchors`] for the seals'
//!   write-once copies; [`memory`] has both in memory.
//! - **Keys**: the powers to MAC, to seal and to verify are separate ports ([`keys`]),
//!   so a writer cannot seal and a verifier cannot forge.
//! - **Time**: a [`Clock`].
//!
//! Modules: [`chain`], the messages that are hashed, MACed and signed, and the formats
//! of ids and times; [`keys`], the powers; [`ledger`], [`ChainedAuditLog`]: appending,
//! sealing and verifying (the design is in its docs), and keeping records the store
//! could not take ([`ChainedAuditLog::append_or_keep`]); [`port`], the storage ports;
//! [`memory`], the in-memory backend and anchors; [`record`], what is kept; [`report`],
//! what verification finds; [`clock`], the time.

pub mod chain;
pub mod clock;
pub mod keys;
pub mod ledger;
pub mod memory;
mod owed;
pub mod port;
pub mod record;
pub mod report;
mod sealer;
mod verify;

#[cfg(test)]
mod tests;

pub use clock::{Clock, SystemClock};
pub use keys::KeyError;
pub use ledger::ChainedAuditLog;
pub use memory::{AppendFault, MemoryAnchors, MemoryLedger};
pub use owed::{Appended, MAX_OWED, OWED_FOR};
pub use port::{LedgerBackend, LedgerError, SealAnchors};
pub use record::{LedgerRecord, RecordIntegrity, StoredRecord};
pub use report::{NoteKind, ProblemKind, ProblemSubject, VerifyNote, VerifyProblem, VerifyReport};

#[cfg(any(test, feature = "test-util"))]
pub use clock::FixedClock;

/// The `tracing` target of the ledger's own events: seals written (with their
/// signatures, for an outside copy of the newest), repairs the sealer made, sealing
/// failures, and a closing marker writers refused to follow.
pub const LOG_TARGET: &str = "scimgw::audit";

/// Why the ledger could not append, seal or verify.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The period to verify is empty or reversed.
    #[error("audit store: invalid period: {0}")]
    InvalidPeriod(String),
    /// A key could not be used, or this ledger does not hold the power it needs.
    #[error("audit store: the audit key is unavailable")]
    Key(#[source] KeyError),
    /// The store refused or could not be reached.
    #[error("audit store: the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<LedgerError> for Error {
    fn from(e: LedgerError) -> Self {
        Error::Unavailable(Box::new(e))
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}
