//! Login sessions: one row per login, anchoring its rotating refresh token.

use entity::{refresh_retirement, session};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, Query},
};
use time::OffsetDateTime;

use crate::error::AppResult;

/// The refresh token a session expects next: its id and times.
#[derive(Debug, Clone)]
pub struct RefreshSlot {
    /// `jti`.
    pub jti: String,
    /// `iat`, Unix seconds.
    pub iat: i64,
    /// `exp`, Unix seconds.
    pub exp: i64,
}

/// Starts a session whose first refresh token is `slot`.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn create(
    db: &impl ConnectionTrait,
    id: &str,
    user_id: i64,
    user_agent: Option<String>,
    slot: &RefreshSlot,
) -> AppResult<session::Model> {
    let now = OffsetDateTime::now_utc();
    Ok(session::ActiveModel {
        id: Set(id.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        user_agent: Set(user_agent),
        revoked_at: Set(None),
        refresh_jti: Set(slot.jti.clone()),
        refresh_iat: Set(slot.iat),
        refresh_exp: Set(slot.exp),
        previous_refresh_jti: Set(None),
        rotated_at_ms: Set(None),
    }
    .insert(db)
    .await?)
}

/// [`create`], only while `condition` holds (one `INSERT … SELECT … WHERE`, the same single
/// round trip as [`create`]): the login limits' counts, read by the insert itself (see
/// [`crate::auth::protection::failures::within_limits`]). Returns whether the session was created.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn create_unless_limited(
    db: &impl ConnectionTrait,
    new: (&str, i64, Option<String>, &RefreshSlot),
    condition: Expr,
) -> AppResult<bool> {
    let (id, user_id, user_agent, slot) = new;
    let now = OffsetDateTime::now_utc();
    let values = Query::select()
        .exprs([
            Expr::val(id),
            Expr::val(user_id),
            Expr::val(now),
            Expr::val(now),
            Expr::val(user_agent),
            Expr::val(slot.jti.clone()),
            Expr::val(slot.iat),
            Expr::val(slot.exp),
        ])
        .and_where(condition)
        .to_owned();
    let insert = Query::insert()
        .into_table(session::Entity)
        .columns([
            session::Column::Id,
            session::Column::UserId,
            session::Column::CreatedAt,
            session::Column::LastUsedAt,
            session::Column::UserAgent,
            session::Column::RefreshJti,
            session::Column::RefreshIat,
            session::Column::RefreshExp,
        ])
        .select_from(values)
        .map_err(|e| crate::error::AppError::Internal(crate::error::Fault::Statement(e)))?
        .to_owned();
    Ok(db.execute(&insert).await?.rows_affected() == 1)
}

/// Finds a session by id.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn find(db: &impl ConnectionTrait, id: &str) -> AppResult<Option<session::Model>> {
    Ok(session::Entity::find_by_id(id.to_owned()).one(db).await?)
}

/// Moves a session from refresh token `current_jti` to `next`, only if `current_jti` is
/// still the one it expects and it is not revoked (compare-and-swap: of two instances racing
/// with the same token, exactly one wins), and records when `current_jti` was retired. Run it
/// in a transaction: the two writes belong together. Returns whether this call won.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn rotate(
    db: &impl ConnectionTrait,
    id: &str,
    current_jti: &str,
    next: &RefreshSlot,
    now_ms: i64,
) -> AppResult<bool> {
    let result = session::Entity::update_many()
        .col_expr(
            session::Column::PreviousRefreshJti,
            Expr::value(current_jti),
        )
        .col_expr(session::Column::RefreshJti, Expr::value(next.jti.clone()))
        .col_expr(session::Column::RefreshIat, Expr::value(next.iat))
        .col_expr(session::Column::RefreshExp, Expr::value(next.exp))
        .col_expr(session::Column::RotatedAtMs, Expr::value(now_ms))
        .col_expr(
            session::Column::LastUsedAt,
            Expr::value(OffsetDateTime::now_utc()),
        )
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::RefreshJti.eq(current_jti))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    // When the token was retired: a copy presented within the grace window of this moment
    // (another tab) is answered with the session's current token, however many rotations
    // follow.
    refresh_retirement::Entity::insert(refresh_retirement::ActiveModel {
        jti: Set(current_jti.to_owned()),
        session_id: Set(id.to_owned()),
        retired_at_ms: Set(now_ms),
    })
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

/// When the refresh token `jti` of session `id` was retired by a rotation, if it was (and the
/// record has not been pruned yet).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn retired_at(db: &impl ConnectionTrait, id: &str, jti: &str) -> AppResult<Option<i64>> {
    Ok(refresh_retirement::Entity::find_by_id(jti.to_owned())
        .filter(refresh_retirement::Column::SessionId.eq(id))
        .one(db)
        .await?
        .map(|r| r.retired_at_ms))
}

/// Forgets retirements older than `before_ms` (past every grace window).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune_retirements(db: &impl ConnectionTrait, before_ms: i64) -> AppResult<u64> {
    Ok(refresh_retirement::Entity::delete_many()
        .filter(refresh_retirement::Column::RetiredAtMs.lt(before_ms))
        .exec(db)
        .await?
        .rows_affected)
}

/// Records that the session was just used (reauth).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn touch(db: &impl ConnectionTrait, id: &str) -> AppResult<()> {
    session::Entity::update_many()
        .col_expr(
            session::Column::LastUsedAt,
            Expr::value(OffsetDateTime::now_utc()),
        )
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends one live session of `user_id`: its access and refresh tokens are refused from now
/// on. Returns whether it was live (and so whether a revocation event is due).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn revoke(db: &impl ConnectionTrait, id: &str, user_id: i64) -> AppResult<bool> {
    let result = session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            Expr::value(OffsetDateTime::now_utc()),
        )
        .filter(session::Column::Id.eq(id))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends every live session of a user but `keep` (if given). Returns the ids it ended.
///
/// The ids are read first and only those are ended, so the caller's revocation events name
/// exactly the sessions that ended (a session started meanwhile is not touched).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    user_id: i64,
    keep: Option<&str>,
) -> AppResult<Vec<String>> {
    let mut live = session::Entity::find()
        .select_only()
        .column(session::Column::Id)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        live = live.filter(session::Column::Id.ne(keep));
    }
    let ids: Vec<String> = live.into_tuple().all(db).await?;
    if ids.is_empty() {
        return Ok(ids);
    }
    session::Entity::update_many()
        .col_expr(
            session::Column::RevokedAt,
            Expr::value(OffsetDateTime::now_utc()),
        )
        .filter(session::Column::Id.is_in(ids.clone()))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(ids)
}

/// A user's sessions that are neither revoked nor past their refresh token's expiry, newest
/// first.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn list_live(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: i64,
) -> AppResult<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::RefreshExp.gt(now))
        .order_by_desc(session::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Deletes sessions whose refresh token expired before `before` (Unix seconds).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(db: &impl ConnectionTrait, before: i64) -> AppResult<u64> {
    Ok(session::Entity::delete_many()
        .filter(session::Column::RefreshExp.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Sessions neither revoked nor past their refresh token's expiry (the admin overview).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn count_live(db: &impl ConnectionTrait, now: i64) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(session::Entity::find()
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::RefreshExp.gt(now))
        .count(db)
        .await?)
}

/// Sessions started (logins) since `since` (the editors' report).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn count_started_since(
    db: &impl ConnectionTrait,
    since: OffsetDateTime,
) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(session::Entity::find()
        .filter(session::Column::CreatedAt.gt(since))
        .count(db)
        .await?)
}
