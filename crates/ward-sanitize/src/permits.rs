//! [`DecodePermits`]: the shared pool that bounds how many decodes run at once, and
//! [`Deadline`]: the wall-clock bound on cleaning one file.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::error::{Error, LimitRule, Result};

/// When cleaning one file must be done by, and which limit rule names a miss.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    start: Instant,
    limit: Duration,
    rule: fn(Duration) -> LimitRule,
}

impl Deadline {
    /// An image's deadline, `limit` after `start` ([`LimitRule::ImageTime`]).
    pub(crate) fn new(start: Instant, limit: Duration) -> Self {
        Self {
            start,
            limit,
            rule: |limit| LimitRule::ImageTime { limit },
        }
    }

    /// A PDF's deadline, `limit` after `start` ([`LimitRule::PdfTime`]); it also bounds the
    /// images cleaned inside the PDF.
    pub(crate) fn for_pdf(start: Instant, limit: Duration) -> Self {
        Self {
            start,
            limit,
            rule: |limit| LimitRule::PdfTime { limit },
        }
    }

    /// Time left, `None` once it has passed.
    fn remaining(&self) -> Option<Duration> {
        self.limit
            .checked_sub(self.start.elapsed())
            .filter(|left| !left.is_zero())
    }

    /// The instant the deadline passes (far in the future for a limit too large to add).
    pub(crate) fn at(&self) -> Instant {
        self.start
            .checked_add(self.limit)
            .unwrap_or_else(|| self.start + Duration::from_secs(86_400 * 365))
    }

    /// Whether the deadline has passed.
    pub(crate) fn passed(&self) -> bool {
        self.remaining().is_none()
    }

    /// The limit rule that names a miss of this deadline.
    pub(crate) fn rule(&self) -> LimitRule {
        (self.rule)(self.limit)
    }

    /// `Err` with this deadline's limit rule once it has passed.
    pub(crate) fn check(&self) -> Result<()> {
        match self.remaining() {
            Some(_) => Ok(()),
            None => Err(self.exceeded()),
        }
    }

    /// The error for this deadline.
    pub(crate) fn exceeded(&self) -> Error {
        Error::Limit(self.rule())
    }
}

/// A counting semaphore on `std::sync`: at most `capacity` [`Permit`]s exist at once. Clones
/// share the pool.
#[derive(Clone)]
pub(crate) struct DecodePermits {
    inner: Arc<Pool>,
}

struct Pool {
    capacity: usize,
    in_use: Mutex<usize>,
    freed: Condvar,
}

impl fmt::Debug for DecodePermits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodePermits")
            .field("capacity", &self.inner.capacity)
            .finish_non_exhaustive()
    }
}

impl DecodePermits {
    /// A pool of `capacity` permits (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Pool {
                capacity: capacity.max(1),
                in_use: Mutex::new(0),
                freed: Condvar::new(),
            }),
        }
    }

    /// Waits for a permit until `wait_until` passes, then gives up with `timed_out()`.
    pub(crate) fn acquire(
        &self,
        wait_until: Deadline,
        timed_out: impl Fn() -> Error,
    ) -> Result<Permit> {
        let pool = &self.inner;
        // The lock guards one integer and is never held across a panic-prone call.
        let mut in_use = pool.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        while *in_use >= pool.capacity {
            let Some(left) = wait_until.remaining() else {
                return Err(timed_out());
            };
            in_use = pool
                .freed
                .wait_timeout(in_use, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *in_use += 1;
        Ok(Permit {
            pool: Arc::clone(pool),
        })
    }
}

/// One running decode; dropping it frees the permit, also on unwinding.
pub(crate) struct Permit {
    pool: Arc<Pool>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_use = self
            .pool
            .in_use
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *in_use = in_use.saturating_sub(1);
        drop(in_use);
        self.pool.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_pool_times_out_with_the_given_error() {
        let pool = DecodePermits::new(1);
        let deadline = Deadline::new(Instant::now(), Duration::from_millis(30));
        let held = pool.acquire(deadline, || deadline.exceeded()).unwrap();
        let err = pool
            .acquire(deadline, || deadline.exceeded())
            .err()
            .unwrap();
        assert_eq!(err.rule(), "limit.image_time");
        drop(held);
        let later = Deadline::new(Instant::now(), Duration::from_secs(5));
        assert!(pool.acquire(later, || later.exceeded()).is_ok());
    }
}
