//! How long to wait before the next attempt: exponential backoff with full jitter,
//! raised to at least what the target asked for in `Retry-After`.

use std::time::Duration;

use rand::Rng;

/// The retry schedule of the target client.
///
/// Full jitter (a uniformly random wait between zero and the exponential bound) spreads
/// the retries of many concurrent callers, where a fixed schedule would send them back
/// in lockstep and meet the same throttle again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The bound of the first retry's wait; it doubles on every further attempt.
    pub base: Duration,
    /// The largest bound, however many attempts have failed.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The exponential bound for the wait after `failures` failed attempts (1 = the first).
    pub fn bound(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }

    /// The wait after `failures` failed attempts. When the target sent `Retry-After`,
    /// the wait is that long plus a jitter of up to one base interval, so that callers
    /// told the same instant do not all return at it together.
    pub fn wait(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Duration {
        match retry_after {
            Some(asked) => asked + jitter(self.base, rng),
            None => jitter(self.bound(failures), rng),
        }
    }
}

fn jitter(bound: Duration, rng: &mut impl Rng) -> Duration {
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Reads a `Retry-After` value given in seconds (RFC 9110 §10.2.3). The HTTP-date form
/// is not used by Identity Center's throttling answers and yields `None`, which falls
/// back to the exponential schedule.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // Some servers send fractional seconds; accept them rather than ignore the hint.
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_bound_doubles_per_failure_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(policy.bound(1), Duration::from_millis(100));
        assert_eq!(policy.bound(2), Duration::from_millis(200));
        assert_eq!(policy.bound(4), Duration::from_millis(800));
        assert_eq!(policy.bound(5), Duration::from_secs(1));
        assert_eq!(policy.bound(500), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_waits_anywhere_between_zero_and_the_bound() {
        // Arrange
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        };
        let mut rng = StdRng::seed_from_u64(7);

        // Act
        let waits: Vec<Duration> = (0..2000).map(|_| policy.wait(3, None, &mut rng)).collect();

        // Assert: within [0, 400 ms], and spread over the whole range, not bunched.
        assert!(waits.iter().all(|w| *w <= Duration::from_millis(400)));
        assert!(waits.iter().any(|w| *w < Duration::from_millis(40)));
        assert!(waits.iter().any(|w| *w > Duration::from_millis(360)));
    }

    #[test]
    fn a_retry_after_is_a_floor_with_a_small_jitter_on_top() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let wait = policy.wait(1, Some(Duration::from_secs(2)), &mut rng);
            assert!(
                wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2100),
                "{wait:?}"
            );
        }
    }

    #[test]
    fn retry_after_is_read_in_whole_or_fractional_seconds_and_dates_are_ignored() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
