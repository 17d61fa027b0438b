//! The crate's one error type.

use std::io;

use ward_types::Fault;

use crate::keys::{DekId, KekId};

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ward-crypto.
///
/// No message ever contains key bytes, plaintext, or a whole ciphertext: variants carry lengths,
/// key ids and version numbers only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Key material did not have the length AES-256 needs.
    #[error("key material must be {expected} bytes, got {actual}")]
    InvalidKeyLength {
        /// The required length in bytes (32).
        expected: usize,
        /// The length that was supplied.
        actual: usize,
    },

    /// Loaded key material has too few distinct byte values to be a random key (all one value, a
    /// short repeated pattern, a placeholder); see
    /// [`MIN_DISTINCT_KEY_BYTES`](crate::MIN_DISTINCT_KEY_BYTES).
    #[error(
        "degenerate key material: fewer than {min_distinct} distinct byte values in {len} bytes"
    )]
    DegenerateKey {
        /// The fewest distinct byte values a loaded key may hold (16).
        min_distinct: usize,
        /// The key's length in bytes (32).
        len: usize,
    },

    /// Key material was not valid base64.
    #[error("key material is not valid base64")]
    InvalidKeyEncoding,

    /// A key ring's configuration is unusable.
    #[error("invalid key ring: {0}")]
    KeyRing(#[from] KeyRingError),

    /// No data key (or legacy key version) with this id is known to the key source.
    #[error("unknown key id {key_id}")]
    UnknownKeyId {
        /// The id that was asked for.
        key_id: DekId,
    },

    /// No key-encryption-key version with this id is configured in the provider's ring: a
    /// wrapped key names a KEK version the deployment does not hold.
    #[error("unknown kek id {kek_id}")]
    UnknownKekId {
        /// The KEK version that was asked for.
        kek_id: KekId,
    },

    /// The ciphertext names a different key id than the data key supplied to open it.
    #[error("ciphertext was written under key id {expected}, not key id {actual}")]
    KeyIdMismatch {
        /// The key id written in the ciphertext header.
        expected: DekId,
        /// The id of the key that was supplied.
        actual: DekId,
    },

    /// The key with this id was destroyed (crypto-shredded): data written with it is gone.
    #[error("key id {key_id} was destroyed")]
    KeyDestroyed {
        /// The id that was asked for.
        key_id: DekId,
    },

    /// The data key has sealed as many field values in this process as its limit allows
    /// ([`FieldCipher::MAX_SEALS_PER_KEY`](crate::FieldCipher::MAX_SEALS_PER_KEY) or a lower
    /// configured one): random nonces would approach the GCM bound. Rotate the data key.
    #[error(
        "key id {key_id} has sealed its limit of {limit} field values in this process; rotate the data key"
    )]
    KeyExhausted {
        /// The exhausted data key.
        key_id: DekId,
        /// The limit that was reached.
        limit: u64,
    },

    /// The key source has no active key, so nothing new can be written.
    #[error("no active key")]
    NoActiveKey,

    /// Authenticated decryption failed: wrong key, wrong context, or modified bytes.
    ///
    /// Deliberately carries no detail, so it cannot serve as an oracle.
    #[error("decryption failed")]
    Decrypt,

    /// The data was written in a format version this build does not know (a newer writer).
    #[error("unsupported format version {version}")]
    UnsupportedVersion {
        /// The version byte found.
        version: u8,
    },

    /// The bytes are not in the expected format (too short, bad magic, bad header field).
    #[error("malformed {format}: {reason}")]
    Malformed {
        /// Which format was being read (`field ciphertext`, `stream header`, …).
        format: &'static str,
        /// What was wrong, without echoing the bytes.
        reason: &'static str,
    },

    /// A requested plaintext byte range does not fit the object.
    #[error("byte range {start}..{end} is outside the plaintext of {len} bytes")]
    RangeOutOfBounds {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The plaintext length.
        len: u64,
    },

    /// `WARD_ENV` holds a value other than `development`, `test`, `staging` or `production`
    /// (unset means `production`).
    #[error("WARD_ENV must be development, test, staging or production")]
    InvalidEnvironment,

    /// A key service's endpoint is not `https://`, which every environment but `development`
    /// requires.
    #[error("the {environment} environment requires an https {service} endpoint")]
    HttpsRequired {
        /// The environment in force (`production` when `WARD_ENV` is unset).
        environment: &'static str,
        /// The key service (`kms`, `secrets manager`, `vault`, …).
        service: &'static str,
    },

    /// KMS answered for another key than the KEK version names (its key ARN, resolved once when
    /// the provider connected).
    #[error("kms reported key `{reported}` for kek {kek_id}, expected `{expected}`")]
    KmsKeyMismatch {
        /// The KEK version asked for.
        kek_id: KekId,
        /// The key ARN the version resolved to.
        expected: String,
        /// The key ARN KMS reported (empty when none).
        reported: String,
    },

    /// A key file is open to group or others (Unix mode bits `0o077`), which every environment
    /// but `development` refuses.
    #[error(
        "key file {} is open to group or others (mode {mode:04o}); the {environment} environment requires it to be private to its owner (chmod 600)",
        path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The environment in force (`production` when `WARD_ENV` is unset).
        environment: &'static str,
    },

    /// A key provider (environment, file, KMS) failed.
    #[error("key provider `{provider}` failed: {message}")]
    Provider {
        /// Which provider (`local`, `aws-kms`, …).
        provider: &'static str,
        /// What went wrong, with no key material or credentials.
        message: String,
    },

    /// The caller used the API in a way it does not allow; the [`ApiMisuse`] case says how. This
    /// is a bug in the caller, not bad input.
    #[error("api misuse: {0}")]
    ApiMisuse(#[from] ApiMisuse),

    /// An invariant inside ward-crypto did not hold: a bug in this crate, caused neither by input
    /// nor by the caller. The text names the invariant, never a value.
    #[error("internal error: {0}")]
    Internal(&'static str),

    /// An I/O error while reading or writing a stream.
    #[error("i/o error")]
    Io(#[from] io::Error),
}

/// The providers that answer over the network: their failures may pass.
const REMOTE_PROVIDERS: [&str; 5] = [
    "aws-kms",
    "aws-secrets-manager",
    "azure-key-vault",
    "gcp-kms",
    "vault-transit",
];

impl Error {
    /// Whose fault this error is, for mapping it to a response.
    ///
    /// ward-crypto only ever sees keys and ciphertexts the service loaded itself, so nearly every
    /// failure is the server's: a ciphertext read from the store that fails to open is an
    /// integrity failure of stored data, not bad client input.
    ///
    /// | variant | fault | why |
    /// |---|---|---|
    /// | `InvalidKeyLength`, `DegenerateKey`, `InvalidKeyEncoding`, `KeyRing` | `Server` | key material comes from configuration or the key table |
    /// | `UnknownKeyId`, `UnknownKekId`, `KeyIdMismatch` | `Server` | stored data names a key the service cannot supply: an integrity or configuration failure |
    /// | `KeyDestroyed` | `NotFound` | the key was crypto-shredded on purpose: the data is deleted, as a removed record is (a service may answer 410) |
    /// | `KeyExhausted`, `NoActiveKey` | `Server` | an operator must rotate or create a data key |
    /// | `Decrypt`, `UnsupportedVersion`, `Malformed` | `Server` | stored ciphertext failed to open: integrity failure, a newer writer, or corruption |
    /// | `RangeOutOfBounds` | `ClientInput` | the byte range comes from the request (a service may answer 416) |
    /// | `InvalidEnvironment`, `HttpsRequired`, `KmsKeyMismatch`, `KeyFilePermissions` | `Server` | deployment configuration |
    /// | `Provider` from a key service (`aws-kms`, `aws-secrets-manager`, `azure-key-vault`, `gcp-kms`, `vault-transit`) | `Unavailable` | the service failed or timed out; retrying may help |
    /// | `Provider` from any other provider | `Server` | a local key source (environment, file) is misconfigured |
    /// | `ApiMisuse` | `Server` | a bug in the calling code |
    /// | `Internal` | `Server` | a bug in ward-crypto |
    /// | `Io` | `Unavailable` | the stream's reader or writer (the store, the network) failed |
    ///
    /// ```
    /// use ward_crypto::{Error, Fault};
    ///
    /// assert_eq!(Error::Decrypt.fault(), Fault::Server);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            Self::InvalidKeyLength { .. }
            | Self::DegenerateKey { .. }
            | Self::InvalidKeyEncoding
            | Self::KeyRing(_)
            | Self::UnknownKeyId { .. }
            | Self::UnknownKekId { .. }
            | Self::KeyIdMismatch { .. }
            | Self::KeyExhausted { .. }
            | Self::NoActiveKey
            | Self::Decrypt
            | Self::UnsupportedVersion { .. }
            | Self::Malformed { .. }
            | Self::InvalidEnvironment
            | Self::HttpsRequired { .. }
            | Self::KmsKeyMismatch { .. }
            | Self::KeyFilePermissions { .. }
            | Self::ApiMisuse(_)
            | Self::Internal(_) => Fault::Server,
            Self::KeyDestroyed { .. } => Fault::NotFound,
            Self::RangeOutOfBounds { .. } => Fault::ClientInput,
            Self::Provider { provider, .. } => {
                if REMOTE_PROVIDERS.contains(provider) {
                    Fault::Unavailable
                } else {
                    Fault::Server
                }
            }
            Self::Io(_) => Fault::Unavailable,
        }
    }
}

