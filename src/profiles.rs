//! A bounded cache of user profiles (name, email, grants), so `me` and `greeting` need no
//! database round trip on a hit. It is kept right by the event log: a profile or grants change
//! on any instance drops the entry here within `WARDEN_REVOCATION_MAX_LAG`.
//!
//! A load races with invalidation: a row read just before a change commits must not be
//! cached after the change's event was applied. Each invalidation bumps a counter under a
//! small lock, and a load is stored only if no invalidation happened while it ran (same
//! lock). Hits take no lock.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use moka::sync::Cache;
use sea_orm::DatabaseConnection;

use crate::{
    error::AppResult,
    events::{Change, Event, Subscriber},
    meter,
    users::{self, Profile},
};

/// Most profiles held.
const CAPACITY: u64 = 10_000;
/// A profile is reloaded at least this often, whatever the feed says (a safety net only).
const TIME_TO_LIVE: Duration = Duration::from_secs(600);

/// User id → profile, invalidated by the event log.
pub struct ProfileCache {
    cache: Cache<i64, Arc<Profile>>,
    /// Invalidations so far; guarded so that "check, then insert" is atomic against them.
    invalidations: Mutex<u64>,
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache")
            .field("entries", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl Default for ProfileCache {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TIME_TO_LIVE)
                .build(),
            invalidations: Mutex::new(0),
        }
    }
}

impl ProfileCache {
    fn invalidations(&self) -> std::sync::MutexGuard<'_, u64> {
        self.invalidations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The user's profile, from memory or (on a miss) the database; `None` for no such user.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        user_id: i64,
    ) -> AppResult<Option<Arc<Profile>>> {
        if let Some(profile) = self.cache.get(&user_id) {
            meter::profile_cache(true);
            return Ok(Some(profile));
        }
        meter::profile_cache(false);
        let before = *self.invalidations();
        let Some(profile) = users::profile(db, user_id).await? else {
            return Ok(None);
        };
        let profile = Arc::new(profile);
        let invalidations = self.invalidations();
        if *invalidations == before {
            self.cache.insert(user_id, profile.clone());
        }
        drop(invalidations);
        Ok(Some(profile))
    }

    /// Drops a user's profile.
    pub fn invalidate(&self, user_id: i64) {
        let mut invalidations = self.invalidations();
        *invalidations += 1;
        self.cache.invalidate(&user_id);
    }
}

impl Subscriber for ProfileCache {
    fn apply(&self, events: &[Event]) {
        for event in events {
            match &event.change {
                Change::GrantsChanged { user_id, .. }
                | Change::ProfileChanged { user_id }
                | Change::UserDisabled { user_id }
                | Change::UserEnabled { user_id }
                | Change::UserDeleted { user_id } => {
                    self.invalidate(*user_id);
                }
                Change::JtiRevoked { .. }
                | Change::SessionRevoked { .. }
                | Change::AccountUnlocked { .. } => {}
            }
        }
    }
}
