//! The stream format: chunked AES-256-GCM for files of any size, with range reads.
//!
//! An object is a header followed by fixed-size chunks, each sealed with the STREAM
//! construction (Hoang, Reyhanitabar, Rogaway, Vizár, *Online Authenticated-Encryption and its
//! Nonce-Reuse Misuse-Resistance*, 2015). Truncation, extension, reordering, swapping,
//! duplicating or dropping chunks, and any change to the header, are detected; memory stays at
//! about two chunks whatever the object's size; and a byte range can be decrypted from the chunks
//! that cover it alone.
//!
//! # Byte layout (version 2; version 1 shares it)
//!
//! ```text
//! offset  len  field
//!      0    8  magic "WARDSTRM"
//!      8    1  version = 0x02 (0x01 for objects written before contexts existed)
//!      9    4  key id of the data key (DEK), u32 big-endian
//!     13    4  chunk size C in plaintext bytes, u32 big-endian, 1 KiB ..= 4 MiB (default 64 KiB)
//!     17   32  salt: 32 random bytes, fresh for every object
//!     49   32  key commitment = HKDF-SHA256(ikm = DEK, salt, "ward/v1/stream/commitment")
//!     81       chunk 0, chunk 1, …, chunk n-1
//! ```
//!
//! Every chunk is `AES-256-GCM(K, nonce_i, aad, plaintext_i) ‖ tag(16)`, where
//!
//! - `aad` = the 81 header bytes ‖ the caller's **context** (version 2), or the header bytes
//!   alone (version 1). The context says what the object is — a store passes its object key,
//!   which names workspace, owner and attachment — so an object copied onto another key, another
//!   attachment or another workspace fails to open, as a field value moved to another row does.
//!   The context is authenticated, not stored: the reader must supply the same one. A version 1
//!   object opens under any context (see [`StreamHeader::binds_context`]);
//! - `K = HKDF-SHA256(ikm = DEK, salt, "ward/v1/stream/object-key")`, one key per object, so
//!   no GCM nonce or usage limit is ever near;
//! - `nonce_i = 0x000000 ‖ i as u64 big-endian ‖ last`, where `last` is `0x01` for the final
//!   chunk and `0x00` for every other (the prefix is zero because the key is never reused);
//! - every chunk but the final one holds exactly `C` plaintext bytes; the final one holds
//!   `1..=C`, or `0` only when it is the only chunk (an empty plaintext is one empty final chunk).
//!
//! So a plaintext of `L` bytes has `max(1, ⌈L / C⌉)` chunks and the object is
//! `81 + L + 16 × chunks` bytes: [`StreamHeader::ciphertext_len`] and
//! [`StreamHeader::plaintext_len`] map one to the other, and refuse lengths no writer produces.
//!
//! Readers check the key id, then the commitment (in constant time) before opening any chunk:
//! the commitment binds the object to one DEK, which GCM alone does not. Readers accept every
//! version ever written; a version they do not know is [`Error::UnsupportedVersion`].
//!
//! # What this module gives
//!
//! - [`StreamEncryptor`] (`AsyncWrite`: push plaintext in) and [`EncryptingReader`]
//!   (`AsyncRead`: pull ciphertext out of a plaintext reader, for stores that take a body to
//!   read) encrypt; [`StreamDecryptor`] (`AsyncRead`) decrypts; [`encrypt_to_vec`] and
//!   [`decrypt_to_vec`] do whole buffers.
//! - [`StreamHeader`] parses without any key: [`header_len`], [`StreamHeader::key_id`] and the
//!   length functions, so a store can find the key and plan reads first.
//! - [`StreamHeader::plan_range`] returns a [`RangePlan`]: the ciphertext bytes covering a
//!   plaintext range. [`decrypt_range`] and [`StreamDecryptor::for_range`] decrypt them;
//!   [`open_range`] does it all over a seekable file.
//!
//! Decrypted bytes are returned in [`Zeroizing`] buffers, and the readers and writers zeroize
//! their chunk buffers on drop. No error carries key bytes or plaintext.
//!
//! # Reading a range from an object store
//!
//! The flow a store follows: fetch the first [`MAX_HEADER_LEN`] bytes, parse the header without
//! a key, resolve the DEK by the header's key id, plan the range, fetch exactly the planned
//! ciphertext bytes (an HTTP `Range` request), decrypt.
//!
//! ```
//! use ward_crypto::{DataKey, DekId};
//! use ward_crypto::stream::{self, StreamHeader, MAX_HEADER_LEN};
//!
//! // Writing: the whole object, encrypted under the workspace's current DEK.
//! let dek = DataKey::generate(DekId(42))?;
//! let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
//! let context = b"workspaces/w1/clients/c1/attachments/a1.jpg"; // what the object is: its key
//! let object = stream::encrypt_to_vec(&dek, &photo, context)?;  // what the store puts
//!
//! // Reading bytes 70_000..140_000 of the plaintext:
//! // 1. GET bytes 0..MAX_HEADER_LEN (and the object's total length from the response).
//! let head = &object[..MAX_HEADER_LEN.min(object.len())];
//! let total_len = object.len() as u64;
//! // 2. Parse without any key, then resolve the DEK by its id (e.g. from a `DataKeySource`).
//! let header = StreamHeader::parse(head)?;
//! assert_eq!(header.key_id(), DekId(42));
//! // 3. Plan: which ciphertext bytes cover the range.
//! let plan = header.plan_range(70_000..140_000, total_len)?;
//! let fetch = plan.ciphertext_range();
//! assert_eq!(plan.http_range().as_deref(), Some("bytes=65633-196736"));
//! assert!(fetch.end - fetch.start < total_len / 2); // only the covering chunks
//! // 4. GET that range, then decrypt exactly the requested slice.
//! let fetched = &object[fetch.start as usize..fetch.end as usize];
//! let slice = stream::decrypt_range(&dek, &header, &plan, fetched, context)?;
//! assert_eq!(&slice[..], &photo[70_000..140_000]);
//! // The same bytes under another object's name do not open.
//! let moved = stream::decrypt_range(&dek, &header, &plan, fetched, b"workspaces/w1/clients/c1/attachments/a2.jpg");
//! assert!(matches!(moved, Err(ward_crypto::Error::Decrypt)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For a streamed GET, wrap the response body in [`StreamDecryptor::for_range`] instead of
//! collecting it; for a whole object, [`read_header`] then [`StreamDecryptor::with_header`].

