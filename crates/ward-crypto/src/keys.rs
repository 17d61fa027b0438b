//! Key identifiers and 256-bit key material held in zeroizing containers.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox};
use zeroize::Zeroize;

use crate::error::{Error, Result};

/// Length in bytes of every ward key (AES-256, HMAC-SHA256 and HKDF input keys).
pub const KEY_LEN: usize = 32;

/// The fewest distinct byte values a loaded key may hold among its [`KEY_LEN`] bytes.
///
/// Keys read from configuration ([`KeyMaterial::from_base64`], [`KeyMaterial::from_loaded_bytes`],
/// the [`LocalKek`](crate::LocalKek) ring, [`LegacyDecryptor`](crate::LegacyDecryptor) keys) with
/// fewer distinct byte values are refused as [`Error::DegenerateKey`]: an all-zero or one-value
/// key, a short repeated pattern, or a placeholder like `0123…` is a configuration mistake, not a
/// secret. 32 uniformly random bytes hold about 30 distinct values on average; the chance that
/// a random key holds fewer than 16 is about 3.2 × 10⁻¹⁷ (about 2⁻⁵⁵), so a generated key is
/// in practice never refused. Keys made by [`KeyMaterial::generate`] are not checked at all.
pub const MIN_DISTINCT_KEY_BYTES: usize = 16;

