//! The `warden` binary: parse the command line, run it, report failure in one line.

use clap::Parser;

/// See the note on `mimalloc` in Cargo.toml: memory freed after a password hash goes back to
/// the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let format = match warden::config::LogFormat::from_env() {
        Ok(format) => format,
        Err(e) => {
            eprintln!("warden: {}", warden::startup::StartupError::from(e));
            return std::process::ExitCode::FAILURE;
        }
    };
    let cli = warden::cli::Cli::parse();
    let output = match cli.command {
        None | Some(warden::cli::Command::Serve) => warden::telemetry::Output::Stdout,
        Some(_) => warden::telemetry::Output::Stderr,
    };
    warden::telemetry::init(format, output);
    match warden::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warden: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
