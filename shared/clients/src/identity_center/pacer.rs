//! Client-side pacing once the target has throttled: the client learns the rate the
//! target admits and spaces its requests at that rate, first come, first served.
//!
//! Backoff alone is unfair under sustained throttling: a request that has failed a few
//! times waits up to the cap while fresh requests with short waits take every free
//! token, so some calls starve past their deadline although the target is busy serving
//! others (in the 2 000-operation throttling test, 41 calls missed a 20 s budget
//! that way). Pacing hands out send slots in arrival order instead, and keeps the
//! number of 429s, and so the load on a throttled target, small.
//!
//! The rate follows additive increase, multiplicative decrease: on a 429 it drops to
//! 90% of what the target admitted in the last second (at most once a second), and each
//! admitted request raises it by `1/rate`, about one request per second per second, to
//! find capacity freed later. A minute without a 429 turns pacing off.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long without a 429 before pacing stops.
const QUIET: Duration = Duration::from_secs(60);
/// The fraction of the admitted rate kept after a throttle.
const DECREASE: f64 = 0.9;
/// The slowest pace, so a target that admitted nothing for a second is still probed.
const MIN_RATE: f64 = 1.0;

/// The pacing state of one client, shared by all its calls.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Requests per second while pacing; `None` while the target has not throttled.
    rate: Option<f64>,
    /// The earliest instant the next request may be sent.
    next_slot: Option<Instant>,
    /// Admitted (non-429) answers in the current and the previous one-second window.
    window_start: Option<Instant>,
    admitted_now: u32,
    admitted_before: u32,
    last_decrease: Option<Instant>,
    last_throttle: Option<Instant>,
}

impl State {
    fn roll_window(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let age = now.saturating_duration_since(start);
        if age >= Duration::from_secs(2) {
            self.admitted_before = 0;
            self.admitted_now = 0;
            self.window_start = Some(now);
        } else if age >= Duration::from_secs(1) {
            self.admitted_before = self.admitted_now;
            self.admitted_now = 0;
            self.window_start = start.checked_add(Duration::from_secs(1)).or(Some(now));
        }
    }
}

impl Pacer {
    /// Reserves the next send slot and returns it, or `None` to send at once. Slots
    /// are handed out in call order. A slot later than `deadline` is not reserved:
    /// the caller cannot use it, and the others should not wait for it.
    pub(crate) fn reserve(&self, now: Instant, deadline: Instant) -> Result<Option<Instant>, ()> {
        let mut state = self.lock();
        if state
            .last_throttle
            .is_some_and(|at| now.saturating_duration_since(at) >= QUIET)
        {
            *state = State::default();
        }
        let Some(rate) = state.rate else {
            return Ok(None);
        };
        let slot = state.next_slot.map_or(now, |next| next.max(now));
        if slot >= deadline {
            return Err(());
        }
        let interval = Duration::from_secs_f64(1.0 / rate);
        state.next_slot = Some(slot.checked_add(interval).unwrap_or(slot));
        Ok((slot > now).then_some(slot))
    }

    /// Records an answer other than 429: the target admitted the request.
    pub(crate) fn admitted(&self, now: Instant) {
        let mut state = self.lock();
        state.roll_window(now);
        state.admitted_now = state.admitted_now.saturating_add(1);
        if let Some(rate) = state.rate {
            state.rate = Some(rate + 1.0 / rate);
        }
    }

