//! The server section: the process-level settings that belong to no token or login rule —
//! the environment (`WARDEN_ENV`), the listen address, the database, what the API offers
//! (GraphiQL, introspection, sign-up, the bootstrap admin, CORS origins, message overrides),
//! the refresh reuse grace, the revocation lag, where metrics are served, and the log format.
//!
//! Its own module so that these many small switches are read together, apart from the
//! token, login and limits sections. [`super::Config`] keeps them as flat fields.
//!
//! Read in three steps, [`Process::load`], [`Operations::load`] and [`Service::load`], with
//! other sections' variables checked between them as they always were (see
//! [`super::Config::from_lookup`]).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use super::{
    ConfigError,
    env::{Env, read_dotenv},
};

/// Where `GET /metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExposure {
    /// On a listener of its own (`WARDEN_METRICS_ADDR`).
    Listener(SocketAddr),
    /// On `WARDEN_ADDR` (development without `WARDEN_METRICS_ADDR`).
    MainListener,
    /// Not served (production without `WARDEN_METRICS_ADDR`).
    Off,
}

/// How log lines are written (`WARDEN_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; colours only when writing to a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LogFormat {
    /// Read before anything else is logged (so before
    /// [`Config::from_env`](super::Config::from_env)), from the environment and `.env`.
    ///
    /// # Errors
    /// `WARDEN_LOG_FORMAT` is neither `pretty` nor `json`, or `.env` is malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        read_dotenv()?;
        Self::parse(std::env::var("WARDEN_LOG_FORMAT").ok().as_deref())
    }

    /// Parses the variable's value (unset or empty: `pretty`).
    ///
    /// # Errors
    /// Anything but `pretty` or `json`.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value
            .map(str::trim)
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "pretty" => Ok(Self::Pretty),
            "json" => Ok(Self::Json),
            other => Err(ConfigError::new(
                "WARDEN_LOG_FORMAT",
                format!("expected pretty or json, got {other:?}"),
            )),
        }
    }
}

/// The first step, read before every other section since their defaults depend on
/// `production`: the environment, the listen address and the database.
pub(super) struct Process {
    /// `WARDEN_ENV=production`.
    pub(super) production: bool,
    /// Listen address (port 0 picks a free port).
    pub(super) addr: SocketAddr,
    /// SeaORM connection URL.
    pub(super) database_url: String,
}

impl Process {
    /// `WARDEN_ENV` (default: development), `WARDEN_ADDR` and `DATABASE_URL`.
    pub(super) fn load(env: &Env<'_>) -> Result<Self, ConfigError> {
        let production = match env
            .string("WARDEN_ENV", "development")
            .to_ascii_lowercase()
            .as_str()
        {
            "production" => true,
            "development" => false,
            other => {
                return Err(ConfigError::new(
                    "WARDEN_ENV",
                    format!("expected development or production, got {other:?}"),
                ));
            }
        };

        let addr_text = env.string("WARDEN_ADDR", "127.0.0.1:8000");
        let addr = addr_text.parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "WARDEN_ADDR",
                format!("expected host:port such as 127.0.0.1:8000, got {addr_text:?}"),
            )
        })?;

        Ok(Self {
            production,
            addr,
            database_url: env.string("DATABASE_URL", "sqlite://warden.db?mode=rwc"),
        })
    }
}

/// The second step: how stale the revocation state may be, and where metrics are served.
pub(super) struct Operations {
    /// Longest the revocation state may go unconfirmed before guarded fields fail closed.
    pub(super) revocation_max_lag: Duration,
    /// Where `/metrics` is served: its own listener, the main one (development), or nowhere.
    pub(super) metrics: MetricsExposure,
}

impl Operations {
    /// `WARDEN_REVOCATION_MAX_LAG` (at least 100ms) and `WARDEN_METRICS_ADDR` (unset: the
    /// main listener in development, nowhere in production).
    pub(super) fn load(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let revocation_max_lag = env.duration("WARDEN_REVOCATION_MAX_LAG", "1s")?;
        if revocation_max_lag < Duration::from_millis(100) {
            return Err(ConfigError::new(
                "WARDEN_REVOCATION_MAX_LAG",
                "must be at least 100ms (the event feed needs time to confirm its state)",
            ));
        }
        let metrics = match env.get("WARDEN_METRICS_ADDR") {
            Some(text) => MetricsExposure::Listener(text.trim().parse().map_err(|_| {
                ConfigError::new(
                    "WARDEN_METRICS_ADDR",
                    format!("expected host:port such as 127.0.0.1:9100, got {text:?}"),
                )
            })?),
            None if production => MetricsExposure::Off,
            None => MetricsExposure::MainListener,
        };
        Ok(Self {
            revocation_max_lag,
            metrics,
        })
    }
}

