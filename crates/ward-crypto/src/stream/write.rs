//! [`StreamEncryptor`]: an `AsyncWrite` that encrypts everything written through it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::io::AsyncWrite;
use zeroize::Zeroizing;

use super::chunk::{ChunkSealer, batch_chunks};
use super::format::{StreamHeader, TAG_LEN};
use super::{StreamOptions, start_object, to_io};
use crate::error::{ApiMisuse, Result};
use crate::keys::DataKey;

pin_project! {
    /// Encrypts a stream: wraps any [`AsyncWrite`], writes the header, then one sealed chunk per
    /// `chunk_size` plaintext bytes.
    ///
    /// Call [`shutdown`](tokio::io::AsyncWriteExt::shutdown) when done: it seals the final chunk
    /// and shuts the inner writer down. A stream dropped without `shutdown` lacks its final chunk,
    /// and every reader refuses it. `flush` writes out every chunk sealed so far; chunks are sealed
    /// a batch at a time once more data follows them, so up to one batch stays buffered.
    ///
    /// Memory is two batch buffers (256 KiB of plaintext each with the default chunk size, never
    /// less than one chunk), whatever the stream's length; both are zeroized on drop.
    ///
    /// ```
    /// use tokio::io::AsyncWriteExt;
    /// use ward_crypto::{DataKey, DekId};
    /// use ward_crypto::stream::{StreamEncryptor, decrypt_to_vec};
    ///
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let dek = DataKey::generate(DekId(1))?;
    /// let mut enc = StreamEncryptor::new(&dek, Vec::new(), b"consent-42.pdf")?;
    /// enc.write_all(b"consent form, page 1").await?;
    /// enc.shutdown().await?;
    /// let ciphertext = enc.into_inner();
    /// assert_eq!(&decrypt_to_vec(&dek, &ciphertext, b"consent-42.pdf")?[..], b"consent form, page 1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct StreamEncryptor<W> {
        #[pin]
        inner: W,
        header: StreamHeader,
        // `None` once the final chunk is sealed.
        sealer: Option<ChunkSealer>,
        chunk_size: usize,
        // Plaintext bytes a batch holds before it is sealed.
        batch_len: usize,
        // The batch being filled: each chunk's plaintext followed by room for its tag (the last
        // chunk's room is added when the batch is sealed).
        plain: Zeroizing<Vec<u8>>,
        // Plaintext bytes in `plain`.
        plain_len: usize,
        // Sealed bytes (header, chunks) not yet accepted by `inner`, from `out_pos` on.
        out: Zeroizing<Vec<u8>>,
        out_pos: usize,
    }
}

impl<W: AsyncWrite> StreamEncryptor<W> {
    /// An encryptor with the default options (64 KiB chunks) writing into `inner` a stream bound
    /// to `context` (what the object is; readers must give the same context).
    pub fn new(dek: &DataKey, inner: W, context: &[u8]) -> Result<Self> {
        Self::with_options(dek, inner, context, &StreamOptions::default())
    }

    /// An encryptor with the given options writing into `inner` a stream bound to `context`.
    ///
    /// Errors: [`Error::ApiMisuse`](crate::Error::ApiMisuse) if the chunk size is outside
    /// [`MIN_CHUNK_SIZE`](super::MIN_CHUNK_SIZE)`..=`[`MAX_CHUNK_SIZE`](super::MAX_CHUNK_SIZE);
    /// [`Error::Provider`](crate::Error::Provider) if the operating system's random generator
    /// fails.
    pub fn with_options(
        dek: &DataKey,
        inner: W,
        context: &[u8],
        options: &StreamOptions,
    ) -> Result<Self> {
        let started = start_object(dek, context, options)?;
        Ok(Self::started(inner, started))
    }

    /// An encryptor over a header and sealer made by [`ChunkSealer::start`] (tests choose the
    /// salt and version there).
    pub(crate) fn started(inner: W, (header, sealer): (StreamHeader, ChunkSealer)) -> Self {
        let chunk = header.chunk_size() as usize;
        let chunks = batch_chunks(chunk);
        let capacity = chunks * (chunk + TAG_LEN);
        let mut out = Zeroizing::new(Vec::with_capacity(capacity));
        out.extend_from_slice(&header.to_bytes());
        Self {
            inner,
            header,
            sealer: Some(sealer),
            chunk_size: chunk,
            batch_len: chunks * chunk,
            plain: Zeroizing::new(Vec::with_capacity(capacity)),
            plain_len: 0,
            out,
            out_pos: 0,
        }
    }
}

