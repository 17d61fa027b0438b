//! Legacy import: both seed-application formats decrypt with their configured key; anything else
//! is a typed error, and no other key is ever tried.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ward_crypto::{DekId, Error, KeyMaterial, KeyRingError, LegacyDecryptor};

/// Test helper: writes the seed application's raw format with plain aes-gcm (ward never writes it).
fn legacy_raw(key: &[u8; 32], nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let sealed = cipher.encrypt(&Nonce::from(nonce), plaintext).unwrap();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    out
}

/// Test helper: the seed application's text format.
fn legacy_text(version: u32, key: &[u8; 32], nonce: [u8; 12], plaintext: &[u8]) -> String {
    format!(
        "v{version}:{}",
        STANDARD.encode(legacy_raw(key, nonce, plaintext))
    )
}

/// A fixed test key with 32 distinct byte values (loaded keys must not be degenerate).
const fn varied(seed: u8) -> [u8; 32] {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = seed.wrapping_add((i as u8).wrapping_mul(37));
        i += 1;
    }
    key
}

const K1: [u8; 32] = varied(0x11);
const K2: [u8; 32] = varied(0x22);

fn decryptor() -> LegacyDecryptor {
    let mut legacy = LegacyDecryptor::new();
    legacy
        .add_key(DekId(1), KeyMaterial::from_bytes(&K1).unwrap())
        .unwrap();
    legacy
        .add_key(DekId(2), KeyMaterial::from_bytes(&K2).unwrap())
        .unwrap();
    legacy
}

#[test]
fn raw_format_decrypts_with_the_named_version_only() {
    let legacy = decryptor();
    let raw = legacy_raw(&K2, [7; 12], b"old medical history");
    assert_eq!(
        legacy.decrypt_raw(DekId(2), &raw).unwrap().as_slice(),
        b"old medical history"
    );
    assert!(matches!(
        legacy.decrypt_raw(DekId(1), &raw),
        Err(Error::Decrypt)
    ));
    assert!(matches!(
        legacy.decrypt_raw(DekId(3), &raw),
        Err(Error::UnknownKeyId { key_id: DekId(3) })
    ));
    assert!(matches!(
        legacy.decrypt_raw(DekId(2), &raw[..27]),
        Err(Error::Malformed { .. })
    ));
    let mut flipped = raw;
    flipped[15] ^= 1;
    assert!(matches!(
        legacy.decrypt_raw(DekId(2), &flipped),
        Err(Error::Decrypt)
    ));
    // The empty plaintext is valid in the seed format.
    let empty = legacy_raw(&K1, [0; 12], b"");
    assert!(legacy.decrypt_raw(DekId(1), &empty).unwrap().is_empty());
}

#[test]
fn text_format_reads_its_version_and_never_falls_back() {
    let legacy = decryptor();
    let text = legacy_text(1, &K1, [3; 12], b"jane@example.org");
    assert_eq!(
        legacy.decrypt_text(&text).unwrap().as_slice(),
        b"jane@example.org"
    );

    // Written under key 1 but labelled v2: the label is trusted, key 1 is never tried.
    let mislabelled = text.replacen("v1:", "v2:", 1);
    assert!(matches!(
        legacy.decrypt_text(&mislabelled),
        Err(Error::Decrypt)
    ));
    // Unknown version: an error naming it, even though other keys exist.
    let unknown = legacy_text(9, &K1, [3; 12], b"x");
    let err = legacy.decrypt_text(&unknown).unwrap_err();
    assert!(matches!(err, Error::UnknownKeyId { key_id: DekId(9) }));

    for (bad, reason) in [
        ("1:AAAA", "missing `v<N>:` prefix"),
        ("v1AAAA", "missing `:` after the key version"),
        ("v:AAAA", "key version is not a decimal number"),
        ("v-1:AAAA", "key version is not a decimal number"),
        ("v99999999999:AAAA", "key version out of range"),
        ("v1:not base64!", "payload is not valid base64"),
    ] {
        match legacy.decrypt_text(bad) {
            Err(Error::Malformed { reason: got, .. }) => assert_eq!(got, reason, "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn a_legacy_version_is_configured_once_and_debug_hides_keys() {
    let mut legacy = decryptor();
    assert!(matches!(
        legacy.add_key(DekId(1), KeyMaterial::from_bytes(&K2).unwrap()),
        Err(Error::KeyRing(KeyRingError::DuplicateKeyId {
            key_id: DekId(1)
        }))
    ));
    let shown = format!("{legacy:?}");
    assert_eq!(shown, "LegacyDecryptor { versions: [1, 2], .. }");
}

#[test]
fn a_degenerate_legacy_key_is_refused() {
    let mut legacy = LegacyDecryptor::new();
    for bad in [[0u8; 32], [0x11; 32]] {
        let err = legacy
            .add_key(DekId(1), KeyMaterial::from_bytes(&bad).unwrap())
            .unwrap_err();
        assert!(matches!(
            err,
            Error::DegenerateKey {
                min_distinct: 16,
                len: 32
            }
        ));
    }
    assert_eq!(
        format!("{legacy:?}"),
        "LegacyDecryptor { versions: [], .. }"
    );
}

#[test]
fn parts_format_decrypts_nonce_and_ciphertext_given_apart() {
    let legacy = decryptor();
    let raw = legacy_raw(&K1, [9; 12], b"SOAP: stable");
    let (nonce, sealed) = raw.split_at(12);
    let (nonce, sealed) = (STANDARD.encode(nonce), STANDARD.encode(sealed));
    assert_eq!(
        legacy
            .decrypt_parts(DekId(1), &nonce, &sealed)
            .unwrap()
            .as_slice(),
        b"SOAP: stable"
    );
    // The wrong version, a short nonce, bad base64 and a flipped byte are each refused.
    assert!(matches!(
        legacy.decrypt_parts(DekId(2), &nonce, &sealed),
        Err(Error::Decrypt)
    ));
    assert!(matches!(
        legacy.decrypt_parts(DekId(3), &nonce, &sealed),
        Err(Error::UnknownKeyId { key_id: DekId(3) })
    ));
    let short = STANDARD.encode([9; 11]);
    let err = legacy.decrypt_parts(DekId(1), &short, &sealed).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed legacy ciphertext parts: nonce is not 12 bytes"
    );
    assert!(matches!(
        legacy.decrypt_parts(DekId(1), &nonce, "not base64!"),
        Err(Error::Malformed { .. })
    ));
    let mut flipped = raw[12..].to_vec();
    flipped[0] ^= 1;
    assert!(matches!(
        legacy.decrypt_parts(DekId(1), &nonce, &STANDARD.encode(flipped)),
        Err(Error::Decrypt)
    ));
}
