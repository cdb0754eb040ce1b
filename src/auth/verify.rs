//! What a presented token is worth, decided once per request: signature and claims
//! ([`crate::auth::tokens`]), the CSRF double submit for cookie tokens, then revocation and
//! grants from the in-memory [`RevocationState`]. No database round trip: a valid, unrevoked,
//! current token costs a decode and two hash lookups.
//!
//! The transport only finds the token and the CSRF header; this module judges them.

use std::sync::Arc;

use subtle::ConstantTimeEq;

use crate::{
    auth::{Credentials, Verified, revocation::RevocationState, tokens::TokenCodec},
    error::{AppError, CsrfFailure},
};

/// Where a presented token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A request header (`Authorization: Bearer …`).
    Header,
    /// A cookie: it must be echoed by the CSRF header on requests that can change state.
    Cookie,
}

/// A token as the transport found it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The compact JWT.
    pub token: &'a str,
    /// Where it was found.
    pub source: Source,
    /// The CSRF header's value, if sent.
    pub csrf_header: Option<&'a str>,
    /// True when the request may change state (POST): cookie tokens then need the CSRF echo.
    pub state_changing: bool,
}

/// Judges presented tokens.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    codec: Arc<TokenCodec>,
    state: Arc<RevocationState>,
    csrf_protect: bool,
}

/// Compares the CSRF header with the token's `csrf` claim in constant time.
fn csrf(sent: Option<&str>, claim: Option<&str>) -> Result<(), AppError> {
    match (sent.filter(|v| !v.is_empty()), claim) {
        (None, _) | (_, None) => Err(AppError::Csrf(CsrfFailure::Missing)),
        (Some(sent), Some(claim)) if bool::from(sent.as_bytes().ct_eq(claim.as_bytes())) => Ok(()),
        _ => Err(AppError::Csrf(CsrfFailure::Mismatch)),
    }
}

impl TokenVerifier {
    /// A verifier with the given codec and state; `csrf_protect` is `JWT_COOKIE_CSRF_PROTECT`.
    pub fn new(codec: Arc<TokenCodec>, state: Arc<RevocationState>, csrf_protect: bool) -> Self {
        Self {
            codec,
            state,
            csrf_protect,
        }
    }

    /// The token codec.
    pub fn codec(&self) -> &TokenCodec {
        &self.codec
    }

    /// The revocation state the verifier consults.
    pub fn state(&self) -> &RevocationState {
        &self.state
    }

    /// Decodes the token, checks the CSRF echo for cookie tokens on state-changing requests,
    /// and consults the revocation state.
    pub fn verify(&self, presented: Presented<'_>) -> Credentials {
        match self.judge(presented) {
            Ok(verified) => Credentials::Verified(Box::new(verified)),
            Err(e) => Credentials::Rejected(e),
        }
    }

    fn judge(&self, presented: Presented<'_>) -> Result<Verified, AppError> {
        let claims = self.codec.decode(presented.token)?;
        if presented.source == Source::Cookie && presented.state_changing && self.csrf_protect {
            csrf(presented.csrf_header, claims.csrf.as_deref())?;
        }
        let standing = self.state.check(&claims)?;
        Ok(Verified {
            claims,
            current_grants: standing.current_grants,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_needs_both_values_and_equality() {
        assert!(matches!(
            csrf(None, Some("a")),
            Err(AppError::Csrf(CsrfFailure::Missing))
        ));
        assert!(matches!(
            csrf(Some(""), Some("a")),
            Err(AppError::Csrf(CsrfFailure::Missing))
        ));
        assert!(matches!(
            csrf(Some("a"), None),
            Err(AppError::Csrf(CsrfFailure::Missing))
        ));
        assert!(matches!(
            csrf(Some("a"), Some("b")),
            Err(AppError::Csrf(CsrfFailure::Mismatch))
        ));
        assert!(csrf(Some("a"), Some("a")).is_ok());
    }
}
