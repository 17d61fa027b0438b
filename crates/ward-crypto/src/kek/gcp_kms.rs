//! Google Cloud KMS as a KEK provider (feature `gcp-kms`): DEKs are wrapped by Cloud KMS
//! `Encrypt` under a crypto key and unwrapped by `Decrypt`; the KEK never leaves Cloud KMS.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use google_cloud_gax::options::RequestOptionsBuilder as _;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt as _, TooManyRequests};
use google_cloud_kms_v1::client::KeyManagementService;
use zeroize::Zeroizing;

use crate::error::{Error, KeyRingError, Result};
use crate::format::wrapped::Header;
use crate::kek::{KeyEncryptionKey, KeyRing, WrappedDataKey};
use crate::keys::{DataKey, KekId, KeyMaterial};

const PROVIDER: &str = "gcp-kms";
/// How long one attempt of a call may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest key version name and ciphertext ward accepts in a wrapped key.
const MAX_PART: usize = 1024;

/// KEK versions held in Google Cloud KMS: each ring entry maps a ward KEK version to a crypto key
/// (`projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>`, purpose `ENCRYPT_DECRYPT`).
///
/// - **Binding.** The wrapped key's header (format version, KEK version, DEK id) followed by the
///   caller's context (the workspace) is Cloud KMS's *additional authenticated data*, so a
///   wrapped key relabelled or moved to another workspace fails to unwrap ([`Error::Decrypt`]).
/// - **Versions.** Cloud KMS encrypts under the key's primary version and decrypts under whichever
///   version encrypted; its own rotation needs nothing from ward. The version that encrypted
///   (`EncryptResponse.name`) is recorded in the wrapped key, and must belong to the configured
///   crypto key, at wrap and at unwrap.
/// - **Integrity.** Every request carries the CRC32C of what it sends and every answer's CRC32C is
///   checked, as Cloud KMS's documentation asks, so a corrupted request or answer is an error, never
///   a wrong key.
/// - **Retries.** Calls are marked idempotent (an encrypt repeated makes another valid
///   ciphertext), so `UNAVAILABLE` and `RESOURCE_EXHAUSTED` (HTTP 503, 429) are retried, up to five
///   attempts; each attempt may take 30 s.
/// - **Permissions.** `cloudkms.cryptoKeyVersions.useToEncrypt` and `useToDecrypt` on the keys
///   (the role *Cloud KMS CryptoKey Encrypter/Decrypter*); nothing else.
///
/// The request and response bodies carrying the DEK inside the client and its HTTP stack are
/// freed without being zeroized.
pub struct GcpKmsKek {
    client: KeyManagementService,
    ring: KeyRing<String>,
}

impl GcpKmsKek {
    /// The provider over a built client (its endpoint, credentials, retries and timeouts used as
    /// configured): refuses a ring entry that is not a crypto key name.
    pub fn connect(client: KeyManagementService, ring: KeyRing<String>) -> Result<Self> {
        for id in ring.ids() {
            let name = ring.get(id).map(String::as_str).unwrap_or_default();
            if name.trim().is_empty() {
                return Err(KeyRingError::EmptyKmsKeyId { kek_id: id }.into());
            }
            check_key_name(name)?;
        }
        Ok(Self { client, ring })
    }

    /// The provider on Cloud KMS's public endpoint (https) with Application Default Credentials
    /// (`GOOGLE_APPLICATION_CREDENTIALS`, the metadata server of GCE, GKE or Cloud Run), retrying
    /// throttling and unavailability, each attempt bounded to 30 s.
    ///
    /// The Cloud KMS client takes the process's default rustls provider; this installs ring as
    /// that provider when none is installed yet (ward uses ring everywhere).
    pub async fn from_env(ring: KeyRing<String>) -> Result<Self> {
        Self::build(ring, None).await
    }

    /// As [`from_env`](Self::from_env), on another endpoint: a regional endpoint
    /// (`https://cloudkms.europe-west3.rep.googleapis.com`, for data residency) or a Private
    /// Service Connect one. It must be `https://` unless `WARD_ENV` is `development`
    /// ([`Error::HttpsRequired`]); the client trusts the system's roots.
    pub async fn from_env_at(endpoint: &str, ring: KeyRing<String>) -> Result<Self> {
        Self::build(ring, Some(endpoint)).await
    }

