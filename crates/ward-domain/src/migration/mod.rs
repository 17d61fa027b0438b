//! Schema migrations, run under a lock on PostgreSQL so replicas starting together cannot race.
//!
//! [`Migrator`] lists the migrations (sea-orm-migration). The functions here are what the service
//! and `ward migrate` call: [`up`], [`down`], [`status`] and [`fresh`]. Each runs in one
//! transaction holding the migration lock (on PostgreSQL `pg_advisory_xact_lock(`
//! [`MIGRATION_LOCK`]`)`, on SQLite the database's write lock): a second replica waits, then finds
//! nothing left to apply, and a failed migration leaves the schema as it was.

mod m20261202_000001_initial;
mod m20261206_000001_sealed_key;
mod m20261207_000001_rate_limits;
mod m20261207_000002_soft_delete;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use sea_orm_migration::{MigrationStatus, MigrationTrait, MigratorTrait};

use crate::error::Result;

/// The PostgreSQL advisory lock key every migration run holds (the bytes of `wardmigr`).
pub const MIGRATION_LOCK: i64 = 0x7761_7264_6d69_6772;

/// ward's migrations, oldest first.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261202_000001_initial::Migration),
            Box::new(m20261206_000001_sealed_key::Migration),
            Box::new(m20261207_000001_rate_limits::Migration),
            Box::new(m20261207_000002_soft_delete::Migration),
        ]
    }
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name.
    pub name: String,
    /// Whether it has been applied.
    pub applied: bool,
}

/// Runs `$body` with `$conn` bound to one write transaction that holds the migration lock, and
/// commits it: on PostgreSQL the transaction first takes `pg_advisory_xact_lock`; on SQLite it
/// begins `IMMEDIATE`, holding the database's one write lock.
macro_rules! locked {
    ($db:expr, |$conn:ident| $body:expr) => {{
        let txn = crate::db::begin_write($db).await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [MIGRATION_LOCK.into()],
            ))
            .await?;
        }
        let $conn = &txn;
        let out = $body;
        txn.commit().await?;
        out
    }};
}

/// Applies every pending migration. Returns how many were applied.
pub async fn up(db: &DatabaseConnection) -> Result<usize> {
    Ok(locked!(db, |conn| {
        let pending = Migrator::get_pending_migrations(conn).await?.len();
        Migrator::up(conn, None).await?;
        pending
    }))
}

/// Reverts the last `steps` applied migrations (all of them with `None`). Returns how many were
/// reverted.
pub async fn down(db: &DatabaseConnection, steps: Option<u32>) -> Result<usize> {
    Ok(locked!(db, |conn| {
        let applied = Migrator::get_applied_migrations(conn).await?.len();
        Migrator::down(conn, steps).await?;
        steps.map_or(applied, |s| applied.min(s as usize))
    }))
}

/// Drops every table and applies every migration: **destroys all data**. For development and
/// tests.
pub async fn fresh(db: &DatabaseConnection) -> Result<usize> {
    Ok(locked!(db, |conn| {
        Migrator::fresh(conn).await?;
        Migrator::get_applied_migrations(conn).await?.len()
    }))
}

/// Every migration, oldest first, with whether it is applied. Reads only.
pub async fn status(db: &DatabaseConnection) -> Result<Vec<MigrationState>> {
    let migrations = Migrator::get_migration_with_status_read_only(db).await?;
    Ok(migrations
        .iter()
        .map(|m| MigrationState {
            name: m.name().to_owned(),
            applied: m.status() == MigrationStatus::Applied,
        })
        .collect())
}

/// Whether every migration is applied (for a readiness check). Reads only.
pub async fn is_current(db: &DatabaseConnection) -> Result<bool> {
    Ok(Migrator::get_pending_migrations_read_only(db)
        .await?
        .is_empty())
}
