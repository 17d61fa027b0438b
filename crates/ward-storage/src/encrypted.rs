//! `EncryptedStore`: a decorator that encrypts every put and decrypts every get with the ward
//! stream format, so the store under it only ever holds ciphertext.

use std::fmt;
use std::io;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt as _};
use tokio::io::AsyncReadExt as _;
use ward_crypto::stream::{
    self as wstream, EncryptingReader, MAX_HEADER_LEN, StreamDecryptor, StreamHeader, StreamOptions,
};
use ward_crypto::{DataKey, DataKeySource, DekId};

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey, WorkspaceId};
use crate::sse::SsePolicy;
use crate::store::ObjectStoreExt as _;
use crate::store::{
    BoxReader, DeleteOptions, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore,
    PutOptions, PutResult, check_range,
};
use crate::verify::{EncryptionEvidence, EncryptionExpectation, verify_file_encrypted};

const STORE: &str = "EncryptedStore";
/// Objects whose headers are fetched at once while listing.
const LIST_CONCURRENCY: usize = 16;

/// The context a stored object's ciphertext is bound to: its object key, which names the
/// workspace, the owner and the attachment. A ciphertext copied onto another key fails to open.
pub(crate) fn stream_context(key: &ObjectKey) -> &[u8] {
    key.as_str().as_bytes()
}

/// The workspace whose data keys seal `key`'s object. A key outside every workspace (a backup's
/// objects, which carry their own envelope under the KEK) is refused: no workspace's key may
/// ever seal or open it.
fn workspace_of(key: &ObjectKey) -> Result<WorkspaceId> {
    key.workspace().ok_or(Error::NotSupported {
        store: STORE,
        operation: "sealing an object outside a workspace (a backup carries its own envelope)",
    })
}

/// Where an [`EncryptedStore`] finds data keys: the active key for writing and any key by id for
/// reading, **per workspace**.
///
/// A [`DataKeySource`] serves one workspace and is not one of these: giving a single source to
/// every workspace is a choice made by name, with [`SharedAcrossWorkspaces`]. Implement this trait
/// (for instance over a table of wrapped keys per workspace) to give each workspace its own keys,
/// so one workspace's key never opens another's objects.
#[async_trait]
pub trait WorkspaceKeys: fmt::Debug + Send + Sync + 'static {
    /// The key new objects of `workspace` are written with.
    async fn active_key(&self, workspace: WorkspaceId) -> ward_crypto::Result<Arc<DataKey>>;
    /// The key with this id in `workspace`, for reading.
    async fn key(&self, workspace: WorkspaceId, id: DekId) -> ward_crypto::Result<Arc<DataKey>>;
}

#[async_trait]
impl<T: WorkspaceKeys + ?Sized> WorkspaceKeys for Arc<T> {
    async fn active_key(&self, workspace: WorkspaceId) -> ward_crypto::Result<Arc<DataKey>> {
        (**self).active_key(workspace).await
    }

    async fn key(&self, workspace: WorkspaceId, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        (**self).key(workspace, id).await
    }
}

/// One [`DataKeySource`] serving every workspace: the explicit opt-in for a deployment with a
/// single tenant, tests and examples. Every workspace's objects are then under the same keys, so
/// only the object key bound into each ciphertext keeps workspaces apart.
///
/// ```
/// use ward_crypto::{DataKey, InMemoryKeySource, DekId};
/// use ward_storage::{EncryptedStore, MemoryStore, SharedAcrossWorkspaces};
///
/// let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1))?);
/// let store = EncryptedStore::new(MemoryStore::new(), SharedAcrossWorkspaces(keys));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SharedAcrossWorkspaces<S>(pub S);

#[async_trait]
impl<S: DataKeySource + 'static> WorkspaceKeys for SharedAcrossWorkspaces<S> {
    async fn active_key(&self, _workspace: WorkspaceId) -> ward_crypto::Result<Arc<DataKey>> {
        self.0.active_key().await
    }

    async fn key(&self, _workspace: WorkspaceId, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        self.0.key(id).await
    }
}

