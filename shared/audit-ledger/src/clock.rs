//! The clock port: the wall-clock time by which the ledger dates appends, chains,
//! seals and expiries, and judges retention, injected so that tests can fix it.

use time::OffsetDateTime;

/// Tells the time. Monotonic durations (timeouts, TTLs, deadlines) use
/// `Instant` instead; this is for timestamps that are recorded or compared with
/// timestamps from elsewhere.
pub trait Clock: Send + Sync {
    /// The current time, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use fake::FixedClock;

#[cfg(any(test, feature = "test-util"))]
mod fake {
    use std::sync::Mutex;

    use time::{Duration, OffsetDateTime};

    use super::Clock;

    /// A clock that says what it is told, for tests: it starts at a given instant and
    /// moves only when [`FixedClock::advance`] or [`FixedClock::set`] is called.
    #[derive(Debug)]
    pub struct FixedClock {
        now: Mutex<OffsetDateTime>,
    }

    impl FixedClock {
        /// A clock stopped at `at`.
        pub fn new(at: OffsetDateTime) -> Self {
            Self {
                now: Mutex::new(at),
            }
        }

        /// Moves the clock forward (or back, with a negative duration).
        pub fn advance(&self, by: Duration) {
            let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
            *now += by;
        }

        /// Sets the clock to `at`.
        pub fn set(&self, at: OffsetDateTime) {
            *self.now.lock().unwrap_or_else(|p| p.into_inner()) = at;
        }
    }

    impl Clock for FixedClock {
        fn now(&self) -> OffsetDateTime {
            *self.now.lock().unwrap_or_else(|p| p.into_inner())
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_fixed_clock_stays_put_until_advanced() {
        // Arrange
        let clock = FixedClock::new(datetime!(2024-04-05 06:32:12 UTC));

        // Act
        let first = clock.now();
        clock.advance(time::Duration::seconds(90));

        // Assert
        assert_eq!(first, datetime!(2024-04-05 06:32:12 UTC));
        assert_eq!(clock.now(), datetime!(2024-04-05 06:33:42 UTC));
    }

    #[test]
    fn the_system_clock_reads_utc() {
        assert!(SystemClock.now().offset().is_utc());
    }
}
