//! The tailer that keeps this instance's state current with the event log.
//!
//! At start it reads the whole log (only events that can still matter are kept there). Then
//! it reads the events after the last one it applied, whenever it is woken:
//! - on PostgreSQL by `LISTEN/NOTIFY` (writers notify at commit), so another instance's
//!   revocation arrives in milliseconds;
//! - and in any case every `poll` interval, which picks up writers that cannot notify (a
//!   second process on a SQLite file, the CLI) and covers a missed notification.
//!
//! Each successful read confirms the state current as of the moment the read began; a feed
//! that cannot read for longer than `WARDEN_REVOCATION_MAX_LAG` leaves the state stale, and
//! the guards fail closed until it reads again.
//!
//! The feed never stalls silently (docs/reference.md). A row of a kind this version does not
//! know (a newer version wrote it during a rolling upgrade) is skipped with a warning and
//! counted in `warden_event_feed_unknown_total`: this version has nothing to act on in it, and
//! stopping there would stop every revocation after it. A row it should read and cannot (a
//! known kind whose columns do not fit it, a value of the wrong type) is different: it may be
//! a revocation, so skipping it could let a revoked token through. The feed applies the rows
//! before it, stops there, logs it, and confirms nothing until it can be read (fixed or
//! deleted by an operator), so the state goes stale and the guards and `/readyz` fail closed.
//! At start, such a row does not stop the process: it starts unready and recovers the same
//! way.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbBackend, sqlx::postgres::PgListener};

use crate::{
    clock::now_secs,
    error::{AppError, AppResult},
    events::{self, EventLog, Lag, Page, Unreadable},
    meter,
};

/// Most events read in one round.
const PAGE: u64 = 1_000;
/// How often expired entries are dropped from memory.
const PRUNE_MEMORY_EVERY: Duration = Duration::from_secs(60);

/// Why a round ended without confirming the state.
#[derive(Debug)]
enum Stall {
    /// The log could not be read at all.
    Database(AppError),
    /// A row could not be read; nothing after it is applied until it can be.
    Unreadable(Unreadable),
}

impl Stall {
    /// What the stall is about, to log it once rather than every round.
    fn key(&self) -> StallKey {
        match self {
            Self::Database(_) => StallKey::Database,
            Self::Unreadable(row) => StallKey::Row(row.id),
        }
    }

    fn log(&self) {
        match self {
            Self::Database(e) => tracing::warn!(
                error = %e,
                "event feed cannot read the log; guarded fields fail closed once it lags"
            ),
            Self::Unreadable(row) => tracing::error!(
                event_id = row.id,
                reason = %row.reason,
                "event feed stopped at an event it cannot read; guarded fields fail closed and \
                 /readyz answers 503 until the row can be read (fix or delete it in auth_events)"
            ),
        }
    }
}

/// A stall already logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StallKey {
    Database,
    Row(Option<i64>),
}

/// Tails the event log into the subscribers of one [`EventLog`].
pub struct Feed {
    db: DatabaseConnection,
    log: EventLog,
    lag: Arc<Lag>,
    cursor: i64,
    poll: Duration,
    /// The stall last logged, while it lasts.
    stalled: Option<StallKey>,
    /// When this instance started reading the log (Unix milliseconds): only events written
    /// since count toward the delay metric. The history replayed at start is minutes or days
    /// old, and counting it would fire a delay alert at every restart.
    since_ms: i64,
}

impl Feed {
    /// Loads every event in the log, applies it, and confirms the view current. At a row it
    /// cannot read, it stops there and leaves the view unconfirmed (the instance starts unready
    /// and [`Self::run`] keeps trying).
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn load(db: DatabaseConnection, log: EventLog, lag: Arc<Lag>) -> AppResult<Self> {
        // Poll well inside the lag bound, so one slow round does not make the state stale.
        let poll = (lag.max_lag() / 4).clamp(Duration::from_millis(10), Self::poll_cap(&db));
        let mut feed = Self {
            db,
            log,
            lag,
            cursor: 0,
            poll,
            stalled: None,
            since_ms: crate::clock::now_ms(),
        };
        match feed.catch_up().await {
            Ok(()) => {}
            Err(Stall::Database(e)) => return Err(e),
            Err(stall) => feed.stalled(&stall),
        }
        feed.report_age();
        Ok(feed)
    }

