//! Warden: a token-aware GraphQL API server for identity and access.
//!
//! A tour, in the order a request meets the code:
//! - [`config`] reads every setting once at start; [`startup`] opens the database, applies
//!   [`migration`]s, creates the bootstrap admin and binds the listener.
//! - [`http`] (axum) receives the request: transport checks (JSON, size), then
//!   [`http::credentials`] finds the token, decodes it with [`auth::tokens`] and checks
//!   [`auth::revocation`], once, into an [`auth::Credentials`] value.
//! - [`graphql`] (async-graphql) executes the operation; [`graphql::guards`] turn the
//!   credentials into a field's error or let it resolve; resolvers call [`auth::service`]
//!   (login, refresh, reauth, logout) and [`users`].
//! - [`error`] is the domain error with the contract's codes; [`graphql::errors`] is the one
//!   place it becomes `extensions.code`, with texts from [`messages`].
//! - [`cli`] is the command line; [`telemetry`] sets up logging.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod graphql;
pub mod http;
pub mod messages;
pub mod startup;
pub mod telemetry;
pub mod users;
