//! The auth flows: login, refresh (rotation with reuse detection), reauth and logout.
//!
//! Each flow checks credentials, writes what it must in one transaction, then mints tokens.
//! It knows neither HTTP nor GraphQL: it takes claims already verified by the transport layer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{DatabaseConnection, TransactionTrait};
use secrecy::SecretString;

use crate::{
    audit::{self, Actor, Entry},
    auth::{
        Client,
        failures::{self, Keys, Recorded},
        revocation,
        sessions::{self, RefreshSlot},
        throttle::{self, LoginLimits, Tickets},
        tokens::{Claims, NewToken, SignedToken, TokenCodec},
    },
    clock::{now_ms, now_secs},
    config::{Limit, LoginConfig},
    error::{AppError, AppResult, TokenKind},
    events::{Change, EventLog},
    meter,
    password::{Owner, Passwords, Verdict},
    users::{self, Account},
};

/// What a successful login, refresh or reauth hands back.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The new access token.
    pub access: SignedToken,
    /// The new (or, inside the grace window, the same successor) refresh token; none from reauth.
    pub refresh: Option<SignedToken>,
    /// The user, with the grants the access token carries.
    pub account: Account,
}

/// Runs the auth flows against one database with one token codec.
#[derive(Debug, Clone)]
pub struct AuthService {
    db: DatabaseConnection,
    codec: Arc<TokenCodec>,
    reuse_grace: Duration,
    /// Verified against when the email is unknown, so both failures cost one argon2 check.
    dummy_hash: Arc<str>,
    /// Tokens carry a `csrf` claim (cookie transport).
    csrf: bool,
    /// Password-check limits per account and per client address (this instance's view, with
    /// attempts reserved before hashing).
    limits: LoginLimits,
    /// The per-account limit, which the database makes hold across instances.
    account_limit: Limit,
    /// The per-address limit, which the database makes hold across instances.
    address_limit: Limit,
    /// Password policy and the hashing gate.
    passwords: Passwords,
    /// Absolute session lifetime (`WARDEN_SESSION_MAX_AGE`).
    session_max_age: Duration,
    /// Argon2 verifications run, for the metric and for tests that unknown emails pay too.
    password_checks: Arc<AtomicU64>,
    /// Where revocations are recorded (and applied to this instance at commit).
    log: EventLog,
}

/// `RATE_LIMITED` after `wait` seconds, counted in the metrics wherever a limit refuses.
fn rate_limited(wait: u64) -> AppError {
    ::metrics::counter!(meter::RATE_LIMITED).increment(1);
    AppError::RateLimited(wait)
}

/// How a password check ended, for the log and the metric.
fn outcome(checked: Result<(), &AppError>) -> &'static str {
    match checked {
        Ok(()) => "ok",
        Err(AppError::RateLimited(_)) => "rate_limited",
        Err(AppError::InvalidCredentials) => "failed",
        Err(_) => "unavailable",
    }
}

impl AuthService {
    /// Builds the service; computes the dummy hash once (on a hashing thread).
    ///
    /// # Errors
    /// Internal when hashing fails.
    // The login limits come in made, not built here from `login`: the event log that is
    // handed in already holds them as a subscriber (an unlock clears them on every instance).
    #[allow(clippy::too_many_arguments)]
    pub async fn new(
        db: DatabaseConnection,
        codec: Arc<TokenCodec>,
        reuse_grace: Duration,
        csrf: bool,
        log: EventLog,
        passwords: Passwords,
        login: &LoginConfig,
        limits: LoginLimits,
    ) -> AppResult<Self> {
        Ok(Self {
            db,
            codec,
            reuse_grace,
            csrf,
            log,
            limits,
            account_limit: login.account_limit,
            address_limit: login.ip_limit,
            dummy_hash: passwords.dummy_hash().await?.into(),
            passwords,
            session_max_age: login.session_max_age,
            password_checks: Arc::new(AtomicU64::new(0)),
        })
    }

    /// The password policy and hashing gate.
    pub fn passwords(&self) -> &Passwords {
        &self.passwords
    }

