//! Grants: writing a user's roles and permissions with the version that lets every instance
//! tell a stale token, and the rule that the last enabled admin keeps role `admin`.

use entity::{user, user_permission, user_role};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use super::{Account, Grants, normalize_grants};
use crate::{
    clock::now_secs,
    error::{AppError, AppResult},
    events::{Change, EventLog},
};

pub(super) async fn write_grants(
    db: &impl ConnectionTrait,
    user_id: i64,
    grants: &Grants,
) -> AppResult<()> {
    user_role::Entity::delete_many()
        .filter(user_role::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    user_permission::Entity::delete_many()
        .filter(user_permission::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if !grants.roles.is_empty() {
        user_role::Entity::insert_many(grants.roles.iter().map(|role| user_role::ActiveModel {
            user_id: Set(user_id),
            role: Set(role.clone()),
        }))
        .exec(db)
        .await?;
    }
    if !grants.permissions.is_empty() {
        user_permission::Entity::insert_many(grants.permissions.iter().map(|permission| {
            user_permission::ActiveModel {
                user_id: Set(user_id),
                permission: Set(permission.clone()),
            }
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

/// The role whose last enabled holder must stay.
pub const ADMIN_ROLE: &str = "admin";
/// Advisory lock key serialising changes to who is an enabled admin (PostgreSQL).
const ADMINS_LOCK: i64 = 0x5741_5244_4144;

/// Refuses (with `BAD_USER_INPUT`) a change that would leave no enabled admin: `user_id`
/// is about to lose role admin, be disabled or be deleted. Run inside the change's transaction
/// after its first write: on PostgreSQL it takes a lock that serialises every such check, so
/// two admins demoting each other at the same moment cannot both succeed; on SQLite the
/// transaction already holds the database's write lock.
///
/// # Errors
/// `BAD_USER_INPUT` for the last enabled admin; `SERVICE_UNAVAILABLE` when the database fails.
pub async fn keep_an_admin(db: &impl ConnectionTrait, user_id: i64) -> AppResult<()> {
    crate::events::lock_for_transaction(db, ADMINS_LOCK).await?;
    let is_admin = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .filter(user_role::Column::Role.eq(ADMIN_ROLE))
        .one(db)
        .await?
        .is_some();
    if !is_admin {
        return Ok(());
    }
    use sea_orm::{PaginatorTrait, QuerySelect, RelationTrait, sea_query::JoinType};
    let others = user_role::Entity::find()
        .join(JoinType::InnerJoin, user_role::Relation::User.def())
        .filter(user_role::Column::Role.eq(ADMIN_ROLE))
        .filter(user_role::Column::UserId.ne(user_id))
        .filter(user::Column::Disabled.eq(false))
        .count(db)
        .await?;
    if others == 0 {
        return Err(AppError::bad_input(
            "The last enabled admin cannot be disabled, deleted or lose role admin.",
        ));
    }
    Ok(())
}

/// Replaces one kind of a user's grants and bumps the grants version, in one transaction
/// that also appends the `grants_changed` event (with the grants now held). Tokens minted
/// before the change lose what it took away.
///
/// The version is bumped by the first statement, in the `UPDATE` itself: it takes the row's
/// write lock, so a concurrent change of the same user waits for this one to commit and then
/// reads its grants. Neither change is lost, and versions never repeat.
///
/// # Errors
/// `NOT_FOUND` for an unknown user, `BAD_USER_INPUT` for a bad name,
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn set_grants(
    db: &DatabaseConnection,
    log: &EventLog,
    user_id: i64,
    roles: Option<&[String]>,
    permissions: Option<&[String]>,
) -> AppResult<Account> {
    let roles = roles.map(|r| normalize_grants("Role", r)).transpose()?;
    let permissions = permissions
        .map(|p| normalize_grants("Permission", p))
        .transpose()?;
    let txn = db.begin().await?;
    let bumped = user::Entity::update_many()
        .col_expr(
            user::Column::GrantsVersion,
            Expr::col(user::Column::GrantsVersion).add(1),
        )
        .col_expr(user::Column::GrantsChangedAt, Expr::value(now_secs()))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    if bumped.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    let user = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let current = load_grants(&txn, user_id).await?;
    let grants = Grants {
        roles: roles.unwrap_or(current.roles),
        permissions: permissions.unwrap_or(current.permissions),
    };
    if !grants.roles.iter().any(|r| r == ADMIN_ROLE) && !user.disabled {
        keep_an_admin(&txn, user_id).await?;
    }
    write_grants(&txn, user_id, &grants).await?;
    let change = Change::GrantsChanged {
        user_id,
        version: user.grants_version,
        roles: grants.roles.clone(),
        permissions: grants.permissions.clone(),
    };
    log.commit(txn, vec![change]).await?;
    Ok(Account { user, grants })
}

/// A user's grants.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn load_grants(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Grants> {
    let roles = user_role::Entity::find()
        .filter(user_role::Column::UserId.eq(user_id))
        .order_by_asc(user_role::Column::Role)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.role)
        .collect();
    let permissions = user_permission::Entity::find()
        .filter(user_permission::Column::UserId.eq(user_id))
        .order_by_asc(user_permission::Column::Permission)
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.permission)
        .collect();
    Ok(Grants { roles, permissions })
}
