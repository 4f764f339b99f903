//! The audit-log port: where the use cases write one outcome record per request, and
//! one intent record before a request's first change to the target.

use async_trait::async_trait;

use crate::audit::AuditRecord;

/// Why a record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The store refused or could not be reached.
    #[error("audit: the record could not be stored")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What became of a record given to [`AuditLog::append_or_keep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored now.
    Now,
    /// Kept by the log, to be stored when the store answers again.
    Kept,
}

/// Where audit records go. A failed intent write stops the request before anything
/// reaches the target (`GatewayError::AuditUnavailable`). A failed outcome write never
/// undoes the operation: the caller logs the record's ids at error level, counts it,
/// and answers as if it had succeeded, because the target has already changed.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Stores one record.
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError>;

    /// Stores one record or, when the store cannot take it now, keeps it and stores it
    /// once the store answers again: for a record nothing else would send again (a SCIM
    /// request's outcome, whose answer has gone to the client). A log that cannot keep
    /// records (the default) stores or fails, as [`AuditLog::append`].
    async fn append_or_keep(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        self.append(record).await.map(|()| Appended::Now)
    }
}
