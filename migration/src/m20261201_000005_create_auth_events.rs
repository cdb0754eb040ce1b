use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuthEvents::Id))
                    .col(string(AuthEvents::Kind))
                    .col(big_integer_null(AuthEvents::UserId))
                    .col(string_null(AuthEvents::SessionId))
                    .col(string_null(AuthEvents::Jti))
                    .col(big_integer_null(AuthEvents::GrantsVersion))
                    .col(text_null(AuthEvents::Payload))
                    .col(big_integer(AuthEvents::ExpiresAt))
                    .col(big_integer(AuthEvents::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        // Pruning deletes by expiry.
        manager
            .create_index(
                Index::create()
                    .name("idx_auth_events_expires_at")
                    .table(AuthEvents::Table)
                    .col(AuthEvents::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        // Revocations made before the event log existed become events, so that instances that
        // load their state from the log alone still refuse those tokens.
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO auth_events (kind, jti, expires_at, created_at_ms) \
             SELECT 'jti_revoked', jti, expires_at, 0 FROM revoked_tokens",
        )
        .await?;
        // A revoked session's access tokens may outlive its refresh token by one access
        // lifetime at most; an hour covers the default (15 minutes) with room to spare.
        db.execute_unprepared(
            "INSERT INTO auth_events (kind, user_id, session_id, expires_at, created_at_ms) \
             SELECT 'session_revoked', user_id, id, refresh_exp + 3600, 0 FROM sessions \
             WHERE revoked_at IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuthEvents {
    Table,
    Id,
    Kind,
    UserId,
    SessionId,
    Jti,
    GrantsVersion,
    Payload,
    ExpiresAt,
    CreatedAtMs,
}
