//! The one retry discipline of Skyshop: every store that loses optimistic-concurrency races
//! (DynamoDB transactions and conditional writes, Redis compare-and-set) and every internal
//! client waits with the same [`Backoff`] and gives up under the same [`RetryPolicy`].
//!
//! What is retried where:
//! - **transport failures** (timeouts, throttles, 5xx) of AWS calls are retried by the SDK
//!   itself, configured explicitly in `shop_aws::config` (standard mode, 3 attempts); stores
//!   never retry them again on top, so one call never multiplies into many;
//! - **lost races** (a condition or compare-and-set lost to a concurrent writer, a transaction
//!   cancelled by a conflicting one) are retried by the store that owns the data, from a fresh
//!   read, with [`RetryPolicy::start`]; when the budget is spent the store answers
//!   [`Contended`] — one status and one code across the API: 503 `contended` with `Retry-After`;
//! - **internal calls** to another function are retried by `shop_internal` (the Lambda SDK's
//!   own retries are switched off beneath it).
//!
//! Handlers never retry: a handler calls its store once.

use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, header};

use crate::problem::ApiError;

/// Exponential backoff with **full jitter**: before retry `n` (from 1) wait a uniformly random
/// time in `[0, min(cap, base × 2^(n-1))]`. Full jitter spreads competing writers best (AWS
/// Architecture Blog, "Exponential Backoff And Jitter"); the randomness comes from `fastrand`
/// (wyrand, seeded per thread from the OS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// The ceiling of the wait before retry `retry` (1 = the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(20);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    /// A random wait before retry `retry`, in `[0, ceiling(retry)]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(fastrand::u64(0..=ceiling))
    }

    /// Sleeps [`Backoff::delay`].
    pub async fn wait(&self, retry: u32) {
        tokio::time::sleep(self.delay(retry)).await;
    }
}

/// How long an operation that loses races keeps trying: a time budget (a burst of buyers on one
/// hot item is served in turn instead of failing after a fixed number of collisions) and an
/// attempt cap, whichever ends first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// No new attempt starts after this much time since the first.
    pub budget: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl RetryPolicy {
    /// Writes that lose races on DynamoDB items or Redis keys: waits of 5 ms doubling to at most
    /// 250 ms, for 2 s (well under the 10 s integration timeout and the internal client's 3 s
    /// per attempt).
    pub const CONTENDED: RetryPolicy = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(250)),
        budget: Duration::from_secs(2),
        max_attempts: 200,
    };

    /// Bulk requests with unprocessed keys or items (DynamoDB throttled part of a batch).
    pub const BULK: RetryPolicy = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(25), Duration::from_secs(2)),
        budget: Duration::from_secs(30),
        max_attempts: 11,
    };

    /// The same policy with another time budget.
    pub const fn with_budget(self, budget: Duration) -> Self {
        Self { budget, ..self }
    }

    /// Starts counting attempts and time for one operation.
    pub fn start(&self) -> Retrying {
        Retrying { policy: *self, started: Instant::now(), attempts: 1 }
    }
}

/// One operation's retries under a [`RetryPolicy`].
///
/// ```ignore
/// let mut retry = RetryPolicy::CONTENDED.start();
/// loop {
///     let current = store.read().await?;
///     if store.write_if_unchanged(&current).await? { return Ok(()); }
///     retry.wait().await?; // Err(Contended) once the budget is spent
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Retrying {
    policy: RetryPolicy,
    started: Instant,
    attempts: u32,
}

impl Retrying {
    /// Attempts made so far (the first included).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time since the first attempt.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether another attempt may start.
    pub fn may_retry(&self) -> bool {
        self.attempts < self.policy.max_attempts && self.started.elapsed() < self.policy.budget
    }

    /// Waits before the next attempt, or answers [`Contended`] when the budget is spent.
    pub async fn wait(&mut self) -> Result<(), Contended> {
        if !self.may_retry() {
            return Err(Contended { attempts: self.attempts, elapsed: self.started.elapsed() });
        }
        self.policy.backoff.wait(self.attempts).await;
        self.attempts += 1;
        Ok(())
    }
}

/// The `code` of "still contended after retries", everywhere in the API.
pub const CONTENDED: &str = "contended";

/// An operation kept losing races to concurrent writers for its whole retry budget. Nothing was
/// written; the caller may retry shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("still contended after {attempts} attempts in {elapsed:?}")]
pub struct Contended {
    pub attempts: u32,
    pub elapsed: Duration,
}

/// 503 `contended` with `Retry-After: 1`.
impl From<Contended> for ApiError {
    fn from(err: Contended) -> Self {
        tracing::warn!(attempts = err.attempts, elapsed_ms = err.elapsed.as_millis() as u64, "still contended after retries");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            CONTENDED,
            "Too many concurrent changes to the same data; nothing was changed. Retry shortly.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(5), Duration::from_millis(250));
        let ceilings: Vec<u128> = (1..=8).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, vec![5, 10, 20, 40, 80, 160, 250, 250]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_millis(250), "no overflow");
    }

    #[test]
    fn delays_are_full_jitter_within_the_ceiling() {
        let b = Backoff::new(Duration::from_millis(8), Duration::from_secs(1));
        let delays: Vec<Duration> = (0..2_000).map(|_| b.delay(3)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(32)), "never above the ceiling");
        // Full jitter: spread over the whole range, not bunched at the ceiling.
        let low = delays.iter().filter(|d| **d < Duration::from_millis(8)).count();
        let high = delays.iter().filter(|d| **d > Duration::from_millis(24)).count();
        assert!(low > 200 && high > 200, "spread over [0, 32 ms]: {low} low, {high} high of 2000");
    }

    #[tokio::test]
    async fn the_budget_ends_in_contended_naming_the_attempts() {
        let policy = RetryPolicy {
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(1)),
            budget: Duration::from_secs(5),
            max_attempts: 3,
        };
        let mut retry = policy.start();
        assert_eq!(retry.wait().await, Ok(()));
        assert_eq!(retry.wait().await, Ok(()));
        let err = retry.wait().await.unwrap_err();
        assert_eq!(err.attempts, 3);
        let api = ApiError::from(err);
        assert_eq!((api.status().as_u16(), api.code()), (503, CONTENDED));

        let mut timed = RetryPolicy::CONTENDED.with_budget(Duration::ZERO).start();
        assert!(timed.wait().await.is_err(), "a spent time budget refuses at once");
    }
}
