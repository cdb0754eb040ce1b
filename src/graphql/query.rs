//! Query fields. Each guarded field declares its guard with its directive (see `guards`).

use async_graphql::{Context, Object, Result};

use crate::{
    clock::now_secs,
    error::AppError,
    graphql::{
        errors::{ApiResultExt, to_graphql},
        guards,
        state::ApiState,
        types::{
            PageInfo, Session, User, UserConnection, UserEdge, parse_user_cursor, user_cursor,
        },
    },
};

/// Largest page `users(first:)` serves.
pub(super) const MAX_PAGE: i32 = 100;

/// The query root.
pub struct Query;

#[Object]
impl Query {
    /// The caller's own account.
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let claims = guards::access_claims(ctx)?;
        let Some(id) = claims.user_id() else {
            return Ok(None);
        };
        let state = ctx.data::<ApiState>()?;
        Ok(state
            .accounts
            .profile(id)
            .await
            .api(ctx)?
            .map(|profile| User::from(profile.as_ref())))
    }

    /// `Hello, <name>` with a valid access token, `Hello, guest` with none; a token that is
    /// sent but bad fails with its error rather than being taken for a guest.
    async fn greeting(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let Some(claims) = guards::optional_access_claims(ctx)? else {
            return Ok(Some("Hello, guest".to_owned()));
        };
        let state = ctx.data::<ApiState>()?;
        let profile = match claims.user_id() {
            Some(id) => state.accounts.profile(id).await.api(ctx)?,
            None => None,
        };
        // A valid token minted elsewhere for a user we do not store still greets by subject.
        let name = profile.map_or_else(|| claims.sub.clone(), |p| p.name.clone());
        Ok(Some(format!("Hello, {name}")))
    }

    /// The administrators' overview: how many accounts and live sessions there are.
    ///
    /// Requires: role admin
    #[graphql(directive = guards::has_role::apply(vec!["admin".into()]))]
    async fn admin_panel(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let state = ctx.data::<ApiState>()?;
        let users = state.accounts.count().await.api(ctx)?;
        let live = state.accounts.live_sessions(now_secs()).await.api(ctx)?;
        Ok(Some(format!(
            "Admin panel: {users} users, {live} live sessions"
        )))
    }

    /// The editors' report: logins over the last day.
    ///
    /// Requires: role admin or editor
    #[graphql(directive = guards::has_role::apply(vec!["admin".into(), "editor".into()]))]
    async fn report(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let state = ctx.data::<ApiState>()?;
        let since = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        let logins = state
            .accounts
            .sessions_started_since(since)
            .await
            .api(ctx)?;
        Ok(Some(format!(
            "Report: {logins} logins in the last 24 hours"
        )))
    }

    /// Who holds which grants: each account with its roles and permissions.
    ///
    /// Requires: permission read:sensitive
    #[graphql(directive = guards::has_permission::apply(vec!["read:sensitive".into()]))]
    async fn sensitive_data(&self, ctx: &Context<'_>) -> Result<Option<Vec<String>>> {
        let state = ctx.data::<ApiState>()?;
        let accounts = state
            .accounts
            .page(None, u64::try_from(MAX_PAGE).unwrap_or(100))
            .await
            .api(ctx)?;
        Ok(Some(
            accounts
                .into_iter()
                .map(|a| {
                    format!(
                        "{}: roles [{}], permissions [{}]",
                        a.user.email,
                        a.grants.roles.join(", "),
                        a.grants.permissions.join(", ")
                    )
                })
                .collect(),
        ))
    }

    /// Accounts in id order, `first` (1 to 100) at a time, after the cursor `after`.
    ///
    /// Requires: permission users:read
    #[graphql(directive = guards::has_permission::apply(vec!["users:read".into()]))]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default_with = "Some(50)")] first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        let first = first.unwrap_or(50);
        if !(1..=MAX_PAGE).contains(&first) {
            return Err(to_graphql(
                ctx,
                &AppError::bad_input(format!("`first` must be between 1 and {MAX_PAGE}.")),
            ));
        }
        let after = after
            .as_deref()
            .map(parse_user_cursor)
            .transpose()
            .api(ctx)?;
        let state = ctx.data::<ApiState>()?;
        let limit = u64::try_from(first).unwrap_or(50);
        let mut accounts = state.accounts.page(after, limit + 1).await.api(ctx)?;
        let has_next_page = accounts.len() > usize::try_from(first).unwrap_or(50);
        accounts.truncate(usize::try_from(first).unwrap_or(50));
        let edges: Vec<UserEdge> = accounts
            .into_iter()
            .map(|a| UserEdge {
                cursor: user_cursor(a.user.id),
                node: User::seen_by_other(a),
            })
            .collect();
        Ok(Some(UserConnection {
            page_info: PageInfo {
                has_next_page,
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
        }))
    }

    /// The caller's live sessions, newest first.
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn sessions(&self, ctx: &Context<'_>) -> Result<Option<Vec<Session>>> {
        let claims = guards::access_claims(ctx)?;
        let Some(user_id) = claims.user_id() else {
            return Ok(Some(Vec::new()));
        };
        let state = ctx.data::<ApiState>()?;
        let rows = state
            .accounts
            .sessions_of(user_id, now_secs())
            .await
            .api(ctx)?;
        Ok(Some(
            rows.into_iter()
                .map(|s| Session {
                    current: claims.sid.as_deref() == Some(s.id.as_str()),
                    id: s.id.into(),
                    created_at: s.created_at,
                    last_used_at: s.last_used_at,
                    user_agent: s.user_agent,
                })
                .collect(),
        ))
    }
}
