//! Minting and checking JWTs with Flask-JWT-Extended 4.x's payload layout.
//!
//! The algorithm is pinned by configuration: the validation accepts exactly that one, so a
//! header saying `none`, or any other algorithm, is refused before the signature is looked at.

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode, errors::ErrorKind,
    jwk::Jwk,
};
use secrecy::ExposeSecret;

/// The payload, as Flask-JWT-Extended 4.x lays it out, and how each claim is read.
mod claims;

pub use claims::{Audience, Claims, Freshness};

use crate::{
    clock::now_secs,
    config::{JwtConfig, SigningKey, is_hmac},
    error::{AppError, AppResult, Fault, TokenKind},
};

/// Longest compact token decoded (docs/reference.md, "Limits"): anything longer is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// What a new token should say; times and ids are filled in by the codec.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    /// The user id.
    pub user_id: i64,
    /// Access or refresh.
    pub kind: TokenKind,
    /// Access tokens: made right after a password check.
    pub fresh: bool,
    /// The session.
    pub sid: Option<&'a str>,
    /// Access tokens: the user's grants now.
    pub grants: Option<(&'a [String], &'a [String])>,
    /// Access tokens: the grants version those grants belong to.
    pub grants_version: Option<i64>,
    /// Cookie transport: the double-submit value.
    pub csrf: Option<String>,
}

/// A signed token and the claims inside it.
#[derive(Debug, Clone)]
pub struct SignedToken {
    /// The compact JWT.
    pub token: String,
    /// Its payload.
    pub claims: Claims,
}

/// Signs and checks tokens with the configured algorithm and keys.
pub struct TokenCodec {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    kid: Option<String>,
    jwks: Option<serde_json::Value>,
    access_ttl: i64,
    refresh_ttl: i64,
    issuer: Option<String>,
    audience: Option<Audience>,
}

impl std::fmt::Debug for TokenCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCodec")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Signs a probe with the private key and verifies it with the public one: a pair that does
/// not match would start fine and then refuse every token it signed.
fn check_pair(
    algorithm: Algorithm,
    encoding: &EncodingKey,
    decoding: &DecodingKey,
) -> Result<(), crate::config::ConfigError> {
    let mismatch = |reason: String| crate::config::ConfigError {
        variable: "JWT_PRIVATE_KEY",
        reason,
    };
    let probe = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &serde_json::json!({ "probe": true }),
        encoding,
    )
    .map_err(|e| mismatch(format!("cannot sign with it: {e}")))?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<serde_json::Value>(&probe, decoding, &validation)
        .map(|_| ())
        .map_err(|_| {
            mismatch(
                "does not match JWT_PUBLIC_KEY: tokens it signs would fail verification".to_owned(),
            )
        })
}

impl TokenCodec {
    /// Builds the codec from configuration.
    ///
    /// # Errors
    /// A key that does not fit the algorithm; the message names the variable.
    pub fn new(config: &JwtConfig) -> Result<Self, crate::config::ConfigError> {
        let bad =
            |variable: &'static str, e: jsonwebtoken::errors::Error| crate::config::ConfigError {
                variable,
                reason: format!("not a usable key for {:?}: {e}", config.algorithm),
            };
        let (encoding, decoding, kid, jwks) = match &config.key {
            SigningKey::Secret { key, .. } => {
                debug_assert!(is_hmac(config.algorithm));
                let key = key.expose_secret();
                (
                    EncodingKey::from_secret(key).map_err(|e| bad("JWT_SECRET_KEY", e))?,
                    DecodingKey::from_secret(key).map_err(|e| bad("JWT_SECRET_KEY", e))?,
                    None,
                    None,
                )
            }
            SigningKey::Pem { private, public } => {
                let private = private.expose_secret();
                let (encoding, decoding) = match config.algorithm {
                    Algorithm::RS256 => (
                        EncodingKey::from_rsa_pem(private)
                            .map_err(|e| bad("JWT_PRIVATE_KEY", e))?,
                        DecodingKey::from_rsa_pem(public).map_err(|e| bad("JWT_PUBLIC_KEY", e))?,
                    ),
                    Algorithm::ES256 => (
                        EncodingKey::from_ec_pem(private).map_err(|e| bad("JWT_PRIVATE_KEY", e))?,
                        DecodingKey::from_ec_pem(public).map_err(|e| bad("JWT_PUBLIC_KEY", e))?,
                    ),
                    _ => (
                        EncodingKey::from_ed_pem(private).map_err(|e| bad("JWT_PRIVATE_KEY", e))?,
                        DecodingKey::from_ed_pem(public).map_err(|e| bad("JWT_PUBLIC_KEY", e))?,
                    ),
                };
                check_pair(config.algorithm, &encoding, &decoding)?;
                let mut jwk = Jwk::from_encoding_key(&encoding, config.algorithm)
                    .map_err(|e| bad("JWT_PRIVATE_KEY", e))?;
                let kid = jwk
                    .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                    .map_err(|e| bad("JWT_PRIVATE_KEY", e))?;
                jwk.common.key_id = Some(kid.clone());
                jwk.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
                let jwks = serde_json::json!({ "keys": [jwk] });
                (encoding, decoding, Some(kid), Some(jwks))
            }
        };

