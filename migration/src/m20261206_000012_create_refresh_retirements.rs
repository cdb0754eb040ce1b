use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefreshRetirements::Table)
                    .if_not_exists()
                    // A refresh token's jti, written when a rotation retires it.
                    .col(string(RefreshRetirements::Jti).primary_key())
                    .col(string(RefreshRetirements::SessionId))
                    .col(big_integer(RefreshRetirements::RetiredAtMs))
                    .to_owned(),
            )
            .await?;
        // Pruning by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_retirements_retired_at")
                    .table(RefreshRetirements::Table)
                    .col(RefreshRetirements::RetiredAtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshRetirements::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshRetirements {
    Table,
    Jti,
    SessionId,
    RetiredAtMs,
}
