//! The auth flows: login, refresh (rotation with reuse detection), reauth and logout.
//!
//! Each flow checks credentials, writes what it must in one transaction, then mints tokens.
//! It knows neither HTTP nor GraphQL: it takes claims already verified by the transport layer.

use std::{sync::Arc, time::Duration};

use sea_orm::{DatabaseConnection, TransactionTrait};
use secrecy::SecretString;

use crate::{
    auth::{
        Client,
        audit::{self, Actor, Entry},
        protection::{
            self, LoginProtection, failures,
            throttle::{self, LoginLimits},
        },
        revocation,
        sessions::{self, RefreshSlot},
        tokens::{Claims, NewToken, SignedToken, TokenCodec},
    },
    clock::{now_ms, now_secs},
    config::LoginConfig,
    error::{AppError, AppResult, TokenKind},
    events::{Change, EventLog},
    meter,
    password::{Owner, Passwords},
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
    /// Tokens carry a `csrf` claim (cookie transport).
    csrf: bool,
    /// The password check with its limits.
    protection: LoginProtection,
    /// Absolute session lifetime (`WARDEN_SESSION_MAX_AGE`).
    session_max_age: Duration,
    /// Where revocations are recorded (and applied to this instance at commit).
    log: EventLog,
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
        let db_for_protection = db.clone();
        Ok(Self {
            db,
            codec,
            reuse_grace,
            csrf,
            log,
            protection: LoginProtection::new(db_for_protection, passwords, login, limits).await?,
            session_max_age: login.session_max_age,
        })
    }

    /// The password policy and hashing gate.
    pub fn passwords(&self) -> &Passwords {
        &self.protection.passwords
    }

    /// How many argon2 verifications this service has run.
    pub fn password_checks(&self) -> u64 {
        self.protection.password_checks()
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
        let ticket = self
            .protection
            .limits
            .reserve_ip(client.ip)
            .map_err(protection::rate_limited)?;
        let give_back = |ticket: Option<throttle::Ticket>| {
            if let Some(ticket) = ticket {
                ticket.release();
            }
        };
        let address = client.ip.map(throttle::address_key);
        let keys = self.protection.keys(None, address.as_deref());
        if address.is_some() {
            let limited = match failures::count(&self.db, keys).await {
                Ok(recorded) => self.protection.limited(recorded),
                Err(e) => Some(e),
            };
            if let Some(e) = limited {
                give_back(ticket);
                return Err(e);
            }
        }
        let prepared = match users::prepare(&self.db, &self.protection.passwords, new).await {
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
        let keys = self.protection.keys(Some(&account), address.as_deref());
        let checked = self
            .protection
            .login_check(&account, keys, email, password, client)
            .await;
        let result = protection::outcome(checked.0.as_ref().map(|_| ()));
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
            failures::within_limits(
                keys,
                self.protection.account_limit,
                self.protection.address_limit,
            ),
        )
        .await?;
        if !created {
            audit::record(
                Entry::new("login", "rate_limited", Actor::Anonymous).account(user.id),
                client,
            );
            // Which limit it was takes one more statement, on this rare path only.
            let recorded = failures::count(&self.db, keys).await?;
            return Err(self.protection.limited(recorded).unwrap_or_else(|| {
                protection::rate_limited(self.protection.account_limit.window.as_secs().max(1))
            }));
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
        let user = self
            .protection
            .recheck(claims, password, client, "reauth")
            .await?;
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
            .protection
            .recheck(claims, current, client, "change_password")
            .await?;
        self.protection.passwords.check_policy(
            secrecy::ExposeSecret::expose_secret(&new),
            Owner {
                email: &user.email,
                name: &user.name,
            },
        )?;
        let hash = self.protection.passwords.hash(new).await?;
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

/// The refresh flow: rotation, the grace for retired copies, reuse detection.
mod refresh;
#[cfg(test)]
mod tests;