    /// Records a 429, with the target's `Retry-After` if it sent one.
    pub(crate) fn throttled(&self, now: Instant, retry_after: Option<Duration>) {
        let mut state = self.lock();
        state.roll_window(now);
        state.last_throttle = Some(now);
        let recently = state
            .last_decrease
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1));
        if !recently {
            let admitted = f64::from(state.admitted_before.max(state.admitted_now));
            // Nothing admitted lately (all waiting out a Retry-After) says nothing about
            // capacity: keep decreasing from the current pace rather than collapse.
            let base = match state.rate {
                Some(rate) if admitted > 0.0 => rate.min(admitted),
                Some(rate) => rate,
                None => admitted,
            };
            state.rate = Some((base * DECREASE).max(MIN_RATE));
            state.last_decrease = Some(now);
        }
        if let Some(resume) = retry_after.and_then(|wait| now.checked_add(wait)) {
            state.next_slot = Some(state.next_slot.map_or(resume, |next| next.max(resume)));
        }
    }

    /// The current pace, for tests and diagnostics.
    #[cfg(test)]
    pub(crate) fn rate(&self) -> Option<f64> {
        self.lock().rate
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the state consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn an_unthrottled_client_sends_at_once() {
        let pacer = Pacer::default();
        let now = Instant::now();
        for _ in 0..100 {
            pacer.admitted(now);
            assert_eq!(pacer.reserve(now, far()), Ok(None));
        }
    }

    #[test]
    fn after_a_throttle_slots_are_spaced_at_ninety_percent_of_the_admitted_rate_in_call_order() {
        // Arrange: 20 admitted within the second, then a 429.
        let pacer = Pacer::default();
        let now = Instant::now();
        for _ in 0..20 {
            pacer.admitted(now);
        }
        pacer.throttled(now, None);

        // Act
        let slots: Vec<_> = (0..4).map(|_| pacer.reserve(now, far()).unwrap()).collect();

        // Assert: 18 per second, so 1/18 s apart, the first at once.
        assert_eq!(pacer.rate(), Some(18.0));
        assert_eq!(slots[0], None);
        let gap = slots[2].unwrap() - slots[1].unwrap();
        assert!((gap.as_secs_f64() - 1.0 / 18.0).abs() < 1e-6, "{gap:?}");
        assert!(slots[3] > slots[2]);
    }

    #[test]
    fn the_rate_grows_by_about_one_per_second_of_admitted_requests() {
        let pacer = Pacer::default();
        let now = Instant::now();
        for _ in 0..10 {
            pacer.admitted(now);
        }
        pacer.throttled(now, None);
        for _ in 0..9 {
            pacer.admitted(now);
        }
        let rate = pacer.rate().unwrap();
        assert!((9.9..10.1).contains(&rate), "{rate}");
    }

    #[test]
    fn throttles_within_a_second_of_a_decrease_do_not_decrease_again() {
        let pacer = Pacer::default();
        let now = Instant::now();
        for _ in 0..20 {
            pacer.admitted(now);
        }
        pacer.throttled(now, None);
        pacer.throttled(now + Duration::from_millis(100), None);
        assert_eq!(pacer.rate(), Some(18.0));
        pacer.throttled(now + Duration::from_millis(1100), None);
        assert!(pacer.rate().unwrap() < 18.0);
    }

    #[test]
    fn a_retry_after_holds_every_later_slot_back() {
        let pacer = Pacer::default();
        let now = Instant::now();
        pacer.throttled(now, Some(Duration::from_secs(2)));
        let slot = pacer.reserve(now, far()).unwrap().unwrap();
        assert!(slot >= now + Duration::from_secs(2));
    }

    #[test]
    fn a_slot_past_the_deadline_is_refused_and_not_reserved() {
        let pacer = Pacer::default();
        let now = Instant::now();
        pacer.throttled(now, Some(Duration::from_secs(5)));
        assert_eq!(pacer.reserve(now, now + Duration::from_secs(1)), Err(()));
        let next = pacer.reserve(now, far()).unwrap().unwrap();
        assert!(next < now + Duration::from_secs(5) + Duration::from_millis(1));
    }

    #[test]
    fn a_minute_without_throttling_stops_pacing() {
        let pacer = Pacer::default();
        let now = Instant::now();
        pacer.throttled(now, None);
        assert!(pacer.rate().is_some());
        assert_eq!(pacer.reserve(now + QUIET, far() + QUIET), Ok(None));
        assert_eq!(pacer.rate(), None);
    }
}