/// The last step: what the API offers its clients, and how lenient it is with them.
pub(super) struct Service {
    /// GraphiQL on `GET /graphql`.
    pub(super) playground: bool,
    /// Introspection queries allowed.
    pub(super) introspection: bool,
    /// `register` enabled.
    pub(super) signup: bool,
    /// Bootstrap admin, created at start when missing.
    pub(super) admin: Option<(String, secrecy::SecretString)>,
    /// How long a just-rotated refresh token may be presented again.
    pub(super) refresh_reuse_grace: Duration,
    /// Browser origins allowed by CORS (with credentials).
    pub(super) cors_origins: Vec<String>,
    /// TOML file overriding error messages.
    pub(super) messages_path: Option<PathBuf>,
}

impl Service {
    /// `WARDEN_PLAYGROUND` and `WARDEN_INTROSPECTION` (default: on in development only),
    /// `WARDEN_SIGNUP`, `WARDEN_REFRESH_REUSE_GRACE`, `WARDEN_CORS_ORIGINS`, in that order;
    /// and the bootstrap admin and `WARDEN_MESSAGES`, which cannot be wrong.
    pub(super) fn load(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let admin = match (
            env.get("WARDEN_ADMIN_EMAIL"),
            env.get("WARDEN_ADMIN_PASSWORD"),
        ) {
            (Some(email), Some(password)) => Some((email, password.into())),
            _ => None,
        };
        Ok(Self {
            playground: env.bool("WARDEN_PLAYGROUND")?.unwrap_or(!production),
            introspection: env.bool("WARDEN_INTROSPECTION")?.unwrap_or(!production),
            signup: env.bool("WARDEN_SIGNUP")?.unwrap_or(false),
            admin,
            refresh_reuse_grace: env.duration("WARDEN_REFRESH_REUSE_GRACE", "10s")?,
            cors_origins: parse_origins(env.list("WARDEN_CORS_ORIGINS"))?,
            messages_path: env.get("WARDEN_MESSAGES").map(PathBuf::from),
        })
    }
}

/// `WARDEN_CORS_ORIGINS`: a comma list of origins, each `scheme://host[:port]`, normalised to
/// lower case as browsers send them. `*` is refused: credentials are allowed for these
/// origins, and a wildcard with credentials would let any site act as the user.
fn parse_origins(items: Vec<String>) -> Result<Vec<String>, ConfigError> {
    const NAME: &str = "WARDEN_CORS_ORIGINS";
    items
        .into_iter()
        .map(|item| {
            let bad = |why: &str| ConfigError::new(NAME, format!("{item:?} {why}"));
            if item == "*" {
                return Err(ConfigError::new(
                    NAME,
                    "\"*\" is not allowed (credentials are sent to these origins); list each origin, e.g. https://app.example.com",
                ));
            }
            let origin = item.to_ascii_lowercase();
            let Some((scheme, authority)) = origin.split_once("://") else {
                return Err(bad("is not an origin: expected scheme://host[:port]"));
            };
            let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !scheme_ok {
                return Err(bad("has no valid scheme: expected scheme://host[:port]"));
            }
            if authority.ends_with('/') {
                return Err(bad("has a trailing slash: an origin has no path"));
            }
            // An IPv6 literal keeps its colons inside brackets.
            let (host, port) = match authority.rsplit_once(':') {
                Some((host, port)) if !port.contains(']') => (host, Some(port)),
                _ => (authority, None),
            };
            let host_ok = !host.is_empty()
                && host.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':')
                });
            if !host_ok {
                return Err(bad(
                    "is not an origin: expected scheme://host[:port], without path, query or user",
                ));
            }
            if port.is_some_and(|p| p.parse::<u16>().map_or(true, |p| p == 0)) {
                return Err(bad("has an invalid port"));
            }
            Ok(origin)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

    #[test]
    fn metrics_follow_the_environment_unless_given_their_own_address() {
        let key = ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef");
        let production = load(&[("WARDEN_ENV", "production"), key]).expect("loads");
        assert_eq!(production.metrics, MetricsExposure::Off);
        let own = load(&[
            ("WARDEN_ENV", "production"),
            key,
            ("WARDEN_METRICS_ADDR", "127.0.0.1:9100"),
        ])
        .expect("loads");
        assert_eq!(
            own.metrics,
            MetricsExposure::Listener("127.0.0.1:9100".parse().expect("addr"))
        );
    }

    #[test]
    fn the_cors_wildcard_is_refused_by_name_with_the_fix() {
        let err = load(&[("WARDEN_CORS_ORIGINS", "*")]).expect_err("wildcard");
        assert_eq!(err.variable, "WARDEN_CORS_ORIGINS");
        assert!(err.to_string().contains("list each origin"), "{err}");
    }

    #[test]
    fn cors_origins_are_kept_as_browsers_send_them() {
        let config = load(&[(
            "WARDEN_CORS_ORIGINS",
            "https://App.Example.com, http://localhost:5173,http://[::1]:8080",
        )])
        .expect("loads");
        assert_eq!(
            config.cors_origins,
            [
                "https://app.example.com",
                "http://localhost:5173",
                "http://[::1]:8080"
            ]
        );
    }
}
