//! The Rust code of docs/verify-tokens.md, verbatim below this header, so that it compiles
//! and runs in tests/api/verify_tokens.rs; a test there fails when the two differ.

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation, decode, decode_header,
    errors::{Error, ErrorKind},
    jwk::JwkSet,
};
use serde::Deserialize;

/// The claims an API usually reads; the others are in the token too.
#[derive(Debug, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub exp: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// Warden's public keys. Fetch them at start, and again when a token names an unknown `kid`.
pub async fn fetch_jwks(auth_server: &str) -> reqwest::Result<JwkSet> {
    reqwest::get(format!("{auth_server}/.well-known/jwks.json"))
        .await?
        .error_for_status()?
        .json()
        .await
}

/// The public key that signed `token`, by the `kid` in its header.
pub fn key_from_jwks(jwks: &JwkSet, token: &str) -> Result<DecodingKey, Error> {
    let kid = decode_header(token)?.kid.ok_or(ErrorKind::InvalidToken)?;
    let jwk = jwks.find(&kid).ok_or(ErrorKind::InvalidToken)?;
    DecodingKey::from_jwk(jwk)
}

/// Checks the signature with `algorithm` (Warden's `JWT_ALGORITHM`), `exp`, `nbf`, `iss` and
/// `aud` when given, and that the token is an access token.
pub fn verify_access_token(
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<AccessClaims, Error> {
    let mut validation = Validation::new(algorithm);
    validation.leeway = 0; // jsonwebtoken's default is 60 s; Warden's JWT_DECODE_LEEWAY is 0
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "sub"]);
    if let Some(issuer) = issuer {
        validation.set_issuer(&[issuer]);
    }
    match audience {
        Some(audience) => validation.set_audience(&[audience]),
        // Otherwise a token that carries `aud` would be refused.
        None => validation.validate_aud = false,
    }
    let claims = decode::<AccessClaims>(token, key, &validation)?.claims;
    if claims.kind != "access" {
        return Err(ErrorKind::InvalidToken.into());
    }
    Ok(claims)
}