/// The proof an [`EncryptedStore`] requires of every sealed put before it reports success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequiredProof {
    /// The server must report this server-side encryption (S3 servers with SSE).
    ServerSide(SsePolicy),
    /// The stored bytes must be this object's ward ciphertext under the data key used: the header,
    /// the commitment and the first and last chunks' tags are checked (backends without SSE).
    ClientSide,
}

/// What a sealed put did: the store's answer, the data key that sealed the object, and the proof
/// of encryption when the store requires one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealedPut {
    /// The inner store's answer, with the plaintext size.
    pub result: PutResult,
    /// The id of the data key the object was sealed with (record it beside the object).
    pub key_id: DekId,
    /// The evidence of the required proof ([`EncryptedStore::with_proof`]), `None` when none is
    /// configured.
    pub evidence: Option<EncryptionEvidence>,
}

/// Encrypts on put and decrypts on get with ward stream encryption, over any store.
///
/// - Puts write a ward stream under the workspace's active data key, bound to the object key:
///   an object copied onto another key (another attachment, owner or workspace) fails to open.
///   Streamed puts encrypt as the store pulls the body, in constant memory; a body that fails
///   part-way never gets its final chunk, so the store refuses it and stores nothing.
/// - [`EncryptedStore::put_sealed`] also returns the key id used and, with
///   [`EncryptedStore::with_proof`], proves the stored object encrypted (fail-closed: an object
///   that cannot be proven is deleted).
/// - Gets read the header, find the key by the header's key id, and decrypt as the caller reads.
///   Byte ranges fetch only the chunks covering the range.
/// - Sizes (`head`, `get`, `list`) are plaintext sizes; etags are the stored object's.
/// - It does not presign ([`Presign`](crate::Presign) is not implemented): a presigned GET would
///   hand out ciphertext only the service can open, and a presigned PUT would bypass ward
///   encryption. Downloads go through the service.
///
/// # Plaintext in memory
///
/// ward-crypto zeroizes the buffers it owns: the batch buffer an object is sealed in on a put,
/// and the buffer chunks are opened in on a get. The plaintext this store is *handed* or *hands
/// out* is not zeroized, so the promise holds inside ward-crypto, not end to end:
///
/// - on a put, the caller's `Bytes` payload or body reader (and whatever the reader holds, such
///   as a sanitizer's output `Vec<u8>`) stays as the caller left it; `Bytes` cannot be wiped;
/// - on a get, plaintext copied into the caller's read buffer, or collected by
///   [`GetResult::bytes`](crate::GetResult::bytes) into `Bytes`, is the caller's to drop.
///
/// A caller that needs wiping holds the plaintext in a `Zeroizing` buffer and streams it in and
/// out through [`put_sealed`](Self::put_sealed) and [`get`](crate::ObjectStoreExt::get)'s
/// reader, never collecting it into `Bytes`.
///
/// ```
/// use std::sync::Arc;
/// use ward_crypto::{DataKey, InMemoryKeySource, DekId};
/// use ward_storage::{
///     EncryptedStore, FileKind, MemoryStore, ObjectKey, ObjectStoreExt, Owner, PutOptions,
///     RequiredProof, SharedAcrossWorkspaces,
/// };
/// # use uuid::Uuid;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1))?);
/// let raw = MemoryStore::new();
/// let store = EncryptedStore::new(raw.clone(), SharedAcrossWorkspaces(keys))
///     .with_proof(RequiredProof::ClientSide);
///
/// let key = ObjectKey::new(Uuid::new_v4(), Owner::Client(Uuid::new_v4()), Uuid::new_v4(), FileKind::Jpeg);
/// let body: &'static [u8] = b"a photo";
/// let sealed = store.put_sealed(&key, Box::pin(body), PutOptions::new()).await?;
/// assert_eq!(sealed.key_id, DekId(1));
/// assert_eq!(sealed.evidence.map(|e| e.algorithm).as_deref(), Some("ward-stream-v2"));
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
    proof: Option<RequiredProof>,
}

