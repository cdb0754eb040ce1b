//! Spec-conformant nulls for failed nullable fields, and a code on every error.
//!
//! async-graphql 7.2 drops a field that returns an error from its parent object (and turns
//! `data` into `null` when every root field failed), where the GraphQL spec and our contract
//! want the key present with `null` and the error at its path. A frontend reading
//! `data.me` must get `null`, not a crash on `data` being `null`. This extension catches the
//! error of a *nullable* field, records it, resolves the field to `null`, and appends the
//! recorded errors to the response. Errors of non-null fields propagate unchanged.

use std::sync::{Arc, Mutex};

use async_graphql::{
    PathSegment, QueryPathNode, Response, ServerError, ServerResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest, NextResolve,
        ResolveInfo,
    },
};

use crate::error::ErrorCode;

/// The factory installed on the schema.
pub struct NullOnError;

impl ExtensionFactory for NullOnError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Collector::default())
    }
}

/// One per request: the errors of the fields it turned into nulls.
#[derive(Default)]
struct Collector {
    errors: Mutex<Vec<ServerError>>,
}

/// The response path of a field, from its path node (built only when an error needs it).
pub(crate) fn path_of(path_node: &QueryPathNode<'_>) -> Vec<PathSegment> {
    let mut segments = Vec::new();
    let mut node = Some(path_node);
    while let Some(n) = node {
        segments.push(match n.segment {
            async_graphql::QueryPathSegment::Index(i) => PathSegment::Index(i),
            async_graphql::QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
        });
        node = n.parent;
    }
    segments.reverse();
    segments
}

#[async_graphql::async_trait::async_trait]
impl Extension for Collector {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let collected = std::mem::take(&mut *self.errors.lock().unwrap_or_else(|e| e.into_inner()));
        response.errors.extend(collected);
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        let path_node = info.path_node;
        match next.run(ctx, info).await {
            Err(mut err) if nullable => {
                if err.path.is_empty() {
                    err.path = path_of(path_node);
                }
                self.errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(err);
                Ok(Some(Value::Null))
            }
            result => result,
        }
    }
}

/// Gives every error a contract code: the ones async-graphql raises itself (syntax,
/// validation, unknown fields, wrong argument types, depth and complexity limits) carry
/// none, and are all the client's input to fix, so they become `BAD_USER_INPUT`.
pub struct CodeEveryError;

impl ExtensionFactory for CodeEveryError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CodeEveryError)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for CodeEveryError {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::BadUserInput.as_str());
            }
        }
        response
    }
}
