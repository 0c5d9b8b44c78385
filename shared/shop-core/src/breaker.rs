//! A consecutive-failure circuit breaker, one per dependency (a target function, Stripe, a
//! PostgreSQL pool).
//!
//! Closed: calls go through; `threshold` consecutive failures open it. Open: calls fail at once
//! for `cooldown`. Then one trial call is let through (half-open): success closes the circuit,
//! failure opens it for another cooldown. Only failures where the target did not answer count;
//! a 4xx answer is a healthy target saying no.
//!
//! A named breaker ([`CircuitBreaker::named`]) reports its transitions: a warning log line and
//! the EMF counts `CircuitOpened` / `CircuitClosed` (dimension `service` = its name), which the
//! local runner sums at `GET /_local/metrics` and scripts/chaos watches.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct CircuitBreaker {
    name: Option<String>,
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
    /// When the half-open trial went out (None: no trial in flight).
    trial_since: Option<Instant>,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self { name: None, threshold: threshold.max(1), cooldown, state: Mutex::new(State::default()) }
    }

    /// A breaker that logs and counts its transitions under `name` (e.g. `orders->inventory`).
    pub fn named(name: impl Into<String>, threshold: u32, cooldown: Duration) -> Self {
        Self { name: Some(name.into()), ..Self::new(threshold, cooldown) }
    }

    fn report(&self, metric: &str) {
        if let Some(name) = &self.name {
            tracing::warn!(breaker = %name, transition = metric, "circuit breaker");
            crate::metrics::count(name, metric);
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May a call go out now? While open: no. After the cooldown: one trial at a time. A trial
    /// whose outcome was never recorded (its caller was dropped at a deadline) stops blocking
    /// the next one after another cooldown, so the circuit cannot stay open for good.
    pub fn allow(&self) -> bool {
        let mut state = self.state();
        let now = Instant::now();
        match state.open_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) if state.trial_since.is_some_and(|since| now.duration_since(since) < self.cooldown) => false,
            Some(_) => {
                state.trial_since = Some(now);
                true
            }
        }
    }

    pub fn record_success(&self) {
        let was_open = std::mem::take(&mut *self.state()).open_until.is_some();
        if was_open {
            self.report("CircuitClosed");
        }
    }

    pub fn record_failure(&self) {
        let mut state = self.state();
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.trial_since = None;
        let was_open = state.open_until.is_some();
        if was_open || state.consecutive_failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
        let opened = !was_open && state.open_until.is_some();
        drop(state);
        if opened {
            self.report("CircuitOpened");
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
    fn a_trial_never_recorded_does_not_keep_the_circuit_open() {
        let breaker = CircuitBreaker::new(1, Duration::from_millis(30));
        breaker.record_failure();
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "half-open: one trial");
        // The trial's caller is dropped: neither outcome is recorded.
        assert!(!breaker.allow(), "the trial is still in flight");
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "another trial after a cooldown without an outcome");
        breaker.record_success();
        assert!(!breaker.is_open() && breaker.allow());
    }

    #[test]
    fn a_success_resets_the_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(60));
        breaker.record_failure();
        breaker.record_success();
        breaker.record_failure();
        assert!(!breaker.is_open());
    }

    #[test]
    fn a_named_breaker_counts_each_opening_and_closing_once() {
        static SEEN: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
        crate::metrics::install_sink(Box::new(|doc| {
            let service = doc["service"].as_str().unwrap_or_default().to_owned();
            for metric in ["CircuitOpened", "CircuitClosed"] {
                if doc.get(metric).is_some() {
                    SEEN.lock().unwrap().push((service.clone(), metric.to_owned()));
                }
            }
        }));
        let breaker = CircuitBreaker::named("test->breaker-metrics", 2, Duration::from_millis(20));
        for _ in 0..4 {
            breaker.record_failure();
        }
        std::thread::sleep(Duration::from_millis(30));
        assert!(breaker.allow());
        breaker.record_success();
        breaker.record_success();
        let seen: Vec<_> = SEEN.lock().unwrap().iter().filter(|(s, _)| s == "test->breaker-metrics").map(|(_, m)| m.clone()).collect();
        assert_eq!(seen, ["CircuitOpened", "CircuitClosed"], "one opening (failures while open re-arm it), one closing");
    }
}
