//! The request's envelope: what happens once per operation around everything else. Before
//! async-graphql parses, validates or executes, the document is parsed (or its kept parse
//! copied, [documents]) and checked against the [limits]; after, the response's keys go back
//! in selection [order], every error gets a contract code, and the operation is metered.
//!
//! [documents]: crate::graphql::pipeline::documents
//! [limits]: crate::graphql::pipeline::limits
//! [order]: crate::graphql::pipeline::order

use std::{
    sync::{Arc, OnceLock},
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerResult,
    parser::types::{ExecutableDocument, OperationType},
};

use super::{documents::DocumentCache, limits::DocumentLimits, order, phase::Ticket};
use crate::{error::ErrorCode, meter};

/// Per request, around everything: checks the document's limits before anything else
/// ([`super::limits`]), puts the response's keys in selection order
/// ([`super::order`]), gives every error a contract code, and meters the request
/// (count and latency by operation type).
///
/// The codes: errors async-graphql raises itself (syntax, validation, unknown fields, wrong
/// argument types) carry none, and are all the client's input to fix, so they become
/// `BAD_USER_INPUT`.
pub(super) struct Envelope {
    operation: OnceLock<&'static str>,
    selection: OnceLock<(Arc<ExecutableDocument>, Option<String>)>,
    limits: DocumentLimits,
    documents: DocumentCache,
}

impl Envelope {
    /// An envelope for one request under `limits`, parsing through `documents`.
    pub(super) fn new(limits: DocumentLimits, documents: DocumentCache) -> Self {
        Self {
            operation: OnceLock::new(),
            selection: OnceLock::new(),
            limits,
            documents,
        }
    }

    /// Before async-graphql's own parse-time walk, validation and execution: parses the
    /// document (or copies the kept parse of the same text) for async-graphql to reuse, and
    /// checks its limits. An error here never reaches execution, so the transport answers it
    /// as a request that failed before it.
    pub(super) fn prepare(&self, request: &mut Request) -> ServerResult<()> {
        let carrier = Ticket::carrier_of(request);
        let document = match self.documents.get(&request.query) {
            Some(kept) => {
                self.limits.check(&kept, carrier)?;
                request.set_parsed_query(ExecutableDocument::clone(&kept));
                kept
            }
            None => {
                let parsed = Arc::new(request.parsed_query()?.clone());
                self.limits.check(&parsed, carrier)?;
                self.documents.keep(&request.query, parsed.clone());
                parsed
            }
        };
        self.selection
            .set((document, request.operation_name.clone()))
            .ok();
        Ok(())
    }

    /// Notes the operation type, for the metrics.
    pub(super) fn parsed(&self, document: &ExecutableDocument) {
        let kind = match document.operations.iter().next() {
            Some((_, op)) => match op.node.ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            },
            None => "unknown",
        };
        self.operation.set(kind).ok();
    }

    /// The response as the client gets it, and the request's metrics.
    pub(super) fn finish(&self, mut response: Response, started: Instant) -> Response {
        if let Some((document, operation_name)) = self.selection.get() {
            order::reorder(&mut response.data, document, operation_name.as_deref());
        }
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", ErrorCode::BadUserInput.as_str());
            }
        }
        let operation = self.operation.get().copied().unwrap_or("unknown");
        meter::request(operation, started.elapsed().as_secs_f64());
        response
    }
}
