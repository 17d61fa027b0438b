//! [`StreamDecryptor`]: an `AsyncRead` that verifies and decrypts a stream, or a planned range
//! of one, chunk by chunk.

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, ReadBuf};
use zeroize::{Zeroize, Zeroizing};

use super::chunk::{ChunkOpener, StreamKey, batch_chunks};
use super::format::{MAGIC, MAX_HEADER_LEN, StreamHeader, TAG_LEN, header_len};
use super::range::RangePlan;
use super::to_io;
use crate::error::{ApiMisuse, Error, Result};
use crate::keys::DataKey;

/// Reads exactly one stream header from the start of `reader`, consuming no byte past it.
///
/// The reader is then positioned at the first chunk, ready for
/// [`StreamDecryptor::with_header`] once the header's key id has been resolved to a data key.
///
/// Errors: [`Error::Malformed`] or [`Error::UnsupportedVersion`] for a bad header (a reader that
/// ends early is a truncated header); [`Error::Io`] if reading fails.
pub async fn read_header<R: AsyncRead + Unpin>(reader: &mut R) -> Result<StreamHeader> {
    let mut buf = [0u8; MAX_HEADER_LEN];
    let start = MAGIC.len() + 1;
    read_exact_or_truncated(reader, &mut buf[..start]).await?;
    let len = header_len(&buf[..start])?;
    read_exact_or_truncated(reader, &mut buf[start..len]).await?;
    StreamHeader::parse(&buf[..len])
}

async fn read_exact_or_truncated<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> Result<()> {
    match reader.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::Malformed {
            format: "stream header",
            reason: "truncated header",
        }),
        Err(e) => Err(Error::Io(e)),
    }
}

/// How chunk boundaries and the final chunk are found.
enum Framing {
    /// A whole stream: the header is still to be read, with this key and context.
    Header {
        dek: DataKey,
        context: Vec<u8>,
        filled: usize,
    },
    /// A whole stream: a chunk shorter than a full one, or followed by end of input, is final.
    /// One byte is read ahead to tell a full final chunk from a full middle one.
    UntilEof { carry: Option<u8> },
    /// A planned range: exactly `chunks_left` chunks, the last `last_len` bytes long.
    Planned {
        chunks_left: u64,
        last_len: usize,
        last_is_final: bool,
    },
    /// The final chunk (or the range's last) has been opened.
    Done,
    /// A chunk failed to open; every further read fails.
    Failed,
}

pin_project! {
    /// Decrypts a stream: wraps any [`AsyncRead`] over ciphertext and yields the plaintext.
    ///
    /// Guarantees:
    /// - no plaintext of a chunk is released before that chunk's tag has been verified;
    /// - truncation, reordering, duplication, dropping or modification of chunks, and a changed
    ///   header, make a read fail (an [`io::Error`] whose inner error is a ward [`Error`]; get it
    ///   back with [`Error::from_io`]);
    /// - a stream missing its final chunk fails at end of input: it never reads as a silent short
    ///   file. End of file (`Ok(0)`) is only returned after the final chunk verified.
    ///
    /// Memory is one batch buffer (256 KiB of ciphertext with the default chunk size, never less
    /// than one chunk), whatever the stream's length; it is zeroized on drop. Chunks are opened a
    /// batch at a time, and none of a batch's plaintext is released before all of its chunks
    /// verified.
    ///
    /// ```
    /// use tokio::io::AsyncReadExt;
    /// use ward_crypto::{DataKey, DekId};
    /// use ward_crypto::stream::{StreamDecryptor, encrypt_to_vec};
    ///
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let dek = DataKey::generate(DekId(1))?;
    /// let ciphertext = encrypt_to_vec(&dek, b"x-ray, left wrist", b"xray-7.jpg")?;
    ///
    /// let mut dec = StreamDecryptor::new(&dek, &ciphertext[..], b"xray-7.jpg");
    /// let mut plaintext = Vec::new();
    /// dec.read_to_end(&mut plaintext).await?;
    /// assert_eq!(plaintext, b"x-ray, left wrist");
    ///
    /// // Cut off the last byte: the final chunk fails to verify, the read does not come back short.
    /// let cut = &ciphertext[..ciphertext.len() - 1];
    /// let err = StreamDecryptor::new(&dek, cut, b"xray-7.jpg").read_to_end(&mut Vec::new()).await.unwrap_err();
    /// assert!(matches!(ward_crypto::Error::from_io(err), ward_crypto::Error::Decrypt));
    ///
    /// // The same bytes read as another object fail too.
    /// let err = StreamDecryptor::new(&dek, &ciphertext[..], b"xray-8.jpg").read_to_end(&mut Vec::new()).await.unwrap_err();
    /// assert!(matches!(ward_crypto::Error::from_io(err), ward_crypto::Error::Decrypt));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct StreamDecryptor<R> {
        #[pin]
        inner: R,
        opener: Option<ChunkOpener>,
        framing: Framing,
        chunk_size: usize,
        // Chunks opened together.
        batch: usize,
        // Raw sealed bytes while filling; plaintext at `plain_pos..plain_end` once opened.
        buf: Zeroizing<Vec<u8>>,
        filled: usize,
        plain_pos: usize,
        plain_end: usize,
        // Plaintext bytes to drop from the next opened chunk (a range's offset in its first chunk).
        skip: usize,
        // Plaintext bytes still to hand out (a range's length; `u64::MAX` for a whole stream).
        remaining: u64,
    }
}

