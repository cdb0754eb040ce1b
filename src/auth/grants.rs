//! What a token's grants are worth now: grant changes bite at once.
//!
//! Every request already reads the user's `grants_version` and `grants_changed_at` in the
//! revocation check (same query, no extra round trip). Only a token made no later than the
//! last change needs the user's current grants; those come from this in-memory cache, keyed
//! by user and version, loaded lazily. A version read from the database each request keeps
//! the cache right across instances: another instance's change bumps the version.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::DatabaseConnection;

use crate::{
    error::AppResult,
    users::{self, Grants},
};

/// Most users whose grants are held at once; past it the cache starts over.
const MAX_ENTRIES: usize = 10_000;

/// Current grants per user, tagged with the grants version they belong to.
#[derive(Debug, Default)]
pub struct GrantsCache {
    entries: Mutex<HashMap<i64, (i64, Arc<Grants>)>>,
}

impl GrantsCache {
    /// The user's grants at `version`, from the cache or (once per version) the database.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn current(
        &self,
        db: &DatabaseConnection,
        user_id: i64,
        version: i64,
    ) -> AppResult<Arc<Grants>> {
        if let Some((cached_version, grants)) = self.lock().get(&user_id)
            && *cached_version >= version
        {
            return Ok(grants.clone());
        }
        let grants = Arc::new(users::load_grants(db, user_id).await?);
        self.store(user_id, version, grants.clone());
        Ok(grants)
    }

    /// Records grants just written by this instance.
    pub fn store(&self, user_id: i64, version: i64, grants: Arc<Grants>) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&user_id) {
            entries.clear();
        }
        match entries.get(&user_id) {
            Some((cached, _)) if *cached > version => {}
            _ => {
                entries.insert(user_id, (version, grants));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, (i64, Arc<Grants>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait;

    use super::*;
    use crate::{startup::connect_and_migrate, users::NewUser};

    #[tokio::test]
    async fn grants_load_once_per_version_and_reload_on_a_newer_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let db = connect_and_migrate(&url).await.expect("db");
        let account = users::create(
            &db,
            NewUser {
                email: "ana@example.com".into(),
                password: "correct horse battery".to_owned().into(),
                name: "Ana".into(),
                roles: vec!["editor".into()],
                permissions: vec![],
            },
        )
        .await
        .expect("user");
        let cache = GrantsCache::default();
        let first = cache
            .current(&db, account.user.id, 1)
            .await
            .expect("loaded");
        assert_eq!(first.roles, vec!["editor"]);

        // With the grants gone from the database, the same version is served from memory…
        db.execute_unprepared("DELETE FROM user_roles")
            .await
            .expect("deleted");
        let cached = cache
            .current(&db, account.user.id, 1)
            .await
            .expect("cached");
        assert_eq!(cached.roles, vec!["editor"]);
        // …and a newer version is loaded afresh.
        let fresh = cache
            .current(&db, account.user.id, 2)
            .await
            .expect("reloaded");
        assert!(fresh.roles.is_empty());
    }
}
