//! What the guards need to know about revocation, held in memory: revoked `jti`s, revoked
//! sessions, and the latest grants of users whose grants changed. A valid token is then
//! judged without a database round trip.
//!
//! The state is fed by the event log ([`crate::events`]): loaded at start, updated at once by
//! this instance's own commits, and tailed by [`crate::events::Feed`] for everyone else's. It
//! is only as good as its last confirmation: when the feed has not confirmed it current
//! within `WARDEN_REVOCATION_MAX_LAG`, every check fails closed (`SERVICE_UNAVAILABLE`) until
//! the feed catches up again.
//!
//! Memory is bounded by the revocations within one access lifetime (the log's horizon): each
//! entry is dropped once no access token it could affect can still be valid. Disabled accounts
//! are the exception: a token for a disabled account (minted by a Flask app sharing the key)
//! can be minted at any time, so the account is held for as long as it stays disabled. They
//! are few, and known from the accounts table at start ([`RevocationState::hold_disabled`]),
//! so a restart, or an event pruned from the log, does not forget them.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use crate::{
    auth::tokens::Claims,
    clock::now_secs,
    error::AppError,
    events::{Change, Event, Lag, Subscriber},
    users::Grants,
};

/// The latest grants of a user whose grants changed recently.
#[derive(Debug, Clone)]
struct GrantsMark {
    version: i64,
    grants: Arc<Grants>,
    until: i64,
}

/// Whether a user's tokens are refused as a whole, as of one log position.
#[derive(Debug, Clone, Copy)]
struct AccountMark {
    /// The log position of the change: an older change arriving later (the feed re-reading
    /// what this instance already applied at commit) must not undo a newer one. 0 for what
    /// the accounts table said at start, which any event in the log may overrule.
    id: i64,
    blocked: bool,
    /// Disabled: kept until the account is enabled again, whatever `until` says.
    held: bool,
    until: i64,
}

#[derive(Debug, Default)]
struct Entries {
    /// User id → whether the account is disabled or deleted.
    accounts: HashMap<i64, AccountMark>,
    /// `jti` → until (Unix seconds).
    jtis: HashMap<String, i64>,
    /// Session id → until.
    sessions: HashMap<String, i64>,
    /// User id → latest grants.
    grants: HashMap<i64, GrantsMark>,
}

/// In-memory revocation state of one instance.
#[derive(Debug)]
pub struct RevocationState {
    entries: RwLock<Entries>,
    /// Whether the log this state follows is confirmed read (the feed confirms it).
    lag: Arc<Lag>,
}

/// What the state says about a token that is not revoked.
#[derive(Debug, Clone, Default)]
pub struct TokenStanding {
    /// The user's grants now, when they changed since the token was made.
    pub current_grants: Option<Arc<Grants>>,
}

impl RevocationState {
    /// An empty state that counts as current for no longer than `max_lag` after each
    /// confirmation. It starts unconfirmed.
    pub fn new(max_lag: Duration) -> Self {
        Self {
            entries: RwLock::default(),
            lag: Arc::new(Lag::new(max_lag)),
        }
    }

    /// The lag handle the feed confirms.
    pub fn lag(&self) -> Arc<Lag> {
        self.lag.clone()
    }

    /// Records that the state reflected every committed event as of `at` (tests; the feed
    /// confirms through [`Self::lag`]).
    pub fn confirm(&self, at: Instant) {
        self.lag.confirm(at);
    }

