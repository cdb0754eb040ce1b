//! The GraphQL API: schema, resolvers, guards, the error mapping, and the request pipeline
//! they run in. Knows nothing of HTTP: a transport describes each request it admits in a
//! [`RequestContext`] (the judged credentials, the client, the door) and hands it over with the
//! operations to [`execute`] or [`execute_stream`], which return each response with its
//! [`Phase`], all the transport needs to pick a status code or a message.

pub mod cookies;
pub mod errors;
pub mod guards;
pub mod mutation;
/// The request pipeline (handover, envelope, limits, documents, key order, nulls, phase).
mod pipeline;
pub mod query;
pub mod schema;
pub mod state;
pub mod subscription;
pub mod types;

pub use pipeline::{Answer, Answers, Phase, RequestContext, Transport, execute, execute_stream};
pub use schema::{SchemaOptions, WardenSchema, build_schema, sdl};
pub use state::ApiState;
