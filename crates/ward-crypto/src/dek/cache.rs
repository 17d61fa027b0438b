//! [`CachedKeySource`]: a [`DataKeySource`] decorator that keeps unwrapped DEKs for a bounded
//! time and a bounded number of uses, so hot paths do not call the KEK provider per value.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dek::DataKeySource;
use crate::error::Result;
use crate::keys::{DataKey, KeyId};

/// Where a cache reads the time. Passed in so tests can move time without sleeping.
pub trait Clock: fmt::Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long, and for how many uses, a cached DEK may be handed out before it is fetched again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    max_age: Duration,
    max_uses: u64,
}

impl Default for CachePolicy {
    /// Five minutes or 10 000 uses, whichever comes first.
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            max_uses: 10_000,
        }
    }
}

impl CachePolicy {
    /// The default policy (five minutes, 10 000 uses).
    pub fn new() -> Self {
        Self::default()
    }

    /// A cached key older than this is fetched again; also bounds how long a change of the active
    /// key takes to be seen. A zero age disables caching.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// A cached key handed out this many times is fetched again. Zero disables caching.
    pub fn with_max_uses(mut self, max_uses: u64) -> Self {
        self.max_uses = max_uses;
        self
    }
}

struct Entry {
    key: Arc<DataKey>,
    loaded_at: Instant,
    uses: u64,
}

#[derive(Default)]
struct State {
    keys: HashMap<KeyId, Entry>,
    active: Option<(KeyId, Instant)>,
}

/// A [`DataKeySource`] that caches what another source returns, bounded by age and uses.
///
/// Meant to sit over a source that unwraps (a KMS call per key), scoped like it to one
/// workspace. Keys are held only in memory and zeroized when the last `Arc` drops; destroying a
/// key in the inner source takes effect here after at most the policy's age or uses, or at once
/// with [`invalidate`](Self::invalidate).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use ward_crypto::{CachePolicy, CachedKeySource, DataKeySource, InMemoryKeySource};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let inner = Arc::new(InMemoryKeySource::new());
/// let id = inner.generate()?;
/// let cached = CachedKeySource::new(
///     Arc::clone(&inner),
///     CachePolicy::new().with_max_age(Duration::from_secs(60)).with_max_uses(1_000),
/// );
/// assert_eq!(cached.active_key().await?.id(), id);
/// assert_eq!(cached.key(id).await?.id(), id); // served from the cache
/// # Ok::<(), ward_crypto::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CachedKeySource<S> {
    inner: S,
    policy: CachePolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl<S: DataKeySource> CachedKeySource<S> {
    /// Caches `inner` under `policy`, reading time from the [`SystemClock`].
    pub fn new(inner: S, policy: CachePolicy) -> Self {
        Self {
            inner,
            policy,
            clock: Arc::new(SystemClock),
            state: Mutex::new(State::default()),
        }
    }

    /// Reads time from `clock` instead (tests move a manual clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Drops the cached copy of key `id` (for example after destroying it).
    pub fn invalidate(&self, id: KeyId) {
        let mut state = self.lock();
        state.keys.remove(&id);
        if state.active.is_some_and(|(active, _)| active == id) {
            state.active = None;
        }
    }

    /// Drops every cached key.
    pub fn clear(&self) {
        *self.lock() = State::default();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single insert or remove, so a poisoned cache is still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh(&self, loaded_at: Instant, now: Instant) -> bool {
        now.saturating_duration_since(loaded_at) < self.policy.max_age
    }

    /// A cached key if it is still within the policy, counting the use.
    fn cached(&self, id: KeyId) -> Option<Arc<DataKey>> {
        let now = self.clock.now();
        let mut state = self.lock();
        let entry = state.keys.get_mut(&id)?;
        if self.fresh(entry.loaded_at, now) && entry.uses < self.policy.max_uses {
            entry.uses += 1;
            return Some(Arc::clone(&entry.key));
        }
        state.keys.remove(&id);
        None
    }

    fn store(&self, key: &Arc<DataKey>, active: bool) {
        let now = self.clock.now();
        let mut state = self.lock();
        state.keys.insert(
            key.id(),
            Entry {
                key: Arc::clone(key),
                loaded_at: now,
                uses: 1,
            },
        );
        if active {
            state.active = Some((key.id(), now));
        }
    }
}

// A decorator forwards every method of the trait, so none can bypass the cache or drift.
#[deny(clippy::missing_trait_methods)]
#[async_trait::async_trait]
impl<S: DataKeySource> DataKeySource for CachedKeySource<S> {
    async fn active_key(&self) -> Result<Arc<DataKey>> {
        let now = self.clock.now();
        let active = self.lock().active;
        if let Some((id, since)) = active
            && self.fresh(since, now)
            && let Some(key) = self.cached(id)
        {
            return Ok(key);
        }
        let key = self.inner.active_key().await?;
        self.store(&key, true);
        Ok(key)
    }

    async fn key(&self, id: KeyId) -> Result<Arc<DataKey>> {
        if let Some(key) = self.cached(id) {
            return Ok(key);
        }
        let key = self.inner.key(id).await?;
        self.store(&key, false);
        Ok(key)
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedKeySource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached: Vec<KeyId> = {
            let state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut ids: Vec<KeyId> = state.keys.keys().copied().collect();
            ids.sort();
            ids
        };
        f.debug_struct("CachedKeySource")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .field("cached_key_ids", &cached)
            .finish_non_exhaustive()
    }
}
