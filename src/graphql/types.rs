//! GraphQL object types, converted from domain values (entities never reach the schema).

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use time::OffsetDateTime;

use crate::{
    auth::service::Issued,
    error::{AppError, Required},
    graphql::{errors::to_graphql, guards},
    users::Account,
};

/// The permission that lets a caller read other users' emails.
pub const USERS_READ: &str = "users:read";

/// A user as clients see it.
#[derive(Debug, Clone)]
pub struct User {
    id: i64,
    email: String,
    name: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    created_at: OffsetDateTime,
    /// True when the viewer is known to be this user (auth payloads, `me`), so `email` needs
    /// no token check: a login response has no token in its request yet.
    is_viewer: bool,
}

impl User {
    /// The user as seen by someone else: `email` is checked against the caller's token.
    pub fn seen_by_other(account: Account) -> Self {
        Self {
            is_viewer: false,
            ..Self::from(account)
        }
    }
}

impl From<Account> for User {
    /// The user as seen by themself.
    fn from(account: Account) -> Self {
        Self {
            is_viewer: true,
            id: account.user.id,
            email: account.user.email,
            name: account.user.name,
            roles: account.grants.roles,
            permissions: account.grants.permissions,
            created_at: account.user.created_at,
        }
    }
}

#[Object]
impl User {
    /// The user id (the token's `sub`).
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Visible to the user themself, or to a holder of `users:read`.
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        if self.is_viewer {
            return Ok(Some(&self.email));
        }
        let claims = guards::access_claims(ctx)?;
        if claims.user_id() == Some(self.id) || claims.permissions().iter().any(|p| p == USERS_READ)
        {
            Ok(Some(&self.email))
        } else {
            Err(to_graphql(
                ctx,
                &AppError::Forbidden(Required::Permissions(vec![USERS_READ.to_owned()])),
            ))
        }
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.name
    }

    /// Roles held now.
    async fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Permissions held now.
    async fn permissions(&self) -> &[String] {
        &self.permissions
    }

    /// When the account was created.
    async fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }
}

/// Tokens handed out by `login`, `refresh`, `reauth` and `register`.
#[derive(Debug, SimpleObject)]
pub struct AuthPayload {
    /// The access token; null when tokens travel only in cookies.
    pub access_token: Option<String>,
    /// The refresh token; null when tokens travel only in cookies, and from `reauth`.
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime, seconds.
    pub expires_in: i32,
    /// The user the tokens belong to.
    pub user: User,
}

impl AuthPayload {
    /// The payload for issued tokens; `in_body` is false when tokens travel only in cookies.
    pub fn new(issued: Issued, expires_in: i64, in_body: bool) -> Self {
        Self {
            access_token: in_body.then_some(issued.access.token),
            refresh_token: issued.refresh.filter(|_| in_body).map(|r| r.token),
            token_type: "Bearer".to_owned(),
            expires_in: i32::try_from(expires_in).unwrap_or(i32::MAX),
            user: issued.account.into(),
        }
    }
}
