//! Field encryption: [`FieldCipher`] seals and opens small values (names, notes, contact details)
//! in the committed field format (see the `format::field` module for the byte layout).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};

use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::aead::{Aead as _, AeadKey, random_nonce};
use crate::dek::DataKeySource;
use crate::derive::{LABEL_FIELD_COMMITMENT, LABEL_FIELD_KEY, derive_many};
use crate::error::{Error, Result};
use crate::format::field::{self as format, COMMITMENT_LEN};
use crate::keys::{DataKey, DekId, KEY_LEN, KeyMaterial};

/// One DEK made ready for field work: its expanded AES key and its commitment, computed once.
struct FieldKey {
    id: DekId,
    aead: AeadKey,
    commitment: [u8; COMMITMENT_LEN],
    /// Seals under this DEK in this process, shared with every other `FieldKey` of the same DEK.
    seals: Arc<AtomicU64>,
}

impl FieldKey {
    fn new(dek: &DataKey) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        derive_many(
            dek.material(),
            b"",
            &mut [
                (LABEL_FIELD_KEY, key.as_mut_slice()),
                (LABEL_FIELD_COMMITMENT, &mut commitment),
            ],
        );
        let key = KeyMaterial::from_bytes(key.as_slice())
            .unwrap_or_else(|_| unreachable!("fixed-size derived key"));
        Self {
            id: dek.id(),
            aead: AeadKey::new(&key),
            seals: seal_counter(&commitment),
            commitment,
        }
    }
}

/// The process-wide seal count of the DEK with this commitment.
///
/// Counts are keyed by the commitment, which is derived from the DEK alone and is public (every
/// ciphertext carries it), so every cipher built over the same DEK in this process shares one
/// count, whatever its key id. An entry is one commitment and one counter (tens of bytes) per DEK
/// ever prepared, kept for the life of the process so that dropping a cipher never resets a count.
fn seal_counter(commitment: &[u8; COMMITMENT_LEN]) -> Arc<AtomicU64> {
    type Counts = Mutex<HashMap<[u8; COMMITMENT_LEN], Arc<AtomicU64>>>;
    static COUNTS: OnceLock<Counts> = OnceLock::new();
    // Each update is a single insert, so a poisoned map is still consistent.
    let mut counts = COUNTS
        .get_or_init(Counts::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(counts.entry(*commitment).or_default())
}

/// Seals and opens field values for **one** workspace.
///
/// Ciphertext layout (version 1): `version(1) | key_id(4, BE) | commitment(32) | nonce(12) |
/// ciphertext | tag(16)`, 65 bytes more than the plaintext. The associated data is the 49 header
/// bytes followed by the caller's `context`, so a ciphertext moved to another row, column,
/// workspace or key id fails to open. The commitment (HKDF of the DEK) is compared in constant
/// time before decrypting, so no ciphertext opens under two different keys.
///
/// A `FieldCipher` prepares each key once (derivation and AES key expansion) and then seals and
/// opens without further setup, so build one per workspace and request, not one per value.
///
/// Nonces are random (96 bits), which is safe for 2^32 seals under one DEK (NIST SP 800-38D
/// §8.3). Seals are therefore counted per DEK, and past [`FieldCipher::MAX_SEALS_PER_KEY`]
/// (2^31, or a lower [`with_seal_limit`](Self::with_seal_limit)) sealing refuses with
/// [`Error::KeyExhausted`]: rotate the workspace's DEK. The count lives in this process only
/// (shared by every cipher over the same DEK, lost at restart), so it is a backstop: a fleet of
/// processes must rotate DEKs by age, which is the primary control. Counting costs one atomic
/// increment per seal.
///
/// - [`FieldCipher::new`] (sync) seals with one [`DataKey`] and opens what it sealed;
///   [`FieldCipher::add_key`] adds older keys for reading.
/// - [`FieldCipher::from_source`] (async) takes the active key of a [`DataKeySource`];
///   [`FieldCipher::open_resolving`] fetches any other key a ciphertext names from that source.
///
/// ```
/// use ward_crypto::{DataKey, FieldCipher, DekId};
///
/// let cipher = FieldCipher::new(&DataKey::generate(DekId(1))?);
/// let sealed = cipher.seal(b"jane@example.org", b"clients.email:42")?;
/// assert_eq!(cipher.open(&sealed, b"clients.email:42")?.as_slice(), b"jane@example.org");
/// // The same bytes under another context (row, column, workspace) do not open.
/// assert!(cipher.open(&sealed, b"clients.email:43").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FieldCipher {
    active: Option<Arc<FieldKey>>,
    keys: RwLock<HashMap<DekId, Arc<FieldKey>>>,
    source: Option<Arc<dyn DataKeySource>>,
    seal_limit: u64,
}

