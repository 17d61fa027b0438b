//! Timestamps as the databases store them.

use time::OffsetDateTime;

/// Now, in UTC, truncated to whole microseconds: PostgreSQL keeps microseconds, so a value read
/// back equals the value written (the audit chain hashes timestamps).
pub(crate) fn now() -> OffsetDateTime {
    truncate_to_micros(OffsetDateTime::now_utc())
}

/// `t` without its sub-microsecond part.
pub(crate) fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}
