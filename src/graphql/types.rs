//! GraphQL object types, converted from domain values (entities never reach the schema).

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use time::OffsetDateTime;

use crate::{
    auth::service::Issued,
    error::AppError,
    graphql::guards,
    users::{Account, Profile},
};

/// The permission that lets a caller read other users' emails.
pub(super) const USERS_READ: &str = "users:read";

/// A user as clients see it.
#[derive(Debug, Clone)]
pub(super) struct User {
    id: i64,
    email: String,
    name: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    created_at: OffsetDateTime,
    disabled: bool,
    /// True when the viewer is known to be this user (auth payloads, `me`), so `email` needs
    /// no token check: a login response has no token in its request yet.
    is_viewer: bool,
}

impl User {
    /// The user as seen by someone else: `email` is checked against the caller's token.
    pub(super) fn seen_by_other(account: Account) -> Self {
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
            disabled: account.user.disabled,
        }
    }
}

impl From<&Profile> for User {
    /// The user as seen by themself (`me`).
    fn from(profile: &Profile) -> Self {
        Self {
            is_viewer: true,
            id: profile.id,
            email: profile.email.clone(),
            name: profile.name.clone(),
            roles: profile.grants.roles.clone(),
            permissions: profile.grants.permissions.clone(),
            created_at: profile.created_at,
            disabled: profile.disabled,
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
    ///
    /// Requires: the user themself, or permission users:read
    #[graphql(directive = guards::self_or_permission::apply(vec![USERS_READ.to_owned()]))]
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        if !self.is_viewer {
            guards::check_self_or_permission(ctx, self.id, &[USERS_READ])?;
        }
        Ok(Some(&self.email))
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

    /// Disabled by an admin (no login, every token refused).
    ///
    /// Requires: permission users:read
    #[graphql(directive = guards::has_permission::apply(vec![USERS_READ.to_owned()]))]
    async fn disabled(&self) -> Option<bool> {
        Some(self.disabled)
    }
}

/// Tokens handed out by `login`, `refresh`, `reauth` and `register`.
#[derive(Debug, SimpleObject)]
pub(super) struct AuthPayload {
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
    pub(super) fn new(issued: Issued, expires_in: i64, in_body: bool) -> Self {
        Self {
            access_token: in_body.then_some(issued.access.token),
            refresh_token: issued.refresh.filter(|_| in_body).map(|r| r.token),
            token_type: "Bearer".to_owned(),
            expires_in: i32::try_from(expires_in).unwrap_or(i32::MAX),
            user: issued.account.into(),
        }
    }
}

/// One of the caller's sessions.
#[derive(Debug, SimpleObject)]
pub(super) struct Session {
    /// The session id (the tokens' `sid`).
    pub id: ID,
    /// When the session began (login).
    pub created_at: OffsetDateTime,
    /// When it was last refreshed or re-authenticated.
    pub last_used_at: OffsetDateTime,
    /// The browser or client that logged in.
    pub user_agent: Option<String>,
    /// True for the session of the token making this request.
    pub current: bool,
}

/// A page of users.
#[derive(Debug, SimpleObject)]
pub(super) struct UserConnection {
    /// The users of this page, in id order.
    pub edges: Vec<UserEdge>,
    /// Where the page ends.
    pub page_info: PageInfo,
}

/// A user and its cursor.
#[derive(Debug, SimpleObject)]
pub(super) struct UserEdge {
    /// Pass as `after` to continue after this user.
    pub cursor: String,
    /// The user.
    pub node: User,
}

/// Whether more pages follow.
#[derive(Debug, SimpleObject)]
pub(super) struct PageInfo {
    /// True when another page follows.
    pub has_next_page: bool,
    /// The last edge's cursor.
    pub end_cursor: Option<String>,
}

/// Opaque cursor for a user id.
pub(super) fn user_cursor(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("user:{id}"))
}

/// The user id inside a cursor.
///
/// # Errors
/// `BAD_USER_INPUT` for a cursor we did not make.
pub(super) fn parse_user_cursor(cursor: &str) -> Result<i64, AppError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("user:").and_then(|id| id.parse().ok()))
        .ok_or_else(|| AppError::bad_input("`after` is not a valid cursor."))
}
