//! The stream protocol's keys and chunk sealing: composes key derivation, the STREAM nonce and
//! the AES-256-GCM primitive, with the header bytes as every chunk's associated data.

use subtle::ConstantTimeEq;

use super::format::{COMMITMENT_LEN, SALT_LEN, StreamHeader, TAG_LEN};
use super::nonce::StreamNonce;
use crate::aead::AeadKey;
use crate::derive::{LABEL_STREAM_COMMITMENT, LABEL_STREAM_KEY, derive_into, derive_key};
use crate::error::{Error, Result};
use crate::keys::{DataKey, KeyMaterial};

/// The per-object key: HKDF-SHA256 of the data key with the object's salt.
///
/// Not `Clone`: it is moved by value into one sealer or opener, so one key drives one nonce
/// sequence.
pub(crate) struct StreamKey(KeyMaterial);

impl StreamKey {
    /// Derives the key for a new object and the commitment its header carries.
    pub(crate) fn for_writing(
        dek: &DataKey,
        salt: &[u8; SALT_LEN],
    ) -> (Self, [u8; COMMITMENT_LEN]) {
        (
            Self(derive_key(dek.material(), salt, LABEL_STREAM_KEY)),
            commitment(dek, salt),
        )
    }

    /// Derives the key to read an object, after checking that `dek` is the key the header names
    /// (by id) and commits to (by the commitment, compared in constant time).
    pub(crate) fn for_reading(dek: &DataKey, header: &StreamHeader) -> Result<Self> {
        if dek.id() != header.key_id() {
            return Err(Error::KeyIdMismatch {
                expected: header.key_id(),
                actual: dek.id(),
            });
        }
        let expected = commitment(dek, header.salt());
        if !bool::from(expected.ct_eq(header.commitment())) {
            return Err(Error::Decrypt);
        }
        Ok(Self(derive_key(
            dek.material(),
            header.salt(),
            LABEL_STREAM_KEY,
        )))
    }
}

/// The key commitment: binds the header to one data key, so a stream cannot open under two keys
/// even though GCM alone is not key-committing.
fn commitment(dek: &DataKey, salt: &[u8; SALT_LEN]) -> [u8; COMMITMENT_LEN] {
    let mut out = [0u8; COMMITMENT_LEN];
    derive_into(dek.material(), salt, LABEL_STREAM_COMMITMENT, &mut out);
    out
}

/// Seals the chunks of one stream in order.
pub(crate) struct ChunkSealer {
    aead: AeadKey,
    aad: Vec<u8>,
    nonce: StreamNonce,
}

impl ChunkSealer {
    pub(crate) fn new(key: StreamKey, header: &StreamHeader) -> Self {
        Self {
            aead: AeadKey::new(&key.0),
            aad: header.to_bytes(),
            nonce: StreamNonce::starting_at(0),
        }
    }

    /// Encrypts the next chunk in place and returns its tag.
    pub(crate) fn seal_next(&mut self, chunk: &mut [u8], last: bool) -> Result<[u8; TAG_LEN]> {
        let nonce = self.nonce.advance(last)?;
        self.aead.seal_in_place(&nonce, &self.aad, chunk)
    }
}

/// Opens the chunks of one stream (or of a run of chunks, for a range) in order.
pub(crate) struct ChunkOpener {
    aead: AeadKey,
    aad: Vec<u8>,
    nonce: StreamNonce,
}

impl ChunkOpener {
    /// An opener whose first chunk is number `first_chunk`.
    pub(crate) fn new(key: StreamKey, header: &StreamHeader, first_chunk: u64) -> Self {
        Self {
            aead: AeadKey::new(&key.0),
            aad: header.to_bytes(),
            nonce: StreamNonce::starting_at(first_chunk),
        }
    }

    /// The number of the chunk [`ChunkOpener::open_next`] opens next.
    pub(crate) fn next_chunk(&self) -> u64 {
        self.nonce.counter()
    }

    /// Verifies and decrypts the next chunk, `sealed` being its ciphertext followed by its tag.
    /// Returns the plaintext length; `sealed[..len]` then holds the plaintext. On failure `sealed`
    /// holds no plaintext.
    pub(crate) fn open_next(&mut self, sealed: &mut [u8], last: bool) -> Result<usize> {
        let len = sealed.len().checked_sub(TAG_LEN).ok_or(Error::Malformed {
            format: "stream",
            reason: "chunk shorter than its tag",
        })?;
        let (body, tag) = sealed.split_at_mut(len);
        let tag: [u8; TAG_LEN] = (&*tag)
            .try_into()
            .unwrap_or_else(|_| unreachable!("split leaves exactly one tag"));
        let nonce = self.nonce.advance(last)?;
        self.aead.open_in_place(&nonce, &self.aad, body, &tag)?;
        Ok(len)
    }
}
