//! Passwords: argon2id hashing behind a gate, and (in [`policy`]) what a password may be
//! (docs/reference.md, "Limits").
//!
//! Hashing is deliberately slow and memory-hungry (19 MiB per run at the defaults), so it
//! never runs on the async workers but on hashing threads of its own, and at most
//! `WARDEN_HASH_CONCURRENCY` run at once, so a flood of logins queues at the gate instead of
//! filling the machine with 19 MiB work areas. A request that cannot start its hash within
//! [`QUEUE_TIMEOUT`] is answered `SERVICE_UNAVAILABLE` with `retryAfter`. The dummy
//! verification for unknown emails passes the same gate, so both failures cost the same.
//!
//! Hashing threads run at a lower scheduling priority than the request threads (a niceness
//! of about 9 on Linux: about an eighth of a core's time against a busy request thread, all
//! of it when requests leave the core idle). A hash takes tens of milliseconds of CPU; at
//! equal priority, a login storm made every token-only request on the same core wait behind
//! whole hash time slices, and its p99 tripled. At a lower priority, requests that only show
//! a token keep their latency, and a login under full load takes longer instead.
//!

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod policy;

pub use policy::{Owner, is_common};

use crate::{
    config::{Argon2Params, LoginConfig},
    error::{AppError, AppResult, Fault},
};

/// Longest a request waits for a free hashing slot before `SERVICE_UNAVAILABLE`.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(5);
/// `retryAfter` of a request turned away by a saturated gate.
const SATURATED_RETRY_AFTER: u64 = 5;
/// How many hashes run now, and the most that ever ran at once (tests read the peak).
#[derive(Debug, Default)]
pub struct HashGauge {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl HashGauge {
    /// The most hashes that ran at once so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn enter(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password (or an unusable stored hash).
    Wrong,
    /// Right password, stored with the current parameters.
    Right,
    /// Right password, stored with other parameters: re-hash it.
    RightButStale,
}

impl Verdict {
    /// True for a right password.
    pub fn matches(self) -> bool {
        self != Self::Wrong
    }
}

/// The password policy and the hashing gate, shared by every path that takes a password.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: Argon2Params,
    min_length: usize,
    gate: Arc<Semaphore>,
    threads: Arc<HashThreads>,
    gauge: Arc<HashGauge>,
    queue_timeout: Duration,
}

impl Default for Passwords {
    /// The contract's defaults.
    fn default() -> Self {
        Self::new(&LoginConfig::default())
    }
}

impl Passwords {
    /// Policy and gate from the configuration.
    pub fn new(config: &LoginConfig) -> Self {
        Self {
            params: config.argon2,
            min_length: config.password_min_length,
            gate: Arc::new(Semaphore::new(config.hash_concurrency.max(1))),
            threads: Arc::new(HashThreads::new(config.hash_concurrency.max(1))),
            gauge: Arc::new(HashGauge::default()),
            queue_timeout: QUEUE_TIMEOUT,
        }
    }

    /// The gauge of hashes running (for tests and metrics).
    pub fn gauge(&self) -> Arc<HashGauge> {
        self.gauge.clone()
    }

    fn hasher(&self) -> Argon2<'static> {
        let params = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        // The configuration checked these parameters at start.
        .unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// Checks the password policy (docs/reference.md, "Limits") for an account.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` with a sentence saying what is wrong.
    pub fn check_policy(&self, password: &str, owner: Owner<'_>) -> AppResult<()> {
        policy::check(password, owner, self.min_length)
    }

    /// Waits for a hashing slot, at most the queue timeout.
    async fn slot(&self) -> AppResult<OwnedSemaphorePermit> {
        match tokio::time::timeout(self.queue_timeout, self.gate.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(AppError::Internal(Fault::GateClosed(closed))),
            Err(_elapsed) => {
                ::metrics::counter!(crate::meter::HASH_SATURATED).increment(1);
                Err(AppError::Saturated(SATURATED_RETRY_AFTER))
            }
        }
    }

    /// Runs `work` on a hashing thread holding a hashing slot, which is given back only when
    /// the work ends (a cancelled request cannot free a slot its hash still uses).
    async fn gated<T: Send + 'static>(
        &self,
        work: impl FnOnce(Argon2<'static>) -> T + Send + 'static,
    ) -> AppResult<T> {
        let permit = self.slot().await?;
        let hasher = self.hasher();
        let gauge = self.gauge.clone();
        self.threads
            .handle()?
            .spawn_blocking(move || {
                gauge.enter();
                let out = work(hasher);
                gauge.leave();
                drop(permit);
                out
            })
            .await
            .map_err(|e| AppError::Internal(Fault::Task(e)))
    }

