//! SeaORM entities: one module per table. These are persistence only; the GraphQL layer has
//! its own types converted from them.

pub mod address_failure;
pub mod auth_event;
pub mod login_failure;
pub mod prelude;
pub mod refresh_retirement;
pub mod revoked_token;
pub mod session;
pub mod user;
pub mod user_permission;
pub mod user_role;