    /// The longest pause between two reads: PostgreSQL is woken by NOTIFY and needs the poll
    /// only to confirm and as a safety net; SQLite learns of other processes' writes only by
    /// polling.
    fn poll_cap(db: &DatabaseConnection) -> Duration {
        match db.get_database_backend() {
            DbBackend::Postgres => Duration::from_millis(250),
            _ => Duration::from_millis(100),
        }
    }

    /// The position of the last event applied.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Reads and applies every event after the cursor, then confirms the state; stops at a
    /// row it cannot read, having applied the rows before it.
    async fn catch_up(&mut self) -> Result<(), Stall> {
        let started = Instant::now();
        loop {
            let page = events::read_after(&self.db, self.cursor, PAGE)
                .await
                .map_err(Stall::Database)?;
            self.apply(&page);
            if let Some(last) = page.last {
                self.cursor = last;
            }
            if let Some(row) = page.unreadable {
                return Err(Stall::Unreadable(row));
            }
            if !page.full {
                break;
            }
        }
        self.lag.confirm(started);
        Ok(())
    }

    /// Hands a page's events to the subscribers; counts and reports the rows it skipped.
    fn apply(&self, page: &Page) {
        let now_ms = crate::clock::now_ms();
        for event in &page.events {
            if event.created_at_ms >= self.since_ms {
                #[allow(clippy::cast_precision_loss)]
                let delay = (now_ms - event.created_at_ms).max(0) as f64 / 1000.0;
                ::metrics::histogram!(meter::FEED_DELAY).record(delay);
            }
        }
        self.log.dispatch(&page.events);
        if page.unknown.is_empty() {
            return;
        }
        ::metrics::counter!(meter::FEED_UNKNOWN).increment(page.unknown_count());
        for (kind, count) in &page.unknown {
            // One line per kind and page, not per row: a newer version may write many.
            tracing::warn!(
                kind = %kind,
                count,
                up_to_event_id = page.last,
                "skipped events of a kind this version does not know (written by a newer version?)"
            );
        }
    }

    /// Logs a stall once, when it starts or changes.
    fn stalled(&mut self, stall: &Stall) {
        let key = stall.key();
        if self.stalled != Some(key) {
            stall.log();
            self.stalled = Some(key);
        }
    }

    /// Publishes how old the confirmed state is (also after a failed read: the gauge then
    /// shows the state growing stale).
    fn report_age(&self) {
        if let Some(age) = self.lag.age() {
            ::metrics::gauge!(meter::FEED_AGE).set(age.as_secs_f64());
        }
    }

    /// Tails the log until the task is dropped.
    pub async fn run(mut self) {
        let mut listener = match self.db.get_database_backend() {
            DbBackend::Postgres => self.listen().await,
            _ => None,
        };
        let mut last_prune = Instant::now();
        loop {
            match &mut listener {
                Some(l) => {
                    // Either a notification or the poll interval, whichever comes first.
                    match tokio::time::timeout(self.poll, l.recv()).await {
                        Ok(Ok(_)) | Err(_) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "event notifications lost; polling");
                            tokio::time::sleep(self.poll).await;
                        }
                    }
                }
                None => tokio::time::sleep(self.poll).await,
            }
            match self.catch_up().await {
                Ok(()) => {
                    if self.stalled.take().is_some() {
                        tracing::info!("event feed recovered");
                    }
                }
                Err(stall) => self.stalled(&stall),
            }
            self.report_age();
            if last_prune.elapsed() >= PRUNE_MEMORY_EVERY {
                last_prune = Instant::now();
                self.log.prune(now_secs());
                if listener.is_none() && self.db.get_database_backend() == DbBackend::Postgres {
                    listener = self.listen().await;
                }
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let pool = self.db.get_postgres_connection_pool();
        let attempt = async {
            let mut listener = PgListener::connect_with(pool).await?;
            listener.listen(events::CHANNEL).await?;
            Ok::<_, sea_orm::sqlx::Error>(listener)
        };
        match attempt.await {
            Ok(listener) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN for events; polling only");
                None
            }
        }
    }
}
