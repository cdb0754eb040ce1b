//! Integration tests: the real app over real HTTP, on SQLite and (with `TEST_DATABASE_URL`)
//! on PostgreSQL. One binary, so the app and the harness compile once.

mod support;

mod admin_controls;
mod auth_flows;
mod browser;
mod cli;
mod configuration;
mod cookie_transport;
mod deny_by_default;
mod docs_reference;
mod event_feed;
mod flask_interop;
mod graphql_limits;
mod graphql_over_http;
mod guard_matrix;
mod hardening;
mod http_surface;
mod live_events;
mod memory_bounds;
mod operator;
mod playground;
mod protected_fields;
mod review_fixes;
mod scale_out;
mod schema_snapshot;
mod signing_keys;
mod socket_admission;
mod token_edges;
mod token_errors;
mod verify_tokens;
