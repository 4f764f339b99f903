//! The audit store: reading the audit trail back (queries for the auditors' questions)
//! and proving it untampered (`verify`), over the tamper-evident ledger of the
//! `audit-ledger` crate, which both the in-memory and the DynamoDB store run on.
//!
//! Writing stays the [`AuditLog`] port's job; a store implements both. Here: the
//! queries ([`AuditQuery`], [`AuditPage`], [`QueryCursor`]), which the ledger knows
//! nothing of; [`AuditRecord`] as the ledger's record; the audit ports over the ledger
//! ([`ChainedAuditLog`] is an [`AuditLog`], and an [`AuditStore`] over a backend that is
//! also an [`AuditIndex`]); and the in-memory store ([`memory`]). The ledger's modules
//! are re-exported ([`chain`], [`keys`], [`ledger`]), so their paths here stay. The
//! design of the tamper evidence (per-writer hash chains, HMAC-signed chain heads,
//! hourly signed seals in the manner of CloudTrail's digest files) is described in
//! `docs/audit-table.md` and in [`ledger`].

pub mod memory;

#[cfg(test)]
mod tests;

use std::fmt;

use async_trait::async_trait;
use audit_ledger::{ChainedAuditLog, LedgerBackend, LedgerError, LedgerRecord};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{Appended, AuditError, AuditLog, AuditOperation, AuditRecord, Outcome};

pub use audit_ledger::{
    NoteKind, ProblemKind, ProblemSubject, RecordIntegrity, VerifyNote, VerifyProblem,
    VerifyReport, chain, keys, ledger,
};

pub use crate::ports::audit_store::{AuditIndex, AuditStore, AuditStoreError};

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

/// An audit record as stored, with what binds it into the tamper-evident trail.
pub type StoredAuditRecord = audit_ledger::StoredRecord<AuditRecord>;

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

impl LedgerRecord for AuditRecord {
    fn time(&self) -> OffsetDateTime {
        self.time
    }
}

/// The ledger's failures as the store's, their sources kept (an empty period is an
/// invalid query).
impl From<audit_ledger::Error> for AuditStoreError {
    fn from(e: audit_ledger::Error) -> Self {
        match e {
            audit_ledger::Error::InvalidPeriod(why) => AuditStoreError::InvalidQuery(why),
            audit_ledger::Error::Key(e) => AuditStoreError::Key(e),
            audit_ledger::Error::Unavailable(e) => AuditStoreError::Unavailable(e),
        }
    }
}

impl From<LedgerError> for AuditStoreError {
    fn from(e: LedgerError) -> Self {
        audit_ledger::Error::from(e).into()
    }
}

#[async_trait]
impl<B> AuditLog for ChainedAuditLog<B>
where
    B: LedgerBackend<Record = AuditRecord>,
{
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.append_stored(record)
            .await
            .map(|_| ())
            .map_err(|e| AuditError::Unavailable(Box::new(AuditStoreError::from(e))))
    }

    async fn append_or_keep(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        match ChainedAuditLog::append_or_keep(self, record).await {
            Ok(audit_ledger::Appended::Written(_)) => Ok(Appended::Now),
            Ok(audit_ledger::Appended::Kept) => Ok(Appended::Kept),
            Err(e) => Err(AuditError::Unavailable(Box::new(AuditStoreError::from(e)))),
        }
    }
}

#[async_trait]
impl<B> AuditStore for ChainedAuditLog<B>
where
    B: LedgerBackend<Record = AuditRecord> + AuditIndex,
{
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        query.validate()?;
        self.backend().query(query).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        Ok(self.verify_period(since, until).await?)
    }

    async fn latest_seal(&self) -> Result<Option<(String, String)>, AuditStoreError> {
        let head = self.backend().seal_head().await?;
        Ok(head.and_then(|h| h.through.zip(h.last_mac)))
    }
}