/// Defines a key-id newtype: a `u32` written big-endian into headers, shown as its number.
macro_rules! key_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[cfg_attr(feature = "serde", serde(transparent))]
        pub struct $name(pub u32);

        impl $name {
            /// The id as the 4 big-endian bytes written into headers.
            pub fn to_be_bytes(self) -> [u8; 4] {
                self.0.to_be_bytes()
            }

            /// Reads an id from the 4 big-endian bytes of a header.
            pub fn from_be_bytes(bytes: [u8; 4]) -> Self {
                Self(u32::from_be_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl From<u32> for $name {
            fn from(id: u32) -> Self {
                Self(id)
            }
        }
    };
}

key_id! {
    /// The id of a data-encryption key ([`DataKey`]): written big-endian into every field
    /// ciphertext, stream header, blind index and wrapped key, and the version number of a
    /// [`LegacyDecryptor`](crate::LegacyDecryptor) key.
    ///
    /// With the `serde` feature it serializes as its plain number.
    DekId
}

key_id! {
    /// The id of a key-encryption-key version in a [`KeyRing`](crate::KeyRing): written
    /// big-endian into every [`WrappedDataKey`](crate::WrappedDataKey) it wraps.
    ///
    /// A different type from [`DekId`], so a KEK version cannot be passed where a data key is
    /// meant.
    ///
    /// With the `serde` feature it serializes as its plain number.
    KekId
}

/// 256 bits of secret key material.
///
/// The bytes live in a [`SecretBox`] and are zeroized when dropped. `Debug` prints `KeyMaterial(******)`;
/// there is no `Display`, `Clone` or `Serialize`, so key bytes cannot reach a log by accident.
///
/// ```
/// use ward_crypto::KeyMaterial;
///
/// let key = KeyMaterial::generate()?;
/// let encoded = key.to_base64();
/// let again = KeyMaterial::from_base64(encoded.as_str())?;
/// assert_eq!(format!("{again:?}"), "KeyMaterial(******)");
///
/// // Anything but exactly 32 bytes is refused, naming lengths, never bytes.
/// let err = KeyMaterial::from_base64("c2hvcnQ=").unwrap_err();
/// assert_eq!(err.to_string(), "key material must be 32 bytes, got 5");
///
/// // So is a loaded key with too few distinct byte values (here 32 zero bytes).
/// let err = KeyMaterial::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "degenerate key material: fewer than 16 distinct byte values in 32 bytes"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct KeyMaterial(SecretBox<[u8; KEY_LEN]>);

impl KeyMaterial {
    /// Fresh random key material from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let mut failed = None;
        let secret = SecretBox::init_with_mut(|bytes: &mut [u8; KEY_LEN]| {
            if let Err(e) = getrandom::fill(bytes) {
                failed = Some(e);
            }
        });
        match failed {
            None => Ok(Self(secret)),
            Some(e) => Err(Error::Provider {
                provider: "os-random",
                message: e.to_string(),
            }),
        }
    }

    /// Key material from exactly [`KEY_LEN`] bytes, **without** the degenerate-key check: for
    /// keys that were derived or unwrapped (already random) and for fixed test vectors. Keys read
    /// from configuration go through [`KeyMaterial::from_loaded_bytes`] or
    /// [`KeyMaterial::from_base64`] instead. The caller's buffer is not zeroized; prefer
    /// [`KeyMaterial::generate`] where possible.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != KEY_LEN {
            return Err(Error::InvalidKeyLength {
                expected: KEY_LEN,
                actual: bytes.len(),
            });
        }
        Ok(Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| {
            key.copy_from_slice(bytes)
        })))
    }

    /// Key material read from configuration (a file, an environment variable, a secret store):
    /// exactly [`KEY_LEN`] bytes with at least [`MIN_DISTINCT_KEY_BYTES`] distinct byte values,
    /// else [`Error::InvalidKeyLength`] or [`Error::DegenerateKey`]. The caller's buffer is not
    /// zeroized.
    pub fn from_loaded_bytes(bytes: &[u8]) -> Result<Self> {
        let key = Self::from_bytes(bytes)?;
        check_not_degenerate(key.expose())?;
        Ok(key)
    }

    /// Key material from standard base64 (surrounding whitespace ignored), checked as
    /// [`KeyMaterial::from_loaded_bytes`] checks it: exactly [`KEY_LEN`] bytes, not degenerate.
    /// The decoded buffer is zeroized after copying.
    pub fn from_base64(encoded: &str) -> Result<Self> {
        let mut decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| Error::InvalidKeyEncoding)?;
        let key = Self::from_loaded_bytes(&decoded);
        decoded.zeroize();
        key
    }

    /// The key as standard base64, in a zeroizing string: for key generation tools, and for
    /// protocols that send a key in a header (the SSE-C customer key of
    /// [`derive_sse_c_key`](crate::derive_sse_c_key)).
    pub fn to_base64(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(STANDARD.encode(self.0.expose_secret()))
    }

    /// The raw key bytes, for the primitives inside this crate only.
    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    /// A copy held in a new zeroizing container (explicit, never via `Clone`).
    pub(crate) fn duplicate(&self) -> Self {
        Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| {
            key.copy_from_slice(self.expose())
        }))
    }
}

/// Refuses key bytes with fewer than [`MIN_DISTINCT_KEY_BYTES`] distinct values
/// ([`Error::DegenerateKey`], which names the rule and never the bytes).
pub(crate) fn check_not_degenerate(bytes: &[u8]) -> Result<()> {
    let mut seen = [false; 256];
    for &b in bytes {
        seen[usize::from(b)] = true;
    }
    let distinct = seen.iter().filter(|&&s| s).count();
    seen.zeroize();
    if distinct < MIN_DISTINCT_KEY_BYTES {
        return Err(Error::DegenerateKey {
            min_distinct: MIN_DISTINCT_KEY_BYTES,
            len: bytes.len(),
        });
    }
    Ok(())
}

/// A data-encryption key (DEK): an id and its 256-bit material.
///
/// DEKs encrypt data; they are stored only wrapped by a key-encryption key. `Debug` shows the id
/// and never the material.
pub struct DataKey {
    id: DekId,
    material: KeyMaterial,
}

impl DataKey {
    /// A DEK from an id and its material.
    pub fn new(id: DekId, material: KeyMaterial) -> Self {
        Self { id, material }
    }

