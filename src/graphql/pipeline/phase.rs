//! Whether a request reached execution, for the transport's status code.
//!
//! GraphQL over HTTP answers `application/graphql-response+json` clients with 400 when a request
//! fails before execution (parse, validation, limits, variable coercion) and with 200 once
//! execution has started. async-graphql runs an extension's `execute` hook exactly when the
//! request got past all of those checks, so that hook marks the request ([`mark_started`]). This rather than
//! guessing from the response (`data: null` and errors without a path): a mutation that fails
//! at execution also has `data: null`, and an engine error raised during execution may carry no
//! path.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::extensions::ExtensionContext;

/// Put into a request's data by the transport; set once the request starts executing.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExecutionStarted(Arc<AtomicBool>);

impl ExecutionStarted {
    /// Whether the request got past parsing, validation and limits.
    pub(crate) fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Marks the request in `ctx` as executing. Called from the `execute` hook of
/// [`super::extension`]: every extension is a link in the chain each field's
/// resolution walks, so this one rides on an existing link rather than adding its own.
pub(super) fn mark_started(ctx: &ExtensionContext<'_>) {
    if let Some(started) = ctx.data_opt::<ExecutionStarted>() {
        started.0.store(true, Ordering::Release);
    }
}
