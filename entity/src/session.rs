//! `sessions`: one row per login, the anchor of its refresh-token chain.

use sea_orm::entity::prelude::*;

/// A login session. Its refresh token rotates on every `refresh`; the row keeps the
/// current refresh token's claims (so a concurrent tab inside the grace window can be handed
/// the very same successor) and the one it replaced (so reuse can be detected).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// UUID; the tokens' `sid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: i64,
    pub created_at: TimeDateTimeWithTimeZone,
    pub last_used_at: TimeDateTimeWithTimeZone,
    pub user_agent: Option<String>,
    /// Set once, when the session ends (logout, reuse detected, password change).
    pub revoked_at: Option<TimeDateTimeWithTimeZone>,
    /// `jti` of the refresh token that may be used next.
    pub refresh_jti: String,
    /// `iat` (unix seconds) of that refresh token.
    pub refresh_iat: i64,
    /// `exp` (unix seconds) of that refresh token; the session is dead after it.
    pub refresh_exp: i64,
    /// `jti` of the refresh token retired by the last rotation.
    pub previous_refresh_jti: Option<String>,
    /// When the last rotation happened (unix milliseconds), for the reuse grace window.
    pub rotated_at_ms: Option<i64>,
}

/// Relations of `sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
