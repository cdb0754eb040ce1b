//! Failed-password throttling: after too many wrong passwords for one account within a
//! window, further attempts are refused with `RATE_LIMITED` until the oldest failure ages out,
//! without running argon2 at all.
//!
//! Kept in memory per instance: cheap, and enough to turn online guessing from thousands of
//! tries a minute into a handful per window per instance. A shared store would make the limit
//! global across instances; that is a later step if deployments need it.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Wrong passwords allowed per account within [`WINDOW`].
pub const MAX_FAILURES: usize = 10;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most accounts tracked at once; past it the oldest-looking entries are dropped.
const MAX_KEYS: usize = 100_000;

/// Failure times per key (e.g. `login:ana@example.com`).
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(seconds to wait)` when `key` has used up its failures.
    pub fn retry_after(&self, key: &str) -> Option<u64> {
        let now = Instant::now();
        let mut failures = self.lock();
        let times = failures.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *times.front()?;
        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
        Some(wait.as_secs().max(1))
    }

    /// Records a wrong password for `key`.
    pub fn failed(&self, key: &str) {
        let mut failures = self.lock();
        if failures.len() >= MAX_KEYS && !failures.contains_key(key) {
            let now = Instant::now();
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        let times = failures.entry(key.to_owned()).or_default();
        times.push_back(Instant::now());
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }

    /// Forgets `key`'s failures (a correct password).
    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_bites_after_max_failures_and_success_resets_it() {
        let throttle = Throttle::default();
        for _ in 0..MAX_FAILURES {
            assert_eq!(throttle.retry_after("k"), None);
            throttle.failed("k");
        }
        let wait = throttle.retry_after("k").expect("limited");
        assert!(wait > 0 && wait <= WINDOW.as_secs());
        assert_eq!(throttle.retry_after("other"), None, "keys are separate");
        throttle.succeeded("k");
        assert_eq!(throttle.retry_after("k"), None);
    }
}
