//! `S3Store`: the S3 backend (AWS S3, MinIO and other S3-compatible servers) on aws-sdk-s3,
//! with server-side encryption requested on every put.

pub mod bootstrap;
mod builder;
mod credential;
mod error;

use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt as _;
use zeroize::Zeroizing;

pub use builder::{
    CONNECT_TIMEOUT, DEFAULT_PART_SIZE, Environment, MIN_ACCESS_KEY_LEN, MIN_PART_SIZE,
    MIN_SECRET_KEY_LEN, POOL_SIZE, READ_TIMEOUT, RETRIES, S3ConfigKey, S3StoreBuilder,
};
pub(crate) use error::S3CallError;

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey};
use crate::sse::{ObservedSse, SSE_C_ALGORITHM, SsePolicy, customer_key_md5};
use crate::store::{
    BoxReader, DeleteOptions, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, Presign,
    PresignMethod, PresignOptions, PresignedRequest, PutOptions, PutResult, check_range,
};

const STORE: &str = "S3Store";

/// The `Content-Type` every S3 object is stored with. Objects hold ward ciphertext, and the
/// plaintext's type lives in the database, so the bucket learns nothing from it.
pub const OBJECT_CONTENT_TYPE: &str = "application/octet-stream";

/// The SSE-C headers for one object: algorithm, base64 key, base64 MD5 of the key.
struct CustomerHeaders {
    key: Zeroizing<String>,
    key_md5: String,
}

/// Objects in one S3 bucket. Clones share the client and its connection pool.
///
/// Every put (single and multipart) carries the store's [`SsePolicy`]; with SSE-C every get and
/// head carries the object's derived key too. Build one with [`S3StoreBuilder`].
///
/// Every object, presigned uploads included, is stored with `Content-Type`
/// [`OBJECT_CONTENT_TYPE`] (`application/octet-stream`): the plaintext's type is kept in the
/// database, never in the bucket. [`PutOptions::content_type`] and
/// [`PresignOptions::content_type`] are ignored by this store.
///
/// Presigning is limited so that no URL hands out more than one object's ciphertext:
///
/// - presigned GET URLs are signed for any policy but SSE-C;
/// - presigned PUT URLs only when the builder opted in with
///   [`with_allow_presigned_put`](S3StoreBuilder::with_allow_presigned_put), since the uploader
///   writes straight to the bucket, past ward encryption;
/// - under SSE-C nothing is presigned: the caller would have to be given the object's customer
///   key, which stays valid for every future version of that key.
///
/// Each refusal is [`Error::NotSupported`].
#[derive(Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    sse: SsePolicy,
    part_size: usize,
    endpoint: String,
    allow_presigned_put: bool,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE)
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("sse", &self.sse)
            .field("part_size", &self.part_size)
            .field("allow_presigned_put", &self.allow_presigned_put)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE}({}/{})", self.endpoint, self.bucket)
    }
}

/// Applies the SSE policy's put headers to a request builder.
macro_rules! with_put_sse {
    ($store:expr, $key:expr, $req:expr) => {{
        let req = $req;
        match &$store.sse {
            SsePolicy::S3Managed => req.server_side_encryption(ServerSideEncryption::Aes256),
            SsePolicy::Kms { key_id } => req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_id),
            SsePolicy::CustomerKey(_) => with_customer_key!($store, $key, req),
        }
    }};
}

/// Applies the SSE-C headers (only when the policy is SSE-C) to a request builder.
macro_rules! with_customer_key {
    ($store:expr, $key:expr, $req:expr) => {{
        let req = $req;
        match $store.customer_headers($key) {
            Some(h) => req
                .sse_customer_algorithm(SSE_C_ALGORITHM)
                .sse_customer_key(h.key.as_str())
                .sse_customer_key_md5(h.key_md5),
            None => req,
        }
    }};
}

/// The SSE headers a put, head or get response reports (each output type has the same getters).
macro_rules! observed_sse {
    ($out:expr) => {
        ObservedSse {
            algorithm: $out.server_side_encryption().map(|s| s.as_str().to_owned()),
            kms_key_id: $out.ssekms_key_id().map(str::to_owned),
            customer_algorithm: $out.sse_customer_algorithm().map(str::to_owned),
            customer_key_md5: $out.sse_customer_key_md5().map(str::to_owned),
        }
    };
}

