//! Mutation fields.

use async_graphql::{Context, Object, Result};

use crate::graphql::{
    RequestMeta,
    errors::ApiResultExt,
    guards::{self, Authenticated, RefreshToken, authenticated, refresh_token},
    schema::ApiState,
    types::AuthPayload,
};

/// The mutation root.
pub struct Mutation;

fn user_agent(ctx: &Context<'_>) -> Option<String> {
    ctx.data_opt::<RequestMeta>()
        .and_then(|m| m.user_agent.clone())
}

fn payload(state: &ApiState, issued: crate::auth::service::Issued) -> AuthPayload {
    AuthPayload::new(
        issued,
        state.auth.codec().access_ttl(),
        state.tokens_in_body,
    )
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
            .login(&email, password.into(), user_agent(ctx))
            .await
            .api(ctx)?;
        Ok(payload(state, issued))
    }

    /// A refresh token → a non-fresh access token and the rotated refresh token.
    #[graphql(guard = "RefreshToken", directive = refresh_token::apply())]
    async fn refresh(&self, ctx: &Context<'_>) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::refresh_claims(ctx)?;
        let issued = state.auth.refresh(claims, user_agent(ctx)).await.api(ctx)?;
        Ok(payload(state, issued))
    }

    /// The password again → a fresh access token in the same session (no refresh token).
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn reauth(&self, ctx: &Context<'_>, password: String) -> Result<AuthPayload> {
        let state = ctx.data::<ApiState>()?;
        let claims = guards::access_claims(ctx)?;
        let issued = state.auth.reauth(claims, password.into()).await.api(ctx)?;
        Ok(payload(state, issued))
    }

    /// Revokes this session's tokens, or with `everywhere: true` every session of the user.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
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
        Ok(true)
    }
}
