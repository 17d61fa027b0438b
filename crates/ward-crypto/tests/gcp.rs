//! The Google Cloud KMS provider against an in-test HTTP server.
//!
//! Cloud KMS cannot run on the machines these tests run on, so this module stands one up: a
//! server on loopback that speaks the part of Cloud KMS's documented REST API (v1) ward calls
//! through the official client: `POST /v1/<crypto key>:encrypt` and `:decrypt`, camelCase JSON
//! with base64 bytes and int64 CRC32C values as strings, `name` answered with the key version
//! used, errors as `{"error": {"code", "message", "status"}}`, and a bearer token checked on every
//! request. Its ciphertext is the version number then AES-256-GCM under that version's key with
//! the request's additional authenticated data, opaque to the client as a real one is. It speaks
//! plain HTTP: the official client trusts only the system's roots, so a test CA cannot be given
//! to it. It is an imitation, said so here: the real service's behaviour beyond these calls is not
//! claimed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use ward_crypto::google_cloud_kms_v1::client::KeyManagementService;
use ward_crypto::{
    DataKey, DekId, Error, GcpKmsKek, KekId, KeyEncryptionKey, KeyRing, KeyRingEntry,
    WrappedDataKey,
};

const TOKEN: &str = "ya29.gcp-test-token";

/// The crypto key standing for KEK version `n`.
fn key_name(n: u32) -> String {
    format!("projects/clinic-test/locations/europe-west1/keyRings/ward/cryptoKeys/kek-{n}")
}

fn crc32c(bytes: &[u8]) -> String {
    const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    CASTAGNOLI.checksum(bytes).to_string()
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).unwrap();
    out
}

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

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    body: serde_json::Value,
}

struct State {
    /// Crypto key → its versions' keys (version n at index n - 1); the last is primary.
    keys: BTreeMap<String, Vec<[u8; 32]>>,
    trouble: VecDeque<u16>,
    delay: Duration,
    /// When set, corrupts the CRC32C of every answer.
    corrupt: bool,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct Kms {
    state: Arc<Mutex<State>>,
    endpoint: String,
}

impl Kms {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            keys: BTreeMap::new(),
            trouble: VecDeque::new(),
            delay: Duration::ZERO,
            corrupt: false,
            seen: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let port = crate::https::serve_plain(move |request| {
            let state = Arc::clone(&shared);
            async move { answer(&state, request).await }
        })
        .await;
        Self {
            state,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    async fn client(&self, attempt_timeout: Option<Duration>) -> KeyManagementService {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let builder = KeyManagementService::builder()
            .with_endpoint(&self.endpoint)
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
    async fn provider(&self, ids: &[u32], active: u32) -> GcpKmsKek {
        self.with(|s| {
            for &id in ids {
                s.keys.entry(key_name(id)).or_insert_with(|| vec![random()]);
            }
        });
        let ring = KeyRing::new(ids.iter().map(|&id| KeyRingEntry {
            id: KekId(id),
            key: key_name(id),
            active: id == active,
        }))
        .unwrap();
        GcpKmsKek::connect(self.client(None).await, ring).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }
}

use google_cloud_gax::retry_policy::RetryPolicyExt as _;

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(code: u16, status: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        StatusCode::from_u16(code).unwrap(),
        serde_json::json!({ "error": { "code": code, "message": message, "status": status } }),
    )
}

fn bytes_field(body: &serde_json::Value, field: &str) -> Option<Vec<u8>> {
    match body.get(field) {
        None => Some(Vec::new()),
        Some(v) => v.as_str().and_then(|s| BASE64.decode(s).ok()),
    }
}

async fn answer(
    state: &Mutex<State>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let (delay, trouble) = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            path: path.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
        (s.delay, s.trouble.pop_front())
    };
    tokio::time::sleep(delay).await;
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if let Some(code) = trouble {
        let status = match code {
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        return error(
            code,
            status,
            "the test server was asked to refuse this request",
        );
    }
    let s = state.lock().unwrap();
    let Some((key, operation)) = path.strip_prefix("/v1/").and_then(|p| p.rsplit_once(':')) else {
        return error(404, "NOT_FOUND", "unsupported path");
    };
    let Some(versions) = s.keys.get(key) else {
        return error(404, "NOT_FOUND", "CryptoKey not found.");
    };
    let Some(aad) = bytes_field(&body, "additionalAuthenticatedData") else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "additionalAuthenticatedData is not base64",
        );
    };
    let aad_crc = body["additionalAuthenticatedDataCrc32c"]
        .as_str()
        .map(str::to_owned);
    if aad_crc.as_ref().is_some_and(|c| *c != crc32c(&aad)) {
        return error(
            400,
            "INVALID_ARGUMENT",
            "additionalAuthenticatedDataCrc32c did not match",
        );
    }
    let corrupt = |crc: String| if s.corrupt { "1".to_owned() } else { crc };
    match operation {
        "encrypt" => {
            let Some(plaintext) = bytes_field(&body, "plaintext") else {
                return error(400, "INVALID_ARGUMENT", "plaintext is not base64");
            };
            let plaintext_crc = body["plaintextCrc32c"].as_str().map(str::to_owned);
            if plaintext_crc
                .as_ref()
                .is_some_and(|c| *c != crc32c(&plaintext))
            {
                return error(400, "INVALID_ARGUMENT", "plaintextCrc32c did not match");
            }
            let version = u32::try_from(versions.len()).unwrap();
            let cipher = Aes256Gcm::new(&versions[versions.len() - 1].into());
            let nonce = random::<12>();
            let sealed = cipher
                .encrypt(
                    &Nonce::try_from(&nonce[..]).unwrap(),
                    Payload {
                        msg: &plaintext,
                        aad: &aad,
                    },
                )
                .unwrap();
            let mut ciphertext = version.to_be_bytes().to_vec();
            ciphertext.extend_from_slice(&nonce);
            ciphertext.extend_from_slice(&sealed);
            reply(
                StatusCode::OK,
                serde_json::json!({
                    "name": format!("{key}/cryptoKeyVersions/{version}"),
                    "ciphertext": BASE64.encode(&ciphertext),
                    "ciphertextCrc32c": corrupt(crc32c(&ciphertext)),
                    "verifiedPlaintextCrc32c": plaintext_crc.is_some(),
                    "verifiedAdditionalAuthenticatedDataCrc32c": aad_crc.is_some(),
                    "protectionLevel": 1,
                }),
            )
        }
        "decrypt" => {
            let invalid = || {
                error(
                    400,
                    "INVALID_ARGUMENT",
                    "Decryption failed: the ciphertext is invalid.",
                )
            };
            let Some(ciphertext) = bytes_field(&body, "ciphertext") else {
                return invalid();
            };
            if body["ciphertextCrc32c"].as_str() != Some(crc32c(&ciphertext).as_str()) {
                return error(400, "INVALID_ARGUMENT", "ciphertextCrc32c did not match");
            }
            if ciphertext.len() < 4 + 12 + 16 {
                return invalid();
            }
            let (version, rest) = ciphertext.split_at(4);
            let version = u32::from_be_bytes(version.try_into().unwrap());
            let Some(key) = usize::try_from(version)
                .ok()
                .and_then(|v| v.checked_sub(1))
                .and_then(|v| versions.get(v))
            else {
                return invalid();
            };
            let (nonce, sealed) = rest.split_at(12);
            match Aes256Gcm::new(&(*key).into()).decrypt(
                &Nonce::try_from(nonce).unwrap(),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            ) {
                Ok(plaintext) => reply(
                    StatusCode::OK,
                    serde_json::json!({
                        "plaintext": BASE64.encode(&plaintext),
                        "plaintextCrc32c": corrupt(crc32c(&plaintext)),
                        "usedPrimary": version as usize == versions.len(),
                        "protectionLevel": 1,
                    }),
                ),
                Err(_) => invalid(),
            }
        }
        _ => error(404, "NOT_FOUND", "unsupported method"),
    }
}

