//! Field format: round trips, tampering of every kind, key commitment, key resolution.

use std::sync::Arc;

use proptest::prelude::*;
use ward_crypto::{
    DataKey, DataKeySource, DekId, Error, FieldCipher, InMemoryKeySource, KeyMaterial,
};

fn key(id: u32, byte: u8) -> DataKey {
    DataKey::new(DekId(id), KeyMaterial::from_bytes(&[byte; 32]).unwrap())
}

fn cipher() -> FieldCipher {
    FieldCipher::new(&key(7, 0x42))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_plaintext_and_context_round_trip(
        plaintext in proptest::collection::vec(any::<u8>(), 0..2048),
        context in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let cipher = cipher();
        let sealed = cipher.seal(&plaintext, &context).unwrap();
        prop_assert_eq!(sealed.len(), plaintext.len() + FieldCipher::OVERHEAD);
        prop_assert_eq!(FieldCipher::key_id_of(&sealed).unwrap(), DekId(7));
        let opened = cipher.open(&sealed, &context).unwrap();
        prop_assert_eq!(opened.as_slice(), &plaintext[..]);
    }

    #[test]
    fn any_bit_flip_is_refused(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let cipher = cipher();
        let mut sealed = cipher.seal(&plaintext, b"ctx").unwrap();
        let at = position.index(sealed.len());
        sealed[at] ^= 1 << bit;
        prop_assert!(cipher.open(&sealed, b"ctx").is_err());
    }

    #[test]
    fn any_truncation_or_extension_is_refused(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        cut in any::<prop::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..32),
    ) {
        let cipher = cipher();
        let sealed = cipher.seal(&plaintext, b"ctx").unwrap();
        let keep = cut.index(sealed.len());
        prop_assert!(cipher.open(&sealed[..keep], b"ctx").is_err());
        let mut longer = sealed;
        longer.extend_from_slice(&extra);
        prop_assert!(matches!(cipher.open(&longer, b"ctx"), Err(Error::Decrypt)));
    }

    #[test]
    fn any_other_context_is_refused(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        context in proptest::collection::vec(any::<u8>(), 0..64),
        other in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(context != other);
        let cipher = cipher();
        let sealed = cipher.seal(&plaintext, &context).unwrap();
        prop_assert!(matches!(cipher.open(&sealed, &other), Err(Error::Decrypt)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert!(cipher().open(&bytes, b"ctx").is_err());
    }
}

#[test]
fn header_field_changes_are_refused_with_typed_errors() {
    let cipher = cipher();
    cipher.add_key(&key(8, 0x43));
    let sealed = cipher.seal(b"phi", b"ctx").unwrap();

    let mut version = sealed.clone();
    version[0] = 2;
    assert!(matches!(
        cipher.open(&version, b"ctx"),
        Err(Error::UnsupportedVersion { version: 2 })
    ));

    // Another held key id: the commitment does not match that key.
    let mut key_id = sealed.clone();
    key_id[1..5].copy_from_slice(&8u32.to_be_bytes());
    assert!(matches!(cipher.open(&key_id, b"ctx"), Err(Error::Decrypt)));

    // An unknown key id is named, never tried with another key.
    let mut unknown = sealed.clone();
    unknown[1..5].copy_from_slice(&99u32.to_be_bytes());
    assert!(matches!(
        cipher.open(&unknown, b"ctx"),
        Err(Error::UnknownKeyId { key_id: DekId(99) })
    ));

    let mut commitment = sealed.clone();
    commitment[20] ^= 0x80;
    assert!(matches!(
        cipher.open(&commitment, b"ctx"),
        Err(Error::Decrypt)
    ));

    let mut nonce = sealed.clone();
    nonce[40] ^= 0x01;
    assert!(matches!(cipher.open(&nonce, b"ctx"), Err(Error::Decrypt)));

    assert!(matches!(
        cipher.open(&sealed[..FieldCipher::OVERHEAD - 1], b"ctx"),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        cipher.open(&[], b"ctx"),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn a_key_with_the_same_id_but_other_bytes_fails_the_commitment() {
    let sealed = cipher().seal(b"phi", b"ctx").unwrap();
    let impostor = FieldCipher::new(&key(7, 0x99));
    assert!(matches!(
        impostor.open(&sealed, b"ctx"),
        Err(Error::Decrypt)
    ));
}

#[test]
fn seals_use_fresh_nonces() {
    let cipher = cipher();
    let a = cipher.seal(b"same", b"ctx").unwrap();
    let b = cipher.seal(b"same", b"ctx").unwrap();
    assert_ne!(a, b);
}

#[test]
fn error_messages_hold_no_plaintext_or_ciphertext() {
    let cipher = cipher();
    let sealed = cipher.seal(b"jane.doe@example.org", b"ctx").unwrap();
    let mut bad = sealed;
    bad[60] ^= 1;
    let err = cipher.open(&bad, b"ctx").unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("jane"), "{shown}");
    assert_eq!(shown, "decryption failed Decrypt");
}

#[tokio::test]
async fn from_source_seals_with_the_active_key_and_resolves_older_ones() {
    let source = Arc::new(InMemoryKeySource::new());
    let v1 = source.generate().unwrap();
    let old = FieldCipher::from_source(source.clone()).await.unwrap();
    let sealed_v1 = old.seal(b"written under v1", b"ctx").unwrap();

    let v2 = source.generate().unwrap();
    source.activate(v2).unwrap();
    let cipher = FieldCipher::from_source(source.clone()).await.unwrap();
    assert_eq!(cipher.active_key_id(), Some(v2));
    // Not held yet: the sync open names the key; the resolving open fetches it.
    assert!(matches!(
        cipher.open(&sealed_v1, b"ctx"),
        Err(Error::UnknownKeyId { key_id }) if key_id == v1
    ));
    assert_eq!(
        cipher
            .open_resolving(&sealed_v1, b"ctx")
            .await
            .unwrap()
            .as_slice(),
        b"written under v1"
    );
    assert_eq!(
        cipher.open(&sealed_v1, b"ctx").unwrap().as_slice(),
        b"written under v1"
    );
    let sealed_v2 = cipher.seal(b"new", b"ctx").unwrap();
    assert_eq!(FieldCipher::key_id_of(&sealed_v2).unwrap(), v2);
    assert_eq!(source.active_key().await.unwrap().id(), v2);
}

#[tokio::test]
async fn a_source_without_active_key_opens_but_does_not_seal() {
    let source = Arc::new(InMemoryKeySource::new());
    let id = source.generate().unwrap();
    let sealed = FieldCipher::new(&source.key(id).await.unwrap())
        .seal(b"x", b"c")
        .unwrap();
    source.generate().unwrap();
    source.activate(DekId(2)).unwrap();
    source.destroy(DekId(2)).unwrap();
    let cipher = FieldCipher::from_source(source).await.unwrap();
    assert!(matches!(cipher.seal(b"y", b"c"), Err(Error::NoActiveKey)));
    assert_eq!(
        cipher
            .open_resolving(&sealed, b"c")
            .await
            .unwrap()
            .as_slice(),
        b"x"
    );
}

#[test]
fn long_contexts_round_trip_and_stay_bound() {
    let cipher = cipher();
    let long = vec![b'c'; 1000];
    let sealed = cipher.seal(b"value", &long).unwrap();
    assert_eq!(cipher.open(&sealed, &long).unwrap().as_slice(), b"value");
    let mut other = long.clone();
    other[999] = b'd';
    assert!(matches!(cipher.open(&sealed, &other), Err(Error::Decrypt)));
    assert!(matches!(
        cipher.open(&sealed, &long[..207]),
        Err(Error::Decrypt)
    ));
}

#[test]
fn ciphers_and_sources_can_be_shared_across_tasks() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<FieldCipher>();
    shared::<InMemoryKeySource>();
    shared::<ward_crypto::CachedKeySource<Arc<InMemoryKeySource>>>();
    shared::<ward_crypto::WrappedKeySource>();
    shared::<ward_crypto::LocalKek>();
    shared::<ward_crypto::BlindIndexer>();
    // A cipher built in one task opens in another.
    let cipher = Arc::new(cipher());
    let sealed = cipher.seal(b"x", b"c").unwrap();
    let opened = std::thread::spawn({
        let cipher = Arc::clone(&cipher);
        move || cipher.open(&sealed, b"c").unwrap().to_vec()
    })
    .join()
    .unwrap();
    assert_eq!(opened, b"x");
}

/// M5: a forgotten key stops opening and sealing at once, even though the cipher had prepared it.
#[test]
fn a_forgotten_key_neither_opens_nor_seals() {
    let dek = DataKey::generate(DekId(5)).unwrap();
    let cipher = FieldCipher::new(&dek);
    let sealed = cipher
        .seal(b"jane@example.org", b"clients.email:1")
        .unwrap();
    cipher.forget(DekId(5));
    assert!(matches!(
        cipher.open(&sealed, b"clients.email:1"),
        Err(Error::UnknownKeyId { .. })
    ));
    assert!(matches!(
        cipher.seal(b"x", b"clients.email:2"),
        Err(Error::KeyDestroyed { key_id: DekId(5) })
    ));
}

#[test]
fn sealing_past_the_seal_limit_refuses_and_tells_to_rotate() {
    let dek = DataKey::generate(DekId(31)).unwrap();
    let cipher = FieldCipher::new(&dek).with_seal_limit(3);
    let mut sealed = Vec::new();
    for i in 0..3u8 {
        sealed.push(cipher.seal(&[i], b"clients.name:1").unwrap());
    }
    assert_eq!(cipher.active_key_seals(), Some(3));
    let err = cipher.seal(b"one too many", b"clients.name:1").unwrap_err();
    assert!(
        matches!(
            err,
            Error::KeyExhausted {
                key_id: DekId(31),
                limit: 3
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("rotate the data key"), "{err}");
    // Opening is unaffected.
    assert_eq!(
        cipher
            .open(&sealed[2], b"clients.name:1")
            .unwrap()
            .as_slice(),
        [2]
    );

    // The count is per DEK in this process: a new cipher over the same DEK is refused too,
    // while a new DEK seals again.
    let again = FieldCipher::new(&dek).with_seal_limit(3);
    assert!(matches!(
        again.seal(b"x", b"c"),
        Err(Error::KeyExhausted { .. })
    ));
    let rotated = FieldCipher::new(&DataKey::generate(DekId(32)).unwrap()).with_seal_limit(3);
    assert!(rotated.seal(b"x", b"c").is_ok());
    assert_eq!(rotated.active_key_seals(), Some(1));

    // A limit above the maximum is capped to it.
    let capped = FieldCipher::new(&DataKey::generate(DekId(33)).unwrap()).with_seal_limit(u64::MAX);
    assert!(format!("{capped:?}").contains(&format!("seal_limit: {}", 1u64 << 31)));
}