    async fn build(ring: KeyRing<String>, endpoint: Option<&str>) -> Result<Self> {
        let environment = crate::env::from_env()?;
        crate::env::check_endpoints(environment, "cloud kms", [endpoint])?;
        install_ring();
        let builder = KeyManagementService::builder()
            .with_retry_policy(retry_policy())
            .with_attempt_timeout(ATTEMPT_TIMEOUT);
        let builder = match endpoint {
            Some(endpoint) => builder.with_endpoint(endpoint.trim()),
            None => builder,
        };
        let client = builder
            .build()
            .await
            .map_err(|e| provider(format!("building the client: {e}")))?;
        Self::connect(client, ring)
    }

    fn key(&self, id: KekId) -> Result<&str> {
        self.ring
            .get(id)
            .map(String::as_str)
            .ok_or(Error::UnknownKekId { kek_id: id })
    }
}

/// Installs ring as the process's default rustls provider unless one is installed already.
pub(crate) fn install_ring() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Retries of throttling and unavailability, five attempts in all.
pub(crate) fn retry_policy() -> impl google_cloud_gax::retry_policy::RetryPolicy {
    TooManyRequests::new(Aip194Strict).with_attempt_limit(5)
}

/// A crypto key's resource name: `projects/*/locations/*/keyRings/*/cryptoKeys/*`, each part
/// letters, digits, `-` and `_`.
fn check_key_name(name: &str) -> Result<()> {
    let parts: Vec<&str> = name.split('/').collect();
    let shape = [
        "projects",
        "",
        "locations",
        "",
        "keyRings",
        "",
        "cryptoKeys",
        "",
    ];
    let valid = parts.len() == shape.len()
        && parts.iter().zip(shape).all(|(part, fixed)| {
            if fixed.is_empty() {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
            } else {
                *part == fixed
            }
        });
    if valid {
        Ok(())
    } else {
        Err(provider(
            "a ring entry must name a crypto key: projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>"
                .to_owned(),
        ))
    }
}

/// The CRC32C (Castagnoli) Cloud KMS checks and reports.
fn crc32c(bytes: &[u8]) -> i64 {
    const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    i64::from(CASTAGNOLI.checksum(bytes))
}