mod chunk;
mod encrypting;
mod nonce;
mod range;
mod read;
mod write;

use std::io;

use zeroize::Zeroizing;

pub use encrypting::EncryptingReader;
pub use format::{
    CURRENT_VERSION, DEFAULT_CHUNK_SIZE, MAGIC, MAX_CHUNK_SIZE, MAX_HEADER_LEN, MIN_CHUNK_SIZE,
    StreamHeader, header_len,
};
pub use range::RangePlan;
pub use read::{StreamDecryptor, open_range, read_header};
pub use write::StreamEncryptor;

use chunk::{ChunkOpener, ChunkSealer, StreamKey};
use format::{SALT_LEN, TAG_LEN};

use crate::error::{Error, Result};
// The header layout and grid lengths live with the other byte layouts, in `format/`.
use crate::format::stream as format;
use crate::keys::DataKey;

/// Settings for writing a stream. Readers need none: everything is in the header.
///
/// ```
/// use ward_crypto::stream::StreamOptions;
///
/// let options = StreamOptions::new().with_chunk_size(256 * 1024);
/// assert_eq!(options.chunk_size(), 256 * 1024);
/// assert_eq!(StreamOptions::default().chunk_size(), 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamOptions {
    chunk_size: u32,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl StreamOptions {
    /// The defaults: 64 KiB chunks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Plaintext bytes per chunk, within [`MIN_CHUNK_SIZE`]`..=`[`MAX_CHUNK_SIZE`] (checked when
    /// an encryptor is made). Larger chunks cost more memory and make range reads fetch more;
    /// smaller ones add 16 bytes of tag per chunk.
    pub fn with_chunk_size(mut self, bytes: u32) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }
}

/// Encrypts a whole buffer into a stream with the default options (64 KiB chunks), bound to
/// `context`.
///
/// The context is what the object is (a store passes its object key): the same context must be
/// given to open it, so a ciphertext copied onto another object fails to open. It is
/// authenticated, not stored. For small objects and tests; large ones go through
/// [`StreamEncryptor`] or [`EncryptingReader`] in constant memory.
pub fn encrypt_to_vec(dek: &DataKey, plaintext: &[u8], context: &[u8]) -> Result<Vec<u8>> {
    encrypt_to_vec_with(dek, plaintext, context, &StreamOptions::default())
}

/// Encrypts a whole buffer into a stream bound to `context`, with the given options.
pub fn encrypt_to_vec_with(
    dek: &DataKey,
    plaintext: &[u8],
    context: &[u8],
    options: &StreamOptions,
) -> Result<Vec<u8>> {
    let (header, sealer) = start_object(dek, context, options)?;
    seal_whole(header, sealer, plaintext)
}

