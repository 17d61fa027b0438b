//! Versioned envelope AES-256-GCM for protected health information (PHI) at rest: a KEK ring,
//! per-workspace data keys, field and stream encryption, and blind indexes.
//!
//! # What it does not do
//!
//! It stores nothing: wrapped data keys, ciphertexts and blind indexes are bytes the caller puts
//! in its database or object store (the database-backed [`DataKeySource`] lives in ward-domain).
//! It does not log PHI or keys, never writes the seed application's legacy formats (it only reads
//! them, see [`LegacyDecryptor`]), and never falls back from one key to another.
//!
//! # Map
//!
//! | layer | types |
//! |---|---|
//! | key material | [`KeyMaterial`], [`DataKey`], [`DekId`], [`KekId`] (loaded keys must be exactly 32 bytes and not degenerate, see [`MIN_DISTINCT_KEY_BYTES`]) |
//! | key-encryption keys | [`KeyEncryptionKey`] trait; [`LocalKek`] (env/file ring), `AwsKmsKek` (feature `aws-kms`), `SecretsManagerKek` (feature `aws-secrets-manager`), `VaultTransitKek` (feature `vault-transit`), `AzureKeyVaultKek` (feature `azure-key-vault`), `GcpKmsKek` (feature `gcp-kms`); [`KeyRing`] validation; [`WrappedDataKey`] |
//! | data keys of one workspace | [`DataKeySource`] trait; [`InMemoryKeySource`], [`WrappedKeySource`], [`CachedKeySource`] (age and use bounds, injectable [`Clock`]) |
//! | small values | [`FieldCipher`]: `seal(plaintext, context)` / `open(ciphertext, context)` |
//! | files | [`stream`]: chunked STREAM encryption with range reads |
//! | search | [`BlindIndexer`] → [`BlindIndex`], with a [`Normalizer`] |
//! | operations | [`rewrap`], [`rewrap_source`], [`reencrypt_field`], [`KeyUsage`] reports; [`LegacyDecryptor`] |
//! | S3 server-side keys | [`derive_sse_c_key`]: the per-object SSE-C customer key ward-storage sends |
//!
//! # Formats (all integers big-endian; readers accept every version ever written)
//!
//! - **Field, v1**: `version(1)=0x01 | key_id(4) | commitment(32) | nonce(12) | ciphertext |
//!   tag(16)`. The AES-256-GCM key and the commitment are HKDF-SHA256 outputs of the DEK (labels
//!   `ward/v1/field/key` and `ward/v1/field/commitment`, empty salt); the associated data is the
//!   49 header bytes followed by the caller's context. The commitment is compared in constant
//!   time before decrypting, so a ciphertext opens under one key only. Golden files:
//!   `tests/data/field/`.
//! - **Wrapped DEK, v1**: `version(1)=0x01 | kek_id(4) | dek_id(4) | body`, the body being
//!   `nonce(12) | sealed key(32) | tag(16)` for the local provider (associated data = the 9
//!   header bytes + caller context) or the KMS ciphertext blob (header and context in the KMS
//!   encryption context).
//! - **Blind index, v1**: `version(1)=0x01 | key_id(4) | HMAC-SHA256 tag truncated to 8..=32
//!   bytes`, keyed by HKDF(DEK, salt = workspace id, `ward/v1/blind-index`).
//! - **Stream, v2** (v1 still read): a header, then chunks whose associated data is the header and
//!   the caller's context (the object key), so an object copied elsewhere fails to open; see
//!   [`stream`].
//!
//! # Feature flags
//!
//! - `aws-kms`: `AwsKmsKek`, the AWS KMS (or KMS-compatible) KEK provider, and a re-export of
//!   `aws_sdk_kms`.
//! - `aws-secrets-manager`: `SecretsManagerKek`, a KEK ring kept in an AWS Secrets Manager secret
//!   and reloaded when the secret rotates, and a re-export of `aws_sdk_secretsmanager`.
//! - `azure-key-vault`: `AzureKeyVaultKek`, Azure Key Vault (or Managed HSM) keys as KEK versions,
//!   and re-exports of `azure_core` and `azure_identity` for building credentials.
//! - `gcp-kms`: `GcpKmsKek`, Google Cloud KMS crypto keys as KEK versions, and re-exports of
//!   `google_cloud_kms_v1` and `google_cloud_gax` for building a client.
//! - `vault-transit`: `VaultTransitKek`, HashiCorp Vault's Transit engine as the KEK provider,
//!   with Vault's key versions as ward's KEK versions.
//! - `serde`: [`DekId`] and [`KekId`] serialize as their plain number.
//!
//! # Example
//!
//! A workspace's keys wrapped by a local KEK ring, cached, and used to seal a field and index it:
//!
//! ```
//! use std::sync::Arc;
//! use ward_crypto::{
//!     BlindIndexer, CachePolicy, CachedKeySource, DataKeySource, FieldCipher, KeyMaterial,
//!     LocalKek, Normalizer, WrappedKeySource,
//! };
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // The KEK ring, normally from a file or an environment variable (`LocalKek::from_file`).
//! let ring = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
//! let kek = Arc::new(LocalKek::parse(&ring)?);
//!
//! // One source per workspace; the wrapped keys would be stored in the database.
//! let wrapped = WrappedKeySource::new(kek, "workspace-0f9e7c1a");
//! let stored = wrapped.generate().await?;
//! let source = Arc::new(CachedKeySource::new(wrapped, CachePolicy::new()));
//!
//! let cipher = FieldCipher::from_source(source.clone()).await?;
//! let sealed = cipher.seal(b"jane@example.org", b"clients.email:42")?;
//! let opened = cipher.open_resolving(&sealed, b"clients.email:42").await?;
//! assert_eq!(opened.as_slice(), b"jane@example.org");
//!
//! let email_index = BlindIndexer::builder("clients.email")
//!     .with_normalizer(Normalizer::Email)
//!     .build(&*source.active_key().await?, b"workspace-0f9e7c1a")?;
//! assert_eq!(email_index.index("Jane@Example.org"), email_index.index("jane@example.org"));
//! # let _ = stored;
//! # Ok::<(), ward_crypto::Error>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security promises
//!
//! - Keys loaded from configuration (base64, the [`LocalKek`] ring, legacy keys) are refused
//!   when degenerate: fewer than [`MIN_DISTINCT_KEY_BYTES`] distinct byte values in 32 bytes
//!   ([`Error::DegenerateKey`], [`KeyRingError::DegenerateKey`]).
//! - Outside an explicit `WARD_ENV=development` (unset means production), a [`LocalKek`] key
//!   file open to group or others is refused ([`Error::KeyFilePermissions`]), and so is an
//!   `http://` KMS endpoint in `AwsKmsKek::from_env`.
//! - Key bytes live only in zeroizing containers ([`secrecy`], [`zeroize`]); no key-holding type
//!   prints them in `Debug`, and none implements `Display`, `Clone` or `Serialize`. One
//!   exception, chosen for speed: a stream's per-object key (derived from the DEK for one
//!   object) is expanded by ring's AES-GCM, which does not wipe its key schedule on drop, so that
//!   one object's key may outlive its reader or writer in freed memory. KEKs, DEKs, field keys and
//!   legacy keys stay on the zeroizing implementation.
//! - Decrypted values are returned in [`zeroize::Zeroizing`] buffers.
//! - No error message holds key bytes, plaintext or a whole ciphertext; decryption failures are
//!   one detail-free [`Error::Decrypt`].
//! - A key id that is not configured is [`Error::UnknownKeyId`] (or [`Error::KeyDestroyed`]),
//!   never a fallback to another key. Destroying a DEK crypto-shreds what it wrote.
//! - Nonces for field seals are random 96-bit values under per-workspace keys, and seals are
//!   counted per DEK: past [`FieldCipher::MAX_SEALS_PER_KEY`] (2^31, half the 2^32 bound of NIST
//!   SP 800-38D §8.3) sealing refuses with [`Error::KeyExhausted`]. The count is **per process**
//!   (every cipher over the same DEK in one process shares it; a restart or another process starts
//!   from zero), so a fleet must rotate DEKs by age, the primary control; the count is the
//!   backstop. Stream objects get their own derived key each, so no GCM nonce limit is
//!   approached.
//! - Field values and (from stream version 2) files are bound to the context the caller names:
//!   a ciphertext copied to another row, column, object key or workspace fails to open. Version 1
//!   stream objects, written before contexts existed, still open, bound to their key only.

