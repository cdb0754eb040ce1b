//! Mutation fields. Each guarded field declares its guard with its directive (see `guards`).

use async_graphql::{Context, ID, Object, Result};

use crate::{
    auth::{
        Client,
        audit::{self, Actor, Entry},
        service::Issued,
    },
    error::AppError,
    graphql::{
        cookies,
        errors::{ApiResultExt, to_graphql},
        guards,
        state::ApiState,
        types::{AuthPayload, User},
    },
    users::{Account, NewUser},
};

/// The mutation root.
pub struct Mutation;

/// What the transport told of the caller (nothing, for a request it did not describe).
fn client<'a>(ctx: &Context<'a>) -> &'a Client {
    static UNKNOWN: Client = Client {
        ip: None,
        request_id: None,
        user_agent: None,
    };
    ctx.data_opt::<Client>().unwrap_or(&UNKNOWN)
}

/// Who is acting, for the security log: the user the caller's token names.
fn actor(ctx: &Context<'_>) -> Actor {
    Actor::of(guards::access_claims(ctx).ok().and_then(|c| c.user_id()))
}

/// An admin's change to `account` in the security log, by the caller, from its client.
fn log_admin(ctx: &Context<'_>, event: &'static str, account: i64, detail: Option<&str>) {
    let entry = Entry::new(event, "ok", actor(ctx))
        .account(account)
        .detail(detail);
    audit::record(entry, client(ctx));
}

/// A grant change in the security log: whose, by whom, the grants now held, from where.
fn log_grants(ctx: &Context<'_>, event: &'static str, account: &Account) {
    let grants = audit::grants_detail(&account.grants.roles, &account.grants.permissions);
    log_admin(ctx, event, account.user.id, Some(&grants));
}

/// The payload for issued tokens; with cookie transport, also their cookies.
fn payload(ctx: &Context<'_>, state: &ApiState, issued: Issued) -> AuthPayload {
    cookies::set_tokens(ctx, &state.transport, &issued);
    AuthPayload::new(
        issued,
        state.auth.codec().access_ttl(),
        state.tokens_in_body,
    )
}

/// A user id argument; anything that is not one of ours is `NOT_FOUND`.
fn user_id(id: &ID) -> Result<i64, AppError> {
    id.parse().map_err(|_| AppError::NotFound)
}

/// Replaces one kind of a user's grants; the change's event reaches every instance's guards.
async fn change_grants(
    ctx: &Context<'_>,
    user_id: &ID,
    roles: Option<&[String]>,
    permissions: Option<&[String]>,
) -> Result<User> {
    let state = ctx.data::<ApiState>()?;
    let id = self::user_id(user_id).api(ctx)?;
    let account: Account = state
        .accounts
        .set_grants(id, roles, permissions)
        .await
        .api(ctx)?;
    log_grants(ctx, "grants_changed", &account);
    Ok(User::seen_by_other(account))
}

