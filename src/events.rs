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
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
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

/// The kinds this version reads; a row of any other kind was written by a newer version.
const KNOWN_KINDS: [&str; 7] = [
    "jti_revoked",
    "session_revoked",
    "grants_changed",
    "profile_changed",
    "user_disabled",
    "user_enabled",
    "user_deleted",
];

/// A column a row's kind needs, or why the row cannot be read.
fn needs<T>(value: Option<T>, column: &'static str) -> Result<T, String> {
    value.ok_or_else(|| format!("{column} is missing"))
}

impl Event {
    /// Reads a row of a known kind.
    ///
    /// # Errors
    /// Why the row does not fit its kind (a column missing, a payload that does not decode),
    /// without the row's values.
    fn from_row(row: auth_event::Model) -> Result<Self, String> {
        let change = match row.kind.as_str() {
            "jti_revoked" => Change::JtiRevoked {
                jti: needs(row.jti, "jti")?,
                user_id: row.user_id,
            },
            "session_revoked" => Change::SessionRevoked {
                session_id: needs(row.session_id, "session_id")?,
                user_id: needs(row.user_id, "user_id")?,
            },
            "grants_changed" => {
                let grants: GrantsPayload = serde_json::from_str(&needs(row.payload, "payload")?)
                    .map_err(|e| format!("payload does not decode: {e}"))?;
                Change::GrantsChanged {
                    user_id: needs(row.user_id, "user_id")?,
                    version: needs(row.grants_version, "grants_version")?,
                    roles: grants.roles,
                    permissions: grants.permissions,
                }
            }
            "profile_changed" => Change::ProfileChanged {
                user_id: needs(row.user_id, "user_id")?,
            },
            "user_disabled" => Change::UserDisabled {
                user_id: needs(row.user_id, "user_id")?,
            },
            "user_enabled" => Change::UserEnabled {
                user_id: needs(row.user_id, "user_id")?,
            },
            "user_deleted" => Change::UserDeleted {
                user_id: needs(row.user_id, "user_id")?,
            },
            other => return Err(format!("kind {other:?} is not one this version reads")),
        };
        Ok(Self {
            id: row.id,
            change,
            expires_at: row.expires_at,
            created_at_ms: row.created_at_ms,
        })
    }
}

/// A row of the log that this version should be able to read and cannot: a known kind whose
/// columns do not fit it, or a row whose values do not decode at all (a column of the wrong
/// type). Nothing after it can be applied in order until it is fixed or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// Its position in the log, when even that could be read.
    pub id: Option<i64>,
    /// Why, without the row's values.
    pub reason: String,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(f, "event {id} cannot be read: {}", self.reason),
            None => write!(f, "an event cannot be read: {}", self.reason),
        }
    }
}

/// Longest kind name kept for the log line about skipped kinds.
const MAX_KIND_CHARS: usize = 64;

/// One read of the log: the events this version acts on, the rows it skipped, and where it
/// stopped.
#[derive(Debug, Default)]
pub struct Page {
    /// Events of the kinds this version knows, in log order.
    pub events: Vec<Event>,
    /// Rows of kinds this version does not know (written by a newer one), skipped: each kind
    /// (cut to 64 characters) with how many.
    pub unknown: Vec<(String, u64)>,
    /// The position of the last row read past, known, skipped or not; `None` when none was.
    pub last: Option<i64>,
    /// The row reading stopped at, when one could not be read: rows after it were not looked
    /// at, and `last` is the row before it.
    pub unreadable: Option<Unreadable>,
    /// Whether the page was full, so more rows may follow.
    pub full: bool,
}

impl Page {
    /// Rows of unknown kinds in this page.
    pub fn unknown_count(&self) -> u64 {
        self.unknown.iter().map(|(_, n)| n).sum()
    }

