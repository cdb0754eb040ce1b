//! The `warden` command line (clap): serve, migrate, schema, and user administration.

use std::io::BufRead;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::{
    auth::{admin, tokens::TokenCodec},
    config::Config,
    events::EventLog,
    startup::{self, Application, StartupError},
    users::{self, NewUser},
};

/// Warden: a token-aware GraphQL API server for identity and access.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL SDL (identical to the committed schema.graphql).
    Schema,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

/// `warden user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (one line).
    Create(CreateUser),
    /// Replace a user's roles.
    SetRoles {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// A role (repeat for several; none clears them).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Replace a user's permissions.
    SetPermissions {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// A permission (repeat for several; none clears them).
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Disable an account: every session ends at once and its tokens are refused.
    Disable {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account (its ended sessions stay ended).
    Enable {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// End every session of an account.
    RevokeSessions {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
}

/// `warden user create`.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// Email (trimmed and lower-cased).
    #[arg(long)]
    pub email: String,
    /// Read the password from standard input (never from the command line, where other
    /// users of the machine could see it).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    /// Display name (default: the email's local part).
    #[arg(long)]
    pub name: Option<String>,
    /// A role (repeat for several).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// A permission (repeat for several).
    #[arg(long = "permission")]
    pub permissions: Vec<String>,
}

/// Reads one line from standard input and drops its line ending.
fn read_password_line() -> Result<SecretString, StartupError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| StartupError::Other(format!("cannot read the password from stdin: {e}")))?;
    let trimmed = line.strip_suffix('\n').unwrap_or(&line);
    let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
    Ok(trimmed.to_owned().into())
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever stopped the command, as one line for the operator.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Serve => serve(Config::from_env()?).await,
        Command::Migrate => {
            let config = Config::from_env()?;
            startup::connect_and_migrate(&config.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(command) => {
            let config = Config::from_env()?;
            let db = startup::connect_and_migrate(&config.database_url).await?;
            // Changes are logged as events (no subscribers here): running servers tail them.
            let log = EventLog::default();
            let remember_until = TokenCodec::new(&config.jwt)?.outlives_now();
            let recorder = admin::Recorder {
                log: &log,
                remember_until,
            };

            let user_error = |e: crate::error::AppError| StartupError::Other(e.to_string());
            match command {
                UserCommand::Create(args) => {
                    let password = read_password_line()?;
                    let name = args.name.unwrap_or_else(|| {
                        args.email
                            .trim()
                            .split('@')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    });
                    let passwords = crate::password::Passwords::new(&config.login);
                    let account = users::create(
                        &db,
                        &passwords,
                        NewUser {
                            email: args.email,
                            password,
                            name,
                            roles: args.roles,
                            permissions: args.permissions,
                        },
                    )
                    .await
                    .map_err(user_error)?;
                    println!("created user {} <{}>", account.user.id, account.user.email);
                }
                UserCommand::SetRoles { email, roles } => {
                    let user = find(&db, &email).await?;
                    let account =
                        users::set_grants(&db, &log, remember_until, user, Some(&roles), None)
                            .await
                            .map_err(user_error)?;
                    println!(
                        "roles of {}: [{}]",
                        account.user.email,
                        account.grants.roles.join(", ")
                    );
                }
                UserCommand::SetPermissions { email, permissions } => {
                    let user = find(&db, &email).await?;
                    let account = users::set_grants(
                        &db,
                        &log,
                        remember_until,
                        user,
                        None,
                        Some(&permissions),
                    )
                    .await
                    .map_err(user_error)?;
                    println!(
                        "permissions of {}: [{}]",
                        account.user.email,
                        account.grants.permissions.join(", ")
                    );
                }
                UserCommand::Disable { email } => {
                    set_disabled(&db, recorder, &email, true).await?;
                }
                UserCommand::Enable { email } => {
                    set_disabled(&db, recorder, &email, false).await?;
                }
                UserCommand::RevokeSessions { email } => {
                    let user = find(&db, &email).await?;
                    let ended = admin::revoke_sessions(&db, recorder, user)
                        .await
                        .map_err(user_error)?;
                    println!("{ended} session(s) of {email} ended");
                }
            }
            db.close().await.ok();
            Ok(())
        }
    }
}

/// `user disable` / `user enable`.
async fn set_disabled(
    db: &sea_orm::DatabaseConnection,
    recorder: admin::Recorder<'_>,
    email: &str,
    disabled: bool,
) -> Result<(), StartupError> {
    let user = find(db, email).await?;
    let account = admin::set_disabled(db, recorder, user, disabled)
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    let state = if account.user.disabled {
        "disabled"
    } else {
        "enabled"
    };
    println!("{} is {state}", account.user.email);
    Ok(())
}

async fn find(db: &sea_orm::DatabaseConnection, email: &str) -> Result<i64, StartupError> {
    users::find_by_email(db, email)
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?
        .map(|u| u.id)
        .ok_or_else(|| StartupError::Other(format!("no user with email {:?}", email.trim())))
}

async fn serve(config: Config) -> Result<(), StartupError> {
    if config.key_is_ephemeral() {
        tracing::warn!(
            "JWT_SECRET_KEY is not set: using a random key for this process; every token dies when it stops"
        );
    }
    let playground = config.playground;
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, "listening");
    if playground {
        println!(
            "Warden listening on http://{addr}  (GraphQL and GraphiQL: http://{addr}/graphql)"
        );
    } else {
        println!("Warden listening on http://{addr}  (GraphQL: http://{addr}/graphql)");
    }
    app.run_until(startup::shutdown_signal())
        .await
        .map_err(|e| StartupError::Other(format!("server error: {e}")))
}
