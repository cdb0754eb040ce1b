//! Warden: a token-aware GraphQL API server for identity and access.
//!
//! A tour, in the order a request meets the code:
//! - [`config`] reads every setting once at start; [`startup`] opens the database, applies
//!   [`migration`]s, creates the bootstrap admin and binds the listener.
//! - [`http`] (axum) receives the request: transport checks (JSON, size), then
//!   [`http::credentials`] finds the token (header or cookie, CSRF for cookies), decodes it
//!   with [`auth::tokens`] and checks [`auth::revocation`] — one query that also reads the
//!   user's grants version — once, into an [`auth::RequestCredentials`] value;
//!   [`auth::grants`] supplies current grants for tokens older than a grants change.
//!   [`http::playground`] serves GraphiQL from the binary.
//! - [`graphql`] (async-graphql) executes the operation. Each guarded field declares its guard
//!   with an SDL directive; the [`graphql::guards::DirectiveGuards`] extension runs it before
//!   the resolver, and [`graphql::nulls`] turns a failed nullable field into `null` at its
//!   path. Resolvers call [`auth::service`] (login, refresh with rotation, reauth, logout,
//!   password change; [`auth::throttle`] limits wrong passwords) and [`users`];
//!   [`graphql::cookies`] sets token cookies when cookies are a token location;
//!   [`graphql::phase`] records whether execution started, which [`http::graphql`] needs for
//!   the status code it negotiates with the media type.
//! - [`error`] is the domain error with the contract's codes; [`graphql::errors`] is the one
//!   place it becomes `extensions.code`, with texts from [`messages`].
//! - [`cli`] is the command line; [`telemetry`] sets up logging.

#![warn(missing_docs)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod messages;
pub mod meter;
pub mod profiles;
pub mod startup;
pub mod telemetry;
pub mod users;