    /// How many argon2 verifications this service has run.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(Ordering::Relaxed)
    }

    /// The token codec.
    pub fn codec(&self) -> &TokenCodec {
        &self.codec
    }

    /// The event log revocations are written to.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The event for a revoked `jti`: it matters until the token expires (with leeway).
    /// The revocation of the token `claims` describes: an access token's matters in memory
    /// while the token itself can be accepted; a refresh token's only for the log's horizon,
    /// since `refresh` reads the persisted revocation list anyway.
    fn jti_revoked(&self, claims: &Claims) -> Change {
        let until = match claims.kind() {
            TokenKind::Access => claims.exp.saturating_add(self.codec.leeway()),
            TokenKind::Refresh => self.log.horizon().until_now(),
        };
        Change::JtiRevoked {
            jti: claims.jti.clone(),
            user_id: claims.user_id(),
            until,
        }
    }

    fn access_token(
        &self,
        account: &Account,
        fresh: bool,
        sid: Option<&str>,
    ) -> AppResult<SignedToken> {
        self.codec.mint(&NewToken {
            user_id: account.user.id,
            kind: TokenKind::Access,
            fresh,
            sid,
            grants: Some((&account.grants.roles, &account.grants.permissions)),
            grants_version: Some(account.user.grants_version),
            csrf: self.csrf.then(|| uuid::Uuid::new_v4().to_string()),
        })
    }

    fn refresh_claims(&self, user_id: i64, sid: &str, slot: &RefreshSlot) -> Claims {
        self.codec.claims(
            &NewToken {
                user_id,
                kind: TokenKind::Refresh,
                fresh: false,
                sid: Some(sid),
                grants: None,
                grants_version: None,
                // Derived from the jti so that the successor handed out again inside the
                // grace window is the very same token, cookie and CSRF value included.
                csrf: self.csrf.then(|| {
                    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, slot.jti.as_bytes()).to_string()
                }),
            },
            slot.jti.clone(),
            slot.iat,
            slot.exp,
        )
    }

    /// True when the session is older than `WARDEN_SESSION_MAX_AGE`.
    fn past_max_age(&self, session: &entity::session::Model) -> bool {
        let age = time::OffsetDateTime::now_utc() - session.created_at;
        age > self.session_max_age
    }

    fn new_slot(&self) -> RefreshSlot {
        let iat = now_secs();
        RefreshSlot {
            jti: uuid::Uuid::new_v4().to_string(),
            iat,
            exp: iat.saturating_add(self.codec.refresh_ttl()),
        }
    }

    /// Reserves an attempt for `account` and the client's address, before any hashing.
    fn reserve(&self, account: &str, client: &Client) -> AppResult<Tickets> {
        self.limits
            .reserve(account, client.ip)
            .map_err(rate_limited)
    }

    /// What an attempt on `account` from `address` is counted against in the database, with
    /// each limit's window as of now.
    fn keys<'a>(&self, account: Option<&'a str>, address: Option<&'a str>) -> Keys<'a> {
        let now = now_ms();
        Keys {
            account,
            account_since: failures::window_start_ms(now, self.account_limit.window),
            address,
            address_since: failures::window_start_ms(now, self.address_limit.window),
        }
    }

    /// `RATE_LIMITED` when `recorded` failures reach a limit: wait out its window.
    fn limited(&self, recorded: Recorded) -> Option<AppError> {
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

    /// Starts a session: a fresh (or not) access token and the session's first refresh token.
    async fn start_session(
        &self,
        account: Account,
        fresh: bool,
        client: &Client,
    ) -> AppResult<Issued> {
        let sid = uuid::Uuid::new_v4().to_string();
        let slot = self.new_slot();
        let user_agent = client.user_agent.clone();
        sessions::create(&self.db, &sid, account.user.id, user_agent, &slot).await?;
        self.issue_pair(account, fresh, &sid, &slot)
    }

    /// Mints an access token and the refresh token of `slot` for a session just stored.
    fn issue_pair(
        &self,
        account: Account,
        fresh: bool,
        sid: &str,
        slot: &RefreshSlot,
    ) -> AppResult<Issued> {
        let refresh = self
            .codec
            .sign(self.refresh_claims(account.user.id, sid, slot))?;
        let access = self.access_token(&account, fresh, Some(sid))?;
        Ok(Issued {
            access,
            refresh: Some(refresh),
            account,
        })
    }

    /// Sign-up: creates the user and its first session in one transaction (both or neither),
    /// with a fresh access token.
    ///
    /// Each sign-up that hashes counts toward the client address's limit, like a failed
    /// password check: otherwise sign-up would be a way around that limit to argon2.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for bad fields or a taken email, `RATE_LIMITED` past the address
    /// limit, `SERVICE_UNAVAILABLE` when the database fails or hashing is saturated.
    pub async fn register(&self, new: users::NewUser, client: &Client) -> AppResult<Issued> {
        let ticket = self.limits.reserve_ip(client.ip).map_err(rate_limited)?;
        let give_back = |ticket: Option<throttle::Ticket>| {
            if let Some(ticket) = ticket {
                ticket.release();
            }
        };
        let address = client.ip.map(throttle::address_key);
        let keys = self.keys(None, address.as_deref());
        if address.is_some() {
            let limited = match failures::count(&self.db, keys).await {
                Ok(recorded) => self.limited(recorded),
                Err(e) => Some(e),
            };
            if let Some(e) = limited {
                give_back(ticket);
                return Err(e);
            }
        }
        let prepared = match users::prepare(&self.db, &self.passwords, new).await {
            Ok(prepared) => {
                // The hash was computed: it counts, here and for every instance.
                if let Some(ticket) = ticket {
                    ticket.fail();
                }
                if address.is_some() {
                    failures::record(&self.db, keys, now_ms()).await?;
                }
                prepared
            }
            Err(e) => {
                give_back(ticket);
                return Err(e);
            }
        };
        let sid = uuid::Uuid::new_v4().to_string();
        let slot = self.new_slot();
        let txn = self.db.begin().await?;
        let account = users::insert(&txn, prepared).await?;
        let user_agent = client.user_agent.clone();
        sessions::create(&txn, &sid, account.user.id, user_agent, &slot).await?;
        txn.commit().await?;
        audit::record(
            Entry::new("register", "ok", Actor::Anonymous)
                .account(account.user.id)
                .session(Some(&sid)),
            client,
        );
        self.issue_pair(account, true, &sid, &slot)
    }

    /// Email and password → a new session with a fresh access token.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` for an unknown email or a wrong password (same message, same
    /// cost); `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn login(
        &self,
        email: &str,
        password: SecretString,
        client: &Client,
    ) -> AppResult<Issued> {
        let account = throttle::account_key(email);
        let address = client.ip.map(throttle::address_key);
        let keys = self.keys(Some(&account), address.as_deref());
        let checked = self
            .login_check(&account, keys, email, password, client)
            .await;
        let result = outcome(checked.0.as_ref().map(|_| ()));
        ::metrics::counter!(meter::LOGINS, "result" => result).increment(1);
        let (checked, found) = checked;
        if checked.is_err() {
            audit::record(
                Entry::new("login", result, Actor::Anonymous).account(found),
                client,
            );
        }
        let user = checked?;
        if user.disabled {
            audit::record(
                Entry::new("login", "disabled", Actor::Anonymous).account(user.id),
                client,
            );
            return Err(AppError::AccountDisabled);
        }
        let grants = users::load_grants(&self.db, user.id).await?;
        // The session exists only if the account and the address are still under their
        // limits now (see failures).
        let sid = uuid::Uuid::new_v4().to_string();
        let slot = self.new_slot();
        let created = sessions::create_unless_limited(
            &self.db,
            (&sid, user.id, client.user_agent.clone(), &slot),
            failures::within_limits(keys, self.account_limit, self.address_limit),
        )
        .await?;
        if !created {
            audit::record(
                Entry::new("login", "rate_limited", Actor::Anonymous).account(user.id),
                client,
            );
            // Which limit it was takes one more statement, on this rare path only.
            let recorded = failures::count(&self.db, keys).await?;
            return Err(self
                .limited(recorded)
                .unwrap_or_else(|| rate_limited(self.account_limit.window.as_secs().max(1))));
        }
        let issued = self.issue_pair(Account { user, grants }, true, &sid, &slot)?;
        audit::record(
            Entry::new("login", "ok", Actor::Anonymous)
                .account(issued.account.user.id)
                .session(issued.access.claims.sid.as_deref()),
            client,
        );
        Ok(issued)
    }

    /// Reserves, loads the user with its recorded failures (one statement), and checks; with
    /// the id of the account the email names, when there is one (for the security log).
    async fn login_check(
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
    async fn recheck(
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

    /// A refresh token → a non-fresh access token and the session's next refresh token.
    ///
    /// The session expects exactly one refresh token. Presenting it rotates the session to a
    /// new one. Presenting a token retired less than the grace window ago returns the
    /// session's current token (for the one retired last, its successor): several tabs
    /// refreshing with their own copies never sign the user out. Any other retired token is a
    /// replay, and the whole session is revoked.
    ///
    /// # Errors
    /// `WRONG_TOKEN_TYPE` for an access token, `TOKEN_REVOKED` for a replay, an ended session
    /// or a disabled or deleted account, `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn refresh(&self, claims: &Claims, client: &Client) -> AppResult<Issued> {
        if claims.kind() != TokenKind::Refresh {
            return Err(AppError::WrongTokenType(TokenKind::Refresh));
        }
        let user_id = claims
            .user_id()
            .ok_or(AppError::InvalidToken("unknown subject"))?;
        // The account's state from the database, for every kind of refresh token: the
        // in-memory state holds a disabled account too, but a refresh token minted elsewhere
        // (no session to have been ended) must not depend on that alone.
        let account = match users::account(&self.db, user_id).await? {
            Some(account) if !account.user.disabled => account,
            found => {
                let outcome = if found.is_some() {
                    "disabled"
                } else {
                    "no_account"
                };
                audit::record(
                    Entry::new("refresh", outcome, Actor::of(Some(user_id)))
                        .account(user_id)
                        .session(claims.sid.as_deref()),
                    client,
                );
                return Err(AppError::TokenRevoked);
            }
        };

        let Some(sid) = claims.sid.as_deref() else {
            // Minted elsewhere (no session): accept it once, then continue in a session of ours.
            let txn = self.db.begin().await?;
            if !revocation::revoke_jti(&txn, &claims.jti, claims.exp).await? {
                return Err(AppError::TokenRevoked);
            }
            self.log.commit(txn, vec![self.jti_revoked(claims)]).await?;
            ::metrics::counter!(meter::REFRESHES).increment(1);
            return self.start_session(account, false, client).await;
        };

        let mut session = sessions::find(&self.db, sid)
            .await?
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none())
            .ok_or(AppError::TokenRevoked)?;

        if self.past_max_age(&session) {
            self.end_session(sid, user_id).await?;
            audit::record(
                Entry::new("session_expired", "ended", Actor::of(Some(user_id)))
                    .account(user_id)
                    .session(Some(sid)),
                client,
            );
            return Err(AppError::SessionExpired);
        }

        if session.refresh_jti == claims.jti {
            let next = self.new_slot();
            let txn = self.db.begin().await?;
            if sessions::rotate(&txn, sid, &claims.jti, &next, now_ms()).await? {
                txn.commit().await?;
                ::metrics::counter!(meter::REFRESHES).increment(1);
                return self.issue_pair(account, false, sid, &next);
            }
            drop(txn);
            // Another request rotated it first: judge this one as a retired token.
            session = sessions::find(&self.db, sid)
                .await?
                .filter(|s| s.revoked_at.is_none())
                .ok_or(AppError::TokenRevoked)?;
        }

        // Within the grace window counted from the moment this token was retired, however many
        // rotations followed (several tabs holding copies): the session's current token. The
        // token retired last is on the session row; older ones are looked up.
        let grace_ms = i64::try_from(self.reuse_grace.as_millis()).unwrap_or(i64::MAX);
        let retired_at = if session.previous_refresh_jti.as_deref() == Some(claims.jti.as_str()) {
            session.rotated_at_ms
        } else {
            sessions::retired_at(&self.db, sid, &claims.jti).await?
        };
        let within_grace = retired_at.is_some_and(|at| now_ms().saturating_sub(at) <= grace_ms);
        if within_grace {
            let successor = RefreshSlot {
                jti: session.refresh_jti.clone(),
                iat: session.refresh_iat,
                exp: session.refresh_exp,
            };
            ::metrics::counter!(meter::REFRESHES).increment(1);
            return self.issue_pair(account, false, sid, &successor);
        }

        // A replay: the session ends (a stolen copy, or a tab offline past the grace).
        audit::record(
            Entry::new("refresh_reuse", "session_revoked", Actor::of(Some(user_id)))
                .account(user_id)
                .session(Some(sid)),
            client,
        );
        ::metrics::counter!(meter::REUSE_DETECTED).increment(1);
        let txn = self.db.begin().await?;
        let mut changes = vec![self.jti_revoked(claims)];
        if sessions::revoke(&txn, sid, user_id).await? {
            changes.extend(Change::sessions_revoked(user_id, [sid.to_owned()]));
        }
        revocation::revoke_jti(&txn, &claims.jti, claims.exp).await?;
        self.log.commit(txn, changes).await?;
        Err(AppError::TokenRevoked)
    }

    /// An access token and the user's password → a fresh access token in the same session.
    ///
    /// # Errors
    /// `WRONG_TOKEN_TYPE` for a refresh token, `INVALID_CREDENTIALS` for a wrong password,
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn reauth(
        &self,
        claims: &Claims,
        password: SecretString,
        client: &Client,
    ) -> AppResult<Issued> {
        if claims.kind() != TokenKind::Access {
            return Err(AppError::WrongTokenType(TokenKind::Access));
        }
        let user = self.recheck(claims, password, client, "reauth").await?;
        let grants = users::load_grants(&self.db, user.id).await?;
        let account = Account { user, grants };
        if let Some(sid) = claims.sid.as_deref() {
            sessions::touch(&self.db, sid).await?;
        }
        let access = self.access_token(&account, true, claims.sid.as_deref())?;
        Ok(Issued {
            access,
            refresh: None,
            account,
        })
    }

    /// Changes the password after checking the current one, and ends the user's other
    /// sessions (all of them for a token without a session), in one transaction.
    ///
    /// # Errors
    /// `INVALID_CREDENTIALS` for a wrong current password, `BAD_USER_INPUT` for a new one
    /// that fails the policy, `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn change_password(
        &self,
        claims: &Claims,
        current: SecretString,
        new: SecretString,
        client: &Client,
    ) -> AppResult<()> {
        let user = self
            .recheck(claims, current, client, "change_password")
            .await?;
        self.passwords.check_policy(
            secrecy::ExposeSecret::expose_secret(&new),
            Owner {
                email: &user.email,
                name: &user.name,
            },
        )?;
        let hash = self.passwords.hash(new).await?;
        let user_id = user.id;
        let txn = self.db.begin().await?;
        users::set_password_hash(&txn, user, hash).await?;
        let ended = sessions::revoke_all(&txn, user_id, claims.sid.as_deref()).await?;
        self.log
            .commit(txn, Change::sessions_revoked(user_id, ended))
            .await?;
        Ok(())
    }

    /// Revokes the token's session (its access and refresh tokens), or every session of the
    /// user; a token without a session has just its `jti` revoked.
    ///
    /// # Errors
    /// `WRONG_TOKEN_TYPE` for a refresh token, `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn logout(&self, claims: &Claims, everywhere: bool) -> AppResult<()> {
        if claims.kind() != TokenKind::Access {
            return Err(AppError::WrongTokenType(TokenKind::Access));
        }
        let txn = self.db.begin().await?;
        revocation::revoke_jti(&txn, &claims.jti, claims.exp).await?;
        let mut changes = vec![self.jti_revoked(claims)];
        match (everywhere, claims.user_id(), claims.sid.as_deref()) {
            (true, Some(user_id), _) => {
                let ended = sessions::revoke_all(&txn, user_id, None).await?;
                changes.extend(Change::sessions_revoked(user_id, ended));
            }
            (_, Some(user_id), Some(sid)) if sessions::revoke(&txn, sid, user_id).await? => {
                changes.extend(Change::sessions_revoked(user_id, [sid.to_owned()]));
            }
            _ => {}
        }
        self.log.commit(txn, changes).await?;
        ::metrics::counter!(meter::REVOCATIONS, "kind" => "logout").increment(1);
        Ok(())
    }

    /// Ends one of the caller's own sessions.
    ///
    /// # Errors
    /// `NOT_FOUND` when the session is not the caller's (or does not exist),
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn revoke_session(&self, claims: &Claims, session_id: &str) -> AppResult<()> {
        let user_id = claims.user_id().ok_or(AppError::NotFound)?;
        let session = sessions::find(&self.db, session_id).await?;
        if session.is_none_or(|s| s.user_id != user_id) {
            return Err(AppError::NotFound);
        }
        self.end_session(session_id, user_id).await?;
        ::metrics::counter!(meter::REVOCATIONS, "kind" => "session").increment(1);
        Ok(())
    }

    /// Revokes one session of `user_id` and appends its event, in one transaction.
    async fn end_session(&self, session_id: &str, user_id: i64) -> AppResult<()> {
        let txn = self.db.begin().await?;
        let changes = if sessions::revoke(&txn, session_id, user_id).await? {
            Change::sessions_revoked(user_id, [session_id.to_owned()])
        } else {
            Vec::new()
        };
        self.log.commit(txn, changes).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestClaims, TestDatabase, create_user, hs256_codec};

    async fn service() -> (AuthService, TestDatabase) {
        let database = TestDatabase::new().await;
        create_user(&database.db, "ana@example.com", &[], &[]).await;
        let service = AuthService::new(
            database.db.clone(),
            Arc::new(hs256_codec()),
            Duration::from_secs(10),
            false,
            EventLog::default(),
            Passwords::default(),
            &LoginConfig::default(),
            LoginLimits::new(
                LoginConfig::default().account_limit,
                LoginConfig::default().ip_limit,
            ),
        )
        .await
        .expect("service");
        (service, database)
    }

    #[tokio::test]
    async fn refresh_asks_the_database_whether_the_account_is_disabled_whatever_the_token() {
        // No revocation state at all here: only the database can refuse.
        let (service, database) = service().await;
        let id = create_user(&database.db, "bo@example.com", &[], &[]).await;
        let foreign = || TestClaims::refresh(id).sid(None).claims();
        let issued = service
            .refresh(&foreign(), &Client::default())
            .await
            .expect("an enabled account refreshes");
        let ours = issued.refresh.expect("a refresh token").claims;
        let log = EventLog::default();
        crate::auth::admin::set_disabled(&database.db, &log, id, true)
            .await
            .expect("disabled");
        for claims in [foreign(), ours] {
            let refused = service.refresh(&claims, &Client::default()).await;
            assert!(
                matches!(refused, Err(AppError::TokenRevoked)),
                "{:?}: {refused:?}",
                claims.sid
            );
        }
        crate::auth::admin::set_disabled(&database.db, &log, id, false)
            .await
            .expect("enabled");
        assert!(
            service
                .refresh(&foreign(), &Client::default())
                .await
                .is_ok(),
            "enabled again, a new token minted elsewhere works"
        );
    }

    #[tokio::test]
    async fn an_unknown_email_costs_one_password_verification_like_a_wrong_password() {
        let (service, _dir) = service().await;
        let unknown = service
            .login(
                "nobody@example.com",
                "whatever-password".to_owned().into(),
                &Client::default(),
            )
            .await;
        assert!(matches!(unknown, Err(AppError::InvalidCredentials)));
        assert_eq!(
            service.password_checks(),
            1,
            "the unknown email verified the dummy hash"
        );
        let wrong = service
            .login(
                "ana@example.com",
                "wrong-password".to_owned().into(),
                &Client::default(),
            )
            .await;
        assert!(matches!(wrong, Err(AppError::InvalidCredentials)));
        assert_eq!(service.password_checks(), 2);
    }
}
