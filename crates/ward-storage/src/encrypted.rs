//! `EncryptedStore`: a decorator that encrypts every put and decrypts every get with the ward
//! stream format, so the store under it only ever holds ciphertext.

use std::fmt;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, DuplexStream, ReadBuf};
use uuid::Uuid;
use ward_crypto::stream::{
    self as wstream, MAX_HEADER_LEN, StreamDecryptor, StreamEncryptor, StreamHeader, StreamOptions,
};
use ward_crypto::{DataKey, DataKeySource, KeyId};

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey};
use crate::store::ObjectStoreExt as _;
use crate::store::{
    BoxReader, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PresignMethod,
    PresignOptions, PresignedRequest, PutOptions, PutResult, check_range,
};

const STORE: &str = "EncryptedStore";
/// Objects whose headers are fetched at once while listing.
const LIST_CONCURRENCY: usize = 16;
/// The buffer between the encryptor and the inner store's streamed put.
const PIPE_CAPACITY: usize = 256 * 1024;

/// Where an [`EncryptedStore`] finds data keys: the active key for writing and any key by id for
/// reading, for the workspace an object belongs to.
///
/// Every [`DataKeySource`] is one, serving the same keys for every workspace; implement this
/// trait to give each workspace its own keys.
#[async_trait]
pub trait WorkspaceKeys: fmt::Debug + Send + Sync + 'static {
    /// The key new objects of `workspace` are written with.
    async fn active_key(&self, workspace: Uuid) -> ward_crypto::Result<Arc<DataKey>>;
    /// The key with this id in `workspace`, for reading.
    async fn key(&self, workspace: Uuid, id: KeyId) -> ward_crypto::Result<Arc<DataKey>>;
}

#[async_trait]
impl<T: DataKeySource + 'static> WorkspaceKeys for T {
    async fn active_key(&self, _workspace: Uuid) -> ward_crypto::Result<Arc<DataKey>> {
        DataKeySource::active_key(self).await
    }

    async fn key(&self, _workspace: Uuid, id: KeyId) -> ward_crypto::Result<Arc<DataKey>> {
        DataKeySource::key(self, id).await
    }
}

/// Encrypts on put and decrypts on get with ward stream encryption, over any store.
///
/// - Puts write a ward stream under the workspace's active data key; streamed puts encrypt as
///   they go, in constant memory, and a body that fails part-way stores nothing.
/// - Gets read the header, find the key by the header's key id, and decrypt as the caller reads.
///   Byte ranges fetch only the chunks covering the range.
/// - Sizes (`head`, `get`, `list`) are plaintext sizes; etags are the stored object's.
/// - Presigned GET URLs are forwarded and point at ciphertext. Presigned PUT is refused: the
///   uploader would bypass ward encryption.
///
/// ```
/// use std::sync::Arc;
/// use ward_crypto::{DataKey, InMemoryKeySource, KeyId};
/// use ward_storage::{EncryptedStore, FileKind, MemoryStore, ObjectKey, ObjectStoreExt, Owner};
/// # use uuid::Uuid;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let keys = InMemoryKeySource::with_active(DataKey::generate(KeyId(1))?);
/// let raw = MemoryStore::new();
/// let store = EncryptedStore::new(raw.clone(), keys);
///
/// let key = ObjectKey::new(Uuid::new_v4(), Owner::Client(Uuid::new_v4()), Uuid::new_v4(), FileKind::Jpeg);
/// store.put(&key, "a photo".into()).await?;
/// assert_eq!(store.get(&key).await?.bytes().await?, "a photo");
/// assert_eq!(store.get_range(&key, 2..7).await?, "photo");
/// // The backend holds only ciphertext.
/// assert!(raw.get(&key).await?.bytes().await?.starts_with(b"WARDSTRM"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EncryptedStore<S: ObjectStore> {
    inner: Arc<S>,
    keys: Arc<dyn WorkspaceKeys>,
    options: StreamOptions,
}

impl<S: ObjectStore> EncryptedStore<S> {
    /// Encrypts into `inner` with keys from `keys`, in 64 KiB chunks.
    pub fn new(inner: S, keys: impl WorkspaceKeys) -> Self {
        Self {
            inner: Arc::new(inner),
            keys: Arc::new(keys),
            options: StreamOptions::default(),
        }
    }

    /// Writes with these stream options (chunk size). Readers need none.
    pub fn with_options(mut self, options: StreamOptions) -> Self {
        self.options = options;
        self
    }

    /// The store holding the ciphertext, for [`verify_file_encrypted`](crate::verify_file_encrypted).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The id of the key new objects of `workspace` are written with.
    pub async fn active_key_id(&self, workspace: Uuid) -> Result<KeyId> {
        Ok(self.keys.active_key(workspace).await?.id())
    }
}

