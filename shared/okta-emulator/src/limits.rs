//! Rate limiting and fault injection: the fixed-window counter behind the
//! `X-Rate-Limit-*` headers and 429s, and the seeded random source that decides injected
//! 500s and dropped connections and makes ids.

use rand::distr::Alphanumeric;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::NOMINAL_LIMIT;

/// Where a request stands against the rate limit, as the three headers say it (Rate
/// limits reference, "Check your rate limits with Okta's rate limit headers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateStanding {
    /// Whether the request may proceed.
    pub(crate) admitted: bool,
    /// `X-Rate-Limit-Limit`.
    pub(crate) limit: u32,
    /// `X-Rate-Limit-Remaining`.
    pub(crate) remaining: u32,
    /// `X-Rate-Limit-Reset`: when the window ends, in epoch seconds.
    pub(crate) reset: u64,
}

/// A fixed window aligned to the epoch: Okta's limits reset at a stated epoch second,
/// which a sliding bucket could not name. With a `rate_limit` the window is one second;
/// without, a minute of [`NOMINAL_LIMIT`] that only fills the headers.
#[derive(Debug, Default)]
pub(crate) struct RateWindow {
    /// Which window the count belongs to, as (length, index since the epoch).
    current: (u64, u64),
    count: u32,
}

impl RateWindow {
    /// Counts a request at `now_ms` (epoch milliseconds) when it is admitted.
    pub(crate) fn admit(&mut self, now_ms: u128, rate_limit: Option<u32>) -> RateStanding {
        let mut standing = self.standing(now_ms, rate_limit);
        standing.admitted = rate_limit.is_none() || standing.remaining > 0;
        if standing.admitted {
            self.count = self.count.saturating_add(1);
            standing.remaining = standing.remaining.saturating_sub(1);
        }
        standing
    }

    /// Where a request at `now_ms` stands, without counting it.
    pub(crate) fn standing(&mut self, now_ms: u128, rate_limit: Option<u32>) -> RateStanding {
        let (length, limit) = match rate_limit {
            Some(limit) => (1, limit),
            None => (60, NOMINAL_LIMIT),
        };
        let now = u64::try_from(now_ms / 1000).unwrap_or(u64::MAX);
        let window = (length, now / length);
        if window != self.current {
            self.current = window;
            self.count = 0;
        }
        RateStanding {
            admitted: true,
            limit,
            remaining: limit.saturating_sub(self.count),
            reset: (window.1 + 1).saturating_mul(length),
        }
    }
}

/// What the knobs do to one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Nothing: answer normally.
    None,
    /// Answer 500 E0000009.
    Fail,
    /// Close the connection without an answer.
    Drop,
}

/// The seeded random source: the same seed and the same requests give the same injected
/// faults and the same new ids.
#[derive(Debug)]
pub(crate) struct Dice {
    rng: StdRng,
}

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The fault this request gets: one draw picks a 500 (`error_rate`), then a drop
    /// (`drop_rate`), then none.
    pub(crate) fn fault(&mut self, error_rate: f64, drop_rate: f64) -> Fault {
        if error_rate <= 0.0 && drop_rate <= 0.0 {
            return Fault::None;
        }
        let draw = self.rng.random::<f64>();
        if draw < error_rate {
            Fault::Fail
        } else if draw < error_rate + drop_rate {
            Fault::Drop
        } else {
            Fault::None
        }
    }

    /// An id in Okta's shape: a three-character type prefix (`00u` users, `00g` groups)
    /// and 17 alphanumerics, e.g. `00ub0oNGTSWTBKOLGLNR`.
    pub(crate) fn id(&mut self, prefix: &str) -> String {
        let tail: String = (&mut self.rng)
            .sample_iter(&Alphanumeric)
            .take(17)
            .map(char::from)
            .collect();
        format!("{prefix}{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_second_window_admits_the_limit_then_refuses_until_it_resets() {
        // Arrange: 3 per second, starting 200 ms into epoch second 1 000.
        let mut window = RateWindow::default();
        let start = 1_000_200u128;

        // Act
        let first: Vec<RateStanding> = (0..4).map(|_| window.admit(start, Some(3))).collect();
        let next_second = window.admit(1_001_000, Some(3));

        // Assert
        assert_eq!(
            first.iter().map(|s| s.admitted).collect::<Vec<_>>(),
            [true, true, true, false]
        );
        assert_eq!(
            first.iter().map(|s| s.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert!(first.iter().all(|s| s.limit == 3 && s.reset == 1_001));
        assert!(next_second.admitted);
        assert_eq!((next_second.remaining, next_second.reset), (2, 1_002));
    }

    #[test]
    fn without_a_limit_the_headers_count_down_a_nominal_minute_and_nothing_is_refused() {
        let mut window = RateWindow::default();
        let standings: Vec<RateStanding> =
            (0..700).map(|_| window.admit(120_500_000, None)).collect();
        assert!(standings.iter().all(|s| s.admitted));
        assert_eq!(standings[0].limit, NOMINAL_LIMIT);
        assert_eq!(standings[0].remaining, NOMINAL_LIMIT - 1);
        assert_eq!(standings[699].remaining, 0);
        assert_eq!(standings[0].reset, 120_540);
    }

    #[test]
    fn the_same_seed_gives_the_same_ids_and_faults() {
        let run = |seed| {
            let mut dice = Dice::new(seed);
            let ids: Vec<String> = (0..5).map(|_| dice.id("00u")).collect();
            let faults: Vec<Fault> = (0..50).map(|_| dice.fault(0.3, 0.0)).collect();
            (ids, faults)
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
        let (ids, faults) = run(3);
        assert!(ids.iter().all(|id| id.len() == 20 && id.starts_with("00u")));
        assert!(faults.contains(&Fault::Fail) && faults.contains(&Fault::None));
    }

    #[test]
    fn fault_rates_are_close_to_the_knobs() {
        // Arrange
        let mut dice = Dice::new(42);

        // Act
        let faults: Vec<Fault> = (0..10_000).map(|_| dice.fault(0.1, 0.1)).collect();

        // Assert
        let count = |kind: Fault| faults.iter().filter(|f| **f == kind).count();
        assert!(
            (800..1200).contains(&count(Fault::Fail)),
            "{}",
            count(Fault::Fail)
        );
        assert!(
            (800..1200).contains(&count(Fault::Drop)),
            "{}",
            count(Fault::Drop)
        );
        assert_eq!(Dice::new(1).fault(0.0, 0.0), Fault::None);
    }
}
