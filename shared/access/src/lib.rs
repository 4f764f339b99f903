//! Access reports for auditors (`docs/access-reports.md`): who could reach which AWS
//! account, with which permission set, through which group, since when; as of any
//! instant the audit trail covers; what changed between two instants; and how long
//! each leaver kept access.
//!
//! - [`spans`]: periods bounded by the records that opened and closed them;
//! - [`history`]: the trail folded into those periods;
//! - [`report`]: the reports computed from a history;
//! - [`live`]: live state, and the check of the trail against it;
//! - [`evidence`]: what a report was computed from, to prove it later;
//! - [`output`]: the reports as documents, CSV and JSON Lines.
//!
//! No AWS SDK and no HTTP: the trail comes through the `AuditStore` port, live state
//! from the callers (the CLI reads it from Identity Center).

pub mod evidence;
pub mod history;
pub mod live;
pub mod output;
pub mod report;
pub mod spans;

use gateway::audit_store::{AuditQuery, AuditStore, AuditStoreError, MAX_LIMIT};
use time::{Duration, OffsetDateTime};

pub use evidence::{Evidence, SealRef};
pub use history::{Gap, History, StartKind};
pub use live::{Difference, LiveAssignment, LiveGroup, LiveState, LiveUser, Mismatch, Principal};
pub use output::{AccessReport, DiffReport, LeaversReport};
pub use report::{
    AccessChange, AccessRow, ChangeKind, Filter, Leaver, LeaverAccess, Path, as_of, diff, leavers,
};
pub use spans::RecordRef;

/// The default leaver threshold: access gone within a day of the leaving.
pub const DEFAULT_LEAVER_THRESHOLD: Duration = Duration::hours(24);

/// The exclusive end of the read that answers "as of `at`": records at `at` count.
pub fn read_until(at: OffsetDateTime) -> OffsetDateTime {
    at + Duration::nanoseconds(1)
}

/// Reads the whole trail before `until`, page by page, into a history. The trail's
/// beginning is where a report's history starts: what came before it (or expired out
/// of it) is not known, and the check against live state says so.
pub async fn read_history(
    store: &dyn AuditStore,
    until: OffsetDateTime,
) -> Result<History, AuditStoreError> {
    let mut history = History::default();
    let mut cursor = None;
    loop {
        let page = store
            .query(&AuditQuery {
                until: Some(until),
                limit: MAX_LIMIT,
                cursor,
                ..AuditQuery::default()
            })
            .await?;
        for record in &page.records {
            history.apply(record);
        }
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(history);
        }
    }
}

/// The store's newest seal, for a report's evidence; a store that cannot tell, or
/// fails to, gives none (the evidence's digest and head still bind the report).
pub async fn latest_seal(store: &dyn AuditStore) -> Option<SealRef> {
    store
        .latest_seal()
        .await
        .ok()
        .flatten()
        .map(|(through, signature)| SealRef { through, signature })
}

impl History {
    /// The evidence of the records folded, read up to `until`.
    pub fn evidence(&self, until: OffsetDateTime, seal: Option<SealRef>) -> Evidence {
        self.evidence.finish(until, seal)
    }
}
