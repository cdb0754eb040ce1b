//! The revocation check run on every request that carries a token, and the persisted
//! revocation list.
//!
//! The check reads the database each time (two primary-key lookups): that is what makes a
//! logout on one instance bite on every other instance at once, with no cache to go stale.

use entity::{revoked_token, session};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use time::OffsetDateTime;

use crate::{
    auth::tokens::Claims,
    error::{AppError, AppResult},
};

/// Refuses a token whose `jti` is on the list, or whose session is gone, revoked, or not the
/// token subject's.
///
/// # Errors
/// `TOKEN_REVOKED`; `SERVICE_UNAVAILABLE` when the database fails.
pub async fn check(db: &impl ConnectionTrait, claims: &Claims) -> AppResult<()> {
    if revoked_token::Entity::find_by_id(claims.jti.clone())
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::TokenRevoked);
    }
    if let Some(sid) = &claims.sid {
        let session = session::Entity::find_by_id(sid.clone()).one(db).await?;
        match session {
            Some(s) if s.revoked_at.is_none() && claims.user_id() == Some(s.user_id) => {}
            _ => return Err(AppError::TokenRevoked),
        }
    }
    Ok(())
}

/// Puts a `jti` on the list. Returns false when it was already there (so a single-use
/// token presented twice at once is accepted once).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn revoke_jti(db: &impl ConnectionTrait, jti: &str, expires_at: i64) -> AppResult<bool> {
    let inserted = revoked_token::Entity::insert(revoked_token::ActiveModel {
        jti: sea_orm::Set(jti.to_owned()),
        expires_at: sea_orm::Set(expires_at),
        revoked_at: sea_orm::Set(OffsetDateTime::now_utc()),
    })
    .on_conflict(
        OnConflict::column(revoked_token::Column::Jti)
            .do_nothing()
            .to_owned(),
    )
    .try_insert()
    .exec(db)
    .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(_)))
}

/// Deletes list entries whose token expired before `before` (Unix seconds): such a token is
/// refused as expired anyway.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(db: &impl ConnectionTrait, before: i64) -> AppResult<u64> {
    Ok(revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}