    fn skip(&mut self, kind: &str) {
        let kind: String = kind.chars().take(MAX_KIND_CHARS).collect();
        match self.unknown.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.unknown.push((kind, 1)),
        }
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

/// Reads at most `limit` rows after position `after`, in log order: the events of known
/// kinds, the rows of unknown kinds (skipped), and the first row that cannot be read, where
/// the page stops.
///
/// Rows are decoded one by one rather than by the query, so that one bad row names itself and
/// does not hide the good rows before it.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when the database fails.
pub async fn read_after(db: &impl ConnectionTrait, after: i64, limit: u64) -> AppResult<Page> {
    let query = auth_event::Entity::find()
        .filter(auth_event::Column::Id.gt(after))
        .order_by_asc(auth_event::Column::Id)
        .limit(limit)
        .build(db.get_database_backend());
    let rows = db.query_all_raw(query).await?;
    let mut page = Page {
        full: rows.len() as u64 >= limit,
        ..Page::default()
    };
    for row in &rows {
        let model = match auth_event::Model::from_query_result(row, "") {
            Ok(model) => model,
            Err(e) => {
                page.unreadable = Some(Unreadable {
                    id: row.try_get::<i64>("", "id").ok(),
                    reason: e.to_string(),
                });
                break;
            }
        };
        let id = model.id;
        if !KNOWN_KINDS.contains(&model.kind.as_str()) {
            page.skip(&model.kind);
        } else {
            match Event::from_row(model) {
                Ok(event) => page.events.push(event),
                Err(reason) => {
                    page.unreadable = Some(Unreadable {
                        id: Some(id),
                        reason,
                    });
                    break;
                }
            }
        }
        page.last = Some(id);
    }
    Ok(page)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDatabase;

    fn jti(name: &str) -> (Change, i64) {
        (
            Change::JtiRevoked {
                jti: name.to_owned(),
                user_id: None,
            },
            i64::MAX,
        )
    }

    async fn append(db: &sea_orm::DatabaseConnection, changes: Vec<(Change, i64)>) {
        let _pending = EventLog::default()
            .append(db, changes)
            .await
            .expect("appended");
    }

    async fn sql(db: &sea_orm::DatabaseConnection, statement: &str) {
        db.execute_unprepared(statement).await.expect(statement);
    }

    #[test]
    fn every_kind_this_version_writes_is_one_it_reads() {
        let changes = [
            jti("a").0,
            Change::SessionRevoked {
                session_id: "s".into(),
                user_id: 1,
            },
            Change::GrantsChanged {
                user_id: 1,
                version: 1,
                roles: vec![],
                permissions: vec![],
            },
            Change::ProfileChanged { user_id: 1 },
            Change::UserDisabled { user_id: 1 },
            Change::UserEnabled { user_id: 1 },
            Change::UserDeleted { user_id: 1 },
        ];
        for change in changes {
            assert!(KNOWN_KINDS.contains(&change.kind()), "{change:?}");
        }
    }

    #[tokio::test]
    async fn rows_of_unknown_kinds_are_skipped_and_read_past() {
        let database = TestDatabase::new().await;
        let db = &database.db;
        append(db, vec![jti("before")]).await;
        for _ in 0..3 {
            sql(db, "INSERT INTO auth_events (kind, expires_at, created_at_ms) VALUES ('future_kind', 9999999999, 0)").await;
        }
        append(db, vec![jti("after")]).await;
        let page = read_after(db, 0, 100).await.expect("read");
        let read: Vec<_> = page.events.iter().map(|e| e.change.clone()).collect();
        assert_eq!(read, vec![jti("before").0, jti("after").0]);
        assert_eq!(page.unknown, vec![("future_kind".to_owned(), 3)]);
        assert_eq!(page.last, Some(5));
        assert!(page.unreadable.is_none() && !page.full);

        // A page of nothing but unknown rows still moves the reader past them.
        let page = read_after(db, 1, 3).await.expect("read");
        assert!(page.events.is_empty());
        assert_eq!(
            (page.last, page.full, page.unknown_count()),
            (Some(4), true, 3)
        );
    }

    #[tokio::test]
    async fn a_row_that_cannot_be_read_stops_the_page_and_names_itself() {
        let database = TestDatabase::new().await;
        let db = &database.db;
        append(db, vec![jti("one"), jti("two"), jti("three")]).await;
        // A known kind without the column it needs.
        sql(db, "UPDATE auth_events SET jti = NULL WHERE id = 2").await;
        let page = read_after(db, 0, 100).await.expect("read");
        assert_eq!(page.events.len(), 1, "the row before it is read");
        assert_eq!(page.last, Some(1), "the reader stops before it");
        let unreadable = page.unreadable.expect("stopped");
        assert_eq!(unreadable.id, Some(2));
        assert_eq!(
            unreadable.to_string(),
            "event 2 cannot be read: jti is missing"
        );

        // A value of the wrong type (SQLite keeps what it is given).
        sql(db, "UPDATE auth_events SET jti = 'two' WHERE id = 2").await;
        sql(
            db,
            "UPDATE auth_events SET expires_at = 'soon' WHERE id = 3",
        )
        .await;
        let page = read_after(db, 0, 100).await.expect("read");
        assert_eq!((page.events.len(), page.last), (2, Some(2)));
        let unreadable = page.unreadable.expect("stopped");
        assert_eq!(unreadable.id, Some(3));
        assert!(
            !unreadable.reason.contains("soon"),
            "no values in the reason"
        );

        sql(
            db,
            "UPDATE auth_events SET expires_at = 9999999999 WHERE id = 3",
        )
        .await;
        let page = read_after(db, 0, 100).await.expect("read");
        assert_eq!((page.events.len(), page.last), (3, Some(3)));
        assert!(page.unreadable.is_none());
    }

    #[tokio::test]
    async fn a_grants_payload_that_does_not_decode_is_unreadable() {
        let database = TestDatabase::new().await;
        let db = &database.db;
        let change = Change::GrantsChanged {
            user_id: 1,
            version: 2,
            roles: vec!["admin".into()],
            permissions: vec![],
        };
        append(db, vec![(change, i64::MAX)]).await;
        sql(
            db,
            "UPDATE auth_events SET payload = '{not json' WHERE id = 1",
        )
        .await;
        let page = read_after(db, 0, 100).await.expect("read");
        let unreadable = page.unreadable.expect("stopped");
        assert!(
            unreadable.reason.starts_with("payload does not decode"),
            "{unreadable}"
        );
        assert_eq!(page.last, None);
    }
}
