//! Finds the caller's tokens in the configured locations; [`crate::auth::verify`] decides,
//! once per request, what each is worth: missing, rejected (with the reason) or verified and
//! not revoked.
//!
//! Locations are tried in `JWT_TOKEN_LOCATION` order; the first that carries a token wins.
//! A token read from a cookie on a POST must be echoed by the CSRF header (double submit);
//! GET never runs mutations and is not checked.

use axum::http::{HeaderMap, header};

use crate::{
    auth::{
        Credentials, RequestCredentials,
        verify::{Presented, Source, TokenVerifier},
    },
    config::{TokenLocation, TransportConfig},
    error::{AppError, TokenKind},
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

/// Finds the request's tokens and has [`TokenVerifier`] judge each, once.
pub(super) struct Finder<'a> {
    /// Token transport settings.
    pub transport: &'a TransportConfig,
    /// The judge.
    pub verifier: &'a TokenVerifier,
}

impl Finder<'_> {
    fn slot(
        &self,
        headers: &HeaderMap,
        is_post: bool,
        kind: TokenKind,
        found: Result<Option<Found>, AppError>,
    ) -> Credentials {
        let (token, source) = match found {
            Ok(Some(Found::Header(token))) => (token, Source::Header),
            Ok(Some(Found::Cookie(token))) => (token, Source::Cookie),
            Ok(None) => return Credentials::Missing(missing_text(self.transport, kind)),
            Err(e) => return Credentials::Rejected(e),
        };
        self.verifier.verify(Presented {
            token: &token,
            source,
            csrf_header: headers
                .get(self.transport.csrf_header.as_str())
                .and_then(|v| v.to_str().ok()),
            state_changing: is_post,
        })
    }

    /// Finds and judges the request's tokens, once each.
    pub(super) fn resolve(&self, headers: &HeaderMap, is_post: bool) -> RequestCredentials {
        let access = find_token(headers, self.transport, TokenKind::Access);
        let refresh = find_token(headers, self.transport, TokenKind::Refresh);
        // One header token serves both slots: verify it once.
        let same = matches!((&access, &refresh), (Ok(Some(a)), Ok(Some(r))) if a == r)
            || matches!((&access, &refresh), (Err(_), Err(_)));
        if same {
            return RequestCredentials::single(self.slot(
                headers,
                is_post,
                TokenKind::Access,
                access,
            ));
        }
        RequestCredentials {
            access: self
                .slot(headers, is_post, TokenKind::Access, access)
                .into(),
            refresh: self
                .slot(headers, is_post, TokenKind::Refresh, refresh)
                .into(),
        }
    }
}
