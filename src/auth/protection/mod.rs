//! Login protection: how many password guesses a client gets, and the password check itself.
//!
//! [`throttle`] counts attempts in this instance's memory, reserving each before argon2 runs
//! (so parallel requests, aliases and batch items cannot test more passwords than the limit);
//! [`failures`] records them in the database, so the limits hold across instances. A
//! [`LoginProtection`] puts the two together with the hashing gate: it reserves, loads the
//! user with its recorded failures in one statement, checks the password (an unknown email
//! costs the same as a wrong password), records a failure, and after a right password counts
//! again, since guesses on other instances may have landed meanwhile. `login`, `reauth`,
//! `changePassword` and `register` all go through it.

pub mod failures;
pub mod throttle;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use self::{
    failures::{Keys, Recorded},
    throttle::{LoginLimits, Tickets},
};
use crate::{
    auth::{
        Client,
        audit::{self, Actor, Entry},
        tokens::Claims,
    },
    clock::now_ms,
    config::{Limit, LoginConfig},
    error::{AppError, AppResult},
    meter,
    password::{Passwords, Verdict},
    users,
};

/// `RATE_LIMITED` after `wait` seconds, counted in the metrics wherever a limit refuses.
pub(in crate::auth) fn rate_limited(wait: u64) -> AppError {
    ::metrics::counter!(meter::RATE_LIMITED).increment(1);
    AppError::RateLimited(wait)
}

/// How a password check ended, for the log and the metric.
pub(in crate::auth) fn outcome(checked: Result<(), &AppError>) -> &'static str {
    match checked {
        Ok(()) => "ok",
        Err(AppError::RateLimited(_)) => "rate_limited",
        Err(AppError::InvalidCredentials) => "failed",
        Err(_) => "unavailable",
    }
}

/// The password check with its limits, shared by every flow that takes a password.
#[derive(Debug, Clone)]
pub struct LoginProtection {
    db: DatabaseConnection,
    /// Verified against when the email is unknown, so both failures cost one argon2 check.
    dummy_hash: Arc<str>,
    /// Password-check limits per account and per client address (this instance's view, with
    /// attempts reserved before hashing).
    pub(in crate::auth) limits: LoginLimits,
    /// The per-account limit, which the database makes hold across instances.
    pub(in crate::auth) account_limit: Limit,
    /// The per-address limit, which the database makes hold across instances.
    pub(in crate::auth) address_limit: Limit,
    /// Password policy and the hashing gate.
    pub(in crate::auth) passwords: Passwords,
    /// Argon2 verifications run, for the metric and for tests that unknown emails pay too.
    password_checks: Arc<AtomicU64>,
}

impl LoginProtection {
    /// Protection under `login`'s limits, counting in `limits` (which the event log already
    /// holds as a subscriber, so that an unlock reaches them); computes the dummy hash once.
    ///
    /// # Errors
    /// Internal when hashing fails.
    pub async fn new(
        db: DatabaseConnection,
        passwords: Passwords,
        login: &LoginConfig,
        limits: LoginLimits,
    ) -> AppResult<Self> {
        Ok(Self {
            db,
            dummy_hash: passwords.dummy_hash().await?.into(),
            limits,
            account_limit: login.account_limit,
            address_limit: login.ip_limit,
            passwords,
            password_checks: Arc::new(AtomicU64::new(0)),
        })
    }

    /// How many argon2 verifications have run.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    /// Reserves an attempt for `account` and the client's address, before any hashing.
    pub(in crate::auth) fn reserve(&self, account: &str, client: &Client) -> AppResult<Tickets> {
        self.limits
            .reserve(account, client.ip)
            .map_err(rate_limited)
    }

