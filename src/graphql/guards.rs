//! Field guards. Each reads the request's [`Credentials`] (decided once by the transport) and
//! either lets the field resolve or fails it with the contract's code. A bad token fails
//! guarded fields only; public fields never look at it.

use async_graphql::{Context, Guard, Result};

use crate::{
    auth::{
        Credentials,
        tokens::{Claims, now_secs},
    },
    error::{AppError, TokenKind},
    graphql::errors::to_graphql,
};

fn credentials<'a>(ctx: &Context<'a>) -> &'a Credentials {
    static NONE: std::sync::LazyLock<Credentials> =
        std::sync::LazyLock::new(|| Credentials::Missing("Authorization Header".to_owned()));
    ctx.data::<std::sync::Arc<Credentials>>()
        .map_or(&*NONE, |c| c.as_ref())
}

fn token_of_kind<'a>(ctx: &Context<'a>, kind: TokenKind) -> Result<&'a Claims> {
    match credentials(ctx) {
        Credentials::Missing(place) => {
            Err(to_graphql(ctx, &AppError::Unauthenticated(place.clone())))
        }
        Credentials::Rejected(err) => Err(to_graphql(ctx, err)),
        Credentials::Verified(claims) if claims.kind() != kind => {
            Err(to_graphql(ctx, &AppError::WrongTokenType(kind)))
        }
        Credentials::Verified(claims) => Ok(claims),
    }
}

/// The caller's access token claims.
///
/// # Errors
/// `UNAUTHENTICATED`, the token's own rejection, or `WRONG_TOKEN_TYPE`.
pub fn access_claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    token_of_kind(ctx, TokenKind::Access)
}

/// The caller's refresh token claims.
///
/// # Errors
/// `UNAUTHENTICATED`, the token's own rejection, or `WRONG_TOKEN_TYPE`.
pub fn refresh_claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    token_of_kind(ctx, TokenKind::Refresh)
}

/// The caller's access token claims if a token was sent; a sent token that fails is an
/// error, never "anonymous".
///
/// # Errors
/// The token's rejection, or `WRONG_TOKEN_TYPE`.
pub fn optional_access_claims<'a>(ctx: &Context<'a>) -> Result<Option<&'a Claims>> {
    match credentials(ctx) {
        Credentials::Missing(_) => Ok(None),
        _ => access_claims(ctx).map(Some),
    }
}

/// `@authenticated`: any valid access token.
pub struct Authenticated;

impl Guard for Authenticated {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        access_claims(ctx).map(|_| ())
    }
}

/// `@refreshToken`: a valid refresh token.
pub struct RefreshToken;

impl Guard for RefreshToken {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        refresh_claims(ctx).map(|_| ())
    }
}

/// `@fresh`: an access token made right after a password check (or still inside its
/// "fresh until" time).
pub struct Fresh;

impl Guard for Fresh {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let claims = access_claims(ctx)?;
        if claims.is_fresh(now_secs()) {
            Ok(())
        } else {
            Err(to_graphql(ctx, &AppError::FreshTokenRequired))
        }
    }
}

// SDL markers. Each guarded field carries the directive of the guard that runs on it, so a
// client or a reviewer reads the requirement from `schema.graphql`.

/// `@authenticated` in the SDL.
#[async_graphql::TypeDirective(location = "FieldDefinition", name = "authenticated")]
pub fn authenticated() {}

/// `@refreshToken` in the SDL.
#[async_graphql::TypeDirective(location = "FieldDefinition", name = "refreshToken")]
pub fn refresh_token() {}

/// `@fresh` in the SDL.
#[async_graphql::TypeDirective(location = "FieldDefinition", name = "fresh")]
pub fn fresh() {}