    /// A fresh random DEK with this id.
    pub fn generate(id: DekId) -> Result<Self> {
        Ok(Self::new(id, KeyMaterial::generate()?))
    }

    /// The id written into every ciphertext this key produces.
    pub fn id(&self) -> DekId {
        self.id
    }

    /// The key material, for the primitives inside this crate only.
    pub(crate) fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// A copy held in new zeroizing containers (explicit, never via `Clone`).
    pub(crate) fn duplicate(&self) -> Self {
        Self::new(self.id, self.material.duplicate())
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey")
            .field("id", &self.id)
            .field("material", &self.material)
            .finish()
    }
}

/// Compares in constant time (the bytes are never branched on).
impl PartialEq for KeyMaterial {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.expose().ct_eq(other.expose()).into()
    }
}

impl Eq for KeyMaterial {}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_length_names_lengths_not_bytes() {
        let err = KeyMaterial::from_bytes(&[7u8; 31]).unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidKeyLength {
                expected: 32,
                actual: 31
            }
        ));
        let err = KeyMaterial::from_base64("not base64!").unwrap_err();
        assert!(matches!(err, Error::InvalidKeyEncoding));
    }

    /// A fixed key with 32 distinct byte values, as a loaded key must look.
    const VARIED: [u8; KEY_LEN] = [
        0xC3, 0x5A, 0x91, 0x0F, 0x7E, 0x22, 0xD4, 0x68, 0xB1, 0x3C, 0x85, 0xE9, 0x47, 0x10, 0xFA,
        0x6B, 0x29, 0x93, 0x5E, 0xC0, 0x1D, 0x84, 0x7A, 0xE3, 0x36, 0xBF, 0x02, 0x99, 0x6D, 0xA8,
        0x51, 0xF4,
    ];

    #[test]
    fn degenerate_loaded_keys_are_refused_naming_the_rule_not_the_bytes() {
        let mut fifteen = [0u8; KEY_LEN];
        for (i, b) in fifteen.iter_mut().enumerate() {
            *b = 0xA0 + (i % 15) as u8;
        }
        let mut sixteen = fifteen;
        sixteen[31] = 0x01;
        for bad in [[0u8; KEY_LEN], [0x42; KEY_LEN], [0xFF; KEY_LEN], fifteen] {
            let err = KeyMaterial::from_loaded_bytes(&bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::DegenerateKey {
                        min_distinct: 16,
                        len: 32
                    }
                ),
                "{err:?}"
            );
            let shown = format!("{err} {err:?}");
            assert!(!shown.to_lowercase().contains("a0, a1"), "{shown}");
            let encoded = STANDARD.encode(bad);
            let err = KeyMaterial::from_base64(&encoded).unwrap_err();
            assert!(matches!(err, Error::DegenerateKey { .. }));
            assert!(!err.to_string().contains(&encoded[..8]));
        }
        assert!(KeyMaterial::from_loaded_bytes(&sixteen).is_ok());
        assert!(KeyMaterial::from_loaded_bytes(&VARIED).is_ok());
        assert!(KeyMaterial::from_base64(&STANDARD.encode(VARIED)).is_ok());
        // Derived, unwrapped and test keys keep the raw constructor.
        assert!(KeyMaterial::from_bytes(&[0x42; KEY_LEN]).is_ok());
    }

    #[test]
    fn generated_keys_pass_the_degenerate_key_check() {
        for _ in 0..1000 {
            let key = KeyMaterial::generate().unwrap();
            assert!(check_not_degenerate(key.expose()).is_ok());
        }
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = KeyMaterial::from_bytes(&[0xAB; KEY_LEN]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains(&*key.to_base64()));
    }

    #[test]
    fn generated_keys_differ_and_round_trip_base64() {
        let a = KeyMaterial::generate().unwrap();
        let b = KeyMaterial::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        let again = KeyMaterial::from_base64(&a.to_base64()).unwrap();
        assert_eq!(a.expose(), again.expose());
    }
}
