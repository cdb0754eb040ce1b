//! The subscription root: `sessionEvents`, live news about the caller's session and account.
//!
//! The stream reads the instance's event fan-out ([`crate::auth::live`]) and keeps what
//! concerns the connection's token: `SIGNED_OUT` when its session ends, `ACCOUNT_DISABLED`
//! when the account is disabled or deleted (after either the stream completes and the socket
//! closes with 4401), `GRANTS_CHANGED` with the grants now held, and `ACCESS_TOKEN_EXPIRING`
//! once, 60 s before the token expires (at expiry the stream completes and the socket closes).

use std::{sync::Arc, time::Duration};

use async_graphql::{Context, Enum, ID, Result, SimpleObject, Subscription};
use futures_util::Stream;
use time::OffsetDateTime;

use crate::{
    auth::live::Outcome,
    clock::now_secs,
    graphql::{guards, state::ApiState},
};

/// How long before expiry `ACCESS_TOKEN_EXPIRING` is sent.
const EXPIRY_WARNING_SECS: i64 = 60;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum SessionEventKind {
    /// The connection's session ended (logout here or elsewhere, revocation, reuse, password
    /// change).
    SignedOut,
    /// The user's grants changed: refresh to get a token that carries them.
    GrantsChanged,
    /// The connection's access token expires in 60 seconds.
    AccessTokenExpiring,
    /// The account was disabled or deleted.
    AccountDisabled,
}

/// One live event about the caller's session or account.
#[derive(Debug, Clone, SimpleObject)]
pub struct SessionEvent {
    /// What happened.
    pub kind: SessionEventKind,
    /// When this instance learnt of it.
    pub at: OffsetDateTime,
    /// The session concerned.
    pub session_id: Option<ID>,
    /// `GRANTS_CHANGED`: the roles now held.
    pub roles: Option<Vec<String>>,
    /// `GRANTS_CHANGED`: the permissions now held.
    pub permissions: Option<Vec<String>>,
    /// `ACCESS_TOKEN_EXPIRING`: when the connection's token expires.
    pub expires_at: Option<OffsetDateTime>,
}

impl SessionEvent {
    fn new(kind: SessionEventKind, session_id: Option<&str>) -> Self {
        let label = match kind {
            SessionEventKind::SignedOut => "SIGNED_OUT",
            SessionEventKind::GrantsChanged => "GRANTS_CHANGED",
            SessionEventKind::AccessTokenExpiring => "ACCESS_TOKEN_EXPIRING",
            SessionEventKind::AccountDisabled => "ACCOUNT_DISABLED",
        };
        ::metrics::counter!(crate::meter::LIVE_EVENTS, "kind" => label).increment(1);
        Self {
            kind,
            at: OffsetDateTime::now_utc(),
            session_id: session_id.map(|s| ID(s.to_owned())),
            roles: None,
            permissions: None,
            expires_at: None,
        }
    }

    fn from_outcome(outcome: Outcome, session_id: Option<&str>) -> Self {
        match outcome {
            Outcome::SignedOut => Self::new(SessionEventKind::SignedOut, session_id),
            Outcome::AccountDisabled => Self::new(SessionEventKind::AccountDisabled, session_id),
            Outcome::GrantsChanged { roles, permissions } => Self {
                roles: Some(roles),
                permissions: Some(permissions),
                ..Self::new(SessionEventKind::GrantsChanged, session_id)
            },
        }
    }
}

/// Asks the connection to close with 4401 once the subscription's `complete` is out. The
/// transport puts one into each WebSocket connection's data.
pub trait CloseConnection: Send + Sync {
    /// The connection must end: its token is no longer valid.
    fn close(&self);
}

/// The subscription root.
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Events about the caller's session and account, for as long as the token is valid.
    ///
    /// Requires: access token
    #[graphql(directive = guards::authenticated::apply())]
    async fn session_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = SessionEvent> + use<>> {
        // Subscription fields do not pass through the resolve hook that runs the directive
        // guards: run the same requirement here.
        let claims = guards::access_claims(ctx)?.clone();
        let state = ctx.data::<ApiState>()?;
        let live = state.live.clone();
        let close = ctx.data_opt::<Arc<dyn CloseConnection>>().cloned();
        let mut events = live.watch(claims.clone());
        let sid = claims.sid.clone();
        Ok(async_stream::stream! {
            let end = |close: &Option<Arc<dyn CloseConnection>>| {
                if let Some(close) = close {
                    close.close();
                }
            };
            // Something may have happened between authentication and this subscription.
            if live.is_refused(&claims) {
                yield SessionEvent::new(SessionEventKind::SignedOut, sid.as_deref());
                end(&close);
                return;
            }
            let mut warned = false;
            loop {
                let now = now_secs();
                if now >= claims.exp {
                    end(&close);
                    return;
                }
                let warn_at = claims.exp - EXPIRY_WARNING_SECS;
                if !warned && now >= warn_at {
                    warned = true;
                    yield SessionEvent {
                        expires_at: OffsetDateTime::from_unix_timestamp(claims.exp).ok(),
                        ..SessionEvent::new(SessionEventKind::AccessTokenExpiring, sid.as_deref())
                    };
                    continue;
                }
                let wake_at = if warned { claims.exp } else { warn_at };
                let wait = Duration::from_secs(u64::try_from(wake_at - now).unwrap_or(0));
                tokio::select! {
                    outcome = events.next() => match outcome {
                        Some(outcome) => {
                            let terminal = outcome.is_terminal();
                            yield SessionEvent::from_outcome(outcome, sid.as_deref());
                            if terminal {
                                end(&close);
                                return;
                            }
                        }
                        None => return,
                    },
                    () = tokio::time::sleep(wait) => {}
                }
            }
        })
    }
}
