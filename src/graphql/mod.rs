//! The GraphQL API: schema, resolvers, guards and the error mapping. Knows nothing of HTTP:
//! the transport puts [`crate::auth::Credentials`] and [`RequestMeta`] into each request.

pub mod cookies;
pub mod errors;
pub mod guards;
pub mod limits;
pub mod mutation;
pub mod nulls;
pub mod phase;
pub mod query;
pub mod schema;
pub mod subscription;
pub mod types;

pub use schema::{ApiState, SchemaOptions, WardenSchema, build_schema, sdl};

/// Facts about the HTTP request that resolvers may record (never tokens).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// `User-Agent`, truncated, stored with new sessions.
    pub user_agent: Option<String>,
}
