//! [`CachedKeySource`]: a [`DataKeySource`] decorator that keeps unwrapped DEKs for a bounded
//! time and a bounded number of uses, so hot paths do not call the KEK provider per value.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dek::DataKeySource;
use crate::error::Result;
use crate::keys::{DataKey, DekId};

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
    keys: HashMap<DekId, Entry>,
    active: Option<(DekId, Instant)>,
    // Bumped by every invalidation: a lookup that started before one does not cache what it got.
    generation: u64,
}

/// A [`DataKeySource`] that caches what another source returns, bounded by age and uses.
///
/// Meant to sit over a source that unwraps (a KMS call per key), scoped like it to one
/// workspace. Keys are held only in memory and zeroized when the last `Arc` drops; expired
/// entries are swept on every lookup, so a key no longer used leaves memory within the policy's
/// age of the next lookup. Destroying a key in the inner source takes effect here after at most
/// the policy's age or uses, or at once with [`invalidate`](Self::invalidate): a lookup already
/// in flight when the key is invalidated asks the inner source again rather than caching (or
/// returning) what it fetched before.
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

    /// Drops the cached copy of key `id` (for example after destroying it). Lookups in flight
    /// fetch again from the inner source instead of caching what they got.
    pub fn invalidate(&self, id: DekId) {
        let mut state = self.lock();
        state.keys.remove(&id);
        if state.active.is_some_and(|(active, _)| active == id) {
            state.active = None;
        }
        state.generation += 1;
    }

    /// Drops every cached key; lookups in flight fetch again.
    pub fn clear(&self) {
        let mut state = self.lock();
        let generation = state.generation + 1;
        *state = State {
            generation,
            ..State::default()
        };
    }

    fn generation(&self) -> u64 {
        self.lock().generation
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

    /// Removes every entry past the policy, so expired key material does not stay in memory.
    fn sweep(&self, state: &mut State, now: Instant) {
        let max_uses = self.policy.max_uses;
        state
            .keys
            .retain(|_, e| self.fresh(e.loaded_at, now) && e.uses < max_uses);
    }

    /// A cached key if it is still within the policy, counting the use.
    fn cached(&self, id: DekId) -> Option<Arc<DataKey>> {
        let now = self.clock.now();
        let mut state = self.lock();
        self.sweep(&mut state, now);
        let entry = state.keys.get_mut(&id)?;
        entry.uses += 1;
        Some(Arc::clone(&entry.key))
    }

    /// Caches `key` unless an invalidation happened since generation `seen`; says whether the
    /// key may be handed out (it may not if it was invalidated meanwhile).
    fn store(&self, key: &Arc<DataKey>, active: bool, seen: u64) -> bool {
        let now = self.clock.now();
        let mut state = self.lock();
        if state.generation != seen {
            return false;
        }
        self.sweep(&mut state, now);
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
        true
    }
}

/// Fetches from the inner source and caches the key. If an invalidation raced the fetch, asks
/// again (so a key destroyed meanwhile is reported as such) and caches the second answer only if
/// no further invalidation raced it.
async fn fetch<S, F, Fut>(cache: &CachedKeySource<S>, active: bool, get: F) -> Result<Arc<DataKey>>
where
    S: DataKeySource,
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Arc<DataKey>>>,
{
    let seen = cache.generation();
    let key = get().await?;
    if cache.store(&key, active, seen) {
        return Ok(key);
    }
    let seen = cache.generation();
    let key = get().await?;
    cache.store(&key, active, seen);
    Ok(key)
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
        fetch(self, true, || self.inner.active_key()).await
    }

    async fn key(&self, id: DekId) -> Result<Arc<DataKey>> {
        if let Some(key) = self.cached(id) {
            return Ok(key);
        }
        fetch(self, false, || self.inner.key(id)).await
    }
}

impl<S: fmt::Debug> fmt::Debug for CachedKeySource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached: Vec<DekId> = {
            let state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut ids: Vec<DekId> = state.keys.keys().copied().collect();
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
