//! Schema assembly: limits, introspection, shared state, and the SDL export.

use async_graphql::Schema;

use crate::{
    config::LimitsConfig,
    graphql::{
        mutation::Mutation,
        pipeline::{DocumentLimits, Pipeline},
        query::Query,
        state::ApiState,
        subscription::Subscription,
    },
};

/// The Warden schema type.
pub type WardenSchema = Schema<Query, Mutation, Subscription>;

/// How the schema answers what is not data: introspection, suggestions, limits.
#[derive(Debug, Clone, Copy)]
pub struct SchemaOptions {
    /// Introspection queries allowed (`WARDEN_INTROSPECTION`).
    pub introspection: bool,
    /// "Did you mean …" in validation errors: development only, since they name fields that
    /// introspection being off is meant to keep unlisted.
    pub suggestions: bool,
    /// Depth, complexity and aliases per document (the pipeline's limits).
    pub limits: LimitsConfig,
}

/// Builds the schema with its limits and state.
pub fn build_schema(state: ApiState, options: SchemaOptions) -> WardenSchema {
    let introspection = options.introspection;
    // Depth and complexity are counted by the pipeline's limits check, not by
    // `limit_depth`/`limit_complexity` (see `graphql/pipeline/limits.rs` for why).
    let mut builder = Schema::build(Query, Mutation, Subscription)
        .extension(Pipeline::new(DocumentLimits {
            limits: options.limits,
            introspection,
        }))
        .data(state);
    if !options.suggestions {
        builder = builder.disable_suggestions();
    }
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL, as committed in `schema.graphql` (`warden schema` prints it).
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
