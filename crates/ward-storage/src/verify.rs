//! `verify_file_encrypted`: proves a stored object is encrypted, from what the server said or
//! from the stored bytes, and deletes the object when it cannot.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ward_crypto::stream::{self as wstream, MAX_HEADER_LEN, StreamHeader};
use ward_crypto::{DataKey, DekId};

use crate::encrypted::stream_context;
use crate::error::{Error, Result, VerificationFailure};
use crate::key::ObjectKey;
use crate::sse::{ObservedSse, SSE_C_ALGORITHM, SsePolicy, customer_key_md5};
use crate::store::{DeleteOptions, ObjectMeta, ObjectStore, ObjectStoreExt as _};

/// What must be proven about a stored object. Which one applies is configuration, never guessed
/// from an endpoint's name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum EncryptionExpectation {
    /// The server must report exactly the server-side encryption that was requested.
    ServerSide(SsePolicy),
    /// The stored bytes must be a ward stream written for this object under this data key: the
    /// header names the key, its commitment matches the key, and the first and last chunks
    /// authenticate with the object key as context. For backends without server-side encryption
    /// (local, or an S3 server without it).
    ClientSide {
        /// The data key the object was encrypted with.
        dek: Arc<DataKey>,
    },
}

/// Which proof [`EncryptionEvidence`] rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Proof {
    /// A HEAD of the object reported the requested server-side encryption.
    ServerSide,
    /// The stored bytes were read back: a ward stream header for the expected key, whose
    /// commitment and first and last chunks authenticate under that key for this object.
    ClientSide,
}

/// What was observed when an object's encryption was verified; stored with the attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EncryptionEvidence {
    /// Which proof was used.
    pub proof: Proof,
    /// The encryption proven: `sse-s3`, `sse-kms`, `sse-c` or `ward-stream-v{version}`.
    pub algorithm: String,
    /// The server-side encryption value exactly as the server sent it (for SSE-C, the customer
    /// algorithm), or `None` when it sent none.
    pub observed_sse: Option<String>,
    /// The KMS key id exactly as the server reported it.
    pub kms_key_id: Option<String>,
    /// For the client-side proof, the ward data key id found in the header. Serialized as its
    /// plain number (`"ward_key_id":3`), as before it had its own type.
    pub ward_key_id: Option<DekId>,
    /// The object's entity tag.
    pub etag: Option<String>,
    /// The stored size in bytes.
    pub size: u64,
    /// When the check ran.
    #[serde(with = "time::serde::rfc3339")]
    pub verified_at: OffsetDateTime,
}

