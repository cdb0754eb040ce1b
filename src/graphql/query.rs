//! Query fields.

use async_graphql::{Context, Object, Result};

use crate::{
    graphql::{
        errors::ApiResultExt,
        guards::{self, Authenticated, authenticated},
        schema::ApiState,
        types::User,
    },
    users,
};

/// The query root.
pub struct Query;

#[Object]
impl Query {
    /// The caller's own account.
    #[graphql(guard = "Authenticated", directive = authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let claims = guards::access_claims(ctx)?;
        let Some(id) = claims.user_id() else {
            return Ok(None);
        };
        let state = ctx.data::<ApiState>()?;
        Ok(users::account(&state.db, id)
            .await
            .api(ctx)?
            .map(User::from))
    }

    /// `Hello, <name>` with a valid access token, `Hello, guest` with none; a token that is
    /// sent but bad fails with its error rather than being taken for a guest.
    async fn greeting(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(claims) = guards::optional_access_claims(ctx)? else {
            return Ok(Some("Hello, guest".to_owned()));
        };
        let state = ctx.data::<ApiState>()?;
        let user = match claims.user_id() {
            Some(id) => users::find_by_id(&state.db, id).await.api(ctx)?,
            None => None,
        };
        // A valid token minted elsewhere for a user we do not store still greets by subject.
        let name = user.map_or_else(|| claims.sub.clone(), |u| u.name);
        Ok(Some(format!("Hello, {name}")))
    }
}
