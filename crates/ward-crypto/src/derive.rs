//! Key derivation: every HKDF-SHA256 label ward uses, and the one function that applies them.
//!
//! Each derived key is bound to a distinct label, so keys derived for one purpose can never be
//! used for another. Labels are part of the on-disk formats: never change one, add a new one.

use hkdf::Hkdf;
use sha2::Sha256;

use crate::keys::{KEY_LEN, KeyMaterial};

/// Label for the AES-256-GCM key that seals field ciphertexts (derived from the DEK, salt empty).
pub(crate) const LABEL_FIELD_KEY: &[u8] = b"ward/v1/field/key";
/// Label for the key-commitment value in field ciphertext headers (salt empty).
pub(crate) const LABEL_FIELD_COMMITMENT: &[u8] = b"ward/v1/field/commitment";
/// Label for the per-object stream key (salt = the object's random salt).
pub(crate) const LABEL_STREAM_KEY: &[u8] = b"ward/v1/stream/object-key";
/// Label for the key-commitment value in stream headers.
pub(crate) const LABEL_STREAM_COMMITMENT: &[u8] = b"ward/v1/stream/commitment";
/// Label for the per-workspace blind-index key (salt = workspace id).
pub(crate) const LABEL_BLIND_INDEX: &[u8] = b"ward/v1/blind-index";

/// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `label`, into fresh key material.
pub(crate) fn derive_key(ikm: &KeyMaterial, salt: &[u8], label: &[u8]) -> KeyMaterial {
    let mut okm = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    derive_into(ikm, salt, label, okm.as_mut());
    // `okm` is exactly KEY_LEN bytes, so this cannot fail.
    KeyMaterial::from_bytes(okm.as_ref()).unwrap_or_else(|_| unreachable!("fixed-size output"))
}

/// HKDF-SHA256 into a caller-sized buffer (commitments, nonce prefixes). At most 255 × 32 bytes.
pub(crate) fn derive_into(ikm: &KeyMaterial, salt: &[u8], label: &[u8], out: &mut [u8]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm.expose());
    // Output lengths used by ward are far below HKDF's 8160-byte limit.
    hk.expand(label, out)
        .unwrap_or_else(|_| unreachable!("hkdf output length within limit"));
}

/// HKDF-SHA256 with one extract and one expand per `(label, out)` pair: several purpose keys
/// from one input key for the cost of a single extract.
pub(crate) fn derive_many(ikm: &KeyMaterial, salt: &[u8], outputs: &mut [(&[u8], &mut [u8])]) {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm.expose());
    for (label, out) in outputs.iter_mut() {
        hk.expand(label, out)
            .unwrap_or_else(|_| unreachable!("hkdf output length within limit"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_labels_and_salts_give_distinct_keys() {
        let ikm = KeyMaterial::from_bytes(&[1u8; KEY_LEN]).unwrap();
        let a = derive_key(&ikm, b"salt", LABEL_STREAM_KEY);
        let b = derive_key(&ikm, b"salt", LABEL_BLIND_INDEX);
        let c = derive_key(&ikm, b"other", LABEL_STREAM_KEY);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(a.expose(), c.expose());
        let again = derive_key(&ikm, b"salt", LABEL_STREAM_KEY);
        assert_eq!(a.expose(), again.expose());

        let (mut x, mut y) = ([0u8; KEY_LEN], [0u8; 16]);
        derive_many(
            &ikm,
            b"salt",
            &mut [(LABEL_STREAM_KEY, &mut x), (LABEL_BLIND_INDEX, &mut y)],
        );
        assert_eq!(&x, a.expose());
        let mut y_alone = [0u8; 16];
        derive_into(&ikm, b"salt", LABEL_BLIND_INDEX, &mut y_alone);
        assert_eq!(y, y_alone);
    }
}
