//! Data-key sources: activation, lookup by id, destruction (crypto-shredding).

use ward_crypto::{DataKey, DataKeySource, Error, InMemoryKeySource, KeyId, KeyRingError};

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
        source.key(KeyId(99)).await,
        Err(Error::UnknownKeyId { key_id: KeyId(99) })
    ));
    assert!(matches!(
        source.activate(KeyId(99)),
        Err(Error::UnknownKeyId { .. })
    ));
}

#[tokio::test]
async fn in_memory_source_destroys_keys_for_good() {
    let source = InMemoryKeySource::with_active(DataKey::generate(KeyId(7)).unwrap());
    source.destroy(KeyId(7)).unwrap();
    assert!(matches!(
        source.key(KeyId(7)).await,
        Err(Error::KeyDestroyed { key_id: KeyId(7) })
    ));
    assert!(matches!(source.active_key().await, Err(Error::NoActiveKey)));
    // A destroyed id is never handed out again, neither by add nor by generate.
    assert!(matches!(
        source.add(DataKey::generate(KeyId(7)).unwrap()),
        Err(Error::KeyRing(KeyRingError::DuplicateKeyId { key_id: KeyId(7) }))
    ));
    assert_eq!(source.generate().unwrap(), KeyId(8));
}