/// Proves that the object at `key` in `store` is encrypted as `expectation` says, by a HEAD of
/// that exact object (server-side) or by reading its first bytes (client-side).
///
/// Pass the store that holds the ciphertext (the backend, not an `EncryptedStore` over it).
///
/// Fail-closed: when the proof is missing or different, the object is **deleted** and
/// [`Error::EncryptionVerification`] names the reason. On a versioned S3 bucket the delete
/// removes the object's current version (the one just checked, found by its version id), not
/// only its name: no version of the unverified bytes stays readable. A store that cannot tell
/// (no version id known and the server kept the bytes under a delete marker) fails the delete. If the delete fails too,
/// [`Error::EncryptionVerificationCleanup`] carries both, and an alert-level event is logged
/// (`alert = true`, the key and both reasons; never object bytes).
///
/// ```
/// use ward_crypto::{DataKey, DekId};
/// use ward_storage::{
///     EncryptionExpectation, Error, FileKind, MemoryStore, ObjectKey, ObjectStore, ObjectStoreExt, Owner,
///     Proof, VerificationFailure, verify_file_encrypted,
/// };
/// # use uuid::Uuid;
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// let store = MemoryStore::new();
/// let key = ObjectKey::new(Uuid::new_v4(), Owner::Client(Uuid::new_v4()), Uuid::new_v4(), FileKind::Pdf);
/// let dek = std::sync::Arc::new(DataKey::generate(DekId(7))?);
/// // Ward ciphertext is bound to its object key.
/// let sealed = ward_crypto::stream::encrypt_to_vec(&dek, b"%PDF-1.7", key.as_str().as_bytes())?;
/// store.put(&key, sealed.into()).await?;
///
/// let expect = EncryptionExpectation::ClientSide { dek };
/// let evidence = verify_file_encrypted(&store, &key, &expect).await?;
/// assert_eq!(evidence.proof, Proof::ClientSide);
///
/// // Plaintext is refused and removed.
/// store.put(&key, "%PDF-1.7 plaintext".into()).await?;
/// let err = verify_file_encrypted(&store, &key, &expect).await.unwrap_err();
/// assert!(matches!(err, Error::EncryptionVerification { reason: VerificationFailure::NotWardCiphertext, .. }));
/// assert!(store.head(&key).await.unwrap_err().is_not_found());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn verify_file_encrypted(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    expectation: &EncryptionExpectation,
) -> Result<EncryptionEvidence> {
    // The version the check looked at, so the fail-closed delete removes exactly that one.
    let mut seen_version = None;
    let checked = match store.head(key).await {
        Err(e) => Err(VerificationFailure::HeadFailed {
            message: e.to_string(),
        }),
        Ok(meta) => {
            seen_version.clone_from(&meta.version);
            match expectation {
                EncryptionExpectation::ServerSide(policy) => check_server_side(key, &meta, policy),
                EncryptionExpectation::ClientSide { dek } => {
                    check_client_side(store, key, &meta, dek).await
                }
            }
        }
    };
    match checked {
        Ok(evidence) => {
            tracing::info!(key = %key, proof = ?evidence.proof, size = evidence.size, "encryption verified");
            Ok(evidence)
        }
        Err(reason) => Err(fail_closed(store, key, seen_version, reason).await),
    }
}

/// Deletes the object after a failed check (exactly `version` when the check saw one) and builds
/// the error.
async fn fail_closed(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    version: Option<String>,
    reason: VerificationFailure,
) -> Error {
    match store
        .delete_opts(key, DeleteOptions::new().with_version(version))
        .await
    {
        Ok(()) => {
            tracing::warn!(key = %key, %reason, "encryption not verified; object deleted");
            Error::EncryptionVerification {
                key: key.to_string(),
                reason,
            }
        }
        Err(delete_error) => {
            tracing::error!(
                alert = true,
                key = %key,
                %reason,
                delete_error = %delete_error,
                "encryption not verified and the object could not be deleted"
            );
            Error::EncryptionVerificationCleanup {
                key: key.to_string(),
                reason,
                delete_error: Box::new(delete_error),
            }
        }
    }
}

fn evidence(meta: &ObjectMeta, proof: Proof, algorithm: String) -> EncryptionEvidence {
    EncryptionEvidence {
        proof,
        algorithm,
        observed_sse: None,
        kms_key_id: meta.sse.kms_key_id.clone(),
        ward_key_id: None,
        etag: meta.etag.clone(),
        size: meta.size,
        verified_at: OffsetDateTime::now_utc(),
    }
}

/// Whether a reported KMS key names the requested one: equal, or an ARN ending in
/// `/{requested}` (servers report the full ARN for a bare key id).
fn same_kms_key(requested: &str, observed: &str) -> bool {
    observed == requested
        || observed.ends_with(&format!("/{requested}"))
        || requested.ends_with(&format!("/{observed}"))
}

