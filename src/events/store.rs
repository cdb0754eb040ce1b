//! The `auth_events` table: a change in and out of its row, reading a page of the log in
//! order, and pruning what no token can be affected by any more.

use entity::auth_event;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set,
};
use serde::{Deserialize, Serialize};

use super::Change;
use crate::error::{AppError, AppResult, Fault};

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

/// The row that records `change`, mattering until `expires_at`, written at `created_at_ms`.
///
/// # Errors
/// `SERVICE_UNAVAILABLE` when a payload cannot be serialised (it always can).
pub(super) fn row(
    change: &Change,
    expires_at: i64,
    created_at_ms: i64,
) -> AppResult<auth_event::ActiveModel> {
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
    match change {
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
    Ok(row)
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
    use crate::events::EventLog;
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
