//! The read-notes port: where a reader of the audit trail reports each read, so that a
//! writer records it (`crate::audit_reads`). A queue in AWS, the trail itself in a
//! process that holds every power.

use async_trait::async_trait;

use crate::audit_reads::ReadNote;

/// Why a note could not be sent. The reader hands out nothing then.
#[derive(Debug, thiserror::Error)]
#[error("the read could not be recorded")]
pub struct ReadNoteError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// Where notes of reads go.
#[async_trait]
pub trait ReadNotes: Send + Sync {
    /// Sends one note; `Ok` once it is durable (on the queue, or in the trail).
    async fn send(&self, note: &ReadNote) -> Result<(), ReadNoteError>;
}