/// The [`ObjectMeta`] of `$key` (`$size` bytes) from a head or get response.
macro_rules! object_meta {
    ($key:expr, $size:expr, $out:expr) => {{
        let mut meta = ObjectMeta::new($key.clone(), $size);
        meta.etag = unquote($out.e_tag());
        meta.content_type = $out.content_type().map(str::to_owned);
        meta.last_modified = to_offset($out.last_modified());
        meta.sse = observed_sse!($out);
        meta.version = $out.version_id().map(str::to_owned);
        meta
    }};
}

fn to_offset(dt: Option<&aws_smithy_types::DateTime>) -> Option<OffsetDateTime> {
    dt.and_then(|d| OffsetDateTime::from_unix_timestamp(d.secs()).ok())
}

fn unquote(etag: Option<&str>) -> Option<String> {
    etag.map(|e| e.trim_matches('"').to_owned())
}

/// Reads up to `limit` bytes, fewer only at the end of the body.
async fn read_part(body: &mut BoxReader, limit: usize, key: &ObjectKey) -> Result<Bytes> {
    let mut buf = Vec::with_capacity(limit);
    let mut taken = body.take(limit as u64);
    taken
        .read_to_end(&mut buf)
        .await
        .map_err(|source| Error::Io {
            store: STORE,
            key: key.to_string(),
            source,
        })?;
    Ok(Bytes::from(buf))
}

impl S3Store {
    fn from_parts(
        client: aws_sdk_s3::Client,
        bucket: String,
        sse: SsePolicy,
        part_size: usize,
        endpoint: String,
        allow_presigned_put: bool,
    ) -> Self {
        Self {
            client,
            bucket,
            sse,
            part_size,
            endpoint,
            allow_presigned_put,
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The server-side encryption requested on every put.
    pub fn sse_policy(&self) -> &SsePolicy {
        &self.sse
    }

    /// The multipart part size.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// Whether presigned PUT URLs are handed out
    /// ([`with_allow_presigned_put`](S3StoreBuilder::with_allow_presigned_put)).
    pub fn allows_presigned_put(&self) -> bool {
        self.allow_presigned_put
    }

    /// The underlying client, for bucket bootstrap.
    pub(crate) fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The base64 MD5 of the SSE-C key sent for `key`, when the policy is SSE-C.
    pub fn customer_key_md5_for(&self, key: &ObjectKey) -> Option<String> {
        self.customer_headers(key).map(|h| h.key_md5)
    }

    fn customer_headers(&self, key: &ObjectKey) -> Option<CustomerHeaders> {
        let SsePolicy::CustomerKey(master) = &self.sse else {
            return None;
        };
        let derived = master.object_key_base64(key);
        let key_md5 = customer_key_md5(&derived);
        Some(CustomerHeaders {
            key: derived,
            key_md5,
        })
    }

    /// Checks that the bucket exists and the credentials may use it: start-up readiness.
    pub async fn verify_bucket_exists(&self) -> Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(e).into_error("head_bucket", None))?;
        Ok(())
    }

