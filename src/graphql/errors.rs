//! The one place where [`AppError`] becomes a GraphQL error with `extensions.code`.
//!
//! Resolvers return `async_graphql::Result`; they convert with [`ApiResultExt::api`] or
//! [`to_graphql`], never with `?` on an `AppError` directly (async-graphql's blanket
//! `From<Display>` would drop the code).

use async_graphql::{Context, Error, ErrorExtensions};

use crate::{
    error::{AppError, Required},
    graphql::state::ApiState,
    messages::Messages,
};

/// Renders an error for the client: code, message (overridable), and the extras some codes
/// carry. Internal causes are logged here, once, and never shown.
pub fn to_graphql(ctx: &Context<'_>, err: &AppError) -> Error {
    render(ctx.data_opt::<ApiState>().map(|s| s.messages.as_ref()), err)
}

/// [`to_graphql`] where only the message catalogue is at hand (schema extensions).
pub fn render(messages: Option<&Messages>, err: &AppError) -> Error {
    match err {
        AppError::Unavailable(cause) => tracing::error!(error = %cause, "database error"),
        AppError::Internal(cause) => {
            tracing::error!(error = %cause, kind = ?cause, "internal error")
        }
        _ => {}
    }
    let message = messages.map_or_else(|| err.to_string(), |m| m.render(err));
    Error::new(message).extend_with(|_, ext| {
        ext.set("code", err.code().as_str());
        match err {
            AppError::Forbidden(Required::Roles(roles)) => {
                ext.set("required", json(serde_json::json!({ "roles": roles })));
            }
            AppError::Forbidden(Required::Permissions(permissions)) => {
                ext.set(
                    "required",
                    json(serde_json::json!({ "permissions": permissions })),
                );
            }
            AppError::RateLimited(retry_after) | AppError::Saturated(retry_after) => {
                ext.set("retryAfter", *retry_after);
            }
            _ => {}
        }
    })
}

fn json(value: serde_json::Value) -> async_graphql::Value {
    async_graphql::Value::from_json(value).unwrap_or_default()
}

/// `.api(ctx)` on an `AppResult` turns its error into the contract's GraphQL error.
pub trait ApiResultExt<T> {
    /// Converts the error with [`to_graphql`].
    ///
    /// # Errors
    /// The converted error.
    fn api(self, ctx: &Context<'_>) -> async_graphql::Result<T>;
}

impl<T> ApiResultExt<T> for Result<T, AppError> {
    fn api(self, ctx: &Context<'_>) -> async_graphql::Result<T> {
        self.map_err(|e| to_graphql(ctx, &e))
    }
}
