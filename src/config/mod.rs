//! Typed configuration, loaded once at start from the environment (and `.env`).
//!
//! Every variable of docs/reference.md is parsed here and nowhere else. A bad value is
//! a [`ConfigError`] naming the variable: the process stops rather than falling back. Secrets
//! are wrapped so that `Debug` never prints them.
//!
//! Each section of the settings has its own module and loader: `jwt` (algorithm, keys,
//! lifetimes, claims), `transport` (token locations, headers, cookies, CSRF), `server`
//! (environment, addresses, API switches, CORS, metrics, log format), `limits` (GraphQL
//! request limits) and `login` (attempt limits, password hashing and policy, sessions);
//! `env` is how they all read and parse variables. This module puts them together, and its
//! paths (`config::JwtConfig`, …) are the ones the rest of the crate uses.

mod env;
mod jwt;
mod known;
mod limits;
mod login;
mod server;
mod transport;

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

pub use self::{
    env::parse_duration,
    jwt::{JwtConfig, MAX_LEEWAY_SECS, MIN_SECRET_BYTES, SigningKey, is_hmac, min_secret_bytes},
    known::KNOWN_VARIABLES,
    limits::LimitsConfig,
    login::{
        Argon2Params, Limit, LoginConfig, MAX_HASH_CONCURRENCY, MAX_PASSWORD_CHARS,
        OWASP_ARGON2_FLOOR,
    },
    server::{LogFormat, MetricsExposure},
    transport::{SameSite, TokenLocation, TransportConfig},
};
use self::{
    env::{Env, read_dotenv},
    jwt::Signing,
    server::{Operations, Process, Service},
    transport::Channels,
};

/// A configuration value that cannot be used; the message names the variable.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it, in one sentence.
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            reason: reason.into(),
        }
    }
}

/// The whole configuration of one Warden process.
#[derive(Debug, Clone)]
pub struct Config {
    /// SeaORM connection URL.
    pub database_url: String,
    /// Listen address (port 0 picks a free port).
    pub addr: SocketAddr,
    /// `WARDEN_ENV=production`.
    pub production: bool,
    /// Token signing and checking.
    pub jwt: JwtConfig,
    /// Token transport.
    pub transport: TransportConfig,
    /// GraphiQL on `GET /graphql`.
    pub playground: bool,
    /// Introspection queries allowed.
    pub introspection: bool,
    /// `register` enabled.
    pub signup: bool,
    /// Bootstrap admin, created at start when missing.
    pub admin: Option<(String, secrecy::SecretString)>,
    /// How long a just-rotated refresh token may be presented again.
    pub refresh_reuse_grace: Duration,
    /// Browser origins allowed by CORS (with credentials).
    pub cors_origins: Vec<String>,
    /// TOML file overriding error messages.
    pub messages_path: Option<PathBuf>,
    /// Longest the revocation state may go unconfirmed before guarded fields fail closed.
    pub revocation_max_lag: Duration,
    /// Where `/metrics` is served: its own listener, the main one (development), or nowhere.
    pub metrics: MetricsExposure,
    /// Per-request GraphQL limits (batch size, depth, complexity, aliases).
    pub limits: LimitsConfig,
    /// Login limits, client addresses, password hashing and policy, session lifetime.
    pub login: LoginConfig,
}

/// What a configuration is loaded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Serving: every section, the signing key included.
    Serve,
    /// `migrate` and `user …`: everything but the signing key.
    Administer,
}

impl Config {
    /// Loads from the process environment, after reading `.env` if there is one.
    ///
    /// # Errors
    /// The first variable whose value cannot be used.
    pub fn from_env() -> Result<Self, ConfigError> {
        read_dotenv()?;
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Loads for the commands that administer the database and never handle a token
    /// (`migrate`, `user …`): as [`Config::from_env`], but the signing key variables are not
    /// read, so they need only `DATABASE_URL`, in production too.
    ///
    /// # Errors
    /// The first variable whose value cannot be used.
    pub fn for_administration() -> Result<Self, ConfigError> {
        read_dotenv()?;
        Self::load(&|name| std::env::var(name).ok(), Purpose::Administer)
    }

    /// Loads from a map of variables (tests, embedding).
    ///
    /// # Errors
    /// The first variable whose value cannot be used.
    pub fn from_map(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| vars.get(name).cloned())
    }

