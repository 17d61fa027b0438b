//! Versioned envelope AES-256-GCM for protected health information at rest.
//!
//! (Crate documentation is completed as the modules land; see README.md.)

mod aead;
mod blind;
mod dek;
mod derive;
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
pub use error::{Error, KeyRingError, Result};
pub use field::FieldCipher;
#[cfg(feature = "aws-kms")]
pub use kek::AwsKmsKek;
pub use kek::{KeyEncryptionKey, KeyRing, KeyRingEntry, LocalKek, WrappedDataKey};
pub use keys::{DataKey, KEY_LEN, KeyId, KeyMaterial};
pub use legacy::LegacyDecryptor;
pub use rotation::{KeyUsage, needs_rewrap, reencrypt_field, rewrap, rewrap_source};

#[cfg(feature = "aws-kms")]
pub use aws_sdk_kms;
pub use secrecy;
pub use zeroize;