impl<R: AsyncRead> StreamDecryptor<R> {
    /// A decryptor over a whole stream, header included, opening it with `dek` as the object
    /// `context` names.
    ///
    /// The header is read and checked on the first read: a wrong key fails that read with
    /// [`Error::KeyIdMismatch`] (another key id) or [`Error::Decrypt`] (same id, other key
    /// material); another context fails the first chunk with [`Error::Decrypt`]. Use
    /// [`read_header`] and [`StreamDecryptor::with_header`] to learn the key id before choosing
    /// the key.
    pub fn new(dek: &DataKey, inner: R, context: &[u8]) -> Self {
        Self {
            inner,
            opener: None,
            framing: Framing::Header {
                dek: dek.duplicate(),
                context: context.to_vec(),
                filled: 0,
            },
            chunk_size: 0,
            batch: 1,
            buf: Zeroizing::new(vec![0u8; MAX_HEADER_LEN]),
            filled: 0,
            plain_pos: 0,
            plain_end: 0,
            skip: 0,
            remaining: u64::MAX,
        }
    }

    /// A decryptor over the chunks of a stream whose header has already been read (by
    /// [`read_header`] or [`StreamHeader::parse`]); `inner` starts at the first chunk.
    ///
    /// Errors: [`Error::KeyIdMismatch`] or [`Error::Decrypt`] if `dek` is not the header's key.
    /// A read fails with [`Error::Decrypt`] if the object was written for another `context`.
    pub fn with_header(
        dek: &DataKey,
        header: &StreamHeader,
        inner: R,
        context: &[u8],
    ) -> Result<Self> {
        let key = StreamKey::for_reading(dek, header)?;
        let chunk_size = header.chunk_size() as usize;
        let batch = batch_chunks(chunk_size);
        Ok(Self {
            inner,
            opener: Some(ChunkOpener::new(key, header, context, 0)),
            framing: Framing::UntilEof { carry: None },
            chunk_size,
            batch,
            buf: Zeroizing::new(vec![0u8; batch * (chunk_size + TAG_LEN) + 1]),
            filled: 0,
            plain_pos: 0,
            plain_end: 0,
            skip: 0,
            remaining: u64::MAX,
        })
    }