impl Error {
    /// Recovers the ward error carried by an [`io::Error`] from a stream type
    /// ([`StreamEncryptor`](crate::stream::StreamEncryptor),
    /// [`StreamDecryptor`](crate::stream::StreamDecryptor),
    /// [`EncryptingReader`](crate::stream::EncryptingReader)); any other I/O error becomes
    /// [`Error::Io`].
    pub fn from_io(err: io::Error) -> Self {
        if !err.get_ref().is_some_and(|inner| inner.is::<Self>()) {
            return Self::Io(err);
        }
        let kind = err.kind();
        match err.into_inner().map(|inner| inner.downcast::<Self>()) {
            Some(Ok(ward)) => *ward,
            // Not reached (checked just above); the payload is kept as an I/O error.
            Some(Err(other)) => Self::Io(io::Error::new(kind, other)),
            None => Self::Io(io::Error::from(kind)),
        }
    }
}

/// What the calling code did that the API does not allow (the case inside
/// [`Error::ApiMisuse`]).
///
/// Every case is a bug in the caller, never bad input: fix the call, do not retry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiMisuse {
    /// A stream was started with a chunk size outside
    /// [`MIN_CHUNK_SIZE`](crate::stream::MIN_CHUNK_SIZE)`..=`[`MAX_CHUNK_SIZE`](crate::stream::MAX_CHUNK_SIZE).
    #[error("chunk size {chunk_size} is outside 1 KiB..=4 MiB")]
    ChunkSizeOutOfRange {
        /// The chunk size asked for, in bytes.
        chunk_size: u32,
    },
    /// A blind indexer was built with a tag truncation outside 8..=32 bytes.
    #[error("blind index truncation of {bytes} bytes is outside 8..=32")]
    BlindIndexTruncationOutOfRange {
        /// The truncation asked for, in bytes.
        bytes: usize,
    },
    /// A [`RangePlan`](crate::stream::RangePlan) was used with another stream header than the
    /// one it was made from.
    #[error("range plan used with another stream header than it was made from")]
    RangePlanForAnotherHeader,
    /// A [`StreamEncryptor`](crate::stream::StreamEncryptor) was written to after its final
    /// chunk (after `shutdown`).
    #[error("write to a stream after its final chunk")]
    WriteAfterFinish,
    /// A [`StreamDecryptor`](crate::stream::StreamDecryptor) was read again after it reported
    /// that the stream failed to decrypt.
    #[error("read from a stream after it failed to decrypt")]
    ReadAfterDecryptFailure,
    /// An [`EncryptingReader`](crate::stream::EncryptingReader) was read again after its
    /// source failed.
    #[error("read from an encrypting reader after its source failed")]
    ReadAfterSourceFailure,
    /// A new data key was asked of an [`InMemoryKeySource`](crate::InMemoryKeySource) that
    /// holds (or destroyed) the key with the highest id, `u32::MAX`.
    #[error("data key ids exhausted")]
    DekIdsExhausted,
}

