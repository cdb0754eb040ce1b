//! User accounts and their grants: validation, creation, lookup, and grant changes.
//!
//! Grants are direct: a user holds roles and permissions of their own (`user_roles`,
//! `user_permissions`). Tokens carry both lists as they were when the token was made.

use entity::{user, user_permission, user_role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set, SqlErr, TransactionTrait, sea_query::Expr,
};
use secrecy::SecretString;
use time::OffsetDateTime;

mod grants;
mod validate;

use grants::write_grants;
pub use grants::{ADMIN_ROLE, keep_an_admin, load_grants, set_grants};
use validate::normalize_name;
pub use validate::{normalize_email, normalize_grants};

use crate::{
    error::{AppError, AppResult},
    events::{Change, EventLog},
    password::{Owner, Passwords},
};

/// The sentence for a taken email (also how the bootstrap tells "already there").
pub const EMAIL_TAKEN: &str = "A user with this email already exists.";

/// A user's roles and permissions, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Role names.
    pub roles: Vec<String>,
    /// Permission names.
    pub permissions: Vec<String>,
}

/// A user row together with its grants.
#[derive(Debug, Clone)]
pub struct Account {
    /// The row.
    pub user: user::Model,
    /// Its grants.
    pub grants: Grants,
}

/// What clients may see of a user: the row without its password hash, and its grants. This
/// is what the profile cache holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// User id.
    pub id: i64,
    /// Email (normalised).
    pub email: String,
    /// Display name.
    pub name: String,
    /// When the account was created.
    pub created_at: OffsetDateTime,
    /// Roles and permissions now.
    pub grants: Grants,
    /// Disabled by an admin.
    pub disabled: bool,
}

impl From<Account> for Profile {
    fn from(account: Account) -> Self {
        Self {
            id: account.user.id,
            email: account.user.email,
            name: account.user.name,
            created_at: account.user.created_at,
            disabled: account.user.disabled,
            grants: account.grants,
        }
    }
}

/// What creating a user needs.
#[derive(Debug)]
pub struct NewUser {
    /// Email as typed; trimmed and lower-cased here.
    pub email: String,
    /// Plain password; checked against the policy and hashed here.
    pub password: SecretString,
    /// Display name.
    pub name: String,
    /// Roles to grant.
    pub roles: Vec<String>,
    /// Permissions to grant.
    pub permissions: Vec<String>,
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Creates a user and its grants in one transaction.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad email, name, password or grant, or an email already taken;
/// `SERVICE_UNAVAILABLE` when the database fails or hashing is saturated.
pub async fn create(
    db: &DatabaseConnection,
    passwords: &Passwords,
    new: NewUser,
) -> AppResult<Account> {
    let prepared = prepare(db, passwords, new).await?;
    let txn = db.begin().await?;
    let account = insert(&txn, prepared).await?;
    txn.commit().await?;
    Ok(account)
}

/// A new user checked and with its password hashed, ready to insert.
#[derive(Debug)]
pub struct PreparedUser {
    email: String,
    name: String,
    password_hash: String,
    grants: Grants,
}

/// Checks a new user's fields and hashes its password (through the hashing gate), before any
/// transaction is opened: hashing inside one would hold it for the hash's duration.
///
/// A taken email is refused before hashing, so that sign-ups with existing emails cost no
/// argon2 run; [`insert`] still maps the unique violation, which alone is race-free.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad email, name, password or grant, or an email already taken;
/// `SERVICE_UNAVAILABLE` when the database fails or hashing is saturated.
pub async fn prepare(
    db: &impl ConnectionTrait,
    passwords: &Passwords,
    new: NewUser,
) -> AppResult<PreparedUser> {
    let email = normalize_email(&new.email)?;
    let name = normalize_name(&new.name)?;
    passwords.check_policy(
        secrecy::ExposeSecret::expose_secret(&new.password),
        Owner {
            email: &email,
            name: &name,
        },
    )?;
    let grants = Grants {
        roles: normalize_grants("Role", &new.roles)?,
        permissions: normalize_grants("Permission", &new.permissions)?,
    };
    if find_by_email(db, &email).await?.is_some() {
        return Err(AppError::bad_input(EMAIL_TAKEN));
    }
    let password_hash = passwords.hash(new.password).await?;
    Ok(PreparedUser {
        email,
        name,
        password_hash,
        grants,
    })
}

/// Inserts a prepared user and its grants; run it inside the caller's transaction.
///
/// # Errors
/// `BAD_USER_INPUT` for an email already taken, `SERVICE_UNAVAILABLE` when the database fails.
pub async fn insert(db: &impl ConnectionTrait, prepared: PreparedUser) -> AppResult<Account> {
    // Insert and map the unique violation: checking first would race with a concurrent insert.
    let inserted = user::ActiveModel {
        email: Set(prepared.email),
        name: Set(prepared.name),
        password_hash: Set(prepared.password_hash),
        created_at: Set(OffsetDateTime::now_utc()),
        grants_version: Set(0),
        grants_changed_at: Set(0),
        ..Default::default()
    }
    .insert(db)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(e) if is_unique_violation(&e) => return Err(AppError::bad_input(EMAIL_TAKEN)),
        Err(e) => return Err(e.into()),
    };
    write_grants(db, user.id, &prepared.grants).await?;
    Ok(Account {
        user,
        grants: prepared.grants,
    })
}

/// Finds a user by (normalised) email.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find().filter(email_is(email)).one(db).await?)
}

/// The condition for a login email, normalised as stored.
pub fn email_is(email: &str) -> sea_orm::Condition {
    sea_orm::Condition::all().add(user::Column::Email.eq(email.trim().to_lowercase()))
}

