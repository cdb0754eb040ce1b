//! Field guards, declared once per field by their SDL directive.
//!
//! A field says what it needs with a directive (`@authenticated`, `@fresh`, `@refreshToken`,
//! `@hasRole(anyOf:)`, `@hasPermission(allOf:)`, `@selfOrPermission(allOf:)`). The directive
//! *is* the declaration: [`DirectiveGuards`] reads each field's directives from the schema
//! registry and runs the matching guard before the resolver, so what `schema.graphql` shows
//! and what runs cannot drift. We chose this over pairing `guard = …` with `directive = …`
//! on every field, where forgetting one half would go unnoticed.
//!
//! What each guard asks is decided in [`crate::auth::guards`], on the request's
//! [`Credentials`] (judged once by `auth::verify`); here each guard is also an
//! `async_graphql::Guard`, so guards compose with `and`/`or` where code needs them, and a
//! refusal becomes the field's error. A bad token fails guarded fields only.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, OnceLock},
};

use async_graphql::{
    Context, Guard, Result, ServerResult, Value,
    extensions::{ExtensionContext, ResolveInfo},
    registry::{MetaDirectiveInvocation, Registry},
};

use crate::{
    auth::{
        Credentials, RequestCredentials,
        guards::{
            Authenticated, Fresh, HasPermission, HasRole, RefreshToken, Requirement,
            SelfOrPermission, token_of_kind,
        },
        tokens::Claims,
    },
    clock::now_secs,
    error::{AppError, TokenKind},
    graphql::{errors, state::ApiState},
    meter,
};

/// Counts a refusal by its code (`/metrics`).
fn denied(error: &AppError) -> &AppError {
    ::metrics::counter!(meter::GUARD_DENIALS, "code" => error.code().as_str()).increment(1);
    error
}

static NO_CREDENTIALS: LazyLock<RequestCredentials> =
    LazyLock::new(|| RequestCredentials::missing("Authorization Header"));

fn credentials<'a>(ctx: &Context<'a>) -> &'a RequestCredentials {
    ctx.data_opt::<Arc<RequestCredentials>>()
        .map_or(&*NO_CREDENTIALS, |c| c.as_ref())
}

macro_rules! async_graphql_guard {
    ($($ty:ty),*) => {$(
        impl Guard for $ty {
            async fn check(&self, ctx: &Context<'_>) -> Result<()> {
                self.check_credentials(credentials(ctx), now_secs())
                    .map_err(|e| errors::to_graphql(ctx, denied(&e)))
            }
        }
    )*};
}

async_graphql_guard!(
    Authenticated,
    RefreshToken,
    Fresh,
    HasRole,
    HasPermission,
    SelfOrPermission
);

/// Runs a `@selfOrPermission` check from a resolver that knows the object's owner.
///
/// # Errors
/// `FORBIDDEN` (with `required`), or the token's own error.
pub fn check_self_or_permission(ctx: &Context<'_>, owner: i64, all_of: &[&str]) -> Result<()> {
    SelfOrPermission::new(owner, all_of)
        .check_credentials(credentials(ctx), now_secs())
        .map_err(|e| errors::to_graphql(ctx, denied(&e)))
}

/// The caller's access token claims.
///
/// # Errors
/// `UNAUTHENTICATED`, the token's own rejection, or `WRONG_TOKEN_TYPE`.
pub fn access_claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    token_of_kind(credentials(ctx), TokenKind::Access)
        .map(|v| &v.claims)
        .map_err(|e| errors::to_graphql(ctx, &e))
}

/// The caller's refresh token claims.
///
/// # Errors
/// `UNAUTHENTICATED`, the token's own rejection, or `WRONG_TOKEN_TYPE`.
pub fn refresh_claims<'a>(ctx: &Context<'a>) -> Result<&'a Claims> {
    token_of_kind(credentials(ctx), TokenKind::Refresh)
        .map(|v| &v.claims)
        .map_err(|e| errors::to_graphql(ctx, &e))
}