mod aead;
mod blind;
mod dek;
mod derive;
mod env;
mod error;
mod field;
mod format;
mod kek;
mod keys;
mod legacy;
mod rotation;
pub mod stream;

pub use blind::{BlindIndex, BlindIndexer, BlindIndexerBuilder, Normalizer};
pub use dek::{
    CachePolicy, CachedKeySource, Clock, DataKeySource, InMemoryKeySource, SystemClock,
    WrappedKeySource,
};
pub use derive::derive_sse_c_key;
pub use error::{ApiMisuse, Error, KeyRingError, Result};
pub use field::FieldCipher;
#[cfg(feature = "aws-kms")]
pub use kek::AwsKmsKek;
#[cfg(feature = "gcp-kms")]
pub use kek::GcpKmsKek;
#[cfg(feature = "https-client")]
pub use kek::HttpPolicy;
#[cfg(any(feature = "aws-secrets-manager", feature = "vault-transit"))]
pub use kek::RingRefresh;
#[cfg(feature = "aws-secrets-manager")]
pub use kek::SecretsManagerKek;
#[cfg(feature = "azure-key-vault")]
pub use kek::{AzureKeyVaultConfig, AzureKeyVaultKek, AzureWrapAlgorithm, azure_transport};
pub use kek::{KeyEncryptionKey, KeyRing, KeyRingEntry, LocalKek, WrappedDataKey};
#[cfg(feature = "vault-transit")]
pub use kek::{VaultTransitConfig, VaultTransitKek};
pub use keys::{DataKey, DekId, KEY_LEN, KekId, KeyMaterial, MIN_DISTINCT_KEY_BYTES};
pub use legacy::LegacyDecryptor;
pub use rotation::{KeyUsage, needs_rewrap, reencrypt_field, rewrap, rewrap_source};
pub use ward_types::Fault;

// Implementors of `DataKeySource` and `KeyEncryptionKey` use the same `async_trait` macro.
pub use async_trait;
#[cfg(feature = "aws-kms")]
pub use aws_sdk_kms;
#[cfg(feature = "aws-secrets-manager")]
pub use aws_sdk_secretsmanager;
#[cfg(feature = "azure-key-vault")]
pub use azure_core;
#[cfg(feature = "azure-key-vault")]
pub use azure_identity;
#[cfg(feature = "gcp-kms")]
pub use google_cloud_gax;
#[cfg(feature = "gcp-kms")]
pub use google_cloud_kms_v1;
pub use secrecy;
pub use ward_types;
pub use zeroize;
