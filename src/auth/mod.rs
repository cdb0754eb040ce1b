//! Authentication and authorisation that know neither HTTP nor GraphQL: tokens, sessions,
//! login limits, revocation, what a presented token is worth ([`verify`]), what each guard asks
//! of it ([`guards`]), and the flows that tie them together ([`service`]).

pub mod admin;
pub mod audit;

pub mod guards;
pub mod live;
pub mod protection;
pub mod revocation;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod verify;

use std::{net::IpAddr, sync::Arc};

use crate::{
    error::{AppError, TokenKind},
    users::Grants,
};
use tokens::Claims;

/// Who is asking, as far as the transport can tell: for limits, sessions and the security
/// log (never a token or a password).
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// The client address (the socket peer, or what a trusted proxy says).
    pub ip: Option<IpAddr>,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// `User-Agent`, truncated, stored with new sessions.
    pub user_agent: Option<String>,
}

/// A token that verified and is not revoked.
#[derive(Debug)]
pub struct Verified {
    /// Its claims.
    pub claims: Claims,
    /// The user's grants now, when they changed since the token was made; guards then
    /// honour only what the token carries *and* the user still holds.
    pub current_grants: Option<Arc<Grants>>,
}

/// What the transport layer found about the caller's token, decided once per request.
/// Guards read it; they never look at the raw token.
#[derive(Debug)]
pub enum Credentials {
    /// No token was sent; the text names where one was looked for
    /// (`Authorization Header`, `cookie "access_token_cookie"`).
    Missing(String),
    /// A token was sent and refused (expired, invalid, revoked, CSRF, database down).
    Rejected(AppError),
    /// A token was sent, verified and is not revoked.
    Verified(Box<Verified>),
}

/// The request's credentials for each kind of token. With header transport both slots hold
/// the one token sent; with cookies, fields that need a refresh token read the refresh cookie
/// and all others the access cookie, as Flask-JWT-Extended does.
#[derive(Debug, Clone)]
pub struct RequestCredentials {
    /// What fields needing an access token see.
    pub access: Arc<Credentials>,
    /// What fields needing a refresh token see.
    pub refresh: Arc<Credentials>,
}

impl RequestCredentials {
    /// No token anywhere; `place` names where one was looked for.
    pub fn missing(place: &str) -> Self {
        let missing = Arc::new(Credentials::Missing(place.to_owned()));
        Self {
            access: missing.clone(),
            refresh: missing,
        }
    }

    /// The same credentials in both slots.
    pub fn single(credentials: Credentials) -> Self {
        let shared = Arc::new(credentials);
        Self {
            access: shared.clone(),
            refresh: shared,
        }
    }

    /// The slot a field needing `kind` reads.
    pub fn for_kind(&self, kind: TokenKind) -> &Credentials {
        match kind {
            TokenKind::Access => &self.access,
            TokenKind::Refresh => &self.refresh,
        }
    }
}
