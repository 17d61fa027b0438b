//! The conformance suite: scenarios every `ObjectStore` must pass, run by every backend's tests.
//!
//! Each scenario takes `&dyn ObjectStore` and works under a fresh workspace id, so it starts from
//! an empty prefix even on a shared bucket. Capability gaps are parameters ([`Capabilities`]),
//! never silent skips. [`presign`] is run separately, over stores that implement [`Presign`].
//! A failed step panics with its location, as a test assertion does.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use tokio::io::{AsyncRead, ReadBuf};
use uuid::Uuid;

use crate::error::Error;
use crate::key::{BackupPart, FileKind, KeyPrefix, ObjectKey, Owner};
use crate::store::{
    GetOptions, ListOptions, ObjectStore, ObjectStoreExt as _, Presign, PresignMethod,
    PresignOptions, PutOptions,
};

/// What a backend can do, so scenarios check the right outcome instead of skipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Whether [`Presign::presign`] returns GET URLs (otherwise it must fail with
    /// `NotSupported`); `false` for stores that do not implement [`Presign`].
    pub presign: bool,
    /// Whether [`Presign::presign`] returns PUT URLs (otherwise it must fail with
    /// `NotSupported`).
    pub presign_put: bool,
    /// Whether a content type other than the key's default is kept.
    pub custom_content_type: bool,
    /// The content type every object is recorded with whatever the options ask, when the store
    /// fixes one (S3: `application/octet-stream`).
    pub fixed_content_type: Option<&'static str>,
    /// Whether the store holds objects outside every workspace (a backup's, under `backups/`);
    /// otherwise a put of one must fail. `false` only for stores that seal per workspace.
    pub backup_keys: bool,
}

impl Capabilities {
    /// The memory store: keeps content types, cannot presign.
    pub fn memory() -> Self {
        Self {
            presign: false,
            presign_put: false,
            custom_content_type: true,
            fixed_content_type: None,
            backup_keys: true,
        }
    }

    /// The local store: content type follows the key's kind, cannot presign.
    pub fn local() -> Self {
        Self {
            presign: false,
            presign_put: false,
            custom_content_type: false,
            fixed_content_type: None,
            backup_keys: true,
        }
    }

    /// An S3 store as built by default: stores every object as `application/octet-stream`,
    /// presigns GET but not PUT (see `S3StoreBuilder::with_allow_presigned_put`).
    pub fn s3() -> Self {
        Self {
            presign: true,
            presign_put: false,
            custom_content_type: false,
            fixed_content_type: Some("application/octet-stream"),
            backup_keys: true,
        }
    }

    /// The same capabilities for a store that refuses objects outside every workspace (one that
    /// seals with a workspace's key).
    pub fn without_backup_keys(mut self) -> Self {
        self.backup_keys = false;
        self
    }
}

/// A fresh key under a fresh workspace.
pub fn fresh_key(kind: FileKind) -> ObjectKey {
    ObjectKey::new(
        Uuid::new_v4(),
        Owner::Session(Uuid::new_v4()),
        Uuid::new_v4(),
        kind,
    )
}

