//! Whether a request reached execution, for the transport's status code.
//!
//! GraphQL over HTTP answers `application/graphql-response+json` clients with 400 when a request
//! fails before execution (parse, validation, limits, variable coercion) and with 200 once
//! execution has started. async-graphql runs an extension's `execute` hook exactly when the
//! request got past all of those checks, so that hook marks the request. This rather than
//! guessing from the response (`data: null` and errors without a path): a mutation that fails
//! at execution also has `data: null`, and an engine error raised during execution may carry no
//! path.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    Response,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
};

/// Put into a request's data by the transport; set once the request starts executing.
#[derive(Debug, Clone, Default)]
pub struct ExecutionStarted(Arc<AtomicBool>);

impl ExecutionStarted {
    /// Whether the request got past parsing, validation and limits.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The schema extension that sets the request's [`ExecutionStarted`].
pub struct MarkExecution;

impl ExtensionFactory for MarkExecution {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(MarkExecution)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for MarkExecution {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
            started.0.store(true, Ordering::Release);
        }
        next.run(ctx, operation_name).await
    }
}
