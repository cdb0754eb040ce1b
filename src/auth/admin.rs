//! What admins can do to other accounts: disable and enable them, end their sessions, delete
//! them, and (the operator's break-glass, from the command line only) set their password. Each change commits with its events, so the account's tokens are refused on every
//! instance (at once here, within `WARDEN_REVOCATION_MAX_LAG` elsewhere) and its open
//! subscriptions close. The last enabled admin cannot be disabled or deleted.
//!
//! Used by the GraphQL mutations and by the CLI (whose events reach running servers through
//! their feed).

use entity::user;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait,
    sea_query::Expr,
};

use crate::{
    auth::{failures, sessions, throttle},
    error::{AppError, AppResult},
    events::{Change, EventLog},
    password::{Owner, Passwords},
    users::{self, Account},
};

/// Takes the user's row (and, on SQLite, the database's write lock) as the transaction's first
/// write; `NOT_FOUND` for an unknown user.
async fn lock_user(txn: &impl ConnectionTrait, user_id: i64) -> AppResult<()> {
    let touched = user::Entity::update_many()
        .col_expr(user::Column::Disabled, Expr::col(user::Column::Disabled))
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    if touched.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Disables (ending every session at once) or re-enables an account. Re-enabling does not
/// bring ended sessions back.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `BAD_USER_INPUT` for the last enabled admin,
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn set_disabled(
    db: &DatabaseConnection,
    log: &EventLog,
    user_id: i64,
    disabled: bool,
) -> AppResult<Account> {
    let txn = db.begin().await?;
    lock_user(&txn, user_id).await?;
    let changed = user::Entity::update_many()
        .col_expr(user::Column::Disabled, Expr::value(disabled))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::Disabled.eq(!disabled))
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let mut changes = Vec::new();
    if changed && disabled {
        users::keep_an_admin(&txn, user_id).await?;
        // The account event first: a subscriber told of it learns "disabled", not just
        // "signed out".
        changes.push(Change::UserDisabled { user_id });
        let ended = sessions::revoke_all(&txn, user_id, None).await?;
        changes.extend(Change::sessions_revoked(user_id, ended));
    } else if changed {
        changes.push(Change::UserEnabled { user_id });
    }
    log.commit(txn, changes).await?;
    users::account(db, user_id).await?.ok_or(AppError::NotFound)
}

/// Ends every live session of a user; returns how many ended.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `SERVICE_UNAVAILABLE` when the database fails.
pub async fn revoke_sessions(
    db: &DatabaseConnection,
    log: &EventLog,
    user_id: i64,
) -> AppResult<u64> {
    let txn = db.begin().await?;
    lock_user(&txn, user_id).await?;
    let ended = sessions::revoke_all(&txn, user_id, None).await?;
    let count = ended.len() as u64;
    log.commit(txn, Change::sessions_revoked(user_id, ended))
        .await?;
    Ok(count)
}

/// Deletes an account with its sessions and grants; its tokens are refused from now on.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `BAD_USER_INPUT` for the last enabled admin,
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn delete(db: &DatabaseConnection, log: &EventLog, user_id: i64) -> AppResult<()> {
    let txn = db.begin().await?;
    lock_user(&txn, user_id).await?;
    users::keep_an_admin(&txn, user_id).await?;
    user::Entity::delete_by_id(user_id).exec(&txn).await?;
    log.commit(txn, vec![Change::UserDeleted { user_id }])
        .await?;
    Ok(())
}

/// Sets a user's password (the policy applies) and ends every session of the account, in one
/// transaction: whoever held the old password, or a token from it, is out. An administrator
/// never sets another user's password through the API; this is the operator's way in when
/// nothing else works.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `BAD_USER_INPUT` for a password the policy refuses,
/// `SERVICE_UNAVAILABLE` when the database fails or hashing is saturated.
pub async fn set_password(
    db: &DatabaseConnection,
    log: &EventLog,
    passwords: &Passwords,
    user_id: i64,
    password: secrecy::SecretString,
) -> AppResult<u64> {
    let user = users::find_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    passwords.check_policy(
        secrecy::ExposeSecret::expose_secret(&password),
        Owner {
            email: &user.email,
            name: &user.name,
        },
    )?;
    let hash = passwords.hash(password).await?;
    let txn = db.begin().await?;
    lock_user(&txn, user_id).await?;
    users::set_password_hash(&txn, user, hash).await?;
    let ended = sessions::revoke_all(&txn, user_id, None).await?;
    let count = ended.len() as u64;
    log.commit(txn, Change::sessions_revoked(user_id, ended))
        .await?;
    Ok(count)
}

/// Clears an account's failed-login count, in the database and (through the change's event)
/// in every instance's memory, so that a user locked out by someone guessing at their address
/// can sign in again at once. Returns how many recorded failures were cleared.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `SERVICE_UNAVAILABLE` when the database fails.
pub async fn unlock(db: &DatabaseConnection, log: &EventLog, user_id: i64) -> AppResult<u64> {
    let user = users::find_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let account = throttle::account_key(&user.email);
    let txn = db.begin().await?;
    let cleared = failures::clear_account(&txn, &account).await?;
    let change = Change::AccountUnlocked { user_id, account };
    log.commit(txn, vec![change]).await?;
    Ok(cleared)
}