        let mut validation = Validation::new(config.algorithm);
        validation.leeway = config.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &config.decode_issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if config.decode_audience.is_empty() {
            // jsonwebtoken refuses a token that carries `aud` when no audience is expected.
            // Flask-JWT-Extended writes `JWT_ENCODE_AUDIENCE` and verifies only with
            // `JWT_DECODE_AUDIENCE` (docs/reference.md): without it, `aud` is not checked.
            validation.validate_aud = false;
        } else {
            validation.set_audience(&config.decode_audience);
            validation.required_spec_claims.insert("aud".to_owned());
        }

        let audience = match config.encode_audience.as_slice() {
            [] => None,
            [one] => Some(Audience::One(one.clone())),
            many => Some(Audience::Many(many.to_vec())),
        };

        Ok(Self {
            algorithm: config.algorithm,
            encoding,
            decoding,
            validation,
            kid,
            jwks,
            access_ttl: secs(config.access_ttl),
            refresh_ttl: secs(config.refresh_ttl),
            issuer: config.encode_issuer.clone(),
            audience,
        })
    }

    /// Access-token lifetime in seconds.
    pub fn access_ttl(&self) -> i64 {
        self.access_ttl
    }

    /// Refresh-token lifetime in seconds.
    pub fn refresh_ttl(&self) -> i64 {
        self.refresh_ttl
    }

    /// Clock skew allowed on `exp`, seconds: a token may be accepted this long after it expired.
    pub fn leeway(&self) -> i64 {
        i64::try_from(self.validation.leeway).unwrap_or(i64::MAX)
    }

    /// The public keys as a JWK set (asymmetric algorithms only).
    pub fn jwks(&self) -> Option<&serde_json::Value> {
        self.jwks.as_ref()
    }

    /// Mints a token with a new `jti`, issued now.
    ///
    /// # Errors
    /// Signing failed (a key problem: internal).
    pub fn mint(&self, new: &NewToken<'_>) -> AppResult<SignedToken> {
        let iat = now_secs();
        let ttl = match new.kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let jti = uuid::Uuid::new_v4().to_string();
        self.sign(self.claims(new, jti, iat, iat.saturating_add(ttl)))
    }

    /// The claims of a token as [`Self::mint`] would write them, with given id and times.
    pub fn claims(&self, new: &NewToken<'_>, jti: String, iat: i64, exp: i64) -> Claims {
        let access = new.kind == TokenKind::Access;
        Claims {
            sub: new.user_id.to_string(),
            iat,
            nbf: Some(iat),
            exp,
            jti,
            token_type: if access { "access" } else { "refresh" }.to_owned(),
            fresh: access.then_some(Freshness::Flag(new.fresh)),
            csrf: new.csrf.clone(),
            roles: new.grants.map(|(roles, _)| roles.to_vec()),
            permissions: new.grants.map(|(_, permissions)| permissions.to_vec()),
            sid: new.sid.map(str::to_owned),
            gv: if access { new.grants_version } else { None },
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        }
    }

    /// Signs the given claims. HMAC, RSA PKCS#1 and Ed25519 signatures are deterministic,
    /// so the same claims give the same token (used to hand out a rotated refresh token's
    /// successor again inside the grace window).
    ///
    /// # Errors
    /// Signing failed (a key problem: internal).
    pub fn sign(&self, claims: Claims) -> AppResult<SignedToken> {
        let mut header = Header::new(self.algorithm);
        header.kid.clone_from(&self.kid);
        let token = encode(&header, &claims, &self.encoding)
            .map_err(|e| AppError::Internal(Fault::Signing(e)))?;
        Ok(SignedToken { token, claims })
    }

    /// Verifies signature, algorithm, `exp`/`nbf` (with leeway), `iss`, `aud`, and the claim
    /// layout. Revocation is not checked here (it needs the database).
    ///
    /// # Errors
    /// `TokenExpired` or `InvalidToken` with a short reason.
    pub fn decode(&self, token: &str) -> AppResult<Claims> {
        // Base64 and JSON work grow with the token: a bound before any of it.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AppError::InvalidToken("token too long"));
        }
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            AppError::InvalidToken(match e.kind() {
                ErrorKind::ExpiredSignature => return AppError::TokenExpired,
                ErrorKind::InvalidSignature => "signature verification failed",
                ErrorKind::InvalidAlgorithm => "algorithm not allowed",
                ErrorKind::InvalidIssuer => "wrong issuer",
                ErrorKind::InvalidAudience => "wrong audience",
                ErrorKind::ImmatureSignature => "not valid yet",
                ErrorKind::MissingRequiredClaim(_) => "missing claim",
                ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => "malformed claims",
                _ => "malformed token",
            })
        })?;
        let claims = data.claims;
        if claims.jti.is_empty() {
            return Err(AppError::InvalidToken("missing claim jti"));
        }
        if claims.token_type != "access" && claims.token_type != "refresh" {
            return Err(AppError::InvalidToken("unknown token type"));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testing::{TEST_KEY, forge, hs256_codec, hs256_config};

    fn access(user_id: i64) -> NewToken<'static> {
        NewToken {
            user_id,
            kind: TokenKind::Access,
            fresh: true,
            sid: None,
            grants: Some((&[], &[])),
            grants_version: Some(0),
            csrf: None,
        }
    }

    #[test]
    fn a_minted_token_decodes_to_its_claims() {
        let codec = hs256_codec();
        let signed = codec.mint(&access(7)).expect("mint");
        let claims = codec.decode(&signed.token).expect("decode");
        assert_eq!(claims, signed.claims);
        assert_eq!(claims.sub, "7");
        assert_eq!(claims.kind(), TokenKind::Access);
        assert!(claims.is_fresh(now_secs()));
    }

    #[test]
    fn same_claims_sign_to_the_same_token() {
        let codec = hs256_codec();
        let claims = codec.claims(&access(1), "fixed".into(), 100, 2_000_000_000);
        let a = codec.sign(claims.clone()).expect("sign");
        let b = codec.sign(claims).expect("sign");
        assert_eq!(a.token, b.token);
    }

    #[test]
    fn missing_type_means_access_and_missing_fresh_means_not_fresh() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "7", "iat": 1, "exp": 2, "jti": "j",
        }))
        .expect("Flask-style minimal claims");
        assert_eq!(claims.kind(), TokenKind::Access);
        assert!(!claims.is_fresh(0));
        assert!(claims.roles().is_empty() && claims.permissions().is_empty());
        let numeric_sub = serde_json::from_value::<Claims>(serde_json::json!({
            "sub": 7, "iat": 1, "exp": 2, "jti": "j",
        }));
        assert!(numeric_sub.is_err(), "sub must be a string");
    }

    #[test]
    fn a_token_without_type_decodes_as_an_access_token() {
        let codec = hs256_codec();
        let now = now_secs();
        let token = forge(
            &serde_json::json!({
                "sub": "7", "iat": now, "nbf": now, "exp": now + 60, "jti": "j", "fresh": false,
            }),
            TEST_KEY,
            Algorithm::HS256,
        );
        let claims = codec.decode(&token).expect("no type is an access token");
        assert_eq!(claims.kind(), TokenKind::Access);
        let token = forge(
            &serde_json::json!({
                "sub": "7", "exp": now + 60, "jti": "j", "type": null,
            }),
            TEST_KEY,
            Algorithm::HS256,
        );
        let claims = codec
            .decode(&token)
            .expect("null type and no iat, as PyJWT allows");
        assert_eq!(claims.kind(), TokenKind::Access);
        let token = forge(
            &serde_json::json!({ "sub": "7", "exp": now + 60 }),
            TEST_KEY,
            Algorithm::HS256,
        );
        assert!(matches!(
            codec.decode(&token),
            Err(AppError::InvalidToken("missing claim jti"))
        ));
    }

    #[test]
    fn encode_audience_and_issuer_alone_are_written_not_verified() {
        let mut config = hs256_config();
        config.encode_audience = vec!["frontend".into()];
        config.encode_issuer = Some("warden".into());
        let codec = TokenCodec::new(&config).expect("codec");
        let signed = codec.mint(&access(7)).expect("mint");
        assert_eq!(signed.claims.aud, Some(Audience::One("frontend".into())));
        assert_eq!(signed.claims.iss.as_deref(), Some("warden"));
        codec.decode(&signed.token).expect("its own token passes");
    }

    #[test]
    fn a_token_over_8_kib_is_invalid_without_decoding() {
        let codec = hs256_codec();
        let now = now_secs();
        let padding = "x".repeat(MAX_TOKEN_BYTES);
        let token = forge(
            &serde_json::json!({
                "sub": "7", "iat": now, "exp": now + 60, "jti": "j", "pad": padding,
            }),
            TEST_KEY,
            Algorithm::HS256,
        );
        assert!(matches!(
            codec.decode(&token),
            Err(AppError::InvalidToken("token too long"))
        ));
    }

    #[test]
    fn freshness_reads_flags_and_until_times() {
        assert!(Freshness::Flag(true).is_fresh(0));
        assert!(!Freshness::Flag(false).is_fresh(0));
        assert!(Freshness::Until(100.0).is_fresh(99));
        assert!(!Freshness::Until(100.0).is_fresh(100));
        let parsed: Freshness = serde_json::from_str("1700000000").expect("number");
        assert_eq!(parsed, Freshness::Until(1_700_000_000.0));
    }
}
