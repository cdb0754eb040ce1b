//! The login section: what protects the password check — attempt limits per account and per
//! client address, the proxies trusted to name the client, argon2id's cost and concurrency,
//! the password policy — and the absolute session lifetime (`WARDEN_LOGIN_LIMIT_*`,
//! `WARDEN_TRUSTED_PROXIES`, `WARDEN_ARGON2_*`, `WARDEN_PASSWORD_MIN_LENGTH`, …).
//!
//! Its own module because these settings serve one path, the login and password service,
//! and carry its security floors (OWASP's argon2id minimum, the password length bounds).

use std::time::Duration;

use super::{
    ConfigError,
    env::{Env, parse_duration},
};

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

/// Most password hashes allowed at once (`WARDEN_HASH_CONCURRENCY`).
pub const MAX_HASH_CONCURRENCY: usize = 1024;

/// Longest password accepted, in code points (docs/reference.md, "Limits").
pub const MAX_PASSWORD_CHARS: usize = 128;

impl LoginConfig {
    /// The limits, trusted proxies, hashing concurrency, argon2id parameters (refused below
    /// OWASP's floor in production), password minimum and session lifetime.
    pub(super) fn load(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let limit = |name: &'static str, default: Limit| {
            env.get(name)
                .map_or(Ok(default), |text| Limit::parse(name, &text))
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
            memory_kib: env.number(
                "WARDEN_ARGON2_MEMORY",
                defaults.argon2.memory_kib as usize,
                8,
                u32_max,
            )? as u32,
            iterations: env.number(
                "WARDEN_ARGON2_ITERATIONS",
                defaults.argon2.iterations as usize,
                1,
                u32_max,
            )? as u32,
            parallelism: env.number(
                "WARDEN_ARGON2_PARALLELISM",
                defaults.argon2.parallelism as usize,
                1,
                255,
            )? as u32,
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
            hash_concurrency: env.number(
                "WARDEN_HASH_CONCURRENCY",
                defaults.hash_concurrency,
                1,
                MAX_HASH_CONCURRENCY,
            )?,
            argon2,
            password_min_length: env.number(
                "WARDEN_PASSWORD_MIN_LENGTH",
                defaults.password_min_length,
                8,
                MAX_PASSWORD_CHARS,
            )?,
            session_max_age,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

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
}