    /// Hashes a password; returns the PHC string.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when hashing is saturated (with `retryAfter`) or fails.
    pub async fn hash(&self, password: SecretString) -> AppResult<String> {
        self.gated(move |hasher| {
            hasher
                .hash_password(password.expose_secret().as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(Fault::Hashing(e.to_string())))
        })
        .await?
    }

    /// Verifies a password against a PHC string. A malformed stored hash verifies as wrong
    /// (and is logged), never as an error the client could tell apart.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when hashing is saturated (with `retryAfter`) or fails.
    pub async fn verify(&self, password: SecretString, phc: String) -> AppResult<Verdict> {
        let wanted = self.params;
        self.gated(move |hasher| {
            let parsed = match PasswordHash::new(&phc) {
                Ok(parsed) => parsed,
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash cannot be parsed");
                    return Verdict::Wrong;
                }
            };
            match hasher.verify_password(password.expose_secret().as_bytes(), &parsed) {
                Ok(()) if is_current(&parsed, wanted) => Verdict::Right,
                Ok(()) => Verdict::RightButStale,
                Err(argon2::password_hash::Error::PasswordInvalid) => Verdict::Wrong,
                Err(e) => {
                    tracing::error!(error = %e, "stored password hash cannot be verified");
                    Verdict::Wrong
                }
            }
        })
        .await
    }

    /// A hash of a random password, verified against when the email is unknown so that both
    /// failure paths cost one argon2 verification with the current parameters.
    ///
    /// # Errors
    /// Internal when hashing fails.
    pub async fn dummy_hash(&self) -> AppResult<String> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(Fault::Random(e)))?;
        let random: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.hash(random.into()).await
    }
}

/// The name of the threads that hash passwords.
pub const HASH_THREAD: &str = "warden-hash";
/// How long an idle hashing thread is kept for the next hash.
const HASH_THREAD_KEEP_ALIVE: Duration = Duration::from_secs(60);

/// The threads that hash: the blocking pool of a runtime of their own (it runs no tasks),
/// at most as many threads as hashes may run at once. Threads start on demand, lower their
/// priority once as they start, and are kept between hashes: a hash that finds every thread
/// busy waits for one rather than starting another, so the allocator reuses each thread's
/// work area instead of mapping a new 19 MiB one while the last is still held.
#[derive(Debug)]
struct HashThreads(Option<std::io::Result<tokio::runtime::Runtime>>);

impl HashThreads {
    fn new(threads: usize) -> Self {
        Self(Some(
            tokio::runtime::Builder::new_current_thread()
                .thread_name(HASH_THREAD)
                .thread_keep_alive(HASH_THREAD_KEEP_ALIVE)
                .max_blocking_threads(threads)
                .on_thread_start(yield_to_requests)
                .build(),
        ))
    }

    fn handle(&self) -> AppResult<&tokio::runtime::Handle> {
        match &self.0 {
            Some(Ok(runtime)) => Ok(runtime.handle()),
            Some(Err(e)) => Err(AppError::Internal(Fault::HashThreads(e.kind()))),
            None => Err(AppError::Internal(Fault::HashThreads(
                std::io::ErrorKind::NotConnected,
            ))),
        }
    }
}

impl Drop for HashThreads {
    /// Lets running hashes finish on their own: dropping a runtime the usual way blocks,
    /// which an async context forbids.
    fn drop(&mut self) {
        if let Some(Ok(runtime)) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}
/// Their priority on thread-priority's 0–99 scale (higher runs first); on Linux, 25 is a
/// niceness of 9, against 0 for the request threads.
const HASH_PRIORITY: u8 = 25;

/// Lowers the calling thread's priority below the request threads'. Raising a niceness needs
/// no privilege; if the system refuses anyway, hashing runs at normal priority (logged once).
fn yield_to_requests() {
    static REFUSED: std::sync::Once = std::sync::Once::new();
    let lowered = thread_priority::ThreadPriorityValue::try_from(HASH_PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            thread_priority::set_current_thread_priority(
                thread_priority::ThreadPriority::Crossplatform(value),
            )
            .map_err(|e| e.to_string())
        });
    if let Err(error) = lowered {
        REFUSED.call_once(|| {
            tracing::warn!(%error, "password hashing runs at normal priority");
        });
    }
}

