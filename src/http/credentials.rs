//! Finds the caller's tokens in the configured locations and decides, once per request,
//! what each is worth: missing, rejected (with the reason) or verified and not revoked.
//!
//! Locations are tried in `JWT_TOKEN_LOCATION` order; the first that carries a token wins.
//! A token read from a cookie on a POST must be echoed by the CSRF header (double submit),
//! compared in constant time; GET never runs mutations and is not checked.

use axum::http::{HeaderMap, header};
use sea_orm::DatabaseConnection;
use subtle::ConstantTimeEq;

use crate::{
    auth::{
        Credentials, RequestCredentials, Verified, grants::GrantsCache, revocation,
        tokens::TokenCodec,
    },
    config::{TokenLocation, TransportConfig},
    error::{AppError, CsrfFailure, TokenKind},
};

/// Where a token was found.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Header(String),
    Cookie(String),
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_owned())
}

fn header_token(
    headers: &HeaderMap,
    transport: &TransportConfig,
) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(transport.header_name.as_str()) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::InvalidToken("header is not text"))?
        .trim();
    let token = if transport.header_type.is_empty() {
        Some(value)
    } else {
        value
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case(&transport.header_type))
            .map(|(_, token)| token.trim())
    };
    match token {
        Some(token) if !token.is_empty() => Ok(Some(token.to_owned())),
        _ => Err(AppError::InvalidToken(
            "expected '<type> <token>' in the header",
        )),
    }
}

fn find_token(
    headers: &HeaderMap,
    transport: &TransportConfig,
    kind: TokenKind,
) -> Result<Option<Found>, AppError> {
    for location in &transport.locations {
        let found = match location {
            TokenLocation::Headers => header_token(headers, transport)?.map(Found::Header),
            TokenLocation::Cookies => {
                let name = match kind {
                    TokenKind::Access => &transport.access_cookie,
                    TokenKind::Refresh => &transport.refresh_cookie,
                };
                cookie_value(headers, name).map(Found::Cookie)
            }
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn missing_text(transport: &TransportConfig, kind: TokenKind) -> String {
    match (transport.locations.first(), kind) {
        (Some(TokenLocation::Cookies), TokenKind::Access) => {
            format!("cookie \"{}\"", transport.access_cookie)
        }
        (Some(TokenLocation::Cookies), TokenKind::Refresh) => {
            format!("cookie \"{}\"", transport.refresh_cookie)
        }
        _ => format!("{} Header", transport.header_name),
    }
}

/// What the verification of one token needs.
pub struct Verifier<'a> {
    /// Token transport settings.
    pub transport: &'a TransportConfig,
    /// Signature and claim checks.
    pub codec: &'a TokenCodec,
    /// Revocation and grants version.
    pub db: &'a DatabaseConnection,
    /// Current grants of users whose grants changed.
    pub grants: &'a GrantsCache,
}

impl Verifier<'_> {
    fn csrf(&self, headers: &HeaderMap, claim: Option<&str>) -> Result<(), AppError> {
        let sent = headers
            .get(self.transport.csrf_header.as_str())
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty());
        match (sent, claim) {
            (None, _) | (_, None) => Err(AppError::Csrf(CsrfFailure::Missing)),
            (Some(sent), Some(claim)) if bool::from(sent.as_bytes().ct_eq(claim.as_bytes())) => {
                Ok(())
            }
            _ => Err(AppError::Csrf(CsrfFailure::Mismatch)),
        }
    }

    async fn verify(&self, headers: &HeaderMap, is_post: bool, found: &Found) -> Credentials {
        let (token, from_cookie) = match found {
            Found::Header(token) => (token.as_str(), false),
            Found::Cookie(token) => (token.as_str(), true),
        };
        let claims = match self.codec.decode(token) {
            Ok(claims) => claims,
            Err(e) => return Credentials::Rejected(e),
        };
        if from_cookie
            && is_post
            && self.transport.csrf_protect
            && let Err(e) = self.csrf(headers, claims.csrf.as_deref())
        {
            return Credentials::Rejected(e);
        }
        let state = match revocation::check(self.db, &claims).await {
            Ok(state) => state,
            Err(e) => return Credentials::Rejected(e),
        };
        // Only a token made no later than the user's last grants change needs the current grants.
        let current_grants = match (state.grants, claims.user_id()) {
            (Some((version, changed_at)), Some(user_id))
                if changed_at > 0 && claims.iat <= changed_at =>
            {
                match self.grants.current(self.db, user_id, version).await {
                    Ok(current) => Some(current),
                    Err(e) => return Credentials::Rejected(e),
                }
            }
            _ => None,
        };
        Credentials::Verified(Box::new(Verified {
            claims,
            current_grants,
        }))
    }

    async fn slot(
        &self,
        headers: &HeaderMap,
        is_post: bool,
        kind: TokenKind,
        found: Result<Option<Found>, AppError>,
    ) -> Credentials {
        match found {
            Ok(Some(found)) => self.verify(headers, is_post, &found).await,
            Ok(None) => Credentials::Missing(missing_text(self.transport, kind)),
            Err(e) => Credentials::Rejected(e),
        }
    }

    /// Decodes and checks the request's tokens, once each.
    pub async fn resolve(&self, headers: &HeaderMap, is_post: bool) -> RequestCredentials {
        let access = find_token(headers, self.transport, TokenKind::Access);
        let refresh = find_token(headers, self.transport, TokenKind::Refresh);
        // One header token serves both slots: verify it once.
        let same = matches!((&access, &refresh), (Ok(Some(a)), Ok(Some(r))) if a == r)
            || matches!((&access, &refresh), (Err(_), Err(_)));
        if same {
            return RequestCredentials::single(
                self.slot(headers, is_post, TokenKind::Access, access).await,
            );
        }
        RequestCredentials {
            access: self
                .slot(headers, is_post, TokenKind::Access, access)
                .await
                .into(),
            refresh: self
                .slot(headers, is_post, TokenKind::Refresh, refresh)
                .await
                .into(),
        }
    }
}
