//! The GraphQL API: schema, resolvers, guards, the error mapping, and the request pipeline
//! they run in. Knows nothing of HTTP: a transport describes each request it admits in a
//! [`RequestContext`] (the judged credentials, the client, the door) and hands it over with the
//! operations to [`execute`] or [`execute_stream`], which return each response with its
//! [`Phase`], all the transport needs to pick a status code or a message.

/// Token cookies for browser apps.
mod cookies;
/// The one place an `AppError` becomes `extensions.code`.
pub mod errors;
/// Field guards, declared by SDL directives.
pub mod guards;
/// The mutation root.
mod mutation;
/// The request pipeline (handover, envelope, limits, documents, key order, nulls, phase).
mod pipeline;
/// The query root.
mod query;
/// Schema assembly and the SDL export.
mod schema;
/// What resolvers share.
mod state;
/// The subscription root.
pub mod subscription;
/// The GraphQL object types.
mod types;

pub use pipeline::{
    Answer, Answers, Phase, RequestContext, Transport, execute, execute_stream, selects,
};
pub use schema::{SchemaOptions, WardenSchema, build_schema, sdl};
pub use state::ApiState;
