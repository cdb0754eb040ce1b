//! Building and running the application: database, migrations, bootstrap admin, schema,
//! router, listener. Binding happens in [`Application::build`] so tests can ask for port 0
//! and read the port back.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;

use crate::{
    accounts::Accounts,
    auth::{
        live::LiveEvents,
        protection::{failures, throttle::LoginLimits},
        revocation::{self, RevocationState},
        service::AuthService,
        sessions,
        tokens::TokenCodec,
        verify::TokenVerifier,
    },
    clock::now_secs,
    config::{Config, ConfigError, MetricsExposure},
    database,
    error::AppError,
    events::{self, EventLog, Feed, Horizon},
    graphql::{self, ApiState},
    http::{self, HttpShared, HttpState},
    messages::Messages,
    meter,
    password::{HashGauge, Passwords},
    profiles::ProfileCache,
    users,
};

/// How often histograms are folded (the exporter keeps raw samples until then).
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);
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
    /// `DATABASE_URL` is malformed or names a database that cannot be reached or opened.
    #[error(transparent)]
    DatabaseUrl(#[from] crate::database::OpenError),
    /// The database could not be migrated or read at start.
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

/// [`open`], then applies pending migrations.
///
/// # Errors
/// [`OpenError`] for the connection; the migration's own error after it.
pub async fn open_and_migrate(url: &str) -> Result<DatabaseConnection, StartupError> {
    let db = database::open(url, Arc::new(AtomicU64::new(0))).await?;
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
    feed: Feed,
    metrics: Option<(TcpListener, axum::Router)>,
    metrics_addr: Option<SocketAddr>,
    metrics_handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
    live: Arc<LiveEvents>,
    revocation: Arc<RevocationState>,
    hashes: Arc<HashGauge>,
    /// How long each kind of pruned row must be kept.
    retention: Retention,
}

/// How long the hourly pruning keeps each kind of row.
#[derive(Debug, Clone, Copy)]
struct Retention {
    /// `JWT_DECODE_LEEWAY`, seconds: how long past `exp` a revoked token stays acceptable.
    leeway: i64,
    /// The login limits' windows (account, address): failures older than these are pruned.
    limit_windows: (Duration, Duration),
    /// `WARDEN_REFRESH_REUSE_GRACE`: a refresh token's retirement matters this long.
    reuse_grace: Duration,
}

impl Application {
    /// Opens and migrates the database, creates the bootstrap admin, builds the schema and
    /// binds the listener.
    ///
    /// # Errors
    /// Any [`StartupError`].
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let codec = Arc::new(TokenCodec::new(&config.jwt)?);
        let leeway = codec.leeway();
        let messages = match &config.messages_path {
            Some(path) => Messages::from_file(path)?,
            None => Messages::default(),
        };
        let statements = Arc::new(AtomicU64::new(0));
        let db = database::open(&config.database_url, statements.clone()).await?;
        Migrator::up(&db, None).await?;

        if config.login.argon2.below_owasp_floor() {
            // Production refuses these at configuration time; development only warns.
            tracing::warn!(
                memory_kib = config.login.argon2.memory_kib,
                iterations = config.login.argon2.iterations,
                "WARDEN_ARGON2_*: parameters below OWASP's minimum for argon2id (development only)"
            );
        }
        let passwords = Passwords::new(&config.login);
        if let Some((email, password)) = &config.admin
            && users::ensure_admin(&db, &passwords, email, password.clone())
                .await
                .map_err(StartupError::Admin)?
        {
            tracing::info!("bootstrap admin created");
        }

        // First, so that what the start-up measures (the event log's load) is recorded.
        let metrics_handle = match config.metrics {
            MetricsExposure::Off => None,
            _ => meter::install(),
        };

        // The revocation state and the profile cache follow the event log: loaded now, then
        // tailed by the feed once serving.
        let state = Arc::new(RevocationState::new(config.revocation_max_lag));
        let profiles = Arc::new(ProfileCache::default());
        let live = Arc::new(LiveEvents::new(
            config.limits.ws_max_per_user,
            state.clone(),
        ));
        // The login limits forget an account's failures when it is unlocked anywhere.
        let limits = LoginLimits::new(config.login.account_limit, config.login.ip_limit);
        let log = EventLog::new(
            vec![
                state.clone(),
                profiles.clone(),
                live.clone(),
                Arc::new(limits.clone()),
            ],
            Horizon::new(config.jwt.access_ttl, leeway),
        );
        let feed_db = database::feed_connection(&config.database_url, &db).await?;
        // The disabled accounts first: every event in the log is newer than what the table
        // says now, and overrules it.
        let disabled = users::disabled_ids(&db)
            .await
            .map_err(|e| StartupError::Other(format!("loading the disabled accounts: {e}")))?;
        state.hold_disabled(disabled);
        let feed = Feed::load(feed_db, log.clone(), state.lag())
            .await
            .map_err(|e| StartupError::Other(format!("loading the event log: {e}")))?;

        let metrics = match (config.metrics, &metrics_handle) {
            (MetricsExposure::Listener(addr), Some(handle)) => Some((
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
                http::metrics::router(handle.clone()),
            )),
            _ => None,
        };
        let metrics_addr = match &metrics {
            Some((listener, _)) => {
                Some(listener.local_addr().map_err(|source| StartupError::Bind {
                    addr: config.addr,
                    source,
                })?)
            }
            None => None,
        };

        let transport = Arc::new(config.transport.clone());
        let auth = AuthService::new(
            db.clone(),
            codec.clone(),
            config.refresh_reuse_grace,
            transport.uses_cookies(),
            log.clone(),
            passwords.clone(),
            &config.login,
            limits,
        )
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let api = ApiState {
            db: db.clone(),
            accounts: Accounts::new(db.clone(), log.clone(), passwords.clone(), profiles),
            live: live.clone(),
            auth,
            messages: Arc::new(messages),
            signup: config.signup,
            tokens_in_body: transport.uses_headers(),
            transport: transport.clone(),
        };
        let schema = graphql::build_schema(
            api.clone(),
            graphql::SchemaOptions {
                introspection: config.introspection,
                suggestions: !config.production,
                limits: config.limits,
            },
        );
        let router = http::router(
            HttpState::new(HttpShared {
                schema,
                verifier: TokenVerifier::new(codec, state.clone(), transport.csrf_protect),
                api,
                playground: config.playground,
                max_batch: config.limits.max_batch,
                metrics: (config.metrics == MetricsExposure::MainListener)
                    .then(|| metrics_handle.clone())
                    .flatten(),
                origins: config.cors_origins.clone().into(),
                trusted_proxies: config.login.trusted_proxies.clone().into(),
                ws_max_operations: config.limits.ws_max_operations,
                waiting: Default::default(),
            }),
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
            hashes: passwords.gauge(),
            retention: Retention {
                leeway,
                limit_windows: (
                    config.login.account_limit.window,
                    config.login.ip_limit.window,
                ),
                reuse_grace: config.refresh_reuse_grace,
            },
            feed,
            metrics,
            metrics_addr,
            metrics_handle,
            live,
            revocation: state,
        })
    }

    /// What this instance holds in memory to judge tokens (for tests of its bounds).
    pub fn revocation_state(&self) -> Arc<RevocationState> {
        self.revocation.clone()
    }

    /// The fan-out of live events, with its count of open connections.
    pub fn live(&self) -> Arc<LiveEvents> {
        self.live.clone()
    }

    /// The address of the metrics-only listener, when `WARDEN_METRICS_ADDR` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address actually bound (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many password hashes run now, and the most that ran at once (a live gauge).
    pub fn hashes(&self) -> Arc<HashGauge> {
        self.hashes.clone()
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
        let mut background = vec![
            tokio::spawn(prune_forever(self.db.clone(), self.retention)),
            tokio::spawn(self.feed.run()),
        ];
        if let Some(handle) = self.metrics_handle {
            background.push(tokio::spawn(async move {
                let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
                loop {
                    every.tick().await;
                    handle.run_upkeep();
                }
            }));
        }
        if let Some((listener, router)) = self.metrics {
            background.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            }));
        }
        // The socket peer is the client address unless a trusted proxy says otherwise.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        for task in background {
            task.abort();
        }
        self.db.close().await.ok();
        result
    }
}

/// Deletes revocation entries for expired tokens and long-dead sessions, hourly.
async fn prune_forever(db: DatabaseConnection, retention: Retention) {
    let Retention {
        leeway,
        limit_windows,
        reuse_grace,
    } = retention;
    // The first round runs one period after start, not at start.
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + PRUNE_EVERY, PRUNE_EVERY);
    loop {
        every.tick().await;
        let now = now_secs();
        match events::prune(&db, now).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "expired events deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning events failed"),
        }
        match revocation::prune(&db, now, leeway).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "expired revocation entries deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning revocation entries failed"),
        }
        let now_ms = now.saturating_mul(1000);
        let (account_window, address_window) = limit_windows;
        let account_before = failures::window_start_ms(now_ms, account_window);
        let address_before = failures::window_start_ms(now_ms, address_window);
        match failures::prune(&db, account_before, address_before).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old login failures deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning login failures failed"),
        }
        let grace_ms = i64::try_from(reuse_grace.as_millis()).unwrap_or(i64::MAX);
        match sessions::prune_retirements(&db, now_ms.saturating_sub(grace_ms)).await {
            Ok(n) if n > 0 => tracing::info!(pruned = n, "old refresh-token retirements deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "pruning refresh-token retirements failed"),
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