impl<S: ObjectStore> EncryptedStore<S> {
    /// Encrypts into `inner` with keys from `keys`, in 64 KiB chunks, requiring no proof.
    pub fn new(inner: S, keys: impl WorkspaceKeys) -> Self {
        Self {
            inner: Arc::new(inner),
            keys: Arc::new(keys),
            options: StreamOptions::default(),
            proof: None,
        }
    }

    /// Writes with these stream options (chunk size). Readers need none.
    pub fn with_options(mut self, options: StreamOptions) -> Self {
        self.options = options;
        self
    }

    /// Proves every [`put_sealed`](Self::put_sealed) with [`verify_file_encrypted`] before
    /// reporting success; an object that fails the proof is deleted and the put fails.
    pub fn with_proof(mut self, proof: RequiredProof) -> Self {
        self.proof = Some(proof);
        self
    }

    /// The store holding the ciphertext.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Encrypts `body` into the object at `key` under the workspace's active data key and returns
    /// that key's id, with the proof of encryption when one is required.
    ///
    /// `body` is read in place and is not zeroized by this call (see "Plaintext in memory" on the
    /// type); the batch buffer the plaintext is sealed in is.
    ///
    /// Errors: those of the key source and the inner store; [`Error::EncryptionVerification`]
    /// (the object deleted) or [`Error::EncryptionVerificationCleanup`] when the proof fails.
    pub async fn put_sealed(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        opts: PutOptions,
    ) -> Result<SealedPut> {
        let dek = self.keys.active_key(workspace_of(key)?).await?;
        let reader =
            EncryptingReader::with_options(&dek, body, stream_context(key), &self.options)?;
        let header = reader.header().clone();
        // Encryption runs on its own task, ahead of the upload, so the two use different cores.
        let body = read_ahead(Box::pin(reader));
        let mut result = self.inner.put_stream_opts(key, body, opts).await?;
        result.size = header.plaintext_len(result.size)?;
        let evidence = match &self.proof {
            None => None,
            Some(proof) => {
                let expectation = match proof {
                    RequiredProof::ServerSide(policy) => {
                        EncryptionExpectation::ServerSide(policy.clone())
                    }
                    RequiredProof::ClientSide => EncryptionExpectation::ClientSide {
                        dek: Arc::clone(&dek),
                    },
                };
                Some(verify_file_encrypted(self.inner.as_ref(), key, &expectation).await?)
            }
        };
        Ok(SealedPut {
            result,
            key_id: dek.id(),
            evidence,
        })
    }
}

impl<S: ObjectStore> Clone for EncryptedStore<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            keys: Arc::clone(&self.keys),
            options: self.options,
            proof: self.proof.clone(),
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

/// Reads `inner` on its own task, up to [`READ_AHEAD_PIECES`] pieces ahead, so producing the
/// bytes (receiving or encrypting them) and consuming them run on different cores. Memory stays
/// bounded by the pieces.
///
/// The task ends the stream with an explicit end marker: if it stops without one (it panicked or
/// was cancelled), the reader fails rather than ending, so a cut-off body never reads as complete.
fn read_ahead(mut inner: BoxReader) -> BoxReader {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Option<Bytes>>>(READ_AHEAD_PIECES);
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
            if !piece.is_empty() && tx.send(Ok(Some(piece.freeze()))).await.is_err() {
                return;
            }
            if let Some(e) = failed {
                let _ = tx.send(Err(e)).await;
                return;
            }
            if at_end {
                let _ = tx.send(Ok(None)).await;
                return;
            }
        }
    });
    Box::pin(tokio_util::io::StreamReader::new(channel_stream(rx)))
}

