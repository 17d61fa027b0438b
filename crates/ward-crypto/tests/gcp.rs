//! The Google Cloud KMS provider against ward-imitations' Cloud KMS: a plain-HTTP server on
//! loopback that speaks the part of Cloud KMS's documented REST API (v1) ward calls through the
//! official client (encrypt and decrypt with additional authenticated data and CRC32C fields,
//! Cloud KMS's errors). Cloud KMS cannot run on the machines these tests run on; the imitation's
//! behaviour beyond these calls is not claimed.

use std::sync::Arc;
use std::time::Duration;

use google_cloud_gax::retry_policy::RetryPolicyExt as _;
use ward_crypto::google_cloud_kms_v1::client::KeyManagementService;
use ward_crypto::{
    DataKey, DekId, Error, GcpKmsKek, KekId, KeyEncryptionKey, KeyRing, KeyRingEntry,
    WrappedDataKey,
};
use ward_imitations::gcp::{Kms as State, TOKEN, key_name};

type Kms = ward_imitations::Imitation<State>;

/// A credential that sends one fixed token (the real ones are Application Default Credentials).
#[derive(Debug)]
struct StaticToken;

impl google_cloud_auth::credentials::CredentialsProvider for StaticToken {
    async fn headers(
        &self,
        _: http::Extensions,
    ) -> Result<
        google_cloud_auth::credentials::CacheableResource<http::HeaderMap>,
        google_cloud_auth::errors::CredentialsError,
    > {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {TOKEN}")).unwrap(),
        );
        Ok(google_cloud_auth::credentials::CacheableResource::New {
            entity_tag: google_cloud_auth::credentials::EntityTag::new(),
            data: headers,
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}

async fn client(kms: &Kms, attempt_timeout: Option<Duration>) -> KeyManagementService {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = KeyManagementService::builder()
        .with_endpoint(kms.address())
        .with_credentials(google_cloud_auth::credentials::Credentials::from(
            StaticToken,
        ))
        .with_retry_policy(
            google_cloud_gax::retry_policy::TooManyRequests::new(
                google_cloud_gax::retry_policy::Aip194Strict,
            )
            .with_attempt_limit(5),
        )
        .with_backoff_policy(
            google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
                .with_initial_delay(Duration::from_millis(10))
                .with_maximum_delay(Duration::from_millis(50))
                .build()
                .unwrap(),
        );
    let builder = match attempt_timeout {
        Some(t) => builder.with_attempt_timeout(t),
        None => builder,
    };
    builder.build().await.unwrap()
}

/// A provider over crypto keys for KEK versions `ids`, `active` among them.
async fn provider(kms: &Kms, ids: &[u32], active: u32) -> GcpKmsKek {
    let ring = KeyRing::new(ids.iter().map(|&id| KeyRingEntry {
        id: KekId(id),
        key: kms.hold(id),
        active: id == active,
    }))
    .unwrap();
    GcpKmsKek::connect(client(kms, None).await, ring).unwrap()
}

struct Fixture {
    kms: Kms,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        Arc::new(provider(&self.kms, ids, active).await)
    }
}

#[tokio::test]
async fn gcp_kms_passes_the_provider_suite() {
    let kms = ward_imitations::gcp::start().await;
    crate::conformance::run(&Fixture { kms: kms.clone() }).await;
    let seen = kms.seen();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
        assert!(
            request.body["additionalAuthenticatedDataCrc32c"].is_string(),
            "{request:?}"
        );
    }
    assert!(
        seen.iter()
            .any(|r| r.path.ends_with(":encrypt") && r.body["plaintextCrc32c"].is_string())
    );
    assert!(
        seen.iter()
            .any(|r| r.path.ends_with(":decrypt") && r.body["ciphertextCrc32c"].is_string())
    );
}

#[tokio::test]
async fn the_version_that_encrypted_is_recorded_and_a_rotation_in_kms_needs_nothing() {
    let kms = ward_imitations::gcp::start().await;
    let kek = provider(&kms, &[1], 1).await;
    let dek = DataKey::generate(DekId(3)).unwrap();
    let first = kek.wrap(&dek, b"ws").await.unwrap();
    let recorded = format!("{}/cryptoKeyVersions/1", key_name(1));
    assert!(contains(first.as_bytes(), recorded.as_bytes()));

    // Cloud KMS rotates the key: a new primary version.
    kms.rotate(1);
    let second = kek.wrap(&dek, b"ws").await.unwrap();
    let recorded = format!("{}/cryptoKeyVersions/2", key_name(1));
    assert!(contains(second.as_bytes(), recorded.as_bytes()));
    assert_eq!(second.kek_id(), KekId(1));
    for wrapped in [&first, &second] {
        assert_eq!(kek.unwrap(wrapped, b"ws").await.unwrap().id(), DekId(3));
    }

    // A recorded version of another crypto key is refused before Cloud KMS is asked.
    let mut bytes = first.as_bytes().to_vec();
    // After the 9-byte header and the 2-byte length comes the recorded version.
    let at = 9 + 2;
    let other = key_name(2).into_bytes();
    bytes[at..at + other.len()].copy_from_slice(&other);
    let before = kms.seen().len();
    assert!(matches!(
        kek.unwrap(&WrappedDataKey::from_bytes(bytes).unwrap(), b"ws")
            .await,
        Err(Error::Decrypt)
    ));
    assert_eq!(kms.seen().len(), before);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn corrupted_answers_are_errors_never_keys() {
    let kms = ward_imitations::gcp::start().await;
    let kek = provider(&kms, &[1], 1).await;
    let dek = DataKey::generate(DekId(4)).unwrap();
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();
    kms.with(|s| s.corrupt = true);
    for result in [
        kek.wrap(&dek, b"ws").await.map(|_| ()),
        kek.unwrap(&wrapped, b"ws").await.map(|_| ()),
    ] {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("CRC32C"), "{err}");
    }
}

#[tokio::test]
async fn throttling_errors_and_timeouts_are_retried_or_typed() {
    let kms = ward_imitations::gcp::start().await;
    let kek = provider(&kms, &[1], 1).await;
    let ring = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: key_name(1),
        active: true,
    }])
    .unwrap();
    let impatient =
        GcpKmsKek::connect(client(&kms, Some(Duration::from_millis(200))).await, ring).unwrap();
    crate::resilience::resilience(
        &kms,
        &kek,
        &impatient,
        "gcp-kms",
        "500",
        "request deadline",
        &[TOKEN],
    )
    .await;
}

#[tokio::test]
async fn ring_entries_that_are_not_crypto_keys_are_refused() {
    let kms = ward_imitations::gcp::start().await;
    let ring = |name: &str| {
        KeyRing::new([KeyRingEntry {
            id: KekId(1),
            key: name.to_owned(),
            active: true,
        }])
        .unwrap()
    };
    let client = client(&kms, None).await;
    for bad in [
        "",
        "alias/ward",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
    ] {
        assert!(
            GcpKmsKek::connect(client.clone(), ring(bad)).is_err(),
            "{bad}"
        );
    }
    let kek = GcpKmsKek::connect(client, ring(&key_name(1))).unwrap();
    assert!(format!("{kek:?}").starts_with("GcpKmsKek {"));
}

#[tokio::test]
async fn an_http_endpoint_is_refused_outside_development() {
    let ring = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: key_name(1),
        active: true,
    }])
    .unwrap();
    // WARD_ENV is unset in tests: production, where http is refused.
    let err = GcpKmsKek::from_env_at("http://127.0.0.1:9", ring)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::HttpsRequired {
                service: "cloud kms",
                ..
            }
        ),
        "{err:?}"
    );
}
