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

/// Where audit records go. A failed intent write stops the request before anything
/// reaches the target (`GatewayError::AuditUnavailable`). A failed outcome write never
/// undoes the operation: the caller logs the record's ids at error level, counts it,
/// and answers as if it had succeeded, because the target has already changed.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Stores one record.
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError>;
}
