//! The crate's one error type, and the reasons an encryption check can fail.

use ward_crypto::DekId;
use ward_types::Fault;

/// A `Result` whose error is [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error from a backend or a library below it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in ward-storage.
///
/// Messages name object keys (which hold only UUIDs and a file kind, never user text), stores,
/// buckets and rules. They never contain object bytes, key material or credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object is stored under this key.
    #[error("object not found: {key}")]
    NotFound {
        /// The key asked for.
        key: String,
    },

    /// A key string is not a valid ward object key.
    #[error("invalid object key: {reason}")]
    InvalidKey {
        /// Which invariant the string broke (the string itself is not repeated).
        reason: &'static str,
    },

    /// A byte range does not fit the object.
    #[error("byte range {start}..{end} is outside the object of {len} bytes")]
    RangeOutOfBounds {
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The object's length.
        len: u64,
    },

    /// A backend does not offer this operation (for example presigning on the local store).
    #[error("{store} does not support {operation}")]
    NotSupported {
        /// The backend (`MemoryStore`, `LocalStore`, `S3Store`).
        store: &'static str,
        /// The operation asked for.
        operation: &'static str,
    },

    /// A presigned URL was asked to live longer than ward allows.
    #[error("presigned url expiry of {requested_secs}s exceeds the maximum of {max_secs}s")]
    PresignExpiryTooLong {
        /// The expiry asked for, in seconds.
        requested_secs: u64,
        /// The maximum, in seconds (15 minutes).
        max_secs: u64,
    },

    /// The store's configuration breaks a rule; the message names the rule.
    #[error("invalid storage configuration: {rule}")]
    Config {
        /// The rule that was broken.
        rule: ConfigRule,
    },

    /// The server refused the credentials (bad access key, bad signature, expired URL).
    #[error("{store} refused the credentials: {message}")]
    Unauthorized {
        /// The backend.
        store: &'static str,
        /// The server's error code and message (never the credentials).
        message: String,
    },

    /// The stored object's encryption could not be proven; the object was deleted.
    #[error("encryption of {key} could not be verified ({reason}); the object was deleted")]
    EncryptionVerification {
        /// The object that was checked and removed.
        key: String,
        /// Why the check failed.
        reason: VerificationFailure,
    },

    /// The stored object's encryption could not be proven, and deleting it failed too. The object
    /// may still be stored: this is an alert-level event.
    #[error(
        "encryption of {key} could not be verified ({reason}) and deleting it failed: {delete_error}"
    )]
    EncryptionVerificationCleanup {
        /// The object that was checked.
        key: String,
        /// Why the check failed.
        reason: VerificationFailure,
        /// Why the delete failed.
        #[source]
        delete_error: Box<Self>,
    },

    /// Bucket bootstrap could not put a required bucket setting in place: the server refused or
    /// failed the call (a server that does not implement it is reported, not an error: see
    /// `bootstrap::ensure_bucket`).
    #[error("bootstrap of bucket {bucket} failed: the server refused {step}: {detail}")]
    BucketSetup {
        /// The bucket.
        bucket: String,
        /// The step refused (`default encryption`, `public access block`,
        /// `abort multipart lifecycle`).
        step: &'static str,
        /// The server's status, error code and message (never credentials).
        detail: String,
    },

    /// Encrypting or decrypting the ward stream failed (wrong key, modified bytes, bad header).
    #[error("ward stream encryption failed")]
    Crypto(#[from] ward_crypto::Error),

    /// A filesystem or stream I/O error.
    #[error("i/o error in {store} for {key}")]
    Io {
        /// The backend.
        store: &'static str,
        /// The key being read or written (empty for store-wide operations).
        key: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Any other backend failure.
    #[error("{store} failed during {operation}")]
    Generic {
        /// The backend.
        store: &'static str,
        /// The operation that failed (`put`, `head`, `list`, …).
        operation: &'static str,
        /// The underlying error (no credentials or object bytes).
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// Whose fault this error is, for mapping it to a response.
    ///
    /// | variant | fault | why |
    /// |---|---|---|
    /// | `NotFound` | `NotFound` | no object under this key |
    /// | `InvalidKey` | `ClientInput` | a key string from outside (a request, a database row) is not a ward key |
    /// | `RangeOutOfBounds` | `ClientInput` | the byte range comes from the request (a service may answer 416) |
    /// | `NotSupported` | `Server` | the service called an operation its backend lacks |
    /// | `PresignExpiryTooLong` | `Server` | the service chooses the expiry; asking for more than 15 minutes is its bug |
    /// | `Config` | `Server` | deployment configuration |
    /// | `Unauthorized` | `Server` | the store refused ward's own credentials: configuration, not the client |
    /// | `EncryptionVerification`, `EncryptionVerificationCleanup` | `Server` | a stored object's encryption could not be proven |
    /// | `BucketSetup` | `Server` | bootstrap could not configure the bucket |
    /// | `Crypto` | the crypto error's [`fault`](ward_crypto::Error::fault) | a stored ciphertext that fails to open is `Server`; a destroyed key is `NotFound` |
    /// | `Io` | `Server` | the local filesystem failed |
    /// | `Generic` | `Unavailable` | the backend (network, S3 server) failed or timed out; retrying may help |
    ///
    /// ```
    /// use ward_storage::{Error, Fault};
    ///
    /// let missing = Error::NotFound { key: String::new() };
    /// assert_eq!(missing.fault(), Fault::NotFound);
    /// assert_eq!(Error::Crypto(ward_storage::ward_crypto::Error::Decrypt).fault(), Fault::Server);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            Self::NotFound { .. } => Fault::NotFound,
            Self::InvalidKey { .. } | Self::RangeOutOfBounds { .. } => Fault::ClientInput,
            Self::NotSupported { .. }
            | Self::PresignExpiryTooLong { .. }
            | Self::Config { .. }
            | Self::Unauthorized { .. }
            | Self::EncryptionVerification { .. }
            | Self::EncryptionVerificationCleanup { .. }
            | Self::BucketSetup { .. }
            | Self::Io { .. } => Fault::Server,
            Self::Crypto(error) => error.fault(),
            Self::Generic { .. } => Fault::Unavailable,
        }
    }

    /// Whether this error means the object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// A configuration rule [`Error::Config`] names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigRule {
    /// Every environment but `development` requires an `https://` endpoint.
    #[error("the {environment} environment requires an https endpoint")]
    HttpsRequired {
        /// The environment the store was built for.
        environment: &'static str,
    },
    /// Every environment but `development` refuses well-known default credentials (MinIO's root
    /// defaults, documentation examples).
    #[error("the {environment} environment refuses default credentials")]
    DefaultCredentials {
        /// The environment the store was built for.
        environment: &'static str,
    },
    /// Every environment but `development` requires an access key of at least 12 characters.
    #[error("the {environment} environment requires an access key of at least {min} characters")]
    WeakAccessKey {
        /// The environment the store was built for.
        environment: &'static str,
        /// The minimum length.
        min: usize,
    },
    /// Every environment but `development` requires a secret key of at least 20 characters.
    #[error("the {environment} environment requires a secret key of at least {min} characters")]
    WeakSecretKey {
        /// The environment the store was built for.
        environment: &'static str,
        /// The minimum length.
        min: usize,
    },
    /// SSE-C sends the object's key with every request, so it needs an `https://` endpoint in
    /// every environment, `development` included.
    #[error("sse-c requires an https endpoint in every environment")]
    CustomerKeyRequiresHttps,
    /// A required setting is missing.
    #[error("missing setting `{setting}`")]
    Missing {
        /// The setting's name.
        setting: &'static str,
    },
    /// A setting has a value that cannot be used.
    #[error("setting `{setting}` is invalid: {reason}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong with it (never the value of a secret).
        reason: String,
    },
}