    async fn put_single(&self, key: &ObjectKey, payload: Bytes) -> Result<PutResult> {
        let size = payload.len() as u64;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(OBJECT_CONTENT_TYPE)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(ByteStream::from(payload));
        let out = with_put_sse!(self, key, req)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(e).into_error("put", Some(key)))?;
        Ok(PutResult {
            size,
            etag: unquote(out.e_tag()),
            sse: observed_sse!(out),
            version: out.version_id().map(str::to_owned),
        })
    }

    async fn upload_part(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        number: i32,
        part: Bytes,
    ) -> Result<CompletedPart> {
        let req = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .part_number(number)
            .content_length(i64::try_from(part.len()).unwrap_or(i64::MAX))
            .body(ByteStream::from(part));
        let out = with_customer_key!(self, key, req)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(e).into_error("upload_part", Some(key)))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .build())
    }

    /// Uploads `first` and the rest of `body` as a multipart upload, reading the next part while
    /// the current one uploads (so at most two parts are in memory).
    async fn put_multipart(
        &self,
        key: &ObjectKey,
        first: Bytes,
        body: &mut BoxReader,
    ) -> Result<PutResult> {
        let req = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(OBJECT_CONTENT_TYPE);
        let created = with_put_sse!(self, key, req).send().await.map_err(|e| {
            S3CallError::from_sdk(e).into_error("create_multipart_upload", Some(key))
        })?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::Generic {
                store: STORE,
                operation: "create_multipart_upload",
                source: "the server returned no upload id".into(),
            })?
            .to_owned();

        let uploaded = async {
            let mut parts = Vec::new();
            let mut size = 0u64;
            let mut current = first;
            let mut number = 1i32;
            loop {
                size += current.len() as u64;
                let (done, next) = tokio::join!(
                    self.upload_part(key, &upload_id, number, current),
                    read_part(body, self.part_size, key)
                );
                parts.push(done?);
                let next = next?;
                if next.is_empty() {
                    break;
                }
                current = next;
                number += 1;
            }
            let out = self
                .client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    S3CallError::from_sdk(e).into_error("complete_multipart_upload", Some(key))
                })?;
            Ok::<_, Error>(PutResult {
                size,
                etag: unquote(out.e_tag()),
                sse: ObservedSse {
                    algorithm: out.server_side_encryption().map(|s| s.as_str().to_owned()),
                    kms_key_id: out.ssekms_key_id().map(str::to_owned),
                    customer_algorithm: None,
                    customer_key_md5: None,
                },
                version: out.version_id().map(str::to_owned),
            })
        }
        .await;

        if uploaded.is_err() {
            // Nothing becomes visible without `complete`; aborting frees the parts now instead
            // of waiting for the bucket's lifecycle rule.
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .send()
                .await;
            if aborted.is_err() {
                tracing::warn!(store = STORE, key = %key, "aborting a failed multipart upload failed");
            }
        }
        uploaded
    }

    /// One `DeleteObject`; returns whether the server answered with a delete marker.
    async fn delete_object(&self, key: &ObjectKey, version: Option<String>) -> Result<bool> {
        let out = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_version_id(version)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(e).into_error("delete", Some(key)))?;
        Ok(out.delete_marker() == Some(true))
    }

    async fn head_inner(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let req = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str());
        let out = with_customer_key!(self, key, req)
            .send()
            .await
            .map_err(|e| S3CallError::from_sdk(e).into_error("head", Some(key)))?;
        let size = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
        Ok(object_meta!(key, size, out))
    }
}

