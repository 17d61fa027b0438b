//! What a remote provider knows of its ring (a ring read from a secret, a key's versions read
//! from a key service), kept for a bounded time and read again when it is old or when a wrapped
//! key names a version it does not hold.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::Result;

/// How long a remote provider uses what it read of its ring before reading it again.
///
/// ```
/// use std::time::Duration;
/// use ward_crypto::RingRefresh;
///
/// let refresh = RingRefresh::default();
/// assert_eq!(refresh.max_age, Duration::from_secs(300));
/// assert_eq!(refresh.unknown_key_interval, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingRefresh {
    /// The ring's lifetime in the process: the first wrap or unwrap after it has passed reads the
    /// ring again, and if that read fails, the call fails; the old ring is never used past it.
    pub max_age: Duration,
    /// A wrapped key naming a KEK version the ring does not hold makes the provider read the
    /// ring at once (it may have rotated since it was read), at most once per this interval.
    pub unknown_key_interval: Duration,
}

impl Default for RingRefresh {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            unknown_key_interval: Duration::from_secs(10),
        }
    }
}

/// A value read at a known instant.
pub(crate) struct Read<T> {
    pub(crate) value: T,
    pub(crate) at: Instant,
}

/// The last read of a ring, and one lock so that concurrent callers wait for a single read.
pub(crate) struct Refreshing<T> {
    current: RwLock<Arc<Read<T>>>,
    reading: tokio::sync::Mutex<()>,
    policy: RingRefresh,
}

impl<T> Refreshing<T> {
    /// Starts from a value read just now.
    pub(crate) fn new(value: T, policy: RingRefresh) -> Self {
        Self {
            current: RwLock::new(Arc::new(Read {
                value,
                at: Instant::now(),
            })),
            reading: tokio::sync::Mutex::new(()),
            policy,
        }
    }

    pub(crate) fn policy(&self) -> RingRefresh {
        self.policy
    }

    /// The last read, whatever its age.
    pub(crate) fn last(&self) -> Arc<Read<T>> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The last read if it is younger than `max_age`, else a new one by `read`.
    pub(crate) async fn fresh<F, Fut>(&self, read: F) -> Result<Arc<Read<T>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.read_unless_younger(self.policy.max_age, read).await
    }

    /// A new read by `read`, unless one younger than `unknown_key_interval` is at hand.
    pub(crate) async fn after_unknown_key<F, Fut>(&self, read: F) -> Result<Arc<Read<T>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.read_unless_younger(self.policy.unknown_key_interval, read)
            .await
    }

    async fn read_unless_younger<F, Fut>(&self, age: Duration, read: F) -> Result<Arc<Read<T>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let last = self.last();
        if last.at.elapsed() < age {
            return Ok(last);
        }
        let _reading = self.reading.lock().await;
        // Another caller may have read while this one waited.
        let last = self.last();
        if last.at.elapsed() < age {
            return Ok(last);
        }
        let new = Arc::new(Read {
            value: read().await?,
            at: Instant::now(),
        });
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::clone(&new);
        Ok(new)
    }
}
