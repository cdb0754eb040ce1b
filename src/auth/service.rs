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
    auth::{
        password, revocation,
        sessions::{self, RefreshSlot},
        throttle::Throttle,
        tokens::{Claims, NewToken, SignedToken, TokenCodec, now_secs},
    },
    error::{AppError, AppResult, TokenKind},
    events::{Change, EventLog},
    meter,
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
    /// Wrong-password throttling per account.
    throttle: Arc<Throttle>,
    /// Argon2 verifications run, for the metric and for tests that unknown emails pay too.
    password_checks: Arc<AtomicU64>,
    /// Where revocations are recorded (and applied to this instance at commit).
    log: EventLog,
}

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .div_euclid(1_000_000) as i64
}

impl AuthService {
    /// Builds the service; computes the dummy hash once (on the blocking pool).
    ///
    /// # Errors
    /// Internal when hashing fails.
    pub async fn new(
        db: DatabaseConnection,
        codec: Arc<TokenCodec>,
        reuse_grace: Duration,
        csrf: bool,
        log: EventLog,
    ) -> AppResult<Self> {
        Ok(Self {
            db,
            codec,
            reuse_grace,
            csrf,
            log,
            throttle: Arc::new(Throttle::default()),
            dummy_hash: password::dummy_hash().await?.into(),
            password_checks: Arc::new(AtomicU64::new(0)),
        })
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
    fn jti_revoked(&self, claims: &Claims) -> (Change, i64) {
        (
            Change::JtiRevoked {
                jti: claims.jti.clone(),
                user_id: claims.user_id(),
            },
            claims.exp.saturating_add(self.codec.leeway()),
        )
    }

    /// The events for ended sessions: they matter while any token of theirs can live.
    fn sessions_revoked(
        &self,
        user_id: i64,
        ids: impl IntoIterator<Item = String>,
    ) -> Vec<(Change, i64)> {
        let until = self.codec.outlives_now();
        ids.into_iter()
            .map(|session_id| {
                (
                    Change::SessionRevoked {
                        session_id,
                        user_id,
                    },
                    until,
                )
            })
            .collect()
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

    fn new_slot(&self) -> RefreshSlot {
        let iat = now_secs();
        RefreshSlot {
            jti: uuid::Uuid::new_v4().to_string(),
            iat,
            exp: iat.saturating_add(self.codec.refresh_ttl()),
        }
    }

    /// Checks a password; unknown users cost the same as wrong passwords, and an account
    /// (`key`) with too many recent failures is refused before any hashing.
    async fn check_password(
        &self,
        key: &str,
        user: Option<&entity::user::Model>,
        password: SecretString,
    ) -> AppResult<()> {
        if let Some(wait) = self.throttle.retry_after(key) {
            ::metrics::counter!(meter::RATE_LIMITED).increment(1);
            return Err(AppError::RateLimited(wait));
        }
        let phc = user.map_or_else(|| self.dummy_hash.to_string(), |u| u.password_hash.clone());
        self.password_checks.fetch_add(1, Ordering::Relaxed);
        let matches = password::verify(password, phc).await?;
        if matches && user.is_some() {
            self.throttle.succeeded(key);
            Ok(())
        } else {
            self.throttle.failed(key);
            Err(AppError::InvalidCredentials)
        }
    }

    /// Starts a session: a fresh (or not) access token and the session's first refresh token.
    async fn start_session(
        &self,
        account: Account,
        fresh: bool,
        user_agent: Option<String>,
    ) -> AppResult<Issued> {
        let sid = uuid::Uuid::new_v4().to_string();
        let slot = self.new_slot();
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
    /// # Errors
    /// `BAD_USER_INPUT` for bad fields or a taken email, `SERVICE_UNAVAILABLE` when the
    /// database fails.
    pub async fn register(
        &self,
        new: users::NewUser,
        user_agent: Option<String>,
    ) -> AppResult<Issued> {
        let prepared = users::prepare(new).await?;
        let sid = uuid::Uuid::new_v4().to_string();
        let slot = self.new_slot();
        let txn = self.db.begin().await?;
        let account = users::insert(&txn, prepared).await?;
        sessions::create(&txn, &sid, account.user.id, user_agent, &slot).await?;
        txn.commit().await?;
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
        user_agent: Option<String>,
    ) -> AppResult<Issued> {
        let user = users::find_by_email(&self.db, email).await?;
        let key = format!("email:{}", email.trim().to_lowercase());
        let checked = self.check_password(&key, user.as_ref(), password).await;
        let result = match &checked {
            Ok(()) => "ok",
            Err(AppError::RateLimited(_)) => "rate_limited",
            Err(_) => "failed",
        };
        ::metrics::counter!(meter::LOGINS, "result" => result).increment(1);
        checked?;
        let user = user.ok_or(AppError::InvalidCredentials)?;
        if user.disabled {
            return Err(AppError::AccountDisabled);
        }
        let grants = users::load_grants(&self.db, user.id).await?;
        self.start_session(Account { user, grants }, true, user_agent)
            .await
    }

    /// A refresh token → a non-fresh access token and the session's next refresh token.
    ///
    /// The session expects exactly one refresh token. Presenting it rotates the session to a
    /// new one. Presenting the one just retired, within the grace window, returns the same
    /// successor (two tabs refreshing at once); any other retired token is a replay, and the
    /// whole session is revoked.
    ///
    /// # Errors
    /// `WRONG_TOKEN_TYPE` for an access token, `TOKEN_REVOKED` for a replay or an ended
    /// session, `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn refresh(&self, claims: &Claims, user_agent: Option<String>) -> AppResult<Issued> {
        if claims.kind() != TokenKind::Refresh {
            return Err(AppError::WrongTokenType(TokenKind::Refresh));
        }
        let user_id = claims
            .user_id()
            .ok_or(AppError::InvalidToken("unknown subject"))?;
        let account = users::account(&self.db, user_id)
            .await?
            .ok_or(AppError::TokenRevoked)?;

        let Some(sid) = claims.sid.as_deref() else {
            // Minted elsewhere (no session): accept it once, then continue in a session of ours.
            let txn = self.db.begin().await?;
            if !revocation::revoke_jti(&txn, &claims.jti, claims.exp).await? {
                return Err(AppError::TokenRevoked);
            }
            let pending = self
                .log
                .append(&txn, vec![self.jti_revoked(claims)])
                .await?;
            txn.commit().await?;
            self.log.committed(pending);
            ::metrics::counter!(meter::REFRESHES).increment(1);
            return self.start_session(account, false, user_agent).await;
        };

        let mut session = sessions::find(&self.db, sid)
            .await?
            .filter(|s| s.user_id == user_id && s.revoked_at.is_none())
            .ok_or(AppError::TokenRevoked)?;

        if session.refresh_jti == claims.jti {
            let next = self.new_slot();
            if sessions::rotate(&self.db, sid, &claims.jti, &next, now_ms()).await? {
                ::metrics::counter!(meter::REFRESHES).increment(1);
                return self.issue_pair(account, false, sid, &next);
            }
            // Another request rotated it first: judge this one as a retired token.
            session = sessions::find(&self.db, sid)
                .await?
                .filter(|s| s.revoked_at.is_none())
                .ok_or(AppError::TokenRevoked)?;
        }

        let grace_ms = i64::try_from(self.reuse_grace.as_millis()).unwrap_or(i64::MAX);
        let within_grace = session.previous_refresh_jti.as_deref() == Some(claims.jti.as_str())
            && session
                .rotated_at_ms
                .is_some_and(|at| now_ms().saturating_sub(at) <= grace_ms);
        if within_grace {
            let successor = RefreshSlot {
                jti: session.refresh_jti.clone(),
                iat: session.refresh_iat,
                exp: session.refresh_exp,
            };
            ::metrics::counter!(meter::REFRESHES).increment(1);
            return self.issue_pair(account, false, sid, &successor);
        }

        tracing::warn!(
            user_id,
            session_id = sid,
            "refresh token reuse detected; session revoked"
        );
        ::metrics::counter!(meter::REUSE_DETECTED).increment(1);
        let txn = self.db.begin().await?;
        let mut changes = vec![self.jti_revoked(claims)];
        if sessions::revoke(&txn, sid, user_id).await? {
            changes.extend(self.sessions_revoked(user_id, [sid.to_owned()]));
        }
        revocation::revoke_jti(&txn, &claims.jti, claims.exp).await?;
        let pending = self.log.append(&txn, changes).await?;
        txn.commit().await?;
        self.log.committed(pending);
        Err(AppError::TokenRevoked)
    }

    /// An access token and the user's password → a fresh access token in the same session.
    ///
    /// # Errors
    /// `WRONG_TOKEN_TYPE` for a refresh token, `INVALID_CREDENTIALS` for a wrong password,
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn reauth(&self, claims: &Claims, password: SecretString) -> AppResult<Issued> {
        if claims.kind() != TokenKind::Access {
            return Err(AppError::WrongTokenType(TokenKind::Access));
        }
        let account = match claims.user_id() {
            Some(id) => users::account(&self.db, id).await?,
            None => None,
        };
        let key = format!("user:{}", claims.sub);
        self.check_password(&key, account.as_ref().map(|a| &a.user), password)
            .await?;
        let account = account.ok_or(AppError::InvalidCredentials)?;
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
    ) -> AppResult<()> {
        let user = match claims.user_id() {
            Some(id) => users::find_by_id(&self.db, id).await?,
            None => None,
        };
        let key = format!("user:{}", claims.sub);
        self.check_password(&key, user.as_ref(), current).await?;
        let user = user.ok_or(AppError::InvalidCredentials)?;
        password::check_policy(secrecy::ExposeSecret::expose_secret(&new))?;
        let hash = password::hash(new).await?;
        let user_id = user.id;
        let txn = self.db.begin().await?;
        users::set_password_hash(&txn, user, hash).await?;
        let ended = sessions::revoke_all(&txn, user_id, claims.sid.as_deref()).await?;
        let pending = self
            .log
            .append(&txn, self.sessions_revoked(user_id, ended))
            .await?;
        txn.commit().await?;
        self.log.committed(pending);
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
                changes.extend(self.sessions_revoked(user_id, ended));
            }
            (_, Some(user_id), Some(sid)) if sessions::revoke(&txn, sid, user_id).await? => {
                changes.extend(self.sessions_revoked(user_id, [sid.to_owned()]));
            }
            _ => {}
        }
        let pending = self.log.append(&txn, changes).await?;
        txn.commit().await?;
        self.log.committed(pending);
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
        let txn = self.db.begin().await?;
        let changes = if sessions::revoke(&txn, session_id, user_id).await? {
            self.sessions_revoked(user_id, [session_id.to_owned()])
        } else {
            Vec::new()
        };
        let pending = self.log.append(&txn, changes).await?;
        txn.commit().await?;
        self.log.committed(pending);
        ::metrics::counter!(meter::REVOCATIONS, "kind" => "session").increment(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::{JwtConfig, SigningKey},
        startup::connect_and_migrate,
        users::NewUser,
    };

    async fn service() -> (AuthService, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = connect_and_migrate(&url).await.expect("db");
        let codec = TokenCodec::new(&JwtConfig::new(
            jsonwebtoken::Algorithm::HS256,
            SigningKey::Secret {
                key: b"service-test-key-service-test-key".to_vec().into(),
                generated: false,
            },
        ))
        .expect("codec");
        users::create(
            &db,
            NewUser {
                email: "ana@example.com".into(),
                password: "correct horse battery".to_owned().into(),
                name: "Ana".into(),
                roles: vec![],
                permissions: vec![],
            },
        )
        .await
        .expect("user");
        let service = AuthService::new(
            db,
            Arc::new(codec),
            Duration::from_secs(10),
            false,
            EventLog::default(),
        )
        .await
        .expect("service");
        (service, dir)
    }

    #[tokio::test]
    async fn an_unknown_email_costs_one_password_verification_like_a_wrong_password() {
        let (service, _dir) = service().await;
        let unknown = service
            .login(
                "nobody@example.com",
                "whatever-password".to_owned().into(),
                None,
            )
            .await;
        assert!(matches!(unknown, Err(AppError::InvalidCredentials)));
        assert_eq!(
            service.password_checks(),
            1,
            "the unknown email verified the dummy hash"
        );
        let wrong = service
            .login("ana@example.com", "wrong-password".to_owned().into(), None)
            .await;
        assert!(matches!(wrong, Err(AppError::InvalidCredentials)));
        assert_eq!(service.password_checks(), 2);
    }
}
