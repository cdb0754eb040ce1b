//! The GraphQL API: schema, resolvers, guards and the error mapping. Knows nothing of HTTP:
//! the transport puts [`crate::auth::Credentials`] and [`crate::auth::Client`] into each request.

pub mod cookies;
pub mod errors;
pub mod guards;
pub mod mutation;
/// The request pipeline (envelope, limits, documents, key order, nulls, phase).
pub(crate) mod pipeline;
pub mod query;
pub mod schema;
pub mod state;
pub mod subscription;
pub mod types;

pub use schema::{SchemaOptions, WardenSchema, build_schema, sdl};
pub use state::ApiState;
