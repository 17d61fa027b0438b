//! Importing the seed application's data: [`LegacyImport`] opens its three ciphertext forms with
//! explicitly configured legacy keys, and [`Clients::import`](crate::Clients::import) and
//! [`Sessions::import`](crate::Sessions::import) seal the plaintext into ward's format, bound to
//! the new row, one row at a time.
//!
//! An import is resumable without bookkeeping: a row's id is derived from its workspace, its
//! table and its id in the seed application (`legacy_id`), so importing a row again finds the row
//! made the first time ([`Imported::Existing`]) and an interrupted import is simply run again.
//!
//! [`LegacyImport::import_file`] reads a whole export of the seed's rows (JSON Lines).
//!
//! A legacy value is not bound to its row (see [`ward_crypto::LegacyDecryptor`]): import from a
//! snapshot no untrusted party could write to, and check what the seed kept beside a value
//! before importing it.

mod file;

use std::fmt;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use ward_crypto::{DekId, LegacyDecryptor};
use ward_types::WorkspaceId;
use zeroize::Zeroizing;

use crate::audit::AuditMetadata;
use crate::error::{Error, Result};
use crate::keys::is_unique_violation;

pub use file::{ImportReport, MAX_IMPORT_LINE_BYTES, RowFailure};

/// The largest legacy value opened (any form), checked before any parsing: the longest sealed
/// field ward holds, SOAP notes, with room for base64 and JSON around it.
pub const MAX_LEGACY_VALUE_BYTES: usize = 512 * 1024;

/// The longest id of a row in the seed application, in bytes.
pub const MAX_LEGACY_ID_BYTES: usize = 128;

/// A value as the seed application stored it.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum LegacyValue<'a> {
    /// `nonce(12) ‖ ciphertext ‖ tag(16)`, under the legacy key `version` (the seed did not store
    /// it beside the value; the caller knows it).
    Raw {
        /// The legacy key version.
        version: u32,
        /// The stored bytes.
        bytes: &'a [u8],
    },
    /// `v<N>:<base64 of nonce ‖ ciphertext ‖ tag>`.
    Text(&'a str),
    /// The seed's JSON columns: `{"ciphertext": "<base64 of ciphertext ‖ tag>", "nonce":
    /// "<base64>", "version": N}` (other members are ignored).
    Json(&'a str),
    /// The members of the seed's JSON columns, already taken apart: the base64 of the nonce and
    /// of `ciphertext ‖ tag`, under legacy key `version`.
    Parts {
        /// The legacy key version.
        version: u32,
        /// Base64 of the 12-byte nonce.
        nonce: &'a str,
        /// Base64 of `ciphertext ‖ tag`.
        ciphertext: &'a str,
    },
}

impl LegacyValue<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Raw { bytes, .. } => bytes.len(),
            Self::Text(text) | Self::Json(text) => text.len(),
            Self::Parts {
                nonce, ciphertext, ..
            } => nonce.len() + ciphertext.len(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Raw { .. } => "raw",
            Self::Text(_) => "text",
            Self::Json(_) => "json",
            Self::Parts { .. } => "parts",
        }
    }
}

impl fmt::Debug for LegacyValue<'_> {
    /// The form and length only: a legacy value is PHI under a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegacyValue::{}({} bytes)", self.kind(), self.len())
    }
}

/// The members of a JSON value that are read.
#[derive(Deserialize)]
struct JsonParts {
    ciphertext: String,
    nonce: String,
    version: u32,
}

/// Opens the seed application's values with its legacy keys, each version configured explicitly
/// (a value under a version not configured is refused, never tried with another key).
///
/// ```
/// use ward_crypto::{DekId, KeyMaterial, LegacyDecryptor};
/// use ward_domain::{LegacyImport, LegacyValue};
///
/// let mut keys = LegacyDecryptor::new();
/// keys.add_key(DekId(1), KeyMaterial::generate()?)?;
/// let import = LegacyImport::new(keys);
/// let err = import.open(LegacyValue::Json(r#"{"ciphertext":"AA==","nonce":"AA==","version":2}"#));
/// assert_eq!(
///     err.unwrap_err().to_string(),
///     "invalid legacy value: malformed legacy ciphertext parts: nonce is not 12 bytes"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LegacyImport {
    keys: LegacyDecryptor,
}