    /// Loads from any lookup function; empty values count as unset.
    ///
    /// # Errors
    /// The first variable whose value cannot be used.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::load(lookup, Purpose::Serve)
    }

    fn load(
        lookup: &dyn Fn(&str) -> Option<String>,
        purpose: Purpose,
    ) -> Result<Self, ConfigError> {
        let env = Env { lookup };
        // The steps run in the order the checks have always run in, which decides the
        // variable an error names when several are bad. That order interleaves sections, so
        // the server, token and transport sections are each read in steps: keep it.
        let process = Process::load(&env)?;
        let production = process.production;
        let signing = match purpose {
            Purpose::Serve => Signing::load(&env, production)?,
            Purpose::Administer => Signing::unused()?,
        };
        let channels = Channels::load(&env)?;
        let jwt = JwtConfig::load(&env, signing)?;
        let cookie_secure = channels.cookie_secure(&env, production)?;
        let operations = Operations::load(&env, production)?;
        let transport = TransportConfig::load(&env, channels, cookie_secure)?;
        let service = Service::load(&env, production)?;
        Ok(Self {
            database_url: process.database_url,
            addr: process.addr,
            production,
            jwt,
            transport,
            playground: service.playground,
            introspection: service.introspection,
            signup: service.signup,
            admin: service.admin,
            refresh_reuse_grace: service.refresh_reuse_grace,
            cors_origins: service.cors_origins,
            messages_path: service.messages_path,
            revocation_max_lag: operations.revocation_max_lag,
            metrics: operations.metrics,
            limits: LimitsConfig::load(&env)?,
            login: LoginConfig::load(&env, production)?,
        })
    }

    /// What an operator should hear about before serving: a development server listening
    /// beyond the loopback (GraphiQL, introspection and `/metrics` open to the network), a
    /// development key production would refuse, and variables that look like Warden's but
    /// are not (a misspelling is otherwise ignored in silence). `names` are the variables set.
    pub fn warnings<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.production && !self.addr.ip().is_loopback() {
            warnings.push(format!(
                "WARDEN_ADDR: development mode listening on {}, beyond the loopback: GraphiQL, introspection and /metrics are open to the network (set WARDEN_ENV=production)",
                self.addr
            ));
        }
        if let SigningKey::Secret {
            key,
            generated: false,
        } = &self.jwt.key
        {
            let len = secrecy::ExposeSecret::expose_secret(key).len();
            let min = min_secret_bytes(self.jwt.algorithm);
            if !self.production && len < min {
                warnings.push(format!(
                    "JWT_SECRET_KEY: {len} bytes, shorter than the {min} production requires for {:?}",
                    self.jwt.algorithm
                ));
            }
        }
        for name in known::unknown(names) {
            warnings.push(format!(
                "{name}: not a variable Warden reads (a misspelling?); it is ignored"
            ));
        }
        warnings
    }

    /// True when the HMAC key was generated for this process (tokens die with it).
    pub fn key_is_ephemeral(&self) -> bool {
        matches!(
            self.jwt.key,
            SigningKey::Secret {
                generated: true,
                ..
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;

    use super::*;

    /// Loads a configuration from name and value pairs; the sections' tests use it too.
    pub(super) fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_map(&map)
    }

    #[test]
    fn defaults_follow_the_contract() {
        let config = load(&[]).expect("defaults load");
        assert_eq!(config.database_url, "sqlite://warden.db?mode=rwc");
        assert_eq!(config.addr.to_string(), "127.0.0.1:8000");
        assert_eq!(config.jwt.algorithm, Algorithm::HS256);
        assert_eq!(config.jwt.access_ttl, Duration::from_secs(900));
        assert_eq!(config.jwt.refresh_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(config.transport.locations, vec![TokenLocation::Headers]);
        assert_eq!(config.transport.header_type, "Bearer");
        assert_eq!(config.refresh_reuse_grace, Duration::from_secs(10));
        assert!(config.playground && config.introspection && !config.signup);
        assert!(config.key_is_ephemeral());
        assert_eq!(config.revocation_max_lag, Duration::from_secs(1));
        assert_eq!(config.metrics, MetricsExposure::MainListener);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let cases = [
            ("JWT_ACCESS_TOKEN_EXPIRES", "soon"),
            ("JWT_ALGORITHM", "none"),
            ("WARDEN_ADDR", "localhost"),
            ("WARDEN_REVOCATION_MAX_LAG", "soon"),
            ("WARDEN_REVOCATION_MAX_LAG", "10ms"),
            ("WARDEN_METRICS_ADDR", "metrics"),
            ("WARDEN_SIGNUP", "maybe"),
            ("JWT_TOKEN_LOCATION", "query_string"),
            ("JWT_COOKIE_SAMESITE", "sometimes"),
            ("WARDEN_ENV", "staging"),
            ("JWT_DECODE_LEEWAY", "6m"),
            ("JWT_DECODE_LEEWAY", "301"),
            ("JWT_COOKIE_SAMESITE", "None"),
            ("JWT_SESSION_COOKIE", "sometimes"),
            ("WARDEN_CORS_ORIGINS", "*"),
            ("WARDEN_CORS_ORIGINS", "https://app.example.com,*"),
            ("WARDEN_CORS_ORIGINS", "app.example.com"),
            ("WARDEN_CORS_ORIGINS", "https://app.example.com/"),
            ("WARDEN_CORS_ORIGINS", "https://app.example.com/login"),
            ("WARDEN_CORS_ORIGINS", "https://app.example.com:99999"),
            ("WARDEN_CORS_ORIGINS", "https://user@app.example.com"),
            ("WARDEN_CORS_ORIGINS", "https://"),
            ("WARDEN_CORS_ORIGINS", "null"),
            ("WARDEN_MAX_BATCH", "0"),
            ("WARDEN_MAX_BATCH", "ten"),
            ("WARDEN_MAX_DEPTH", "-1"),
            ("WARDEN_MAX_COMPLEXITY", "0"),
            ("WARDEN_MAX_ALIASES", "many"),
        ];
        for (name, value) in cases {
            let err = load(&[(name, value)]).expect_err(name);
            assert_eq!(err.variable, name);
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let config =
            load(&[("JWT_SECRET_KEY", "do-not-print-me-0123456789abcdef")]).expect("loads");
        assert!(!format!("{config:?}").contains("do-not-print-me"));
    }
}
