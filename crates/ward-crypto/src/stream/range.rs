//! Range reads: which ciphertext bytes cover a plaintext range, and decrypting just those.

use std::io::SeekFrom;
use std::ops::Range;

use tokio::io::{AsyncRead, AsyncSeek, AsyncSeekExt};
use zeroize::Zeroizing;

use super::chunk::{ChunkOpener, StreamKey};
use super::format::{StreamHeader, TAG_LEN};
use super::read::{StreamDecryptor, read_header};
use crate::error::{Error, Result};
use crate::keys::DataKey;

/// Which ciphertext bytes to fetch for a plaintext byte range, and how to cut the plaintext out
/// of the chunks they hold. Made by [`StreamHeader::plan_range`].
///
/// Only the chunks that overlap the range are fetched. Each is verified in its position (its
/// counter is part of its nonce) and the object's last chunk is verified as final, so the bytes
/// returned are exactly those written there. A range that does not reach the last chunk cannot
/// tell whether the object was later truncated: read the whole object to prove it complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangePlan {
    // The header the plan was made from: a plan is only ever used with that header.
    header: StreamHeader,
    plaintext: Range<u64>,
    ciphertext: Range<u64>,
    first_chunk: u64,
    chunk_count: u64,
    last_chunk_len: usize,
    includes_final: bool,
    skip: usize,
}

impl StreamHeader {
    /// Plans the read of plaintext bytes `range` from an object of `ciphertext_len` bytes in
    /// total (header included, as a store's `HEAD` or `Content-Range` reports it).
    ///
    /// An empty range (`start == end`, within the plaintext) yields nothing and fetches nothing,
    /// except on an empty object, where the plan fetches and verifies its one empty final chunk.
    ///
    /// Errors: [`Error::RangeOutOfBounds`] if the range ends past the plaintext or starts after
    /// it ends; [`Error::Malformed`] if `ciphertext_len` is impossible for this header.
    pub fn plan_range(&self, range: Range<u64>, ciphertext_len: u64) -> Result<RangePlan> {
        let len = self.plaintext_len(ciphertext_len)?;
        if range.start > range.end || range.end > len {
            return Err(Error::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len,
            });
        }
        let chunk = u64::from(self.chunk_size());
        let sealed = self.sealed_chunk_len();
        let body_start = self.encoded_len() as u64;
        if len == 0 {
            // An empty object is one empty final chunk: fetch and verify it, so that even a whole
            // read of an empty object is authenticated.
            return Ok(RangePlan {
                header: self.clone(),
                plaintext: range,
                ciphertext: body_start..ciphertext_len,
                first_chunk: 0,
                chunk_count: 1,
                last_chunk_len: TAG_LEN,
                includes_final: true,
                skip: 0,
            });
        }
        if range.is_empty() {
            let at = body_start + (range.start / chunk) * sealed;
            return Ok(RangePlan {
                header: self.clone(),
                plaintext: range,
                ciphertext: at..at,
                first_chunk: 0,
                chunk_count: 0,
                last_chunk_len: 0,
                includes_final: false,
                skip: 0,
            });
        }
        let first = range.start / chunk;
        let last = (range.end - 1) / chunk;
        let final_chunk = self.chunk_count(len) - 1;
        let start = body_start + first * sealed;
        let last_start = body_start + last * sealed;
        let end = if last == final_chunk {
            ciphertext_len
        } else {
            last_start + sealed
        };
        Ok(RangePlan {
            header: self.clone(),
            ciphertext: start..end,
            first_chunk: first,
            chunk_count: last - first + 1,
            // At most one sealed chunk, which fits in memory.
            last_chunk_len: (end - last_start) as usize,
            includes_final: last == final_chunk,
            skip: (range.start - first * chunk) as usize,
            plaintext: range,
        })
    }
}

impl RangePlan {
    /// The ciphertext bytes to fetch: offsets into the whole object, header included.
    pub fn ciphertext_range(&self) -> Range<u64> {
        self.ciphertext.clone()
    }

    /// How many ciphertext bytes the plan fetches.
    pub fn ciphertext_len(&self) -> u64 {
        self.ciphertext.end - self.ciphertext.start
    }

    /// The plaintext range the plan yields.
    pub fn plaintext_range(&self) -> Range<u64> {
        self.plaintext.clone()
    }

    /// How many plaintext bytes the plan yields.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext.end - self.plaintext.start
    }

    /// Whether the plan fetches nothing (and so yields nothing): an empty range of a non-empty
    /// object. An empty range of an empty object still fetches its one empty chunk.
    pub fn is_empty(&self) -> bool {
        self.chunk_count == 0
    }

    /// The HTTP `Range` header value for the fetch (`bytes=first-last`, inclusive), or `None` for
    /// a plan that fetches nothing.
    pub fn http_range(&self) -> Option<String> {
        (!self.is_empty()).then(|| {
            format!(
                "bytes={}-{}",
                self.ciphertext.start,
                self.ciphertext.end - 1
            )
        })
    }

    /// Refuses a header other than the one the plan was made from: its chunk grid, key or salt
    /// could differ, and the plan's offsets would be wrong for it.
    pub(crate) fn check_header(&self, header: &StreamHeader) -> Result<()> {
        if self.header != *header {
            return Err(Error::ApiMisuse(
                "range plan used with another stream header than it was made from",
            ));
        }
        Ok(())
    }

    pub(crate) fn first_chunk(&self) -> u64 {
        self.first_chunk
    }

    pub(crate) fn chunk_count(&self) -> u64 {
        self.chunk_count
    }

    pub(crate) fn last_chunk_len(&self) -> usize {
        self.last_chunk_len
    }

    pub(crate) fn includes_final_chunk(&self) -> bool {
        self.includes_final
    }

    pub(crate) fn skip(&self) -> usize {
        self.skip
    }
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

/// Opens plaintext bytes `range` of an encrypted object in a seekable source (a file): reads the
/// header, finds the object's length, seeks to the covering chunks and returns a reader that
/// yields exactly the range.
///
/// Errors: as [`StreamHeader::plan_range`] and [`StreamDecryptor::for_range`], plus
/// [`Error::Io`].
///
/// ```
/// use tokio::io::AsyncReadExt;
/// use ward_crypto::{DataKey, KeyId};
/// use ward_crypto::stream::{encrypt_to_vec, open_range};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let dek = DataKey::generate(KeyId(3))?;
/// let plaintext: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
/// let file = std::io::Cursor::new(encrypt_to_vec(&dek, &plaintext, b"scan.pdf")?);
///
/// let mut reader = open_range(&dek, file, 100_000..100_010, b"scan.pdf").await?;
/// let mut slice = Vec::new();
/// reader.read_to_end(&mut slice).await?;
/// assert_eq!(slice, &plaintext[100_000..100_010]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn open_range<R: AsyncRead + AsyncSeek + Unpin>(
    dek: &DataKey,
    mut source: R,
    range: Range<u64>,
    context: &[u8],
) -> Result<StreamDecryptor<R>> {
    source.seek(SeekFrom::Start(0)).await?;
    let header = read_header(&mut source).await?;
    let total = source.seek(SeekFrom::End(0)).await?;
    let plan = header.plan_range(range, total)?;
    source
        .seek(SeekFrom::Start(plan.ciphertext_range().start))
        .await?;
    StreamDecryptor::for_range(dek, &header, &plan, source, context)
}