    /// A decryptor over the ciphertext bytes fetched for `plan` (exactly
    /// [`RangePlan::ciphertext_range`] of the object); it yields exactly the plan's plaintext
    /// range, verifying every chunk it covers.
    ///
    /// Errors: [`Error::KeyIdMismatch`] or [`Error::Decrypt`] if `dek` is not the header's key;
    /// [`Error::ApiMisuse`] if `plan` was made from another header. A read fails if `inner` ends
    /// before the planned bytes, or with [`Error::Decrypt`] if the object was written for another
    /// `context`.
    pub fn for_range(
        dek: &DataKey,
        header: &StreamHeader,
        plan: &RangePlan,
        inner: R,
        context: &[u8],
    ) -> Result<Self> {
        plan.check_header(header)?;
        let key = StreamKey::for_reading(dek, header)?;
        let chunk_size = header.chunk_size() as usize;
        let framing = if plan.is_empty() {
            Framing::Done
        } else {
            Framing::Planned {
                chunks_left: plan.chunk_count(),
                last_len: plan.last_chunk_len(),
                last_is_final: plan.includes_final_chunk(),
            }
        };
        let batch = batch_chunks(chunk_size);
        let buf_len = if plan.is_empty() {
            0
        } else {
            // No bigger than the plan needs.
            let chunks = usize::try_from(plan.chunk_count()).map_or(batch, |n| n.min(batch));
            chunks * (chunk_size + TAG_LEN)
        };
        Ok(Self {
            inner,
            opener: Some(ChunkOpener::new(key, header, context, plan.first_chunk())),
            framing,
            chunk_size,
            batch,
            buf: Zeroizing::new(vec![0u8; buf_len]),
            filled: 0,
            plain_pos: 0,
            plain_end: 0,
            skip: plan.skip(),
            remaining: plan.plaintext_len(),
        })
    }
}

impl<R> StreamDecryptor<R> {
    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gives back the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R> std::fmt::Debug for StreamDecryptor<R> {
    /// Shows the reading state and sizes, never key material or plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.framing {
            Framing::Header { .. } => "header",
            Framing::UntilEof { .. } | Framing::Planned { .. } => "chunks",
            Framing::Done => "done",
            Framing::Failed => "failed",
        };
        f.debug_struct("StreamDecryptor")
            .field("state", &state)
            .field("chunk_size", &self.chunk_size)
            .field("buffered_plaintext", &(self.plain_end - self.plain_pos))
            .finish_non_exhaustive()
    }
}