/// `len` bytes of a deterministic, non-repeating-looking pattern.
pub fn pattern(len: usize, seed: u8) -> Bytes {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// A reader yielding `data` in small pieces, then failing with an I/O error if `fail` is set.
#[derive(Debug)]
pub struct TestReader {
    data: Bytes,
    pos: usize,
    fail: bool,
}

impl TestReader {
    /// Yields `data` and ends cleanly.
    pub fn new(data: Bytes) -> Self {
        Self {
            data,
            pos: 0,
            fail: false,
        }
    }

    /// Yields `data`, then fails instead of ending.
    pub fn failing_after(data: Bytes) -> Self {
        Self {
            data,
            pos: 0,
            fail: true,
        }
    }
}

impl AsyncRead for TestReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos == self.data.len() {
            if self.fail {
                return Poll::Ready(Err(std::io::Error::other("source failed mid-stream")));
            }
            return Poll::Ready(Ok(()));
        }
        // Small, uneven pieces exercise buffering in the store.
        let n = buf.remaining().min(self.data.len() - self.pos).min(70_001);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

/// Runs every scenario.
pub async fn run_all(store: &dyn ObjectStore, caps: Capabilities) {
    put_get_head_round_trip(store, caps).await;
    put_replaces_an_object(store).await;
    missing_objects_are_not_found(store).await;
    byte_ranges(store).await;
    delete_is_idempotent(store).await;
    streamed_put_round_trips(store).await;
    failed_streamed_put_stores_nothing(store).await;
    list_by_prefix(store).await;
    backup_keys_stay_outside_workspaces(store, caps).await;
}

/// Put, get and head agree on bytes, size, etag and content type.
pub async fn put_get_head_round_trip(store: &dyn ObjectStore, caps: Capabilities) {
    const ASKED: &str = "image/x-ward-test";
    let key = fresh_key(FileKind::Jpeg);
    let data = pattern(10_000, 1);
    let opts = if caps.custom_content_type || caps.fixed_content_type.is_some() {
        PutOptions::new().with_content_type(ASKED)
    } else {
        PutOptions::new()
    };
    let put = store.put_opts(&key, data.clone(), opts).await.unwrap();
    assert_eq!(put.size, 10_000);

    let got = store.get(&key).await.unwrap();
    assert_eq!(got.meta.key, key);
    assert_eq!(got.range, 0..10_000);
    assert_eq!(got.bytes().await.unwrap(), data);

    let head = store.head(&key).await.unwrap();
    assert_eq!(head.key, key);
    assert_eq!(head.size, 10_000);
    assert!(head.etag.is_some(), "{store}: head has no etag");
    let expected_type = match caps.fixed_content_type {
        Some(fixed) => fixed,
        None if caps.custom_content_type => ASKED,
        None => "image/jpeg",
    };
    assert_eq!(head.content_type.as_deref(), Some(expected_type));
    store.delete(&key).await.unwrap();
}

/// A second put replaces the first whole.
pub async fn put_replaces_an_object(store: &dyn ObjectStore) {
    let key = fresh_key(FileKind::Png);
    store.put(&key, pattern(5000, 2)).await.unwrap();
    let second = pattern(300, 3);
    store.put(&key, second.clone()).await.unwrap();
    assert_eq!(
        store.get(&key).await.unwrap().bytes().await.unwrap(),
        second
    );
    assert_eq!(store.head(&key).await.unwrap().size, 300);
    store.delete(&key).await.unwrap();
}

/// Get and head of a missing object are `NotFound`, naming the key.
pub async fn missing_objects_are_not_found(store: &dyn ObjectStore) {
    let key = fresh_key(FileKind::Pdf);
    let err = store.get(&key).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { key: k } if *k == key.to_string()),
        "{store}: get of a missing object gave {err:?}"
    );
    let err = store.head(&key).await.unwrap_err();
    assert!(err.is_not_found(), "{store}: head gave {err:?}");
}

/// Ranges at the edges return exactly the slice; ranges outside the object are refused.
pub async fn byte_ranges(store: &dyn ObjectStore) {
    let key = fresh_key(FileKind::Webp);
    let data = pattern(4096, 4);
    store.put(&key, data.clone()).await.unwrap();
    for range in [0..1, 0..4096, 4095..4096, 100..200, 17..4000, 10..10] {
        let got = store.get_range(&key, range.clone()).await.unwrap();
        let (s, e) = (range.start as usize, range.end as usize);
        assert_eq!(got, data.slice(s..e), "{store}: range {range:?}");
    }
    for range in [0..4097, 4096..4097, 5000..6000] {
        let err = store
            .get_opts(&key, GetOptions::new().with_range(range.clone()))
            .await
            .err();
        assert!(
            matches!(err, Some(Error::RangeOutOfBounds { len: 4096, .. })),
            "{store}: range {range:?} gave {err:?}"
        );
    }
    store.delete(&key).await.unwrap();
}

/// Deleting removes the object; deleting again succeeds.
pub async fn delete_is_idempotent(store: &dyn ObjectStore) {
    let key = fresh_key(FileKind::Pdf);
    store.put(&key, pattern(10, 5)).await.unwrap();
    store.delete(&key).await.unwrap();
    assert!(store.head(&key).await.unwrap_err().is_not_found());
    store.delete(&key).await.unwrap();
}

/// Streamed puts of several sizes read back equal, empty included.
pub async fn streamed_put_round_trips(store: &dyn ObjectStore) {
    for (len, seed) in [(0usize, 6u8), (1, 7), (3 * 1024 * 1024 + 17, 8)] {
        let key = fresh_key(FileKind::Pdf);
        let data = pattern(len, seed);
        let put = store
            .put_stream(&key, Box::pin(TestReader::new(data.clone())))
            .await
            .unwrap();
        assert_eq!(put.size, len as u64, "{store}: streamed size");
        let got = store.get(&key).await.unwrap().bytes().await.unwrap();
        assert!(got == data, "{store}: streamed body of {len} bytes differs");
        store.delete(&key).await.unwrap();
    }
}

