//! Import from the seed application's two ciphertext formats, read-only.
//!
//! - **raw**: `nonce(12) ‖ ciphertext ‖ tag(16)`, AES-256-GCM with no associated data; the key
//!   version is not stored, so the caller names it;
//! - **text**: `"v<N>:" + base64(nonce ‖ ciphertext ‖ tag)` (standard alphabet, padded), where
//!   `N` is the decimal key version;
//! - **parts** (the seed's JSON columns `{ciphertext, nonce, version}`): the nonce and
//!   `ciphertext ‖ tag` base64-encoded apart, the version beside them
//!   ([`LegacyDecryptor::decrypt_parts`]).
//!
//! ward never writes these formats: import reads them once and re-encrypts into the field or
//! stream format. Each legacy key version is configured explicitly, and a version that is not
//! configured is always [`Error::UnknownKeyId`], never a fallback to another key.
//!
//! # A legacy value is not bound to its row
//!
//! Both formats were sealed **without associated data**: nothing in a legacy ciphertext says
//! which row, column or owner it belongs to. A value copied or swapped into another row before
//! the import still decrypts, and the import then seals it under the new row's context, so the
//! swap is laundered into a correctly bound ward ciphertext. This module cannot detect it. The
//! import should therefore:
//!
//! - read from a snapshot taken before any untrusted party could write to the legacy table;
//! - where the seed application kept something row-specific (an owner id, a checksum, a
//!   plaintext column) beside or inside the value, check the decrypted value against it before
//!   re-sealing, and refuse the row when it does not match;
//! - seal the result with the row's own context ([`FieldCipher::seal`](crate::FieldCipher::seal)),
//!   after which moving it fails to open.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::aead::{Aead as _, AeadKey, NONCE_LEN, TAG_LEN};
use crate::error::{Error, KeyRingError, Result};
use crate::kek::local::{key_items, parse_entry, read_key_file};
use crate::keys::{DekId, KeyMaterial, check_not_degenerate};

const RAW: &str = "legacy raw ciphertext";
const TEXT: &str = "legacy text ciphertext";
const PARTS: &str = "legacy ciphertext parts";

/// Decrypts the seed application's formats with explicitly configured legacy keys.
///
/// ```
/// use ward_crypto::{DekId, KeyMaterial, LegacyDecryptor};
///
/// let mut legacy = LegacyDecryptor::new();
/// legacy.add_key(DekId(1), KeyMaterial::generate()?)?;
/// // A version nobody configured is refused, never tried with key 1.
/// let err = legacy.decrypt_text("v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap_err();
/// assert_eq!(err.to_string(), "unknown key id 2");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct LegacyDecryptor {
    keys: BTreeMap<DekId, AeadKey>,
}

impl LegacyDecryptor {
    /// A decryptor with no keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Configures the key of legacy version `version`. A version can be configured once.
    ///
    /// A legacy key is loaded configuration, so a degenerate one (fewer than
    /// [`MIN_DISTINCT_KEY_BYTES`](crate::MIN_DISTINCT_KEY_BYTES) distinct byte values) is refused
    /// as [`Error::DegenerateKey`].
    pub fn add_key(&mut self, version: DekId, key: KeyMaterial) -> Result<()> {
        check_not_degenerate(key.expose())?;
        if self.keys.contains_key(&version) {
            return Err(KeyRingError::DuplicateKeyId { key_id: version }.into());
        }
        self.keys.insert(version, AeadKey::new(&key));
        Ok(())
    }

