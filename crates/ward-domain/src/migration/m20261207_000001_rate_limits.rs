//! Adds `rate_limits`: one row per subject and fixed window, counting the actions taken in it,
//! so a limit holds across every replica of the service.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, string};

/// Creates `rate_limits (subject, window_start, hits)` with its primary key on the first two.
#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RateLimits {
    Table,
    Subject,
    WindowStart,
    Hits,
}

// The trait's signature elides `SchemaManager`'s lifetime; spelling it out does not match it.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .col(string(RateLimits::Subject))
                    .col(big_integer(RateLimits::WindowStart))
                    .col(integer(RateLimits::Hits))
                    .primary_key(
                        Index::create()
                            .col(RateLimits::Subject)
                            .col(RateLimits::WindowStart),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimits::Table).to_owned())
            .await
    }
}