    /// What an attempt on `account` from `address` is counted against in the database, with
    /// each limit's window as of now.
    pub(in crate::auth) fn keys<'a>(
        &self,
        account: Option<&'a str>,
        address: Option<&'a str>,
    ) -> Keys<'a> {
        let now = now_ms();
        Keys {
            account,
            account_since: failures::window_start_ms(now, self.account_limit.window),
            address,
            address_since: failures::window_start_ms(now, self.address_limit.window),
        }
    }

    /// `RATE_LIMITED` when `recorded` failures reach a limit: wait out its window.
    pub(in crate::auth) fn limited(&self, recorded: Recorded) -> Option<AppError> {
        recorded
            .reached(self.account_limit, self.address_limit)
            .map(|limit| rate_limited(limit.window.as_secs().max(1)))
    }

    /// Checks a password with reserved `tickets`; unknown users cost the same as wrong
    /// passwords. `recorded` is what the database counted for `keys` (every instance's): at
    /// a limit, the check is refused before hashing.
    ///
    /// A failure is recorded in the database and told as `INVALID_CREDENTIALS` only while the
    /// counts, this failure included, are within the limits (see [`failures`]). A right
    /// password is not re-counted here: the caller does it, with the write it guards.
    async fn check_password(
        &self,
        tickets: Tickets,
        keys: Keys<'_>,
        user: Option<&entity::user::Model>,
        recorded: Recorded,
        password: SecretString,
    ) -> AppResult<()> {
        if let Some(limited) = self.limited(recorded) {
            tickets.release();
            return Err(limited);
        }
        let phc = user.map_or_else(|| self.dummy_hash.to_string(), |u| u.password_hash.clone());
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        let verdict = match self.passwords.verify(password.clone(), phc).await {
            Ok(verdict) => verdict,
            Err(e) => {
                // Nothing was tested (the gate was saturated, or the task failed).
                tickets.release();
                return Err(e);
            }
        };
        if let (true, Some(user)) = (verdict.matches(), user) {
            tickets.release();
            if verdict == Verdict::RightButStale {
                self.rehash_later(user, password);
            }
            return Ok(());
        }
        tickets.fail();
        let counted = failures::record(&self.db, keys, now_ms()).await?;
        Err(self
            .limited(counted.before_this_one())
            .unwrap_or(AppError::InvalidCredentials))
    }

    /// Re-hashes a right password whose stored hash has other parameters, after the answer;
    /// the new hash replaces the old one only if the password was not changed meanwhile.
    fn rehash_later(&self, user: &entity::user::Model, password: SecretString) {
        let db = self.db.clone();
        let passwords = self.passwords.clone();
        let (user_id, old) = (user.id, user.password_hash.clone());
        tokio::spawn(async move {
            let replaced = match passwords.hash(password).await {
                Ok(new) => users::replace_password_hash(&db, user_id, &old, new).await,
                Err(e) => Err(e),
            };
            match replaced {
                // Its own request is answered by now: no client to name.
                Ok(true) => audit::record(
                    Entry::new("password_rehashed", "ok", Actor::User(user_id)).account(user_id),
                    &Client::default(),
                ),
                Ok(false) => {}
                Err(e) => tracing::warn!(user_id, error = %e, "password re-hash failed"),
            }
        });
    }

    /// Reserves, loads the user with its recorded failures (one statement), and checks; with
    /// the id of the account the email names, when there is one (for the security log).
    pub(in crate::auth) async fn login_check(
        &self,
        account: &str,
        keys: Keys<'_>,
        email: &str,
        password: SecretString,
        client: &Client,
    ) -> (AppResult<entity::user::Model>, Option<i64>) {
        let tickets = match self.reserve(account, client) {
            Ok(tickets) => tickets,
            Err(e) => return (Err(e), None),
        };
        let loaded =
            match failures::find_with_failures(&self.db, users::email_is(email), keys).await {
                // An unknown email has no row to count along: the failure path asks apart.
                Ok(None) => failures::count(&self.db, keys).await.map(|n| (None, n)),
                Ok(Some((user, n))) => Ok((Some(user), n)),
                Err(e) => Err(e),
            };
        let (user, recorded) = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                tickets.release();
                return (Err(e), None);
            }
        };
        let found = user.as_ref().map(|u| u.id);
        let checked = self
            .check_password(tickets, keys, user.as_ref(), recorded, password)
            .await
            .and_then(|()| user.ok_or(AppError::InvalidCredentials));
        (checked, found)
    }

    /// Loads the token's user with its recorded failures, reserves and checks the password
    /// (`reauth`, `changePassword`: the same limits as `login`). A right password is refused
    /// if, by the time its hash was checked, wrong guesses elsewhere reached a limit.
    pub(in crate::auth) async fn recheck(
        &self,
        claims: &Claims,
        password: SecretString,
        client: &Client,
        event: &'static str,
    ) -> AppResult<entity::user::Model> {
        let address = client.ip.map(throttle::address_key);
        let unkeyed = self.keys(None, address.as_deref());
        let found = match claims.user_id() {
            Some(id) => failures::find_with_failures(&self.db, users::id_is(id), unkeyed).await?,
            None => None,
        };
        let account = found.as_ref().map_or_else(
            || format!("user:{}", claims.sub),
            |(user, _)| throttle::account_key(&user.email),
        );
        let keys = Keys {
            account: Some(&account),
            ..unkeyed
        };
        let checked = match self.reserve(&account, client) {
            Ok(tickets) => self.recheck_password(tickets, keys, found, password).await,
            Err(e) => Err(e),
        };
        let result = outcome(checked.as_ref().map(|_| ()));
        audit::record(
            Entry::new(event, result, Actor::of(claims.user_id()))
                .account(claims.user_id())
                .session(claims.sid.as_deref()),
            client,
        );
        checked
    }

    /// [`Self::check_password`] for a user already loaded (or not found), then the counts
    /// again after a right password.
    async fn recheck_password(
        &self,
        tickets: Tickets,
        keys: Keys<'_>,
        found: Option<(entity::user::Model, Recorded)>,
        password: SecretString,
    ) -> AppResult<entity::user::Model> {
        let (user, recorded) = match found {
            Some((user, recorded)) => (Some(user), recorded),
            None => match failures::count(&self.db, keys).await {
                Ok(recorded) => (None, recorded),
                Err(e) => {
                    tickets.release();
                    return Err(e);
                }
            },
        };
        self.check_password(tickets, keys, user.as_ref(), recorded, password)
            .await?;
        let user = user.ok_or(AppError::InvalidCredentials)?;
        // Wrong guesses on other instances may have been recorded while this one hashed.
        match self.limited(failures::count(&self.db, keys).await?) {
            Some(limited) => Err(limited),
            None => Ok(user),
        }
    }
}
