//! The `ObjectStore` trait every backend implements, its option and result types, and
//! `ObjectStoreExt` for the convenience calls.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey};
use crate::sse::ObservedSse;

/// A boxed byte reader: streaming bodies in and out of a store.
pub type BoxReader = Pin<Box<dyn AsyncRead + Send>>;

/// The longest a presigned URL may live: 15 minutes.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(15 * 60);

/// What a store knows about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The object's key.
    pub key: ObjectKey,
    /// Stored size in bytes.
    pub size: u64,
    /// The entity tag, as the store reports it (quotes removed).
    pub etag: Option<String>,
    /// The content type recorded with the object.
    pub content_type: Option<String>,
    /// When the object was last written.
    pub last_modified: Option<OffsetDateTime>,
    /// Server-side encryption exactly as the server reported it (all `None` when it said
    /// nothing, and always for the local and memory stores).
    pub sse: ObservedSse,
    /// The version of the object this metadata describes, when the store keeps versions (S3
    /// `x-amz-version-id` on a versioned bucket; `None` elsewhere). Deleting exactly this version
    /// removes the stored bytes, where a plain delete on a versioned bucket only hides them:
    /// see [`DeleteOptions`].
    pub version: Option<String>,
}

impl ObjectMeta {
    /// Metadata with only key and size set.
    pub fn new(key: ObjectKey, size: u64) -> Self {
        Self {
            key,
            size,
            etag: None,
            content_type: None,
            last_modified: None,
            sse: ObservedSse::default(),
            version: None,
        }
    }
}

/// Per-call options for [`ObjectStore::put_opts`] and [`ObjectStore::put_stream_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// The content type to record; defaults to the key's [`FileKind`](crate::FileKind) type.
    /// `S3Store` ignores it and stores every object as `application/octet-stream`.
    pub content_type: Option<String>,
}

impl PutOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records this content type instead of the key's default.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// The content type to record for `key`.
    pub fn content_type_for(&self, key: &ObjectKey) -> String {
        self.content_type
            .clone()
            .unwrap_or_else(|| key.media_type().to_owned())
    }
}

/// What a put stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutResult {
    /// Bytes stored.
    pub size: u64,
    /// The entity tag the store returned.
    pub etag: Option<String>,
    /// Server-side encryption as the put response reported it. Informational only: proof comes
    /// from [`verify_file_encrypted`](crate::verify_file_encrypted).
    pub sse: ObservedSse,
    /// The version the put created, when the store keeps versions (S3 `x-amz-version-id` on a
    /// versioned bucket; `None` elsewhere). Pass it to a versioned delete ([`DeleteOptions`]) to
    /// remove exactly what this put wrote.
    pub version: Option<String>,
}

/// Per-call options for [`ObjectStore::delete_opts`]: what to remove.
///
/// On a versioned bucket, a delete without a version only adds a delete marker: the bytes stay
/// stored and readable by version id. A delete with [`with_version`](Self::with_version)
/// removes that one version for good and nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeleteOptions {
    /// The version to remove ([`PutResult::version`], [`ObjectMeta::version`]); the current
    /// object when `None`.
    pub version: Option<String>,
}

impl DeleteOptions {
    /// Default options: the current object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes exactly this version (when `Some`).
    pub fn with_version(mut self, version: Option<impl Into<String>>) -> Self {
        self.version = version.map(Into::into);
        self
    }
}

/// Per-call options for [`ObjectStore::get_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// Only these bytes (`start..end`, end exclusive); the whole object when `None`.
    pub range: Option<Range<u64>>,
}

impl GetOptions {
    /// Default options: the whole object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the bytes `range` (end exclusive).
    pub fn with_range(mut self, range: Range<u64>) -> Self {
        self.range = Some(range);
        self
    }
}

/// The answer of a store that keeps no versions to a delete naming one.
pub(crate) fn refuse_version(store: &'static str, opts: &DeleteOptions) -> Result<()> {
    match opts.version {
        Some(_) => Err(Error::NotSupported {
            store,
            operation: "versioned delete (this store keeps no versions)",
        }),
        None => Ok(()),
    }
}

/// Checks `range` against an object of `len` bytes.
pub(crate) fn check_range(range: &Range<u64>, len: u64) -> Result<()> {
    if range.start > range.end || range.end > len {
        return Err(Error::RangeOutOfBounds {
            start: range.start,
            end: range.end,
            len,
        });
    }
    Ok(())
}

/// An object being read: its metadata, the byte range being returned, and the body.
#[non_exhaustive]
pub struct GetResult {
    /// The store that returned the body (its type name, as errors name it).
    pub store: &'static str,
    /// The object's metadata (size is the whole object's).
    pub meta: ObjectMeta,
    /// The bytes the body holds.
    pub range: Range<u64>,
    /// The body.
    pub body: BoxReader,
}