impl FieldCipher {
    /// Bytes a ciphertext adds to its plaintext (65 in version 1).
    pub const OVERHEAD: usize = format::OVERHEAD;

    /// The most values one DEK seals in one process: 2^31, half the 2^32 random-nonce bound of
    /// NIST SP 800-38D §8.3, which keeps the chance of a nonce collision below about 2^-34.
    pub const MAX_SEALS_PER_KEY: u64 = 1 << 31;

    /// A cipher that seals with `key` and opens ciphertexts written with it.
    pub fn new(key: &DataKey) -> Self {
        let prepared = Arc::new(FieldKey::new(key));
        let keys = HashMap::from([(prepared.id, Arc::clone(&prepared))]);
        Self {
            active: Some(prepared),
            keys: RwLock::new(keys),
            source: None,
            seal_limit: Self::MAX_SEALS_PER_KEY,
        }
    }

    /// A cipher over a workspace's key source: seals with its active key and resolves other key
    /// ids through it in [`open_resolving`](Self::open_resolving).
    ///
    /// A source with no active key still gives a cipher that can open; sealing then fails with
    /// [`Error::NoActiveKey`].
    pub async fn from_source(source: Arc<dyn DataKeySource>) -> Result<Self> {
        let active = match source.active_key().await {
            Ok(key) => Some(Arc::new(FieldKey::new(&key))),
            Err(Error::NoActiveKey) => None,
            Err(e) => return Err(e),
        };
        let keys = active
            .iter()
            .map(|k| (k.id, Arc::clone(k)))
            .collect::<HashMap<_, _>>();
        Ok(Self {
            active,
            keys: RwLock::new(keys),
            source: Some(source),
            seal_limit: Self::MAX_SEALS_PER_KEY,
        })
    }

    /// Lowers the seal limit per DEK (for tests, or an operator who wants rotation sooner).
    /// A value above [`MAX_SEALS_PER_KEY`](Self::MAX_SEALS_PER_KEY) is capped to it.
    ///
    /// The limit is compared with the DEK's process-wide count, which includes seals by other
    /// ciphers over the same DEK.
    #[must_use]
    pub fn with_seal_limit(mut self, limit: u64) -> Self {
        self.seal_limit = limit.min(Self::MAX_SEALS_PER_KEY);
        self
    }

    /// How many seals the active DEK has made (or had refused) in this process, for monitoring;
    /// `None` without an active key.
    pub fn active_key_seals(&self) -> Option<u64> {
        self.active
            .as_ref()
            .map(|k| k.seals.load(Ordering::Relaxed))
    }

    /// Adds `key` for opening (it does not become the sealing key).
    pub fn add_key(&self, key: &DataKey) {
        let prepared = Arc::new(FieldKey::new(key));
        self.write_keys().insert(prepared.id, prepared);
    }

    /// The id of the key [`seal`](Self::seal) uses, if any.
    pub fn active_key_id(&self) -> Option<DekId> {
        self.active.as_ref().map(|k| k.id)
    }

    /// The key id written in a field ciphertext's header, without decrypting anything.
    ///
    /// Fails on bytes too short to be a ciphertext and on unknown format versions.
    pub fn key_id_of(ciphertext: &[u8]) -> Result<DekId> {
        format::peek_key_id(ciphertext)
    }

    /// Drops key `id` from this cipher at once (after destroying it, for example): values under
    /// it no longer open here, and if it was the active key, sealing fails with
    /// [`Error::KeyDestroyed`] from now on. [`open_resolving`](Self::open_resolving) asks the
    /// source again, which reports a destroyed key as such.
    pub fn forget(&self, id: DekId) {
        self.write_keys().remove(&id);
    }

