//! Data-key sources: activation, lookup by id, destruction (crypto-shredding).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_crypto::{
    CachePolicy, CachedKeySource, Clock, DataKey, DataKeySource, DekId, Error, FieldCipher,
    InMemoryKeySource, KekId, KeyEncryptionKey, KeyMaterial, KeyRingError, LocalKek,
    WrappedKeySource,
};

#[tokio::test]
async fn in_memory_source_activates_and_resolves_by_id() {
    let source = InMemoryKeySource::new();
    assert!(matches!(source.active_key().await, Err(Error::NoActiveKey)));
    let first = source.generate().unwrap();
    let second = source.generate().unwrap();
    assert_ne!(first, second);
    assert_eq!(source.active_key().await.unwrap().id(), first);
    source.activate(second).unwrap();
    assert_eq!(source.active_key().await.unwrap().id(), second);
    assert_eq!(source.key(first).await.unwrap().id(), first);
    assert_eq!(source.key_ids(), vec![first, second]);
    assert!(matches!(
        source.key(DekId(99)).await,
        Err(Error::UnknownKeyId { key_id: DekId(99) })
    ));
    assert!(matches!(
        source.activate(DekId(99)),
        Err(Error::UnknownKeyId { .. })
    ));
}

#[tokio::test]
async fn in_memory_source_destroys_keys_for_good() {
    let source = InMemoryKeySource::with_active(DataKey::generate(DekId(7)).unwrap());
    source.destroy(DekId(7)).unwrap();
    assert!(matches!(
        source.key(DekId(7)).await,
        Err(Error::KeyDestroyed { key_id: DekId(7) })
    ));
    assert!(matches!(source.active_key().await, Err(Error::NoActiveKey)));
    // A destroyed id is never handed out again, neither by add nor by generate.
    assert!(matches!(
        source.add(DataKey::generate(DekId(7)).unwrap()),
        Err(Error::KeyRing(KeyRingError::DuplicateKeyId {
            key_id: DekId(7)
        }))
    ));
    assert_eq!(source.generate().unwrap(), DekId(8));
}

/// A clock the test moves by hand, so cache expiry is tested without sleeping.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

/// Counts how often the inner source is asked: what the cache saves.
#[derive(Debug)]
struct Counting {
    inner: InMemoryKeySource,
    fetches: AtomicUsize,
}

#[async_trait::async_trait]
impl DataKeySource for Counting {
    async fn active_key(&self) -> ward_crypto::Result<Arc<DataKey>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.inner.active_key().await
    }

    async fn key(&self, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.inner.key(id).await
    }
}

fn counting() -> Arc<Counting> {
    Arc::new(Counting {
        inner: InMemoryKeySource::new(),
        fetches: AtomicUsize::new(0),
    })
}

#[tokio::test]
async fn cache_expires_by_age_on_the_given_clock() {
    let inner = counting();
    let id = inner.inner.generate().unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let cached = CachedKeySource::new(
        Arc::clone(&inner),
        CachePolicy::new()
            .with_max_age(Duration::from_secs(60))
            .with_max_uses(1_000),
    )
    .with_clock(clock.clone());

    for _ in 0..5 {
        assert_eq!(cached.key(id).await.unwrap().id(), id);
    }
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(59));
    cached.key(id).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    cached.key(id).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cache_expires_by_number_of_uses() {
    let inner = counting();
    let id = inner.inner.generate().unwrap();
    let cached = CachedKeySource::new(Arc::clone(&inner), CachePolicy::new().with_max_uses(3));
    for _ in 0..3 {
        cached.key(id).await.unwrap();
    }
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 1);
    cached.key(id).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn cache_sees_a_new_active_key_after_its_age_and_forgets_on_invalidate() {
    let inner = counting();
    let v1 = inner.inner.generate().unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let cached = CachedKeySource::new(
        Arc::clone(&inner),
        CachePolicy::new().with_max_age(Duration::from_secs(10)),
    )
    .with_clock(clock.clone());
    assert_eq!(cached.active_key().await.unwrap().id(), v1);
    let v2 = inner.inner.generate().unwrap();
    inner.inner.activate(v2).unwrap();
    assert_eq!(
        cached.active_key().await.unwrap().id(),
        v1,
        "still within max age"
    );
    clock.advance(Duration::from_secs(10));
    assert_eq!(cached.active_key().await.unwrap().id(), v2);

    inner.inner.destroy(v1).unwrap();
    cached.key(v1).await.unwrap_err();
    cached.invalidate(v2);
    inner.inner.destroy(v2).unwrap();
    assert!(matches!(
        cached.key(v2).await,
        Err(Error::KeyDestroyed { .. })
    ));
    assert!(matches!(cached.active_key().await, Err(Error::NoActiveKey)));
}

