//! Opening the database named by `DATABASE_URL`: the pools the server and the command line
//! use, and start-up errors an operator can act on.
//!
//! A bad `DATABASE_URL` must stop the process quickly with one line that names the variable
//! and the cause: sqlx alone would wait out its pool timeout and say "pool timed out" for an
//! unreachable host, or "unable to open database file" for a SQLite path without `mode=rwc`.
//! [`open`] checks the URL's shape first, bounds the first connection by [`OPEN_TIMEOUT`], and
//! words each failure for the operator (never echoing a password the URL may hold).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

/// A statement slower than this is logged (without its parameters).
const SLOW_STATEMENT: Duration = Duration::from_millis(500);
/// Longest the first connection may take at start before the process gives up.
pub const OPEN_TIMEOUT: Duration = Duration::from_millis(4_500);
/// Longest a request waits for a pooled connection once running.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// `DATABASE_URL` could not be used; the message names the variable and the cause.
#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL: {0}")]
pub struct OpenError(String);

/// Where a URL points, for messages: its scheme and host (or file), never its credentials.
fn describe(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let place = rest.split(['/', '?']).next().unwrap_or_default();
    if scheme.starts_with("sqlite") {
        let file = rest.split('?').next().unwrap_or_default();
        format!("the SQLite file {file:?}")
    } else {
        format!("the server at {place}")
    }
}

/// Checks the URL's shape before any connection attempt.
fn check_shape(url: &str) -> Result<(), OpenError> {
    let lower = url.to_ascii_lowercase();
    // `sqlite:` takes sqlx's short forms too (`sqlite::memory:`, `sqlite:warden.db`).
    if lower.starts_with("sqlite:")
        || lower.starts_with("postgres://")
        || lower.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(OpenError(
            "expected sqlite://FILE?mode=rwc or postgres://USER@HOST:PORT/DB".to_owned(),
        ))
    }
}

/// No answer within [`OPEN_TIMEOUT`] (sqlx retries a refused connection until its own timeout,
/// and an unreachable host never answers).
fn unreachable(url: &str) -> OpenError {
    OpenError(format!(
        "cannot reach {} within {} s",
        describe(url),
        OPEN_TIMEOUT.as_secs_f32().ceil()
    ))
}

/// The operator's wording of a failed first connection.
fn explain(url: &str, error: &DbErr) -> OpenError {
    let text = error.to_string();
    let place = describe(url);
    if url.starts_with("sqlite") && text.contains("unable to open database file") {
        let hint = if url.contains("mode=") {
            ""
        } else {
            " (to create it, add ?mode=rwc to the URL)"
        };
        return OpenError(format!(
            "cannot open {place}: it does not exist or is not writable{hint}"
        ));
    }
    if text.contains("timed out") {
        return unreachable(url);
    }
    // sqlx's own text names the cause (refused, bad password, unknown database) and not the
    // password itself.
    OpenError(format!("cannot connect to {place}: {text}"))
}

/// Opens the database for the server or the command line, failing within [`OPEN_TIMEOUT`]
/// with an [`OpenError`]; `statements` counts every statement run.
///
/// # Errors
/// The URL is malformed, or the database cannot be reached or opened.
pub async fn open(url: &str, statements: Arc<AtomicU64>) -> Result<DatabaseConnection, OpenError> {
    check_shape(url)?;
    match tokio::time::timeout(OPEN_TIMEOUT, connect_counted(url, statements)).await {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(explain(url, &e)),
        Err(_) => Err(unreachable(url)),
    }
}

/// Opens the database with logging of statements off (sqlx logs every one at INFO).
///
/// # Errors
/// The database cannot be opened.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_counted(url, Arc::new(AtomicU64::new(0))).await
}

/// [`connect`], counting every statement run into `statements` and logging slow ones.
///
/// # Errors
/// The database cannot be opened.
pub async fn connect_counted(
    url: &str,
    statements: Arc<AtomicU64>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(OPEN_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(move |info| {
        statements.fetch_add(1, Ordering::Relaxed);
        if info.elapsed > SLOW_STATEMENT {
            // The SQL text only: parameters may hold personal data.
            tracing::warn!(elapsed_ms = info.elapsed.as_millis(), sql = %info.statement.sql, "slow statement");
        }
    });
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers run while one connection writes; the file keeps the setting.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

/// Opens and migrates the database (tests and tools that want the plain error).
///
/// # Errors
/// The database cannot be opened or migrated.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// A small pool of its own for the event feed, so that its reads never queue behind request
/// traffic (an in-memory SQLite database has to share the main one).
///
/// # Errors
/// The database cannot be opened.
pub async fn feed_connection(
    url: &str,
    main: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(main.clone());
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(2)
        .min_connections(1)
        .connect_timeout(OPEN_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    Database::connect(options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_described_without_credentials() {
        assert_eq!(
            describe("postgres://warden:s3cret@db.internal:5432/warden"),
            "the server at db.internal:5432"
        );
        assert_eq!(
            describe("sqlite://data/warden.db?mode=rwc"),
            "the SQLite file \"data/warden.db\""
        );
    }

    #[test]
    fn only_sqlite_and_postgres_urls_are_accepted() {
        for ok in [
            "sqlite://w.db",
            "sqlite::memory:",
            "postgres://u@h/db",
            "postgresql://u@h/db",
        ] {
            check_shape(ok).expect(ok);
        }
        for bad in ["", "warden.db", "mysql://u@h/db", "http://x"] {
            let message = check_shape(bad).expect_err(bad).to_string();
            assert!(message.starts_with("DATABASE_URL: "), "{message}");
        }
    }
}