/// The condition for a user id.
pub fn id_is(id: i64) -> sea_orm::Condition {
    sea_orm::Condition::all().add(user::Column::Id.eq(id))
}

/// Finds a user by id.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn find_by_id(db: &DatabaseConnection, id: i64) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id).one(db).await?)
}

/// A user's profile by id (three reads: the row and its two kinds of grants).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn profile(db: &DatabaseConnection, id: i64) -> AppResult<Option<Profile>> {
    Ok(account(db, id).await?.map(Profile::from))
}

/// Finds a user and its grants by id.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn account(db: &DatabaseConnection, id: i64) -> AppResult<Option<Account>> {
    let Some(user) = find_by_id(db, id).await? else {
        return Ok(None);
    };
    let grants = load_grants(db, id).await?;
    Ok(Some(Account { user, grants }))
}

/// Replaces a user's password hash.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn set_password_hash(
    db: &impl ConnectionTrait,
    user: user::Model,
    password_hash: String,
) -> AppResult<()> {
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(password_hash);
    active.update(db).await?;
    Ok(())
}

/// Replaces a user's password hash only if it is still `old` (a re-hash must not undo a
/// password change made meanwhile). Returns whether it was replaced.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn replace_password_hash(
    db: &impl ConnectionTrait,
    user_id: i64,
    old: &str,
    new: String,
) -> AppResult<bool> {
    let result = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new))
        .filter(user::Column::Id.eq(user_id))
        .filter(user::Column::PasswordHash.eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Creates the bootstrap admin when it does not exist yet; a concurrent instance creating it
/// first is not an error.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad email or password, `SERVICE_UNAVAILABLE` when the database fails.
pub async fn ensure_admin(
    db: &DatabaseConnection,
    passwords: &Passwords,
    email: &str,
    password: SecretString,
) -> AppResult<bool> {
    if find_by_email(db, &normalize_email(email)?).await?.is_some() {
        return Ok(false);
    }
    let created = create(
        db,
        passwords,
        NewUser {
            email: email.to_owned(),
            password,
            name: "Administrator".to_owned(),
            roles: vec!["admin".to_owned()],
            permissions: vec![],
        },
    )
    .await;
    match created {
        Ok(_) => Ok(true),
        Err(AppError::BadUserInput(msg)) if msg == EMAIL_TAKEN => Ok(false),
        Err(e) => Err(e),
    }
}

/// How many accounts there are (the admin overview).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn count(db: &DatabaseConnection) -> AppResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(user::Entity::find().count(db).await?)
}

/// The ids of the disabled accounts (what the revocation state holds from start).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn disabled_ids(db: &impl ConnectionTrait) -> AppResult<Vec<i64>> {
    use sea_orm::QuerySelect;
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Disabled.eq(true))
        .into_tuple()
        .all(db)
        .await?)
}

/// A page of accounts in id order, after `after` (exclusive), at most `limit` long.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn page(
    db: &DatabaseConnection,
    after: Option<i64>,
    limit: u64,
) -> AppResult<Vec<Account>> {
    use sea_orm::QuerySelect;
    let mut query = user::Entity::find()
        .order_by_asc(user::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    let rows = query.all(db).await?;
    let ids: Vec<i64> = rows.iter().map(|u| u.id).collect();
    // Two queries for the whole page's grants, not two per user.
    let roles = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(ids.clone()))
        .order_by_asc(user_role::Column::Role)
        .all(db)
        .await?;
    let permissions = user_permission::Entity::find()
        .filter(user_permission::Column::UserId.is_in(ids))
        .order_by_asc(user_permission::Column::Permission)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|user| {
            let grants = Grants {
                roles: roles
                    .iter()
                    .filter(|r| r.user_id == user.id)
                    .map(|r| r.role.clone())
                    .collect(),
                permissions: permissions
                    .iter()
                    .filter(|p| p.user_id == user.id)
                    .map(|p| p.permission.clone())
                    .collect(),
            };
            Account { user, grants }
        })
        .collect())
}

/// Changes a user's display name, with a `profile_changed` event so that every instance's
/// profile cache drops the old one.
///
/// # Errors
/// `BAD_USER_INPUT` for a bad name, `NOT_FOUND` for an unknown user,
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn rename(
    db: &DatabaseConnection,
    log: &EventLog,
    user_id: i64,
    name: &str,
) -> AppResult<Account> {
    let name = normalize_name(name)?;
    let txn = db.begin().await?;
    let renamed = user::Entity::update_many()
        .col_expr(user::Column::Name, Expr::value(name))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    if renamed.rows_affected == 0 {
        return Err(AppError::NotFound);
    }
    let user = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let grants = load_grants(&txn, user_id).await?;
    log.commit(txn, vec![Change::ProfileChanged { user_id }])
        .await?;
    Ok(Account { user, grants })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            normalize_email("  Ana@Example.COM ").expect("valid"),
            "ana@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_bad_user_input() {
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "a b@example.com",
            "a@b@c",
            "ana@.com",
        ] {
            assert!(
                matches!(normalize_email(bad), Err(AppError::BadUserInput(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn grants_are_sorted_unique_and_checked() {
        let names = vec!["editor".to_owned(), "admin".to_owned(), "editor".to_owned()];
        assert_eq!(
            normalize_grants("Role", &names).expect("valid"),
            vec!["admin", "editor"]
        );
        assert!(normalize_grants("Role", &["has space".to_owned()]).is_err());
        assert!(normalize_grants("Role", &[String::new()]).is_err());
    }
}