/// Why [`verify_file_encrypted`](crate::verify_file_encrypted) could not prove encryption.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerificationFailure {
    /// The HEAD of the object failed, so nothing was observed.
    #[error("head failed: {message}")]
    HeadFailed {
        /// The error's message.
        message: String,
    },
    /// The server said nothing about server-side encryption.
    #[error("server reported no server-side encryption, expected `{expected}`")]
    SseMissing {
        /// The algorithm that was requested.
        expected: String,
    },
    /// The server reported a different server-side encryption than requested.
    #[error("server reported server-side encryption `{observed}`, expected `{expected}`")]
    SseMismatch {
        /// The algorithm that was requested.
        expected: String,
        /// The value the server sent.
        observed: String,
    },
    /// SSE-KMS was applied with another KMS key than requested (or none was reported).
    #[error("server reported kms key `{observed}`, expected `{expected}`")]
    KmsKeyMismatch {
        /// The KMS key id requested.
        expected: String,
        /// The KMS key id the server reported (empty when none).
        observed: String,
    },
    /// SSE-C was reported with another key digest than the one sent.
    #[error("server reported a different sse-c key digest")]
    CustomerKeyMismatch,
    /// The stored bytes could not be read back for the client-side proof.
    #[error("reading the stored header failed: {message}")]
    ReadFailed {
        /// The error's message.
        message: String,
    },
    /// The stored bytes do not start with a valid ward stream header.
    #[error("stored bytes are not a ward stream")]
    NotWardCiphertext,
    /// The stored bytes carry a ward stream header, but their commitment or their first or last
    /// chunk does not authenticate under the data key for this object: not the ciphertext that
    /// was written here.
    #[error("stored ward stream does not authenticate under its data key for this object")]
    NotAuthentic,
    /// The ward stream header names another data key than expected.
    #[error("stored ward stream uses key id {observed}, expected {expected}")]
    KeyIdMismatch {
        /// The data key id expected.
        expected: DekId,
        /// The data key id found in the header.
        observed: DekId,
    },
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    /// One error of every variant, each with the fault it must have. The match has no wildcard,
    /// so a new variant does not compile until it is classified here too.
    #[test]
    fn every_variant_is_classified() {
        let failure = || VerificationFailure::HeadFailed {
            message: String::new(),
        };
        let examples = [
            Error::NotFound { key: String::new() },
            Error::InvalidKey { reason: "bad" },
            Error::RangeOutOfBounds {
                start: 0,
                end: 2,
                len: 1,
            },
            Error::NotSupported {
                store: "MemoryStore",
                operation: "presign",
            },
            Error::PresignExpiryTooLong {
                requested_secs: 3600,
                max_secs: 900,
            },
            Error::Config {
                rule: ConfigRule::CustomerKeyRequiresHttps,
            },
            Error::Unauthorized {
                store: "S3Store",
                message: String::new(),
            },
            Error::EncryptionVerification {
                key: String::new(),
                reason: failure(),
            },
            Error::EncryptionVerificationCleanup {
                key: String::new(),
                reason: failure(),
                delete_error: Box::new(Error::NotFound { key: String::new() }),
            },
            Error::BucketSetup {
                bucket: String::new(),
                step: "default encryption",
                detail: String::new(),
            },
            Error::Crypto(ward_crypto::Error::Decrypt),
            Error::Crypto(ward_crypto::Error::KeyDestroyed { key_id: DekId(1) }),
            Error::Io {
                store: "LocalStore",
                key: String::new(),
                source: std::io::Error::other("disk"),
            },
            Error::Generic {
                store: "S3Store",
                operation: "put",
                source: "timeout".into(),
            },
        ];
        for error in examples {
            let expected = match &error {
                Error::NotFound { .. } => Fault::NotFound,
                Error::InvalidKey { .. } | Error::RangeOutOfBounds { .. } => Fault::ClientInput,
                Error::NotSupported { .. }
                | Error::PresignExpiryTooLong { .. }
                | Error::Config { .. }
                | Error::Unauthorized { .. }
                | Error::EncryptionVerification { .. }
                | Error::EncryptionVerificationCleanup { .. }
                | Error::BucketSetup { .. }
                | Error::Io { .. } => Fault::Server,
                Error::Crypto(inner) => inner.fault(),
                Error::Generic { .. } => Fault::Unavailable,
            };
            assert_eq!(error.fault(), expected, "{error:?}");
        }
        assert_eq!(
            Error::Crypto(ward_crypto::Error::Decrypt).fault(),
            Fault::Server
        );
        assert_eq!(
            Error::Crypto(ward_crypto::Error::KeyDestroyed { key_id: DekId(1) }).fault(),
            Fault::NotFound
        );
    }
}
