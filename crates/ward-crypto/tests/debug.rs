//! `Debug` output of every key-holding type lacks the key bytes, in any encoding.

use std::sync::Arc;

use ward_crypto::{
    BlindIndexer, CachePolicy, CachedKeySource, DataKey, DekId, FieldCipher, InMemoryKeySource,
    KeyMaterial, LegacyDecryptor, LocalKek, WrappedKeySource,
};

const SECRET: [u8; 32] = [
    0xC3, 0x5A, 0x91, 0x0F, 0x7E, 0x22, 0xD4, 0x68, 0xB1, 0x3C, 0x85, 0xE9, 0x47, 0x10, 0xFA, 0x6B,
    0x29, 0x93, 0x5E, 0xC0, 0x1D, 0x84, 0x7A, 0xE3, 0x36, 0xBF, 0x02, 0x99, 0x6D, 0xA8, 0x51, 0xF4,
];

fn material() -> KeyMaterial {
    KeyMaterial::from_bytes(&SECRET).unwrap()
}

/// Fails if `shown` contains the secret as base64, hex (either case) or a decimal byte list, or
/// shows nothing at all (hiding everything would hide the secret too, and help no one debugging).
fn assert_hides_secret(what: &str, shown: &str) {
    assert!(!shown.is_empty(), "{what} shows nothing");
    let base64 = material().to_base64().to_string();
    let hex: String = SECRET.iter().map(|b| format!("{b:02x}")).collect();
    let decimal = format!("{:?}", &SECRET[..4])
        .trim_end_matches(']')
        .to_owned();
    let lower = shown.to_lowercase();
    assert!(!shown.contains(&base64), "{what} shows base64: {shown}");
    assert!(!lower.contains(&hex[..16]), "{what} shows hex: {shown}");
    assert!(!shown.contains(&decimal), "{what} shows bytes: {shown}");
    assert!(
        !shown.contains("195, 90, 145"),
        "{what} shows bytes: {shown}"
    );
}

#[tokio::test]
async fn no_key_holding_type_prints_its_key() {
    let dek = DataKey::new(DekId(1), material());
    assert_hides_secret("KeyMaterial", &format!("{:?}", material()));
    assert_hides_secret("DataKey", &format!("{dek:?}"));

    let kek = Arc::new(
        LocalKek::parse(&format!("1:{}:active", material().to_base64().as_str())).unwrap(),
    );
    assert_hides_secret("LocalKek", &format!("{kek:?}"));

    let field = FieldCipher::new(&dek);
    assert_hides_secret("FieldCipher", &format!("{field:?}"));

    let memory = Arc::new(InMemoryKeySource::with_active(DataKey::new(
        DekId(1),
        material(),
    )));
    assert_hides_secret("InMemoryKeySource", &format!("{memory:?}"));

    let cached = CachedKeySource::new(Arc::clone(&memory), CachePolicy::new());
    use ward_crypto::DataKeySource as _;
    cached.active_key().await.unwrap();
    assert_hides_secret("CachedKeySource", &format!("{cached:?}"));

    let from_source = FieldCipher::from_source(memory).await.unwrap();
    assert_hides_secret("FieldCipher from a source", &format!("{from_source:?}"));

    let wrapped = WrappedKeySource::new(kek, "ws");
    wrapped.generate().await.unwrap();
    let shown = format!("{wrapped:?}");
    assert_hides_secret("WrappedKeySource", &shown);
    assert!(
        shown.contains("key_ids: [DekId(1)], active: Some(DekId(1))"),
        "{shown}"
    );

    let blind = BlindIndexer::builder("p").build(&dek, b"ws").unwrap();
    assert_hides_secret("BlindIndexer", &format!("{blind:?}"));

    let mut legacy = LegacyDecryptor::new();
    legacy.add_key(DekId(1), material()).unwrap();
    assert_hides_secret("LegacyDecryptor", &format!("{legacy:?}"));
}