impl<W> StreamEncryptor<W> {
    /// The header written at the start of this stream.
    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer; bytes written to it directly corrupt the stream.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Gives back the inner writer. Call after `shutdown`, or the stream lacks its final chunk.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W> std::fmt::Debug for StreamEncryptor<W> {
    /// Shows the header (key id, chunk size; nothing secret) and buffer fill, never bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamEncryptor")
            .field("key_id", &self.header.key_id())
            .field("chunk_size", &self.chunk_size)
            .field("buffered_plaintext", &self.plain_len)
            .field("pending_ciphertext", &(self.out.len() - self.out_pos))
            .field("finished", &self.sealer.is_none())
            .finish_non_exhaustive()
    }
}

/// Seals the batch in `plain` and swaps it into the (drained, empty) output buffer.
fn seal_into(
    sealer: &mut ChunkSealer,
    plain: &mut Zeroizing<Vec<u8>>,
    out: &mut Zeroizing<Vec<u8>>,
    chunk_size: usize,
    last: bool,
) -> Result<()> {
    plain.extend_from_slice(&[0u8; TAG_LEN]);
    sealer.seal_batch(plain.as_mut_slice(), chunk_size, last)?;
    out.clear();
    std::mem::swap(&mut **plain, &mut **out);
    Ok(())
}

/// Writes the pending sealed bytes into `inner`.
fn poll_drain<W: AsyncWrite>(
    mut inner: Pin<&mut W>,
    cx: &mut Context<'_>,
    out: &mut Zeroizing<Vec<u8>>,
    out_pos: &mut usize,
) -> Poll<io::Result<()>> {
    while *out_pos < out.len() {
        let n = ready!(inner.as_mut().poll_write(cx, &out[*out_pos..]))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        *out_pos += n;
    }
    out.clear();
    *out_pos = 0;
    Poll::Ready(Ok(()))
}

impl<W: AsyncWrite> AsyncWrite for StreamEncryptor<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut this = self.project();
        let Some(sealer) = this.sealer.as_mut() else {
            return Poll::Ready(Err(to_io(ApiMisuse::WriteAfterFinish.into())));
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if *this.plain_len == *this.batch_len {
            // A full batch with more data behind it: none of its chunks is the final one.
            ready!(poll_drain(this.inner.as_mut(), cx, this.out, this.out_pos))?;
            if let Err(e) = seal_into(sealer, this.plain, this.out, *this.chunk_size, false) {
                // Fail closed: the stream can take no more writes and never gets a final chunk.
                *this.sealer = None;
                this.plain.clear();
                return Poll::Ready(Err(to_io(e)));
            }
            *this.plain_len = 0;
        }
        let chunk = *this.chunk_size;
        let mut taken = 0;
        while taken < buf.len() && *this.plain_len < *this.batch_len {
            let in_chunk = *this.plain_len % chunk;
            if in_chunk == 0 && *this.plain_len > 0 {
                // The previous chunk is full: leave room for its tag.
                this.plain.extend_from_slice(&[0u8; TAG_LEN]);
            }
            let n = (chunk - in_chunk).min(buf.len() - taken);
            this.plain.extend_from_slice(&buf[taken..taken + n]);
            taken += n;
            *this.plain_len += n;
        }
        Poll::Ready(Ok(taken))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        ready!(poll_drain(this.inner.as_mut(), cx, this.out, this.out_pos))?;
        this.inner.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        ready!(poll_drain(this.inner.as_mut(), cx, this.out, this.out_pos))?;
        if let Some(mut sealer) = this.sealer.take() {
            seal_into(&mut sealer, this.plain, this.out, *this.chunk_size, true).map_err(to_io)?;
            *this.plain_len = 0;
            ready!(poll_drain(this.inner.as_mut(), cx, this.out, this.out_pos))?;
        }
        this.inner.poll_shutdown(cx)
    }
}
