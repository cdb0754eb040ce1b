//! Warden: a token-aware GraphQL API server for identity and access.
//!
//! A tour, in the order a request meets the code:
//! - [`config`] reads every setting once at start; [`startup`] opens the database ([`database`]
//!   words a bad `DATABASE_URL` for the operator), applies
//!   [`migration`]s, creates the bootstrap admin, loads the event log and binds the listeners.
//! - [`http`] (axum) receives the request: the media type to answer in (from `Accept`), the
//!   operations a POST body or GET query string carries (or the transport fault that stops
//!   them: 400, 405, 413, 415), then its admission (one for HTTP requests and WebSocket
//!   operations alike) has [`http::credentials`] find the token (header or cookie, and the
//!   CSRF header) and [`auth::verify`] judge it once, into an [`auth::RequestCredentials`]
//!   value: decode with [`auth::tokens`], the CSRF double submit, then revocation and grants
//!   from the in-memory [`auth::revocation`] — no database round trip. Admission describes the
//!   request in a [`graphql::RequestContext`] (credentials, client, door); [`http::ws`] is the
//!   same door over a WebSocket. [`http::playground`] serves GraphiQL from the binary;
//!   [`http::metrics`] serves `/metrics` ([`meter`] names what is measured).
//! - [`graphql`] (async-graphql) executes the operation: [`graphql::execute`] (a socket:
//!   [`graphql::execute_stream`]) takes the context and the operations and returns each
//!   response with its [`graphql::Phase`], from which [`http`] picks the status code or the
//!   socket message. On the way, the request pipeline (`graphql/pipeline/`, one schema
//!   extension) checks the document's limits, runs the requirement of [`auth::guards`] that
//!   each guarded field declares with an SDL directive before its resolver, turns a failed
//!   nullable field into `null` at its path, and puts the response's keys in selection order.
//!   Resolvers call [`auth::service`] (login, refresh with rotation, reauth, logout, password
//!   change; [`auth::protection`] limits wrong passwords) and [`accounts`] (creation, grants,
//!   names, disabling, deletion, the profile cache); [`graphql::cookies`] sets token cookies
//!   when cookies are a token location. Resolvers hold no SQL: the domain modules do.
//! - The layers point one way: [`http`] → [`graphql`] → [`auth`] → [`users`] → [`password`],
//!   [`events`], [`clock`]. [`users`] is the account store (profiles, grants, disabling) and
//!   knows nothing of tokens; [`password`] is argon2id hashing behind a gate, and the policy,
//!   for both. [`http`] and [`graphql`] share one [`graphql::ApiState`].
//! - Every change that can kill or weaken a token appends to the [`events`] log in its own
//!   transaction; this instance applies it at commit, and [`events::Feed`] tails the log for the
//!   other instances' (and the CLI's) changes, keeping [`auth::revocation`] and [`profiles`] current.
//! - [`error`] is the domain error with the codes of docs/reference.md; [`graphql::errors`] is the one
//!   place it becomes `extensions.code`, with texts from [`messages`].
//! - [`cli`] is the command line; [`telemetry`] sets up logging. `testing` (tests and benches
//!   only) holds the fixtures every test shares.

#![warn(missing_docs)]

pub mod accounts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod database;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod messages;
pub mod meter;
pub mod password;
pub mod profiles;
pub mod startup;
pub mod telemetry;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod users;