fn check_server_side(
    key: &ObjectKey,
    meta: &ObjectMeta,
    policy: &SsePolicy,
) -> Result<EncryptionEvidence, VerificationFailure> {
    let ObservedSse {
        algorithm,
        kms_key_id,
        customer_algorithm,
        customer_key_md5: observed_md5,
    } = &meta.sse;
    let expected = policy.expected_algorithm().to_owned();
    let observed = match policy {
        SsePolicy::CustomerKey(_) => customer_algorithm,
        _ => algorithm,
    };
    let Some(observed) = observed else {
        return Err(VerificationFailure::SseMissing { expected });
    };
    if *observed != expected {
        return Err(VerificationFailure::SseMismatch {
            expected,
            observed: observed.clone(),
        });
    }
    match policy {
        SsePolicy::Kms { key_id } => {
            let reported = kms_key_id.clone().unwrap_or_default();
            if !same_kms_key(key_id, &reported) {
                return Err(VerificationFailure::KmsKeyMismatch {
                    expected: key_id.clone(),
                    observed: reported,
                });
            }
        }
        SsePolicy::CustomerKey(master) => {
            debug_assert_eq!(SSE_C_ALGORITHM, expected);
            let wanted = customer_key_md5(&master.object_key_base64(key));
            if observed_md5.as_deref() != Some(wanted.as_str()) {
                return Err(VerificationFailure::CustomerKeyMismatch);
            }
        }
        _ => {}
    }
    let mut ev = evidence(meta, Proof::ServerSide, policy.name().to_owned());
    ev.observed_sse = Some(observed.clone());
    Ok(ev)
}

async fn check_client_side(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    meta: &ObjectMeta,
    dek: &DataKey,
) -> Result<EncryptionEvidence, VerificationFailure> {
    let want = meta.size.min(MAX_HEADER_LEN as u64);
    let head = read_back(store, key, 0..want).await?;
    let header = StreamHeader::parse(&head).map_err(|_| VerificationFailure::NotWardCiphertext)?;
    // The stored length must be one a writer produces for this header (not truncated/extended).
    let len = header
        .plaintext_len(meta.size)
        .map_err(|_| VerificationFailure::NotWardCiphertext)?;
    if header.key_id() != dek.id() {
        return Err(VerificationFailure::KeyIdMismatch {
            expected: dek.id(),
            observed: header.key_id(),
        });
    }
    // A plausible header is not yet ciphertext: open the first and the last chunk (their tags,
    // after the commitment) with the key and this object's context. The plaintext is dropped
    // (zeroized) at once; only whether it authenticated is kept.
    let mut ranges = Vec::with_capacity(2);
    ranges.push(0..len.min(1));
    if len > u64::from(header.chunk_size()) {
        ranges.push(len - 1..len);
    }
    for range in ranges {
        let plan = header
            .plan_range(range, meta.size)
            .map_err(|_| VerificationFailure::NotWardCiphertext)?;
        let fetched = read_back(store, key, plan.ciphertext_range()).await?;
        wstream::decrypt_range(dek, &header, &plan, &fetched, stream_context(key))
            .map_err(|_| VerificationFailure::NotAuthentic)?;
    }
    let mut ev = evidence(
        meta,
        Proof::ClientSide,
        format!("ward-stream-v{}", header.version()),
    );
    ev.observed_sse = meta.sse.algorithm.clone();
    ev.ward_key_id = Some(header.key_id());
    Ok(ev)
}

