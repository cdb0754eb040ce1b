//! Logging setup: `RUST_LOG` filters (default `info`, with sqlx's per-statement logs off),
//! `WARDEN_LOG_FORMAT` picks the format.
//!
//! Lines carry their target (`warden::security` for the security log) and the request span's
//! fields (method, path, request id); never a token or a password, which no log call is given.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"))
}

/// Installs the global subscriber (once; later calls are no-ops). Logs go to standard
/// output: pretty lines (in colour only when that is a terminal, so files and pipes get
/// plain text), or one JSON object per line.
pub fn init(format: LogFormat) {
    let builder = fmt().with_env_filter(filter()).with_target(true);
    let _ = match format {
        LogFormat::Pretty => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
