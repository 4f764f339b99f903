//! The audit store port: reading the audit trail back (queries for the auditors'
//! questions) and proving it untampered (`verify`), plus the tamper-evident ledger that
//! both the in-memory and the DynamoDB store are built on.
//!
//! Writing stays the [`AuditLog`](crate::AuditLog) port's job; a store implements both.
//! The design of the tamper evidence (per-writer hash chains, HMAC-signed chain heads,
//! hourly signed seals in the manner of CloudTrail's digest files) is described in
//! `docs/audit-table.md` and in [`ledger`].

pub mod chain;
pub mod keys;
pub mod ledger;
pub mod memory;
mod sealer;
mod verify;

#[cfg(test)]
mod tests;

use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditOperation, AuditRecord, Outcome};

pub use crate::ports::audit_store::{AuditStore, AuditStoreError};

pub use memory::{InMemoryAuditStore, MemoryAnchors};

/// The page size when a query does not say.
pub const DEFAULT_LIMIT: u32 = 100;

/// The largest page a query may ask for: large enough for exports, small enough that a
/// page stays well inside a Lambda response.
pub const MAX_LIMIT: u32 = 1000;

/// What an auditor asks for. Every filter given must match (AND); none given means all
/// records. Results come oldest first, ordered by the record's `time` and then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// A user or group: its Identity Center id, its Okta id (`externalId`), or its
    /// `userName` / `displayName` (case-insensitively).
    pub target: Option<String>,
    /// The credential that asked, as in [`AuditActor::credential`](crate::audit::AuditActor).
    pub actor: Option<String>,
    /// Records at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Records strictly before this time.
    pub until: Option<OffsetDateTime>,
    /// Only records with this outcome.
    pub outcome: Option<Outcome>,
    /// Only records of this operation.
    pub operation: Option<AuditOperation>,
    /// The most records in a page, 1 to [`MAX_LIMIT`].
    pub limit: u32,
    /// Where the previous page stopped: its [`AuditPage::next_cursor`], as given.
    pub cursor: Option<String>,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            target: None,
            actor: None,
            since: None,
            until: None,
            outcome: None,
            operation: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

impl AuditQuery {
    /// Refuses a query no store can answer: a limit out of range, an empty period.
    pub fn validate(&self) -> Result<(), AuditStoreError> {
        if self.limit == 0 || self.limit > MAX_LIMIT {
            return Err(AuditStoreError::InvalidQuery(format!(
                "limit must be between 1 and {MAX_LIMIT}"
            )));
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            return Err(AuditStoreError::InvalidQuery(
                "since must be before until".into(),
            ));
        }
        Ok(())
    }

    /// Whether a record passes every filter (the cursor and limit aside). Stores use it
    /// for the filters their index did not already apply, so all stores agree.
    pub fn matches(&self, record: &AuditRecord) -> bool {
        let target = self.target.as_deref().is_none_or(|wanted| {
            let t = &record.subject;
            t.target_id.as_deref() == Some(wanted)
                || t.external_id.as_deref() == Some(wanted)
                || t.name
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase() == wanted.to_lowercase())
        });
        target
            && self
                .actor
                .as_deref()
                .is_none_or(|a| record.actor.credential == a)
            && self.since.is_none_or(|s| record.time >= s)
            && self.until.is_none_or(|u| record.time < u)
            && self.outcome.is_none_or(|o| record.outcome == o)
            && self.operation.is_none_or(|o| record.operation == o)
    }
}

/// One page of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    /// The records, oldest first.
    pub records: Vec<StoredAuditRecord>,
    /// Pass as [`AuditQuery::cursor`] to get the next page; `None` on the last page. A
    /// page may be shorter than the limit and still have a next one.
    pub next_cursor: Option<String>,
}

/// A record as stored, with what binds it into the tamper-evident trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAuditRecord {
    /// The record's id, `<chain>:<seq>` (see [`chain::record_id`]); stable and unique.
    pub id: String,
    /// The record.
    pub record: AuditRecord,
    /// Its place in its writer's hash chain.
    pub integrity: RecordIntegrity,
}

