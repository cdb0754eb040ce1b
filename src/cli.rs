//! The `warden` command line (clap): serve, migrate, schema, and user administration.

use std::{io::BufRead, sync::Arc};

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::{
    accounts::Accounts,
    auth::audit,
    config::Config,
    events::{EventLog, Horizon},
    profiles::ProfileCache,
    startup::{self, Application, StartupError},
    users::NewUser,
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
    /// List accounts: id, email, name, grants, disabled.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete an account: its tokens die at once (the last enabled admin cannot be deleted).
    Delete {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Clear an account's failed-login count, on every running instance too.
    Unlock {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// The operator's break-glass: set an account's password (read from standard input; the
    /// password policy applies) and end every session of the account.
    SetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (never from the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
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
            let config = Config::for_administration()?;
            startup::open_and_migrate(&config.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(command) => {
            let config = Config::for_administration()?;
            let db = startup::open_and_migrate(&config.database_url).await?;
            // Changes are logged as events (no subscribers here): running servers tail them.
            let log = EventLog::new(
                Vec::new(),
                Horizon::new(
                    config.jwt.access_ttl,
                    i64::try_from(config.jwt.leeway).unwrap_or(i64::MAX),
                ),
            );
            let accounts = Accounts::new(
                db.clone(),
                log,
                crate::password::Passwords::new(&config.login),
                Arc::new(ProfileCache::default()),
            );

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
                    let account = accounts
                        .create(NewUser {
                            email: args.email,
                            password,
                            name,
                            roles: args.roles,
                            permissions: args.permissions,
                        })
                        .await
                        .map_err(user_error)?;
                    let grants =
                        audit::grants_detail(&account.grants.roles, &account.grants.permissions);
                    cli_log("user_created", account.user.id, Some(&grants));
                    println!("created user {} <{}>", account.user.id, account.user.email);
                }
                UserCommand::SetRoles { email, roles } => {
                    let user = find(&accounts, &email).await?;
                    let account = accounts
                        .set_grants(user, Some(&roles), None)
                        .await
                        .map_err(user_error)?;
                    let grants =
                        audit::grants_detail(&account.grants.roles, &account.grants.permissions);
                    cli_log("grants_changed", user, Some(&grants));
                    println!(
                        "roles of {}: [{}]",
                        account.user.email,
                        account.grants.roles.join(", ")
                    );
                }
                UserCommand::SetPermissions { email, permissions } => {
                    let user = find(&accounts, &email).await?;
                    let account = accounts
                        .set_grants(user, None, Some(&permissions))
                        .await
                        .map_err(user_error)?;
                    let grants =
                        audit::grants_detail(&account.grants.roles, &account.grants.permissions);
                    cli_log("grants_changed", user, Some(&grants));
                    println!(
                        "permissions of {}: [{}]",
                        account.user.email,
                        account.grants.permissions.join(", ")
                    );
                }
                UserCommand::Disable { email } => {
                    set_disabled(&accounts, &email, true).await?;
                }
                UserCommand::Enable { email } => {
                    set_disabled(&accounts, &email, false).await?;
                }
                UserCommand::RevokeSessions { email } => {
                    let user = find(&accounts, &email).await?;
                    let ended = accounts.revoke_sessions(user).await.map_err(user_error)?;
                    cli_log("sessions_revoked", user, Some(&format!("ended={ended}")));
                    println!("{ended} session(s) of {email} ended");
                }
                UserCommand::List { json } => list(&accounts, json).await?,
                UserCommand::Unlock { email } => {
                    let user = find(&accounts, &email).await?;
                    let cleared = accounts.unlock(user).await.map_err(user_error)?;
                    cli_log(
                        "account_unlocked",
                        user,
                        Some(&format!("cleared={cleared}")),
                    );
                    println!(
                        "{} unlocked ({cleared} failed attempt(s) cleared)",
                        email.trim()
                    );
                }
                UserCommand::Delete { email } => {
                    let user = find(&accounts, &email).await?;
                    accounts.delete(user).await.map_err(user_error)?;
                    cli_log("user_deleted", user, None);
                    println!("deleted {}", email.trim());
                }
                UserCommand::SetPassword { email, .. } => {
                    let user = find(&accounts, &email).await?;
                    let password = read_password_line()?;
                    let ended = accounts
                        .set_password(user, password)
                        .await
                        .map_err(user_error)?;
                    cli_log("password_set", user, Some(&format!("ended={ended}")));
                    println!("password of {} set; {ended} session(s) ended", email.trim());
                }
            }
            db.close().await.ok();
            Ok(())
        }
    }
}

/// A change made at the command line, in the security log: by `cli`, with no client address.
fn cli_log(event: &'static str, account: i64, detail: Option<&str>) {
    let entry = audit::Entry::new(event, "ok", audit::Actor::Cli)
        .account(account)
        .detail(detail);
    audit::record(entry, &crate::auth::Client::default());
}

/// `user disable` / `user enable`.
async fn set_disabled(
    accounts: &Accounts,
    email: &str,
    disabled: bool,
) -> Result<(), StartupError> {
    let user = find(accounts, email).await?;
    let account = accounts
        .set_disabled(user, disabled)
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?;
    let (state, event) = if account.user.disabled {
        ("disabled", "user_disabled")
    } else {
        ("enabled", "user_enabled")
    };
    cli_log(event, user, None);
    println!("{} is {state}", account.user.email);
    Ok(())
}

/// `user list`: every account, a page at a time, as a table or JSON Lines.
async fn list(accounts: &Accounts, json: bool) -> Result<(), StartupError> {
    const PAGE: u64 = 500;
    let mut after = None;
    if !json {
        println!(
            "{:>6}  {:<32} {:<20} {:<8} {:<20} PERMISSIONS",
            "ID", "EMAIL", "NAME", "DISABLED", "ROLES"
        );
    }
    loop {
        let page = accounts
            .page(after, PAGE)
            .await
            .map_err(|e| StartupError::Other(e.to_string()))?;
        for account in &page {
            let user = &account.user;
            if json {
                let line = serde_json::json!({
                    "id": user.id,
                    "email": user.email,
                    "name": user.name,
                    "roles": account.grants.roles,
                    "permissions": account.grants.permissions,
                    "disabled": user.disabled,
                    "created_at": user.created_at.unix_timestamp(),
                });
                println!("{line}");
            } else {
                println!(
                    "{:>6}  {:<32} {:<20} {:<8} {:<20} {}",
                    user.id,
                    user.email,
                    user.name,
                    if user.disabled { "yes" } else { "no" },
                    account.grants.roles.join(","),
                    account.grants.permissions.join(",")
                );
            }
        }
        match page.last() {
            Some(last) if page.len() as u64 == PAGE => after = Some(last.user.id),
            _ => return Ok(()),
        }
    }
}

async fn find(accounts: &Accounts, email: &str) -> Result<i64, StartupError> {
    accounts
        .find_by_email(email)
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?
        .map(|u| u.id)
        .ok_or_else(|| StartupError::Other(format!("no user with email {:?}", email.trim())))
}

/// The start-up line on standard output: the address to open. A JSON object under
/// `WARDEN_LOG_FORMAT=json`, so that a log shipper reading the output finds no plain line; it
/// is printed whatever `RUST_LOG` filters, since operators and scripts look for it.
fn print_listening(addr: std::net::SocketAddr, playground: bool) {
    let what = if playground {
        "GraphQL and GraphiQL"
    } else {
        "GraphQL"
    };
    match crate::config::LogFormat::from_env() {
        Ok(crate::config::LogFormat::Json) => {
            let timestamp = time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            let line = serde_json::json!({
                "timestamp": timestamp,
                "level": "INFO",
                "target": "warden",
                "fields": {
                    "message": format!("Warden listening on http://{addr}"),
                    "address": format!("http://{addr}"),
                    "graphql": format!("http://{addr}/graphql"),
                    "graphiql": playground,
                },
            });
            println!("{line}");
        }
        _ => println!("Warden listening on http://{addr}  ({what}: http://{addr}/graphql)"),
    }
}

async fn serve(config: Config) -> Result<(), StartupError> {
    let set: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for warning in config.warnings(set.iter().map(String::as_str)) {
        tracing::warn!("{warning}");
    }
    if config.key_is_ephemeral() {
        tracing::warn!(
            "JWT_SECRET_KEY is not set: using a random key for this process; every token dies when it stops"
        );
    }
    let playground = config.playground;
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    print_listening(addr, playground);
    app.run_until(startup::shutdown_signal())
        .await
        .map_err(|e| StartupError::Other(format!("server error: {e}")))
}
