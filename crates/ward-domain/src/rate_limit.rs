//! `RateLimits`: fixed-window counters kept in the database, so a limit holds across every
//! replica of a service and survives its restarts.
//!
//! Each [`hit`](RateLimits::hit) is one statement that inserts the subject's counter for the
//! current window or raises it by one, and returns the new count (`INSERT … ON CONFLICT … DO
//! UPDATE … RETURNING`, on PostgreSQL and SQLite alike): two callers can never both see the last
//! free slot. A caller that cannot reach the database gets the error and must refuse the action
//! (fail closed). Counters of earlier windows are removed by the subject's next hit.

use std::time::Duration;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use time::OffsetDateTime;

use crate::db::begin_write;
use crate::error::{Error, Result};

/// The longest subject accepted, in bytes.
pub const MAX_SUBJECT_BYTES: usize = 200;

/// A limit: at most `max` actions per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Actions allowed in one window.
    pub max: u32,
    /// The window's length (whole seconds, at least one).
    pub window: Duration,
}

impl RateLimit {
    /// `max` actions per minute.
    pub fn per_minute(max: u32) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }
}

/// What a hit decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The action may go ahead; this many more fit in the window.
    Allowed {
        /// Actions left in the window after this one.
        remaining: u32,
    },
    /// The limit is reached; the window ends in `retry_after`.
    Refused {
        /// Time until the window ends.
        retry_after: Duration,
    },
}

/// Counts actions per subject in the database.
#[derive(Debug, Clone)]
pub struct RateLimits {
    db: DatabaseConnection,
}

impl RateLimits {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// Counts one action of `subject` (a caller-chosen key such as `upload:user:42`: ids, never
    /// PHI) at `now` against `limit`.
    pub async fn hit(
        &self,
        subject: &str,
        limit: RateLimit,
        now: OffsetDateTime,
    ) -> Result<RateDecision> {
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES {
            return Err(Error::InvalidInput {
                field: "rate-limit subject",
                reason: "must be 1 to 200 bytes",
            });
        }
        let window = i64::try_from(limit.window.as_secs().max(1))
            .map_err(|_| Error::Internal("rate-limit window out of range"))?;
        let at = now.unix_timestamp();
        let start = at - at.rem_euclid(window);
        let backend = self.db.get_database_backend();
        let (upsert, prune) = match backend {
            DbBackend::Postgres => (
                "INSERT INTO rate_limits (subject, window_start, hits) VALUES ($1, $2, 1) \
                 ON CONFLICT (subject, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
                 RETURNING hits",
                "DELETE FROM rate_limits WHERE subject = $1 AND window_start < $2",
            ),
            _ => (
                "INSERT INTO rate_limits (subject, window_start, hits) VALUES (?, ?, 1) \
                 ON CONFLICT (subject, window_start) DO UPDATE SET hits = rate_limits.hits + 1 \
                 RETURNING hits",
                "DELETE FROM rate_limits WHERE subject = ? AND window_start < ?",
            ),
        };
        let txn = begin_write(&self.db).await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                upsert,
                [subject.into(), start.into()],
            ))
            .await?
            .ok_or(Error::Internal("the rate-limit counter returned no row"))?;
        let hits: i32 = row.try_get("", "hits")?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            prune,
            [subject.into(), start.into()],
        ))
        .await?;
        txn.commit().await?;
        let hits = u32::try_from(hits).unwrap_or(u32::MAX);
        Ok(if hits <= limit.max {
            RateDecision::Allowed {
                remaining: limit.max - hits,
            }
        } else {
            let left = u64::try_from(start + window - at).unwrap_or(1).max(1);
            RateDecision::Refused {
                retry_after: Duration::from_secs(left),
            }
        })
    }
}
