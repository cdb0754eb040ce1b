//! Typed configuration, loaded once at start from the environment (and `.env`).
//!
//! Every variable of the contract's section 1 is parsed here and nowhere else. A bad value is
//! a [`ConfigError`] naming the variable: the process stops rather than falling back. Secrets
//! are wrapped so that `Debug` never prints them.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use jsonwebtoken::Algorithm;
use secrecy::{ExposeSecret, SecretSlice};

/// Shortest HMAC key accepted in production for HS256 (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;
/// Most clock skew `JWT_DECODE_LEEWAY` may allow, seconds (contract section 7).
pub const MAX_LEEWAY_SECS: u64 = 5 * 60;

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

/// Where a request's token may travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenLocation {
    /// `Authorization: Bearer …` (names configurable).
    Headers,
    /// `access_token_cookie` / `refresh_token_cookie` with double-submit CSRF.
    Cookies,
}

/// `SameSite` attribute of token cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers then require `Secure`).
    None,
}

/// The key material tokens are signed and verified with.
#[derive(Debug, Clone)]
pub enum SigningKey {
    /// HMAC secret (HS256/384/512).
    Secret {
        /// The raw key bytes, as Flask-JWT-Extended uses `JWT_SECRET_KEY`.
        key: SecretSlice<u8>,
        /// True when the key was generated for this process (development only).
        generated: bool,
    },
    /// PEM-encoded key pair for RS256, ES256 or EdDSA.
    Pem {
        /// Private key, PEM.
        private: SecretSlice<u8>,
        /// Public key, PEM.
        public: Vec<u8>,
    },
}

/// Everything the JWT layer needs: algorithm, keys, lifetimes and claim checks.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The one algorithm tokens are signed with and accepted in.
    pub algorithm: Algorithm,
    /// Key material matching `algorithm`.
    pub key: SigningKey,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// `iss` written into tokens.
    pub encode_issuer: Option<String>,
    /// `iss` required of tokens.
    pub decode_issuer: Option<String>,
    /// `aud` written into tokens.
    pub encode_audience: Vec<String>,
    /// `aud` accepted (any of).
    pub decode_audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway: u64,
}

impl JwtConfig {
    /// One algorithm and key with the contract's defaults for everything else (15m access,
    /// 30d refresh, no `iss`/`aud`, no leeway).
    pub fn new(algorithm: Algorithm, key: SigningKey) -> Self {
        Self {
            algorithm,
            key,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 86_400),
            encode_issuer: None,
            decode_issuer: None,
            encode_audience: Vec::new(),
            decode_audience: Vec::new(),
            leeway: 0,
        }
    }
}

/// Where tokens travel and what the cookies look like.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Locations in the order they are tried.
    pub locations: Vec<TokenLocation>,
    /// Header carrying the token.
    pub header_name: String,
    /// Scheme word before the token in that header (may be empty).
    pub header_type: String,
    /// `Secure` on token cookies.
    pub cookie_secure: bool,
    /// `SameSite` on token cookies.
    pub cookie_samesite: SameSite,
    /// Token cookies end with the browser session (no `Max-Age`), as in Flask-JWT-Extended.
    pub session_cookie: bool,
    /// Double-submit CSRF check for cookie tokens.
    pub csrf_protect: bool,
    /// Access-token cookie name.
    pub access_cookie: String,
    /// Refresh-token cookie name.
    pub refresh_cookie: String,
    /// Access CSRF cookie name (readable by scripts).
    pub access_csrf_cookie: String,
    /// Refresh CSRF cookie name (readable by scripts).
    pub refresh_csrf_cookie: String,
    /// Header that must echo the CSRF cookie.
    pub csrf_header: String,
}

impl TransportConfig {
    /// True when tokens may travel in cookies.
    pub fn uses_cookies(&self) -> bool {
        self.locations.contains(&TokenLocation::Cookies)
    }