/// Why a key ring could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRingError {
    /// The ring holds no keys at all.
    #[error("no keys configured")]
    Empty,
    /// No key is marked active, so nothing could wrap new keys.
    #[error("no key is marked active")]
    NoActiveKey,
    /// More than one key is marked active.
    #[error("keys {first} and {second} are both marked active")]
    SeveralActiveKeys {
        /// One active KEK version.
        first: KekId,
        /// Another active KEK version.
        second: KekId,
    },
    /// Two KEK versions in a ring share one id.
    #[error("kek id {kek_id} appears more than once")]
    DuplicateKekId {
        /// The repeated id.
        kek_id: KekId,
    },
    /// Two data keys (or legacy key versions) added to one source share one id.
    #[error("key id {key_id} appears more than once")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: DekId,
    },
    /// A key entry's key material is degenerate (too few distinct byte values); see
    /// [`MIN_DISTINCT_KEY_BYTES`](crate::MIN_DISTINCT_KEY_BYTES).
    #[error(
        "key entry {entry}: degenerate key material (fewer than {min_distinct} distinct byte values)"
    )]
    DegenerateKey {
        /// The 1-based position of the entry in its source.
        entry: usize,
        /// The fewest distinct byte values a loaded key may hold (16).
        min_distinct: usize,
    },
    /// A KMS key ring entry names no key (an empty or blank key id).
    #[error("key {kek_id} names no kms key (empty key id)")]
    EmptyKmsKeyId {
        /// The KEK version with the empty key id.
        kek_id: KekId,
    },
    /// A key entry could not be parsed.
    #[error("key entry {entry}: {reason}")]
    BadEntry {
        /// The 1-based position of the entry in its source.
        entry: usize,
        /// What was wrong, without the key bytes.
        reason: String,
    },
}

