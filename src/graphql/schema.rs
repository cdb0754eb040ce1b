//! Schema assembly: limits, introspection, shared state, and the SDL export.

use std::sync::Arc;

use async_graphql::Schema;
use sea_orm::DatabaseConnection;

use crate::{
    auth::{live::LiveEvents, service::AuthService},
    config::TransportConfig,
    graphql::{
        guards::DirectiveGuards,
        mutation::Mutation,
        nulls::{CodeEveryError, NullOnError},
        query::Query,
        subscription::Subscription,
    },
    messages::Messages,
    profiles::ProfileCache,
};

/// The Warden schema type.
pub type WardenSchema = Schema<Query, Mutation, Subscription>;

/// Deepest query accepted. Our own types nest a few levels; the introspection query GraphiQL
/// sends nests `ofType` about fifteen deep.
const MAX_DEPTH: usize = 20;
/// Most complex query accepted.
const MAX_COMPLEXITY: usize = 500;

/// What resolvers share across requests.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub db: DatabaseConnection,
    /// User profiles (`me`, `greeting`), kept right by the event log.
    pub profiles: Arc<ProfileCache>,
    /// Events fanned out to open subscriptions.
    pub live: Arc<LiveEvents>,
    /// The auth flows.
    pub auth: AuthService,
    /// Error texts.
    pub messages: Arc<Messages>,
    /// Whether `register` is enabled.
    pub signup: bool,
    /// Where tokens travel (cookie names and attributes).
    pub transport: Arc<TransportConfig>,
    /// Whether tokens are returned in response bodies (false when they travel only in cookies).
    pub tokens_in_body: bool,
}

/// Builds the schema with its limits and state.
pub fn build_schema(state: ApiState, introspection: bool) -> WardenSchema {
    let builder = Schema::build(Query, Mutation, Subscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        // Outer first: NullOnError sees the errors of the guards that run inside it.
        .extension(CodeEveryError)
        .extension(NullOnError)
        .extension(DirectiveGuards::default())
        .data(state);
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