    /// Parses legacy keys in the KEK ring's text format (see [`LocalKek`](crate::LocalKek)),
    /// one `<version>:<base64 key>` item per line or comma-separated: the version is the `N` of
    /// the seed's `v<N>:` values. A legacy key has no active version, so an item with a third
    /// part is refused; so are a degenerate key and a version given twice. Errors name the item's
    /// position, never its bytes.
    ///
    /// ```
    /// use ward_crypto::{KeyMaterial, LegacyDecryptor};
    ///
    /// let text = format!("# the seed's keys\n1:{}\n", KeyMaterial::generate()?.to_base64().as_str());
    /// assert_eq!(LegacyDecryptor::parse(&text)?.versions(), vec![ward_crypto::DekId(1)]);
    /// assert!(LegacyDecryptor::parse("1:c2hvcnQ=").is_err());
    /// # Ok::<(), ward_crypto::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys = Self::new();
        for (index, item) in key_items(text).enumerate() {
            let entry = parse_entry(index + 1, item)?;
            if entry.active {
                return Err(KeyRingError::BadEntry {
                    entry: index + 1,
                    reason: "a legacy key has no active version: expected `<version>:<base64 key>`"
                        .to_owned(),
                }
                .into());
            }
            keys.add_key(DekId(entry.id.0), entry.key)?;
        }
        Ok(keys)
    }

    /// Loads legacy keys from a file in [`parse`](Self::parse)'s format; like
    /// [`LocalKek::from_file`](crate::LocalKek::from_file), a file open to group or others is
    /// refused unless `WARD_ENV` is `development`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::parse(&read_key_file(path.as_ref())?)
    }

    /// The configured versions, in order.
    pub fn versions(&self) -> Vec<DekId> {
        self.keys.keys().copied().collect()
    }

    /// Decrypts a raw `nonce ‖ ciphertext ‖ tag` value written with legacy key `version`.
    pub fn decrypt_raw(&self, version: DekId, bytes: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let key = self
            .keys
            .get(&version)
            .ok_or(Error::UnknownKeyId { key_id: version })?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(Error::Malformed {
                format: RAW,
                reason: "shorter than nonce and tag",
            });
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Decrypt)?;
        key.open_to_vec(nonce, &[], sealed)
    }

    /// Decrypts a text `v<N>:<base64>` value with legacy key `N`.
    pub fn decrypt_text(&self, text: &str) -> Result<Zeroizing<Vec<u8>>> {
        let (version, encoded) = parse_text(text)?;
        let raw = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| Error::Malformed {
            format: TEXT,
            reason: "payload is not valid base64",
        })?);
        self.decrypt_raw(version, &raw)
    }
}

impl LegacyDecryptor {
    /// Decrypts a value the seed application kept in parts, as in its JSON columns
    /// `{"ciphertext": …, "nonce": …, "version": N}`: `nonce` is the base64 of the 12-byte nonce,
    /// `ciphertext` the base64 of `ciphertext ‖ tag`, both in the standard alphabet, padded.
    pub fn decrypt_parts(
        &self,
        version: DekId,
        nonce: &str,
        ciphertext: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let malformed = |reason| Error::Malformed {
            format: PARTS,
            reason,
        };
        let nonce = STANDARD
            .decode(nonce.trim())
            .map_err(|_| malformed("nonce is not valid base64"))?;
        if nonce.len() != NONCE_LEN {
            return Err(malformed("nonce is not 12 bytes"));
        }
        let mut raw = Zeroizing::new(nonce);
        STANDARD
            .decode_vec(ciphertext.trim(), &mut raw)
            .map_err(|_| malformed("ciphertext is not valid base64"))?;
        self.decrypt_raw(version, &raw)
    }
}

/// Splits `v<N>:<base64>` into `N` and the payload.
fn parse_text(text: &str) -> Result<(DekId, &str)> {
    let rest = text.trim().strip_prefix('v').ok_or(Error::Malformed {
        format: TEXT,
        reason: "missing `v<N>:` prefix",
    })?;
    let (version, encoded) = rest.split_once(':').ok_or(Error::Malformed {
        format: TEXT,
        reason: "missing `:` after the key version",
    })?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Malformed {
            format: TEXT,
            reason: "key version is not a decimal number",
        });
    }
    let version = version.parse::<u32>().map_err(|_| Error::Malformed {
        format: TEXT,
        reason: "key version out of range",
    })?;
    Ok((DekId(version), encoded))
}

impl fmt::Debug for LegacyDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyDecryptor")
            .field(
                "versions",
                &self.keys.keys().map(|id| id.0).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}