impl From<aes_gcm::Error> for Error {
    fn from(_: aes_gcm::Error) -> Self {
        Self::Decrypt
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    /// One error of every variant, each with the fault it must have. The match has no wildcard,
    /// so a new variant does not compile until it is classified here too.
    #[test]
    fn every_variant_is_classified() {
        let id = DekId(1);
        let examples = [
            Error::InvalidKeyLength {
                expected: 32,
                actual: 1,
            },
            Error::DegenerateKey {
                min_distinct: 16,
                len: 32,
            },
            Error::InvalidKeyEncoding,
            Error::KeyRing(KeyRingError::Empty),
            Error::UnknownKeyId { key_id: id },
            Error::UnknownKekId { kek_id: KekId(1) },
            Error::KeyIdMismatch {
                expected: id,
                actual: DekId(2),
            },
            Error::KeyDestroyed { key_id: id },
            Error::KeyExhausted {
                key_id: id,
                limit: 1,
            },
            Error::NoActiveKey,
            Error::Decrypt,
            Error::UnsupportedVersion { version: 9 },
            Error::Malformed {
                format: "stream header",
                reason: "too short",
            },
            Error::RangeOutOfBounds {
                start: 0,
                end: 2,
                len: 1,
            },
            Error::InvalidEnvironment,
            Error::HttpsRequired {
                environment: "production",
                service: "kms",
            },
            Error::KmsKeyMismatch {
                kek_id: KekId(1),
                expected: "a".to_owned(),
                reported: "b".to_owned(),
            },
            Error::KeyFilePermissions {
                path: "k".into(),
                mode: 0o644,
                environment: "production",
            },
            Error::Provider {
                provider: "aws-kms",
                message: String::new(),
            },
            Error::Provider {
                provider: "local",
                message: String::new(),
            },
            Error::ApiMisuse(ApiMisuse::WriteAfterFinish),
            Error::Internal("invariant"),
            Error::Io(io::Error::other("broken")),
        ];
        for error in examples {
            let expected = match &error {
                Error::InvalidKeyLength { .. }
                | Error::DegenerateKey { .. }
                | Error::InvalidKeyEncoding
                | Error::KeyRing(_)
                | Error::UnknownKeyId { .. }
                | Error::UnknownKekId { .. }
                | Error::KeyIdMismatch { .. }
                | Error::KeyExhausted { .. }
                | Error::NoActiveKey
                | Error::Decrypt
                | Error::UnsupportedVersion { .. }
                | Error::Malformed { .. }
                | Error::InvalidEnvironment
                | Error::HttpsRequired { .. }
                | Error::KmsKeyMismatch { .. }
                | Error::KeyFilePermissions { .. }
                | Error::ApiMisuse(_)
                | Error::Internal(_) => Fault::Server,
                Error::KeyDestroyed { .. } => Fault::NotFound,
                Error::RangeOutOfBounds { .. } => Fault::ClientInput,
                Error::Provider { provider, .. } if *provider == "aws-kms" => Fault::Unavailable,
                Error::Provider { .. } => Fault::Server,
                Error::Io(_) => Fault::Unavailable,
            };
            assert_eq!(error.fault(), expected, "{error:?}");
        }
    }
}
