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

/// Shows the server's log in tests when `TEST_LOG` is set (its value is the filter, e.g.
/// `TEST_LOG=warden=debug` or `TEST_LOG=info`): the apps a test starts run in the test's own
/// process, so without a subscriber their lines go nowhere. Lines go to standard error, which
/// `cargo test` shows for failing tests (and for every test with `-- --nocapture`).
pub fn init_for_tests() {
    let Some(filter) = std::env::var("TEST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty())
    else {
        return;
    };
    let _ = fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_target(true)
        .with_test_writer()
        .try_init();
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Standard output: the server's, where its log is what it prints.
    Stdout,
    /// Standard error: the other commands', whose standard output is their result (a
    /// `user list --json` must stay parseable).
    Stderr,
}

/// Installs the global subscriber (once; later calls are no-ops): pretty lines (in colour
/// only when the output is a terminal, so files and pipes get plain text), or one JSON object
/// per line.
pub fn init(format: LogFormat, output: Output) {
    let builder = fmt().with_env_filter(filter()).with_target(true);
    let _ = match (format, output) {
        (LogFormat::Pretty, Output::Stdout) => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        (LogFormat::Pretty, Output::Stderr) => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init(),
        (LogFormat::Json, Output::Stdout) => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        (LogFormat::Json, Output::Stderr) => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .try_init(),
    };
}
