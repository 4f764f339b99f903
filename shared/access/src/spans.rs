//! Periods during which something held (a user active, a membership, an assignment),
//! each bounded by the audit records that opened and closed it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An audit record, by its id and time: what a report cites as the cause of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    /// The record's id (`<chain>:<seq>`), as `scimgw audit query` shows it.
    pub id: String,
    /// The record's time.
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
}

/// One period: from the record that opened it to the one that closed it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// What opened it.
    pub start: RecordRef,
    /// What closed it; `None` while it lasts.
    pub end: Option<RecordRef>,
}

impl Span {
    /// Whether it held at `at`: opened at or before, not closed at or before.
    pub fn covers(&self, at: OffsetDateTime) -> bool {
        self.start.time <= at && self.end.as_ref().is_none_or(|end| end.time > at)
    }
}

/// The periods of one thing, oldest first, never overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spans(Vec<Span>);

impl Spans {
    /// Starts a period at `at`, unless one is open already (a repeated "add" changes
    /// nothing, and the first one is when access began).
    pub fn open(&mut self, at: &RecordRef) {
        if !self.is_open() {
            self.0.push(Span {
                start: at.clone(),
                end: None,
            });
        }
    }

    /// Ends the open period at `at`, if there is one.
    pub fn close(&mut self, at: &RecordRef) {
        if let Some(last) = self.0.last_mut()
            && last.end.is_none()
        {
            last.end = Some(at.clone());
        }
    }

    /// Whether a period is open now (after every record folded so far).
    pub fn is_open(&self) -> bool {
        self.0.last().is_some_and(|s| s.end.is_none())
    }

    /// The period that held at `at`.
    pub fn at(&self, at: OffsetDateTime) -> Option<&Span> {
        // Few periods per thing: a linear scan from the newest is the fast path.
        self.0.iter().rev().find(|s| s.covers(at))
    }

    /// Every period, oldest first.
    pub fn all(&self) -> &[Span] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn at(id: &str, time: OffsetDateTime) -> RecordRef {
        RecordRef {
            id: id.into(),
            time,
        }
    }

    #[test]
    fn a_period_covers_its_start_and_not_its_end_and_reopens_after_closing() {
        let mut spans = Spans::default();
        spans.open(&at("a", datetime!(2026-10-01 10:00 UTC)));
        spans.open(&at("again", datetime!(2026-10-01 11:00 UTC)));
        spans.close(&at("b", datetime!(2026-10-02 10:00 UTC)));
        spans.close(&at("twice", datetime!(2026-10-03 10:00 UTC)));
        spans.open(&at("c", datetime!(2026-10-05 10:00 UTC)));

        assert!(spans.at(datetime!(2026-10-01 09:59 UTC)).is_none());
        assert_eq!(
            spans.at(datetime!(2026-10-01 10:00 UTC)).unwrap().start.id,
            "a"
        );
        assert!(spans.at(datetime!(2026-10-02 10:00 UTC)).is_none());
        assert_eq!(
            spans.at(datetime!(2026-10-09 00:00 UTC)).unwrap().start.id,
            "c"
        );
        assert_eq!(spans.all().len(), 2);
        assert_eq!(spans.all()[0].end.as_ref().unwrap().id, "b");
        assert!(spans.is_open());
    }
}
