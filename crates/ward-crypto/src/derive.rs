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
/// Label for the per-object SSE-C customer key ward-storage sends to S3 (salt empty; info =
/// label ‖ object key). It names `storage` because objects were written under it while the
/// derivation lived in ward-storage; S3 needs the same key to read them back, so it never changes.
pub(crate) const LABEL_SSE_C_OBJECT_KEY: &[u8] = b"ward/v1/storage/sse-c/object-key";

/// The SSE-C customer key for one object: HKDF-SHA256 of the SSE-C `master` key with an empty
/// salt and info = `ward/v1/storage/sse-c/object-key` ‖ `object_key`, so no two objects share a
/// customer key and the same object always gets the same one.
///
/// S3 keeps no copy of a customer key: an object written under SSE-C can only be read with the
/// key derived for it here, so this derivation is fixed forever.
///
/// ```
/// use ward_crypto::{KeyMaterial, derive_sse_c_key};
///
/// let master = KeyMaterial::generate()?;
/// let a = derive_sse_c_key(&master, "workspaces/w/clients/c/attachments/a.png");
/// let b = derive_sse_c_key(&master, "workspaces/w/clients/c/attachments/b.png");
/// assert_ne!(a, b);
/// assert_eq!(a, derive_sse_c_key(&master, "workspaces/w/clients/c/attachments/a.png"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn derive_sse_c_key(master: &KeyMaterial, object_key: &str) -> KeyMaterial {
    let mut info = Vec::with_capacity(LABEL_SSE_C_OBJECT_KEY.len() + object_key.len());
    info.extend_from_slice(LABEL_SSE_C_OBJECT_KEY);
    info.extend_from_slice(object_key.as_bytes());
    derive_key(master, &[], &info)
}

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

    /// The SSE-C derivation gives the bytes objects were written with (same vector as
    /// ward-storage's pin; computed independently with RFC 5869 over HMAC-SHA256).
    #[test]
    fn sse_c_key_derivation_is_pinned() {
        let master: [u8; KEY_LEN] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5A);
        let master = KeyMaterial::from_bytes(&master).unwrap();
        let derived = derive_sse_c_key(
            &master,
            "workspaces/00000000-0000-0000-0000-000000000001/clients/\
             00000000-0000-0000-0000-000000000002/attachments/\
             00000000-0000-0000-0000-000000000003.png",
        );
        assert_eq!(
            derived.to_base64().as_str(),
            "BJdFOtT9PMLjfakPOZv2Yp5wksuAV+ddRxGiBar7t9A="
        );
    }

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
