//! `MemoryStore`: objects in a map in memory, for tests and examples.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::io::AsyncReadExt as _;

use crate::error::{Error, Result};
use crate::key::{KeyPrefix, ObjectKey};
use crate::store::{
    BoxReader, DeleteOptions, GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore,
    PutOptions, PutResult, check_range, refuse_version,
};

const STORE: &str = "MemoryStore";

#[derive(Debug, Clone)]
struct Entry {
    data: Bytes,
    meta: ObjectMeta,
}

/// An in-memory object store. Clones share the same objects.
///
/// It holds every object whole in memory, so it is for tests and examples, not for large files.
/// It has no server-side encryption and cannot presign.
///
/// ```
/// use ward_storage::{FileKind, MemoryStore, ObjectKey, ObjectStoreExt, Owner};
/// # use uuid::Uuid;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new(Uuid::new_v4(), Owner::Client(Uuid::new_v4()), Uuid::new_v4(), FileKind::Pdf);
/// store.put(&key, "hello".into()).await?;
/// assert_eq!(store.get(&key).await?.bytes().await?, "hello");
/// assert_eq!(store.get_range(&key, 1..3).await?, "el");
/// # Ok::<(), ward_storage::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    objects: Arc<RwLock<BTreeMap<String, Entry>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.objects.read().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(&self, key: &ObjectKey) -> Result<Entry> {
        self.read()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(STORE)
            .field("objects", &self.read().len())
            .finish()
    }
}

impl fmt::Display for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(STORE)
    }
}

/// A content hash as the etag, as S3 does for single-part objects (MD5 there, SHA-256 here).
pub(crate) fn content_etag(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl ObjectStore for MemoryStore {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> Result<PutResult> {
        let etag = content_etag(&payload);
        let mut meta = ObjectMeta::new(key.clone(), payload.len() as u64);
        meta.etag = Some(etag.clone());
        meta.content_type = Some(opts.content_type_for(key));
        meta.last_modified = Some(OffsetDateTime::now_utc());
        let result = PutResult {
            size: meta.size,
            etag: Some(etag),
            sse: meta.sse.clone(),
            version: None,
        };
        self.objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                key.as_str().to_owned(),
                Entry {
                    data: payload,
                    meta,
                },
            );
        Ok(result)
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        mut body: BoxReader,
        opts: PutOptions,
    ) -> Result<PutResult> {
        // The whole body is read before anything is stored, so a failed read stores nothing.
        let mut buf = Vec::new();
        body.read_to_end(&mut buf)
            .await
            .map_err(|source| Error::Io {
                store: STORE,
                key: key.to_string(),
                source,
            })?;
        self.put_opts(key, Bytes::from(buf), opts).await
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> Result<GetResult> {
        let entry = self.entry(key)?;
        let len = entry.data.len() as u64;
        let range = opts.range.unwrap_or(0..len);
        check_range(&range, len)?;
        // Both bounds are within `len`, which is a `usize`.
        let slice = entry.data.slice(
            usize::try_from(range.start).unwrap_or(0)..usize::try_from(range.end).unwrap_or(0),
        );
        Ok(GetResult::new(
            STORE,
            entry.meta,
            range,
            Box::pin(std::io::Cursor::new(slice)),
        ))
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        Ok(self.entry(key)?.meta)
    }

    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> Result<()> {
        refuse_version(STORE, &opts)?;
        self.objects
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key.as_str());
        Ok(())
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        _opts: ListOptions,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let metas: Vec<Result<ObjectMeta>> = self
            .read()
            .range(prefix.as_str().to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix.as_str()))
            .map(|(_, e)| Ok(e.meta.clone()))
            .collect();
        stream::iter(metas).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        conformance::run_all(&MemoryStore::new(), conformance::Capabilities::memory()).await;
    }

    /// A store without versions never handed one out: a delete naming one is refused, and the
    /// object stays.
    #[tokio::test]
    async fn a_versioned_delete_is_refused_and_removes_nothing() {
        use crate::store::ObjectStoreExt as _;
        let store = MemoryStore::new();
        let key = conformance::fresh_key(crate::key::FileKind::Pdf);
        store.put(&key, "kept".into()).await.unwrap();
        let err = store
            .delete_opts(&key, DeleteOptions::new().with_version(Some("v1")))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotSupported { .. }), "{err:?}");
        assert_eq!(
            store.get(&key).await.unwrap().bytes().await.unwrap(),
            "kept"
        );
        store.delete(&key).await.unwrap();
        assert!(store.head(&key).await.unwrap_err().is_not_found());
    }
}
