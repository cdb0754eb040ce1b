//! Field guards, declared once per field by their SDL directive.
//!
//! A field says what it needs with a directive (`@authenticated`, `@fresh`, `@refreshToken`,
//! `@hasRole(anyOf:)`, `@hasPermission(allOf:)`, `@selfOrPermission(allOf:)`). The directive
//! *is* the declaration: [`DirectiveGuards`] reads each field's directives from the schema
//! registry and runs the matching guard before the resolver, so what `schema.graphql` shows
//! and what runs cannot drift. We chose this over pairing `guard = …` with `directive = …`
//! on every field, where forgetting one half would go unnoticed.
//!
//! Each guard is a small type that reads only the request's [`Credentials`] (decided once by
//! the transport) and is also an `async_graphql::Guard`, so guards compose with
//! `and`/`or` where code needs them. A bad token fails guarded fields only.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, OnceLock},
};

use async_graphql::{
    Context, Guard, Result, ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    registry::{MetaDirectiveInvocation, Registry},
};

use crate::{
    auth::{
        Credentials, RequestCredentials, Verified,
        tokens::{Claims, now_secs},
    },
    error::{AppError, Required, TokenKind},
    graphql::{errors, nulls::path_of, schema::ApiState},
};

static NO_CREDENTIALS: LazyLock<RequestCredentials> =
    LazyLock::new(|| RequestCredentials::missing("Authorization Header"));

fn credentials<'a>(ctx: &Context<'a>) -> &'a RequestCredentials {
    ctx.data_opt::<Arc<RequestCredentials>>()
        .map_or(&*NO_CREDENTIALS, |c| c.as_ref())
}

/// The verified token of the wanted kind, or why there is none.
fn token_of_kind(credentials: &RequestCredentials, kind: TokenKind) -> Result<&Verified, AppError> {
    match credentials.for_kind(kind) {
        Credentials::Missing(place) => Err(AppError::Unauthenticated(place.clone())),
        Credentials::Rejected(err) => Err(err.duplicate()),
        Credentials::Verified(v) if v.claims.kind() != kind => Err(AppError::WrongTokenType(kind)),
        Credentials::Verified(v) => Ok(v),
    }
}

/// A check on the request's credentials.
pub trait Requirement: Send + Sync {
    /// `Ok` lets the field resolve; the error is the field's.
    ///
    /// # Errors
    /// The contract error for what is missing.
    fn check_credentials(&self, credentials: &RequestCredentials, now: i64)
    -> Result<(), AppError>;
}

/// `@authenticated`: any valid access token.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated;

impl Requirement for Authenticated {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        token_of_kind(credentials, TokenKind::Access).map(|_| ())
    }
}

/// `@refreshToken`: a valid refresh token.
#[derive(Debug, Clone, Copy)]
pub struct RefreshToken;

impl Requirement for RefreshToken {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        token_of_kind(credentials, TokenKind::Refresh).map(|_| ())
    }
}

/// `@fresh`: an access token made right after a password check, or whose "fresh until"
/// time is still ahead.
#[derive(Debug, Clone, Copy)]
pub struct Fresh;

impl Requirement for Fresh {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if token.claims.is_fresh(now) {
            Ok(())
        } else {
            Err(AppError::FreshTokenRequired)
        }
    }
}

/// `@hasRole(anyOf:)`: the token carries one of these roles, and (if the user's grants
/// changed since) the user still holds it.
#[derive(Debug, Clone)]
pub struct HasRole {
    any_of: Vec<String>,
}

impl HasRole {
    /// Any one of `roles`.
    pub fn any_of(roles: &[&str]) -> Self {
        Self {
            any_of: roles.iter().map(|r| (*r).to_owned()).collect(),
        }
    }
}

impl Requirement for HasRole {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        let carried: Vec<&String> = self
            .any_of
            .iter()
            .filter(|role| token.claims.roles().contains(role))
            .collect();
        if carried.is_empty() {
            return Err(AppError::Forbidden(Required::Roles(self.any_of.clone())));
        }
        match &token.current_grants {
            Some(now) if !carried.iter().any(|role| now.roles.contains(role)) => {
                Err(AppError::GrantsChanged)
            }
            _ => Ok(()),
        }
    }
}

/// `@hasPermission(allOf:)`: the token carries all of these permissions, and (if the user's
/// grants changed since) the user still holds them.
#[derive(Debug, Clone)]
pub struct HasPermission {
    all_of: Vec<String>,
}

