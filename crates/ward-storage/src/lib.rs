//! Object storage for protected health information, where every stored byte is ward ciphertext
//! and every claim about encryption is something a server was seen to say.
//!
//! # What it deliberately does not do
//!
//! - It never guesses from an endpoint's name whether a server encrypts: whether server-side
//!   evidence is required is configuration ([`EncryptionExpectation`]).
//! - It never records an encryption value the server did not send ([`ObservedSse`] holds headers
//!   exactly as received, `None` when absent).
//! - It never lets user text into an object key ([`ObjectKey`] is built from ids only).
//! - It never logs object bytes, key material or credentials: logs carry keys (ids), sizes and
//!   outcomes.
//!
//! # Map
//!
//! - [`ObjectStore`], the trait (put, streamed put, get with ranges, head, delete, paginated
//!   list), and [`ObjectStoreExt`] for the convenience calls. Presigning is a separate
//!   [`Presign`] trait that only the S3 backend implements.
//! - Backends: [`MemoryStore`], [`LocalStore`] (atomic, durable file writes), and with the `s3`
//!   feature [`S3Store`] built by [`S3StoreBuilder`].
//! - [`EncryptedStore`]: ward stream encryption on put, decryption on get (ranges fetch only the
//!   covering chunks), over any store, with keys per workspace from a [`WorkspaceKeys`] (one key
//!   source for every workspace only by name, [`SharedAcrossWorkspaces`]). Each object's
//!   ciphertext is bound to its object key. [`EncryptedStore::put_sealed`] returns the key id used
//!   and, with a [`RequiredProof`], the evidence.
//! - [`SsePolicy`]: the server-side encryption sent on every S3 put.
//! - [`verify_file_encrypted`] → [`EncryptionEvidence`], deleting the object when it fails.
//! - With `s3`: [`bootstrap::ensure_bucket`] (idempotent bucket set-up) and
//!   [`S3Store::verify_bucket_exists`] (start-up readiness); [`Presign`] for short-lived URLs.
//!
//! # Features
//!
//! - `s3` (default): the S3 backend (aws-sdk-s3) and bucket bootstrap.
//! - `testing`: exposes the [`conformance`] suite, for stores written elsewhere.
//!
//! # Example
//!
//! ```
//! use ward_crypto::{DataKey, InMemoryKeySource, DekId};
//! use ward_storage::{
//!     EncryptedStore, FileKind, MemoryStore, ObjectKey, ObjectStoreExt, Owner, PutOptions,
//!     RequiredProof, SharedAcrossWorkspaces,
//! };
//! # use uuid::Uuid;
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! // One tenant here; a multi-tenant service implements `WorkspaceKeys` over its key table.
//! let keys = SharedAcrossWorkspaces(InMemoryKeySource::with_active(DataKey::generate(DekId(1))?));
//! let backend = MemoryStore::new();
//! // This backend has no SSE: prove each object from its stored bytes.
//! let store = EncryptedStore::new(backend.clone(), keys).with_proof(RequiredProof::ClientSide);
//!
//! let key = ObjectKey::new(Uuid::new_v4(), Owner::Session(Uuid::new_v4()), Uuid::new_v4(), FileKind::Pdf);
//! let body: &'static [u8] = b"%PDF-1.7 consent form";
//! let sealed = store.put_sealed(&key, Box::pin(body), PutOptions::new()).await?;
//! assert_eq!(sealed.key_id, DekId(1));
//! assert_eq!(sealed.evidence.map(|e| e.algorithm).as_deref(), Some("ward-stream-v2"));
//! assert_eq!(store.get(&key).await?.bytes().await?, "%PDF-1.7 consent form");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod encrypted;
mod error;
mod key;
mod local;
mod memory;
#[cfg(feature = "s3")]
pub mod s3;
mod sse;
mod store;
mod verify;

pub use encrypted::{
    EncryptedStore, RequiredProof, SealedPut, SharedAcrossWorkspaces, WorkspaceKeys,
};
pub use error::{BoxError, ConfigRule, Error, Result, VerificationFailure};
pub use key::{BackupPart, FileKind, KeyPrefix, KeyScope, ObjectKey, Owner, WorkspaceId};
pub use local::LocalStore;
pub use memory::MemoryStore;
#[cfg(feature = "s3")]
pub use s3::{S3Store, S3StoreBuilder, bootstrap};
pub use sse::{
    ObservedSse, SSE_C_ALGORITHM, SSE_KMS_ALGORITHM, SSE_S3_ALGORITHM, SseCustomerKey, SsePolicy,
};
pub use store::{
    BoxReader, DeleteOptions, GetOptions, GetResult, ListOptions, MAX_PRESIGN_EXPIRY, ObjectMeta,
    ObjectStore, ObjectStoreExt, Presign, PresignMethod, PresignOptions, PresignedRequest,
    PutOptions, PutResult,
};
pub use verify::{EncryptionEvidence, EncryptionExpectation, Proof, verify_file_encrypted};

pub use bytes;
pub use uuid;
pub use ward_crypto;
pub use ward_types;
pub use ward_types::{Environment, Fault};