impl GetResult {
    /// A result from its parts; `store` names the store returning it, as its errors do.
    pub fn new(store: &'static str, meta: ObjectMeta, range: Range<u64>, body: BoxReader) -> Self {
        Self {
            store,
            meta,
            range,
            body,
        }
    }

    /// The body as a reader.
    pub fn into_reader(self) -> BoxReader {
        self.body
    }

    /// Reads the whole body into memory, failing if it is shorter or longer than the range.
    ///
    /// Errors: [`Error::Io`] naming [`store`](Self::store) and the key when the body fails or
    /// holds another length than the range; a ward-crypto error carried by the body (a chunk of
    /// an [`EncryptedStore`](crate::EncryptedStore) object that fails to decrypt) comes back as
    /// [`Error::Crypto`].
    pub async fn bytes(self) -> Result<Bytes> {
        let expected = self.range.end - self.range.start;
        let mut buf = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(1 << 26));
        let mut body = self.body;
        let store = self.store;
        if let Err(err) = body.read_to_end(&mut buf).await {
            return Err(match ward_crypto::Error::from_io(err) {
                ward_crypto::Error::Io(source) => Error::Io {
                    store,
                    key: self.meta.key.to_string(),
                    source,
                },
                crypto => Error::Crypto(crypto),
            });
        }
        if buf.len() as u64 != expected {
            return Err(Error::Io {
                store,
                key: self.meta.key.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("body held {} bytes, expected {expected}", buf.len()),
                ),
            });
        }
        Ok(Bytes::from(buf))
    }
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("store", &self.store)
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Per-call options for [`ObjectStore::list_opts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Keys fetched per request (S3 caps this at 1000); the backend's default when `None`.
    pub page_size: Option<u32>,
}

impl ListOptions {
    /// Default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fetches this many keys per request.
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }
}

/// The HTTP method a presigned URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PresignMethod {
    /// Download.
    Get,
    /// Upload.
    Put,
}

/// Per-call options for [`Presign::presign`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignOptions {
    /// How long the URL is valid; at most [`MAX_PRESIGN_EXPIRY`].
    pub expires_in: Duration,
    /// For uploads: the content type signed into the URL (defaults to the key's type).
    /// `S3Store` ignores it and signs `application/octet-stream`.
    pub content_type: Option<String>,
}

impl Default for PresignOptions {
    fn default() -> Self {
        Self {
            expires_in: Duration::from_secs(5 * 60),
            content_type: None,
        }
    }
}

impl PresignOptions {
    /// Default options: 5 minutes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Valid for `expires_in` (at most [`MAX_PRESIGN_EXPIRY`], checked when signing).
    pub fn with_expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = expires_in;
        self
    }

    /// Signs this content type into an upload URL.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Fails unless the expiry is within [`MAX_PRESIGN_EXPIRY`].
    pub fn check(&self) -> Result<()> {
        if self.expires_in > MAX_PRESIGN_EXPIRY {
            return Err(Error::PresignExpiryTooLong {
                requested_secs: self.expires_in.as_secs(),
                max_secs: MAX_PRESIGN_EXPIRY.as_secs(),
            });
        }
        Ok(())
    }
}

/// A presigned request: the URL and the headers the caller must send with it.
///
/// The URL carries a signature that grants access until it expires, so `Debug` prints only the
/// method, path and expiry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignedRequest {
    /// The HTTP method.
    pub method: PresignMethod,
    /// The full URL, signature included.
    pub url: String,
    /// Headers that were signed and must be sent unchanged (content type, SSE).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: OffsetDateTime,
}

impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &format_args!("{path}?******"))
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An object store: the primitives every backend writes.
///
/// # Contract
///
/// - **Atomic puts.** A put is visible whole or not at all: a reader never sees a partial object,
///   and a failed put leaves the previous object (or nothing) in place.
/// - **Bounded memory.** [`put_stream_opts`](Self::put_stream_opts) and
///   [`get_opts`](Self::get_opts) stream: memory stays bounded by a part size whatever the object
///   size (the memory backend excepted, which holds everything by design).
/// - **Idempotent delete.** Deleting a missing object succeeds.
/// - **Errors.** A missing object is [`Error::NotFound`]; a range outside the object is
///   [`Error::RangeOutOfBounds`]; an operation a backend cannot do is [`Error::NotSupported`].
/// - **Clone** (where a backend implements it) shares the same underlying storage and client.
/// - **Wrappers** forward every method (`#[deny(clippy::missing_trait_methods)]` on their impl), so
///   none can silently fall back to a default.
#[async_trait]
pub trait ObjectStore: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Stores `payload` under `key`, replacing any object there.
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult>;

    /// Stores everything `body` yields under `key`, in bounded memory (multipart above a
    /// threshold on S3).
    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        opts: PutOptions,
    ) -> Result<PutResult>;

    /// Reads an object, or a byte range of it.
    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult>;

    /// The object's metadata, including server-side encryption exactly as observed.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta>;

    /// Deletes an object, or with [`DeleteOptions::version`] exactly that version of it;
    /// deleting a missing object succeeds. A store that keeps no versions refuses a version
    /// ([`Error::NotSupported`]): it never handed one out.
    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()>;

    /// Every object under `prefix`, in key order, fetched page by page.
    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>>;
}