impl HasPermission {
    /// All of `permissions`.
    pub fn all_of(permissions: &[&str]) -> Self {
        Self {
            all_of: permissions.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// True when the token carries every permission in `all_of`.
fn carries_all(claims: &Claims, all_of: &[String]) -> bool {
    all_of.iter().all(|p| claims.permissions().contains(p))
}

impl Requirement for HasPermission {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        _now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if !carries_all(&token.claims, &self.all_of) {
            return Err(AppError::Forbidden(Required::Permissions(
                self.all_of.clone(),
            )));
        }
        match &token.current_grants {
            Some(now) if !self.all_of.iter().all(|p| now.permissions.contains(p)) => {
                Err(AppError::GrantsChanged)
            }
            _ => Ok(()),
        }
    }
}

/// `@selfOrPermission(allOf:)`: the object is the caller's own, or the caller holds all of
/// these permissions. It needs the object, so its resolver runs it (see
/// [`check_self_or_permission`]); the directive documents it and marks the field as guarded.
#[derive(Debug, Clone)]
pub struct SelfOrPermission {
    owner: i64,
    all_of: HasPermission,
}

impl SelfOrPermission {
    /// The object belongs to user `owner`.
    pub fn new(owner: i64, all_of: &[&str]) -> Self {
        Self {
            owner,
            all_of: HasPermission::all_of(all_of),
        }
    }
}

impl Requirement for SelfOrPermission {
    fn check_credentials(
        &self,
        credentials: &RequestCredentials,
        now: i64,
    ) -> Result<(), AppError> {
        let token = token_of_kind(credentials, TokenKind::Access)?;
        if token.claims.user_id() == Some(self.owner) {
            return Ok(());
        }
        self.all_of.check_credentials(credentials, now)
    }
}

macro_rules! async_graphql_guard {
    ($($ty:ty),*) => {$(
        impl Guard for $ty {
            async fn check(&self, ctx: &Context<'_>) -> Result<()> {
                self.check_credentials(credentials(ctx), now_secs())
                    .map_err(|e| errors::to_graphql(ctx, &e))
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
        .map_err(|e| errors::to_graphql(ctx, &e))
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
            "hasRole" => Self::HasRole(HasRole {
                any_of: string_list(invocation, "anyOf"),
            }),
            "hasPermission" => Self::HasPermission(HasPermission {
                all_of: string_list(invocation, "allOf"),
            }),
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

/// The schema extension that runs each field's declared guards before its resolver.
#[derive(Default)]
pub struct DirectiveGuards {
    table: Arc<OnceLock<GuardTable>>,
}

impl ExtensionFactory for DirectiveGuards {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DirectiveGuardsRun {
            table: self.table.clone(),
        })
    }
}

struct DirectiveGuardsRun {
    table: Arc<OnceLock<GuardTable>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for DirectiveGuardsRun {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let table = self
            .table
            .get_or_init(|| guard_table(&ctx.schema_env.registry));
        if let Some(guards) = table.get(info.parent_type).and_then(|f| f.get(info.name)) {
            let credentials = ctx
                .data_opt::<Arc<RequestCredentials>>()
                .map_or(&*NO_CREDENTIALS, |c| c.as_ref());
            let now = now_secs();
            for guard in guards {
                if let Err(e) = guard.requirement().check_credentials(credentials, now) {
                    let messages = ctx.data_opt::<ApiState>().map(|s| s.messages.as_ref());
                    let mut error =
                        errors::render(messages, &e).into_server_error(info.field.name.pos);
                    error.path = path_of(info.path_node);
                    return Err(error);
                }
            }
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Request, Schema};

    use super::*;

    fn access(roles: &[&str], permissions: &[&str], is_fresh: bool) -> RequestCredentials {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "1", "iat": 0, "exp": i64::MAX / 2, "jti": "j", "type": "access",
            "fresh": is_fresh, "roles": roles, "permissions": permissions,
        }))
        .expect("claims");
        RequestCredentials::single(Credentials::Verified(Box::new(Verified {
            claims,
            current_grants: None,
        })))
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

    #[test]
    fn a_stale_token_keeps_only_the_grants_still_held() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "1", "iat": 0, "exp": i64::MAX / 2, "jti": "j", "type": "access",
            "fresh": true, "roles": ["admin", "editor"], "permissions": ["a", "b"],
        }))
        .expect("claims");
        let credentials = RequestCredentials::single(Credentials::Verified(Box::new(Verified {
            claims,
            current_grants: Some(Arc::new(crate::users::Grants {
                roles: vec!["editor".into()],
                permissions: vec!["a".into()],
            })),
        })));
        let check = |r: &dyn Requirement| {
            r.check_credentials(&credentials, 0)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            check(&HasRole::any_of(&["admin"])),
            Err("Token has been revoked: grants changed".into())
        );
        assert_eq!(check(&HasRole::any_of(&["admin", "editor"])), Ok(()));
        assert_eq!(check(&HasPermission::all_of(&["a"])), Ok(()));
        assert_eq!(
            check(&HasPermission::all_of(&["a", "b"])),
            Err("Token has been revoked: grants changed".into())
        );
        assert_eq!(check(&HasRole::any_of(&["owner"])), Err("Forbidden".into()));
    }
}