    /// Seals `plaintext` bound to `context` under the active key, with a fresh random nonce.
    ///
    /// Errors: [`Error::NoActiveKey`] for a cipher without one; [`Error::KeyDestroyed`] once the
    /// active key was [forgotten](Self::forget); [`Error::KeyExhausted`] once the active DEK has
    /// sealed its limit of values in this process (see the type's docs): rotate the DEK.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
        let key = self.active.as_ref().ok_or(Error::NoActiveKey)?;
        if !self.read_keys().contains_key(&key.id) {
            return Err(Error::KeyDestroyed { key_id: key.id });
        }
        // Refused attempts are counted too, which only errs towards refusing.
        if key.seals.fetch_add(1, Ordering::Relaxed) >= self.seal_limit {
            return Err(Error::KeyExhausted {
                key_id: key.id,
                limit: self.seal_limit,
            });
        }
        let nonce = random_nonce()?;
        let mut out = format::begin(key.id, &key.commitment, &nonce, plaintext.len());
        out.extend_from_slice(plaintext);
        let (header, _) = out.split_at(format::HEADER_LEN);
        let header: [u8; format::HEADER_LEN] = header
            .try_into()
            .map_err(|_| Error::Internal("field header has a fixed length"))?;
        with_associated_data(&header, context, |aad| {
            key.aead
                .seal_append(&nonce, aad, &mut out, format::HEADER_LEN)
        })?;
        Ok(out)
    }

    /// Opens a ciphertext written with any key this cipher holds, checking it was sealed for
    /// `context`. The plaintext is zeroized when dropped.
    ///
    /// Errors: [`Error::UnknownKeyId`] if the key is not held (see
    /// [`open_resolving`](Self::open_resolving)), [`Error::UnsupportedVersion`] /
    /// [`Error::Malformed`] for bytes that are not a field ciphertext, and [`Error::Decrypt`] for
    /// anything else (modified bytes, wrong key, wrong context).
    pub fn open(&self, ciphertext: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let field = format::parse(ciphertext)?;
        let keys = self.read_keys();
        let key = keys.get(&field.key_id).ok_or(Error::UnknownKeyId {
            key_id: field.key_id,
        })?;
        Self::open_with(key, &field, context)
    }

    /// As [`open`](Self::open), but first fetches the ciphertext's key from the source given to
    /// [`from_source`](Self::from_source) when it is not yet held. Later opens reuse it.
    pub async fn open_resolving(
        &self,
        ciphertext: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let field = format::parse(ciphertext)?;
        let held = self.read_keys().get(&field.key_id).cloned();
        let key = match (held, &self.source) {
            (Some(key), _) => key,
            (None, Some(source)) => {
                let dek = source.key(field.key_id).await?;
                let prepared = Arc::new(FieldKey::new(&dek));
                self.write_keys().insert(prepared.id, Arc::clone(&prepared));
                prepared
            }
            (None, None) => {
                return Err(Error::UnknownKeyId {
                    key_id: field.key_id,
                });
            }
        };
        Self::open_with(&key, &field, context)
    }

    fn open_with(
        key: &FieldKey,
        field: &format::Field<'_>,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if !bool::from(key.commitment.ct_eq(field.commitment)) {
            return Err(Error::Decrypt);
        }
        with_associated_data(field.header, context, |aad| {
            key.aead.open_to_vec(field.nonce, aad, field.sealed)
        })
    }

    fn read_keys(&self) -> std::sync::RwLockReadGuard<'_, HashMap<DekId, Arc<FieldKey>>> {
        // Each update is a single insert, so a poisoned map is still consistent.
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write_keys(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<DekId, Arc<FieldKey>>> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Calls `f` with `header ‖ context`, the AEAD's associated data, built on the stack when it
/// fits (the common case: a column name and a row id), so opening needs no extra allocation.
fn with_associated_data<R>(header: &[u8], context: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    const INLINE: usize = 256;
    let len = header.len() + context.len();
    if len <= INLINE {
        let mut buf = [0u8; INLINE];
        buf[..header.len()].copy_from_slice(header);
        buf[header.len()..len].copy_from_slice(context);
        f(&buf[..len])
    } else {
        let mut aad = Vec::with_capacity(len);
        aad.extend_from_slice(header);
        aad.extend_from_slice(context);
        f(&aad)
    }
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<DekId> = self.read_keys().keys().copied().collect();
        ids.sort();
        f.debug_struct("FieldCipher")
            .field("active_key_id", &self.active_key_id())
            .field("key_ids", &ids)
            .field("source", &self.source)
            .field("seal_limit", &self.seal_limit)
            .finish_non_exhaustive()
    }
}
