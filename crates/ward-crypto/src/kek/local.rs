//! The local KEK provider: KEK versions held in process memory, loaded from an environment
//! variable or a file.
//!
//! # Key ring text format
//!
//! One entry per line (or per comma-separated item, handy in an environment variable):
//!
//! ```text
//! # comments and blank lines are ignored
//! 1:<base64 of 32 random bytes, from the keygen example>
//! 2:<base64 of 32 random bytes>:active
//! ```
//!
//! - `<id>` is a decimal `u32`, the version written into every wrapped DEK;
//! - `<base64>` is standard base64 of exactly 32 random bytes
//!   (`cargo run -p ward-crypto --example keygen` prints one); a key with fewer than
//!   [`MIN_DISTINCT_KEY_BYTES`](crate::MIN_DISTINCT_KEY_BYTES) distinct byte values (all zeros,
//!   a repeated placeholder) is refused as [`KeyRingError::DegenerateKey`];
//! - the optional third part `active` marks the version new DEKs are wrapped under; exactly one
//!   entry carries it. Whitespace around parts is ignored.
//!
//! Any entry that does not parse fails the whole load, naming its position and what was wrong,
//! never its bytes.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use crate::aead::{Aead as _, AeadKey, NONCE_LEN, TAG_LEN, random_nonce};
use crate::error::{Error, KeyRingError, Result};
use crate::format::wrapped::Header;
use crate::kek::{KeyEncryptionKey, KeyRing, KeyRingEntry, WrappedDataKey};
use crate::keys::{DataKey, KEY_LEN, KekId, KeyMaterial};

const PROVIDER: &str = "local";

/// KEK versions held in memory: AES-256-GCM wraps DEKs under the active one.
///
/// The local provider suits development, tests and single-host deployments whose key file is
/// protected by the operating system; production deployments with a KMS use `AwsKmsKek`
/// (feature `aws-kms`). See the module docs for the ring's text format.
///
/// ```
/// use ward_crypto::{DataKey, DekId, KekId, KeyEncryptionKey, KeyMaterial, LocalKek};
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let ring = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
/// let kek = LocalKek::parse(&ring)?;
/// let dek = DataKey::generate(DekId(7))?;
/// let wrapped = kek.wrap(&dek, b"workspace-1").await?;
/// assert_eq!((wrapped.kek_id(), wrapped.dek_id()), (KekId(1), DekId(7)));
/// assert_eq!(kek.unwrap(&wrapped, b"workspace-1").await?.id(), DekId(7));
/// assert!(kek.unwrap(&wrapped, b"workspace-2").await.is_err());
/// # Ok::<(), ward_crypto::Error>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LocalKek {
    ring: KeyRing<AeadKey>,
}

impl LocalKek {
    /// The provider over an already validated ring of key material.
    ///
    /// The material is used as given: load it with [`KeyMaterial::from_base64`] or
    /// [`KeyMaterial::from_loaded_bytes`] (which refuse degenerate keys), or use
    /// [`LocalKek::parse`], [`LocalKek::from_env`] or [`LocalKek::from_file`].
    pub fn new(ring: KeyRing<KeyMaterial>) -> Self {
        Self {
            ring: ring.map(|key| AeadKey::new(&key)),
        }
    }

    /// Parses a key ring in the text format described in the module docs.
    pub fn parse(text: &str) -> Result<Self> {
        let mut entries = Vec::new();
        for (index, item) in key_items(text).enumerate() {
            entries.push(parse_entry(index + 1, item)?);
        }
        Ok(Self::new(KeyRing::new(entries)?))
    }

    /// Loads the ring from the environment variable `var` (text format of the module docs).
    pub fn from_env(var: &str) -> Result<Self> {
        let text = zeroize::Zeroizing::new(std::env::var(var).map_err(|e| Error::Provider {
            provider: PROVIDER,
            message: format!("environment variable {var}: {e}"),
        })?);
        Self::parse(&text)
    }

    /// Loads the ring from a file (text format of the module docs).
    ///
    /// On Unix a file that group or others may access (any of the mode bits `0o077`, for example
    /// mode `0644`) is refused with [`Error::KeyFilePermissions`] unless `WARD_ENV` is exactly
    /// `development`, where it only warns (through `tracing`). An unset `WARD_ENV` means
    /// `production`, as in ward-storage; an unknown value is [`Error::InvalidEnvironment`]. The
    /// mode is read from the opened file, so it is the file that is then read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Self::parse(&read_key_file(path.as_ref())?)
    }
}

/// The items of a key text: lines or comma-separated items, trimmed, without blanks and `#`
/// comments.
pub(crate) fn key_items(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .filter(|item| !item.is_empty() && !item.starts_with('#'))
}

