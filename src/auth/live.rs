//! Live session events: the event log fanned out to open connections.
//!
//! [`LiveEvents`] subscribes to the [`crate::events::EventLog`] like the revocation state
//! does, so an event reaches this instance's connections as soon as it reaches its guards:
//! at commit for its own changes, through the feed for every other instance's. Each event is
//! broadcast once (an instance sees its own events twice: at commit and from the feed), and
//! [`concerns`] decides whether it is about a given connection's token.
//!
//! Connections are counted per user, so one account cannot open unbounded sockets, and the
//! count is visible to tests and `/metrics`.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use tokio::sync::broadcast;

use crate::{
    auth::{state::RevocationState, tokens::Claims},
    error::AppError,
    events::{Change, Event, Subscriber},
};

/// Events buffered per receiver before a slow one is told it lagged.
const BROADCAST_CAPACITY: usize = 1_024;
/// Event ids remembered to drop the second sighting of an event.
const SEEN_CAPACITY: usize = 4_096;

/// What an event means for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The connection's session (or token) ended.
    SignedOut,
    /// The account was disabled or deleted.
    AccountDisabled,
    /// The user's grants changed; these are held now.
    GrantsChanged {
        /// Roles now held.
        roles: Vec<String>,
        /// Permissions now held.
        permissions: Vec<String>,
    },
}

impl Outcome {
    /// True when the connection must end after this event.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, Self::GrantsChanged { .. })
    }
}

/// Whether `event` is about the token `claims` (its session, its `jti`, or its user).
pub fn concerns(claims: &Claims, event: &Event) -> Option<Outcome> {
    let user_id = claims.user_id();
    match &event.change {
        Change::SessionRevoked { session_id, .. }
            if claims.sid.as_deref() == Some(session_id.as_str()) =>
        {
            Some(Outcome::SignedOut)
        }
        Change::JtiRevoked { jti, .. } if *jti == claims.jti => Some(Outcome::SignedOut),
        Change::UserDisabled { user_id: u } | Change::UserDeleted { user_id: u }
            if user_id == Some(*u) =>
        {
            Some(Outcome::AccountDisabled)
        }
        Change::GrantsChanged {
            user_id: u,
            roles,
            permissions,
            ..
        } if user_id == Some(*u) => Some(Outcome::GrantsChanged {
            roles: roles.clone(),
            permissions: permissions.clone(),
        }),
        _ => None,
    }
}

#[derive(Debug, Default)]
struct Seen {
    order: VecDeque<i64>,
    ids: HashSet<i64>,
}

impl Seen {
    /// Records `id`; false when it was seen already.
    fn first_sighting(&mut self, id: i64) -> bool {
        if !self.ids.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > SEEN_CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.ids.remove(&oldest);
        }
        true
    }
}

/// The fan-out of events to this instance's open connections.
#[derive(Debug)]
pub struct LiveEvents {
    sender: broadcast::Sender<Arc<Event>>,
    seen: Mutex<Seen>,
    connections: Mutex<HashMap<i64, usize>>,
    per_user: usize,
    state: Arc<RevocationState>,
}

impl LiveEvents {
    /// A fan-out allowing `per_user` open connections per user; `state` judges a connection's
    /// token when events were missed.
    pub fn new(per_user: usize, state: Arc<RevocationState>) -> Self {
        Self {
            sender: broadcast::channel(BROADCAST_CAPACITY).0,
            seen: Mutex::default(),
            connections: Mutex::default(),
            per_user,
            state,
        }
    }

    /// True when the revocation state refuses the token now (revoked, or its account
    /// disabled). A state that is merely not confirmed current does not end a connection.
    pub fn is_refused(&self, claims: &Claims) -> bool {
        matches!(self.state.check(claims), Err(AppError::TokenRevoked))
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.sender.subscribe()
    }

