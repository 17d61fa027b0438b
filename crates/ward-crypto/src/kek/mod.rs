//! Key-encryption keys (KEKs): the [`KeyEncryptionKey`] trait that wraps and unwraps DEKs, the
//! [`KeyRing`] of KEK versions every provider validates with, and [`WrappedDataKey`].

pub(crate) mod local;

#[cfg(any(feature = "aws-kms", feature = "aws-secrets-manager"))]
mod aws;
#[cfg(feature = "aws-kms")]
mod aws_kms;
#[cfg(feature = "azure-key-vault")]
mod azure_key_vault;
#[cfg(feature = "gcp-kms")]
mod gcp_kms;
#[cfg(feature = "https-client")]
mod http;
#[cfg(any(feature = "aws-secrets-manager", feature = "vault-transit"))]
mod refresh;
#[cfg(feature = "aws-secrets-manager")]
mod secrets_manager;
#[cfg(feature = "vault-transit")]
mod vault_transit;

use std::collections::BTreeMap;
use std::fmt;

#[cfg(feature = "aws-kms")]
pub use aws_kms::AwsKmsKek;
#[cfg(feature = "azure-key-vault")]
pub use azure_key_vault::{
    AzureKeyVaultConfig, AzureKeyVaultKek, AzureWrapAlgorithm, azure_transport,
};
#[cfg(feature = "gcp-kms")]
pub use gcp_kms::GcpKmsKek;
#[cfg(feature = "https-client")]
pub use http::HttpPolicy;
pub use local::LocalKek;
#[cfg(any(feature = "aws-secrets-manager", feature = "vault-transit"))]
pub use refresh::RingRefresh;
#[cfg(feature = "aws-secrets-manager")]
pub use secrets_manager::SecretsManagerKek;
#[cfg(feature = "vault-transit")]
pub use vault_transit::{VaultTransitConfig, VaultTransitKek};

use crate::error::{KeyRingError, Result};
use crate::format::wrapped;
use crate::keys::{DataKey, DekId, KekId};

/// Wraps DEKs under the active KEK version and unwraps them under any version it holds.
///
/// # Contract
/// - [`wrap`](Self::wrap) always uses the active version; the result names it.
/// - [`unwrap`](Self::unwrap) uses the version named in the wrapped key; a version the provider
///   does not hold is [`Error::UnknownKekId`](crate::Error::UnknownKekId), never a fallback.
/// - `context` (for example the workspace id) is authenticated with the wrapped key: unwrapping
///   with another context fails with [`Error::Decrypt`](crate::Error::Decrypt).
#[async_trait::async_trait]
pub trait KeyEncryptionKey: fmt::Debug + Send + Sync {
    /// The KEK version new DEKs are wrapped under.
    fn active_id(&self) -> KekId;

    /// Every KEK version this provider can unwrap with, ascending.
    fn key_ids(&self) -> Vec<KekId>;

    /// Wraps `dek` under the active version, bound to `context`.
    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey>;

    /// Unwraps `wrapped`, checking it was wrapped for `context`.
    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey>;
}

/// A DEK sealed under a KEK: versioned bytes naming the KEK version and the DEK id.
///
/// Safe to store (a database column) and to log by id; the bytes reveal nothing of the key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedDataKey {
    header: wrapped::Header,
    bytes: Vec<u8>,
}

impl WrappedDataKey {
    /// Parses stored wrapped-key bytes, checking the version and the header.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        let (header, _) = wrapped::parse(&bytes)?;
        Ok(Self { header, bytes })
    }

    /// Builds a wrapped key from its header and a provider's sealed body.
    pub(crate) fn from_parts(header: wrapped::Header, body: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(wrapped::HEADER_LEN + body.len());
        bytes.extend_from_slice(&header.to_bytes());
        bytes.extend_from_slice(body);
        Self { header, bytes }
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The KEK version that wrapped it.
    pub fn kek_id(&self) -> KekId {
        self.header.kek_id
    }

    /// The id of the DEK inside.
    pub fn dek_id(&self) -> DekId {
        self.header.dek_id
    }

    /// The header bytes, authenticated with the body.
    pub(crate) fn header_bytes(&self) -> &[u8] {
        &self.bytes[..wrapped::HEADER_LEN]
    }

    /// The provider-specific sealed key.
    pub(crate) fn body(&self) -> &[u8] {
        &self.bytes[wrapped::HEADER_LEN..]
    }
}

impl fmt::Debug for WrappedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedDataKey")
            .field("kek_id", &self.kek_id())
            .field("dek_id", &self.dek_id())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// One KEK version as configured: its id, the key (or a provider's reference to it), and whether
/// it is the active one.
#[derive(Debug)]
pub struct KeyRingEntry<T> {
    /// The version's id, written into every key it wraps.
    pub id: KekId,
    /// The key, or a provider's handle for it (a KMS key id).
    pub key: T,
    /// Whether new DEKs are wrapped under this version. Exactly one entry must say so.
    pub active: bool,
}

/// Several versions of a key-encryption key, exactly one active.
///
/// Building a ring fails loudly (no entry is ever skipped) when it is empty, when no entry or more
/// than one entry is active, or when an id repeats.
///
/// ```
/// use ward_crypto::{KekId, KeyRing, KeyRingEntry, KeyRingError};
///
/// let ring = KeyRing::new([
///     KeyRingEntry { id: KekId(1), key: "old", active: false },
///     KeyRingEntry { id: KekId(2), key: "new", active: true },
/// ])?;
/// assert_eq!(ring.active(), (KekId(2), &"new"));
/// assert_eq!(ring.get(KekId(1)), Some(&"old"));
///
/// let err = KeyRing::new([KeyRingEntry { id: KekId(1), key: "k", active: false }]).unwrap_err();
/// assert_eq!(err, KeyRingError::NoActiveKey);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KeyRing<T> {
    keys: BTreeMap<KekId, T>,
    active: KekId,
}

impl<T> KeyRing<T> {
    /// Validates `entries` into a ring.
    pub fn new(
        entries: impl IntoIterator<Item = KeyRingEntry<T>>,
    ) -> std::result::Result<Self, KeyRingError> {
        let mut keys = BTreeMap::new();
        let mut active: Option<KekId> = None;
        for entry in entries {
            if keys.contains_key(&entry.id) {
                return Err(KeyRingError::DuplicateKekId { kek_id: entry.id });
            }
            if entry.active {
                if let Some(first) = active {
                    return Err(KeyRingError::SeveralActiveKeys {
                        first,
                        second: entry.id,
                    });
                }
                active = Some(entry.id);
            }
            keys.insert(entry.id, entry.key);
        }
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        let active = active.ok_or(KeyRingError::NoActiveKey)?;
        Ok(Self { keys, active })
    }

    /// The active version's id and key.
    pub fn active(&self) -> (KekId, &T) {
        let key = self
            .keys
            .get(&self.active)
            .unwrap_or_else(|| unreachable!("the active id is checked on construction"));
        (self.active, key)
    }

    /// The version with this id, if configured.
    pub fn get(&self, id: KekId) -> Option<&T> {
        self.keys.get(&id)
    }

    /// Every configured id, ascending.
    pub fn ids(&self) -> Vec<KekId> {
        self.keys.keys().copied().collect()
    }

    /// Applies `f` to every key, keeping ids and the active marker.
    pub(crate) fn map<U>(self, mut f: impl FnMut(T) -> U) -> KeyRing<U> {
        KeyRing {
            keys: self.keys.into_iter().map(|(id, k)| (id, f(k))).collect(),
            active: self.active,
        }
    }
}
