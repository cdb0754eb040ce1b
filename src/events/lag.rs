//! How far behind the log this instance is: its view of the log is confirmed current by the
//! feed after each read, and trusted for at most `WARDEN_REVOCATION_MAX_LAG` after it.
//!
//! A handle of its own, shared by the feed (which confirms) and whoever acts on the log's
//! state (the revocation state, `/readyz`), so that the feed needs nothing else of theirs.
//! Lock-free: a guarded request reads one atomic.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// When the log was last confirmed read to its end, and for how long that counts.
#[derive(Debug)]
pub struct Lag {
    /// Milliseconds after `base` of the last confirmation (0: never).
    confirmed_ms: AtomicU64,
    base: Instant,
    max_lag: Duration,
}

impl Lag {
    /// Never confirmed yet; each confirmation counts for `max_lag`.
    pub fn new(max_lag: Duration) -> Self {
        Self {
            confirmed_ms: AtomicU64::new(0),
            base: Instant::now(),
            max_lag,
        }
    }

    /// The longest the view may go unconfirmed.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    /// Records that every event committed as of `at` has been applied.
    pub fn confirm(&self, at: Instant) {
        let ms = u64::try_from(at.saturating_duration_since(self.base).as_millis())
            .unwrap_or(u64::MAX)
            // 0 means "never"; a confirmation in the first millisecond counts as 1.
            .max(1);
        self.confirmed_ms.fetch_max(ms, Ordering::AcqRel);
    }

    /// How long ago the view was last confirmed current (`None`: never).
    pub fn age(&self) -> Option<Duration> {
        let confirmed = self.confirmed_ms.load(Ordering::Acquire);
        if confirmed == 0 {
            return None;
        }
        let now = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(now.saturating_sub(confirmed)))
    }

    /// True when the view may be acted on.
    pub fn is_current(&self) -> bool {
        self.age().is_some_and(|age| age <= self.max_lag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_is_current_only_within_the_lag_after_a_confirmation() {
        let lag = Lag::new(Duration::from_millis(50));
        assert!(!lag.is_current(), "never confirmed");
        lag.confirm(Instant::now());
        assert!(lag.is_current());
        std::thread::sleep(Duration::from_millis(80));
        assert!(!lag.is_current(), "stale past the lag");
        // An older confirmation never moves it back.
        lag.confirm(Instant::now() - Duration::from_secs(1));
        assert!(!lag.is_current());
    }
}
