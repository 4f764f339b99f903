//! The time budget a caller gives an outbound call, retries included.

use std::time::{Duration, Instant};

/// When an outbound call (all its retries included) must have finished.
///
/// A Lambda has a fixed time to answer, and Okta gives up on a SCIM call long before
/// that, so every port call that may retry takes a deadline rather than a retry count.
/// [`Deadline::default`] means "the adapter's configured default budget", which keeps
/// call sites short where the request has no tighter limit of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now().checked_add(budget))
    }

    /// A deadline at a given instant.
    pub fn at(instant: Instant) -> Self {
        Self(Some(instant))
    }

    /// The same deadline `by` later (a default deadline stays the default): for time a
    /// request spent on something other than the calls the budget is for.
    #[must_use]
    pub fn extended_by(self, by: Duration) -> Self {
        Self(self.0.map(|at| at.checked_add(by).unwrap_or(at)))
    }

    /// The instant, or `None` for "the adapter's default budget".
    pub fn instant(&self) -> Option<Instant> {
        self.0
    }

    /// The instant, filling in the adapter's default budget counted from now.
    pub fn resolve(&self, default_budget: Duration) -> Instant {
        let now = Instant::now();
        // An overflowing budget is "no deadline" in practice; a year stands in for it.
        self.0.unwrap_or_else(|| {
            now.checked_add(default_budget)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                .unwrap_or(now)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_deadline_resolves_to_the_default_budget_from_now() {
        // Arrange
        let before = Instant::now();

        // Act
        let resolved = Deadline::default().resolve(Duration::from_secs(5));

        // Assert
        assert!(resolved >= before + Duration::from_secs(5));
        assert!(resolved <= Instant::now() + Duration::from_secs(5));
    }

    #[test]
    fn an_explicit_deadline_ignores_the_default_budget() {
        let at = Instant::now() + Duration::from_millis(250);
        assert_eq!(Deadline::at(at).resolve(Duration::from_secs(30)), at);
        assert!(Deadline::after(Duration::from_secs(1)).instant().is_some());
    }

    #[test]
    fn an_extended_deadline_moves_and_the_default_stays_the_default() {
        let at = Instant::now();
        assert_eq!(
            Deadline::at(at).extended_by(Duration::from_secs(2)),
            Deadline::at(at + Duration::from_secs(2))
        );
        assert_eq!(
            Deadline::default().extended_by(Duration::from_secs(2)),
            Deadline::default()
        );
    }
}
