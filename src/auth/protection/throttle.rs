//! Password-check limits in memory: per account and per client address, with attempts
//! reserved before the hash is computed.
//!
//! Each key's window is checked and reserved under one lock: an attempt takes a slot before
//! argon2 runs, so a burst of parallel requests (aliases, batch items, connections) cannot all
//! pass while the count is still low. A right password gives back only its own slot; the
//! failures counted meanwhile stay. A slot never explicitly given back counts as a failure
//! (a cancelled request may well have tested its password).
//!
//! The state is a moka cache, bounded in entries: TinyLFU admission keeps keys in active use
//! when a flood of one-off keys arrives, the least recently used entries are evicted first,
//! and an entry idle for a whole window is dropped (its failures have aged out anyway).
//! Nothing ever wipes it all. Keys are capped in length.
//!
//! This is one instance's view, and what keeps parallel attempts on one instance from all
//! passing before any has failed; [`super::failures`] makes both limits hold across
//! instances through the database.

use std::{
    collections::VecDeque,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use moka::sync::Cache;

use crate::config::Limit;

/// Most keys tracked per limiter.
const MAX_KEYS: u64 = 100_000;
/// Longest account key kept (RFC 5321's longest address); no account has a longer email, so
/// truncating merges only keys of accounts that cannot exist.
pub const MAX_KEY_BYTES: usize = 254;

/// The account key of a login email: normalised as stored, capped at [`MAX_KEY_BYTES`].
pub fn account_key(email: &str) -> String {
    let mut key = email.trim().to_lowercase();
    if key.len() > MAX_KEY_BYTES {
        let mut end = MAX_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// The address key: an IPv4 address, or an IPv6 address's /64 (one subscriber's network,
/// which a client can rotate addresses within at will).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// One key's recent failures and attempts in flight.
#[derive(Debug, Default)]
struct Window {
    failures: VecDeque<Instant>,
    in_flight: u32,
}

fn lock(window: &Mutex<Window>) -> MutexGuard<'_, Window> {
    window.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A reserved attempt. [`Ticket::release`] gives the slot back (a right password, or no
/// password tested); [`Ticket::fail`] or dropping it counts a failure.
#[derive(Debug)]
pub struct Ticket {
    window: Option<Arc<Mutex<Window>>>,
}

impl Ticket {
    fn settle(&mut self, failed: bool) {
        if let Some(window) = self.window.take() {
            let mut window = lock(&window);
            window.in_flight = window.in_flight.saturating_sub(1);
            if failed {
                window.failures.push_back(Instant::now());
            }
        }
    }

    /// Gives the slot back without counting a failure.
    pub fn release(mut self) {
        self.settle(false);
    }

    /// Counts a failure.
    pub fn fail(mut self) {
        self.settle(true);
    }
}

impl Limiter {
    /// Forgets every failure counted for `key` (an operator unlocked it). Attempts in flight
    /// keep their own windows and settle into a fresh one.
    pub fn forget(&self, key: &str) {
        self.windows.invalidate(key);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.settle(true);
    }
}

/// One limit over many keys.
#[derive(Debug, Clone)]
pub struct Limiter {
    limit: Limit,
    windows: Cache<String, Arc<Mutex<Window>>>,
}

impl Limiter {
    /// An empty limiter for `limit`.
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            windows: Cache::builder()
                .max_capacity(MAX_KEYS)
                .time_to_idle(limit.window)
                .build(),
        }
    }

    /// Reserves an attempt for `key`, or returns the seconds to wait when the failures and
    /// attempts in flight already reach the limit.
    ///
    /// # Errors
    /// The seconds until the oldest failure leaves the window (at least 1).
    pub fn reserve(&self, key: &str) -> Result<Ticket, u64> {
        let entry = self.windows.get_with_by_ref(key, Arc::default);
        let now = Instant::now();
        let mut window = lock(&entry);
        let span = self.limit.window;
        while window
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= span)
        {
            window.failures.pop_front();
        }
        let used = window.failures.len() + window.in_flight as usize;
        if used >= self.limit.max as usize {
            let wait = window.failures.front().map_or(Duration::from_secs(1), |t| {
                span.saturating_sub(now.duration_since(*t))
            });
            return Err(wait.as_secs().max(1));
        }
        window.in_flight += 1;
        drop(window);
        Ok(Ticket {
            window: Some(entry),
        })
    }
}

/// The two login limits (docs/reference.md, "Limits"), reserved together.
#[derive(Debug, Clone)]
pub struct LoginLimits {
    account: Limiter,
    ip: Limiter,
}

/// Reserved attempts for an account and (when known) a client address.
#[derive(Debug)]
pub struct Tickets {
    account: Ticket,
    ip: Option<Ticket>,
}

impl Tickets {
    /// Gives both slots back (a right password, or no password tested).
    pub fn release(self) {
        self.account.release();
        if let Some(ip) = self.ip {
            ip.release();
        }
    }

    /// Counts a failure for both.
    pub fn fail(self) {
        self.account.fail();
        if let Some(ip) = self.ip {
            ip.fail();
        }
    }
}

impl LoginLimits {
    /// Limiters for an account limit and an address limit.
    pub fn new(account: Limit, ip: Limit) -> Self {
        Self {
            account: Limiter::new(account),
            ip: Limiter::new(ip),
        }
    }

    /// Reserves an attempt for `account` and for the client address.
    ///
    /// # Errors
    /// The seconds to wait when either limit is reached (nothing stays reserved then).
    pub fn reserve(&self, account: &str, ip: Option<IpAddr>) -> Result<Tickets, u64> {
        let account = self.account.reserve(account)?;
        let ip = match self.reserve_ip(ip) {
            Ok(ip) => ip,
            Err(wait) => {
                account.release();
                return Err(wait);
            }
        };
        Ok(Tickets { account, ip })
    }

    /// Forgets the failures this instance counted for the account `key`.
    pub fn forget_account(&self, key: &str) {
        self.account.forget(key);
    }

    /// Reserves an attempt for the client address alone (sign-up costs a hash too).
    ///
    /// # Errors
    /// The seconds to wait when the address limit is reached.
    pub fn reserve_ip(&self, ip: Option<IpAddr>) -> Result<Option<Ticket>, u64> {
        ip.map(|ip| self.ip.reserve(&address_key(ip))).transpose()
    }
}

/// An unlock made anywhere (this instance, another, the CLI) clears this instance's memory of
/// the account's failures, as the database's are cleared by the same change.
impl crate::events::Subscriber for LoginLimits {
    fn apply(&self, events: &[crate::events::Event]) {
        for event in events {
            if let crate::events::Change::AccountUnlocked { account, .. } = &event.change {
                self.forget_account(account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32) -> Limiter {
        Limiter::new(Limit {
            max,
            window: Duration::from_secs(900),
        })
    }

    #[test]
    fn attempts_in_flight_count_before_they_fail() {
        let limiter = limiter(3);
        let held: Vec<Ticket> = (0..3)
            .map(|_| limiter.reserve("k").expect("slot"))
            .collect();
        assert!(
            limiter.reserve("k").is_err(),
            "three in flight fill the limit"
        );
        assert!(limiter.reserve("other").is_ok(), "keys are separate");
        drop(held);
        let wait = limiter.reserve("k").expect_err("three failures");
        assert!(wait > 0 && wait <= 900);
    }

    #[test]
    fn a_success_gives_back_only_its_own_slot() {
        let limiter = limiter(2);
        let failing = limiter.reserve("k").expect("slot");
        let succeeding = limiter.reserve("k").expect("slot");
        failing.fail();
        succeeding.release();
        let again = limiter.reserve("k").expect("one failure, one slot left");
        again.fail();
        assert!(
            limiter.reserve("k").is_err(),
            "the earlier failure still counts"
        );
    }

    #[test]
    fn an_address_over_its_limit_gives_back_the_account_slot() {
        let limits = LoginLimits::new(
            Limit {
                max: 5,
                window: Duration::from_secs(60),
            },
            Limit {
                max: 1,
                window: Duration::from_secs(60),
            },
        );
        let ip = Some(IpAddr::from([10, 0, 0, 1]));
        limits.reserve("a", ip).expect("first").fail();
        assert!(limits.reserve("a", ip).is_err());
        for _ in 0..4 {
            limits
                .reserve("a", None)
                .expect("account slots left")
                .fail();
        }
        assert!(limits.reserve("a", None).is_err(), "five failures in all");
    }

    #[test]
    fn long_keys_are_capped() {
        let key = account_key(&format!("{}@example.com", "é".repeat(300)));
        assert!(key.len() <= MAX_KEY_BYTES);
    }
}