#[Object]
impl Mutation {
    /// Email and password → a fresh access token and a refresh token (a new session).
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        let issued = state
            .auth
            .login(&email, password.into(), client(ctx))
            .await
            .api(ctx)?;
        Ok(payload(ctx, state, issued))
    }

    /// A refresh token → a non-fresh access token and the rotated refresh token.
    ///
    /// Requires: refresh token
    #[graphql(directive = guards::refresh_token::apply())]
    async fn refresh(&self, ctx: &Context<'_>) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::refresh_claims(ctx)?;
        let issued = state.auth.refresh(claims, client(ctx)).await.api(ctx)?;
        Ok(payload(ctx, state, issued))
    }

    /// The password again → a fresh access token in the same session (no refresh token).
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn reauth(&self, ctx: &Context<'_>, password: String) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        let issued = state
            .auth
            .reauth(claims, password.into(), client(ctx))
            .await
            .api(ctx)?;
        Ok(payload(ctx, state, issued))
    }

    /// Revokes this session's tokens, or with `everywhere: true` every session of the user.
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(false)")] everywhere: Option<bool>,
    ) -> Result<bool> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        state
            .auth
            .logout(claims, everywhere.unwrap_or(false))
            .await
            .api(ctx)?;
        let event = if everywhere.unwrap_or(false) {
            "logout_everywhere"
        } else {
            "logout"
        };
        audit::record(
            Entry::new(event, "ended", actor(ctx))
                .account(claims.user_id())
                .session(claims.sid.as_deref()),
            client(ctx),
        );
        cookies::clear_tokens(ctx, &state.transport);
        Ok(true)
    }

    /// Changes the caller's display name.
    ///
    /// Requires: fresh token
    #[graphql(directive = guards::fresh::apply())]
    async fn update_settings(&self, ctx: &Context<'_>, name: String) -> Result<User> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        let id = claims.user_id().ok_or(AppError::NotFound).api(ctx)?;
        let account = state.accounts.rename(id, &name).await.api(ctx)?;
        Ok(account.into())
    }

    /// Changes the caller's password and ends their other sessions.
    ///
    /// Requires: fresh token
    #[graphql(directive = guards::fresh::apply())]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        state
            .auth
            .change_password(
                claims,
                current_password.into(),
                new_password.into(),
                client(ctx),
            )
            .await
            .api(ctx)?;
        Ok(true)
    }

    /// Creates an account and logs it in (only when `WARDEN_SIGNUP` is on).
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        name: String,
    ) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        if !state.signup {
            return Err(to_graphql(ctx, &AppError::SignupDisabled));
        }
        let issued = state
            .auth
            .register(
                NewUser {
                    email,
                    password: password.into(),
                    name,
                    roles: Vec::new(),
                    permissions: Vec::new(),
                },
                client(ctx),
            )
            .await
            .api(ctx)?;
        Ok(payload(ctx, state, issued))
    }

    /// Creates an account with the given grants.
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
        name: String,
        roles: Option<Vec<String>>,
        permissions: Option<Vec<String>>,
    ) -> Result<User> {
        let state = ctx.data::<ApiState>()?;
        let account = state
            .accounts
            .create(NewUser {
                email,
                password: password.into(),
                name,
                roles: roles.unwrap_or_default(),
                permissions: permissions.unwrap_or_default(),
            })
            .await
            .api(ctx)?;
        log_grants(ctx, "user_created", &account);

        Ok(User::seen_by_other(account))
    }

    /// Replaces a user's roles; tokens already issued lose the roles taken away at once.
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn set_user_roles(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        roles: Vec<String>,
    ) -> Result<User> {
        change_grants(ctx, &user_id, Some(&roles), None).await
    }

    /// Replaces a user's permissions; tokens already issued lose the permissions taken away
    /// at once.
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn set_user_permissions(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        permissions: Vec<String>,
    ) -> Result<User> {
        change_grants(ctx, &user_id, None, Some(&permissions)).await
    }

    /// Disables an account (every session ends at once, its tokens are refused everywhere,
    /// its open subscriptions close) or enables it again (ended sessions stay ended).
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn set_user_disabled(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        disabled: bool,
    ) -> Result<User> {
        let state = ctx.data::<ApiState>()?;
        let id = self::user_id(&user_id).api(ctx)?;
        let account = state.accounts.set_disabled(id, disabled).await.api(ctx)?;
        let event = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        log_admin(ctx, event, id, None);
        Ok(User::seen_by_other(account))
    }

    /// Ends every session of a user; returns how many ended.
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn revoke_user_sessions(&self, ctx: &Context<'_>, user_id: ID) -> Result<i32> {
        let state = ctx.data::<ApiState>()?;
        let id = self::user_id(&user_id).api(ctx)?;
        let ended = state.accounts.revoke_sessions(id).await.api(ctx)?;
        log_admin(ctx, "sessions_revoked", id, Some(&format!("ended={ended}")));
        Ok(i32::try_from(ended).unwrap_or(i32::MAX))
    }

    /// Deletes an account; its tokens die at once.
    ///
    /// Requires: role admin; fresh token
    #[graphql(
        directive = guards::has_role::apply(vec!["admin".into()]),
        directive = guards::fresh::apply()
    )]
    async fn delete_user(&self, ctx: &Context<'_>, user_id: ID) -> Result<bool> {
        let state = ctx.data::<ApiState>()?;
        let id = self::user_id(&user_id).api(ctx)?;
        state.accounts.delete(id).await.api(ctx)?;
        log_admin(ctx, "user_deleted", id, None);
        Ok(true)
    }

    /// Ends one of the caller's own sessions.
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        state
            .auth
            .revoke_session(claims, id.as_str())
            .await
            .api(ctx)?;
        audit::record(
            Entry::new("session_revoked", "ended", actor(ctx))
                .account(claims.user_id())
                .session(Some(id.as_str())),
            client(ctx),
        );
        Ok(true)
    }
}
