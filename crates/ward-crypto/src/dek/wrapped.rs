//! [`WrappedKeySource`]: a workspace's DEKs held wrapped, unwrapped by a KEK on every lookup.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dek::{DataKeySource, state};
use crate::error::{Error, Result};
use crate::kek::{KeyEncryptionKey, WrappedDataKey};
use crate::keys::{DataKey, DekId};

type State = state::State<WrappedDataKey>;

/// The DEKs of one workspace kept only in wrapped form and unwrapped through a
/// [`KeyEncryptionKey`] on each lookup: the shape of a database-backed source, held in memory.
///
/// Every key is wrapped and unwrapped with this source's `context` (the workspace id), so a
/// wrapped key copied from another workspace does not unwrap here. Put a
/// [`CachedKeySource`](crate::CachedKeySource) in front to avoid a KEK call per lookup.
pub struct WrappedKeySource {
    kek: Arc<dyn KeyEncryptionKey>,
    context: Vec<u8>,
    state: Mutex<State>,
}

impl WrappedKeySource {
    /// An empty source whose keys are bound to `context` (for example the workspace id).
    pub fn new(kek: Arc<dyn KeyEncryptionKey>, context: impl Into<Vec<u8>>) -> Self {
        Self {
            kek,
            context: context.into(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single insert or remove, so a poisoned map is still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds a stored wrapped key. It becomes active only if no key is active yet. Its id may not
    /// be held or destroyed already.
    pub fn insert(&self, wrapped: WrappedDataKey) -> Result<()> {
        self.lock().add(wrapped.dek_id(), wrapped)
    }

    /// Generates a DEK with the next unused id, wraps it under the KEK's active version and adds
    /// it (active if none is). Returns the wrapped form, for storing.
    pub async fn generate(&self) -> Result<WrappedDataKey> {
        let id = self.lock().next_id()?;
        let dek = DataKey::generate(id)?;
        let wrapped = self.kek.wrap(&dek, &self.context).await?;
        self.insert(wrapped.clone())?;
        Ok(wrapped)
    }

    /// Makes key `id` the one new data is written with.
    pub fn activate(&self, id: DekId) -> Result<()> {
        self.lock().activate(id)
    }

    /// Destroys key `id` (crypto-shredding what it wrote). If it was active, none is afterwards.
    pub fn destroy(&self, id: DekId) -> Result<()> {
        self.lock().destroy(id)
    }

    /// The stored form of key `id`.
    pub fn wrapped(&self, id: DekId) -> Result<WrappedDataKey> {
        self.lock().get(id)
    }

    /// Every wrapped key held, by ascending DEK id.
    pub fn all_wrapped(&self) -> Vec<WrappedDataKey> {
        self.lock().keys.values().cloned().collect()
    }

    /// Replaces the stored form of a key (after a rewrap). The DEK id must already be held.
    pub fn replace(&self, wrapped: WrappedDataKey) -> Result<()> {
        self.lock().replace(wrapped.dek_id(), wrapped)
    }

    /// The KEK provider keys are unwrapped with.
    pub fn kek(&self) -> &Arc<dyn KeyEncryptionKey> {
        &self.kek
    }

    /// The context every key is bound to.
    pub fn context(&self) -> &[u8] {
        &self.context
    }

    async fn unwrap(&self, id: DekId) -> Result<Arc<DataKey>> {
        let wrapped = self.wrapped(id)?;
        let dek = self.kek.unwrap(&wrapped, &self.context).await?;
        Ok(Arc::new(dek))
    }
}

#[async_trait::async_trait]
impl DataKeySource for WrappedKeySource {
    async fn active_key(&self) -> Result<Arc<DataKey>> {
        let id = self.lock().active.ok_or(Error::NoActiveKey)?;
        self.unwrap(id).await
    }

    async fn key(&self, id: DekId) -> Result<Arc<DataKey>> {
        self.unwrap(id).await
    }
}

impl fmt::Debug for WrappedKeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("WrappedKeySource")
            .field("kek", &self.kek)
            .field("context_len", &self.context.len())
            .field("key_ids", &state.keys.keys().collect::<Vec<_>>())
            .field("active", &state.active)
            .finish_non_exhaustive()
    }
}