/// The receiving end of a read-ahead channel as a stream of pieces, ending at the end marker.
fn channel_stream(
    mut rx: tokio::sync::mpsc::Receiver<io::Result<Option<Bytes>>>,
) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
    let mut ended = false;
    futures::stream::poll_fn(move |cx| {
        if ended {
            return std::task::Poll::Ready(None);
        }
        let next = match std::task::ready!(rx.poll_recv(cx)) {
            Some(Ok(Some(piece))) => Some(Ok(piece)),
            Some(Err(e)) => Some(Err(e)),
            Some(Ok(None)) => {
                ended = true;
                None
            }
            None => {
                ended = true;
                Some(Err(io::Error::other("read-ahead stopped before the end")))
            }
        };
        std::task::Poll::Ready(next)
    })
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
        let dek = self.keys.active_key(workspace_of(key)?).await?;
        let sealed =
            wstream::encrypt_to_vec_with(&dek, &payload, stream_context(key), &self.options)?;
        let mut result = self.inner.put_opts(key, Bytes::from(sealed), opts).await?;
        result.size = payload.len() as u64;
        Ok(result)
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        opts: PutOptions,
    ) -> Result<PutResult> {
        Ok(self.put_sealed(key, body, opts).await?.result)
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let Some(range) = opts.range.clone() else {
            // The whole object: one request, the header read off the front of the body.
            let got = self.inner.get(key).await?;
            let stored = got.meta.clone();
            let mut body = got.into_reader();
            let header = wstream::read_header(&mut body).await?;
            let dek = self.keys.key(workspace_of(key)?, header.key_id()).await?;
            let meta = plaintext_meta(&header, stored)?;
            let range = 0..meta.size;
            let body =
                StreamDecryptor::with_header(&dek, &header, read_ahead(body), stream_context(key))?;
            return Ok(GetResult::new(STORE, meta, range, Box::pin(body)));
        };
        let (header, stored) = read_header(self.inner.as_ref(), key).await?;
        let dek = self.keys.key(workspace_of(key)?, header.key_id()).await?;
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
        let body = StreamDecryptor::for_range(&dek, &header, &plan, fetched, stream_context(key))?;
        Ok(GetResult::new(STORE, meta, range, Box::pin(body)))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let stored = self.inner.head(key).await?;
        let (header, _) = read_header(self.inner.as_ref(), key).await?;
        plaintext_meta(&header, stored)
    }

    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()> {
        self.inner.delete_opts(key, opts).await
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, Capabilities, fresh_key, pattern};
    use crate::key::FileKind;
    use crate::memory::MemoryStore;
    use uuid::Uuid;
    use ward_crypto::InMemoryKeySource;

    fn keys() -> SharedAcrossWorkspaces<InMemoryKeySource> {
        SharedAcrossWorkspaces(InMemoryKeySource::with_active(
            DataKey::generate(DekId(1)).unwrap(),
        ))
    }

    #[tokio::test]
    async fn encrypted_store_passes_the_conformance_suite_over_memory() {
        let store = EncryptedStore::new(MemoryStore::new(), keys());
        // No workspace key may seal a backup's objects: the scenario checks they are refused.
        conformance::run_all(&store, Capabilities::memory().without_backup_keys()).await;
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
        let keys = Arc::new(InMemoryKeySource::with_active(
            DataKey::generate(DekId(1)).unwrap(),
        ));
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), SharedAcrossWorkspaces(Arc::clone(&keys)));
        let old = fresh_key(FileKind::Jpeg);
        store.put(&old, "old".into()).await.unwrap();
        let new_id = keys.generate().unwrap();
        keys.activate(new_id).unwrap();
        let new = fresh_key(FileKind::Jpeg);
        store.put(&new, "new".into()).await.unwrap();
        assert_eq!(store.get(&old).await.unwrap().bytes().await.unwrap(), "old");
        assert_eq!(store.get(&new).await.unwrap().bytes().await.unwrap(), "new");
        let sealed = store
            .put_sealed(&new, Box::pin(&b"newer"[..]), PutOptions::new())
            .await
            .unwrap();
        assert_eq!(sealed.key_id, new_id);
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
        // The decryption failure comes back as itself, not as an I/O error of the body.
        let err = store.get(&key).await.unwrap().bytes().await.unwrap_err();
        assert!(
            matches!(err, Error::Crypto(ward_crypto::Error::Decrypt)),
            "{err:?}"
        );
        let err = store.get_range(&key, 0..10).await.unwrap_err();
        assert!(
            matches!(err, Error::Crypto(ward_crypto::Error::Decrypt)),
            "{err:?}"
        );
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

    /// Encryption runs on its own task (read-ahead): on a multi-threaded runtime every streamed put
    /// completes, and a failing body stores nothing.
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
    async fn read_ahead_fails_rather_than_ends_when_its_producer_stops_without_the_end_marker() {
        use tokio::io::AsyncReadExt as _;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Ok(Some(Bytes::from_static(b"sealed"))))
            .await
            .unwrap();
        drop(tx);
        let mut reader = tokio_util::io::StreamReader::new(channel_stream(rx));
        let mut buf = Vec::new();
        let err = reader.read_to_end(&mut buf).await.unwrap_err();
        assert_eq!(buf, b"sealed");
        assert_eq!(err.to_string(), "read-ahead stopped before the end");

        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(Ok(Some(Bytes::from_static(b"sealed"))))
            .await
            .unwrap();
        tx.send(Ok(None)).await.unwrap();
        drop(tx);
        let mut reader = tokio_util::io::StreamReader::new(channel_stream(rx));
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"sealed");
        assert_eq!(reader.read(&mut [0u8; 8]).await.unwrap(), 0);
    }

    /// An object copied onto another object's key fails to open there: in the same workspace,
    /// another owner, and another workspace (M1).
    #[tokio::test]
    async fn a_ciphertext_copied_onto_another_key_fails_to_open() {
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), keys());
        let a = fresh_key(FileKind::Jpeg);
        store.put(&a, "patient A's x-ray".into()).await.unwrap();
        let stolen = raw.get(&a).await.unwrap().bytes().await.unwrap();
        let (ws, owner, id) = (
            a.workspace().unwrap(),
            a.owner().unwrap(),
            a.attachment().unwrap(),
        );
        let same_owner = ObjectKey::new(ws, owner, Uuid::new_v4(), FileKind::Jpeg);
        let other_owner = ObjectKey::new(
            ws,
            crate::key::Owner::Client(Uuid::new_v4()),
            id,
            FileKind::Jpeg,
        );
        let other_workspace = ObjectKey::new(Uuid::new_v4(), owner, id, FileKind::Jpeg);
        for b in [same_owner, other_owner, other_workspace] {
            store.put(&b, "patient B's x-ray".into()).await.unwrap();
            raw.put(&b, stolen.clone()).await.unwrap();
            let whole = match store.get(&b).await {
                Ok(got) => got.bytes().await.map(|_| ()),
                Err(e) => Err(e),
            };
            assert!(whole.is_err(), "{b}: whole read opened a copied object");
            assert!(store.get_range(&b, 0..5).await.is_err(), "{b}: range");
        }
        assert_eq!(
            store.get(&a).await.unwrap().bytes().await.unwrap(),
            "patient A's x-ray"
        );
    }

    #[tokio::test]
    async fn a_sealed_put_returns_the_key_it_used_and_its_proof() {
        let keys = Arc::new(InMemoryKeySource::with_active(
            DataKey::generate(DekId(4)).unwrap(),
        ));
        let raw = MemoryStore::new();
        let store = EncryptedStore::new(raw.clone(), SharedAcrossWorkspaces(Arc::clone(&keys)))
            .with_proof(RequiredProof::ClientSide);
        let key = fresh_key(FileKind::Pdf);
        let data = pattern(70_000, 9);
        let sealed = store
            .put_sealed(
                &key,
                Box::pin(conformance::TestReader::new(data.clone())),
                PutOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(sealed.key_id, DekId(4));
        assert_eq!(sealed.result.size, 70_000);
        let evidence = sealed.evidence.unwrap();
        assert_eq!(evidence.algorithm, "ward-stream-v2");
        assert_eq!(evidence.ward_key_id, Some(DekId(4)));
        let next = keys.generate().unwrap();
        keys.activate(next).unwrap();
        let key2 = fresh_key(FileKind::Pdf);
        let sealed = store
            .put_sealed(
                &key2,
                Box::pin(conformance::TestReader::new(data.clone())),
                PutOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(sealed.key_id, next);
        assert_eq!(store.get(&key).await.unwrap().bytes().await.unwrap(), data);
    }
}