    /// True when tokens may travel in headers (and so appear in response bodies).
    pub fn uses_headers(&self) -> bool {
        self.locations.contains(&TokenLocation::Headers)
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

/// Reads variables by name; empty values count as unset.
struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    fn bool(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        self.get(name).map(|v| parse_bool(name, &v)).transpose()
    }

    fn duration(&self, name: &'static str, default: &str) -> Result<Duration, ConfigError> {
        parse_duration(name, &self.string(name, default))
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Reads `.env` into the environment (variables already set win). A missing file is normal;
/// a malformed one is reported by name. Only the current directory's: `dotenvy::dotenv()`
/// would also search the parent folders, and pick up a file the operator never meant for
/// this process.
fn read_dotenv() -> Result<(), ConfigError> {
    match dotenvy::from_path(".env") {
        Err(e) if !e.not_found() => Err(ConfigError::new(".env", e.to_string())),
        _ => Ok(()),
    }
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
    /// Read before anything else is logged (so before [`Config::from_env`]), from the
    /// environment and `.env`.
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

/// `true`/`false`, also `1`/`0` (and `yes`/`no`, `on`/`off`), case-insensitive.
fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}

/// Integer seconds (`900`) or humantime text (`15m`, `30d`).
pub fn parse_duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(value).map_err(|e| {
        ConfigError::new(
            name,
            format!("expected seconds or a duration like 15m or 30d, got {value:?} ({e})"),
        )
    })
}

fn parse_algorithm(value: &str) -> Result<Algorithm, ConfigError> {
    const NAME: &str = "JWT_ALGORITHM";
    match value.trim().to_ascii_uppercase().as_str() {
        "HS256" => Ok(Algorithm::HS256),
        "HS384" => Ok(Algorithm::HS384),
        "HS512" => Ok(Algorithm::HS512),
        "RS256" => Ok(Algorithm::RS256),
        "ES256" => Ok(Algorithm::ES256),
        "EDDSA" => Ok(Algorithm::EdDSA),
        other => Err(ConfigError::new(
            NAME,
            format!(
                "unsupported algorithm {other:?}; use HS256, HS384, HS512, RS256, ES256 or EdDSA"
            ),
        )),
    }
}

/// True for the HMAC family, whose one key both signs and verifies.
pub fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    )
}

fn read_pem(name: &'static str, path: Option<String>) -> Result<Vec<u8>, ConfigError> {
    let path = path.ok_or_else(|| {
        ConfigError::new(name, "required for asymmetric algorithms (a PEM file path)")
    })?;
    std::fs::read(&path).map_err(|e| ConfigError::new(name, format!("cannot read {path:?}: {e}")))
}

