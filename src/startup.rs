//! Building and running the application: database, migrations, bootstrap admin, schema,
//! router, listener. Binding happens in [`Application::build`] so tests can ask for port 0
//! and read the port back.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use tokio::net::TcpListener;

use crate::{
    auth::{
        grants::GrantsCache,
        revocation,
        service::AuthService,
        sessions,
        tokens::{TokenCodec, now_secs},
    },
    config::{Config, ConfigError},
    error::AppError,
    graphql::{self, ApiState},
    http::{self, HttpState},
    messages::Messages,
    users,
};

/// How often expired revocation entries and dead sessions are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Dead sessions are kept this long after their last refresh token expired (audit trail).
const KEEP_DEAD_SESSIONS_SECS: i64 = 7 * 86_400;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A configuration value is unusable.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated.
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// The bootstrap admin could not be created.
    #[error("bootstrap admin (WARDEN_ADMIN_EMAIL / WARDEN_ADMIN_PASSWORD): {0}")]
    Admin(AppError),
    /// Something else failed at start.
    #[error("{0}")]
    Other(String),
    /// The listen address could not be bound.
    #[error("WARDEN_ADDR: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

/// A statement slower than this is logged (without its parameters).
const SLOW_STATEMENT: Duration = Duration::from_millis(500);

/// Opens the database with logging of statements off (sqlx logs every one at INFO).
///
/// # Errors
/// The database cannot be opened.
pub async fn connect(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    connect_counted(url, Arc::new(AtomicU64::new(0))).await
}

/// [`connect`], counting every statement run into `statements` and logging slow ones.
///
/// # Errors
/// The database cannot be opened.
pub async fn connect_counted(
    url: &str,
    statements: Arc<AtomicU64>,
) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
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

/// Opens the database and applies pending migrations.
///
/// # Errors
/// The database cannot be opened or migrated.
pub async fn connect_and_migrate(url: &str) -> Result<DatabaseConnection, sea_orm::DbErr> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// A built, bound, not yet serving application.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: DatabaseConnection,
    addr: SocketAddr,
    statements: Arc<AtomicU64>,
}

impl Application {
    /// Opens and migrates the database, creates the bootstrap admin, builds the schema and
    /// binds the listener.
    ///
    /// # Errors
    /// Any [`StartupError`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let codec = Arc::new(TokenCodec::new(&config.jwt)?);
        let messages = match &config.messages_path {
            Some(path) => Messages::from_file(path)?,
            None => Messages::default(),
        };
        let statements = Arc::new(AtomicU64::new(0));
        let db = connect_counted(&config.database_url, statements.clone()).await?;
        Migrator::up(&db, None).await?;

        if let Some((email, password)) = &config.admin
            && users::ensure_admin(&db, email, password.clone())
                .await
                .map_err(StartupError::Admin)?
        {
            tracing::info!("bootstrap admin created");
        }

        let transport = Arc::new(config.transport.clone());
        let auth = AuthService::new(
            db.clone(),
            codec.clone(),
            config.refresh_reuse_grace,
            transport.uses_cookies(),
        )
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let grants = Arc::new(GrantsCache::default());
        let schema = graphql::build_schema(
            ApiState {
                db: db.clone(),
                grants: grants.clone(),
                auth,
                messages: Arc::new(messages),
                signup: config.signup,
                tokens_in_body: transport.uses_headers(),
                transport: transport.clone(),
            },
            config.introspection,
        );
        let router = http::router(
            HttpState {
                schema,
                codec,
                db: db.clone(),
                grants,
                transport,
                playground: config.playground,
            },
            &config.cors_origins,
        );

        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: config.addr,
            source,
        })?;
        Ok(Self {
            listener,
            router,
            db,
            addr,
            statements,
        })
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many SQL statements this application has run so far (a live counter).
    pub fn statements(&self) -> Arc<AtomicU64> {
        self.statements.clone()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let pruner = tokio::spawn(prune_forever(self.db.clone()));
        let result = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        pruner.abort();
        self.db.close().await.ok();
        result
    }
}

/// Deletes revocation entries for expired tokens and long-dead sessions, hourly.
async fn prune_forever(db: DatabaseConnection) {
    // The first round runs one period after start, not at start.
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + PRUNE_EVERY, PRUNE_EVERY);
    loop {
        every.tick().await;
        let now = now_secs();
        match revocation::prune(&db, now).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "expired revocation entries deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning revocation entries failed"),
        }
        match sessions::prune(&db, now - KEEP_DEAD_SESSIONS_SECS).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "dead sessions deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning sessions failed"),
        }
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