/// The caller's access token claims if a token was sent; a sent token that fails is an
/// error, never "anonymous".
///
/// # Errors
/// The token's rejection, or `WRONG_TOKEN_TYPE`.
pub fn optional_access_claims<'a>(ctx: &Context<'a>) -> Result<Option<&'a Claims>> {
    match credentials(ctx).access.as_ref() {
        Credentials::Missing(_) => Ok(None),
        _ => access_claims(ctx).map(Some),
    }
}

/// The sentence that ends a guarded field's description, so that GraphiQL's docs and every
/// generated client show what the field needs: `Requires: role admin; fresh token`. Made from
/// the field's guard directives (name and list argument, in declaration order); `None` for a
/// field without one. A test compares every guarded field's description with this text, so
/// the words and the directive cannot drift apart.
pub fn requirement_text<'a>(
    directives: impl IntoIterator<Item = (&'a str, Vec<String>)>,
) -> Option<String> {
    let either = |names: &[String], word: &str| names.join(&format!(" {word} "));
    let parts: Vec<String> = directives
        .into_iter()
        .filter_map(|(name, values)| match name {
            "authenticated" => Some("access token".to_owned()),
            "fresh" => Some("fresh token".to_owned()),
            "refreshToken" => Some("refresh token".to_owned()),
            "hasRole" => Some(format!("role {}", either(&values, "or"))),
            "hasPermission" if values.len() == 1 => {
                Some(format!("permission {}", either(&values, "and")))
            }
            "hasPermission" => Some(format!("permissions {}", either(&values, "and"))),
            "selfOrPermission" => Some(format!(
                "the user themself, or permission{} {}",
                if values.len() == 1 { "" } else { "s" },
                either(&values, "and")
            )),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| format!("Requires: {}", parts.join("; ")))
}

// ---- The directives, and the extension that enforces them ---------------------------------

pub use directives::*;

/// The SDL directives (`TypeDirective` generates a struct with `apply` for each).
#[allow(missing_docs)] // the generated items carry no docs; the functions below do
pub mod directives {
    /// `@authenticated`: any valid access token.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "authenticated")]
    pub fn authenticated() {}

    /// `@refreshToken`: a valid refresh token.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "refreshToken")]
    pub fn refresh_token() {}

    /// `@fresh`: a fresh access token.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "fresh")]
    pub fn fresh() {}

    /// `@hasRole(anyOf:)`: any one of these roles.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "hasRole")]
    pub fn has_role(any_of: Vec<String>) {}

    /// `@hasPermission(allOf:)`: all of these permissions.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "hasPermission")]
    pub fn has_permission(all_of: Vec<String>) {}

    /// `@selfOrPermission(allOf:)`: the caller's own object, or all of these permissions.
    #[async_graphql::TypeDirective(location = "FieldDefinition", name = "selfOrPermission")]
    pub fn self_or_permission(all_of: Vec<String>) {}
}

/// The guard one directive stands for.
enum FieldGuard {
    Authenticated,
    RefreshToken,
    Fresh,
    HasRole(HasRole),
    HasPermission(HasPermission),
}

fn string_list(invocation: &MetaDirectiveInvocation, arg: &str) -> Vec<String> {
    match invocation.args.get(arg) {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl FieldGuard {
    /// The guard a directive stands for; `None` for directives that are not guards, and for
    /// `@selfOrPermission`, which its resolver runs.
    fn from_directive(invocation: &MetaDirectiveInvocation) -> Option<Self> {
        Some(match invocation.name.as_str() {
            "authenticated" => Self::Authenticated,
            "refreshToken" => Self::RefreshToken,
            "fresh" => Self::Fresh,
            "hasRole" => Self::HasRole(HasRole::new(string_list(invocation, "anyOf"))),
            "hasPermission" => {
                Self::HasPermission(HasPermission::new(string_list(invocation, "allOf")))
            }
            _ => return None,
        })
    }

    fn requirement(&self) -> &dyn Requirement {
        match self {
            Self::Authenticated => &Authenticated,
            Self::RefreshToken => &RefreshToken,
            Self::Fresh => &Fresh,
            Self::HasRole(guard) => guard,
            Self::HasPermission(guard) => guard,
        }
    }
}

/// Guards by type name, then field name, in directive order.
type GuardTable = HashMap<String, HashMap<String, Vec<FieldGuard>>>;

fn guard_table(registry: &Registry) -> GuardTable {
    let mut table = GuardTable::new();
    for (type_name, meta_type) in &registry.types {
        for (field_name, field) in meta_type.fields().into_iter().flatten() {
            let guards: Vec<FieldGuard> = field
                .directive_invocations
                .iter()
                .filter_map(FieldGuard::from_directive)
                .collect();
            if !guards.is_empty() {
                table
                    .entry(type_name.clone())
                    .or_default()
                    .insert(field_name.clone(), guards);
            }
        }
    }
    table
}

/// Each field's declared guards, read once from the schema registry and run before its
/// resolver by the request pipeline's extension.
#[derive(Default, Clone)]
pub struct DirectiveGuards {
    table: Arc<OnceLock<GuardTable>>,
}

impl DirectiveGuards {
    /// Runs the guards `info`'s field declares; the first refusal is the field's error.
    ///
    /// # Errors
    /// The refusal, with the field's position and path.
    pub(crate) fn check(
        &self,
        ctx: &ExtensionContext<'_>,
        info: &ResolveInfo<'_>,
    ) -> ServerResult<()> {
        let table = self
            .table
            .get_or_init(|| guard_table(&ctx.schema_env.registry));
        let Some(guards) = table.get(info.parent_type).and_then(|f| f.get(info.name)) else {
            return Ok(());
        };
        let credentials = ctx
            .data_opt::<Arc<RequestCredentials>>()
            .map_or(&*NO_CREDENTIALS, |c| c.as_ref());
        let now = now_secs();
        for guard in guards {
            if let Err(e) = guard.requirement().check_credentials(credentials, now) {
                denied(&e);
                let messages = ctx.data_opt::<ApiState>().map(|s| s.messages.as_ref());
                // The path is filled in where every field's failure is settled.
                return Err(errors::render(messages, &e).into_server_error(info.field.name.pos));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema};

    use super::*;
    use crate::testing::{TestClaims, verified};

    fn access(roles: &[&str], permissions: &[&str], is_fresh: bool) -> RequestCredentials {
        let claims = TestClaims::access(1)
            .fresh(is_fresh)
            .roles(roles)
            .permissions(permissions)
            .claims();
        verified(claims, None)
    }

    struct Query;

    #[Object]
    impl Query {
        #[graphql(
            guard = "HasRole::any_of(&[\"admin\"]).or(HasPermission::all_of(&[\"reports:read\"]))"
        )]
        async fn either(&self) -> i32 {
            1
        }

        #[graphql(guard = "HasRole::any_of(&[\"editor\"]).and(Fresh)")]
        async fn both(&self) -> i32 {
            2
        }
    }

    async fn run(credentials: RequestCredentials, query: &str) -> async_graphql::Response {
        Schema::new(Query, EmptyMutation, EmptySubscription)
            .execute(Request::new(query).data(Arc::new(credentials)))
            .await
    }

    fn first_code(response: &async_graphql::Response) -> Option<String> {
        let json = serde_json::to_value(response).expect("json");
        json["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_owned)
    }

    #[tokio::test]
    async fn guards_compose_with_or() {
        assert!(
            run(access(&["admin"], &[], false), "{ either }")
                .await
                .errors
                .is_empty()
        );
        assert!(
            run(access(&[], &["reports:read"], false), "{ either }")
                .await
                .errors
                .is_empty()
        );
        let denied = run(access(&["editor"], &[], false), "{ either }").await;
        assert_eq!(first_code(&denied).as_deref(), Some("FORBIDDEN"));
    }

    #[tokio::test]
    async fn guards_compose_with_and() {
        assert!(
            run(access(&["editor"], &[], true), "{ both }")
                .await
                .errors
                .is_empty()
        );
        let stale = run(access(&["editor"], &[], false), "{ both }").await;
        assert_eq!(first_code(&stale).as_deref(), Some("FRESH_TOKEN_REQUIRED"));
        let missing = run(access(&[], &[], true), "{ both }").await;
        assert_eq!(first_code(&missing).as_deref(), Some("FORBIDDEN"));
        let none = run(
            RequestCredentials::missing("Authorization Header"),
            "{ both }",
        )
        .await;
        assert_eq!(first_code(&none).as_deref(), Some("UNAUTHENTICATED"));
    }
}