impl<S: ObjectStore> Clone for EncryptedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            keys: Arc::clone(&self.keys),
            options: self.options,
        }
    }
}

/// Fetches and parses a stored object's header; returns it with the stored object's metadata.
async fn read_header(
    store: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<(StreamHeader, ObjectMeta)> {
    let got = match store
        .get_opts(key, GetOptions::new().with_range(0..MAX_HEADER_LEN as u64))
        .await
    {
        Ok(got) => got,
        // Shorter than any header: whatever is stored is not a ward stream.
        Err(Error::RangeOutOfBounds { .. }) => {
            return Err(Error::Crypto(ward_crypto::Error::Malformed {
                format: "stream header",
                reason: "object is shorter than a stream header",
            }));
        }
        Err(e) => return Err(e),
    };
    let meta = got.meta.clone();
    let bytes = got.bytes().await?;
    let header = StreamHeader::parse(&bytes)?;
    Ok((header, meta))
}

/// The stored metadata with the plaintext size in place of the stored size.
fn plaintext_meta(header: &StreamHeader, mut meta: ObjectMeta) -> Result<ObjectMeta> {
    meta.size = header.plaintext_len(meta.size)?;
    Ok(meta)
}

impl<S: ObjectStore> fmt::Debug for EncryptedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE)
            .field("inner", &self.inner)
            .field("keys", &self.keys)
            .field("chunk_size", &self.options.chunk_size())
            .finish()
    }
}

impl<S: ObjectStore> fmt::Display for EncryptedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE}({})", self.inner)
    }
}

/// Pieces read ahead of the decryptor, each up to [`READ_AHEAD_PIECE`] bytes.
const READ_AHEAD_PIECES: usize = 4;
/// The size of one read-ahead piece.
const READ_AHEAD_PIECE: usize = 256 * 1024;

/// Reads `inner` on its own task, up to [`READ_AHEAD_PIECES`] pieces ahead, so receiving the
/// ciphertext and decrypting it run on different cores. Memory stays bounded by the pieces.
fn read_ahead(mut inner: BoxReader) -> BoxReader {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(READ_AHEAD_PIECES);
    tokio::spawn(async move {
        loop {
            let mut piece = bytes::BytesMut::with_capacity(READ_AHEAD_PIECE);
            let mut failed = None;
            while piece.len() < READ_AHEAD_PIECE {
                match inner.read_buf(&mut piece).await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let at_end = piece.len() < READ_AHEAD_PIECE;
            // A closed channel means the reader was dropped: stop reading.
            if !piece.is_empty() && tx.send(Ok(piece.freeze())).await.is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e)).await;
                return;
            }
            if at_end {
                return;
            }
        }
    });
    Box::pin(tokio_util::io::StreamReader::new(channel_stream(rx)))
}