/// Presigned URLs for one object: a capability only the S3 backend has, so it is not part of
/// [`ObjectStore`] and the other backends carry no refusals for it.
///
/// Downloads go through the service (which decrypts), so ward itself needs no presigning; the
/// trait is for deployments that hand out a short-lived URL to the stored bytes.
///
/// # Contract
///
/// - Expiry is capped at [`MAX_PRESIGN_EXPIRY`] (15 minutes): a longer one is
///   [`Error::PresignExpiryTooLong`], checked before anything is signed.
/// - A method or policy the store will not sign is [`Error::NotSupported`], never a URL that
///   hands out key material or bypasses encryption (see `S3Store` for its rules).
#[async_trait]
pub trait Presign: ObjectStore {
    /// A presigned URL for one object. Expiry is capped at [`MAX_PRESIGN_EXPIRY`].
    async fn presign(
        &self,
        method: PresignMethod,
        key: &ObjectKey,
        opts: PresignOptions,
    ) -> Result<PresignedRequest>;
}

/// Convenience calls over [`ObjectStore`], implemented once for every store.
#[async_trait]
pub trait ObjectStoreExt: ObjectStore {
    /// Stores `payload` with default options.
    async fn put(&self, key: &ObjectKey, payload: Bytes) -> Result<PutResult> {
        self.put_opts(key, payload, PutOptions::default()).await
    }

    /// Stores a streaming body with default options.
    async fn put_stream(&self, key: &ObjectKey, body: BoxReader) -> Result<PutResult> {
        self.put_stream_opts(key, body, PutOptions::default()).await
    }

    /// Deletes the current object (see [`ObjectStore::delete_opts`]).
    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.delete_opts(key, DeleteOptions::default()).await
    }

    /// Reads a whole object.
    async fn get(&self, key: &ObjectKey) -> Result<GetResult> {
        self.get_opts(key, GetOptions::default()).await
    }

    /// Reads the bytes `range` of an object into memory.
    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        self.get_opts(key, GetOptions::new().with_range(range))
            .await?
            .bytes()
            .await
    }

    /// Every object under `prefix`, with default page size.
    fn list(&self, prefix: &KeyPrefix) -> BoxStream<'static, Result<ObjectMeta>> {
        self.list_opts(prefix, ListOptions::default())
    }
}

impl<T: ObjectStore + ?Sized> ObjectStoreExt for T {}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<T: ObjectStore + ?Sized> ObjectStore for std::sync::Arc<T> {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult> {
        (**self).put_opts(key, payload, opts).await
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        opts: PutOptions,
    ) -> Result<PutResult> {
        (**self).put_stream_opts(key, body, opts).await
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        (**self).get_opts(key, opts).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        (**self).head(key).await
    }

    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()> {
        (**self).delete_opts(key, opts).await
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        (**self).list_opts(prefix, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{TestReader, fresh_key};
    use crate::key::FileKind;

    /// A body that fails or holds the wrong length is an I/O error naming the store that
    /// returned it and the key, never the operation.
    #[tokio::test]
    async fn body_errors_name_the_store_and_the_key() {
        let key = fresh_key(FileKind::Pdf);
        let short = GetResult::new(
            "MemoryStore",
            ObjectMeta::new(key.clone(), 4),
            0..4,
            Box::pin(TestReader::new(Bytes::from_static(b"abc"))),
        );
        let failing = GetResult::new(
            "LocalStore",
            ObjectMeta::new(key.clone(), 4),
            0..4,
            Box::pin(TestReader::failing_after(Bytes::from_static(b"ab"))),
        );
        for (result, expected) in [(short, "MemoryStore"), (failing, "LocalStore")] {
            match result.bytes().await {
                Err(Error::Io { store, key: k, .. }) => {
                    assert_eq!(store, expected);
                    assert_eq!(k, key.as_str());
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
    }
}
