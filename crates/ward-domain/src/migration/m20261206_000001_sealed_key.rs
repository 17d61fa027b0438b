//! Records, per row, the data key its sealed cells are under (`key_id`), so the re-sealing job
//! finds rows still under an older key through an index instead of reading every cell; and gives
//! attachments a lease (`lease_until`) under which one worker re-encrypts the object.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer_null, timestamp_with_time_zone_null};

/// Adds `key_id` (and an index on `workspace_id, key_id`) to `clients`, `sessions` and
/// `attachments`, and `lease_until` to `attachments`. Rows written before it hold NULL in
/// `key_id`: "not known", which the job re-seals.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
}

#[derive(DeriveIden, Clone, Copy)]
enum Attachments {
    Table,
    LeaseUntil,
}

#[derive(DeriveIden, Clone, Copy)]
enum Columns {
    WorkspaceId,
    KeyId,
}

/// The three tables with sealed cells, each with the name of its new index.
fn tables() -> [(DynIden, &'static str); 3] {
    [
        (Clients::Table.into_iden(), "clients_workspace_key_idx"),
        (Sessions::Table.into_iden(), "sessions_workspace_key_idx"),
        (
            Attachments::Table.into_iden(),
            "attachments_workspace_key_idx",
        ),
    ]
}

// The trait's signature elides `SchemaManager`'s lifetime; spelling it out does not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, index) in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(integer_null(Columns::KeyId))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(index)
                        .table(table)
                        .col(Columns::WorkspaceId)
                        .col(Columns::KeyId)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .add_column(timestamp_with_time_zone_null(Attachments::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Attachments::Table)
                    .drop_column(Attachments::LeaseUntil)
                    .to_owned(),
            )
            .await?;
        for (table, index) in tables() {
            manager
                .drop_index(Index::drop().name(index).table(table.clone()).to_owned())
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Columns::KeyId)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
