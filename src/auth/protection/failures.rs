//! Failed password checks in the database, per account (`login_failures`) and per client
//! address (`address_failures`), so that both login limits (docs/reference.md, "Limits") hold across every
//! instance sharing the database.
//!
//! Only password checks touch these tables; a guarded request never does. The failure path
//! writes: a failed check inserts its rows, then counts each key's rows in its window, and
//! answers `INVALID_CREDENTIALS` only while both counts, this failure included, are within
//! their limits (`RATE_LIMITED` past either). Two instances failing at the same moment each
//! count after their own insert, so the k-th row committed sees at least k rows: at most
//! `limit` failures across all instances are ever told "wrong password"; the rest learn
//! nothing. The success path reads the counts in the same statement that loads the user
//! (correlated subqueries, [`find_with_failures`]), so a right password costs no extra round
//! trip before hashing, and one whose account or address already reached its limit on any
//! instance is refused before hashing. After a right password the counts are read again,
//! because wrong guesses on other instances may have been recorded while it hashed: `login`
//! inserts its session only while both are still under their limits ([`within_limits`] in the
//! insert's own condition), `reauth` and `changePassword` count again ([`count`]). A right
//! password tested alongside wrong ones on other instances therefore wins only if fewer than
//! `limit` of them were recorded first, so parallel guessing across instances learns no more
//! than the limits allow.
//!
//! Each sign-up that hashes a password is recorded against its address too (no account).

use entity::{address_failure, login_failure, user};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, Query, SubQueryStatement},
};

use crate::{config::Limit, error::AppResult};

/// The start of the window that ends at `now_ms` (Unix milliseconds): failures recorded
/// since then count toward the limit, older ones may be pruned.
pub fn window_start_ms(now_ms: i64, window: std::time::Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX))
}

/// What one attempt is counted against: the account key and the client address key (either
/// may be absent), each with the start of its limit's window.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    /// The account key (the normalised email); none for a sign-up.
    pub account: Option<&'a str>,
    /// Failures of the account recorded after this moment (Unix ms) count.
    pub account_since: i64,
    /// The client address key ([`super::throttle::address_key`]), when known.
    pub address: Option<&'a str>,
    /// Failures of the address recorded after this moment (Unix ms) count.
    pub address_since: i64,
}

/// Failures recorded within their windows, per key (0 for a key not given).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The account's.
    pub account: u64,
    /// The client address's.
    pub address: u64,
}

impl Recorded {
    /// The counts without the failure just recorded (which [`record`] includes).
    pub fn before_this_one(self) -> Self {
        Self {
            account: self.account.saturating_sub(1),
            address: self.address.saturating_sub(1),
        }
    }

    /// The limit (of `account`, then `address`) these counts reach, if any.
    pub fn reached(self, account: Limit, address: Limit) -> Option<Limit> {
        if self.account >= u64::from(account.max) {
            Some(account)
        } else if self.address >= u64::from(address.max) {
            Some(address)
        } else {
            None
        }
    }
}

/// An expression for the number of failures recorded for `users.email` since `since_ms`, to
/// select alongside a user row.
fn recent_failures(since_ms: i64) -> Expr {
    counted(
        Query::select()
            .expr(Expr::col((login_failure::Entity, login_failure::Column::Id)).count())
            .from(login_failure::Entity)
            .and_where(
                Expr::col((login_failure::Entity, login_failure::Column::Account))
                    .equals((user::Entity, user::Column::Email)),
            )
            .and_where(Expr::col((login_failure::Entity, login_failure::Column::AtMs)).gt(since_ms))
            .to_owned(),
    )
}

/// An expression for the number of failures recorded for `account` since `since_ms` (0 for
/// no account).
fn account_failures(account: Option<&str>, since_ms: i64) -> Expr {
    let Some(account) = account else {
        return Expr::val(0_i64);
    };
    counted(
        Query::select()
            .expr(Expr::col((login_failure::Entity, login_failure::Column::Id)).count())
            .from(login_failure::Entity)
            .and_where(
                Expr::col((login_failure::Entity, login_failure::Column::Account)).eq(account),
            )
            .and_where(Expr::col((login_failure::Entity, login_failure::Column::AtMs)).gt(since_ms))
            .to_owned(),
    )
}