/// Reads stored bytes back for the client-side proof.
async fn read_back(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    range: Range<u64>,
) -> Result<bytes::Bytes, VerificationFailure> {
    store
        .get_range(key, range)
        .await
        .map_err(|e| VerificationFailure::ReadFailed {
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::FileKind;
    use crate::memory::MemoryStore;
    use ward_crypto::DataKey;

    fn key() -> ObjectKey {
        crate::conformance::fresh_key(FileKind::Jpeg)
    }

    /// Stored evidence keeps its JSON shape: the data key id is a plain number, so rows written
    /// when the field was a `u32` still read, and new rows read the same way.
    #[test]
    fn evidence_json_shape_is_stable() {
        let ev = EncryptionEvidence {
            proof: Proof::ClientSide,
            algorithm: "ward-stream-v2".into(),
            observed_sse: None,
            kms_key_id: None,
            ward_key_id: Some(DekId(3)),
            etag: Some("\"e\"".into()),
            size: 77,
            verified_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        };
        let stored = r#"{"proof":"client_side","algorithm":"ward-stream-v2","observed_sse":null,"kms_key_id":null,"ward_key_id":3,"etag":"\"e\"","size":77,"verified_at":"2023-11-14T22:13:20Z"}"#;
        assert_eq!(serde_json::to_string(&ev).unwrap(), stored);
        let read: EncryptionEvidence = serde_json::from_str(stored).unwrap();
        assert_eq!(read, ev);
        let none = stored.replace("\"ward_key_id\":3", "\"ward_key_id\":null");
        let read: EncryptionEvidence = serde_json::from_str(&none).unwrap();
        assert_eq!(read.ward_key_id, None);
    }

    #[test]
    fn kms_keys_match_by_id_or_arn_only() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd";
        assert!(same_kms_key("1234abcd", arn));
        assert!(same_kms_key(arn, arn));
        assert!(!same_kms_key("1234abc", arn));
        assert!(!same_kms_key("other", arn));
        assert!(!same_kms_key("1234abcd", ""));
    }

    #[test]
    fn server_side_check_wants_the_exact_value() {
        let k = key();
        let mut meta = ObjectMeta::new(k.clone(), 10);
        let policy = SsePolicy::S3Managed;
        assert!(matches!(
            check_server_side(&k, &meta, &policy),
            Err(VerificationFailure::SseMissing { .. })
        ));
        meta.sse.algorithm = Some("aes256".into());
        assert!(matches!(
            check_server_side(&k, &meta, &policy),
            Err(VerificationFailure::SseMismatch { .. })
        ));
        meta.sse.algorithm = Some("AES256".into());
        let ev = check_server_side(&k, &meta, &policy).unwrap();
        assert_eq!(ev.observed_sse.as_deref(), Some("AES256"));
        assert_eq!(ev.algorithm, "sse-s3");

        let kms = SsePolicy::Kms {
            key_id: "abc".into(),
        };
        assert!(matches!(
            check_server_side(&k, &meta, &kms),
            Err(VerificationFailure::SseMismatch { .. })
        ));
        meta.sse.algorithm = Some("aws:kms".into());
        assert!(matches!(
            check_server_side(&k, &meta, &kms),
            Err(VerificationFailure::KmsKeyMismatch { .. })
        ));
        meta.sse.kms_key_id = Some("arn:aws:kms:eu-west-1:1:key/abc".into());
        assert!(check_server_side(&k, &meta, &kms).is_ok());
    }

    #[test]
    fn sse_c_check_wants_the_algorithm_and_this_objects_key_digest() {
        let k = key();
        let master = crate::sse::SseCustomerKey::generate().unwrap();
        let policy = SsePolicy::CustomerKey(master.clone());
        let mut meta = ObjectMeta::new(k.clone(), 10);
        // SSE-S3 reported instead of SSE-C is not SSE-C.
        meta.sse.algorithm = Some("AES256".into());
        assert!(matches!(
            check_server_side(&k, &meta, &policy),
            Err(VerificationFailure::SseMissing { .. })
        ));
        meta.sse.customer_algorithm = Some("AES256".into());
        meta.sse.customer_key_md5 = Some(customer_key_md5(&master.object_key_base64(&key())));
        assert_eq!(
            check_server_side(&k, &meta, &policy),
            Err(VerificationFailure::CustomerKeyMismatch)
        );
        meta.sse.customer_key_md5 = Some(customer_key_md5(&master.object_key_base64(&k)));
        let ev = check_server_side(&k, &meta, &policy).unwrap();
        assert_eq!(ev.algorithm, "sse-c");
        assert_eq!(ev.observed_sse.as_deref(), Some("AES256"));
    }

    #[tokio::test]
    async fn client_side_check_refuses_other_keys_and_cut_headers_and_deletes() {
        let store = MemoryStore::new();
        let k = key();
        let dek = Arc::new(DataKey::generate(DekId(3)).unwrap());
        let ct =
            ward_crypto::stream::encrypt_to_vec(&dek, &[5u8; 100_000], stream_context(&k)).unwrap();
        let expect = |dek: &Arc<DataKey>| EncryptionExpectation::ClientSide {
            dek: Arc::clone(dek),
        };

        store.put(&k, ct.clone().into()).await.unwrap();
        let other = Arc::new(DataKey::generate(DekId(4)).unwrap());
        let err = verify_file_encrypted(&store, &k, &expect(&other))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::EncryptionVerification {
                reason: VerificationFailure::KeyIdMismatch {
                    expected: DekId(4),
                    observed: DekId(3)
                },
                ..
            }
        ));
        assert!(store.head(&k).await.unwrap_err().is_not_found());

        store.put(&k, ct[..50].to_vec().into()).await.unwrap();
        let err = verify_file_encrypted(&store, &k, &expect(&dek))
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::EncryptionVerification {
                reason: VerificationFailure::NotWardCiphertext,
                ..
            }
        ));

        store.put(&k, ct.into()).await.unwrap();
        let ev = verify_file_encrypted(&store, &k, &expect(&dek))
            .await
            .unwrap();
        assert_eq!(ev.ward_key_id, Some(DekId(3)));
        assert_eq!(ev.algorithm, "ward-stream-v2");
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains("\"proof\":\"client_side\""), "{json}");
    }

    /// A valid header followed by plaintext of the right length (L5), a twin key with the same
    /// id, a damaged last chunk, or a ciphertext written for another object are not proof.
    #[tokio::test]
    async fn client_side_check_opens_the_first_and_last_chunks() {
        let store = MemoryStore::new();
        let k = key();
        let dek = Arc::new(DataKey::generate(DekId(3)).unwrap());
        let expect = EncryptionExpectation::ClientSide {
            dek: Arc::clone(&dek),
        };
        let plaintext = vec![b'P'; 200_000];
        let ct = ward_crypto::stream::encrypt_to_vec(&dek, &plaintext, stream_context(&k)).unwrap();
        let header_len = StreamHeader::parse(&ct).unwrap().encoded_len();

        // Header ‖ plaintext where the chunks should be: the right length, but no ciphertext.
        let mut fake = ct[..header_len].to_vec();
        for piece in plaintext.chunks(64 * 1024) {
            fake.extend_from_slice(piece);
            fake.extend_from_slice(&[0u8; 16]);
        }
        assert_eq!(fake.len(), ct.len());
        let twin = DataKey::new(DekId(3), ward_crypto::KeyMaterial::generate().unwrap());
        let twin_ct =
            ward_crypto::stream::encrypt_to_vec(&twin, &plaintext, stream_context(&k)).unwrap();
        let mut damaged_end = ct.clone();
        let last = damaged_end.len() - 1;
        damaged_end[last] ^= 1;
        let elsewhere = ward_crypto::stream::encrypt_to_vec(
            &dek,
            &plaintext,
            stream_context(&crate::conformance::fresh_key(FileKind::Jpeg)),
        )
        .unwrap();
        for (what, bytes) in [
            ("plaintext", fake),
            ("twin key", twin_ct),
            ("damaged end", damaged_end),
            ("other object", elsewhere),
        ] {
            store.put(&k, bytes.into()).await.unwrap();
            let err = verify_file_encrypted(&store, &k, &expect)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::EncryptionVerification {
                        reason: VerificationFailure::NotAuthentic,
                        ..
                    }
                ),
                "{what}: {err:?}"
            );
            assert!(store.head(&k).await.unwrap_err().is_not_found(), "{what}");
        }
        for len in [0usize, 1, 64 * 1024, 64 * 1024 + 1] {
            let ct =
                ward_crypto::stream::encrypt_to_vec(&dek, &plaintext[..len], stream_context(&k))
                    .unwrap();
            store.put(&k, ct.into()).await.unwrap();
            verify_file_encrypted(&store, &k, &expect).await.unwrap();
        }
    }
}
