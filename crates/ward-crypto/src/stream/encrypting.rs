//! [`EncryptingReader`]: an `AsyncRead` that yields the ciphertext of the plaintext it reads,
//! the pull-shaped mirror of [`StreamDecryptor`](super::StreamDecryptor).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, ReadBuf};
use zeroize::{Zeroize, Zeroizing};

use super::chunk::{ChunkSealer, batch_chunks};
use super::format::{StreamHeader, TAG_LEN};
use super::{StreamOptions, start_object, to_io};
use crate::error::{ApiMisuse, Result};
use crate::keys::DataKey;

/// Where an [`EncryptingReader`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Gathering plaintext for the next batch.
    Reading,
    /// The final chunk is sealed; what is left to hand out is the rest of the output.
    Sealed,
    /// The plaintext source failed, or a batch failed to seal: every further read fails, and the
    /// final chunk is never produced.
    Failed,
}

pin_project! {
    /// Encrypts a plaintext reader: an [`AsyncRead`] that yields the stream header, then each
    /// sealed chunk, of whatever `inner` yields. Hand it to anything that pulls a body (an object
    /// store's streamed put, an HTTP client) and no pipe or task is needed between them.
    ///
    /// Guarantees:
    /// - the final chunk is produced only after `inner` has reported a clean end of input
    ///   (`Ok(0)`), so a consumer that reads to the end holds a complete stream;
    /// - if `inner` fails, its error is passed on and every later read fails too: the stream is
    ///   left without its final chunk, which every reader refuses (fail closed);
    /// - the output is byte for byte what [`StreamEncryptor`](super::StreamEncryptor) writes for
    ///   the same key, context, options and plaintext.
    ///
    /// Memory is one batch buffer (256 KiB with the default chunk size, never less than one
    /// chunk), whatever the stream's length; plaintext is sealed in place in that buffer, which is
    /// zeroized on drop.
    ///
    /// ```
    /// use tokio::io::AsyncReadExt;
    /// use ward_crypto::{DataKey, DekId};
    /// use ward_crypto::stream::{EncryptingReader, decrypt_to_vec};
    ///
    /// # tokio::runtime::Runtime::new()?.block_on(async {
    /// let dek = DataKey::generate(DekId(1))?;
    /// let plaintext: &[u8] = b"wound photo, day 3";
    /// let mut reader = EncryptingReader::new(&dek, plaintext, b"wound-3.jpg")?;
    /// assert_eq!(reader.header().key_id(), DekId(1));
    ///
    /// let mut ciphertext = Vec::new();
    /// reader.read_to_end(&mut ciphertext).await?;
    /// assert_eq!(&decrypt_to_vec(&dek, &ciphertext, b"wound-3.jpg")?[..], plaintext);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub struct EncryptingReader<R> {
        #[pin]
        inner: R,
        header: StreamHeader,
        sealer: ChunkSealer,
        state: State,
        chunk_size: usize,
        // Chunks sealed together.
        batch: usize,
        // While reading: plaintext laid out chunk by chunk, each followed by room for its tag.
        // Once sealed: the output, handed out from `out_pos` to `out_end`. It starts out holding
        // the header.
        buf: Zeroizing<Vec<u8>>,
        // Plaintext bytes gathered for the batch being filled.
        plain: usize,
        // One plaintext byte read past a full batch: proof that the batch is not the last.
        carry: Option<u8>,
        out_pos: usize,
        out_end: usize,
    }
}

impl<R: AsyncRead> EncryptingReader<R> {
    /// A reader yielding the ciphertext of `inner`'s plaintext under `dek`, bound to `context`
    /// (what the object is: readers must give the same context), in 64 KiB chunks.
    ///
    /// Errors: [`Error::Provider`](crate::Error::Provider) if the operating system's random
    /// generator fails.
    pub fn new(dek: &DataKey, inner: R, context: &[u8]) -> Result<Self> {
        Self::with_options(dek, inner, context, &StreamOptions::default())
    }

    /// As [`EncryptingReader::new`], with the given options.
    ///
    /// Errors: [`Error::ApiMisuse`](crate::Error::ApiMisuse) if the chunk size is outside
    /// [`MIN_CHUNK_SIZE`](super::MIN_CHUNK_SIZE)`..=`[`MAX_CHUNK_SIZE`](super::MAX_CHUNK_SIZE);
    /// [`Error::Provider`](crate::Error::Provider) if the operating system's random generator
    /// fails.
    pub fn with_options(
        dek: &DataKey,
        inner: R,
        context: &[u8],
        options: &StreamOptions,
    ) -> Result<Self> {
        let started = start_object(dek, context, options)?;
        Ok(Self::started(inner, started))
    }