/// A body that fails mid-stream fails the put and leaves no object behind.
pub async fn failed_streamed_put_stores_nothing(store: &dyn ObjectStore) {
    let key = fresh_key(FileKind::Jpeg);
    let reader = TestReader::failing_after(pattern(300_000, 9));
    let result = store.put_stream(&key, Box::pin(reader)).await;
    assert!(result.is_err(), "{store}: a failing body was stored");
    assert!(store.head(&key).await.unwrap_err().is_not_found());
    let listed: Vec<_> = store
        .list(&KeyPrefix::workspace(key.workspace().unwrap()))
        .try_collect()
        .await
        .unwrap();
    assert!(listed.is_empty(), "{store}: a failed put is listed");
}

/// Listing returns exactly the keys under a prefix, in order, across pages.
pub async fn list_by_prefix(store: &dyn ObjectStore) {
    let ws = Uuid::new_v4();
    let (a, b) = (
        Owner::Client(Uuid::new_v4()),
        Owner::Session(Uuid::new_v4()),
    );
    let mut under_a = Vec::new();
    for i in 0..5u8 {
        let key = ObjectKey::new(ws, a, Uuid::new_v4(), FileKind::Png);
        store
            .put(&key, pattern(usize::from(i) + 1, i))
            .await
            .unwrap();
        under_a.push(key);
    }
    let key_b = ObjectKey::new(ws, b, Uuid::new_v4(), FileKind::Pdf);
    store.put(&key_b, pattern(3, 1)).await.unwrap();
    under_a.sort();

    let listed: Vec<ObjectKey> = store
        .list_opts(
            &KeyPrefix::owner(ws, a),
            ListOptions::new().with_page_size(2),
        )
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed, under_a, "{store}: owner listing");

    let all: Vec<_> = store
        .list(&KeyPrefix::workspace(ws))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 6, "{store}: workspace listing");
    let sizes: u64 = all.iter().map(|m| m.size).sum();
    assert_eq!(sizes, 1 + 2 + 3 + 4 + 5 + 3);

    let none: Vec<_> = store
        .list(&KeyPrefix::workspace(Uuid::new_v4()))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());

    for key in under_a.iter().chain([&key_b]) {
        store.delete(key).await.unwrap();
    }
}

/// A backup's objects round-trip under `backups/{id}/` and are never listed under a workspace
/// prefix or [`KeyPrefix::all`] (what the reconciler's sweep lists); a store that cannot hold
/// them refuses the put.
pub async fn backup_keys_stay_outside_workspaces(store: &dyn ObjectStore, caps: Capabilities) {
    let id = Uuid::new_v4();
    let key = ObjectKey::backup(id, BackupPart::Database);
    let put = store.put(&key, pattern(1_000, 5)).await;
    if !caps.backup_keys {
        assert!(
            put.is_err(),
            "{store}: stored an object outside every workspace"
        );
        return;
    }
    put.unwrap();
    let manifest = ObjectKey::backup(id, BackupPart::Manifest);
    store.put(&manifest, pattern(10, 6)).await.unwrap();
    let got = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert!(got == pattern(1_000, 5), "{store}: backup body differs");
    let listed: Vec<ObjectKey> = store
        .list(&KeyPrefix::backup(id))
        .map_ok(|m| m.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        listed,
        vec![key.clone(), manifest.clone()],
        "{store}: backup listing"
    );
    let mut everything = store.list(&KeyPrefix::all());
    while let Some(meta) = futures::StreamExt::next(&mut everything).await {
        let meta = meta.unwrap();
        assert!(
            meta.key.backup_part().is_none(),
            "{store}: a backup object listed among workspace objects"
        );
    }
    for k in [&key, &manifest] {
        store.delete(k).await.unwrap();
    }
}

/// Presigning caps expiry at 15 minutes; a store that does not presign a method (say, PUT)
/// answers `NotSupported`.
pub async fn presign(store: &dyn Presign, caps: Capabilities) {
    let key = fresh_key(FileKind::Jpeg);
    let too_long = PresignOptions::new().with_expires_in(Duration::from_secs(15 * 60 + 1));
    let err = store
        .presign(PresignMethod::Get, &key, too_long)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PresignExpiryTooLong { max_secs: 900, .. }),
        "{store}: {err:?}"
    );
    for (method, supported) in [
        (PresignMethod::Get, caps.presign),
        (PresignMethod::Put, caps.presign_put),
    ] {
        let result = store.presign(method, &key, PresignOptions::new()).await;
        if supported {
            let req = result.unwrap();
            assert_eq!(req.method, method);
            assert!(req.url.contains(key.as_str()), "{store}: url lacks the key");
            let shown = format!("{req:?}");
            assert!(
                !shown.contains("Signature"),
                "{store}: Debug shows the signature"
            );
        } else {
            assert!(
                matches!(result, Err(Error::NotSupported { .. })),
                "{store}: {method:?}: {result:?}"
            );
        }
    }
}
