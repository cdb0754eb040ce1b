//! `users`: one row per account.

use sea_orm::entity::prelude::*;

/// A user account. `email` is stored trimmed and lower-cased and is unique.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    /// PHC string (argon2id); never leaves the server.
    pub password_hash: String,
    pub created_at: TimeDateTimeWithTimeZone,
    /// Bumped on every change of roles or permissions; tokens minted before the
    /// matching `grants_changed_at` lose the grants that were taken away.
    pub grants_version: i64,
    /// Unix seconds of the last grants change (0 = never).
    pub grants_changed_at: i64,
    /// Disabled by an admin: no login, every token refused.
    pub disabled: bool,
}

/// Relations of `users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
    #[sea_orm(has_many = "super::user_role::Entity")]
    UserRole,
    #[sea_orm(has_many = "super::user_permission::Entity")]
    UserPermission,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl Related<super::user_role::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserRole.def()
    }
}

impl Related<super::user_permission::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::UserPermission.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
