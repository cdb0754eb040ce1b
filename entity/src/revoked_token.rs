//! `revoked_tokens`: the persisted revocation list, keyed by `jti`.

use sea_orm::entity::prelude::*;

/// A revoked token. Rows whose `expires_at` has passed can be pruned: the token would be
/// refused as expired anyway.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "revoked_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// The token's `exp`, unix seconds.
    pub expires_at: i64,
    pub revoked_at: TimeDateTimeWithTimeZone,
}

/// `revoked_tokens` has no relations: tokens minted elsewhere may name no known user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