/// Starts a new object in the current version, with a fresh random salt: its header and the
/// sealer of its chunks.
pub(crate) fn start_object(
    dek: &DataKey,
    context: &[u8],
    options: &StreamOptions,
) -> Result<(StreamHeader, ChunkSealer)> {
    ChunkSealer::start(
        dek,
        context,
        options.chunk_size(),
        random_salt()?,
        CURRENT_VERSION,
    )
}

/// A fresh random salt for a new object.
fn random_salt() -> Result<[u8; SALT_LEN]> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| Error::Provider {
        provider: "os-random",
        message: e.to_string(),
    })?;
    Ok(salt)
}

/// Writes a whole object: the header, then every chunk of `plaintext` sealed.
pub(crate) fn seal_whole(
    header: StreamHeader,
    mut sealer: ChunkSealer,
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    let total = header.ciphertext_len(plaintext.len() as u64)?;
    let mut out = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    out.extend_from_slice(&header.to_bytes());
    // Lay out every chunk's plaintext followed by room for its tag, then seal them all. An empty
    // plaintext is one empty final chunk: just its tag.
    let chunk = header.chunk_size() as usize;
    for piece in plaintext.chunks(chunk) {
        out.extend_from_slice(piece);
        out.extend_from_slice(&[0u8; TAG_LEN]);
    }
    if plaintext.is_empty() {
        out.extend_from_slice(&[0u8; TAG_LEN]);
    }
    sealer.seal_batch(&mut out[header.encoded_len()..], chunk, true)?;
    Ok(out)
}

/// Decrypts a whole stream held in memory, verifying every chunk and that it was written for
/// `context`.
///
/// Errors: [`Error::Malformed`] or [`Error::UnsupportedVersion`] for a bad header or an
/// impossible length (truncated or extended); [`Error::KeyIdMismatch`] if `dek` has another id
/// than the header; [`Error::Decrypt`] for another key with that id, another context, or any
/// modified, moved or missing chunk.
pub fn decrypt_to_vec(
    dek: &DataKey,
    ciphertext: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let header = StreamHeader::parse(ciphertext)?;
    let key = StreamKey::for_reading(dek, &header)?;
    let len = header.plaintext_len(ciphertext.len() as u64)?;
    let mut opener = ChunkOpener::new(key, &header, context, 0);
    // `plaintext_len` has checked the chunk layout; open every chunk in place, then drop the
    // tags. The buffer never reallocates, so no copy of plaintext is left
    // behind in freed memory.
    let mut out = Zeroizing::new(ciphertext[header.encoded_len()..].to_vec());
    let n = opener.open_batch(&mut out, header.chunk_size() as usize, true)?;
    debug_assert_eq!(n as u64, len);
    out.truncate(n);
    Ok(out)
}

/// Decrypts the ciphertext bytes fetched for `plan` and returns exactly the planned plaintext.
///
/// `fetched` must be exactly the bytes at [`RangePlan::ciphertext_range`] of the object, and
/// `context` the one the object was written for.
///
/// Errors: [`Error::KeyIdMismatch`] or [`Error::Decrypt`] for the wrong key; [`Error::Decrypt`]
/// if any covered chunk was modified or moved, or the object was written for another context;
/// [`Error::Malformed`] if `fetched` has another length than planned; [`Error::ApiMisuse`] if
/// `plan` was made from another header.
pub fn decrypt_range(
    dek: &DataKey,
    header: &StreamHeader,
    plan: &RangePlan,
    fetched: &[u8],
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    plan.check_header(header)?;
    let key = StreamKey::for_reading(dek, header)?;
    if fetched.len() as u64 != plan.ciphertext_len() {
        return Err(Error::Malformed {
            format: "stream range",
            reason: "fetched bytes differ in length from the plan",
        });
    }
    if plan.is_empty() {
        return Ok(Zeroizing::new(Vec::new()));
    }
    let mut opener = ChunkOpener::new(key, header, context, plan.first_chunk());
    let mut out = Zeroizing::new(fetched.to_vec());
    opener.open_batch(
        &mut out,
        header.chunk_size() as usize,
        plan.includes_final_chunk(),
    )?;
    let skip = plan.skip();
    let wanted = plan.plaintext_len() as usize;
    out.copy_within(skip..skip + wanted, 0);
    out.truncate(wanted);
    Ok(out)
}

/// Wraps a ward error into an [`io::Error`] for the `AsyncRead`/`AsyncWrite` traits: bad or
/// forged input is `InvalidData`, caller misuse and internal errors are `Other`, I/O errors pass through.
pub(crate) fn to_io(err: Error) -> io::Error {
    match err {
        Error::Io(e) => e,
        Error::ApiMisuse(_) | Error::Internal(_) => io::Error::other(err),
        _ => io::Error::new(io::ErrorKind::InvalidData, err),
    }
}

#[cfg(test)]
mod tests;
