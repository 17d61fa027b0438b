//! [`State`]: the key ring both in-memory sources keep behind their lock (held, active, destroyed).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{ApiMisuse, Error, KeyRingError, Result};
use crate::keys::DekId;

/// The keys a source holds (each as `V`), which one is active and which were destroyed.
///
/// Destroyed ids are remembered so they are never reused.
#[derive(Debug)]
pub(super) struct State<V> {
    pub(super) keys: BTreeMap<DekId, V>,
    pub(super) active: Option<DekId>,
    pub(super) destroyed: BTreeSet<DekId>,
}

impl<V> Default for State<V> {
    fn default() -> Self {
        Self {
            keys: BTreeMap::new(),
            active: None,
            destroyed: BTreeSet::new(),
        }
    }
}

impl<V: Clone> State<V> {
    /// Adds `key` under `id`, active only if no key is active yet. Fails if `id` is held or was
    /// destroyed.
    pub(super) fn add(&mut self, id: DekId, key: V) -> Result<()> {
        if self.keys.contains_key(&id) || self.destroyed.contains(&id) {
            return Err(KeyRingError::DuplicateKeyId { key_id: id }.into());
        }
        self.keys.insert(id, key);
        if self.active.is_none() {
            self.active = Some(id);
        }
        Ok(())
    }

    /// The next unused id: one above the highest ever held (destroyed ones included).
    pub(super) fn next_id(&self) -> Result<DekId> {
        let highest = self
            .keys
            .keys()
            .chain(self.destroyed.iter())
            .max()
            .map_or(0, |id| id.0);
        let next = highest
            .checked_add(1)
            .ok_or(Error::ApiMisuse(ApiMisuse::DekIdsExhausted))?;
        Ok(DekId(next))
    }

    /// Makes `id` the active key.
    pub(super) fn activate(&mut self, id: DekId) -> Result<()> {
        self.check_held(id)?;
        self.active = Some(id);
        Ok(())
    }

    /// Drops key `id` and remembers it as destroyed; if it was active, none is afterwards.
    pub(super) fn destroy(&mut self, id: DekId) -> Result<()> {
        self.check_held(id)?;
        self.keys.remove(&id);
        self.destroyed.insert(id);
        if self.active == Some(id) {
            self.active = None;
        }
        Ok(())
    }

    /// The key `id`, or why it is not held.
    pub(super) fn get(&self, id: DekId) -> Result<V> {
        self.check_held(id)?;
        self.keys
            .get(&id)
            .cloned()
            .ok_or(Error::UnknownKeyId { key_id: id })
    }

    /// Replaces the key `id`, which must already be held.
    pub(super) fn replace(&mut self, id: DekId, key: V) -> Result<()> {
        self.check_held(id)?;
        self.keys.insert(id, key);
        Ok(())
    }

    fn check_held(&self, id: DekId) -> Result<()> {
        if self.keys.contains_key(&id) {
            Ok(())
        } else if self.destroyed.contains(&id) {
            Err(Error::KeyDestroyed { key_id: id })
        } else {
            Err(Error::UnknownKeyId { key_id: id })
        }
    }
}
