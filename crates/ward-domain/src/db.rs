//! Opening the database: PostgreSQL in production, SQLite as the embedded default.

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::error::{Error, Result};

/// Connects to `url` (`postgres://…` or `sqlite://path?mode=rwc`) with ward's settings:
///
/// - statement logging off (statements are not PHI, but nothing in ward logs queries);
/// - on SQLite, write-ahead logging, foreign keys enforced and a 10 s busy timeout, so a
///   reader never blocks the writer and a second writer waits instead of failing at once;
/// - a connect timeout of 10 s, and at most `max_connections` (default 10) pooled connections.
///
/// The URL is never echoed in errors (it can hold a password).
pub async fn connect(url: &str) -> Result<DatabaseConnection> {
    connect_with(url, 10).await
}

/// [`connect`] with a pool of at most `max_connections`.
pub async fn connect_with(url: &str, max_connections: u32) -> Result<DatabaseConnection> {
    if !(url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("sqlite:"))
    {
        return Err(Error::InvalidInput {
            field: "database url",
            reason: "must start with postgres://, postgresql:// or sqlite:",
        });
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .max_connections(max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    Ok(Database::connect(options).await?)
}

/// Begins a transaction that will write. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`), so a transaction that reads before it writes waits for other writers (the busy
/// timeout) instead of failing when it upgrades; PostgreSQL ignores the mode.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction> {
    use sea_orm::TransactionTrait as _;
    Ok(db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?)
}
