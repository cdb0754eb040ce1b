//! `auth_events`: the log of changes that can kill or weaken a token (revocations, grant
//! changes, profile changes), in commit order. Every instance tails it to keep its in-memory
//! revocation state current; rows are pruned once no token they could affect can still live.

use sea_orm::entity::prelude::*;

/// One change. Which columns are set depends on `kind`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_events")]
pub struct Model {
    /// Position in the log; commits are serialised so ids appear in commit order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `jti_revoked`, `session_revoked`, `grants_changed`, `profile_changed`.
    pub kind: String,
    pub user_id: Option<i64>,
    pub session_id: Option<String>,
    pub jti: Option<String>,
    pub grants_version: Option<i64>,
    /// JSON details (`grants_changed`: the roles and permissions now held).
    #[sea_orm(column_type = "Text", nullable)]
    pub payload: Option<String>,
    /// Unix seconds after which no token this event can affect is still valid.
    pub expires_at: i64,
    /// When the change was written, Unix milliseconds (for the feed-delay metric).
    pub created_at_ms: i64,
}

/// `auth_events` has no relations: events outlive the rows they name.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
