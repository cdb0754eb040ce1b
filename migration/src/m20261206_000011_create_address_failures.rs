use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AddressFailures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AddressFailures::Id))
                    // The client address key: an IPv4 address or an IPv6 /64, never a port.
                    .col(string(AddressFailures::Address))
                    .col(big_integer(AddressFailures::AtMs))
                    .to_owned(),
            )
            .await?;
        // Counting an address's recent failures, and pruning by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_address_failures_address_at")
                    .table(AddressFailures::Table)
                    .col(AddressFailures::Address)
                    .col(AddressFailures::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_address_failures_at")
                    .table(AddressFailures::Table)
                    .col(AddressFailures::AtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AddressFailures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AddressFailures {
    Table,
    Id,
    Address,
    AtMs,
}
