//! The stream protocol's keys and chunk sealing: composes key derivation, the STREAM nonce and
//! the AES-256-GCM primitive, with the header bytes (and, from version 2, the caller's context)
//! as every chunk's associated data.

use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::format::{
    COMMITMENT_LEN, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SALT_LEN, StreamHeader, TAG_LEN,
};
use super::nonce::StreamNonce;
use crate::aead::{Aead as _, ObjectAeadKey};
use crate::derive::{LABEL_STREAM_COMMITMENT, LABEL_STREAM_KEY, derive_into, derive_key};
use crate::error::{ApiMisuse, Error, Result};
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

/// Every chunk's associated data: the header bytes, then (from version 2) the caller's context.
/// The header has a fixed length per version, so the split between the two is unambiguous.
fn associated_data(header: &StreamHeader, context: &[u8]) -> Vec<u8> {
    let mut aad = header.to_bytes();
    if header.binds_context() {
        aad.extend_from_slice(context);
    }
    aad
}

/// Plaintext bytes a reader or writer gathers before sealing or opening them in one go, so that
/// the inner reader or writer sees few large operations rather than many chunk-sized ones.
const BATCH_BYTES: usize = 256 * 1024;

/// Chunks per batch for a chunk size: `BATCH_BYTES` worth, at least 1, at most 16.
pub(crate) fn batch_chunks(chunk_size: usize) -> usize {
    (BATCH_BYTES / chunk_size.max(1)).clamp(1, 16)
}

/// Seals the chunks of one stream in order.
pub(crate) struct ChunkSealer {
    aead: ObjectAeadKey,
    aad: Vec<u8>,
    nonce: StreamNonce,
}

impl ChunkSealer {
    /// Starts a new object: checks the chunk size, derives the object's key and commitment from
    /// `dek` and `salt`, and returns the header to write first and the sealer of its chunks.
    ///
    /// `version` is [`CURRENT_VERSION`](super::CURRENT_VERSION) outside tests.
    pub(crate) fn start(
        dek: &DataKey,
        context: &[u8],
        chunk_size: u32,
        salt: [u8; SALT_LEN],
        version: u8,
    ) -> Result<(StreamHeader, Self)> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(Error::ApiMisuse(ApiMisuse::ChunkSizeOutOfRange {
                chunk_size,
            }));
        }
        let (key, commitment) = StreamKey::for_writing(dek, &salt);
        let header = StreamHeader::new(version, dek.id(), chunk_size, salt, commitment);
        let sealer = Self {
            aead: ObjectAeadKey::new(&key.0),
            aad: associated_data(&header, context),
            nonce: StreamNonce::starting_at(0),
        };
        Ok((header, sealer))
    }

    /// A sealer whose key comes from `dek` while `header` may carry another key's commitment:
    /// for the test that proves readers check the commitment, never for writing.
    #[cfg(test)]
    pub(crate) fn forged(dek: &DataKey, header: &StreamHeader, context: &[u8]) -> Self {
        let (key, _) = StreamKey::for_writing(dek, header.salt());
        Self {
            aead: ObjectAeadKey::new(&key.0),
            aad: associated_data(header, context),
            nonce: StreamNonce::starting_at(0),
        }
    }

    /// Seals the next chunks in place. `batch` holds them back to back, each as its plaintext
    /// (`chunk_size` bytes, the last possibly fewer) followed by `TAG_LEN` bytes of room that
    /// receive its tag. The last one is the stream's final chunk if `last`.
    pub(crate) fn seal_batch(
        &mut self,
        batch: &mut [u8],
        chunk_size: usize,
        last: bool,
    ) -> Result<()> {
        let total = batch.len();
        let region = chunk_size + TAG_LEN;
        let count = total.div_ceil(region);
        if count == 0 || total - (count - 1) * region < TAG_LEN {
            return Err(Error::Internal("stream batch without room for its tags"));
        }
        for (i, chunk) in batch.chunks_mut(region).enumerate() {
            let nonce = self.nonce.advance(last && i + 1 == count)?;
            let (body, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
            tag.copy_from_slice(&self.aead.seal_in_place(&nonce, &self.aad, body)?);
        }
        Ok(())
    }
}

/// Opens the chunks of one stream (or of a run of chunks, for a range) in order.
pub(crate) struct ChunkOpener {
    aead: ObjectAeadKey,
    aad: Vec<u8>,
    nonce: StreamNonce,
}

impl ChunkOpener {
    /// An opener whose first chunk is number `first_chunk`, for an object written with
    /// `context` (ignored for a version 1 object, which bound none).
    pub(crate) fn new(
        key: StreamKey,
        header: &StreamHeader,
        context: &[u8],
        first_chunk: u64,
    ) -> Self {
        Self {
            aead: ObjectAeadKey::new(&key.0),
            aad: associated_data(header, context),
            nonce: StreamNonce::starting_at(first_chunk),
        }
    }

    /// The number of the next chunk [`ChunkOpener::open_batch`] opens.
    pub(crate) fn next_chunk(&self) -> u64 {
        self.nonce.counter()
    }

    /// Verifies and decrypts the next chunks in place. `batch` holds them back to back as
    /// written (`chunk_size + TAG_LEN` bytes each, the last possibly shorter but never shorter
    /// than a tag); the last one is the stream's final chunk if `last`.
    ///
    /// On success the plaintext is moved to the front of `batch` and its length returned. On
    /// failure `batch` is zeroized, so no plaintext of any chunk in it is left behind.
    pub(crate) fn open_batch(
        &mut self,
        batch: &mut [u8],
        chunk_size: usize,
        last: bool,
    ) -> Result<usize> {
        let total = batch.len();
        let region = chunk_size + TAG_LEN;
        let count = total.div_ceil(region);
        if count == 0 || total - (count - 1) * region < TAG_LEN {
            return Err(Error::Malformed {
                format: "stream",
                reason: "chunk shorter than its tag",
            });
        }
        let opened = batch
            .chunks_mut(region)
            .enumerate()
            .try_for_each(|(i, chunk)| {
                let nonce = self.nonce.advance(last && i + 1 == count)?;
                let (body, tag) = chunk.split_at_mut(chunk.len() - TAG_LEN);
                let tag: [u8; TAG_LEN] = (&*tag)
                    .try_into()
                    .unwrap_or_else(|_| unreachable!("split leaves exactly one tag"));
                self.aead.open_in_place(&nonce, &self.aad, body, &tag)
            });
        if let Err(e) = opened {
            // Chunks before the failing one were decrypted in place: wipe them.
            batch.zeroize();
            return Err(e);
        }
        // Close the gaps the tags leave: chunk i's plaintext moves to i × chunk_size.
        let mut len = 0;
        for i in 0..count {
            let start = i * region;
            let body = (total.min(start + region) - start) - TAG_LEN;
            batch.copy_within(start..start + body, len);
            len += body;
        }
        Ok(len)
    }
}
