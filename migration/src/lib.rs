//! Schema migrations. Files are named `mYYYYMMDD_HHMMSS_name.rs`, never edited once landed,
//! and each has a working `down`.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_users;
mod m20261129_000002_create_grants;
mod m20261129_000003_create_sessions;
mod m20261129_000004_create_revoked_tokens;
mod m20261201_000005_create_auth_events;
mod m20261201_000006_create_login_failures;
mod m20261201_000010_add_user_disabled;
mod m20261206_000011_create_address_failures;
mod m20261206_000012_create_refresh_retirements;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_users::Migration),
            Box::new(m20261129_000002_create_grants::Migration),
            Box::new(m20261129_000003_create_sessions::Migration),
            Box::new(m20261129_000004_create_revoked_tokens::Migration),
            Box::new(m20261201_000005_create_auth_events::Migration),
            Box::new(m20261201_000006_create_login_failures::Migration),
            Box::new(m20261201_000010_add_user_disabled::Migration),
            Box::new(m20261206_000011_create_address_failures::Migration),
            Box::new(m20261206_000012_create_refresh_retirements::Migration),
        ]
    }
}
