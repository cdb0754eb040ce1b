//! `address_failures`: failed password checks (and sign-ups that hashed) per client address,
//! shared by every instance.

use sea_orm::entity::prelude::*;

/// One attempt counted against a client address. Rows older than the address limit's window
/// can be pruned.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "address_failures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The address key: an IPv4 address, or an IPv6 address's /64.
    pub address: String,
    /// When the attempt was counted, Unix milliseconds.
    pub at_ms: i64,
}

/// Keyed by address, not by user: the limit spans accounts.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