/// Shortest HMAC key accepted in production: as long as the hash's output (RFC 7518 §3.2).
pub fn min_secret_bytes(algorithm: Algorithm) -> usize {
    match algorithm {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => MIN_SECRET_BYTES,
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

fn random_key(len: usize) -> Result<Vec<u8>, ConfigError> {
    let mut key = vec![0u8; len];
    getrandom::fill(&mut key)
        .map_err(|e| ConfigError::new("JWT_SECRET_KEY", format!("cannot generate a key: {e}")))?;
    Ok(key)
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
        let env = Env { lookup };

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

        let algorithm = parse_algorithm(&env.string("JWT_ALGORITHM", "HS256"))?;
        let key = if is_hmac(algorithm) {
            match env.get("JWT_SECRET_KEY") {
                Some(secret) => {
                    let min = min_secret_bytes(algorithm);
                    if production && secret.len() < min {
                        return Err(ConfigError::new(
                            "JWT_SECRET_KEY",
                            format!("must be at least {min} bytes for {algorithm:?} in production"),
                        ));
                    }
                    SigningKey::Secret {
                        key: secret.into_bytes().into(),
                        generated: false,
                    }
                }
                None if production => {
                    return Err(ConfigError::new(
                        "JWT_SECRET_KEY",
                        format!(
                            "required in production (at least {} random bytes)",
                            min_secret_bytes(algorithm)
                        ),
                    ));
                }
                None => SigningKey::Secret {
                    key: random_key(min_secret_bytes(algorithm))?.into(),
                    generated: true,
                },
            }
        } else {
            SigningKey::Pem {
                private: read_pem("JWT_PRIVATE_KEY", env.get("JWT_PRIVATE_KEY"))?.into(),
                public: read_pem("JWT_PUBLIC_KEY", env.get("JWT_PUBLIC_KEY"))?,
            }
        };

        let mut locations = Vec::new();
        for item in env.list("JWT_TOKEN_LOCATION") {
            let location = match item.to_ascii_lowercase().as_str() {
                "headers" => TokenLocation::Headers,
                "cookies" => TokenLocation::Cookies,
                other => {
                    return Err(ConfigError::new(
                        "JWT_TOKEN_LOCATION",
                        format!("unknown location {other:?}; use headers and/or cookies"),
                    ));
                }
            };
            if !locations.contains(&location) {
                locations.push(location);
            }
        }
        if locations.is_empty() {
            locations.push(TokenLocation::Headers);
        }

        let cookie_samesite = match env
            .string("JWT_COOKIE_SAMESITE", "Lax")
            .to_ascii_lowercase()
            .as_str()
        {
            "strict" => SameSite::Strict,
            "lax" => SameSite::Lax,
            "none" => SameSite::None,
            other => {
                return Err(ConfigError::new(
                    "JWT_COOKIE_SAMESITE",
                    format!("expected Strict, Lax or None, got {other:?}"),
                ));
            }
        };

        let header_name = env.string("JWT_HEADER_NAME", "Authorization");
        if axum::http::HeaderName::from_bytes(header_name.as_bytes()).is_err() {
            return Err(ConfigError::new(
                "JWT_HEADER_NAME",
                format!("{header_name:?} is not a valid header name"),
            ));
        }
        let csrf_header = env.string("JWT_CSRF_HEADER_NAME", "X-CSRF-TOKEN");
        if axum::http::HeaderName::from_bytes(csrf_header.as_bytes()).is_err() {
            return Err(ConfigError::new(
                "JWT_CSRF_HEADER_NAME",
                format!("{csrf_header:?} is not a valid header name"),
            ));
        }

        let access_ttl = env.duration("JWT_ACCESS_TOKEN_EXPIRES", "15m")?;
        if access_ttl.is_zero() {
            return Err(ConfigError::new(
                "JWT_ACCESS_TOKEN_EXPIRES",
                "must be longer than 0",
            ));
        }
        let refresh_ttl = env.duration("JWT_REFRESH_TOKEN_EXPIRES", "30d")?;
        if refresh_ttl.is_zero() {
            return Err(ConfigError::new(
                "JWT_REFRESH_TOKEN_EXPIRES",
                "must be longer than 0",
            ));
        }
        let leeway = env.duration("JWT_DECODE_LEEWAY", "0")?.as_secs();
        if leeway > MAX_LEEWAY_SECS {
            return Err(ConfigError::new(
                "JWT_DECODE_LEEWAY",
                format!("at most 5m ({MAX_LEEWAY_SECS} seconds): it lets expired tokens through"),
            ));
        }
        let cookie_secure = env.bool("JWT_COOKIE_SECURE")?.unwrap_or(production);
        if cookie_samesite == SameSite::None && !cookie_secure {
            return Err(ConfigError::new(
                "JWT_COOKIE_SAMESITE",
                "None needs JWT_COOKIE_SECURE=true (browsers drop SameSite=None cookies without Secure)",
            ));
        }

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

        let admin = match (
            env.get("WARDEN_ADMIN_EMAIL"),
            env.get("WARDEN_ADMIN_PASSWORD"),
        ) {
            (Some(email), Some(password)) => Some((email, password.into())),
            _ => None,
        };

        Ok(Self {
            database_url: env.string("DATABASE_URL", "sqlite://warden.db?mode=rwc"),
            addr,
            production,
            jwt: JwtConfig {
                algorithm,
                key,
                access_ttl,
                refresh_ttl,
                encode_issuer: env.get("JWT_ENCODE_ISSUER"),
                decode_issuer: env.get("JWT_DECODE_ISSUER"),
                encode_audience: env.list("JWT_ENCODE_AUDIENCE"),
                decode_audience: env.list("JWT_DECODE_AUDIENCE"),
                leeway,
            },
            transport: TransportConfig {
                locations,
                header_name,
                header_type: env.string("JWT_HEADER_TYPE", "Bearer").trim().to_owned(),
                cookie_secure,
                cookie_samesite,
                session_cookie: env.bool("JWT_SESSION_COOKIE")?.unwrap_or(true),
                csrf_protect: env.bool("JWT_COOKIE_CSRF_PROTECT")?.unwrap_or(true),
                access_cookie: env.string("JWT_ACCESS_COOKIE_NAME", "access_token_cookie"),
                refresh_cookie: env.string("JWT_REFRESH_COOKIE_NAME", "refresh_token_cookie"),
                access_csrf_cookie: env.string("JWT_ACCESS_CSRF_COOKIE_NAME", "csrf_access_token"),
                refresh_csrf_cookie: env
                    .string("JWT_REFRESH_CSRF_COOKIE_NAME", "csrf_refresh_token"),
                csrf_header,
            },
            playground: env.bool("WARDEN_PLAYGROUND")?.unwrap_or(!production),
            introspection: env.bool("WARDEN_INTROSPECTION")?.unwrap_or(!production),
            signup: env.bool("WARDEN_SIGNUP")?.unwrap_or(false),
            admin,
            refresh_reuse_grace: env.duration("WARDEN_REFRESH_REUSE_GRACE", "10s")?,
            cors_origins: parse_origins(env.list("WARDEN_CORS_ORIGINS"))?,
            messages_path: env.get("WARDEN_MESSAGES").map(PathBuf::from),
            revocation_max_lag,
            metrics,
            limits: limits(&env)?,
            login: LoginConfig::load(&env, production)?,
        })
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

impl SigningKey {
    /// The HMAC secret, when this is one.
    pub fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::Secret { key, .. } => Some(key.expose_secret()),
            Self::Pem { .. } => None,
        }
    }
}

/// Per-request GraphQL limits, checked before execution (contract sections 1 and 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Operations per JSON batch (`WARDEN_MAX_BATCH`).
    pub max_batch: usize,
    /// Deepest field nesting per document (`WARDEN_MAX_DEPTH`; `{ me { id } }` is 2).
    pub max_depth: usize,
    /// Most fields per document, `__typename` included (`WARDEN_MAX_COMPLEXITY`).
    pub max_complexity: usize,
    /// Most aliased fields per document (`WARDEN_MAX_ALIASES`).
    pub max_aliases: usize,
}

