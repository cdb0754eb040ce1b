//! The event log: every change that can kill or weaken a token is appended to `auth_events`
//! in the same transaction as the change itself, so the change and its event commit together
//! or not at all.
//!
//! Instances keep what the guards need in memory (see [`crate::auth::state`]) and learn of
//! changes two ways: their own writes are applied at commit ([`EventLog::committed`]), and
//! [`crate::auth::feed`] tails the table for everyone else's (other instances, the CLI).
//!
//! Tailing reads "rows after the last id applied", which is only safe if ids become visible in
//! order. A sequence hands out ids at insert, not at commit, so on PostgreSQL two writers could
//! commit out of id order and a reader would skip the smaller id. Writers therefore take one
//! transaction-scoped advisory lock before they insert: ids are handed out and committed one
//! writer at a time. Writes that append events are rare (logout, revocation, grant changes),
//! so serialising them costs nothing that matters; reads never take the lock. SQLite has a
//! single writer anyway.

use std::sync::Arc;

use entity::auth_event;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde::{Deserialize, Serialize};

use crate::{
    clock::now_ms,
    error::{AppError, AppResult, Fault},
};

/// The NOTIFY channel that wakes tailers on PostgreSQL.
pub const CHANNEL: &str = "warden_events";
/// Advisory lock key that serialises event writers (an arbitrary constant: "WARDEN" in hex).
const WRITER_LOCK: i64 = 0x5741_5244_454E;

/// A change, as the guards see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One token (by `jti`) is refused from now on.
    JtiRevoked {
        /// The token id.
        jti: String,
        /// Its user, when it is one of ours.
        user_id: Option<i64>,
    },
    /// Every token of a session is refused from now on.
    SessionRevoked {
        /// The session.
        session_id: String,
        /// Its user.
        user_id: i64,
    },
    /// A user's grants changed; tokens with an older grants version keep only what the user
    /// still holds.
    GrantsChanged {
        /// The user.
        user_id: i64,
        /// The new grants version.
        version: i64,
        /// Roles now held.
        roles: Vec<String>,
        /// Permissions now held.
        permissions: Vec<String>,
    },
    /// A user's profile (name, email) changed: caches drop it.
    ProfileChanged {
        /// The user.
        user_id: i64,
    },
    /// An account was disabled: every token of the user is refused until it is enabled again
    /// (its sessions were ended by the same transaction, so only tokens minted later work).
    UserDisabled {
        /// The user.
        user_id: i64,
    },
    /// A disabled account was enabled again.
    UserEnabled {
        /// The user.
        user_id: i64,
    },
    /// An account was deleted: every token of the user is refused.
    UserDeleted {
        /// The user.
        user_id: i64,
    },
}

impl Change {
    fn kind(&self) -> &'static str {
        match self {
            Self::JtiRevoked { .. } => "jti_revoked",
            Self::SessionRevoked { .. } => "session_revoked",
            Self::GrantsChanged { .. } => "grants_changed",
            Self::ProfileChanged { .. } => "profile_changed",
            Self::UserDisabled { .. } => "user_disabled",
            Self::UserEnabled { .. } => "user_enabled",
            Self::UserDeleted { .. } => "user_deleted",
        }
    }

    /// The changes for ended sessions of one user, each mattering until `until`.
    pub fn sessions_revoked(
        user_id: i64,
        ids: impl IntoIterator<Item = String>,
        until: i64,
    ) -> Vec<(Self, i64)> {
        ids.into_iter()
            .map(|session_id| {
                (
                    Self::SessionRevoked {
                        session_id,
                        user_id,
                    },
                    until,
                )
            })
            .collect()
    }

    /// The user the change is about, if known.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::JtiRevoked { user_id, .. } => *user_id,
            Self::SessionRevoked { user_id, .. }
            | Self::GrantsChanged { user_id, .. }
            | Self::ProfileChanged { user_id }
            | Self::UserDisabled { user_id }
            | Self::UserEnabled { user_id }
            | Self::UserDeleted { user_id } => Some(*user_id),
        }
    }
}

/// A change with its place in the log and how long it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log.
    pub id: i64,
    /// What changed.
    pub change: Change,
    /// Unix seconds after which no token this event can affect is still valid.
    pub expires_at: i64,
    /// When it was written, Unix milliseconds.
    pub created_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
struct GrantsPayload {
    roles: Vec<String>,
    permissions: Vec<String>,
}