#[tokio::test]
async fn cache_with_zero_uses_never_caches() {
    let inner = counting();
    let id = inner.inner.generate().unwrap();
    let cached = CachedKeySource::new(Arc::clone(&inner), CachePolicy::new().with_max_uses(0));
    cached.key(id).await.unwrap();
    cached.key(id).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrapped_source_unwraps_through_the_kek_and_is_bound_to_its_workspace() {
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().unwrap().to_base64().as_str()
    );
    let kek: Arc<dyn KeyEncryptionKey> = Arc::new(LocalKek::parse(&ring).unwrap());
    let source = Arc::new(WrappedKeySource::new(Arc::clone(&kek), "workspace-a"));
    let wrapped = source.generate().await.unwrap();
    assert_eq!(wrapped.dek_id(), DekId(1));
    assert_eq!(wrapped.kek_id(), KekId(1));

    let cipher = FieldCipher::from_source(source.clone()).await.unwrap();
    let sealed = cipher.seal(b"note", b"sessions.soap:1").unwrap();

    // The same stored bytes in another workspace's source do not unwrap.
    let other = WrappedKeySource::new(kek, "workspace-b");
    other.insert(wrapped.clone()).unwrap();
    assert!(matches!(other.key(DekId(1)).await, Err(Error::Decrypt)));

    // Destroying the key crypto-shreds the data.
    source.destroy(DekId(1)).unwrap();
    let fresh = FieldCipher::from_source(source.clone()).await.unwrap();
    assert!(matches!(
        fresh.open_resolving(&sealed, b"sessions.soap:1").await,
        Err(Error::KeyDestroyed { key_id: DekId(1) })
    ));
    assert!(matches!(
        source.insert(wrapped),
        Err(Error::KeyRing(KeyRingError::DuplicateKeyId { .. }))
    ));
}

