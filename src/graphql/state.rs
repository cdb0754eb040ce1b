//! What resolvers share across requests. A module of its own so that the error mapping and
//! the guards can reach it without importing the schema (which imports every resolver).

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::{
    accounts::Accounts,
    auth::{live::LiveEvents, service::AuthService},
    config::TransportConfig,
    messages::Messages,
};

/// What resolvers share across requests.
#[derive(Clone)]
pub struct ApiState {
    /// The database (for readiness; resolvers go through [`Self::accounts`] and
    /// [`Self::auth`]).
    pub db: DatabaseConnection,
    /// Accounts: creation, grants, names, disabling, deletion, pages and counts.
    pub accounts: Accounts,
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
