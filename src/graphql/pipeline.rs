//! The one schema extension Warden installs, per request.
//!
//! Every extension is a link in the chain each field's resolution walks through (an async
//! call and a boxed future per link per field), so the request's envelope
//! ([`crate::graphql::nulls::Envelope`]: limits, key order, codes, metrics), the execution
//! marker ([`crate::graphql::phase`]), the directive guards ([`crate::graphql::guards`]) and
//! the null-on-error collector ([`crate::graphql::nulls`]) share a single link rather than
//! four. Inside a field the guards run first and the collector sees their refusal, as it sees
//! the resolver's errors.

use std::{sync::Arc, time::Instant};

use async_graphql::{
    Request, Response, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextRequest, NextResolve, ResolveInfo,
    },
    parser::types::ExecutableDocument,
};

use crate::graphql::{
    documents::DocumentCache,
    guards::DirectiveGuards,
    limits::DocumentLimits,
    nulls::{Collector, Envelope},
    phase::mark_started,
};

/// The factory installed on the schema.
pub struct Pipeline {
    limits: DocumentLimits,
    guards: DirectiveGuards,
    documents: DocumentCache,
}

impl Pipeline {
    /// The pipeline checking documents against `limits`.
    pub fn new(limits: DocumentLimits) -> Self {
        Self {
            limits,
            guards: DirectiveGuards::default(),
            documents: DocumentCache::default(),
        }
    }
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Run {
            envelope: Envelope::new(self.limits, self.documents.clone()),
            collector: Collector::default(),
            guards: self.guards.clone(),
        })
    }
}

/// One request's pipeline.
struct Run {
    envelope: Envelope,
    collector: Collector,
    guards: DirectiveGuards,
}

#[async_graphql::async_trait::async_trait]
impl Extension for Run {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        self.envelope.finish(response, started)
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.envelope.prepare(&mut request)?;
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
        self.envelope.parsed(&document);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        mark_started(ctx);
        let response = next.run(ctx, operation_name).await;
        self.collector.finish(response)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let return_type = info.return_type;
        let path_node = info.path_node;
        let result = match self.guards.check(ctx, &info) {
            Ok(()) => next.run(ctx, info).await,
            Err(refused) => Err(refused),
        };
        self.collector.settle(result, return_type, path_node)
    }
}