/// A record's place in its writer's hash chain (see `docs/audit-table.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordIntegrity {
    /// The chain: one per writer and UTC hour, `<YYYYMMDDTHH>-<16 hex digits>`.
    pub chain: String,
    /// The record's position in its chain, from 1.
    pub seq: u64,
    /// The hash of the record before it (64 zeros for the first), hex.
    pub prev_hash: String,
    /// SHA-256 of the record's canonical form bound to chain, seq, previous hash and
    /// times ([`chain::record_hash`]), hex.
    pub hash: String,
    /// HMAC-SHA256 of the hash under the audit key, hex.
    pub mac: String,
    /// Which audit key made the MAC (a fingerprint, not the key).
    pub key_id: String,
    /// When the writer appended it (its clock, never earlier than the chain's previous
    /// record), fixed-width RFC 3339 with nanoseconds.
    pub written_at: String,
    /// When retention ends and the table's TTL may delete it, epoch seconds.
    pub expires_at: i64,
}

/// The outcome of verifying a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// No problems found: every record of the period is present, unaltered, in order.
    pub intact: bool,
    /// How many stored records were checked.
    pub checked: u64,
    /// How many writer chains were checked.
    pub chains: u64,
    /// Everything that shows tampering, one entry per record or item concerned.
    pub problems: Vec<VerifyProblem>,
    /// Informational findings that are not tampering: records removed by retention,
    /// recent hours not sealed yet.
    pub notes: Vec<VerifyNote>,
}

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A record (or a chain head, chain registration or seal) that must exist is gone,
    /// and its retention had not ended.
    Deleted,
    /// An item's content no longer matches its hash or MAC.
    Altered,
    /// An item that the writers never wrote: a forged MAC, a second item for one place
    /// in a chain, a record beyond a chain's sealed end, a chain no seal knows.
    Inserted,
    /// Authentic items in the wrong place: a record whose content belongs at another
    /// position of its chain, links that do not follow each other.
    Reordered,
    /// Signed with a key the verifier does not hold, so it cannot be checked.
    Unverifiable,
}

/// Which kind of item a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSubject {
    /// An audit record.
    Record,
    /// A chain's head (its last seq and hash).
    ChainHead,
    /// A chain's registration (genesis).
    ChainRegistration,
    /// A chain as a whole.
    Chain,
    /// An hourly seal, or the pointer to the latest.
    Seal,
}

/// One finding that shows tampering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyProblem {
    /// What is wrong.
    pub kind: ProblemKind,
    /// What it concerns.
    pub subject: ProblemSubject,
    /// The record id (`<chain>:<seq>`) concerned, for record problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The chain concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The position in the chain concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// For [`ProblemKind::Reordered`]: the position the item's content belongs at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub belongs_at: Option<u64>,
    /// The seal concerned (the last hour it covers, `YYYYMMDDTHH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
    /// Where the item is stored, in the store's own terms (e.g. a table key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// What was found, for people.
    pub detail: String,
}

/// What an informational finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Records (or their chain's bookkeeping) gone after their retention ended.
    Expired,
    /// Hours not sealed yet: protected by chain heads only until the next write seals
    /// them.
    Unsealed,
}

/// One informational finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyNote {
    /// What it is about.
    pub kind: NoteKind,
    /// The chain concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// The first and last positions concerned, if a run of records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seqs: Option<(u64, u64)>,
    /// What was found, for people.
    pub detail: String,
}

/// A position in a query's result order, handed out as an opaque cursor: the query
/// plan it belongs to (so a cursor from another kind of query is refused) and the sort
/// key of the last record read. Stores' sort keys are prefix-free, so "after this key"
/// is exact.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryCursor {
    /// The plan (index) the cursor belongs to.
    #[serde(rename = "p")]
    pub plan: String,
    /// The sort key (`<time>#<record id>`) of the last record read.
    #[serde(rename = "a")]
    pub after: String,
}

impl fmt::Debug for QueryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueryCursor({}, {})", self.plan, self.after)
    }
}

impl QueryCursor {
    /// The cursor's opaque form: unpadded base64url of a small JSON object.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor handed out for `plan`; anything else is [`AuditStoreError::InvalidCursor`].
    pub fn decode(text: &str, plan: &str) -> Result<Self, AuditStoreError> {
        // Real cursors are well under 200 characters; refuse anything larger unread.
        if text.len() > 1024 {
            return Err(AuditStoreError::InvalidCursor);
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| AuditStoreError::InvalidCursor)?;
        let cursor: QueryCursor =
            serde_json::from_slice(&bytes).map_err(|_| AuditStoreError::InvalidCursor)?;
        if cursor.plan != plan || chain::parse_sort_key(&cursor.after).is_none() {
            return Err(AuditStoreError::InvalidCursor);
        }
        Ok(cursor)
    }
}
