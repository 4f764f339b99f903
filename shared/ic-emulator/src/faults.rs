//! Throttling and fault injection: a token-bucket rate limiter, the seeded random source
//! that decides injected 500s and dropped connections, and the request counters.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{FaultPhase, Knobs};

/// A token bucket: `rate` tokens per second, at most `rate` tokens held (one second's
/// burst). Chosen over a fixed per-second window because a window lets 2×rate through
/// around a window edge, which would hide clients that only just keep under the limit.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` requests per second.
    pub(crate) fn new(rate: u32, now: Instant) -> Self {
        let rate = f64::from(rate.max(1));
        Self {
            rate,
            tokens: rate,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub(crate) fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Nothing: answer normally.
    None,
    /// Answer 500 InternalServerException.
    Fail(Phase),
    /// Close the connection without an answer.
    Drop(Phase),
}

/// Whether a fault strikes before or after the request takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing was applied.
    Before,
    /// The request was applied; only the answer is lost.
    After,
}

/// The seeded random source behind fault decisions.
#[derive(Debug)]
pub(crate) struct FaultDice {
    rng: StdRng,
}

impl FaultDice {
    /// Dice seeded with `seed`: the same seed and request sequence give the same faults.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Decides the fault for one request. One draw picks the kind (`fail_rate`, then
    /// `drop_rate`, then none); a second draw picks the phase when the knob says `Either`.
    pub(crate) fn roll(&mut self, knobs: &Knobs) -> Fault {
        if knobs.fail_rate <= 0.0 && knobs.drop_rate <= 0.0 {
            return Fault::None;
        }
        let draw: f64 = self.rng.random();
        let kind = if draw < knobs.fail_rate {
            Fault::Fail
        } else if draw < knobs.fail_rate + knobs.drop_rate {
            Fault::Drop
        } else {
            return Fault::None;
        };
        let phase = match knobs.fault_phase {
            FaultPhase::Before => Phase::Before,
            FaultPhase::After => Phase::After,
            FaultPhase::Either => {
                if self.rng.random_bool(0.5) {
                    Phase::After
                } else {
                    Phase::Before
                }
            }
        };
        kind(phase)
    }

    /// A random 40-bit number, for the directory prefix of resource ids.
    pub(crate) fn prefix(&mut self) -> u64 {
        self.rng.random::<u64>() & 0xff_ffff_ffff
    }
}

/// Counts of SCIM requests and of what the knobs did to them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Requests by route and answer: see [`crate::Stats::by_answer`].
    pub(crate) answers: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        for c in [&self.requests, &self.throttled, &self.failed, &self.dropped] {
            c.store(0, Ordering::Relaxed);
        }
        self.answers_mut().clear();
    }

    /// Counts one answer on a route, keyed as [`crate::Stats::by_answer`] says.
    pub(crate) fn answered(&self, route: &str, answer: &str) {
        *self
            .answers_mut()
            .entry(format!("{route} {answer}"))
            .or_default() += 1;
    }

    pub(crate) fn answers(&self) -> BTreeMap<String, u64> {
        self.answers_mut().clone()
    }

    fn answers_mut(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The added latency of a knob setting.
pub(crate) fn latency(knobs: &Knobs) -> Option<Duration> {
    (knobs.latency_ms > 0).then(|| Duration::from_millis(knobs.latency_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_one_second_of_burst_then_the_rate() {
        // Arrange
        let start = Instant::now();
        let mut bucket = TokenBucket::new(20, start);

        // Act: 25 requests at the same instant, then 1 s later 25 more.
        let first = (0..25).filter(|_| bucket.try_take(start)).count();
        let later = start + Duration::from_secs(1);
        let second = (0..25).filter(|_| bucket.try_take(later)).count();

        // Assert
        assert_eq!(first, 20);
        assert_eq!(second, 20);
    }

    #[test]
    fn bucket_refills_at_the_rate_between_requests() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(10, start);
        for _ in 0..10 {
            assert!(bucket.try_take(start));
        }
        assert!(!bucket.try_take(start));
        assert!(!bucket.try_take(start + Duration::from_millis(50)));
        assert!(bucket.try_take(start + Duration::from_millis(110)));
    }

    #[test]
    fn same_seed_gives_same_faults() {
        let knobs = Knobs {
            fail_rate: 0.3,
            drop_rate: 0.3,
            ..Knobs::default()
        };
        let run = |seed| {
            let mut dice = FaultDice::new(seed);
            (0..200).map(|_| dice.roll(&knobs)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn fault_rates_are_close_to_the_knobs_and_both_phases_occur() {
        // Arrange
        let knobs = Knobs {
            fail_rate: 0.1,
            drop_rate: 0.1,
            ..Knobs::default()
        };
        let mut dice = FaultDice::new(42);

        // Act
        let rolls: Vec<Fault> = (0..10_000).map(|_| dice.roll(&knobs)).collect();

        // Assert
        let count = |f: &dyn Fn(&Fault) -> bool| rolls.iter().filter(|r| f(r)).count();
        let fails = count(&|r| matches!(r, Fault::Fail(_)));
        let drops = count(&|r| matches!(r, Fault::Drop(_)));
        assert!((800..1200).contains(&fails), "{fails}");
        assert!((800..1200).contains(&drops), "{drops}");
        assert!(count(&|r| matches!(r, Fault::Fail(Phase::After) | Fault::Drop(Phase::After))) > 0);
        assert!(
            count(&|r| matches!(r, Fault::Fail(Phase::Before) | Fault::Drop(Phase::Before))) > 0
        );
    }

    #[test]
    fn fixed_phase_knob_forces_the_phase() {
        let knobs = Knobs {
            fail_rate: 1.0,
            fault_phase: FaultPhase::After,
            ..Knobs::default()
        };
        let mut dice = FaultDice::new(1);
        assert!((0..50).all(|_| dice.roll(&knobs) == Fault::Fail(Phase::After)));
    }
}
