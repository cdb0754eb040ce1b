//! Finds the caller's token in the configured locations and decides, once per request,
//! what it is worth: missing, rejected (with the reason) or verified and not revoked.

use axum::http::HeaderMap;
use sea_orm::DatabaseConnection;

use crate::{
    auth::{Credentials, Verified, grants::GrantsCache, revocation, tokens::TokenCodec},
    config::{TokenLocation, TransportConfig},
    error::AppError,
};

/// Where a token was found, as raw text.
enum Found<'a> {
    Header(&'a str),
}

fn find_token<'a>(
    headers: &'a HeaderMap,
    transport: &TransportConfig,
) -> Result<Option<Found<'a>>, AppError> {
    for location in &transport.locations {
        match location {
            TokenLocation::Headers => {
                let Some(value) = headers.get(transport.header_name.as_str()) else {
                    continue;
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
                return match token {
                    Some(token) if !token.is_empty() => Ok(Some(Found::Header(token))),
                    _ => Err(AppError::InvalidToken(
                        "expected '<type> <token>' in the header",
                    )),
                };
            }
            // Cookie transport is read by a later stage; nothing to find here yet.
            TokenLocation::Cookies => {}
        }
    }
    Ok(None)
}

fn missing_text(transport: &TransportConfig) -> String {
    match transport.locations.first() {
        Some(TokenLocation::Cookies) => format!("cookie \"{}\"", transport.access_cookie),
        _ => format!("{} Header", transport.header_name),
    }
}

/// Decodes and checks the request's token.
pub async fn resolve(
    headers: &HeaderMap,
    transport: &TransportConfig,
    codec: &TokenCodec,
    db: &DatabaseConnection,
    grants: &GrantsCache,
) -> Credentials {
    let token = match find_token(headers, transport) {
        Ok(Some(Found::Header(token))) => token,
        Ok(None) => return Credentials::Missing(missing_text(transport)),
        Err(e) => return Credentials::Rejected(e),
    };
    let claims = match codec.decode(token) {
        Ok(claims) => claims,
        Err(e) => return Credentials::Rejected(e),
    };
    let state = match revocation::check(db, &claims).await {
        Ok(state) => state,
        Err(e) => return Credentials::Rejected(e),
    };
    // Only a token made no later than the user's last grants change needs the current grants.
    let current_grants = match (state.grants, claims.user_id()) {
        (Some((version, changed_at)), Some(user_id))
            if changed_at > 0 && claims.iat <= changed_at =>
        {
            match grants.current(db, user_id, version).await {
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
