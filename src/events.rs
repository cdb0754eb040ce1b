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
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
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
        /// Until when (Unix seconds) the revocation matters in memory: an access token's
        /// `exp` plus the leeway (a token minted elsewhere may live longer than ours), or the
        /// log's horizon for a refresh token, which is judged against the database anyway.
        until: i64,
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
    /// An operator cleared an account's failed-login count: every instance forgets the
    /// failures it counted in memory for it too.
    AccountUnlocked {
        /// The user.
        user_id: i64,
        /// The account's login-limit key (its normalised email).
        account: String,
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
            Self::AccountUnlocked { .. } => "account_unlocked",
        }
    }

    /// The changes for ended sessions of one user.
    pub fn sessions_revoked(user_id: i64, ids: impl IntoIterator<Item = String>) -> Vec<Self> {
        ids.into_iter()
            .map(|session_id| Self::SessionRevoked {
                session_id,
                user_id,
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
            | Self::UserDeleted { user_id }
            | Self::AccountUnlocked { user_id, .. } => Some(*user_id),
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
const KNOWN_KINDS: [&str; 8] = [
    "jti_revoked",
    "session_revoked",
    "grants_changed",
    "profile_changed",
    "user_disabled",
    "user_enabled",
    "user_deleted",
    "account_unlocked",
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
                until: row.expires_at,
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
            "account_unlocked" => Change::AccountUnlocked {
                user_id: needs(row.user_id, "user_id")?,
                account: needs(row.payload, "payload")?,
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
                Change::AccountUnlocked { account, .. } => {
                    row.payload = Set(Some(account.clone()));
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
    /// instance acts on its own changes at once rather than at the next poll (after
    /// [`Self::append`]; [`Self::commit`] does it by itself).
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

    fn jti(name: &str) -> Change {
        Change::JtiRevoked {
            jti: name.to_owned(),
            user_id: None,
            until: i64::MAX,
        }
    }

    async fn append(db: &sea_orm::DatabaseConnection, changes: Vec<Change>) {
        let _pending = EventLog::default()
            .append(db, changes)
            .await
            .expect("appended");
    }

    /// One change of every kind, with every field set.
    fn one_of_each() -> Vec<Change> {
        vec![
            Change::JtiRevoked {
                jti: "j".into(),
                user_id: Some(1),
                until: 4_102_444_800,
            },
            Change::SessionRevoked {
                session_id: "s".into(),
                user_id: 1,
            },
            Change::GrantsChanged {
                user_id: 1,
                version: 7,
                roles: vec!["admin".into()],
                permissions: vec!["users:read".into(), "read:sensitive".into()],
            },
            Change::ProfileChanged { user_id: 1 },
            Change::UserDisabled { user_id: 1 },
            Change::UserEnabled { user_id: 1 },
            Change::UserDeleted { user_id: 1 },
            Change::AccountUnlocked {
                user_id: 1,
                account: "ana@example.com".into(),
            },
        ]
    }

    #[tokio::test]
    async fn every_change_round_trips_through_the_table() {
        let database = TestDatabase::new().await;
        let log = EventLog::default();
        let txn = sea_orm::TransactionTrait::begin(&database.db)
            .await
            .expect("begin");
        log.commit(txn, one_of_each()).await.expect("committed");
        let page = read_after(&database.db, 0, 100).await.expect("read");
        let read: Vec<Change> = page.events.iter().map(|e| e.change.clone()).collect();
        assert_eq!(read, one_of_each());
        assert!(page.unknown.is_empty() && page.unreadable.is_none());
        let horizon = log.horizon().until_now();
        for event in &page.events {
            let expected = match event.change {
                Change::JtiRevoked { until, .. } => until..=until,
                _ => horizon - 5..=horizon,
            };
            assert!(
                expected.contains(&event.expires_at),
                "a revoked jti matters until its token's own end, the rest for the horizon: {event:?}"
            );
        }
    }

    async fn sql(db: &sea_orm::DatabaseConnection, statement: &str) {
        db.execute_unprepared(statement).await.expect(statement);
    }

    #[test]
    fn every_kind_this_version_writes_is_one_it_reads() {
        for change in one_of_each() {
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
        assert_eq!(read, vec![jti("before"), jti("after")]);
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
        append(db, vec![change]).await;
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