/// Reads a key file, refusing on Unix one that group or others may access unless `WARD_ENV`
/// is exactly `development` (where it warns). The mode is read from the opened file, so it is
/// the file that is then read.
pub(crate) fn read_key_file(path: &Path) -> Result<zeroize::Zeroizing<String>> {
    let environment = crate::env::from_env()?;
    let read_error = |e: std::io::Error| Error::Provider {
        provider: PROVIDER,
        message: format!("reading key file {}: {e}", path.display()),
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata().map_err(read_error)?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            if environment.is_strict() {
                return Err(Error::KeyFilePermissions {
                    path: path.to_owned(),
                    mode,
                    environment: environment.as_str(),
                });
            }
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:04o}"),
                "key file is open to group or others (accepted in development only); \
                 restrict it to its owner (0600)"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = environment;
    let mut text = zeroize::Zeroizing::new(String::new());
    file.read_to_string(&mut text).map_err(read_error)?;
    Ok(text)
}

/// One `id:base64[:active]` item, the `entry`-th of its source; the error says what was wrong
/// without echoing the item.
pub(crate) fn parse_entry(
    entry: usize,
    item: &str,
) -> std::result::Result<KeyRingEntry<KeyMaterial>, KeyRingError> {
    let bad = |reason: &str| KeyRingError::BadEntry {
        entry,
        reason: reason.to_owned(),
    };
    let mut parts = item.split(':').map(str::trim);
    let (Some(id), Some(key)) = (parts.next(), parts.next()) else {
        return Err(bad("expected `<id>:<base64 key>[:active]`"));
    };
    let active = match parts.next() {
        None => false,
        Some("active") => true,
        Some(_) => return Err(bad("the third part may only be `active`")),
    };
    if parts.next().is_some() {
        return Err(bad("too many `:`-separated parts"));
    }
    let id: u32 = id
        .parse()
        .map_err(|_| bad("the id is not a decimal number"))?;
    let key = KeyMaterial::from_base64(key).map_err(|e| match e {
        Error::DegenerateKey { min_distinct, .. } => KeyRingError::DegenerateKey {
            entry,
            min_distinct,
        },
        other => bad(&other.to_string()),
    })?;
    Ok(KeyRingEntry {
        id: KekId(id),
        key,
        active,
    })
}

#[async_trait::async_trait]
impl KeyEncryptionKey for LocalKek {
    fn active_id(&self) -> KekId {
        self.ring.active().0
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.ring.ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let (kek_id, kek) = self.ring.active();
        let header = Header {
            kek_id,
            dek_id: dek.id(),
        };
        let body = seal_data_key(kek, &header.to_bytes(), context, dek)?;
        Ok(WrappedDataKey::from_parts(header, &body))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kek = self.ring.get(wrapped.kek_id()).ok_or(Error::UnknownKekId {
            kek_id: wrapped.kek_id(),
        })?;
        open_data_key(kek, wrapped, wrapped.body(), context)
    }
}

/// The length of a sealed data key: `nonce | sealed key | tag`.
pub(crate) const SEALED_KEY_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;

/// Seals `dek` under `kek` with a random nonce, authenticating `header ‖ context`: the body of a
/// local wrap, and the inner layer of a provider that wraps a one-time key remotely.
pub(crate) fn seal_data_key(
    kek: &AeadKey,
    header: &[u8],
    context: &[u8],
    dek: &DataKey,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let nonce = random_nonce()?;
    let mut body = zeroize::Zeroizing::new(Vec::with_capacity(SEALED_KEY_LEN));
    body.extend_from_slice(&nonce);
    body.extend_from_slice(dek.material().expose());
    kek.seal_append(&nonce, &aad(header, context), &mut body, NONCE_LEN)?;
    Ok(body)
}

/// Opens a key sealed by [`seal_data_key`] for `wrapped`'s header and `context`.
pub(crate) fn open_data_key(
    kek: &AeadKey,
    wrapped: &WrappedDataKey,
    sealed: &[u8],
    context: &[u8],
) -> Result<DataKey> {
    if sealed.len() != SEALED_KEY_LEN {
        return Err(Error::Malformed {
            format: "wrapped data key",
            reason: "a sealed key must be nonce, 32-byte key and tag",
        });
    }
    let (nonce, sealed) = sealed.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Decrypt)?;
    let key = kek.open_to_vec(nonce, &aad(wrapped.header_bytes(), context), sealed)?;
    Ok(DataKey::new(
        wrapped.dek_id(),
        KeyMaterial::from_bytes(&key)?,
    ))
}

/// `header ‖ context`: what a local wrap authenticates.
fn aad(header: &[u8], context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    aad
}

impl fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKek")
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}
