//! The port wrapper: [`DynamoDbAuditLog`] implements the audit ports over the table by
//! running the audit ledger on [`DynamoDbLedger`].

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use gateway::Clock;
use gateway::audit::{Appended, AuditError, AuditLog, AuditRecord};
use gateway::audit_store::keys::AuditPowers;
use gateway::audit_store::ledger::{ChainedAuditLog, SealAnchors, SealRun, SealSummary};
use gateway::audit_store::{
    AuditPage, AuditQuery, AuditStore, AuditStoreError, StoredAuditRecord, VerifyReport,
};
use time::{Duration, OffsetDateTime};

use super::backend::DynamoDbLedger;

/// The audit ports over the audit table: records are chained, sealed and verified by
/// the audit ledger, stored by [`DynamoDbLedger`].
#[derive(Debug)]
pub struct DynamoDbAuditLog {
    ledger: ChainedAuditLog<DynamoDbLedger>,
}

impl DynamoDbAuditLog {
    /// An audit log over `table` that may do what `powers` allow (a writer MACs, the
    /// sealer signs, verifiers check), keeping records for `retention` (the TTL).
    /// Sealing and verifying also need [`Self::with_anchors`].
    pub fn new(
        client: Client,
        table: impl Into<String>,
        powers: AuditPowers,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Self {
        Self {
            ledger: ChainedAuditLog::new(
                DynamoDbLedger::new(client, table),
                powers,
                clock,
                retention,
            ),
        }
    }

    /// Where seals are anchored write-once.
    pub fn with_anchors(self, anchors: Arc<dyn SealAnchors>) -> Self {
        Self {
            ledger: self.ledger.with_anchors(anchors),
        }
    }

    /// The ledger (for `seal_due`, `append_stored`, or the backend).
    pub fn ledger(&self) -> &ChainedAuditLog<DynamoDbLedger> {
        &self.ledger
    }

    /// Appends a record and returns it as stored.
    pub async fn append_stored(
        &self,
        record: AuditRecord,
    ) -> Result<StoredAuditRecord, AuditStoreError> {
        Ok(self.ledger.append_stored(record).await?)
    }

    /// Seals every finished hour not sealed yet (the sealer's scheduled job).
    pub async fn seal_due(&self) -> Result<Option<SealSummary>, AuditStoreError> {
        Ok(self.ledger.seal_due().await?)
    }

    /// As [`Self::seal_due`], with the repairs the run made.
    pub async fn seal_run(&self) -> Result<SealRun, AuditStoreError> {
        Ok(self.ledger.seal_run().await?)
    }
}

#[async_trait]
impl AuditLog for DynamoDbAuditLog {
    async fn append(&self, record: AuditRecord) -> Result<(), AuditError> {
        self.ledger.append(record).await
    }

    async fn append_or_keep(&self, record: AuditRecord) -> Result<Appended, AuditError> {
        AuditLog::append_or_keep(&self.ledger, record).await
    }
}

#[async_trait]
impl AuditStore for DynamoDbAuditLog {
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditStoreError> {
        self.ledger.query(query).await
    }

    async fn verify(
        &self,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<VerifyReport, AuditStoreError> {
        self.ledger.verify(since, until).await
    }

    async fn latest_seal(&self) -> Result<Option<(String, String)>, AuditStoreError> {
        self.ledger.latest_seal().await
    }
}
