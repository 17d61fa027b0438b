//! Range plans: which ciphertext bytes cover a plaintext range, as arithmetic on the chunk grid
//! (no keys, no I/O). Decrypting them is [`decrypt_range`](super::decrypt_range),
//! [`StreamDecryptor::for_range`](super::StreamDecryptor::for_range) and
//! [`open_range`](super::open_range).

use std::ops::Range;

use super::format::{StreamHeader, TAG_LEN};
use crate::error::{ApiMisuse, Error, Result};

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
            return Err(ApiMisuse::RangePlanForAnotherHeader.into());
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