/// A source whose lookups wait until the test opens a gate, so a destroy can land mid-lookup.
#[derive(Debug)]
struct Gated {
    inner: InMemoryKeySource,
    entered: tokio::sync::Notify,
    gate: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl DataKeySource for Gated {
    async fn active_key(&self) -> ward_crypto::Result<Arc<DataKey>> {
        self.inner.active_key().await
    }

    async fn key(&self, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        // Fetch first (the key still exists), then wait: the answer is in flight.
        let answer = self.inner.key(id).await;
        self.entered.notify_one();
        let _permit = self.gate.acquire().await.unwrap();
        answer
    }
}

/// A cache over a source whose lookups wait at a gate: one lookup of a fresh key is started and
/// held inside the source, then the key is destroyed there. Returns the gated source, the cache,
/// the key id and the held lookup.
async fn lookup_held_then_key_destroyed() -> (
    Arc<Gated>,
    Arc<CachedKeySource<Arc<Gated>>>,
    DekId,
    tokio::task::JoinHandle<ward_crypto::Result<Arc<DataKey>>>,
) {
    let gated = Arc::new(Gated {
        inner: InMemoryKeySource::new(),
        entered: tokio::sync::Notify::new(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let id = gated.inner.generate().unwrap();
    let cached = Arc::new(CachedKeySource::new(Arc::clone(&gated), CachePolicy::new()));
    let lookup = tokio::spawn({
        let cached = Arc::clone(&cached);
        async move { cached.key(id).await }
    });
    gated.entered.notified().await;
    gated.inner.destroy(id).unwrap();
    (gated, cached, id, lookup)
}

/// M5: a key destroyed and invalidated while a lookup is in flight is not cached (nor returned)
/// by that lookup; the next lookup reports it destroyed.
#[tokio::test]
async fn a_key_destroyed_during_a_lookup_is_not_cached_by_it() {
    let (gated, cached, id, lookup) = lookup_held_then_key_destroyed().await;
    cached.invalidate(id);
    gated.gate.add_permits(10);
    let in_flight = lookup.await.unwrap();
    assert!(
        matches!(in_flight, Err(Error::KeyDestroyed { .. })),
        "{in_flight:?}"
    );
    assert!(matches!(
        cached.key(id).await,
        Err(Error::KeyDestroyed { .. })
    ));
    assert!(
        format!("{cached:?}").contains("cached_key_ids: []"),
        "{cached:?}"
    );
}

/// M5: expired entries leave memory at the next lookup of any key, not only their own.
#[tokio::test]
async fn expired_keys_are_swept_on_any_lookup() {
    let inner = Arc::new(InMemoryKeySource::new());
    let old = inner.generate().unwrap();
    let new = inner.generate().unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let cached = CachedKeySource::new(
        Arc::clone(&inner),
        CachePolicy::new().with_max_age(Duration::from_secs(60)),
    )
    .with_clock(Arc::clone(&clock) as Arc<dyn Clock>);
    cached.key(old).await.unwrap();
    clock.advance(Duration::from_secs(61));
    cached.key(new).await.unwrap();
    let debug = format!("{cached:?}");
    assert!(
        debug.contains(&format!("cached_key_ids: [{new:?}]")),
        "{debug}"
    );
}

/// Invalidating one key drops that key only: the active key stays cached, and later lookups are
/// cached again (an invalidation does not stop caching for good).
#[tokio::test]
async fn invalidating_one_key_leaves_the_others_cached() {
    let inner = counting();
    let active = inner.inner.generate().unwrap();
    let other = inner.inner.generate().unwrap();
    let cached = CachedKeySource::new(Arc::clone(&inner), CachePolicy::new());
    assert_eq!(cached.active_key().await.unwrap().id(), active);
    cached.key(other).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);

    cached.invalidate(other);
    assert_eq!(cached.active_key().await.unwrap().id(), active);
    assert_eq!(
        inner.fetches.load(Ordering::SeqCst),
        2,
        "the active key is still cached"
    );
    cached.key(other).await.unwrap();
    cached.key(other).await.unwrap();
    assert_eq!(
        inner.fetches.load(Ordering::SeqCst),
        3,
        "fetched once again, then cached"
    );
}

/// `clear` drops every cached key, and a lookup in flight across it caches nothing and reports
/// a key destroyed meanwhile, as for `invalidate`.
#[tokio::test]
async fn clear_forgets_every_key_and_wins_over_a_lookup_in_flight() {
    let inner = counting();
    let id = inner.inner.generate().unwrap();
    let cached = CachedKeySource::new(Arc::clone(&inner), CachePolicy::new());
    cached.key(id).await.unwrap();
    cached.clear();
    assert!(
        format!("{cached:?}").contains("cached_key_ids: []"),
        "{cached:?}"
    );
    cached.key(id).await.unwrap();
    assert_eq!(inner.fetches.load(Ordering::SeqCst), 2);

    let (gated, cached, _, lookup) = lookup_held_then_key_destroyed().await;
    cached.clear();
    gated.gate.add_permits(10);
    let in_flight = lookup.await.unwrap();
    assert!(
        matches!(in_flight, Err(Error::KeyDestroyed { .. })),
        "{in_flight:?}"
    );
    assert!(
        format!("{cached:?}").contains("cached_key_ids: []"),
        "{cached:?}"
    );
}

#[tokio::test]
async fn wrapped_source_activates_the_key_it_is_told_to() {
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().unwrap().to_base64().as_str()
    );
    let kek: Arc<dyn KeyEncryptionKey> = Arc::new(LocalKek::parse(&ring).unwrap());
    let source = WrappedKeySource::new(kek, "workspace-a");
    let first = source.generate().await.unwrap().dek_id();
    let second = source.generate().await.unwrap().dek_id();
    assert_eq!(source.active_key().await.unwrap().id(), first);
    source.activate(second).unwrap();
    assert_eq!(source.active_key().await.unwrap().id(), second);
    assert!(matches!(
        source.activate(DekId(99)),
        Err(Error::UnknownKeyId { key_id: DekId(99) })
    ));
    assert_eq!(source.active_key().await.unwrap().id(), second);
}
