//! Records the store could not take, kept and written once it answers again
//! ([`ChainedAuditLog::append_or_keep`]): for a writer that has nothing else to try a
//! record again with (a request already answered), so that an outage longer than an
//! append's own retries does not lose the record.
//!
//! A record whose append was sent and not known to have landed is kept as that very
//! append (same chain, seq and MACs), and sent again as it was, or found written: it
//! can land once at most, as within one append ([`ChainedAuditLog::write`]). Only when
//! its slot is known not to hold it (the chain was closed by a seal meanwhile) is the
//! record appended anew. A record never sent (the key service was unreachable) is
//! appended anew.

use time::{Duration, OffsetDateTime};

use crate::ledger::{ChainedAuditLog, LedgerAppend, RECORD_SLACK, SEAL_GRACE};
use crate::port::{LedgerBackend, LedgerError};
use crate::{Error, LOG_TARGET, LedgerRecord, StoredRecord};

/// The most records a writer keeps; past it a record that cannot be appended fails
/// as [`ChainedAuditLog::append_stored`] does (a few MiB of memory at most).
pub const MAX_OWED: usize = 1000;

/// How long past its time a record is kept: a record appended later than
/// [`RECORD_SLACK`] after its time does not verify, and a seal may close its chain
/// [`SEAL_GRACE`] after the hour. A record kept longer is dropped and logged at error
/// level.
pub const OWED_FOR: Duration =
    Duration::seconds(RECORD_SLACK.whole_seconds() - SEAL_GRACE.whole_seconds());

/// The wait before the first try of kept records, doubled after each round that left
/// some, up to [`SETTLE_WAIT_MAX`].
const SETTLE_WAIT: Duration = Duration::SECOND;
const SETTLE_WAIT_MAX: Duration = Duration::seconds(30);

/// What became of a record given to [`ChainedAuditLog::append_or_keep`].
#[derive(Debug, Clone, PartialEq)]
pub enum Appended<R> {
    /// Written now.
    Written(StoredRecord<R>),
    /// Kept, to be written when the store answers again.
    Kept,
}

/// A record kept to be written.
#[derive(Debug)]
pub(crate) enum Owed<R> {
    /// Never sent: appended anew.
    Unsent(R),
    /// Sent, not known to have landed: sent again as it was.
    Sent(Box<LedgerAppend<R>>),
}

impl<R: LedgerRecord> Owed<R> {
    fn record(&self) -> &R {
        match self {
            Owed::Unsent(record) => record,
            Owed::Sent(append) => &append.record.record,
        }
    }

    /// The record's id when it has one (`<chain>:<seq>`), for the logs.
    fn id(&self) -> &str {
        match self {
            Owed::Unsent(_) => "-",
            Owed::Sent(append) => &append.record.id,
        }
    }
}

/// Why an append failed, and what of it may be kept.
#[derive(Debug)]
pub(crate) struct Failed<R> {
    pub(crate) error: Error,
    pub(crate) keep: Option<Owed<R>>,
}

impl<R> Failed<R> {
    /// Nothing to keep: trying again cannot help (a power not held, a record that does
    /// not serialise).
    pub(crate) fn unkept(error: Error) -> Self {
        Self { error, keep: None }
    }

    /// Nothing was sent.
    pub(crate) fn unsent(record: R, error: Error) -> Self {
        Self {
            error,
            keep: Some(Owed::Unsent(record)),
        }
    }

    /// Sent, and whether it landed is unknown.
    pub(crate) fn sent(append: LedgerAppend<R>, error: Error) -> Self {
        Self {
            error,
            keep: Some(Owed::Sent(Box::new(append))),
        }
    }
}

/// A writer's kept records and when to try them next.
#[derive(Debug)]
pub(crate) struct OwedRecords<R> {
    records: Vec<Owed<R>>,
    next_try: Option<OffsetDateTime>,
    /// Rounds in a row that left records kept.
    failed_rounds: u32,
}

impl<R> Default for OwedRecords<R> {
    fn default() -> Self {
        Self {
            records: Vec::new(),
            next_try: None,
            failed_rounds: 0,
        }
    }
}

