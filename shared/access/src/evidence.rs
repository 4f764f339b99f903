//! What a report was computed from, so that it can be proven later: how many records,
//! the last one (the head the report stands on) with its hash, a digest over every
//! record's id and hash in order, and the newest seal of the trail when the report was
//! made. `scimgw audit verify --evidence REPORT` re-reads the same records, recomputes
//! the digest and verifies the period: a report made from a trail that was altered
//! before or after it was made fails one or the other.

use gateway::audit_store::StoredAuditRecord;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::spans::RecordRef;

/// The evidence a report carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The records read: every record whose time is before this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    /// How many records were read.
    pub records: u64,
    /// The oldest record read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<RecordRef>,
    /// The newest record read, with its hash: the head the report stands on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Head>,
    /// SHA-256 over each record's id and hash, oldest first, hex.
    pub digest: String,
    /// The newest seal of the trail when the report was made, where the store tells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<SealRef>,
}

/// The newest record a report was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Its id.
    pub id: String,
    /// Its time.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Its hash in its writer's chain.
    pub hash: String,
}

/// A seal of the trail, by the last hour it covers and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRef {
    /// The last hour sealed, `YYYYMMDDTHH`.
    pub through: String,
    /// The seal's signature.
    pub signature: String,
}

/// Builds [`Evidence`] record by record.
#[derive(Debug, Clone, Default)]
pub struct EvidenceBuilder {
    hasher: Sha256,
    records: u64,
    first: Option<RecordRef>,
    head: Option<Head>,
}

impl EvidenceBuilder {
    /// Takes one more record (oldest first).
    pub fn add(&mut self, stored: &StoredAuditRecord) {
        self.hasher.update(stored.id.as_bytes());
        self.hasher.update(b"\n");
        self.hasher.update(stored.integrity.hash.as_bytes());
        self.hasher.update(b"\n");
        self.records += 1;
        if self.first.is_none() {
            self.first = Some(RecordRef {
                id: stored.id.clone(),
                time: stored.record.time,
            });
        }
        self.head = Some(Head {
            id: stored.id.clone(),
            time: stored.record.time,
            hash: stored.integrity.hash.clone(),
        });
    }

    /// The evidence of every record taken, read up to `until`.
    pub fn finish(&self, until: OffsetDateTime, seal: Option<SealRef>) -> Evidence {
        Evidence {
            until,
            records: self.records,
            first: self.first.clone(),
            head: self.head.clone(),
            digest: hex(&self.hasher.clone().finalize()),
            seal,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a re-read disagrees with a report's evidence; empty when it agrees.
pub fn compare(claimed: &Evidence, reread: &Evidence) -> Vec<String> {
    let mut problems = Vec::new();
    if claimed.records != reread.records {
        problems.push(format!(
            "the report was computed from {} records; the trail now holds {} before {}",
            claimed.records, reread.records, claimed.until
        ));
    }
    if claimed.head != reread.head {
        problems.push(format!(
            "the report's head record is {}; the trail's is now {}",
            claimed
                .head
                .as_ref()
                .map_or("none".into(), |h| format!("{} ({})", h.id, h.hash)),
            reread
                .head
                .as_ref()
                .map_or("none".into(), |h| format!("{} ({})", h.id, h.hash)),
        ));
    }
    if claimed.digest != reread.digest {
        problems.push(
            "the digest of the records differs: a record the report was computed from was \
             changed, removed or added"
                .into(),
        );
    }
    problems
}
