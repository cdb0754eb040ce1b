//! The persisted revocation list (`revoked_tokens`), keyed by `jti`.
//!
//! Requests never read it: guards consult the in-memory [`super::RevocationState`], fed by the
//! event each revocation appends. The list is the record that makes single-use tokens
//! single-use across instances (an insert that conflicts means "already used").

use entity::revoked_token;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, sea_query::OnConflict};
use time::OffsetDateTime;

use crate::error::AppResult;

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

/// Deletes list entries whose token can no longer be accepted at `now` (Unix seconds): it
/// expired more than `leeway` seconds ago (`JWT_DECODE_LEEWAY`), so it is refused as expired
/// anyway. An entry inside the leeway stays: its token still decodes, and must stay used.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(db: &impl ConnectionTrait, now: i64, leeway: i64) -> AppResult<u64> {
    Ok(revoked_token::Entity::delete_many()
        .filter(revoked_token::Column::ExpiresAt.lt(now.saturating_sub(leeway)))
        .exec(db)
        .await?
        .rows_affected)
}
