use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LoginFailures::Id))
                    // The account key (normalised email), not a user id: unknown emails are
                    // counted too, so that limits do not tell which accounts exist.
                    .col(string(LoginFailures::Account))
                    .col(big_integer(LoginFailures::AtMs))
                    .to_owned(),
            )
            .await?;
        // Counting an account's recent failures, and pruning by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_account_at")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::Account)
                    .col(LoginFailures::AtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_at")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::AtMs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginFailures::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    Account,
    AtMs,
}
