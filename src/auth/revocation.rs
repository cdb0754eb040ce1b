//! The revocation check run on every request that carries a token, and the persisted
//! revocation list.
//!
//! The check reads the database each time, in one query: that is what makes a logout on one
//! instance bite on every other instance at once, with no cache to go stale. The same query
//! returns the user's grants version, so grant changes need no round trip of their own.

use entity::{revoked_token, session, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    sea_query::{Expr, ExprTrait, JoinType, OnConflict, Query},
};
use time::OffsetDateTime;

use crate::{
    auth::tokens::Claims,
    error::{AppError, AppResult},
};

/// What the database says about a token that is not revoked.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenState {
    /// `(grants_version, grants_changed_at)` of the token's user, when it is one of ours.
    pub grants: Option<(i64, i64)>,
}

#[derive(Debug, FromQueryResult)]
struct CheckRow {
    grants_version: i64,
    grants_changed_at: i64,
    session_id: Option<String>,
    session_revoked_at: Option<OffsetDateTime>,
    revoked_jti: Option<String>,
}

/// Refuses a token whose `jti` is on the list, or whose session is gone, revoked, or not the
/// token subject's; otherwise returns its user's grants version.
///
/// # Errors
/// `TOKEN_REVOKED`; `SERVICE_UNAVAILABLE` when the database fails.
pub async fn check(db: &impl ConnectionTrait, claims: &Claims) -> AppResult<TokenState> {
    let Some(user_id) = claims.user_id() else {
        return check_jti_only(db, claims).await;
    };
    // users ⟕ sessions (this token's, of this user) ⟕ revoked_tokens (this jti): one round trip.
    let mut query = Query::select();
    query
        .column((user::Entity, user::Column::GrantsVersion))
        .column((user::Entity, user::Column::GrantsChangedAt))
        .expr_as(
            Expr::col((session::Entity, session::Column::Id)),
            "session_id",
        )
        .expr_as(
            Expr::col((session::Entity, session::Column::RevokedAt)),
            "session_revoked_at",
        )
        .expr_as(
            Expr::col((revoked_token::Entity, revoked_token::Column::Jti)),
            "revoked_jti",
        )
        .from(user::Entity)
        .join(
            JoinType::LeftJoin,
            session::Entity,
            Condition::all()
                .add(
                    Expr::col((session::Entity, session::Column::Id))
                        .eq(claims.sid.clone().unwrap_or_default()),
                )
                .add(
                    Expr::col((session::Entity, session::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                ),
        )
        .join(
            JoinType::LeftJoin,
            revoked_token::Entity,
            Expr::col((revoked_token::Entity, revoked_token::Column::Jti)).eq(claims.jti.clone()),
        )
        .and_where(Expr::col((user::Entity, user::Column::Id)).eq(user_id));
    let statement = db.get_database_backend().build(&query);
    let Some(row) = CheckRow::find_by_statement(statement).one(db).await? else {
        // Not one of our users: only a foreign token (no session) can still be valid.
        return check_jti_only(db, claims).await;
    };
    if row.revoked_jti.is_some() {
        return Err(AppError::TokenRevoked);
    }
    if claims.sid.is_some() && (row.session_id.is_none() || row.session_revoked_at.is_some()) {
        return Err(AppError::TokenRevoked);
    }
    Ok(TokenState {
        grants: Some((row.grants_version, row.grants_changed_at)),
    })
}

async fn check_jti_only(db: &impl ConnectionTrait, claims: &Claims) -> AppResult<TokenState> {
    if revoked_token::Entity::find_by_id(claims.jti.clone())
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::TokenRevoked);
    }
    if claims.sid.is_some() {
        // A session belongs to one of our users; a foreign subject cannot have one.
        return Err(AppError::TokenRevoked);
    }
    Ok(TokenState::default())
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