/// Parses the total size from a `Content-Range: bytes a-b/total` header.
fn total_from_content_range(value: Option<&str>) -> Option<u64> {
    value?.rsplit('/').next()?.parse().ok()
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult> {
        if payload.len() > self.part_size {
            return self
                .put_stream_opts(key, Box::pin(std::io::Cursor::new(payload)), opts)
                .await;
        }
        // The content type asked for is ignored: see `OBJECT_CONTENT_TYPE`.
        self.put_single(key, payload).await
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        mut body: BoxReader,
        _opts: PutOptions,
    ) -> Result<PutResult> {
        // A body up to a 64th over one part goes in one PUT: a sealed body is its plaintext plus
        // a header and a tag per chunk, so a part-sized plaintext would otherwise become a
        // multipart upload with a second part of a few KiB (two more round trips).
        let single_limit = self.part_size + self.part_size / 64;
        let first = read_part(&mut body, single_limit, key).await?;
        if first.len() < single_limit {
            return self.put_single(key, first).await;
        }
        self.put_multipart(key, first, &mut body).await
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        // An empty range cannot be expressed as an HTTP range; answer it from a HEAD.
        if let Some(range) = opts.range.as_ref().filter(|r| r.start >= r.end) {
            let meta = self.head_inner(key).await?;
            check_range(range, meta.size)?;
            return Ok(GetResult::new(
                STORE,
                meta,
                range.clone(),
                Box::pin(std::io::Cursor::new(Bytes::new())),
            ));
        }
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str());
        if let Some(r) = &opts.range {
            req = req.range(format!("bytes={}-{}", r.start, r.end - 1));
        }
        let out = match with_customer_key!(self, key, req).send().await {
            Ok(out) => out,
            Err(e) => {
                let err = S3CallError::from_sdk(e);
                if let (Some(range), Some(416)) = (&opts.range, err.status) {
                    let len = self.head_inner(key).await?.size;
                    return Err(Error::RangeOutOfBounds {
                        start: range.start,
                        end: range.end,
                        len,
                    });
                }
                return Err(err.into_error("get", Some(key)));
            }
        };
        let returned = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
        let total = match &opts.range {
            Some(r) => match total_from_content_range(out.content_range()) {
                Some(total) => total,
                // No Content-Range: the server sent the whole object. That answers the range
                // only if the range is the whole object; anything else would be wrong bytes.
                None if r.start == 0 && r.end == returned => returned,
                None => {
                    return Err(Error::Generic {
                        store: STORE,
                        operation: "get",
                        source: "the server ignored the Range header".into(),
                    });
                }
            },
            None => returned,
        };
        let range: Range<u64> = opts.range.clone().unwrap_or(0..total);
        check_range(&range, total)?;
        let meta = object_meta!(key, total, out);
        Ok(GetResult::new(
            STORE,
            meta,
            range,
            Box::pin(out.body.into_async_read()),
        ))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.head_inner(key).await
    }

    /// Removes the current object's bytes, not just its name: a HEAD finds the current version
    /// and exactly that version is deleted (`DeleteObject?versionId=`), so on a versioned bucket
    /// nothing of it stays readable by version id. Without a version (an unversioned bucket) it
    /// is a plain delete; if the server still answers that delete with a delete marker, the bytes
    /// were kept and the call fails. Earlier versions of the key, if any, are left alone.
    ///
    /// With [`DeleteOptions::version`], exactly that version is deleted
    /// (`DeleteObject?versionId=`): its bytes are removed for good, no delete marker is added,
    /// and other versions stay.
    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()> {
        if let Some(version) = opts.version {
            return self.delete_object(key, Some(version)).await.map(|_| ());
        }
        let version = match self.head_inner(key).await {
            Ok(meta) => meta.version,
            Err(e) if e.is_not_found() => return Ok(()),
            // No version learnt: a plain delete, whose answer says whether bytes were kept.
            Err(_) => None,
        };
        let plain = version.is_none();
        let marker_only = self.delete_object(key, version).await?;
        if plain && marker_only {
            return Err(Error::Generic {
                store: STORE,
                operation: "delete",
                source: "the bucket keeps versions and no version id was known: the delete only \
                         added a delete marker and the object's bytes are still stored"
                    .into(),
            });
        }
        Ok(())
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        struct Page {
            token: Option<String>,
            done: bool,
        }
        let client = self.client.clone();
        let bucket = self.bucket.clone();
        let prefix = prefix.as_str().to_owned();
        let page_size = opts
            .page_size
            .map(|n| i32::try_from(n.clamp(1, 1000)).unwrap_or(1000));
        stream::try_unfold(
            Page {
                token: None,
                done: false,
            },
            move |page| {
                let (client, bucket, prefix) = (client.clone(), bucket.clone(), prefix.clone());
                async move {
                    if page.done {
                        return Ok::<_, Error>(None);
                    }
                    let out = client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .set_max_keys(page_size)
                        .set_continuation_token(page.token)
                        .send()
                        .await
                        .map_err(|e| S3CallError::from_sdk(e).into_error("list", None))?;
                    let mut metas = Vec::new();
                    for object in out.contents() {
                        let Some(key) = object.key().and_then(|k| k.parse::<ObjectKey>().ok())
                        else {
                            tracing::warn!(
                                store = STORE,
                                "skipping an object that is not a ward key"
                            );
                            continue;
                        };
                        let mut meta = ObjectMeta::new(
                            key,
                            u64::try_from(object.size().unwrap_or(0)).unwrap_or(0),
                        );
                        meta.etag = unquote(object.e_tag());
                        meta.last_modified = to_offset(object.last_modified());
                        metas.push(Ok(meta));
                    }
                    let token = out
                        .next_continuation_token()
                        .filter(|_| out.is_truncated() == Some(true))
                        .map(str::to_owned);
                    let next = Page {
                        done: token.is_none(),
                        token,
                    };
                    Ok(Some((stream::iter(metas), next)))
                }
            },
        )
        .try_flatten()
        .boxed()
    }
}

