//! Rotation helpers: rewrap DEKs under a new KEK version without touching data, re-encrypt a
//! field under the active DEK, and count which key versions data (fields and stream objects)
//! still uses before retiring one.

use std::collections::BTreeMap;

use crate::dek::WrappedKeySource;
use crate::error::{Error, Result};
use crate::field::FieldCipher;
use crate::kek::{KeyEncryptionKey, WrappedDataKey};
use crate::keys::DekId;
use crate::stream::StreamHeader;

/// Unwraps `wrapped` (under whichever KEK version it names) and wraps the same DEK under the
/// active version, bound to the same `context`. Data encrypted with the DEK is untouched and stays
/// readable. A key already under the active version is rewrapped too (fresh nonce); use
/// [`needs_rewrap`] to skip those.
pub async fn rewrap(
    kek: &dyn KeyEncryptionKey,
    wrapped: &WrappedDataKey,
    context: &[u8],
) -> Result<WrappedDataKey> {
    let dek = kek.unwrap(wrapped, context).await?;
    let rewrapped = kek.wrap(&dek, context).await?;
    tracing::debug!(
        dek_id = %wrapped.dek_id(),
        from_kek = %wrapped.kek_id(),
        to_kek = %rewrapped.kek_id(),
        "rewrapped data key"
    );
    Ok(rewrapped)
}

/// Whether `wrapped` is under a KEK version other than the active one.
pub fn needs_rewrap(kek: &dyn KeyEncryptionKey, wrapped: &WrappedDataKey) -> bool {
    wrapped.kek_id() != kek.active_id()
}

/// Rewraps every key of `source` that is not under its KEK's active version, replacing the stored
/// form. Returns how many keys were rewrapped.
pub async fn rewrap_source(source: &WrappedKeySource) -> Result<usize> {
    let kek = source.kek().as_ref();
    let mut count = 0;
    for wrapped in source.all_wrapped() {
        if needs_rewrap(kek, &wrapped) {
            let rewrapped = rewrap(kek, &wrapped, source.context()).await?;
            source.replace(rewrapped)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Re-encrypts one field ciphertext under `cipher`'s active key, if it is under another.
///
/// Returns `None` when the field already uses the active key (nothing to write), otherwise the
/// new ciphertext for the same `context`. Older keys are fetched through the cipher's source.
pub async fn reencrypt_field(
    cipher: &FieldCipher,
    ciphertext: &[u8],
    context: &[u8],
) -> Result<Option<Vec<u8>>> {
    let active = cipher.active_key_id().ok_or(Error::NoActiveKey)?;
    if FieldCipher::key_id_of(ciphertext)? == active {
        return Ok(None);
    }
    let plaintext = cipher.open_resolving(ciphertext, context).await?;
    cipher.seal(&plaintext, context).map(Some)
}

/// How many ciphertexts use each key id: what an operator checks before retiring a key.
///
/// ```
/// use ward_crypto::{DataKey, FieldCipher, DekId, KeyUsage};
///
/// let v1 = FieldCipher::new(&DataKey::generate(DekId(1))?);
/// let v2 = FieldCipher::new(&DataKey::generate(DekId(2))?);
/// let column = [v1.seal(b"a", b"c")?, v2.seal(b"b", b"c")?, v2.seal(b"c", b"c")?];
/// let usage = KeyUsage::of_fields(&column);
/// assert_eq!(usage.count(DekId(1)), 1);
/// assert_eq!(usage.count(DekId(2)), 2);
/// assert_eq!(usage.unreadable(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUsage {
    by_key: BTreeMap<DekId, u64>,
    unreadable: u64,
}

impl KeyUsage {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts every field ciphertext of `fields` by the key id in its header.
    pub fn of_fields<I>(fields: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        let mut usage = Self::new();
        for field in fields {
            usage.record_field(field.as_ref());
        }
        usage
    }

    /// Counts one field ciphertext; bytes that are not one count as unreadable.
    pub fn record_field(&mut self, ciphertext: &[u8]) {
        match FieldCipher::key_id_of(ciphertext) {
            Ok(id) => self.record(id),
            Err(_) => self.unreadable += 1,
        }
    }

    /// Counts one stream object by the key id in its header; `prefix` is the object's first
    /// [`MAX_HEADER_LEN`](crate::stream::MAX_HEADER_LEN) bytes (or all of it). Bytes that are not
    /// a stream header count as unreadable.
    pub fn record_stream_header(&mut self, prefix: &[u8]) {
        match StreamHeader::parse(prefix) {
            Ok(header) => self.record(header.key_id()),
            Err(_) => self.unreadable += 1,
        }
    }

    /// Counts one ciphertext known to use key `id`.
    pub fn record(&mut self, id: DekId) {
        *self.by_key.entry(id).or_insert(0) += 1;
    }

    /// Adds another report's counts to this one (for reports built in parallel).
    pub fn merge(&mut self, other: &Self) {
        for (id, n) in &other.by_key {
            *self.by_key.entry(*id).or_insert(0) += n;
        }
        self.unreadable += other.unreadable;
    }

    /// How many ciphertexts use key `id`.
    pub fn count(&self, id: DekId) -> u64 {
        self.by_key.get(&id).copied().unwrap_or(0)
    }

    /// Every key id in use with its count, ascending by id.
    pub fn by_key(&self) -> impl Iterator<Item = (DekId, u64)> + '_ {
        self.by_key.iter().map(|(id, n)| (*id, *n))
    }

    /// How many inputs were not ciphertexts of a known format version.
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    /// Whether no counted ciphertext uses key `id`, so it may be retired (given every store was
    /// counted).
    pub fn is_unused(&self, id: DekId) -> bool {
        self.count(id) == 0
    }
}