struct Fixture {
    kms: Kms,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        Arc::new(self.kms.provider(ids, active).await)
    }
}

#[tokio::test]
async fn gcp_kms_passes_the_provider_suite() {
    let kms = Kms::start().await;
    crate::conformance::run(&Fixture { kms: kms.clone() }).await;
    let seen = kms.seen();
    assert!(!seen.is_empty());
    for request in &seen {
        assert_eq!(
            request.authorization.as_deref(),
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
    let kms = Kms::start().await;
    let kek = kms.provider(&[1], 1).await;
    let dek = DataKey::generate(DekId(3)).unwrap();
    let first = kek.wrap(&dek, b"ws").await.unwrap();
    let recorded = format!("{}/cryptoKeyVersions/1", key_name(1));
    assert!(contains(first.as_bytes(), recorded.as_bytes()));

    // Cloud KMS rotates the key: a new primary version.
    kms.with(|s| s.keys.get_mut(&key_name(1)).unwrap().push(random()));
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
    let kms = Kms::start().await;
    let kek = kms.provider(&[1], 1).await;
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

impl crate::https::Troubled for Kms {
    fn refuse(&self, statuses: &[u16]) {
        self.with(|s| s.trouble = statuses.iter().copied().collect());
    }
    fn stall(&self, delay: Duration) {
        self.with(|s| s.delay = delay);
    }
    fn requests(&self) -> usize {
        self.with(|s| s.seen.len())
    }
}

#[tokio::test]
async fn throttling_errors_and_timeouts_are_retried_or_typed() {
    let kms = Kms::start().await;
    let kek = kms.provider(&[1], 1).await;
    let ring = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: key_name(1),
        active: true,
    }])
    .unwrap();
    let impatient =
        GcpKmsKek::connect(kms.client(Some(Duration::from_millis(200))).await, ring).unwrap();
    crate::https::resilience(
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
    let kms = Kms::start().await;
    let ring = |name: &str| {
        KeyRing::new([KeyRingEntry {
            id: KekId(1),
            key: name.to_owned(),
            active: true,
        }])
        .unwrap()
    };
    let client = kms.client(None).await;
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
