//! `login_failures`: failed password checks per account, shared by every instance.

use sea_orm::entity::prelude::*;

/// One failed password check. Rows older than the account limit's window can be pruned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The account key: the normalised email (capped at 254 bytes).
    pub account: String,
    /// When the check failed, Unix milliseconds.
    pub at_ms: i64,
}

/// Keyed by email, not user id: unknown emails are counted too.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
