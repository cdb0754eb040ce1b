//! The GraphQL API: schema, resolvers, guards and the error mapping. Knows nothing of HTTP:
//! the transport puts [`crate::auth::Credentials`] and [`RequestMeta`] into each request.

pub mod cookies;
pub mod documents;
pub mod errors;
pub mod guards;
pub mod limits;
pub mod mutation;
pub mod nulls;
pub mod order;
pub mod phase;
pub mod pipeline;
pub mod query;
pub mod schema;
pub mod state;
pub mod subscription;
pub mod types;

pub use schema::{SchemaOptions, WardenSchema, build_schema, sdl};
pub use state::ApiState;

/// Facts about the HTTP request that resolvers may record (never tokens).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// `User-Agent`, truncated, stored with new sessions.
    pub user_agent: Option<String>,
    /// The client address: the socket peer, or what a trusted proxy's `X-Forwarded-For` says.
    pub client_ip: Option<std::net::IpAddr>,
    /// The request's `x-request-id`, for the security log.
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// What the auth flows know of the caller.
    pub fn client(&self) -> crate::auth::Client {
        crate::auth::Client {
            ip: self.client_ip,
            request_id: self.request_id.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}