    /// The events about one token, from now on.
    pub fn watch(self: &Arc<Self>, claims: Claims) -> TokenEvents {
        TokenEvents {
            receiver: self.subscribe(),
            live: self.clone(),
            claims,
        }
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a connection slot for `user_id`; `None` when the user has as many open as
    /// allowed. The slot is freed when the returned value is dropped.
    pub fn open(self: &Arc<Self>, user_id: i64) -> Option<ConnectionSlot> {
        let mut connections = self.connections();
        let open = connections.entry(user_id).or_default();
        if *open >= self.per_user {
            return None;
        }
        *open += 1;
        let total: usize = connections.values().sum();
        drop(connections);
        #[allow(clippy::cast_precision_loss)]
        ::metrics::gauge!(crate::meter::LIVE_CONNECTIONS).set(total as f64);
        Some(ConnectionSlot {
            live: self.clone(),
            user_id,
        })
    }

    /// Open connections, over all users.
    pub fn open_connections(&self) -> usize {
        self.connections().values().sum()
    }
}

/// What happens to one token, as events arrive (see [`LiveEvents::watch`]).
#[derive(Debug)]
pub struct TokenEvents {
    receiver: broadcast::Receiver<Arc<Event>>,
    live: Arc<LiveEvents>,
    claims: Claims,
}

impl TokenEvents {
    /// The next outcome for the token; `None` once the fan-out is gone. A receiver too slow
    /// to keep up has missed events: the revocation state judges the token instead of them.
    /// Cancel-safe (the broadcast receive is), so it can race a timer in `select!`.
    pub async fn next(&mut self) -> Option<Outcome> {
        loop {
            match self.receiver.recv().await {
                Ok(event) => {
                    if let Some(outcome) = concerns(&self.claims, &event) {
                        return Some(outcome);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if self.live.is_refused(&self.claims) {
                        return Some(Outcome::SignedOut);
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// One open authenticated connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    live: Arc<LiveEvents>,
    user_id: i64,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut connections = self.live.connections();
        if let Some(open) = connections.get_mut(&self.user_id) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                connections.remove(&self.user_id);
            }
        }
        let total: usize = connections.values().sum();
        drop(connections);
        #[allow(clippy::cast_precision_loss)]
        ::metrics::gauge!(crate::meter::LIVE_CONNECTIONS).set(total as f64);
    }
}

impl Subscriber for LiveEvents {
    fn apply(&self, events: &[Event]) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            if seen.first_sighting(event.id) {
                // No receiver is not an error: nobody is connected.
                self.sender.send(Arc::new(event.clone())).ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestClaims;

    fn claims() -> Claims {
        TestClaims::access(7).jti("j1").sid(Some("s1")).claims()
    }

    fn event(id: i64, change: Change) -> Event {
        Event {
            id,
            change,
            expires_at: i64::MAX,
            created_at_ms: 0,
        }
    }

    #[test]
    fn events_concern_the_token_of_their_session_jti_or_user_only() {
        let c = claims();
        let revoked = |sid: &str| Change::SessionRevoked {
            session_id: sid.into(),
            user_id: 7,
        };
        assert_eq!(
            concerns(&c, &event(1, revoked("s1"))),
            Some(Outcome::SignedOut)
        );
        assert_eq!(concerns(&c, &event(2, revoked("s2"))), None);
        let jti = Change::JtiRevoked {
            jti: "j1".into(),
            user_id: Some(7),
            until: i64::MAX,
        };
        assert_eq!(concerns(&c, &event(3, jti)), Some(Outcome::SignedOut));
        assert_eq!(
            concerns(&c, &event(4, Change::UserDisabled { user_id: 7 })),
            Some(Outcome::AccountDisabled)
        );
        assert_eq!(
            concerns(&c, &event(5, Change::UserDisabled { user_id: 8 })),
            None
        );
    }

    #[tokio::test]
    async fn each_event_is_broadcast_once_and_slots_are_freed_on_drop() {
        let state = Arc::new(RevocationState::new(std::time::Duration::from_secs(1)));
        let live = Arc::new(LiveEvents::new(2, state));
        let mut rx = live.subscribe();
        let e = event(9, Change::ProfileChanged { user_id: 7 });
        live.apply(std::slice::from_ref(&e));
        live.apply(std::slice::from_ref(&e));
        assert_eq!(rx.recv().await.expect("event").id, 9);
        assert!(rx.try_recv().is_err(), "the second sighting is dropped");

        let a = live.open(7).expect("first");
        let b = live.open(7).expect("second");
        assert!(live.open(7).is_none(), "two per user");
        assert!(live.open(8).is_some(), "others are not affected");
        assert_eq!(live.open_connections(), 2);
        drop((a, b));
        assert_eq!(live.open_connections(), 0);
    }
}