/// True when a stored hash is argon2id v19 with exactly the configured parameters.
fn is_current(parsed: &PasswordHash, wanted: Argon2Params) -> bool {
    let Ok(params) = Params::try_from(parsed) else {
        return false;
    };
    parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && params.m_cost() == wanted.memory_kib
        && params.t_cost() == wanted.iterations
        && params.p_cost() == wanted.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's niceness, from `/proc/thread-self/stat` (field 19).
    #[cfg(target_os = "linux")]
    fn niceness() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        let after_name = &stat[stat.rfind(')').expect("(comm)") + 2..];
        after_name
            .split(' ')
            .nth(16)
            .and_then(|n| n.parse().ok())
            .expect("niceness")
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_runs_on_its_own_threads_below_the_request_threads_priority() {
        let passwords = Passwords::default();
        let here = niceness();
        let (name, nice) = passwords
            .gated(|_| (std::thread::current().name().map(str::to_owned), niceness()))
            .await
            .expect("ran");
        assert_eq!(name.as_deref(), Some(HASH_THREAD));
        assert!(
            nice > here,
            "hashing at niceness {nice}, requests at {here}"
        );
        assert_eq!(niceness(), here, "the request thread keeps its priority");
    }

    const ANA: Owner<'static> = Owner {
        email: "ana.smith@example.com",
        name: "Ana Smith",
    };

    fn with(argon2: Argon2Params) -> Passwords {
        Passwords::new(&LoginConfig {
            argon2,
            ..LoginConfig::default()
        })
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::default();
        let phc = passwords
            .hash("purple monkey dishwasher".to_owned().into())
            .await
            .expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let right = passwords
            .verify("purple monkey dishwasher".to_owned().into(), phc.clone())
            .await
            .expect("verify");
        assert_eq!(right, Verdict::Right);
        let wrong = passwords
            .verify("wrong monkey dishwasher".to_owned().into(), phc)
            .await
            .expect("verify");
        assert_eq!(wrong, Verdict::Wrong);
    }

    #[tokio::test]
    async fn a_hash_with_other_parameters_is_right_but_stale() {
        let weak = Argon2Params {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        };
        let phc = with(weak)
            .hash("purple monkey dishwasher".to_owned().into())
            .await
            .expect("hash");
        let verdict = Passwords::default()
            .verify("purple monkey dishwasher".to_owned().into(), phc)
            .await
            .expect("verify");
        assert_eq!(verdict, Verdict::RightButStale);
    }

    #[tokio::test]
    async fn a_malformed_hash_verifies_as_wrong() {
        let verdict = Passwords::default()
            .verify("x".to_owned().into(), "not-a-phc".into())
            .await
            .expect("verify");
        assert_eq!(verdict, Verdict::Wrong);
    }

    #[tokio::test]
    async fn a_saturated_gate_turns_requests_away_with_retry_after() {
        let mut passwords = with(Argon2Params::default());
        passwords.gate = Arc::new(Semaphore::new(1));
        passwords.queue_timeout = Duration::from_millis(50);
        let _held = passwords.gate.clone().acquire_owned().await.expect("slot");
        let err = passwords
            .hash("purple monkey dishwasher".to_owned().into())
            .await
            .expect_err("saturated");
        assert!(
            matches!(err, AppError::Saturated(secs) if secs > 0),
            "{err:?}"
        );
    }

    #[test]
    fn the_policy_counts_code_points_and_never_truncates() {
        let policy = Passwords::default();
        assert!(policy.check_policy("short pass", ANA).is_err());
        assert!(policy.check_policy("purple monkey dishwasher", ANA).is_ok());
        // Twelve code points, more bytes: accepted.
        assert!(policy.check_policy("ñandú-çà-ü€ß", ANA).is_ok());
        assert!(policy.check_policy(&"é".repeat(128), ANA).is_ok());
        assert!(policy.check_policy(&"é".repeat(129), ANA).is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let policy = Passwords::default();
        for common in [
            "qwertyuiop123",
            "1qaz2wsx3edc",
            "QWERTY123456",
            "password1234",
        ] {
            assert!(is_common(common), "{common} is in the list");
            let err = policy.check_policy(common, ANA).expect_err(common);
            assert!(err.to_string().contains("too common"), "{err}");
        }
    }

    #[test]
    fn passwords_built_from_the_email_or_name_are_refused() {
        let policy = Passwords::default();
        for personal in [
            "ana.smith@example.com",
            "AnaSmith1990!",
            "smith.ana.2024",
            "example-ana-123",
        ] {
            let err = policy.check_policy(personal, ANA).expect_err(personal);
            assert!(err.to_string().contains("email address or name"), "{err}");
        }
        assert!(policy.check_policy("ana rides bicycles", ANA).is_ok());
    }

    #[test]
    fn owasp_floor_is_met_by_any_of_its_configurations() {
        assert!(!Argon2Params::default().below_owasp_floor());
        let at = |memory_kib, iterations| Argon2Params {
            memory_kib,
            iterations,
            parallelism: 1,
        };
        assert!(!at(7_168, 5).below_owasp_floor());
        assert!(!at(47_104, 1).below_owasp_floor());
        assert!(at(19_455, 2).below_owasp_floor());
        assert!(at(40_000, 1).below_owasp_floor());
    }
}
