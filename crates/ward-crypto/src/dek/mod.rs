//! Data-encryption keys of one workspace: the [`DataKeySource`] trait that resolves key ids to
//! DEKs, [`InMemoryKeySource`], [`WrappedKeySource`] (wrapped DEKs unwrapped by a KEK) and the
//! [`CachedKeySource`] decorator.

mod cache;
mod state;
mod wrapped;

pub use cache::{CachePolicy, CachedKeySource, Clock, SystemClock};
pub use wrapped::WrappedKeySource;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::keys::{DataKey, DekId};

/// Resolves key ids to the data-encryption keys (DEKs) of **one** workspace.
///
/// A source is scoped to a single workspace (tenant): callers hold one source per workspace, so a
/// key id can never resolve to another tenant's key.
///
/// # Contract
/// - [`active_key`](DataKeySource::active_key) returns the DEK new data is written with; it may
///   change over time (rotation), and readers must then still find the old key by id.
/// - [`key`](DataKeySource::key) returns [`Error::UnknownKeyId`] for an id it never held, and
///   [`Error::KeyDestroyed`] (or `UnknownKeyId`) for one that was destroyed: no fallback to
///   another key, ever.
/// - Decorators (such as [`CachedKeySource`]) forward both methods.
#[async_trait::async_trait]
pub trait DataKeySource: std::fmt::Debug + Send + Sync {
    /// The DEK that new data is written with.
    async fn active_key(&self) -> Result<Arc<DataKey>>;
    /// The DEK with this id, for reading; `Error::UnknownKeyId` if none.
    async fn key(&self, id: DekId) -> Result<Arc<DataKey>>;
}

#[async_trait::async_trait]
impl<S: DataKeySource + ?Sized> DataKeySource for Arc<S> {
    async fn active_key(&self) -> Result<Arc<DataKey>> {
        (**self).active_key().await
    }

    async fn key(&self, id: DekId) -> Result<Arc<DataKey>> {
        (**self).key(id).await
    }
}

/// The DEKs of one workspace, held in memory: for tests, examples and embedded use.
///
/// Keys can be added, generated, activated and destroyed. Destroying a key drops the only copy
/// of its material (it is zeroized once the last reader's `Arc` goes), which crypto-shreds
/// everything written with it; the id is remembered so later lookups say so.
///
/// ```
/// use ward_crypto::{DataKeySource, InMemoryKeySource, DekId};
///
/// # tokio_test_block_on(async {
/// let source = InMemoryKeySource::new();
/// let first = source.generate()?; // the first key becomes active
/// let second = source.generate()?;
/// assert_eq!(source.active_key().await?.id(), first);
/// source.activate(second)?;
/// assert_eq!(source.active_key().await?.id(), second);
/// source.destroy(first)?;
/// assert!(source.key(first).await.is_err());
/// # Ok::<(), ward_crypto::Error>(())
/// # })?;
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct InMemoryKeySource {
    state: Mutex<State>,
}

type State = state::State<Arc<DataKey>>;

impl InMemoryKeySource {
    /// An empty source: no keys, none active.
    pub fn new() -> Self {
        Self::default()
    }

    /// A source holding `key`, active.
    pub fn with_active(key: DataKey) -> Self {
        let source = Self::new();
        let id = key.id();
        let mut state = source.lock();
        state.keys.insert(id, Arc::new(key));
        state.active = Some(id);
        drop(state);
        source
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-updated (each update is one
        // insert or remove), so a poisoned lock is still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `key` for reading. It becomes active only if no key is active yet.
    ///
    /// Fails if a key with the same id is held or was destroyed (ids are never reused).
    pub fn add(&self, key: DataKey) -> Result<()> {
        self.lock().add(key.id(), Arc::new(key))
    }

    /// Generates a fresh random key with the next unused id (one above the highest ever held)
    /// and adds it as [`add`](Self::add) does. Returns its id.
    pub fn generate(&self) -> Result<DekId> {
        let mut state = self.lock();
        let id = state.next_id()?;
        state.add(id, Arc::new(DataKey::generate(id)?))?;
        Ok(id)
    }

    /// Makes the key `id` the one new data is written with.
    pub fn activate(&self, id: DekId) -> Result<()> {
        self.lock().activate(id)
    }

    /// Destroys the key `id`: data written with it can no longer be read by anyone holding only
    /// this source. If it was active, no key is active afterwards until one is activated.
    pub fn destroy(&self, id: DekId) -> Result<()> {
        self.lock().destroy(id)
    }

    /// The ids of every key held (destroyed keys excluded), in ascending order.
    pub fn key_ids(&self) -> Vec<DekId> {
        self.lock().keys.keys().copied().collect()
    }
}

#[async_trait::async_trait]
impl DataKeySource for InMemoryKeySource {
    async fn active_key(&self) -> Result<Arc<DataKey>> {
        let state = self.lock();
        let id = state.active.ok_or(Error::NoActiveKey)?;
        state
            .keys
            .get(&id)
            .cloned()
            .ok_or(Error::UnknownKeyId { key_id: id })
    }

    async fn key(&self, id: DekId) -> Result<Arc<DataKey>> {
        self.lock().get(id)
    }
}