impl Default for LimitsConfig {
    /// The contract's defaults.
    fn default() -> Self {
        Self {
            max_batch: 10,
            max_depth: 15,
            max_complexity: 500,
            max_aliases: 50,
        }
    }
}

/// `N` attempts per `window` (`WARDEN_LOGIN_LIMIT_*`, written `N/duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Attempts allowed per window (at least 1).
    pub max: u32,
    /// The sliding window they are counted in.
    pub window: Duration,
}

impl Limit {
    /// Parses `10/15m` (or `10/900`).
    ///
    /// # Errors
    /// A message naming `name` when the text is not `N/duration` with `N` and the duration
    /// above zero.
    pub fn parse(name: &'static str, value: &str) -> Result<Self, ConfigError> {
        let bad = || {
            ConfigError::new(
                name,
                format!("expected attempts/window such as 10/15m, got {value:?}"),
            )
        };
        let (max, window) = value.trim().split_once('/').ok_or_else(bad)?;
        let max: u32 = max.trim().parse().map_err(|_| bad())?;
        let window = parse_duration(name, window).map_err(|_| bad())?;
        if max == 0 || window.is_zero() {
            return Err(bad());
        }
        Ok(Self { max, window })
    }
}

/// argon2id cost parameters (`WARDEN_ARGON2_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations (time cost).
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's first recommendation, also argon2 0.6's defaults.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