    /// A reader over a header and sealer made by [`ChunkSealer::start`].
    pub(crate) fn started(inner: R, (header, sealer): (StreamHeader, ChunkSealer)) -> Self {
        let chunk_size = header.chunk_size() as usize;
        let batch = batch_chunks(chunk_size);
        let mut buf = Zeroizing::new(vec![0u8; batch * (chunk_size + TAG_LEN)]);
        let head = header.to_bytes();
        // A batch holds at least one chunk of at least 1 KiB: the header always fits.
        buf[..head.len()].copy_from_slice(&head);
        Self {
            inner,
            out_end: head.len(),
            header,
            sealer,
            state: State::Reading,
            chunk_size,
            batch,
            buf,
            plain: 0,
            carry: None,
            out_pos: 0,
        }
    }
}

impl<R> EncryptingReader<R> {
    /// The header this stream starts with (its key id says which data key sealed it).
    pub fn header(&self) -> &StreamHeader {
        &self.header
    }

    /// The plaintext reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Gives back the plaintext reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R> std::fmt::Debug for EncryptingReader<R> {
    /// Shows the state and sizes, never key material or plaintext.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptingReader")
            .field("state", &self.state)
            .field("key_id", &self.header.key_id())
            .field("chunk_size", &self.chunk_size)
            .field("pending_output", &(self.out_end - self.out_pos))
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead> AsyncRead for EncryptingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if *this.out_pos < *this.out_end {
                let n = (*this.out_end - *this.out_pos).min(out.remaining());
                out.put_slice(&this.buf[*this.out_pos..*this.out_pos + n]);
                *this.out_pos += n;
                return Poll::Ready(Ok(()));
            }
            match *this.state {
                State::Reading => {}
                State::Sealed => return Poll::Ready(Ok(())),
                State::Failed => {
                    return Poll::Ready(Err(to_io(ApiMisuse::ReadAfterSourceFailure.into())));
                }
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            *this.out_pos = 0;
            *this.out_end = 0;
            let chunk = *this.chunk_size;
            let region = chunk + TAG_LEN;
            let batch_plain = *this.batch * chunk;
            if let Some(byte) = this.carry.take() {
                this.buf[0] = byte;
                *this.plain = 1;
            }
            // Gather a batch of plaintext straight into its place in the chunk layout.
            let mut ended = false;
            while *this.plain < batch_plain {
                let at = (*this.plain / chunk) * region + *this.plain % chunk;
                let room = chunk - *this.plain % chunk;
                let mut rb = ReadBuf::new(&mut this.buf[at..at + room]);
                match ready!(this.inner.as_mut().poll_read(cx, &mut rb)) {
                    Ok(()) if rb.filled().is_empty() => {
                        ended = true;
                        break;
                    }
                    Ok(()) => *this.plain += rb.filled().len(),
                    Err(e) => {
                        this.buf.zeroize();
                        *this.state = State::Failed;
                        return Poll::Ready(Err(e));
                    }
                }
            }
            if !ended {
                // A full batch: it is the last only if the source ends right after it.
                let mut one = [0u8; 1];
                let mut rb = ReadBuf::new(&mut one);
                match ready!(this.inner.as_mut().poll_read(cx, &mut rb)) {
                    Ok(()) if rb.filled().is_empty() => ended = true,
                    Ok(()) => *this.carry = Some(one[0]),
                    Err(e) => {
                        this.buf.zeroize();
                        *this.state = State::Failed;
                        return Poll::Ready(Err(e));
                    }
                }
            }
            // Seal the batch in place. An empty source is one empty final chunk: just its tag.
            let plain = std::mem::take(this.plain);
            let chunks = plain.div_ceil(chunk).max(1);
            let sealed_len = (chunks - 1) * region + (plain - (chunks - 1) * chunk) + TAG_LEN;
            let sealed_len = if ended { sealed_len } else { chunks * region };
            if let Err(e) = this
                .sealer
                .seal_batch(&mut this.buf[..sealed_len], chunk, ended)
            {
                this.buf.zeroize();
                *this.state = State::Failed;
                return Poll::Ready(Err(to_io(e)));
            }
            *this.out_end = sealed_len;
            if ended {
                *this.state = State::Sealed;
            }
        }
    }
}
