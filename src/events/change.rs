//! What can change about tokens and accounts, as the guards see it.

/// A change, as the guards see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// One token (by `jti`) is refused from now on.
    JtiRevoked {
        /// The token id.
        jti: String,
        /// Its user, when it is one of ours.
        user_id: Option<i64>,
        /// Until when (Unix seconds) the revocation matters in memory: an access token's
        /// `exp` plus the leeway (a token minted elsewhere may live longer than ours), or the
        /// log's horizon for a refresh token, which is judged against the database anyway.
        until: i64,
    },
    /// Every token of a session is refused from now on.
    SessionRevoked {
        /// The session.
        session_id: String,
        /// Its user.
        user_id: i64,
    },
    /// A user's grants changed; tokens with an older grants version keep only what the user
    /// still holds.
    GrantsChanged {
        /// The user.
        user_id: i64,
        /// The new grants version.
        version: i64,
        /// Roles now held.
        roles: Vec<String>,
        /// Permissions now held.
        permissions: Vec<String>,
    },
    /// A user's profile (name, email) changed: caches drop it.
    ProfileChanged {
        /// The user.
        user_id: i64,
    },
    /// An account was disabled: every token of the user is refused until it is enabled again
    /// (its sessions were ended by the same transaction, so only tokens minted later work).
    UserDisabled {
        /// The user.
        user_id: i64,
    },
    /// A disabled account was enabled again.
    UserEnabled {
        /// The user.
        user_id: i64,
    },
    /// An account was deleted: every token of the user is refused.
    UserDeleted {
        /// The user.
        user_id: i64,
    },
    /// An operator cleared an account's failed-login count: every instance forgets the
    /// failures it counted in memory for it too.
    AccountUnlocked {
        /// The user.
        user_id: i64,
        /// The account's login-limit key (its normalised email).
        account: String,
    },
}

impl Change {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::JtiRevoked { .. } => "jti_revoked",
            Self::SessionRevoked { .. } => "session_revoked",
            Self::GrantsChanged { .. } => "grants_changed",
            Self::ProfileChanged { .. } => "profile_changed",
            Self::UserDisabled { .. } => "user_disabled",
            Self::UserEnabled { .. } => "user_enabled",
            Self::UserDeleted { .. } => "user_deleted",
            Self::AccountUnlocked { .. } => "account_unlocked",
        }
    }

    /// The changes for ended sessions of one user.
    pub fn sessions_revoked(user_id: i64, ids: impl IntoIterator<Item = String>) -> Vec<Self> {
        ids.into_iter()
            .map(|session_id| Self::SessionRevoked {
                session_id,
                user_id,
            })
            .collect()
    }

    /// The user the change is about, if known.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::JtiRevoked { user_id, .. } => *user_id,
            Self::SessionRevoked { user_id, .. }
            | Self::GrantsChanged { user_id, .. }
            | Self::ProfileChanged { user_id }
            | Self::UserDisabled { user_id }
            | Self::UserEnabled { user_id }
            | Self::UserDeleted { user_id }
            | Self::AccountUnlocked { user_id, .. } => Some(*user_id),
        }
    }
}