fn limits(env: &Env<'_>) -> Result<LimitsConfig, ConfigError> {
    let count = |name: &'static str, default: usize| -> Result<usize, ConfigError> {
        let Some(text) = env.get(name) else {
            return Ok(default);
        };
        match text.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!("expected a whole number of at least 1, got {text:?}"),
            )),
        }
    };
    let defaults = LimitsConfig::default();
    Ok(LimitsConfig {
        max_batch: count("WARDEN_MAX_BATCH", defaults.max_batch)?,
        max_depth: count("WARDEN_MAX_DEPTH", defaults.max_depth)?,
        max_complexity: count("WARDEN_MAX_COMPLEXITY", defaults.max_complexity)?,
        max_aliases: count("WARDEN_MAX_ALIASES", defaults.max_aliases)?,
    })
}

/// OWASP's argon2id configurations (memory KiB, iterations), each equally strong; parameters
/// at least as large as one of them are at or above the floor.
pub const OWASP_ARGON2_FLOOR: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl Argon2Params {
    /// True when no OWASP configuration is met (memory and iterations both at least its own).
    pub fn below_owasp_floor(&self) -> bool {
        !OWASP_ARGON2_FLOOR
            .iter()
            .any(|&(m, t)| self.memory_kib >= m && self.iterations >= t)
    }
}

/// Login protection, password hashing and policy, and session lifetime.
#[derive(Debug, Clone)]
pub struct LoginConfig {
    /// Failed password checks allowed per account (`WARDEN_LOGIN_LIMIT_ACCOUNT`).
    pub account_limit: Limit,
    /// Failed password checks allowed per client address (`WARDEN_LOGIN_LIMIT_IP`).
    pub ip_limit: Limit,
    /// Proxies whose `X-Forwarded-For` names the client (`WARDEN_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Password hashes computed at once (`WARDEN_HASH_CONCURRENCY`).
    pub hash_concurrency: usize,
    /// argon2id parameters (`WARDEN_ARGON2_MEMORY` / `_ITERATIONS` / `_PARALLELISM`).
    pub argon2: Argon2Params,
    /// Shortest password, in code points (`WARDEN_PASSWORD_MIN_LENGTH`).
    pub password_min_length: usize,
    /// Absolute session lifetime (`WARDEN_SESSION_MAX_AGE`).
    pub session_max_age: Duration,
}

impl Default for LoginConfig {
    /// The contract's defaults.
    fn default() -> Self {
        Self {
            account_limit: Limit {
                max: 10,
                window: Duration::from_secs(15 * 60),
            },
            ip_limit: Limit {
                max: 100,
                window: Duration::from_secs(15 * 60),
            },
            trusted_proxies: Vec::new(),
            hash_concurrency: default_hash_concurrency(),
            argon2: Argon2Params::default(),
            password_min_length: 12,
            session_max_age: Duration::from_secs(90 * 86_400),
        }
    }
}

/// One argon2 run per CPU.
fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Longest password accepted, in code points (contract section 7).
pub const MAX_PASSWORD_CHARS: usize = 128;

