//! Blind indexes: keyed, versioned fingerprints of normalised values for exact-match search on
//! encrypted columns without decrypting them.
//!
//! Index layout (version 1): `version(1) = 0x01 | key_id(4, BE) | HMAC-SHA256 tag, truncated`.
//! The HMAC key is HKDF-SHA256(DEK, salt = workspace id, `ward/v1/blind-index`), so the same
//! value gives unrelated indexes in two workspaces; the HMAC input is
//! `len(purpose) (4, BE) ‖ purpose ‖ normalised value`, so two columns never share indexes.

use std::fmt;

use hmac::Mac as _;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::derive::{LABEL_BLIND_INDEX, derive_key};
use crate::error::{ApiMisuse, Error, Result};
use crate::keys::{DataKey, DekId, KeyMaterial};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The only blind-index version written so far.
const VERSION_1: u8 = 1;
/// Header bytes before the tag: version and key id.
const HEADER_LEN: usize = 5;
/// Shortest allowed tag, in bytes (64 bits keeps accidental collisions negligible per column).
pub(crate) const MIN_TRUNCATION: usize = 8;
/// Longest tag, in bytes (the whole HMAC-SHA256 output).
pub(crate) const MAX_TRUNCATION: usize = 32;

/// How a value is normalised before indexing, so equal-meaning inputs match.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Normalizer {
    /// The value as given.
    Exact,
    /// Surrounding whitespace trimmed, lowercased (`" Jane@Example.ORG "` → `"jane@example.org"`).
    Email,
    /// Decimal digits only (`"+1 (555) 010-0199"` → `"15550100199"`).
    Phone,
    /// Trimmed, lowercased, inner whitespace runs collapsed to one space.
    Name,
    /// A caller-supplied function. It receives PHI: it must not log or keep it.
    Custom(fn(&str) -> String),
}

impl Normalizer {
    fn apply(self, value: &str) -> Zeroizing<String> {
        Zeroizing::new(match self {
            Self::Exact => value.to_owned(),
            Self::Email => value.trim().to_lowercase(),
            Self::Phone => value.chars().filter(char::is_ascii_digit).collect(),
            Self::Name => value
                .split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
                .join(" "),
            Self::Custom(f) => f(value),
        })
    }
}

impl fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exact => "Exact",
            Self::Email => "Email",
            Self::Phone => "Phone",
            Self::Name => "Name",
            Self::Custom(_) => "Custom",
        })
    }
}

/// A blind index value: store it beside the ciphertext and search by equality.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BlindIndex(Vec<u8>);

impl BlindIndex {
    /// Reads a stored index, checking its version and length.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Result<Self> {
        let bytes = bytes.into();
        let (&version, _) = bytes.split_first().ok_or(Error::Malformed {
            format: "blind index",
            reason: "empty input",
        })?;
        if version != VERSION_1 {
            return Err(Error::UnsupportedVersion { version });
        }
        let tag_len = bytes.len().saturating_sub(HEADER_LEN);
        if !(MIN_TRUNCATION..=MAX_TRUNCATION).contains(&tag_len) {
            return Err(Error::Malformed {
                format: "blind index",
                reason: "tag length outside 8 to 32 bytes",
            });
        }
        Ok(Self(bytes))
    }

    /// The stored form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The format version (1).
    pub fn version(&self) -> u8 {
        self.0[0]
    }

    /// The id of the DEK the index key was derived from: indexes under an old key id need
    /// recomputing after rotation.
    pub fn key_id(&self) -> DekId {
        let mut id = [0u8; 4];
        id.copy_from_slice(&self.0[1..HEADER_LEN]);
        DekId::from_be_bytes(id)
    }
}

impl fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndex")
            .field("version", &self.version())
            .field("key_id", &self.key_id())
            .field("len", &self.0.len())
            .finish()
    }
}

/// Settings for a [`BlindIndexer`]; [`build`](Self::build) validates them.
#[derive(Debug, Clone)]
pub struct BlindIndexerBuilder {
    purpose: Vec<u8>,
    normalizer: Normalizer,
    truncation: usize,
}

impl BlindIndexerBuilder {
    /// How values are normalised (default [`Normalizer::Exact`]).
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// How many bytes of the HMAC tag to keep: 8 to 32 (default 16). Shorter tags leak less about
    /// equal values across a huge table but collide more often; searches must re-check the
    /// decrypted value.
    pub fn with_truncation(mut self, bytes: usize) -> Self {
        self.truncation = bytes;
        self
    }

    /// An indexer for one workspace, keyed from its DEK.
    pub fn build(self, dek: &DataKey, workspace_id: &[u8]) -> Result<BlindIndexer> {
        if !(MIN_TRUNCATION..=MAX_TRUNCATION).contains(&self.truncation) {
            return Err(ApiMisuse::BlindIndexTruncationOutOfRange {
                bytes: self.truncation,
            }
            .into());
        }
        Ok(BlindIndexer {
            key_id: dek.id(),
            key: derive_key(dek.material(), workspace_id, LABEL_BLIND_INDEX),
            purpose: self.purpose,
            normalizer: self.normalizer,
            truncation: self.truncation,
        })
    }
}

/// Computes blind indexes of one column (purpose) in one workspace.
///
/// ```
/// use ward_crypto::{BlindIndexer, DataKey, DekId, Normalizer};
///
/// let dek = DataKey::generate(DekId(1))?;
/// let email = BlindIndexer::builder("clients.email")
///     .with_normalizer(Normalizer::Email)
///     .build(&dek, b"workspace-1")?;
/// let stored = email.index("Jane@Example.org");
/// assert_eq!(stored, email.index("  jane@example.ORG "));
/// assert!(email.matches("jane@example.org", &stored));
/// assert_ne!(stored, email.index("john@example.org"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BlindIndexer {
    key_id: DekId,
    key: KeyMaterial,
    purpose: Vec<u8>,
    normalizer: Normalizer,
    truncation: usize,
}

impl BlindIndexer {
    /// Settings for an indexer of `purpose` (for example `clients.email`).
    pub fn builder(purpose: impl Into<Vec<u8>>) -> BlindIndexerBuilder {
        BlindIndexerBuilder {
            purpose: purpose.into(),
            normalizer: Normalizer::Exact,
            truncation: 16,
        }
    }

    /// The blind index of `value` after normalisation.
    pub fn index(&self, value: &str) -> BlindIndex {
        let normalised = self.normalizer.apply(value);
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(self.key.expose())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        let purpose_len = u32::try_from(self.purpose.len()).unwrap_or(u32::MAX);
        mac.update(&purpose_len.to_be_bytes());
        mac.update(&self.purpose);
        mac.update(normalised.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + self.truncation);
        out.push(VERSION_1);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&tag[..self.truncation]);
        BlindIndex(out)
    }

    /// Whether `value` has the blind index `index`, compared in constant time.
    pub fn matches(&self, value: &str, index: &BlindIndex) -> bool {
        bool::from(self.index(value).0.ct_eq(&index.0))
    }

    /// The id of the DEK this indexer's key came from.
    pub fn key_id(&self) -> DekId {
        self.key_id
    }
}

impl fmt::Debug for BlindIndexer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlindIndexer")
            .field("key_id", &self.key_id)
            .field("key", &self.key)
            .field("purpose", &String::from_utf8_lossy(&self.purpose))
            .field("normalizer", &self.normalizer)
            .field("truncation", &self.truncation)
            .finish()
    }
}