impl Event {
    /// Reads a row; `None` for a kind this version does not know (written by a newer one).
    fn from_row(row: auth_event::Model) -> Option<Self> {
        let change = match row.kind.as_str() {
            "jti_revoked" => Change::JtiRevoked {
                jti: row.jti?,
                user_id: row.user_id,
            },
            "session_revoked" => Change::SessionRevoked {
                session_id: row.session_id?,
                user_id: row.user_id?,
            },
            "grants_changed" => {
                let grants: GrantsPayload = serde_json::from_str(row.payload.as_deref()?).ok()?;
                Change::GrantsChanged {
                    user_id: row.user_id?,
                    version: row.grants_version?,
                    roles: grants.roles,
                    permissions: grants.permissions,
                }
            }
            "profile_changed" => Change::ProfileChanged {
                user_id: row.user_id?,
            },
            "user_disabled" => Change::UserDisabled {
                user_id: row.user_id?,
            },
            "user_enabled" => Change::UserEnabled {
                user_id: row.user_id?,
            },
            "user_deleted" => Change::UserDeleted {
                user_id: row.user_id?,
            },
            _ => return None,
        };
        Some(Self {
            id: row.id,
            change,
            expires_at: row.expires_at,
            created_at_ms: row.created_at_ms,
        })
    }
}

/// Something that keeps state derived from the log (revocation state, profile cache).
pub trait Subscriber: Send + Sync {
    /// Applies events in log order. Must be idempotent: an instance sees its own events twice
    /// (at commit, then from the feed).
    fn apply(&self, events: &[Event]);
}

/// Events appended inside a transaction that has not committed yet.
#[must_use = "pass to EventLog::committed after the transaction commits"]
#[derive(Debug, Default)]
pub struct Pending(Vec<Event>);

/// Appends events and hands committed ones to this process's subscribers.
#[derive(Clone, Default)]
pub struct EventLog {
    subscribers: Arc<Vec<Arc<dyn Subscriber>>>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("subscribers", &self.subscribers.len())
            .finish()
    }
}

impl EventLog {
    /// A log whose committed events are applied to `subscribers` in this process.
    pub fn new(subscribers: Vec<Arc<dyn Subscriber>>) -> Self {
        Self {
            subscribers: Arc::new(subscribers),
        }
    }

    /// Appends `changes`, each mattering until `expires_at`, inside the caller's transaction
    /// `txn`. On PostgreSQL this takes the writers' lock until `txn` ends, and queues the
    /// NOTIFY that wakes the tailers at commit.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn append(
        &self,
        txn: &impl ConnectionTrait,
        changes: Vec<(Change, i64)>,
    ) -> AppResult<Pending> {
        if changes.is_empty() {
            return Ok(Pending::default());
        }
        let backend = txn.get_database_backend();
        lock_for_transaction(txn, WRITER_LOCK).await?;
        let created_at_ms = now_ms();
        let mut events = Vec::with_capacity(changes.len());
        for (change, expires_at) in changes {
            let mut row = auth_event::ActiveModel {
                id: NotSet,
                kind: Set(change.kind().to_owned()),
                user_id: Set(change.user_id()),
                session_id: Set(None),
                jti: Set(None),
                grants_version: Set(None),
                payload: Set(None),
                expires_at: Set(expires_at),
                created_at_ms: Set(created_at_ms),
            };
            match &change {
                Change::JtiRevoked { jti, .. } => row.jti = Set(Some(jti.clone())),
                Change::SessionRevoked { session_id, .. } => {
                    row.session_id = Set(Some(session_id.clone()));
                }
                Change::GrantsChanged {
                    version,
                    roles,
                    permissions,
                    ..
                } => {
                    row.grants_version = Set(Some(*version));
                    let payload = serde_json::to_string(&GrantsPayload {
                        roles: roles.clone(),
                        permissions: permissions.clone(),
                    })
                    .map_err(|e| AppError::Internal(Fault::Serialise(e)))?;
                    row.payload = Set(Some(payload));
                }
                Change::ProfileChanged { .. }
                | Change::UserDisabled { .. }
                | Change::UserEnabled { .. }
                | Change::UserDeleted { .. } => {}
            }
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
    /// instance acts on its own changes at once rather than at the next poll.
    pub fn committed(&self, pending: Pending) {
        self.dispatch(&pending.0);
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

/// Events after position `after`, in log order, at most `limit`.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn read_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> AppResult<Vec<Event>> {
    let rows = auth_event::Entity::find()
        .filter(auth_event::Column::Id.gt(after))
        .order_by_asc(auth_event::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().filter_map(Event::from_row).collect())
}

/// The last position in the log (0 when empty).
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn last_id(db: &impl ConnectionTrait) -> AppResult<i64> {
    Ok(auth_event::Entity::find()
        .order_by_desc(auth_event::Column::Id)
        .one(db)
        .await?
        .map_or(0, |row| row.id))
}

/// Deletes events that no live token can be affected by any more.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn prune(db: &impl ConnectionTrait, now: i64) -> AppResult<u64> {
    Ok(auth_event::Entity::delete_many()
        .filter(auth_event::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}
