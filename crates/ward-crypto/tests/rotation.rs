//! Rotation: DEK rotation keeps old data readable, KEK rewrap touches no data, unknown and
//! destroyed keys are typed errors, and the key-usage report counts what is in use.

use std::sync::Arc;

use ward_crypto::{
    DataKeySource, DekId, Error, FieldCipher, InMemoryKeySource, KekId, KeyEncryptionKey,
    KeyMaterial, KeyUsage, LocalKek, WrappedKeySource, needs_rewrap, reencrypt_field, rewrap,
    rewrap_source,
};

fn b64() -> String {
    KeyMaterial::generate().unwrap().to_base64().to_string()
}

#[tokio::test]
async fn data_under_v1_reads_after_v2_becomes_active_and_reencrypts_to_v2() {
    let source = Arc::new(InMemoryKeySource::new());
    let v1 = source.generate().unwrap();
    let before = FieldCipher::from_source(source.clone()).await.unwrap();
    let old = before.seal(b"history", b"clients.history:1").unwrap();

    let v2 = source.generate().unwrap();
    source.activate(v2).unwrap();
    let after = FieldCipher::from_source(source.clone()).await.unwrap();
    assert_eq!(
        after
            .open_resolving(&old, b"clients.history:1")
            .await
            .unwrap()
            .as_slice(),
        b"history"
    );

    let moved = reencrypt_field(&after, &old, b"clients.history:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(FieldCipher::key_id_of(&moved).unwrap(), v2);
    assert_eq!(
        after.open(&moved, b"clients.history:1").unwrap().as_slice(),
        b"history"
    );
    // Already under the active key: nothing to write.
    assert_eq!(
        reencrypt_field(&after, &moved, b"clients.history:1")
            .await
            .unwrap(),
        None
    );

    let usage = KeyUsage::of_fields([&old, &moved, &moved]);
    assert_eq!(usage.count(v1), 1);
    assert_eq!(usage.count(v2), 2);
    assert!(!usage.is_unused(v1));
}

#[tokio::test]
async fn rewrap_under_a_new_kek_keeps_data_readable_without_touching_it() {
    let (k1, k2) = (b64(), b64());
    let ring_v1: Arc<dyn KeyEncryptionKey> =
        Arc::new(LocalKek::parse(&format!("1:{k1}:active")).unwrap());
    let source = WrappedKeySource::new(ring_v1, "workspace-1");
    let wrapped = source.generate().await.unwrap();
    assert_eq!(wrapped.kek_id(), KekId(1));
    let data = FieldCipher::new(&source.active_key().await.unwrap())
        .seal(b"soap note", b"sessions.note:9")
        .unwrap();

    // KEK rotation: version 2 becomes active, version 1 stays for unwrapping.
    let ring_v2: Arc<dyn KeyEncryptionKey> =
        Arc::new(LocalKek::parse(&format!("1:{k1}\n2:{k2}:active")).unwrap());
    let rotated = WrappedKeySource::new(ring_v2.clone(), "workspace-1");
    rotated.insert(wrapped.clone()).unwrap();
    assert!(needs_rewrap(ring_v2.as_ref(), &wrapped));
    assert_eq!(rewrap_source(&rotated).await.unwrap(), 1);
    assert_eq!(
        rewrap_source(&rotated).await.unwrap(),
        0,
        "second pass finds nothing"
    );
    let rewrapped = rotated.wrapped(DekId(1)).unwrap();
    assert_eq!(rewrapped.kek_id(), KekId(2));
    assert_eq!(rewrapped.dek_id(), DekId(1));

    // Version 1 retired: only version 2 is left, and the unchanged data still opens.
    let ring_v2_only: Arc<dyn KeyEncryptionKey> =
        Arc::new(LocalKek::parse(&format!("2:{k2}:active")).unwrap());
    let retired = WrappedKeySource::new(ring_v2_only.clone(), "workspace-1");
    retired.insert(rewrapped.clone()).unwrap();
    let cipher = FieldCipher::from_source(Arc::new(retired)).await.unwrap();
    assert_eq!(
        cipher.open(&data, b"sessions.note:9").unwrap().as_slice(),
        b"soap note"
    );

    // The old wrapped form names a KEK version that no longer exists: a typed error.
    assert!(matches!(
        ring_v2_only.unwrap(&wrapped, b"workspace-1").await,
        Err(Error::UnknownKekId { kek_id: KekId(1) })
    ));
    // Rewrapping is bound to the context too.
    assert!(matches!(
        rewrap(ring_v2.as_ref(), &wrapped, b"workspace-2").await,
        Err(Error::Decrypt)
    ));
}

#[tokio::test]
async fn unknown_key_id_is_a_typed_error() {
    let source = Arc::new(InMemoryKeySource::new());
    source.generate().unwrap();
    let sealed = FieldCipher::from_source(source.clone())
        .await
        .unwrap()
        .seal(b"x", b"c")
        .unwrap();
    let elsewhere = Arc::new(InMemoryKeySource::new());
    for _ in 0..3 {
        elsewhere.generate().unwrap();
    }
    elsewhere.destroy(DekId(1)).unwrap();
    let mut renamed = sealed.clone();
    renamed[1..5].copy_from_slice(&40u32.to_be_bytes());
    let cipher = FieldCipher::from_source(elsewhere).await.unwrap();
    assert!(matches!(
        cipher.open_resolving(&renamed, b"c").await,
        Err(Error::UnknownKeyId { key_id: DekId(40) })
    ));
}

#[tokio::test]
async fn destroyed_dek_leaves_its_data_unreadable() {
    let source = Arc::new(InMemoryKeySource::new());
    let v1 = source.generate().unwrap();
    let sealed = FieldCipher::from_source(source.clone())
        .await
        .unwrap()
        .seal(b"to be shredded", b"c")
        .unwrap();
    let v2 = source.generate().unwrap();
    source.activate(v2).unwrap();
    source.destroy(v1).unwrap();
    let cipher = FieldCipher::from_source(source.clone()).await.unwrap();
    assert!(matches!(
        cipher.open_resolving(&sealed, b"c").await,
        Err(Error::KeyDestroyed { key_id }) if key_id == v1
    ));
    assert!(matches!(
        source.key(v1).await,
        Err(Error::KeyDestroyed { .. })
    ));
}

#[test]
fn usage_report_counts_unreadable_inputs_and_merges() {
    let v3 = FieldCipher::new(&ward_crypto::DataKey::generate(DekId(3)).unwrap());
    let mut a = KeyUsage::of_fields(vec![v3.seal(b"1", b"").unwrap(), vec![9, 9, 9], Vec::new()]);
    assert_eq!(a.count(DekId(3)), 1);
    assert_eq!(a.unreadable(), 2);
    let mut b = KeyUsage::new();
    b.record(DekId(5));
    b.record(DekId(3));
    a.merge(&b);
    assert_eq!(
        a.by_key().collect::<Vec<_>>(),
        vec![(DekId(3), 2), (DekId(5), 1)]
    );
    assert!(a.is_unused(DekId(4)));
}

#[test]
fn usage_report_counts_stream_objects_by_header() {
    let v3 = ward_crypto::DataKey::generate(DekId(3)).unwrap();
    let v4 = ward_crypto::DataKey::generate(DekId(4)).unwrap();
    let mut usage = KeyUsage::new();
    for (dek, body) in [(&v3, &b"photo"[..]), (&v4, b"consent form"), (&v4, b"")] {
        let object = ward_crypto::stream::encrypt_to_vec(dek, body, b"object").unwrap();
        usage
            .record_stream_header(&object[..object.len().min(ward_crypto::stream::MAX_HEADER_LEN)]);
    }
    usage.record_stream_header(b"not a ward stream");
    usage.record_field(&FieldCipher::new(&v3).seal(b"x", b"c").unwrap());
    assert_eq!(usage.count(DekId(3)), 2);
    assert_eq!(usage.count(DekId(4)), 2);
    assert_eq!(usage.unreadable(), 1);
}