/// Presigning under the rules on [`S3Store`]: never under SSE-C, PUT only when opted in.
#[async_trait]
impl Presign for S3Store {
    async fn presign(
        &self,
        method: PresignMethod,
        key: &ObjectKey,
        opts: PresignOptions,
    ) -> Result<PresignedRequest> {
        opts.check()?;
        if matches!(self.sse, SsePolicy::CustomerKey(_)) {
            // The signed request would carry the object's customer key in its headers.
            return Err(Error::NotSupported {
                store: STORE,
                operation: "presigning under sse-c (the url would hand out the object's key)",
            });
        }
        if method == PresignMethod::Put && !self.allow_presigned_put {
            return Err(Error::NotSupported {
                store: STORE,
                operation: "presigned upload without with_allow_presigned_put (the uploader \
                            would bypass ward encryption)",
            });
        }
        let config = PresigningConfig::builder()
            .start_time(SystemTime::now())
            .expires_in(opts.expires_in)
            .build()
            .map_err(|e| Error::Generic {
                store: STORE,
                operation: "presign",
                source: Box::new(e),
            })?;
        let presigned = match method {
            // SSE-C was refused above, so no customer key is ever signed into a URL.
            PresignMethod::Get => self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .presigned(config)
                .await
                .map_err(|e| S3CallError::from_sdk(e).into_error("presign", Some(key)))?,
            PresignMethod::Put => {
                // `opts.content_type` is ignored: see `OBJECT_CONTENT_TYPE`.
                let req = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .content_type(OBJECT_CONTENT_TYPE);
                with_put_sse!(self, key, req)
                    .presigned(config)
                    .await
                    .map_err(|e| S3CallError::from_sdk(e).into_error("presign", Some(key)))?
            }
        };
        Ok(PresignedRequest {
            method,
            url: presigned.uri().to_owned(),
            headers: presigned
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            expires_at: OffsetDateTime::now_utc() + opts.expires_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::FileKind;
    use crate::sse::SseCustomerKey;

    /// A store on an https endpoint nothing listens on: presigning is computed locally.
    fn store(sse: SsePolicy, allow_presigned_put: bool) -> S3Store {
        S3StoreBuilder::new()
            .with_endpoint("https://s3.example.invalid")
            .with_bucket("b")
            .with_credentials("AKIAWARDEXAMPLE01", "a-long-enough-secret-key-0123")
            .with_sse(sse)
            .with_allow_presigned_put(allow_presigned_put)
            .build()
            .unwrap()
    }

    fn key() -> ObjectKey {
        crate::conformance::fresh_key(FileKind::Pdf)
    }

    use crate::store::MAX_PRESIGN_EXPIRY;
    use std::time::Duration;

    /// No URL outlives 15 minutes, whatever the method or the opt-in; one second more is refused
    /// before anything is signed.
    #[tokio::test]
    async fn presign_expiry_is_capped_at_fifteen_minutes() {
        let key = key();
        let store = store(SsePolicy::S3Managed, true);
        for method in [PresignMethod::Get, PresignMethod::Put] {
            let too_long =
                PresignOptions::new().with_expires_in(MAX_PRESIGN_EXPIRY + Duration::from_secs(1));
            let err = store.presign(method, &key, too_long).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::PresignExpiryTooLong {
                        requested_secs: 901,
                        max_secs: 900
                    }
                ),
                "{method:?}: {err:?}"
            );
            let longest = PresignOptions::new().with_expires_in(MAX_PRESIGN_EXPIRY);
            let req = store.presign(method, &key, longest).await.unwrap();
            assert_eq!(req.method, method);
        }
    }

    #[tokio::test]
    async fn sse_c_stores_presign_nothing_so_no_customer_key_leaves() {
        let master = SseCustomerKey::generate().unwrap();
        for allow_put in [false, true] {
            let store = store(SsePolicy::CustomerKey(master.clone()), allow_put);
            let key = key();
            let derived = master.object_key_base64(&key);
            for method in [PresignMethod::Get, PresignMethod::Put] {
                let err = store
                    .presign(method, &key, PresignOptions::new())
                    .await
                    .unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::NotSupported {
                            store: "S3Store",
                            ..
                        }
                    ),
                    "{method:?}: {err:?}"
                );
                let shown = format!("{err} {err:?}");
                assert!(shown.contains("sse-c"), "{shown}");
                assert!(!shown.contains(derived.as_str()), "{shown}");
            }
        }
    }

    #[tokio::test]
    async fn presigned_put_is_refused_unless_the_store_opted_in() {
        let key = key();
        let default = store(SsePolicy::S3Managed, false);
        assert!(!default.allows_presigned_put());
        let err = default
            .presign(PresignMethod::Put, &key, PresignOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotSupported {
                    store: "S3Store",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("with_allow_presigned_put"),
            "{err}"
        );
        // GET stays available: it only ever hands out ciphertext.
        let get = default
            .presign(PresignMethod::Get, &key, PresignOptions::new())
            .await
            .unwrap();
        assert!(get.url.contains(key.as_str()));

        let opted_in = store(SsePolicy::S3Managed, true);
        assert!(opted_in.allows_presigned_put());
        let put = opted_in
            .presign(
                PresignMethod::Put,
                &key,
                PresignOptions::new().with_content_type("application/pdf"),
            )
            .await
            .unwrap();
        assert_eq!(put.method, PresignMethod::Put);
        assert!(
            put.headers.iter().any(
                |(k, v)| k.eq_ignore_ascii_case("x-amz-server-side-encryption") && v == "AES256"
            ),
            "{:?}",
            put.headers
        );
        // The plaintext's type is never signed into the upload (L11).
        let types: Vec<&str> = put
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(types, [OBJECT_CONTENT_TYPE]);
    }
}