impl fmt::Debug for LegacyImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyImport")
            .field("keys", &self.keys)
            .finish()
    }
}

impl LegacyImport {
    /// An importer with these legacy keys.
    pub fn new(keys: LegacyDecryptor) -> Self {
        Self { keys }
    }

    /// The plaintext of `value`. Errors name the form and what was wrong, never the value.
    pub fn open(&self, value: LegacyValue<'_>) -> Result<Zeroizing<Vec<u8>>> {
        if value.len() > MAX_LEGACY_VALUE_BYTES {
            return Err(Error::InvalidInput {
                field: "legacy value",
                reason: "is longer than 512 KiB",
            });
        }
        let opened = match value {
            LegacyValue::Raw { version, bytes } => self.keys.decrypt_raw(DekId(version), bytes),
            LegacyValue::Text(text) => self.keys.decrypt_text(text),
            LegacyValue::Json(text) => {
                let parts: JsonParts =
                    serde_json::from_str(text).map_err(|_| Error::InvalidInput {
                        field: "legacy value",
                        reason: "is not a JSON object with ciphertext, nonce and version",
                    })?;
                let opened =
                    self.keys
                        .decrypt_parts(DekId(parts.version), &parts.nonce, &parts.ciphertext);
                drop(Zeroizing::new(parts.ciphertext));
                opened
            }
            LegacyValue::Parts {
                version,
                nonce,
                ciphertext,
            } => self.keys.decrypt_parts(DekId(version), nonce, ciphertext),
        };
        opened.map_err(Error::Legacy)
    }

    /// The plaintext of `value`, which must be UTF-8 text.
    pub fn open_text(&self, value: LegacyValue<'_>) -> Result<Zeroizing<String>> {
        let bytes = self.open(value)?;
        match std::str::from_utf8(&bytes) {
            Ok(text) => Ok(Zeroizing::new(text.to_owned())),
            Err(_) => Err(Error::InvalidInput {
                field: "legacy value",
                reason: "does not decrypt to UTF-8 text",
            }),
        }
    }
}

/// What importing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// The row was made, with this id.
    Created(Uuid),
    /// An earlier import made it, with this id; nothing was written.
    Existing(Uuid),
}

impl Imported {
    /// The row's id either way.
    pub fn id(self) -> Uuid {
        match self {
            Self::Created(id) | Self::Existing(id) => id,
        }
    }
}

/// Makes the imported row `id` unless an earlier import made it (`exists`); a unique violation
/// from an import racing this one also means the row is there.
pub(crate) async fn insert_once<T>(
    id: Uuid,
    exists: bool,
    insert: impl Future<Output = Result<T>>,
) -> Result<Imported> {
    if exists {
        return Ok(Imported::Existing(id));
    }
    match insert.await {
        Ok(_) => Ok(Imported::Created(id)),
        Err(Error::Database(e)) if is_unique_violation(&e) => Ok(Imported::Existing(id)),
        Err(e) => Err(e),
    }
}

/// Where a new row comes from, as its audit event records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    New,
    Import,
}

impl Origin {
    /// `metadata`, with `source: import` for an imported row.
    pub(crate) fn tag(self, metadata: AuditMetadata) -> AuditMetadata {
        match self {
            Self::New => metadata,
            Self::Import => metadata.word("source", "import"),
        }
    }
}

/// The id of the row imported into `table` of `workspace` from the seed's row `legacy_id`: the
/// first 16 bytes of a SHA-256 over the three, as a UUID (version 8, "custom").
pub(crate) fn import_id(workspace: WorkspaceId, table: &str, legacy_id: &str) -> Result<Uuid> {
    if legacy_id.is_empty()
        || legacy_id.len() > MAX_LEGACY_ID_BYTES
        || legacy_id.chars().any(char::is_control)
    {
        return Err(Error::InvalidInput {
            field: "legacy id",
            reason: "must be 1 to 128 bytes without control characters",
        });
    }
    let digest = Sha256::new()
        .chain_update(b"ward/v1/import:")
        .chain_update(table.as_bytes())
        .chain_update(b":")
        .chain_update(workspace.as_uuid().as_bytes())
        .chain_update(b":")
        .chain_update(legacy_id.as_bytes())
        .finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Ok(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}