    /// True when the state may be acted on.
    pub fn is_current(&self) -> bool {
        self.lag.is_current()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Judges a verified token: revoked by `jti` or session, or standing (with the current
    /// grants when they changed since it was made).
    ///
    /// # Errors
    /// `TOKEN_REVOKED`; `SERVICE_UNAVAILABLE` when the state is not confirmed current.
    pub fn check(&self, claims: &Claims) -> Result<TokenStanding, AppError> {
        if !self.is_current() {
            return Err(AppError::Lagging);
        }
        let entries = self.read();
        if entries.jtis.contains_key(&claims.jti) {
            return Err(AppError::TokenRevoked);
        }
        if let Some(user_id) = claims.user_id()
            && entries.accounts.get(&user_id).is_some_and(|a| a.blocked)
        {
            return Err(AppError::TokenRevoked);
        }
        if let Some(sid) = &claims.sid
            && entries.sessions.contains_key(sid)
        {
            return Err(AppError::TokenRevoked);
        }
        let current_grants = claims
            .user_id()
            .and_then(|user_id| entries.grants.get(&user_id))
            // A token minted elsewhere carries no grants version: judge it by the current
            // grants whenever they changed within the window.
            .filter(|mark| claims.gv.is_none_or(|gv| gv < mark.version))
            .map(|mark| mark.grants.clone());
        Ok(TokenStanding { current_grants })
    }

    /// Drops entries that no valid token can be affected by any more.
    pub fn prune(&self, now: i64) {
        let mut entries = self.write();
        entries.jtis.retain(|_, until| *until >= now);
        entries.sessions.retain(|_, until| *until >= now);
        entries.grants.retain(|_, mark| mark.until >= now);
        entries
            .accounts
            .retain(|_, mark| mark.held || mark.until >= now);
    }

    /// Holds the accounts the accounts table says are disabled (at start, before the log is
    /// read: any event in the log is newer and overrules it).
    pub fn hold_disabled(&self, user_ids: impl IntoIterator<Item = i64>) {
        let mut entries = self.write();
        for user_id in user_ids {
            entries.accounts.entry(user_id).or_insert(AccountMark {
                id: 0,
                blocked: true,
                held: true,
                until: i64::MAX,
            });
        }
    }

    /// How many accounts are refused as a whole (disabled or deleted), for tests.
    pub fn blocked_accounts(&self) -> usize {
        self.read().accounts.values().filter(|m| m.blocked).count()
    }

    /// How many entries are held (jtis, sessions, grants), for metrics and tests.
    pub fn len(&self) -> (usize, usize, usize) {
        let entries = self.read();
        (
            entries.jtis.len(),
            entries.sessions.len(),
            entries.grants.len(),
        )
    }
}

impl Subscriber for RevocationState {
    fn prune(&self, now: i64) {
        RevocationState::prune(self, now);
    }

    fn apply(&self, events: &[Event]) {
        let now = now_secs();
        let mut entries = self.write();
        // An account's state applies however old its event: a disable must hold until an
        // enable, and ids keep them in order.
        let matters = |e: &&Event| {
            e.expires_at >= now
                || matches!(
                    e.change,
                    Change::UserDisabled { .. } | Change::UserEnabled { .. }
                )
        };
        for event in events.iter().filter(matters) {
            match &event.change {
                Change::JtiRevoked { jti, .. } => {
                    entries.jtis.insert(jti.clone(), event.expires_at);
                }
                Change::SessionRevoked { session_id, .. } => {
                    entries
                        .sessions
                        .insert(session_id.clone(), event.expires_at);
                }
                Change::GrantsChanged {
                    user_id,
                    version,
                    roles,
                    permissions,
                } => {
                    let newer = entries
                        .grants
                        .get(user_id)
                        .is_none_or(|mark| mark.version < *version);
                    if newer {
                        entries.grants.insert(
                            *user_id,
                            GrantsMark {
                                version: *version,
                                grants: Arc::new(Grants {
                                    roles: roles.clone(),
                                    permissions: permissions.clone(),
                                }),
                                until: event.expires_at,
                            },
                        );
                    }
                }
                Change::UserDisabled { user_id }
                | Change::UserEnabled { user_id }
                | Change::UserDeleted { user_id } => {
                    let newer = entries
                        .accounts
                        .get(user_id)
                        .is_none_or(|mark| mark.id < event.id);
                    if newer {
                        let blocked = !matches!(event.change, Change::UserEnabled { .. });
                        entries.accounts.insert(
                            *user_id,
                            AccountMark {
                                id: event.id,
                                blocked,
                                held: matches!(event.change, Change::UserDisabled { .. }),
                                until: event.expires_at,
                            },
                        );
                    }
                }
                Change::ProfileChanged { .. } | Change::AccountUnlocked { .. } => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestClaims;

    fn claims(jti: &str, sid: Option<&str>, gv: Option<i64>) -> Claims {
        TestClaims::access(7)
            .jti(jti)
            .sid(sid)
            .grants_version(gv)
            .roles(&["admin"])
            .claims()
    }

    fn event(id: i64, change: Change) -> Event {
        Event {
            id,
            change,
            expires_at: now_secs() + 60,
            created_at_ms: 0,
        }
    }

    fn current_state() -> RevocationState {
        let state = RevocationState::new(Duration::from_secs(1));
        state.confirm(Instant::now());
        state
    }

    #[test]
    fn an_unconfirmed_or_stale_state_fails_closed() {
        let state = RevocationState::new(Duration::from_millis(50));
        let token = claims("a", None, Some(0));
        assert!(matches!(state.check(&token), Err(AppError::Lagging)));
        state.confirm(Instant::now());
        assert!(state.check(&token).is_ok());
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(state.check(&token), Err(AppError::Lagging)));
        state.confirm(Instant::now());
        assert!(state.check(&token).is_ok(), "recovers without a restart");
    }

    #[test]
    fn revoked_jtis_and_sessions_are_refused() {
        let state = current_state();
        state.apply(&[
            event(
                1,
                Change::JtiRevoked {
                    jti: "gone".into(),
                    user_id: Some(7),
                    until: i64::MAX,
                },
            ),
            event(
                2,
                Change::SessionRevoked {
                    session_id: "s1".into(),
                    user_id: 7,
                },
            ),
        ]);
        assert!(matches!(
            state.check(&claims("gone", None, Some(0))),
            Err(AppError::TokenRevoked)
        ));
        assert!(matches!(
            state.check(&claims("other", Some("s1"), Some(0))),
            Err(AppError::TokenRevoked)
        ));
        assert!(state.check(&claims("other", Some("s2"), Some(0))).is_ok());
    }

    #[test]
    fn grants_versions_decide_staleness_not_timestamps() {
        let state = current_state();
        let change = |version: i64, roles: &[&str]| Change::GrantsChanged {
            user_id: 7,
            version,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            permissions: vec![],
        };
        state.apply(&[event(1, change(3, &[]))]);
        let stale = state.check(&claims("a", None, Some(2))).expect("standing");
        assert_eq!(stale.current_grants.expect("stale").roles.len(), 0);
        let current = state.check(&claims("b", None, Some(3))).expect("standing");
        assert!(current.current_grants.is_none());
        let foreign = state.check(&claims("c", None, None)).expect("standing");
        assert!(foreign.current_grants.is_some(), "no version: judged now");
        // An older version arriving late (own commit, then the feed) changes nothing.
        state.apply(&[event(1, change(2, &["admin"]))]);
        let still = state.check(&claims("d", None, Some(2))).expect("standing");
        assert!(still.current_grants.expect("stale").roles.is_empty());
    }

    #[test]
    fn a_disabled_account_is_refused_until_enabled_whatever_order_events_arrive_in() {
        let state = current_state();
        let token = claims("t", None, Some(0));
        state.apply(&[event(5, Change::UserDisabled { user_id: 7 })]);
        assert!(matches!(state.check(&token), Err(AppError::TokenRevoked)));
        // An older enable read late from the feed does not undo the newer disable.
        state.apply(&[event(4, Change::UserEnabled { user_id: 7 })]);
        assert!(matches!(state.check(&token), Err(AppError::TokenRevoked)));
        state.apply(&[event(6, Change::UserEnabled { user_id: 7 })]);
        assert!(state.check(&token).is_ok());
        state.apply(&[event(7, Change::UserDeleted { user_id: 7 })]);
        assert!(matches!(state.check(&token), Err(AppError::TokenRevoked)));
    }

    #[test]
    fn a_disabled_account_is_held_past_its_events_horizon_until_enabled() {
        let state = current_state();
        let token = claims("t", None, Some(0));
        let mut disabled = event(5, Change::UserDisabled { user_id: 7 });
        disabled.expires_at = now_secs() - 10;
        let mut deleted = event(6, Change::UserDeleted { user_id: 8 });
        deleted.expires_at = now_secs() + 1;
        state.apply(&[disabled, deleted]);
        state.prune(now_secs() + 2);
        assert!(matches!(state.check(&token), Err(AppError::TokenRevoked)));
        assert_eq!(
            state.blocked_accounts(),
            1,
            "the deleted account's mark expired"
        );
        let mut enabled = event(9, Change::UserEnabled { user_id: 7 });
        enabled.expires_at = now_secs() + 1;
        state.apply(&[enabled]);
        assert!(state.check(&token).is_ok());
        state.prune(now_secs() + 2);
        assert!(state.check(&token).is_ok());
    }

    #[test]
    fn accounts_disabled_at_start_are_held_unless_the_log_says_otherwise() {
        let state = current_state();
        state.hold_disabled([7, 8]);
        state.apply(&[event(3, Change::UserEnabled { user_id: 8 })]);
        state.prune(now_secs() + 3600);
        assert!(matches!(
            state.check(&claims("t", None, Some(0))),
            Err(AppError::TokenRevoked)
        ));
        let other = TestClaims::access(8)
            .jti("u")
            .grants_version(Some(0))
            .claims();
        assert!(
            state.check(&other).is_ok(),
            "a newer enable overrules the table"
        );
    }

    #[test]
    fn entries_are_dropped_once_no_token_can_need_them() {
        let state = current_state();
        let mut old = event(
            1,
            Change::JtiRevoked {
                jti: "old".into(),
                user_id: None,
                until: i64::MAX,
            },
        );
        old.expires_at = now_secs() + 1;
        state.apply(&[old]);
        assert_eq!(state.len(), (1, 0, 0));
        state.prune(now_secs() + 2);
        assert_eq!(state.len(), (0, 0, 0));
    }
}