/// The receiving end of a channel as a stream.
fn channel_stream(
    mut rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// How the encrypting half of a streamed put ended.
type Outcome = std::result::Result<(), String>;

/// The reading end of the encryption pipe. At end of stream it waits for how encryption ended
/// and fails unless it finished, so a body that failed part-way can never be stored as complete.
struct GuardedReader {
    pipe: DuplexStream,
    outcome: tokio::sync::oneshot::Receiver<Outcome>,
    /// The outcome once received, so reads after the end answer the same.
    ended: Option<Outcome>,
}

impl AsyncRead for GuardedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.pipe).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() == before && buf.remaining() > 0 => {
                // The pipe is closed; the stream is complete only if encryption says so.
                if self.ended.is_none() {
                    let outcome = match Pin::new(&mut self.outcome).poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(outcome)) => outcome,
                        Poll::Ready(Err(_)) => Err("encryption stopped early".to_owned()),
                    };
                    self.ended = Some(outcome);
                }
                match &self.ended {
                    Some(Err(message)) => Poll::Ready(Err(io::Error::other(format!(
                        "plaintext source failed: {message}"
                    )))),
                    _ => Poll::Ready(Ok(())),
                }
            }
            other => other,
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: ObjectStore> ObjectStore for EncryptedStore<S> {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let dek = self.keys.active_key(key.workspace()).await?;
        let sealed = wstream::encrypt_to_vec_with(&dek, &payload, &self.options)?;
        let mut result = self.inner.put_opts(key, Bytes::from(sealed), opts).await?;
        result.size = payload.len() as u64;
        Ok(result)
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        mut body: BoxReader,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let dek = self.keys.active_key(key.workspace()).await?;
        let (writer, reader) = tokio::io::duplex(PIPE_CAPACITY);
        let (done, outcome) = tokio::sync::oneshot::channel::<Outcome>();
        let mut encryptor = StreamEncryptor::with_options(&dek, writer, &self.options)?;
        let encrypt = async move {
            let copied = async {
                // Large reads keep the pipe busy with few wake-ups.
                let mut source = tokio::io::BufReader::with_capacity(PIPE_CAPACITY, &mut body);
                let n = tokio::io::copy_buf(&mut source, &mut encryptor).await?;
                encryptor.shutdown().await?;
                Ok::<u64, io::Error>(n)
            }
            .await;
            // The reader may already see the pipe closed; it waits for this before ending.
            let _ = done.send(
                copied
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| e.kind().to_string()),
            );
            drop(encryptor);
            copied
        };
        let guarded = GuardedReader {
            pipe: reader,
            outcome,
            ended: None,
        };
        // Encryption runs on its own task, so it overlaps with the upload on another core.
        let encrypting = tokio::spawn(encrypt);
        let stored = self
            .inner
            .put_stream_opts(key, Box::pin(guarded), opts)
            .await;
        let copied = encrypting
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        let mut result = stored?;
        match copied {
            Ok(n) => {
                result.size = n;
                Ok(result)
            }
            // Unreachable in practice (the guarded reader fails the put first); fail closed.
            Err(source) => {
                self.inner.delete(key).await?;
                Err(Error::Io {
                    store: STORE,
                    key: key.to_string(),
                    source,
                })
            }
        }
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let Some(range) = opts.range.clone() else {
            // The whole object: one request, the header read off the front of the body.
            let got = self.inner.get(key).await?;
            let stored = got.meta.clone();
            let mut body = got.into_reader();
            let header = wstream::read_header(&mut body).await?;
            let dek = self.keys.key(key.workspace(), header.key_id()).await?;
            let meta = plaintext_meta(&header, stored)?;
            let range = 0..meta.size;
            let body = StreamDecryptor::with_header(&dek, &header, read_ahead(body))?;
            return Ok(GetResult::new(meta, range, Box::pin(body)));
        };
        let (header, stored) = read_header(self.inner.as_ref(), key).await?;
        let dek = self.keys.key(key.workspace(), header.key_id()).await?;
        let meta = plaintext_meta(&header, stored.clone())?;
        check_range(&range, meta.size)?;
        let plan = header.plan_range(range.clone(), stored.size)?;
        let fetched: BoxReader = if plan.is_empty() {
            Box::pin(io::Cursor::new(Bytes::new()))
        } else {
            read_ahead(
                self.inner
                    .get_opts(key, GetOptions::new().with_range(plan.ciphertext_range()))
                    .await?
                    .into_reader(),
            )
        };
        let body = StreamDecryptor::for_range(&dek, &header, &plan, fetched)?;
        Ok(GetResult::new(meta, range, Box::pin(body)))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let stored = self.inner.head(key).await?;
        let (header, _) = read_header(self.inner.as_ref(), key).await?;
        plaintext_meta(&header, stored)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.inner.delete(key).await
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        // Plaintext sizes need each object's header (its chunk size); they are fetched with
        // bounded concurrency, in key order.
        let inner = Arc::clone(&self.inner);
        self.inner
            .list_opts(prefix, opts)
            .map(move |item| {
                let inner = Arc::clone(&inner);
                async move {
                    let stored = item?;
                    let (header, _) = read_header(inner.as_ref(), &stored.key).await?;
                    plaintext_meta(&header, stored)
                }
            })
            .buffered(LIST_CONCURRENCY)
            .boxed()
    }

    async fn presign(
        &self,
        method: PresignMethod,
        key: &ObjectKey,
        opts: PresignOptions,
    ) -> Result<PresignedRequest> {
        opts.check()?;
        match method {
            PresignMethod::Get => self.inner.presign(method, key, opts).await,
            _ => Err(Error::NotSupported {
                store: STORE,
                operation: "presigned upload (the uploader would bypass ward encryption)",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, Capabilities, fresh_key, pattern};
    use crate::key::FileKind;
    use crate::memory::MemoryStore;
    use ward_crypto::InMemoryKeySource;

    fn keys() -> InMemoryKeySource {
        InMemoryKeySource::with_active(DataKey::generate(KeyId(1)).unwrap())
    }

    #[tokio::test]
    async fn encrypted_store_passes_the_conformance_suite_over_memory() {
        let store = EncryptedStore::new(MemoryStore::new(), keys());
        conformance::run_all(&store, Capabilities::memory()).await;
    }

    #[tokio::test]
    async fn backend_holds_only_ciphertext_and_ranges_equal_the_plaintext_slice() {
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), keys())
            .with_options(StreamOptions::new().with_chunk_size(1024));
        let key = fresh_key(FileKind::Pdf);
        let data = pattern(10 * 1024 + 7, 1);
        store.put(&key, data.clone()).await.unwrap();
        let stored = raw.get(&key).await.unwrap().bytes().await.unwrap();
        assert!(stored.starts_with(b"WARDSTRM"));
        assert!(!stored.windows(64).any(|w| w == &data[100..164]));
        for range in [
            0..0,
            0..1,
            1023..1025,
            1024..2048,
            5000..10247,
            10246..10247,
            0..10247,
        ] {
            let got = store.get_range(&key, range.clone()).await.unwrap();
            assert_eq!(
                got,
                data.slice(range.start as usize..range.end as usize),
                "{range:?}"
            );
        }
        let err = store.get_range(&key, 0..10248).await.unwrap_err();
        assert!(
            matches!(err, Error::RangeOutOfBounds { len: 10247, .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn objects_written_under_an_older_key_still_read_after_rotation() {
        let keys = Arc::new(keys());
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), Arc::clone(&keys));
        let old = fresh_key(FileKind::Jpeg);
        store.put(&old, "old".into()).await.unwrap();
        let new_id = keys.generate().unwrap();
        keys.activate(new_id).unwrap();
        let new = fresh_key(FileKind::Jpeg);
        store.put(&new, "new".into()).await.unwrap();
        assert_eq!(store.get(&old).await.unwrap().bytes().await.unwrap(), "old");
        assert_eq!(store.get(&new).await.unwrap().bytes().await.unwrap(), "new");
        assert_eq!(store.active_key_id(new.workspace()).await.unwrap(), new_id);
    }

    #[tokio::test]
    async fn modified_ciphertext_fails_to_read() {
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), keys());
        let key = fresh_key(FileKind::Png);
        store.put(&key, pattern(5000, 2)).await.unwrap();
        let mut stored = raw.get(&key).await.unwrap().bytes().await.unwrap().to_vec();
        let last = stored.len() - 1;
        stored[last] ^= 1;
        raw.put(&key, stored.into()).await.unwrap();
        let err = store.get(&key).await.unwrap().bytes().await.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        let err = store.get_range(&key, 0..10).await.unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn plaintext_in_the_backend_is_refused_not_returned() {
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), keys());
        let key = fresh_key(FileKind::Png);
        raw.put(&key, pattern(500, 3)).await.unwrap();
        assert!(matches!(store.get(&key).await, Err(Error::Crypto(_))));
        raw.put(&key, "tiny".into()).await.unwrap();
        assert!(matches!(store.head(&key).await, Err(Error::Crypto(_))));
    }

    /// Encryption runs on its own task: on a multi-threaded runtime the upload may see the pipe
    /// close before encryption reports how it ended, and must wait for that, not fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn streamed_puts_on_a_multi_threaded_runtime_always_complete() {
        let store = EncryptedStore::new(MemoryStore::new(), keys());
        for i in 0..60u8 {
            let key = fresh_key(FileKind::Pdf);
            let data = pattern(usize::from(i) * 4099, i);
            let body = conformance::TestReader::new(data.clone());
            store.put_stream(&key, Box::pin(body)).await.unwrap();
            assert_eq!(store.get(&key).await.unwrap().bytes().await.unwrap(), data);
        }
        let key = fresh_key(FileKind::Pdf);
        let failing = conformance::TestReader::failing_after(pattern(200_000, 1));
        assert!(store.put_stream(&key, Box::pin(failing)).await.is_err());
        assert!(store.head(&key).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn the_guarded_pipe_answers_the_same_after_its_end() {
        use tokio::io::AsyncReadExt as _;
        for outcome in [Ok(()), Err("source failed".to_owned())] {
            let (mut writer, reader) = tokio::io::duplex(1024);
            let (done, rx) = tokio::sync::oneshot::channel();
            let mut guarded = GuardedReader {
                pipe: reader,
                outcome: rx,
                ended: None,
            };
            writer.write_all(b"sealed").await.unwrap();
            drop(writer);
            done.send(outcome.clone()).unwrap();
            let mut buf = Vec::new();
            let first = guarded.read_to_end(&mut buf).await;
            assert_eq!(buf, b"sealed");
            for _ in 0..3 {
                let again = guarded.read(&mut [0u8; 8]).await;
                assert_eq!(first.is_ok(), outcome.is_ok());
                match &outcome {
                    Ok(()) => assert_eq!(again.unwrap(), 0),
                    Err(_) => assert!(again.is_err()),
                }
            }
        }
    }

    #[tokio::test]
    async fn presigned_uploads_are_refused() {
        let store = EncryptedStore::new(MemoryStore::new(), keys());
        let err = store
            .presign(
                PresignMethod::Put,
                &fresh_key(FileKind::Pdf),
                PresignOptions::new(),
            )
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::NotSupported {
                store: "EncryptedStore",
                ..
            }
        ));
    }
}