/// Reads into `buf[*filled..want]` until full or end of input; returns whether input ended.
fn poll_fill<R: AsyncRead>(
    mut inner: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
    filled: &mut usize,
    want: usize,
) -> Poll<io::Result<bool>> {
    while *filled < want {
        let mut rb = ReadBuf::new(&mut buf[*filled..want]);
        ready!(inner.as_mut().poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        if n == 0 {
            return Poll::Ready(Ok(true));
        }
        *filled += n;
    }
    Poll::Ready(Ok(false))
}

const TRUNCATED: Error = Error::Malformed {
    format: "stream",
    reason: "truncated: final chunk missing",
};

impl<R: AsyncRead> AsyncRead for StreamDecryptor<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if *this.plain_pos < *this.plain_end && *this.remaining > 0 {
                let available = *this.plain_end - *this.plain_pos;
                let n = available
                    .min(out.remaining())
                    .min(usize::try_from(*this.remaining).unwrap_or(usize::MAX));
                out.put_slice(&this.buf[*this.plain_pos..*this.plain_pos + n]);
                *this.plain_pos += n;
                *this.remaining -= n as u64;
                return Poll::Ready(Ok(()));
            }
            // The chunk's plaintext is used up; the next chunk's ciphertext overwrites it, and
            // the buffer is wiped on drop.
            *this.plain_pos = 0;
            *this.plain_end = 0;
            let (sealed_len, last) = match this.framing {
                Framing::Done => return Poll::Ready(Ok(())),
                Framing::Failed => {
                    return Poll::Ready(Err(to_io(ApiMisuse::ReadAfterDecryptFailure.into())));
                }
                Framing::Header {
                    dek,
                    context,
                    filled,
                } => {
                    let start = MAGIC.len() + 1;
                    let eof = ready!(poll_fill(this.inner.as_mut(), cx, this.buf, filled, start))?;
                    let parsed = if eof {
                        Err(TRUNCATED_HEADER)
                    } else {
                        header_len(&this.buf[..start])
                    };
                    let len = match parsed {
                        Ok(len) => len,
                        Err(e) => {
                            *this.framing = Framing::Failed;
                            return Poll::Ready(Err(to_io(e)));
                        }
                    };
                    let eof = ready!(poll_fill(this.inner.as_mut(), cx, this.buf, filled, len))?;
                    let opened = if eof {
                        Err(TRUNCATED_HEADER)
                    } else {
                        StreamHeader::parse(&this.buf[..len]).and_then(|header| {
                            StreamKey::for_reading(dek, &header).map(|key| (key, header))
                        })
                    };
                    match opened {
                        Ok((key, header)) => {
                            *this.chunk_size = header.chunk_size() as usize;
                            *this.batch = batch_chunks(*this.chunk_size);
                            *this.opener = Some(ChunkOpener::new(key, &header, context, 0));
                            **this.buf = vec![0u8; *this.batch * (*this.chunk_size + TAG_LEN) + 1];
                            *this.framing = Framing::UntilEof { carry: None };
                            continue;
                        }
                        Err(e) => {
                            *this.framing = Framing::Failed;
                            return Poll::Ready(Err(to_io(e)));
                        }
                    }
                }
                Framing::UntilEof { carry } => {
                    if let Some(byte) = carry.take() {
                        this.buf[0] = byte;
                        *this.filled = 1;
                    }
                    let region = *this.chunk_size + TAG_LEN;
                    let full = *this.batch * region;
                    let eof = ready!(poll_fill(
                        this.inner.as_mut(),
                        cx,
                        this.buf,
                        this.filled,
                        full + 1
                    ))?;
                    if eof {
                        // The input ended inside this batch: its last chunk is the final one.
                        let n = *this.filled;
                        let chunks = n.div_ceil(region);
                        let last_len = n.saturating_sub(chunks.saturating_sub(1) * region);
                        let only_chunk =
                            chunks == 1 && this.opener.as_ref().is_none_or(|o| o.next_chunk() == 0);
                        if n < TAG_LEN || last_len < TAG_LEN || (last_len == TAG_LEN && !only_chunk)
                        {
                            *this.framing = Framing::Failed;
                            return Poll::Ready(Err(to_io(TRUNCATED)));
                        }
                        (n, true)
                    } else {
                        // More input follows: no chunk of this batch is the final one.
                        *carry = Some(this.buf[full]);
                        (full, false)
                    }
                }
                Framing::Planned {
                    chunks_left,
                    last_len,
                    last_is_final,
                } => {
                    let region = *this.chunk_size + TAG_LEN;
                    let chunks = (*this.batch as u64).min(*chunks_left);
                    let ends_plan = chunks == *chunks_left;
                    // At most one batch: fits in memory, so the casts cannot truncate.
                    let want =
                        (chunks as usize - 1) * region + if ends_plan { *last_len } else { region };
                    let eof = ready!(poll_fill(
                        this.inner.as_mut(),
                        cx,
                        this.buf,
                        this.filled,
                        want
                    ))?;
                    if eof {
                        *this.framing = Framing::Failed;
                        return Poll::Ready(Err(to_io(Error::Malformed {
                            format: "stream range",
                            reason: "fewer bytes than the plan fetches",
                        })));
                    }
                    *chunks_left -= chunks;
                    (want, ends_plan && *last_is_final)
                }
            };
            // `sealed_len` bytes are buffered: verify every chunk, then decrypt.
            *this.filled = 0;
            let finished = match this.framing {
                Framing::Planned { chunks_left, .. } => *chunks_left == 0,
                _ => last,
            };
            let chunk_size = *this.chunk_size;
            let opened = match this.opener.as_mut() {
                Some(opener) => opener.open_batch(&mut this.buf[..sealed_len], chunk_size, last),
                None => Err(Error::Internal("stream opener missing")),
            };
            match opened {
                Ok(len) => {
                    let skip = std::mem::take(this.skip).min(len);
                    *this.plain_pos = skip;
                    *this.plain_end = len;
                    if finished {
                        *this.framing = Framing::Done;
                        *this.opener = None;
                    }
                }
                Err(e) => {
                    this.buf.zeroize();
                    *this.framing = Framing::Failed;
                    return Poll::Ready(Err(to_io(e)));
                }
            }
        }
    }
}

const TRUNCATED_HEADER: Error = Error::Malformed {
    format: "stream header",
    reason: "truncated header",
};

/// Opens plaintext bytes `range` of an encrypted object in a seekable source (a file): reads the
/// header, finds the object's length, seeks to the covering chunks and returns a reader that
/// yields exactly the range.
///
/// Errors: as [`StreamHeader::plan_range`] and [`StreamDecryptor::for_range`], plus
/// [`Error::Io`].
///
/// ```
/// use tokio::io::AsyncReadExt;
/// use ward_crypto::{DataKey, DekId};
/// use ward_crypto::stream::{encrypt_to_vec, open_range};
///
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let dek = DataKey::generate(DekId(3))?;
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
