//! A consecutive-failure circuit breaker, one per target function.
//!
//! Closed: calls go through; `threshold` consecutive failures open it. Open: calls fail at once
//! for `cooldown`. Then one trial call is let through (half-open): success closes the circuit,
//! failure opens it for another cooldown. Only failures where the target did not answer count;
//! a 4xx answer is a healthy target saying no.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    trial_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go out now? While open: no. After the cooldown: one trial at a time.
    pub fn allow(&self) -> bool {
        let mut state = self.state();
        match state.open_until {
            None => true,
            Some(until) if Instant::now() < until => false,
            Some(_) if state.trial_in_flight => false,
            Some(_) => {
                state.trial_in_flight = true;
                true
            }
        }
    }

    pub fn record_success(&self) {
        *self.state() = State::default();
    }

    pub fn record_failure(&self) {
        let mut state = self.state();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.trial_in_flight = false;
        if state.open_until.is_some() || state.consecutive_failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
    }

    /// True while calls are refused without trying.
    pub fn is_open(&self) -> bool {
        self.state().open_until.is_some_and(|until| Instant::now() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_lets_one_trial_through_after_the_cooldown() {
        let breaker = CircuitBreaker::new(3, Duration::from_millis(30));
        for _ in 0..2 {
            assert!(breaker.allow());
            breaker.record_failure();
        }
        assert!(!breaker.is_open(), "two failures stay under the threshold");
        assert!(breaker.allow());
        breaker.record_failure();
        assert!(breaker.is_open());
        assert!(!breaker.allow(), "open: refused at once");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "half-open: one trial");
        assert!(!breaker.allow(), "only one trial at a time");
        breaker.record_failure();
        assert!(breaker.is_open(), "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.record_success();
        assert!(breaker.allow() && breaker.allow(), "a successful trial closes it");
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert!(!breaker.is_open());
    }
}
