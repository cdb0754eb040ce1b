//! The security log: one line per security-relevant event (target `warden::security`), written
//! by this one function whether the event came through the API or the command line.
//!
//! Each line says what happened and how it ended, who acted (a user id, or `cli`), the account
//! concerned when it exists, the session, the client address and the request id. Never a
//! password, a token or a one-time link: no caller has one to give.

use super::Client;

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user, by id.
    User(i64),
    /// Nobody signed in (a login, a sign-up).
    Anonymous,
    /// An operator at the command line.
    Cli,
}

impl Actor {
    /// The actor of a request: the user its token names, if any.
    pub fn of(user_id: Option<i64>) -> Self {
        user_id.map_or(Self::Anonymous, Self::User)
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(id) => write!(f, "{id}"),
            Self::Anonymous => f.write_str("-"),
            Self::Cli => f.write_str("cli"),
        }
    }
}

/// One event: what, how it ended, by whom, about which account and session.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    /// What happened (`login`, `logout`, `user_disabled`, …).
    pub event: &'static str,
    /// How it ended (`ok`, `failed`, `rate_limited`, `ended`, …); anything but `ok` and
    /// `ended` is logged as a warning.
    pub outcome: &'static str,
    /// Who acted.
    pub by: Actor,
    /// The account concerned, when it exists.
    pub account: Option<i64>,
    /// The session concerned.
    pub session: Option<&'a str>,
    /// Anything else worth a field (the grants now held, how many sessions ended); never a
    /// secret.
    pub detail: Option<&'a str>,
}

impl<'a> Entry<'a> {
    /// An event with its outcome, by `by`, about nothing yet.
    pub fn new(event: &'static str, outcome: &'static str, by: Actor) -> Self {
        Self {
            event,
            outcome,
            by,
            account: None,
            session: None,
            detail: None,
        }
    }

    /// About `account`.
    #[must_use]
    pub fn account(self, account: impl Into<Option<i64>>) -> Self {
        Self {
            account: account.into(),
            ..self
        }
    }

    /// About `session`.
    #[must_use]
    pub fn session(self, session: Option<&'a str>) -> Self {
        Self { session, ..self }
    }

    /// With `detail`, when there is one.
    #[must_use]
    pub fn detail(self, detail: impl Into<Option<&'a str>>) -> Self {
        Self {
            detail: detail.into(),
            ..self
        }
    }
}

/// Writes `entry`, from `client` (the command line's client has no address).
pub fn record(entry: Entry<'_>, client: &Client) {
    let Entry {
        event,
        outcome,
        by,
        account,
        session,
        detail,
    } = entry;
    let by = tracing::field::display(by);
    let client_ip = client.ip.map(tracing::field::display);
    let request_id = client.request_id.as_deref();
    if matches!(outcome, "ok" | "ended") {
        tracing::info!(target: "warden::security", event, outcome, by, user_id = account, session_id = session, detail, client_ip, request_id);
    } else {
        tracing::warn!(target: "warden::security", event, outcome, by, user_id = account, session_id = session, detail, client_ip, request_id);
    }
}

/// The grants an account now holds, as a log detail.
pub fn grants_detail(roles: &[String], permissions: &[String]) -> String {
    format!(
        "roles=[{}] permissions=[{}]",
        roles.join(","),
        permissions.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_print_as_the_log_names_them() {
        assert_eq!(Actor::User(7).to_string(), "7");
        assert_eq!(Actor::Cli.to_string(), "cli");
        assert_eq!(Actor::of(None), Actor::Anonymous);
        assert_eq!(Actor::of(Some(3)), Actor::User(3));
    }
}