impl<B: LedgerBackend> ChainedAuditLog<B> {
    fn owed_records(&self) -> std::sync::MutexGuard<'_, OwedRecords<B::Record>> {
        // A poisoned lock means a panic elsewhere mid-update; the list is still usable.
        self.owed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a record, as [`Self::append_stored`]; when the store cannot take it now,
    /// keeps it and writes it once the store answers again: at a later append's start,
    /// or at [`Self::settle_owed`], whichever comes first after the wait (1 s, doubled
    /// after each round that fails, up to 30 s). For a record nothing else would send
    /// again. Fails as `append_stored` does when the record cannot be kept: trying again
    /// cannot help (a power not held), or [`MAX_OWED`] records are kept already.
    ///
    /// A kept record lives in this writer's memory: it is lost if the process ends
    /// first, and dropped (logged at error level) when kept past [`OWED_FOR`].
    pub async fn append_or_keep(&self, record: B::Record) -> Result<Appended<B::Record>, Error> {
        self.settle_owed_if_due().await;
        match self
            .append_with(record, &crate::ledger::WRITE_RETRY_WAITS)
            .await
        {
            Ok(stored) => Ok(Appended::Written(stored)),
            Err(Failed {
                error,
                keep: Some(owed),
            }) => self.keep(owed, error),
            Err(Failed { error, keep: None }) => Err(error),
        }
    }

    fn keep(&self, owed: Owed<B::Record>, error: Error) -> Result<Appended<B::Record>, Error> {
        let now = self.clock.now();
        let mut list = self.owed_records();
        if list.records.len() >= MAX_OWED {
            return Err(error);
        }
        tracing::warn!(
            target: LOG_TARGET,
            error = %error,
            record = owed.id(),
            kept = list.records.len() + 1,
            "audit: the store could not take a record; it is kept and written when the store answers again"
        );
        list.records.push(owed);
        list.next_try.get_or_insert(now + SETTLE_WAIT);
        Ok(Appended::Kept)
    }

    /// How many records are kept, waiting for the store.
    pub fn owed(&self) -> usize {
        self.owed_records().records.len()
    }

    /// Tries the kept records when a try is due.
    pub(crate) async fn settle_owed_if_due(&self) {
        let due = {
            let list = self.owed_records();
            !list.records.is_empty() && list.next_try.is_none_or(|at| at <= self.clock.now())
        };
        if due {
            self.settle_owed().await;
        }
    }

    /// Tries the kept records now, oldest first, without waiting between tries, and
    /// stops at the first the store still refuses (the rest wait for the next round, so
    /// that a round during an outage costs one refused call, not one per record); drops
    /// (and logs at error level) any kept past [`OWED_FOR`]. Answers how many are still
    /// kept. A process that may sit idle with records kept calls it on a clock; appends
    /// call it themselves when a try is due.
    pub async fn settle_owed(&self) -> usize {
        let now = self.clock.now();
        // Taken out of the list, so that an append meanwhile does not send them too.
        let taken = {
            let mut list = self.owed_records();
            list.next_try = None;
            std::mem::take(&mut list.records)
        };
        if taken.is_empty() {
            return 0;
        }
        let mut left = Vec::new();
        let mut taken = taken.into_iter();
        while let Some(owed) = taken.next() {
            if let Some(owed) = self.settle(owed, now).await {
                left.push(owed);
                left.extend(taken);
                break;
            }
        }
        let mut list = self.owed_records();
        if left.is_empty() {
            // Records kept meanwhile have set their own first try.
            list.failed_rounds = 0;
        } else {
            list.failed_rounds = list.failed_rounds.saturating_add(1);
            let wait = SETTLE_WAIT * 2_i32.saturating_pow(list.failed_rounds.min(8) - 1);
            list.next_try = Some(now + wait.min(SETTLE_WAIT_MAX));
        }
        list.records.extend(left);
        list.records.len()
    }

    /// One try of one kept record; answers it back when it is still to be written.
    async fn settle(&self, owed: Owed<B::Record>, now: OffsetDateTime) -> Option<Owed<B::Record>> {
        if owed.record().time() + OWED_FOR < now {
            tracing::error!(
                target: LOG_TARGET,
                record = owed.id(),
                time = %crate::chain::fmt_time(owed.record().time()),
                "audit: a kept record was dropped: the store did not take it within {} minutes of its time",
                OWED_FOR.whole_minutes()
            );
            return None;
        }
        let record = match owed {
            Owed::Sent(append) => match self.write(&append, &[]).await {
                Ok(()) => {
                    tracing::info!(target: LOG_TARGET, record = %append.record.id, "audit: a kept record was written");
                    return None;
                }
                // Its slot is known not to hold it, and its chain was closed: anew.
                Err(LedgerError::Conflict) => append.record.record,
                Err(_) => return Some(Owed::Sent(append)),
            },
            Owed::Unsent(record) => record,
        };
        match self.append_with(record, &[]).await {
            Ok(stored) => {
                tracing::info!(target: LOG_TARGET, record = %stored.id, "audit: a kept record was written");
                None
            }
            Err(failed) => {
                if failed.keep.is_none() {
                    tracing::error!(target: LOG_TARGET, error = %failed.error, "audit: a kept record was dropped");
                }
                failed.keep
            }
        }
    }
}
