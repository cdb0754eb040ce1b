//! Recording changes: [`EventLog::commit`] appends a change's events in its transaction and
//! applies them to this process's subscribers at commit; the [`Horizon`] says how long they
//! matter.
//!
//! Tailing reads "rows after the last id applied", which is only safe if ids become visible in
//! order. A sequence hands out ids at insert, not at commit, so on PostgreSQL two writers could
//! commit out of id order and a reader would skip the smaller id. Writers therefore take one
//! transaction-scoped advisory lock before they insert: ids are handed out and committed one
//! writer at a time. Writes that append events are rare, so serialising them costs nothing that
//! matters; reads never take the lock. SQLite has a single writer anyway.

use std::sync::Arc;

use entity::auth_event;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, Statement};

use super::{Change, Event, store};
use crate::{clock::now_ms, error::AppResult};

/// The NOTIFY channel that wakes tailers on PostgreSQL.
pub const CHANNEL: &str = "warden_events";
/// Advisory lock key that serialises event writers (an arbitrary constant: "WARDEN" in hex).
const WRITER_LOCK: i64 = 0x5741_5244_454E;

/// Something that keeps state derived from the log (revocation state, profile cache).
pub trait Subscriber: Send + Sync {
    /// Applies events in log order. Must be idempotent: an instance sees its own events twice
    /// (at commit, then from the feed).
    fn apply(&self, events: &[Event]);

    /// Drops what no token can be affected by any more (called about once a minute).
    fn prune(&self, _now: i64) {}
}

/// Events appended inside a transaction that has not committed yet.
#[must_use = "pass to EventLog::committed after the transaction commits"]
#[derive(Debug, Default)]
pub struct Pending(Vec<Event>);

/// How long a change can matter to a token judged in memory: an access token minted now is
/// refused or accepted for at most its lifetime plus the leeway. Refresh tokens are judged
/// against the database when used (sessions, the persisted revocation list, the account's
/// state), so they need no memory of their own, and memory and start-up follow the changes
/// of the last access lifetime, not the history. Disabled accounts are the exception the
/// revocation state keeps for as long as they stay disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    seconds: i64,
}

impl Horizon {
    /// Changes matter for `access_ttl` plus `leeway_secs`.
    pub fn new(access_ttl: std::time::Duration, leeway_secs: i64) -> Self {
        let access = i64::try_from(access_ttl.as_secs()).unwrap_or(i64::MAX);
        Self {
            seconds: access.saturating_add(leeway_secs.max(0)),
        }
    }

    /// Until when (Unix seconds) a change made now matters.
    pub fn until_now(self) -> i64 {
        crate::clock::now_secs().saturating_add(self.seconds)
    }

    /// How long a change matters, in seconds.
    pub fn seconds(self) -> i64 {
        self.seconds
    }
}

impl Default for Horizon {
    /// The default access lifetime (15 minutes), no leeway.
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(15 * 60), 0)
    }
}

/// Records changes and hands committed ones to this process's subscribers.
///
/// Cloning is cheap (one `Arc`); every clone shares the subscribers.
#[derive(Clone, Default)]
pub struct EventLog {
    subscribers: Arc<Vec<Arc<dyn Subscriber>>>,
    horizon: Horizon,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("subscribers", &self.subscribers.len())
            .field("horizon", &self.horizon)
            .finish()
    }
}

impl EventLog {
    /// A log whose committed events are applied to `subscribers` in this process, each event
    /// mattering for `horizon`.
    pub fn new(subscribers: Vec<Arc<dyn Subscriber>>, horizon: Horizon) -> Self {
        Self {
            subscribers: Arc::new(subscribers),
            horizon,
        }
    }

    /// How long the log's events matter.
    pub fn horizon(&self) -> Horizon {
        self.horizon
    }

    /// The one way to record a change: appends `changes` inside `txn` (after whatever the
    /// caller wrote there), commits it, and applies the events to this instance at once, so
    /// the change and its events commit together or not at all.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails (nothing is committed then).
    pub async fn commit(&self, txn: DatabaseTransaction, changes: Vec<Change>) -> AppResult<()> {
        let pending = self.append(&txn, changes).await?;
        txn.commit().await?;
        self.committed(pending);
        Ok(())
    }

    /// Appends `changes` inside the caller's transaction `txn`, without committing it: only for
    /// a writer that must hold the transaction open (the test of writers' ordering); everyone
    /// else calls [`Self::commit`]. On PostgreSQL this takes the writers' lock until `txn`
    /// ends, and queues the NOTIFY that wakes the tailers at commit.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        changes: Vec<Change>,
    ) -> AppResult<Pending> {
        if changes.is_empty() {
            return Ok(Pending::default());
        }
        let backend = txn.get_database_backend();
        lock_for_transaction(txn, WRITER_LOCK).await?;
        let created_at_ms = now_ms();
        let horizon = self.horizon.until_now();
        let mut events = Vec::with_capacity(changes.len());
        for change in changes {
            let expires_at = match &change {
                Change::JtiRevoked { until, .. } => *until,
                _ => horizon,
            };
            let row = store::row(&change, expires_at, created_at_ms)?;
            let id = auth_event::Entity::insert(row)
                .exec(txn)
                .await?
                .last_insert_id;
            events.push(Event {
                id,
                change,
                expires_at,
                created_at_ms,
            });
        }
        if backend == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                backend,
                "SELECT pg_notify($1, '')",
                [CHANNEL.into()],
            ))
            .await?;
        }
        Ok(Pending(events))
    }

    /// Applies events whose transaction has committed to this process's subscribers, so this
    /// instance acts on its own changes at once rather than at the next poll (after
    /// [`Self::append`]; [`Self::commit`] does it by itself).
    pub fn committed(&self, pending: Pending) {
        self.dispatch(&pending.0);
    }

    /// Lets every subscriber drop what no token can be affected by any more.
    pub fn prune(&self, now: i64) {
        for subscriber in self.subscribers.iter() {
            subscriber.prune(now);
        }
    }

    /// Hands events (from the feed or from a commit) to every subscriber.
    pub fn dispatch(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        for subscriber in self.subscribers.iter() {
            subscriber.apply(events);
        }
    }
}

/// Takes PostgreSQL advisory lock `key` until `txn` ends, serialising the transactions that
/// take it; nothing on SQLite, whose writers are serialised by the database already.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn lock_for_transaction(txn: &impl ConnectionTrait, key: i64) -> AppResult<()> {
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}
