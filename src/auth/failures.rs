//! Failed password checks in the database, so that the per-account limit holds across
//! instances.
//!
//! Only the failure path writes: a failed check inserts its row, then counts the account's
//! rows in the window, and answers `INVALID_CREDENTIALS` only while that count is within the
//! limit (`RATE_LIMITED` past it). Two instances failing at the same moment each count after
//! their own insert, so the k-th row committed sees at least k rows: at most `limit` failures
//! across all instances are ever told "wrong password"; the rest learn nothing. The success
//! path reads the count in the same statement that loads the user (a correlated subquery,
//! [`recent_failures`]), so a right password costs no extra round trip, and one whose account
//! already reached the limit on any instance is refused before hashing. The login's session is
//! then inserted only while the count is still under the limit ([`failures_of`] in the insert's
//! own condition): a right password tested alongside wrong ones on other instances wins only if
//! fewer than `limit` of them were recorded first, so parallel guessing across instances learns
//! no more than the limit allows.

use entity::{login_failure, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Query, SubQueryStatement},
};

use sea_orm::DatabaseConnection;

use crate::error::AppResult;

/// The start of the window that ends at `now_ms` (Unix milliseconds): failures recorded
/// since then count toward the limit, older ones may be pruned.
pub fn window_start_ms(now_ms: i64, window: std::time::Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX))
}

/// An expression for the number of failures recorded for `users.email` since `since_ms`, to
/// select alongside a user row.
pub fn recent_failures(since_ms: i64) -> Expr {
    counted(
        Expr::col((login_failure::Entity, login_failure::Column::Account))
            .equals((user::Entity, user::Column::Email)),
        since_ms,
    )
}

/// An expression for the number of failures recorded for `account` since `since_ms`, for a
/// statement's condition (see [`crate::auth::sessions::create_unless_limited`]).
pub fn failures_of(account: &str, since_ms: i64) -> Expr {
    counted(
        Expr::col((login_failure::Entity, login_failure::Column::Account)).eq(account),
        since_ms,
    )
}

fn counted(account_matches: Expr, since_ms: i64) -> Expr {
    let count = Query::select()
        .expr(Expr::col((login_failure::Entity, login_failure::Column::Id)).count())
        .from(login_failure::Entity)
        .and_where(account_matches)
        .and_where(Expr::col((login_failure::Entity, login_failure::Column::AtMs)).gt(since_ms))
        .to_owned();
    Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(count)))
}

/// The failures recorded for `account` since `since_ms` (for emails with no user row).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn count(db: &impl ConnectionTrait, account: &str, since_ms: i64) -> AppResult<u64> {
    Ok(login_failure::Entity::find()
        .filter(login_failure::Column::Account.eq(account))
        .filter(login_failure::Column::AtMs.gt(since_ms))
        .count(db)
        .await?)
}

/// Records a failure for `account` at `now_ms`; returns the failures in the window since
/// `since_ms`, this one included.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn record(
    db: &impl ConnectionTrait,
    account: &str,
    now_ms: i64,
    since_ms: i64,
) -> AppResult<u64> {
    login_failure::Entity::insert(login_failure::ActiveModel {
        account: Set(account.to_owned()),
        at_ms: Set(now_ms),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    count(db, account, since_ms).await
}

/// Deletes failures recorded before `before_ms`.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(db: &impl ConnectionTrait, before_ms: i64) -> AppResult<u64> {
    Ok(login_failure::Entity::delete_many()
        .filter(login_failure::Column::AtMs.lt(before_ms))
        .exec(db)
        .await?
        .rows_affected)
}

/// A user row with its account's failed password checks since a moment.
#[derive(Debug, sea_orm::FromQueryResult)]
struct WithFailures {
    #[sea_orm(nested)]
    user: user::Model,
    recent_failures: i64,
}

/// Finds a user by (normalised) email or id, with the failed password checks recorded for
/// its email since `since_ms`, in one statement.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn find_with_failures(
    db: &DatabaseConnection,
    by: sea_orm::Condition,
    since_ms: i64,
) -> AppResult<Option<(user::Model, u64)>> {
    use sea_orm::QuerySelect;
    let found = user::Entity::find()
        .filter(by)
        .expr_as(recent_failures(since_ms), "recent_failures")
        .into_model::<WithFailures>()
        .one(db)
        .await?;
    Ok(found.map(|f| (f.user, u64::try_from(f.recent_failures).unwrap_or(0))))
}
