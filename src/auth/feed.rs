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

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbBackend, sqlx::postgres::PgListener};

use crate::{
    auth::state::RevocationState,
    clock::now_secs,
    error::AppResult,
    events::{self, EventLog},
    meter,
};

/// Most events read in one round.
const PAGE: u64 = 1_000;
/// How often expired entries are dropped from memory.
const PRUNE_MEMORY_EVERY: Duration = Duration::from_secs(60);

/// Tails the event log into the subscribers of one [`EventLog`].
pub struct Feed {
    db: DatabaseConnection,
    log: EventLog,
    state: Arc<RevocationState>,
    cursor: i64,
    poll: Duration,
}

impl Feed {
    /// Loads every event in the log, applies it, and confirms the state current.
    ///
    /// # Errors
    /// `SERVICE_UNAVAILABLE` when the database fails.
    pub async fn load(
        db: DatabaseConnection,
        log: EventLog,
        state: Arc<RevocationState>,
    ) -> AppResult<Self> {
        // Poll well inside the lag bound, so one slow round does not make the state stale.
        let poll = (state.max_lag() / 4).clamp(Duration::from_millis(10), Self::poll_cap(&db));
        let mut feed = Self {
            db,
            log,
            state,
            cursor: 0,
            poll,
        };
        feed.catch_up().await?;
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

    /// Reads and applies every event after the cursor, then confirms the state.
    async fn catch_up(&mut self) -> AppResult<()> {
        let started = Instant::now();
        loop {
            let events = events::read_after(&self.db, self.cursor, PAGE).await?;
            let Some(last) = events.last() else { break };
            self.cursor = last.id;
            let now_ms = crate::clock::now_ms();
            for event in &events {
                if event.created_at_ms > 0 {
                    #[allow(clippy::cast_precision_loss)]
                    let delay = (now_ms - event.created_at_ms).max(0) as f64 / 1000.0;
                    ::metrics::histogram!(meter::FEED_DELAY).record(delay);
                }
            }
            self.log.dispatch(&events);
            if (events.len() as u64) < PAGE {
                break;
            }
        }
        self.state.confirm(started);
        Ok(())
    }

    /// Publishes how old the confirmed state is (also after a failed read: the gauge then
    /// shows the state growing stale).
    fn report_age(&self) {
        if let Some(age) = self.state.age() {
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
        let mut failing = false;
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
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("event feed recovered");
                }
                Ok(()) => {}
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "event feed cannot read the log; guarded fields fail closed once it lags");
                }
                Err(_) => {}
            }
            self.report_age();
            if last_prune.elapsed() >= PRUNE_MEMORY_EVERY {
                last_prune = Instant::now();
                self.state.prune(now_secs());
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
