//! The managed-assignment ledger port: the account assignments this gateway created, or
//! adopted because a document named them while they existed (imported). Identity Center
//! keeps no owner on an assignment, so this set is what tells the gateway's own
//! assignments from Control Tower's and other tools': only its members are ever deleted.
//!
//! It also holds the permission sets this gateway manages: those it created from a
//! document's definition and those a definition adopted; only they are ever changed.
//!
//! The DynamoDB adapter is `aws_adapters::DynamoDbManagedLedger`; [`InMemoryLedger`] is
//! for tests.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::state::Assignment;

/// The ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("managed assignment ledger: {0}")]
pub struct LedgerError(pub String);

/// The set of managed assignments.
#[async_trait]
pub trait ManagedLedger: Send + Sync {
    /// Every managed assignment.
    async fn list(&self) -> Result<BTreeSet<Assignment>, LedgerError>;
    /// Records one as managed (idempotent).
    async fn record(&self, assignment: &Assignment) -> Result<(), LedgerError>;
    /// Forgets one (idempotent).
    async fn forget(&self, assignment: &Assignment) -> Result<(), LedgerError>;
    /// The ARNs of every managed permission set.
    async fn permission_sets(&self) -> Result<BTreeSet<String>, LedgerError>;
    /// Records a permission set as managed (idempotent).
    async fn record_permission_set(&self, arn: &str) -> Result<(), LedgerError>;
}

/// A ledger in memory.
#[derive(Debug, Default)]
pub struct InMemoryLedger(Mutex<BTreeSet<Assignment>>, Mutex<BTreeSet<String>>);

impl InMemoryLedger {
    fn set(&self) -> std::sync::MutexGuard<'_, BTreeSet<Assignment>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ManagedLedger for InMemoryLedger {
    async fn list(&self) -> Result<BTreeSet<Assignment>, LedgerError> {
        Ok(self.set().clone())
    }

    async fn record(&self, assignment: &Assignment) -> Result<(), LedgerError> {
        self.set().insert(assignment.clone());
        Ok(())
    }

    async fn forget(&self, assignment: &Assignment) -> Result<(), LedgerError> {
        self.set().remove(assignment);
        Ok(())
    }

    async fn permission_sets(&self) -> Result<BTreeSet<String>, LedgerError> {
        Ok(self.1.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn record_permission_set(&self, arn: &str) -> Result<(), LedgerError> {
        self.1
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(arn.to_owned());
        Ok(())
    }
}
