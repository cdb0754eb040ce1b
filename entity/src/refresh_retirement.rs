//! `refresh_retirements`: when each refresh token was retired by a rotation, so that a copy
//! presented within `WARDEN_REFRESH_REUSE_GRACE` of its retirement (another tab of the same
//! session) gets the session's current token instead of being taken for a replay.

use sea_orm::entity::prelude::*;

/// One retired refresh token. Rows older than the grace window are pruned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_retirements")]
pub struct Model {
    /// The retired token's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// Its session.
    pub session_id: String,
    /// When the rotation retired it, Unix milliseconds.
    pub retired_at_ms: i64,
}

/// Keyed by token; the session is matched by value when looked up.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
