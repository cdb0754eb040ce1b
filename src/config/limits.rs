//! The limits section: how large one GraphQL request may be — operations per batch, depth,
//! fields and aliases (`WARDEN_MAX_BATCH`, `WARDEN_MAX_DEPTH`, `WARDEN_MAX_COMPLEXITY`,
//! `WARDEN_MAX_ALIASES`) — and how much one user and one socket may hold open
//! (`WARDEN_WS_MAX_PER_USER`, `WARDEN_WS_MAX_OPERATIONS`).
//!
//! Its own module because these bounds are read by the GraphQL layer alone and have their own
//! rule: each a whole number of at least 1.

use super::{ConfigError, env::Env};

/// Per-request GraphQL limits, checked before execution (docs/reference.md, "Environment variables"; docs/reference.md, "Limits").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Operations per JSON batch (`WARDEN_MAX_BATCH`).
    pub max_batch: usize,
    /// Deepest field nesting per document (`WARDEN_MAX_DEPTH`; `{ me { id } }` is 2).
    pub max_depth: usize,
    /// Most fields per document, `__typename` included (`WARDEN_MAX_COMPLEXITY`).
    pub max_complexity: usize,
    /// Most aliased fields per document (`WARDEN_MAX_ALIASES`).
    pub max_aliases: usize,
    /// Open WebSocket connections per user (`WARDEN_WS_MAX_PER_USER`).
    pub ws_max_per_user: usize,
    /// Operations in flight on one WebSocket connection (`WARDEN_WS_MAX_OPERATIONS`).
    pub ws_max_operations: usize,
}

impl Default for LimitsConfig {
    /// The contract's defaults.
    fn default() -> Self {
        Self {
            max_batch: 10,
            max_depth: 15,
            max_complexity: 500,
            max_aliases: 50,
            ws_max_per_user: 16,
            ws_max_operations: 16,
        }
    }
}

impl LimitsConfig {
    /// Each limit from its variable (unset: the contract's default), in field order.
    pub(super) fn load(env: &Env<'_>) -> Result<Self, ConfigError> {
        let count = |name, default| env.number(name, default, 1, usize::MAX);
        let defaults = Self::default();
        Ok(Self {
            max_batch: count("WARDEN_MAX_BATCH", defaults.max_batch)?,
            max_depth: count("WARDEN_MAX_DEPTH", defaults.max_depth)?,
            max_complexity: count("WARDEN_MAX_COMPLEXITY", defaults.max_complexity)?,
            max_aliases: count("WARDEN_MAX_ALIASES", defaults.max_aliases)?,
            ws_max_per_user: count("WARDEN_WS_MAX_PER_USER", defaults.ws_max_per_user)?,
            ws_max_operations: count("WARDEN_WS_MAX_OPERATIONS", defaults.ws_max_operations)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::load;

    #[test]
    fn graphql_limits_default_to_the_contract_and_are_configurable() {
        let config = load(&[]).expect("loads");
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(
            (
                config.limits.max_batch,
                config.limits.max_depth,
                config.limits.max_complexity,
                config.limits.max_aliases
            ),
            (10, 15, 500, 50)
        );
        let config = load(&[
            ("WARDEN_MAX_BATCH", "1"),
            ("WARDEN_MAX_DEPTH", "8"),
            ("WARDEN_MAX_COMPLEXITY", "100"),
            ("WARDEN_MAX_ALIASES", "5"),
            ("WARDEN_WS_MAX_PER_USER", "2"),
            ("WARDEN_WS_MAX_OPERATIONS", "3"),
        ])
        .expect("loads");
        assert_eq!(
            config.limits,
            LimitsConfig {
                max_batch: 1,
                max_depth: 8,
                max_complexity: 100,
                max_aliases: 5,
                ws_max_per_user: 2,
                ws_max_operations: 3,
            }
        );
    }
}
