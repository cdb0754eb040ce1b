//! Logging setup: `RUST_LOG` filters (default `info`, with sqlx's per-statement logs off).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber (once; later calls are no-ops).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let _ = fmt().with_env_filter(filter).with_target(false).try_init();
}
