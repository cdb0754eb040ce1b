//! `refresh`: a refresh token for a non-fresh access token and the session's next refresh
//! token. Its own file because it is the flow with the most cases: a token minted elsewhere
//! (no session), the session's age, the compare-and-swap rotation two instances can race on,
//! the grace for copies retired moments ago (several tabs), and reuse, which ends the session.

use sea_orm::TransactionTrait;

use super::{AuthService, Issued};
use crate::{
    auth::{
        Client,
        audit::{self, Actor, Entry},
        revocation,
        sessions::{self, RefreshSlot},
        tokens::Claims,
    },
    clock::now_ms,
    error::{AppError, AppResult, TokenKind},
    events::Change,
    meter, users,
};

impl AuthService {
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
}
