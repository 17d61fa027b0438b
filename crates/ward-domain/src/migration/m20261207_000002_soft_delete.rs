//! Gives clients and sessions a `deleted_at`: a soft-deleted record answers as not found, and
//! nothing new can be filed under it, while its sealed values stay for the retention period.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

/// Adds `deleted_at` (NULL: live) to `clients` and `sessions`.
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
enum Columns {
    DeletedAt,
}

fn tables() -> [DynIden; 2] {
    [Clients::Table.into_iden(), Sessions::Table.into_iden()]
}

// The trait's signature elides `SchemaManager`'s lifetime; spelling it out does not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(timestamp_with_time_zone_null(Columns::DeletedAt))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(Columns::DeletedAt)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