impl LoginConfig {
    fn load(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let limit = |name: &'static str, default: Limit| {
            env.get(name)
                .map_or(Ok(default), |text| Limit::parse(name, &text))
        };
        let number = |name: &'static str, default: usize, min: usize, max: usize| {
            let Some(text) = env.get(name) else {
                return Ok(default);
            };
            match text.trim().parse::<usize>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::new(
                    name,
                    format!("expected a whole number from {min} to {max}, got {text:?}"),
                )),
            }
        };
        let mut trusted_proxies = Vec::new();
        for item in env.list("WARDEN_TRUSTED_PROXIES") {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        "WARDEN_TRUSTED_PROXIES",
                        format!("{item:?} is not an IP address or CIDR such as 10.0.0.0/8"),
                    )
                })?;
            trusted_proxies.push(net);
        }
        let u32_max = u32::MAX as usize;
        let argon2 = Argon2Params {
            memory_kib: number("WARDEN_ARGON2_MEMORY", 19_456, 8, u32_max)? as u32,
            iterations: number("WARDEN_ARGON2_ITERATIONS", 2, 1, u32_max)? as u32,
            parallelism: number("WARDEN_ARGON2_PARALLELISM", 1, 1, 255)? as u32,
        };
        if argon2::Params::new(
            argon2.memory_kib,
            argon2.iterations,
            argon2.parallelism,
            None,
        )
        .is_err()
        {
            return Err(ConfigError::new(
                "WARDEN_ARGON2_MEMORY",
                "argon2 needs at least 8 KiB of memory per lane",
            ));
        }
        if production && argon2.below_owasp_floor() {
            return Err(ConfigError::new(
                "WARDEN_ARGON2_MEMORY",
                format!(
                    "{} KiB with {} iterations is below OWASP's minimum for argon2id \
                     (e.g. 19456 KiB with 2 iterations); refused in production",
                    argon2.memory_kib, argon2.iterations
                ),
            ));
        }
        let session_max_age = env.duration("WARDEN_SESSION_MAX_AGE", "90d")?;
        if session_max_age.is_zero() {
            return Err(ConfigError::new(
                "WARDEN_SESSION_MAX_AGE",
                "must be longer than 0",
            ));
        }
        Ok(Self {
            account_limit: limit("WARDEN_LOGIN_LIMIT_ACCOUNT", defaults.account_limit)?,
            ip_limit: limit("WARDEN_LOGIN_LIMIT_IP", defaults.ip_limit)?,
            trusted_proxies,
            hash_concurrency: number(
                "WARDEN_HASH_CONCURRENCY",
                defaults.hash_concurrency,
                1,
                1024,
            )?,
            argon2,
            password_min_length: number("WARDEN_PASSWORD_MIN_LENGTH", 12, 8, MAX_PASSWORD_CHARS)?,
            session_max_age,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
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
    fn durations_take_seconds_or_humantime() {
        let config = load(&[
            ("JWT_ACCESS_TOKEN_EXPIRES", "90"),
            ("JWT_REFRESH_TOKEN_EXPIRES", "2h"),
        ])
        .expect("loads");
        assert_eq!(config.jwt.access_ttl, Duration::from_secs(90));
        assert_eq!(config.jwt.refresh_ttl, Duration::from_secs(7200));
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

    #[test]
    fn leeway_is_at_most_five_minutes() {
        let config = load(&[("JWT_DECODE_LEEWAY", "5m")]).expect("5m is the bound");
        assert_eq!(config.jwt.leeway, 300);
    }

    #[test]
    fn hmac_keys_in_production_are_as_long_as_the_hash() {
        let key = |n: usize| "k".repeat(n);
        for (algorithm, min) in [("HS256", 32), ("HS384", 48), ("HS512", 64)] {
            let short = key(min - 1);
            let err = load(&[
                ("WARDEN_ENV", "production"),
                ("JWT_ALGORITHM", algorithm),
                ("JWT_SECRET_KEY", &short),
            ])
            .expect_err(algorithm);
            assert_eq!(err.variable, "JWT_SECRET_KEY");
            assert!(err.to_string().contains(&min.to_string()), "{err}");
            let long = key(min);
            load(&[
                ("WARDEN_ENV", "production"),
                ("JWT_ALGORITHM", algorithm),
                ("JWT_SECRET_KEY", &long),
            ])
            .expect(algorithm);
        }
        // Development generates a key as long as the algorithm needs.
        let config = load(&[("JWT_ALGORITHM", "HS512")]).expect("loads");
        assert_eq!(config.jwt.key.secret().map(<[u8]>::len), Some(64));
    }

    #[test]
    fn cookies_are_secure_by_default_in_production_only() {
        let development = load(&[]).expect("loads");
        assert!(!development.transport.cookie_secure);
        assert!(development.transport.session_cookie);
        let production = load(&[
            ("WARDEN_ENV", "production"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ])
        .expect("loads");
        assert!(production.transport.cookie_secure);
        let none = load(&[
            ("JWT_COOKIE_SAMESITE", "None"),
            ("JWT_COOKIE_SECURE", "true"),
        ])
        .expect("SameSite=None with Secure");
        assert_eq!(none.transport.cookie_samesite, SameSite::None);
        let err = load(&[
            ("WARDEN_ENV", "production"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("JWT_COOKIE_SAMESITE", "None"),
            ("JWT_COOKIE_SECURE", "false"),
        ])
        .expect_err("SameSite=None without Secure");
        assert_eq!(err.variable, "JWT_COOKIE_SAMESITE");
    }

    #[test]
    fn graphql_limits_default_to_the_contract_and_are_configurable() {
        let config = load(&[]).expect("loads");
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(
            (
                config.limits.max_batch,
                config.limits.max_depth,
                config.limits.max_complexity,
                config.limits.max_aliases
            ),
            (10, 15, 500, 50)
        );
        let config = load(&[
            ("WARDEN_MAX_BATCH", "1"),
            ("WARDEN_MAX_DEPTH", "8"),
            ("WARDEN_MAX_COMPLEXITY", "100"),
            ("WARDEN_MAX_ALIASES", "5"),
        ])
        .expect("loads");
        assert_eq!(
            config.limits,
            LimitsConfig {
                max_batch: 1,
                max_depth: 8,
                max_complexity: 100,
                max_aliases: 5
            }
        );
    }

    #[test]
    fn asymmetric_algorithms_need_their_key_files() {
        let err = load(&[("JWT_ALGORITHM", "RS256")]).expect_err("no key files");
        assert_eq!(err.variable, "JWT_PRIVATE_KEY");
        let err = load(&[
            ("JWT_ALGORITHM", "RS256"),
            ("JWT_PRIVATE_KEY", "/nonexistent.pem"),
        ])
        .expect_err("missing file");
        assert_eq!(err.variable, "JWT_PRIVATE_KEY");
    }

    #[test]
    fn production_refuses_a_missing_or_short_key() {
        let err = load(&[("WARDEN_ENV", "production")]).expect_err("missing key");
        assert_eq!(err.variable, "JWT_SECRET_KEY");
        let err = load(&[("WARDEN_ENV", "production"), ("JWT_SECRET_KEY", "short")])
            .expect_err("short key");
        assert_eq!(err.variable, "JWT_SECRET_KEY");
        let config = load(&[
            ("WARDEN_ENV", "production"),
            ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ])
        .expect("strong key");
        assert!(!config.playground && !config.introspection);
        assert!(!config.key_is_ephemeral());
    }

    #[test]
    fn empty_values_count_as_unset_and_booleans_take_digits() {
        let config = load(&[
            ("WARDEN_SIGNUP", "1"),
            ("WARDEN_PLAYGROUND", "0"),
            ("JWT_ALGORITHM", ""),
        ])
        .expect("loads");
        assert!(config.signup);
        assert!(!config.playground);
        assert_eq!(config.jwt.algorithm, Algorithm::HS256);
    }

    fn per(max: u32, secs: u64) -> Limit {
        Limit {
            max,
            window: Duration::from_secs(secs),
        }
    }

    #[test]
    fn login_protections_default_to_the_contract() {
        let login = load(&[]).expect("defaults load").login;
        assert_eq!(login.account_limit, per(10, 900));
        assert_eq!(login.ip_limit, per(100, 900));
        assert!(login.trusted_proxies.is_empty());
        assert!(login.hash_concurrency >= 1);
        assert_eq!(login.argon2, Argon2Params::default());
        assert_eq!(login.password_min_length, 12);
        assert_eq!(login.session_max_age, Duration::from_secs(90 * 86_400));
    }

    #[test]
    fn login_variables_parse_limits_addresses_and_numbers() {
        let login = load(&[
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "5/1h"),
            ("WARDEN_LOGIN_LIMIT_IP", "50/600"),
            ("WARDEN_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7, ::1"),
            ("WARDEN_HASH_CONCURRENCY", "3"),
            ("WARDEN_PASSWORD_MIN_LENGTH", "16"),
            ("WARDEN_SESSION_MAX_AGE", "2s"),
        ])
        .expect("loads")
        .login;
        assert_eq!(login.account_limit, per(5, 3600));
        assert_eq!(login.ip_limit, per(50, 600));
        assert_eq!(login.trusted_proxies.len(), 3);
        assert!(
            login.trusted_proxies[0].contains(&"10.9.8.7".parse::<std::net::IpAddr>().expect("ip"))
        );
        assert_eq!(login.hash_concurrency, 3);
        assert_eq!(login.password_min_length, 16);
        assert_eq!(login.session_max_age, Duration::from_secs(2));
    }

    #[test]
    fn each_bad_login_value_names_its_variable() {
        let cases = [
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "10"),
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "0/15m"),
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "ten/15m"),
            ("WARDEN_LOGIN_LIMIT_ACCOUNT", "10/0s"),
            ("WARDEN_LOGIN_LIMIT_IP", "100/soon"),
            ("WARDEN_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("WARDEN_TRUSTED_PROXIES", "proxy.internal"),
            ("WARDEN_HASH_CONCURRENCY", "0"),
            ("WARDEN_HASH_CONCURRENCY", "many"),
            ("WARDEN_ARGON2_MEMORY", "4"),
            ("WARDEN_ARGON2_ITERATIONS", "0"),
            ("WARDEN_ARGON2_PARALLELISM", "0"),
            ("WARDEN_PASSWORD_MIN_LENGTH", "7"),
            ("WARDEN_PASSWORD_MIN_LENGTH", "129"),
            ("WARDEN_SESSION_MAX_AGE", "0"),
            ("WARDEN_SESSION_MAX_AGE", "forever"),
        ];
        for (name, value) in cases {
            let err = load(&[(name, value)]).expect_err(value);
            assert_eq!(err.variable, name, "{value}");
        }
    }

    #[test]
    fn weak_argon2_parameters_are_refused_in_production_and_allowed_in_development() {
        let weak = [
            ("WARDEN_ARGON2_MEMORY", "8192"),
            ("WARDEN_ARGON2_ITERATIONS", "2"),
        ];
        let development = load(&weak).expect("development only warns");
        assert!(development.login.argon2.below_owasp_floor());
        let key = ("JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef");
        let err = load(&[("WARDEN_ENV", "production"), key, weak[0], weak[1]])
            .expect_err("production refuses");
        assert_eq!(err.variable, "WARDEN_ARGON2_MEMORY");
        let stronger = load(&[
            ("WARDEN_ENV", "production"),
            key,
            ("WARDEN_ARGON2_MEMORY", "12288"),
            ("WARDEN_ARGON2_ITERATIONS", "3"),
        ])
        .expect("an OWASP configuration");
        assert!(!stronger.login.argon2.below_owasp_floor());
    }

    #[test]
    fn secrets_do_not_print() {
        let config =
            load(&[("JWT_SECRET_KEY", "do-not-print-me-0123456789abcdef")]).expect("loads");
        assert!(!format!("{config:?}").contains("do-not-print-me"));
    }
}
