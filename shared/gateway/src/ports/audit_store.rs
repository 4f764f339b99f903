//! The audit-store ports: reading the audit trail back and verifying it
//! ([`AuditStore`]), and answering queries from a ledger backend's indexes
//! ([`AuditIndex`]).

use async_trait::async_trait;
use audit_ledger::KeyError;
use time::OffsetDateTime;

use crate::audit_store::{AuditPage, AuditQuery, VerifyReport};

/// Why a query or a verification could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AuditStoreError {
    /// The cursor was not one this query handed out (garbled, or from another query).
    #[error("audit store: invalid cursor")]
    InvalidCursor,
    /// The query or period cannot be answered as asked.
    #[error("audit store: invalid query: {0}")]
    InvalidQuery(String),
    /// The audit key could not be read or is unusable.
    #[error("audit store: the audit key is unavailable")]
    Key(#[source] KeyError),
    /// The store refused or could not be reached.
    #[error("audit store: the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads the audit trail back.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// One page of the records matching `query`.
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError>;

    /// Checks every record whose time is in `[since, until)`, and every writer chain
    /// that could hold one, for deletion, alteration, insertion and re-ordering.
    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError>;

    /// The newest seal of the trail: the last hour it covers (`YYYYMMDDTHH`) and its
    /// signature. `None` before the first seal, or where the store cannot tell (through
    /// the audit API, which answers this inside its own reports).
    async fn latest_seal(&self) -> Result<Option<(String, String)>, AuditStoreError> {
        Ok(None)
    }
}

/// Where a ledger backend answers audit queries: by its indexes (in DynamoDB) or by
/// reading every record (in memory), with [`AuditQuery::matches`] for the filters its
/// indexes do not cover. The ledger itself only chains records; what they say is for
/// this port.
#[async_trait]
pub trait AuditIndex: Send + Sync {
    /// One page of the records matching `query` (already validated).
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError>;
}
