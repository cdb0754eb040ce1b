//! Accounts as the API and the command line change and read them: creation, grants, names,
//! disabling, ending sessions, deletion, the operator's break-glass, and the counts and pages
//! the admin fields show.
//!
//! One service beside [`crate::auth::service::AuthService`] (the flows that take a password or
//! a token), owning what every change needs (the database, the event log with its horizon, the
//! password policy and hashing gate), so that a resolver or a command calls
//! `accounts.set_grants(id, …)` rather than passing a database, a log and a horizon to a free
//! function. Cloning is cheap: each field is a handle.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::{
    auth::{admin, sessions},
    error::AppResult,
    events::EventLog,
    password::Passwords,
    profiles::ProfileCache,
    users::{self, Account, NewUser, Profile},
};

/// The account store's façade.
#[derive(Clone, Debug)]
pub struct Accounts {
    db: DatabaseConnection,
    log: EventLog,
    passwords: Passwords,
    profiles: Arc<ProfileCache>,
}

impl Accounts {
    /// Accounts in `db`, recording changes in `log`, hashing with `passwords`, reading
    /// profiles through `profiles`.
    pub fn new(
        db: DatabaseConnection,
        log: EventLog,
        passwords: Passwords,
        profiles: Arc<ProfileCache>,
    ) -> Self {
        Self {
            db,
            log,
            passwords,
            profiles,
        }
    }

    /// Creates an account with its grants; the password policy applies.
    ///
    /// # Errors
    /// `BAD_USER_INPUT` for bad fields or a taken email, `SERVICE_UNAVAILABLE` when the
    /// database fails or hashing is saturated.
    pub async fn create(&self, new: NewUser) -> AppResult<Account> {
        users::create(&self.db, &self.passwords, new).await
    }

    /// Replaces a user's roles and/or permissions; tokens already issued lose what was taken
    /// away, on every instance.
    ///
    /// # Errors
    /// See [`users::set_grants`].
    pub async fn set_grants(
        &self,
        user_id: i64,
        roles: Option<&[String]>,
        permissions: Option<&[String]>,
    ) -> AppResult<Account> {
        users::set_grants(&self.db, &self.log, user_id, roles, permissions).await
    }

    /// Renames a user; every instance's profile cache drops the old name.
    ///
    /// # Errors
    /// See [`users::rename`].
    pub async fn rename(&self, user_id: i64, name: &str) -> AppResult<Account> {
        users::rename(&self.db, &self.log, user_id, name).await
    }

    /// Disables (ending every session) or re-enables an account.
    ///
    /// # Errors
    /// See [`admin::set_disabled`].
    pub async fn set_disabled(&self, user_id: i64, disabled: bool) -> AppResult<Account> {
        admin::set_disabled(&self.db, &self.log, user_id, disabled).await
    }

    /// Ends every session of a user; how many ended.
    ///
    /// # Errors
    /// See [`admin::revoke_sessions`].
    pub async fn revoke_sessions(&self, user_id: i64) -> AppResult<u64> {
        admin::revoke_sessions(&self.db, &self.log, user_id).await
    }

    /// Deletes an account; its tokens die at once.
    ///
    /// # Errors
    /// See [`admin::delete`].
    pub async fn delete(&self, user_id: i64) -> AppResult<()> {
        admin::delete(&self.db, &self.log, user_id).await
    }

    /// The operator's break-glass: sets a password and ends every session; how many ended.
    ///
    /// # Errors
    /// See [`admin::set_password`].
    pub async fn set_password(&self, user_id: i64, password: SecretString) -> AppResult<u64> {
        admin::set_password(&self.db, &self.log, &self.passwords, user_id, password).await
    }

    /// Clears an account's failed-login count, on every instance; how many were cleared.
    ///
    /// # Errors
    /// See [`admin::unlock`].
    pub async fn unlock(&self, user_id: i64) -> AppResult<u64> {
        admin::unlock(&self.db, &self.log, user_id).await
    }

    /// The account with this email, if any.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn find_by_email(&self, email: &str) -> AppResult<Option<entity::user::Model>> {
        users::find_by_email(&self.db, email).await
    }

    /// A user's profile, from the cache the event log keeps right.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn profile(&self, user_id: i64) -> AppResult<Option<Arc<Profile>>> {
        self.profiles.get(&self.db, user_id).await
    }

    /// A page of accounts in id order after `after`, at most `limit` long.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn page(&self, after: Option<i64>, limit: u64) -> AppResult<Vec<Account>> {
        users::page(&self.db, after, limit).await
    }

    /// How many accounts there are.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn count(&self) -> AppResult<u64> {
        users::count(&self.db).await
    }

    /// How many sessions are live at `now` (Unix seconds), over all accounts.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn live_sessions(&self, now: i64) -> AppResult<u64> {
        sessions::count_live(&self.db, now).await
    }

    /// How many sessions started since `since` (logins and sign-ups).
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn sessions_started_since(&self, since: OffsetDateTime) -> AppResult<u64> {
        sessions::count_started_since(&self.db, since).await
    }

    /// A user's live sessions at `now`, newest first.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn sessions_of(
        &self,
        user_id: i64,
        now: i64,
    ) -> AppResult<Vec<entity::session::Model>> {
        sessions::list_live(&self.db, user_id, now).await
    }
}