/// An expression for the number of failures recorded for `address` since `since_ms` (0 for
/// no address).
fn address_failures(address: Option<&str>, since_ms: i64) -> Expr {
    let Some(address) = address else {
        return Expr::val(0_i64);
    };
    counted(
        Query::select()
            .expr(Expr::col((address_failure::Entity, address_failure::Column::Id)).count())
            .from(address_failure::Entity)
            .and_where(
                Expr::col((address_failure::Entity, address_failure::Column::Address)).eq(address),
            )
            .and_where(
                Expr::col((address_failure::Entity, address_failure::Column::AtMs)).gt(since_ms),
            )
            .to_owned(),
    )
}

fn counted(count: sea_orm::sea_query::SelectStatement) -> Expr {
    Expr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(count)))
}

/// A condition that holds while the keys' failures are under `account` and `address`'s
/// limits, for a statement of its own (see
/// [`crate::auth::sessions::create_unless_limited`]).
pub fn within_limits(keys: Keys<'_>, account: Limit, address: Limit) -> Expr {
    account_failures(keys.account, keys.account_since)
        .lt(i64::from(account.max))
        .and(address_failures(keys.address, keys.address_since).lt(i64::from(address.max)))
}

/// The failures recorded for `keys`, in one statement.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn count(db: &impl ConnectionTrait, keys: Keys<'_>) -> AppResult<Recorded> {
    let query = Query::select()
        .expr_as(
            account_failures(keys.account, keys.account_since),
            "account_failures",
        )
        .expr_as(
            address_failures(keys.address, keys.address_since),
            "address_failures",
        )
        .to_owned();
    let row = db.query_one(&query).await?;
    let read = |column: &str| {
        row.as_ref()
            .map(|row| row.try_get::<i64>("", column))
            .transpose()
            .map(|n| u64::try_from(n.unwrap_or(0)).unwrap_or(0))
    };
    Ok(Recorded {
        account: read("account_failures")?,
        address: read("address_failures")?,
    })
}

/// Records a failure for each of `keys` at `now_ms`; returns the failures in their windows,
/// this one included.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn record(db: &impl ConnectionTrait, keys: Keys<'_>, now_ms: i64) -> AppResult<Recorded> {
    if let Some(account) = keys.account {
        login_failure::Entity::insert(login_failure::ActiveModel {
            account: Set(account.to_owned()),
            at_ms: Set(now_ms),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    if let Some(address) = keys.address {
        address_failure::Entity::insert(address_failure::ActiveModel {
            address: Set(address.to_owned()),
            at_ms: Set(now_ms),
            ..Default::default()
        })
        .exec_without_returning(db)
        .await?;
    }
    count(db, keys).await
}

/// Deletes account failures recorded before `account_before_ms` and address failures
/// recorded before `address_before_ms`; returns how many rows went.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(
    db: &impl ConnectionTrait,
    account_before_ms: i64,
    address_before_ms: i64,
) -> AppResult<u64> {
    let accounts = login_failure::Entity::delete_many()
        .filter(login_failure::Column::AtMs.lt(account_before_ms))
        .exec(db)
        .await?
        .rows_affected;
    let addresses = address_failure::Entity::delete_many()
        .filter(address_failure::Column::AtMs.lt(address_before_ms))
        .exec(db)
        .await?
        .rows_affected;
    Ok(accounts + addresses)
}

/// Deletes every failure recorded for the account `key` (an operator's unlock).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn clear_account(db: &impl ConnectionTrait, key: &str) -> AppResult<u64> {
    Ok(login_failure::Entity::delete_many()
        .filter(login_failure::Column::Account.eq(key))
        .exec(db)
        .await?
        .rows_affected)
}

/// A user row with its account's and the client address's failures since a moment.
#[derive(Debug, sea_orm::FromQueryResult)]
struct WithFailures {
    #[sea_orm(nested)]
    user: user::Model,
    recent_failures: i64,
    address_failures: i64,
}

/// Finds a user by (normalised) email or id, with the failed password checks recorded for
/// its email and for `keys.address`, in one statement. (The account counted is the user's
/// email, whatever `keys.account` says.)
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn find_with_failures(
    db: &DatabaseConnection,
    by: sea_orm::Condition,
    keys: Keys<'_>,
) -> AppResult<Option<(user::Model, Recorded)>> {
    use sea_orm::QuerySelect;
    let found = user::Entity::find()
        .filter(by)
        .expr_as(recent_failures(keys.account_since), "recent_failures")
        .expr_as(
            address_failures(keys.address, keys.address_since),
            "address_failures",
        )
        .into_model::<WithFailures>()
        .one(db)
        .await?;
    Ok(found.map(|f| {
        let recorded = Recorded {
            account: u64::try_from(f.recent_failures).unwrap_or(0),
            address: u64::try_from(f.address_failures).unwrap_or(0),
        };
        (f.user, recorded)
    }))
}
