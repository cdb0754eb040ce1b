//! Spec-conformant nulls for failed nullable fields, and a code on every error.
//!
//! async-graphql 7.2 drops a field that returns an error from its parent object (and turns
//! `data` into `null` when every root field failed), where the GraphQL spec and our contract
//! want the key present with `null` and the error at its path. A frontend reading
//! `data.me` must get `null`, not a crash on `data` being `null`. This extension catches the
//! error of a *nullable* field, records it, resolves the field to `null`, and appends the
//! recorded errors to the response. Errors of non-null fields propagate unchanged.

use std::{
    sync::{Arc, Mutex, OnceLock},
    time::Instant,
};

use async_graphql::{
    PathSegment, QueryPathNode, Request, Response, ServerError, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest, NextResolve, ResolveInfo,
    },
    parser::types::{ExecutableDocument, OperationType},
};

use crate::{
    error::ErrorCode,
    graphql::{
        limits::{DocumentLimits, InBatch},
        phase::mark_started,
    },
    meter,
};

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
        mark_started(ctx);
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

/// Per request, the outermost extension: checks the document's limits before anything else
/// ([`crate::graphql::limits`]), gives every error a contract code, and meters the request
/// (count and latency by operation type).
///
/// The codes: errors async-graphql raises itself (syntax, validation, unknown fields, wrong
/// argument types, depth and complexity limits) carry none, and are all the client's input to
/// fix, so they become `BAD_USER_INPUT`.
///
/// Metering and the limits live here rather than in extensions of their own because every
/// extension is a link in the chain each field's resolution walks through.
pub struct CodeEveryError(pub DocumentLimits);

impl ExtensionFactory for CodeEveryError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Envelope {
            operation: OnceLock::new(),
            limits: self.0,
        })
    }
}

/// One per request: the operation type, once the document is parsed.
struct Envelope {
    operation: OnceLock<&'static str>,
    limits: DocumentLimits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Envelope {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::BadUserInput.as_str());
            }
        }
        let operation = self.operation.get().copied().unwrap_or("unknown");
        ::metrics::counter!(meter::REQUESTS, "operation" => operation).increment(1);
        ::metrics::histogram!(meter::REQUEST_SECONDS, "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        response
    }

    /// Parses the document and checks its limits before async-graphql's own parse-time walk,
    /// validation and execution; async-graphql then reuses the parsed document. An error here
    /// never reaches the `execute` hook, so the transport answers it as a request that failed
    /// before execution.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let in_batch = request
            .data
            .contains_key(&std::any::TypeId::of::<InBatch>());
        self.limits.check(request.parsed_query()?, in_batch)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let kind = match document.operations.iter().next() {
            Some((_, op)) => match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            },
            None => "unknown",
        };
        self.operation.set(kind).ok();
        Ok(document)
    }
}