/// `header ‖ context`: what a wrap authenticates.
fn aad(header: &[u8], context: &[u8]) -> Bytes {
    let mut aad = Vec::with_capacity(header.len() + context.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(context);
    Bytes::from(aad)
}

fn provider(message: String) -> Error {
    Error::Provider {
        provider: PROVIDER,
        message,
    }
}

fn client_error(what: &str, err: &google_cloud_kms_v1::Error) -> Error {
    match err.http_status_code() {
        Some(status) => provider(format!("{what}: Cloud KMS answered {status}: {err}")),
        None => provider(format!("{what}: {err}")),
    }
}

/// The version name belongs to the crypto key.
fn is_version_of(version: &str, key: &str) -> bool {
    version
        .strip_prefix(key)
        .and_then(|rest| rest.strip_prefix("/cryptoKeyVersions/"))
        .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait::async_trait]
impl KeyEncryptionKey for GcpKmsKek {
    fn active_id(&self) -> KekId {
        self.ring.active().0
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.ring.ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let (kek_id, key) = self.ring.active();
        let header = Header {
            kek_id,
            dek_id: dek.id(),
        };
        let aad = aad(&header.to_bytes(), context);
        let plaintext = dek.material().expose();
        let answer = self
            .client
            .encrypt()
            .set_name(key.as_str())
            // This copy belongs to the client from here on (see the type's docs).
            .set_plaintext(Bytes::copy_from_slice(plaintext))
            .set_plaintext_crc32c(crc32c(plaintext))
            .set_additional_authenticated_data_crc32c(crc32c(&aad))
            .set_additional_authenticated_data(aad)
            .with_idempotency(true)
            .send()
            .await
            .map_err(|e| client_error("Encrypt", &e))?;
        if !answer.verified_plaintext_crc32c
            || !answer.verified_additional_authenticated_data_crc32c
            || answer.ciphertext_crc32c != Some(crc32c(&answer.ciphertext))
        {
            return Err(provider(
                "Encrypt: the request or the answer was corrupted in transit (CRC32C)".to_owned(),
            ));
        }
        if !is_version_of(&answer.name, key) {
            return Err(provider(format!(
                "Encrypt: Cloud KMS answered for another key than kek {kek_id}"
            )));
        }
        if answer.name.len() > MAX_PART
            || answer.ciphertext.is_empty()
            || answer.ciphertext.len() > MAX_PART
        {
            return Err(provider(
                "Encrypt: the answer is not a usable ciphertext".to_owned(),
            ));
        }
        let version = answer.name.as_bytes();
        let mut body = Vec::with_capacity(2 + version.len() + answer.ciphertext.len());
        body.extend_from_slice(
            &u16::try_from(version.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        body.extend_from_slice(version);
        body.extend_from_slice(&answer.ciphertext);
        tracing::debug!(
            kek_id = %kek_id,
            dek_id = %dek.id(),
            key_version = %answer.name,
            "wrapped data key with Cloud KMS"
        );
        Ok(WrappedDataKey::from_parts(header, &body))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kek_id = wrapped.kek_id();
        let key = self.key(kek_id)?;
        let malformed = || Error::Malformed {
            format: "wrapped data key",
            reason: "a Cloud KMS body must be a length, the key version and the ciphertext",
        };
        let (len, rest) = wrapped
            .body()
            .split_first_chunk::<2>()
            .ok_or_else(malformed)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || len > MAX_PART || rest.len() <= len || rest.len() - len > MAX_PART {
            return Err(malformed());
        }
        let (version, ciphertext) = rest.split_at(len);
        // The recorded version must be one of this crypto key's.
        if !std::str::from_utf8(version).is_ok_and(|v| is_version_of(v, key)) {
            return Err(Error::Decrypt);
        }
        let aad = aad(wrapped.header_bytes(), context);
        let answer = self
            .client
            .decrypt()
            .set_name(key)
            .set_ciphertext(Bytes::copy_from_slice(ciphertext))
            .set_ciphertext_crc32c(crc32c(ciphertext))
            .set_additional_authenticated_data_crc32c(crc32c(&aad))
            .set_additional_authenticated_data(aad)
            .with_idempotency(true)
            .send()
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            // Wrong context, modified ciphertext: one detail-free variant, as locally.
            Err(e) if e.http_status_code() == Some(400) => return Err(Error::Decrypt),
            Err(e) => return Err(client_error("Decrypt", &e)),
        };
        let plaintext = Zeroizing::new(answer.plaintext.to_vec());
        if answer.plaintext_crc32c != Some(crc32c(&plaintext)) {
            return Err(provider(
                "Decrypt: the answer was corrupted in transit (CRC32C)".to_owned(),
            ));
        }
        Ok(DataKey::new(
            wrapped.dek_id(),
            KeyMaterial::from_bytes(&plaintext)?,
        ))
    }
}

impl fmt::Debug for GcpKmsKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcpKmsKek")
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        // The check value of CRC-32C (RFC 3720, appendix B.4).
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn only_crypto_key_names_and_their_versions_are_accepted() {
        let key = "projects/clinic-prod/locations/europe-west1/keyRings/ward/cryptoKeys/kek";
        assert!(check_key_name(key).is_ok());
        for bad in [
            "",
            "projects/p/locations/l/keyRings/r",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
            "projects/p/locations/l/keyRings/r/cryptoKeys/../k",
            "projects//locations/l/keyRings/r/cryptoKeys/k",
            "projects/p/locations/l/keyRings/r/cryptoKeys/k?x",
        ] {
            assert!(check_key_name(bad).is_err(), "{bad}");
        }
        assert!(is_version_of(&format!("{key}/cryptoKeyVersions/3"), key));
        for bad in [
            format!("{key}/cryptoKeyVersions/"),
            format!("{key}/cryptoKeyVersions/3a"),
            format!("{key}2/cryptoKeyVersions/3"),
            key.to_owned(),
        ] {
            assert!(!is_version_of(&bad, key), "{bad}");
        }
    }
}
