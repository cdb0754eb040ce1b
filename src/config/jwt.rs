//! The token section: which algorithm tokens are signed with, the key material, the token
//! lifetimes, `iss`/`aud` and the decode leeway (`JWT_ALGORITHM`, `JWT_SECRET_KEY`,
//! `JWT_*_TOKEN_EXPIRES`, …).
//!
//! Its own module because it is the one section holding secrets and the one whose rules
//! (key length per algorithm, the leeway bound) come from the token standards.
//!
//! Read in two steps, [`Signing::load`] then [`JwtConfig::load`], with the transport's first
//! variables checked between them as they always were (see [`super::Config::from_lookup`]).

use std::time::Duration;

use jsonwebtoken::Algorithm;
use secrecy::{ExposeSecret, SecretSlice};

use super::{ConfigError, env::Env};

/// Shortest HMAC key accepted in production for HS256 (256 bits).
pub const MIN_SECRET_BYTES: usize = 32;
/// Most clock skew `JWT_DECODE_LEEWAY` may allow, seconds (docs/reference.md, "Limits").
pub const MAX_LEEWAY_SECS: u64 = 5 * 60;

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

impl SigningKey {
    /// The HMAC secret, when this is one.
    pub fn secret(&self) -> Option<&[u8]> {
        match self {
            Self::Secret { key, .. } => Some(key.expose_secret()),
            Self::Pem { .. } => None,
        }
    }
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

    /// The rest of the section, once [`Signing::load`] has read the algorithm and key:
    /// lifetimes (`JWT_ACCESS_TOKEN_EXPIRES`, `JWT_REFRESH_TOKEN_EXPIRES`), the leeway, and
    /// `iss`/`aud`.
    pub(super) fn load(env: &Env<'_>, signing: Signing) -> Result<Self, ConfigError> {
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
        Ok(Self {
            algorithm: signing.algorithm,
            key: signing.key,
            access_ttl,
            refresh_ttl,
            encode_issuer: env.get("JWT_ENCODE_ISSUER"),
            decode_issuer: env.get("JWT_DECODE_ISSUER"),
            encode_audience: env.list("JWT_ENCODE_AUDIENCE"),
            decode_audience: env.list("JWT_DECODE_AUDIENCE"),
            leeway,
        })
    }
}

/// The section's first step: the algorithm and the key material that goes with it.
pub(super) struct Signing {
    algorithm: Algorithm,
    key: SigningKey,
}

impl Signing {
    /// `JWT_ALGORITHM`, then `JWT_SECRET_KEY` for HMAC (required and as long as the hash in
    /// production, generated for the process in development) or `JWT_PRIVATE_KEY` and
    /// `JWT_PUBLIC_KEY` (PEM files) for the others.
    pub(super) fn load(env: &Env<'_>, production: bool) -> Result<Self, ConfigError> {
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
        Ok(Self { algorithm, key })
    }
}

impl Signing {
    /// For the commands that never sign or verify a token (`migrate`, `user …`): no key
    /// variable is read, so an operator can run them with `DATABASE_URL` alone, in production
    /// too. A throwaway key stands in, and nothing it could sign leaves the process.
    pub(super) fn unused() -> Result<Self, ConfigError> {
        Ok(Self {
            algorithm: Algorithm::HS256,
            key: SigningKey::Secret {
                key: random_key(min_secret_bytes(Algorithm::HS256))?.into(),
                generated: true,
            },
        })
    }
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

fn random_key(len: usize) -> Result<Vec<u8>, ConfigError> {
    let mut key = vec![0u8; len];
    getrandom::fill(&mut key)
        .map_err(|e| ConfigError::new("JWT_SECRET_KEY", format!("cannot generate a key: {e}")))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use crate::config::tests::load;

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
}
