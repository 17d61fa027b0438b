//! The Vault Transit provider against an in-test HTTPS server.
//!
//! Vault cannot be installed on the machines these tests run on, so this module stands one up:
//! a TLS server on loopback (certificate from a CA made here) that speaks the part of Vault's
//! documented HTTP API ward calls: `GET /v1/<mount>/keys/<key>`, `POST /v1/<mount>/encrypt/<key>`
//! and `POST /v1/<mount>/decrypt/<key>`, with `X-Vault-Token` checked, Vault's answer envelope
//! (`request_id`, `lease_id`, `data`, …), its `{"errors": [...]}` bodies and status codes, and
//! derived keys (HKDF-SHA256 of the version's key with the request's context, then AES-256-GCM,
//! as `aes256-gcm96` derived keys work). It also throttles, fails and stalls on request, so the
//! provider's retries and timeouts are exercised. It is an imitation, said so here: the real
//! engine's behaviour beyond these calls is not claimed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use ward_crypto::secrecy::SecretString;
use ward_crypto::{
    DataKey, DekId, Error, HttpPolicy, KekId, KeyEncryptionKey, RingRefresh, VaultTransitConfig,
    VaultTransitKek, WrappedDataKey,
};

const TOKEN: &str = "hvs.ward-test-token-0f9e7c1a";
const KEY: &str = "ward-kek";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    token: Option<String>,
    body: serde_json::Value,
}

/// What the server holds and how it misbehaves.
struct State {
    /// Key material of versions 1, 2, …
    keys: Vec<[u8; 32]>,
    latest: u32,
    min_decryption: u32,
    derived: bool,
    kind: &'static str,
    /// Answers to give before answering normally: a status (429, 500, 503) each.
    trouble: VecDeque<u16>,
    /// How long to wait before answering.
    delay: Duration,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct Vault {
    state: Arc<Mutex<State>>,
    address: String,
    ca_pem: String,
}

impl Vault {
    /// A server holding one derived `aes256-gcm96` key at version 1.
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            keys: vec![random_key()],
            latest: 1,
            min_decryption: 1,
            derived: true,
            kind: "aes256-gcm96",
            trouble: VecDeque::new(),
            delay: Duration::ZERO,
            seen: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let (port, ca_pem) = crate::https::serve(move |request| {
            let state = Arc::clone(&shared);
            async move { answer(&state, request).await }
        })
        .await;
        Self {
            state,
            address: format!("https://127.0.0.1:{port}"),
            ca_pem,
        }
    }

    fn config(&self) -> VaultTransitConfig {
        VaultTransitConfig::new(&self.address, SecretString::from(TOKEN), KEY)
            .with_ca_pem(self.ca_pem.as_bytes())
            .with_http_policy(HttpPolicy {
                initial_backoff: Duration::from_millis(10),
                ..HttpPolicy::default()
            })
    }

    async fn connect(&self) -> VaultTransitKek {
        VaultTransitKek::connect(self.config()).await.unwrap()
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// `vault write -f transit/keys/<key>/rotate`.
    fn rotate(&self) {
        self.with(|s| {
            s.keys.push(random_key());
            s.latest += 1;
        });
    }

    fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).unwrap();
    key
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn errors(status: StatusCode, texts: &[&str]) -> Response<Full<Bytes>> {
    reply(status, serde_json::json!({ "errors": texts }))
}

/// Vault's envelope around `data`.
fn data(data: serde_json::Value) -> Response<Full<Bytes>> {
    reply(
        StatusCode::OK,
        serde_json::json!({
            "request_id": "5f0b6c1e-0000-4000-8000-000000000000",
            "lease_id": "",
            "renewable": false,
            "lease_duration": 0,
            "data": data,
            "wrap_info": null,
            "warnings": null,
            "auth": null,
        }),
    )
}

/// The version's key derived for `context`, as a derived Transit key does.
fn derived(key: &[u8; 32], context: &[u8]) -> Aes256Gcm {
    let mut out = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, key)
        .expand(context, &mut out)
        .unwrap();
    Aes256Gcm::new(&out.into())
}

async fn answer(
    state: &Mutex<State>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let token = request
        .headers()
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let (delay, trouble) = {
        let mut s = state.lock().unwrap();
        s.seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            token: token.clone(),
            body: body.clone(),
        });
        (s.delay, s.trouble.pop_front())
    };
    tokio::time::sleep(delay).await;
    if let Some(status) = trouble {
        let status = StatusCode::from_u16(status).unwrap();
        let mut response = errors(
            status,
            &["the test server was asked to refuse this request"],
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
        }
        return response;
    }
    if token.as_deref() != Some(TOKEN) {
        return errors(StatusCode::FORBIDDEN, &["permission denied"]);
    }
    let mut s = state.lock().unwrap();
    match (method.as_str(), path.as_str()) {
        ("GET", p) if p == format!("/v1/transit/keys/{KEY}") => {
            let keys: serde_json::Map<String, serde_json::Value> = (1..=s.latest)
                .map(|v| (v.to_string(), serde_json::json!(1_700_000_000 + v)))
                .collect();
            data(serde_json::json!({
                "name": KEY,
                "type": s.kind,
                "derived": s.derived,
                "kdf": "hkdf_sha256",
                "latest_version": s.latest,
                "min_decryption_version": s.min_decryption,
                "min_encryption_version": 0,
                "keys": keys,
                "supports_encryption": true,
                "supports_decryption": true,
                "supports_derivation": true,
                "exportable": false,
                "deletion_allowed": false,
            }))
        }
        ("POST", p) if p == format!("/v1/transit/encrypt/{KEY}") => {
            let Some(context) = body["context"].as_str().and_then(|c| BASE64.decode(c).ok()) else {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &[
                        "missing 'context' for key derivation; the key was created using a derived key",
                    ],
                );
            };
            let Some(plaintext) = body["plaintext"]
                .as_str()
                .and_then(|p| BASE64.decode(p).ok())
            else {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["failed to base64-decode plaintext"],
                );
            };
            let version = body["key_version"]
                .as_u64()
                .map_or(s.latest, |v| u32::try_from(v).unwrap());
            if version == 0 || version > s.latest {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["requested version for encryption is higher than the latest key version"],
                );
            }
            let key = s.keys[usize::try_from(version - 1).unwrap()];
            let nonce = random_key();
            let nonce = Nonce::try_from(&nonce[..12]).unwrap();
            let sealed = derived(&key, &context)
                .encrypt(&nonce, plaintext.as_slice())
                .unwrap();
            let mut out = nonce.to_vec();
            out.extend_from_slice(&sealed);
            s.seen.last_mut().unwrap().body["plaintext"] = serde_json::Value::Null;
            data(serde_json::json!({
                "ciphertext": format!("vault:v{version}:{}", BASE64.encode(out)),
                "key_version": version,
            }))
        }
        ("POST", p) if p == format!("/v1/transit/decrypt/{KEY}") => {
            let context = body["context"]
                .as_str()
                .and_then(|c| BASE64.decode(c).ok())
                .unwrap_or_default();
            let ciphertext = body["ciphertext"].as_str().unwrap_or_default();
            let Some((version, sealed)) = ciphertext
                .strip_prefix("vault:v")
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(v, b)| Some((v.parse::<u32>().ok()?, BASE64.decode(b).ok()?)))
            else {
                return errors(StatusCode::BAD_REQUEST, &["invalid ciphertext: no prefix"]);
            };
            if version < s.min_decryption {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["ciphertext or signature version is disallowed by policy (too old)"],
                );
            }
            if version == 0 || version > s.latest || sealed.len() < 12 + 16 {
                return errors(
                    StatusCode::BAD_REQUEST,
                    &["invalid ciphertext: key version"],
                );
            }
            let key = s.keys[usize::try_from(version - 1).unwrap()];
            let (nonce, sealed) = sealed.split_at(12);
            match derived(&key, &context).decrypt(
                &Nonce::try_from(nonce).unwrap(),
                Payload {
                    msg: sealed,
                    aad: b"",
                },
            ) {
                Ok(plaintext) => data(serde_json::json!({ "plaintext": BASE64.encode(plaintext) })),
                Err(_) => errors(
                    StatusCode::BAD_REQUEST,
                    &["cipher: message authentication failed"],
                ),
            }
        }
        ("GET", p) if p.starts_with("/v1/transit/keys/") => errors(StatusCode::NOT_FOUND, &[]),
        _ => errors(StatusCode::NOT_FOUND, &["unsupported path"]),
    }
}

/// Providers over one server whose key's versions are set to what each ring asks for.
struct Fixture {
    vault: Vault,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        // Vault's versions run from min_decryption_version to latest_version, latest active.
        assert_eq!(Some(&active), ids.iter().max());
        self.vault.with(|s| {
            while s.keys.len() < usize::try_from(active).unwrap() {
                s.keys.push(random_key());
            }
            s.latest = active;
            s.min_decryption = ids.iter().copied().min().unwrap();
        });
        Arc::new(self.vault.connect().await)
    }
}

#[tokio::test]
async fn vault_transit_passes_the_provider_suite() {
    let vault = Vault::start().await;
    crate::conformance::run(&Fixture {
        vault: vault.clone(),
    })
    .await;

    // Every request carried the token; every wrap pinned the version and sent a context.
    let seen = vault.seen();
    assert!(seen.iter().all(|r| r.token.as_deref() == Some(TOKEN)));
    let encrypts: Vec<_> = seen
        .iter()
        .filter(|r| r.path.contains("/encrypt/"))
        .collect();
    assert!(!encrypts.is_empty());
    for request in encrypts {
        assert_eq!(request.method, "POST");
        assert!(
            request.body["key_version"].as_u64().is_some(),
            "{request:?}"
        );
        assert!(
            request.body["context"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        );
    }
}

#[tokio::test]
async fn the_context_sent_is_the_header_then_the_callers_context() {
    let vault = Vault::start().await;
    let kek = vault.connect().await;
    let wrapped = kek
        .wrap(&DataKey::generate(DekId(21)).unwrap(), b"workspace-q")
        .await
        .unwrap();
    let sent = vault
        .seen()
        .into_iter()
        .rfind(|r| r.path.ends_with("/encrypt/ward-kek"))
        .unwrap();
    let context = BASE64
        .decode(sent.body["context"].as_str().unwrap())
        .unwrap();
    assert_eq!(&context[..9], &wrapped.as_bytes()[..9]);
    assert_eq!(&context[9..], b"workspace-q");
    assert_eq!(sent.body["key_version"], 1);
    assert!(wrapped.as_bytes()[9..].starts_with(b"vault:v1:"));
}

#[tokio::test]
async fn a_rotation_in_vault_becomes_the_active_kek_version() {
    let vault = Vault::start().await;
    let quick = vault.config().with_refresh(RingRefresh {
        max_age: Duration::from_millis(150),
        unknown_key_interval: Duration::from_secs(3600),
    });
    let kek = VaultTransitKek::connect(quick).await.unwrap();
    let early = VaultTransitKek::connect(vault.config().with_refresh(RingRefresh {
        max_age: Duration::from_secs(3600),
        unknown_key_interval: Duration::ZERO,
    }))
    .await
    .unwrap();
    let dek = DataKey::generate(DekId(3)).unwrap();
    let old = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(old.kek_id(), KekId(1));

    vault.rotate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let new = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(new.kek_id(), KekId(2));
    assert_eq!(kek.key_ids(), vec![KekId(1), KekId(2)]);

    // A provider that read the key before the rotation reads it again when it meets version 2.
    assert_eq!(early.active_id(), KekId(1));
    assert_eq!(early.unwrap(&new, b"ws").await.unwrap().id(), DekId(3));
    assert_eq!(early.active_id(), KekId(2));
    assert_eq!(early.unwrap(&old, b"ws").await.unwrap().id(), DekId(3));
}

#[tokio::test]
async fn a_header_naming_another_version_than_the_ciphertext_is_refused() {
    let vault = Vault::start().await;
    vault.rotate();
    let kek = vault.connect().await;
    let wrapped = kek
        .wrap(&DataKey::generate(DekId(4)).unwrap(), b"ws")
        .await
        .unwrap();
    assert_eq!(wrapped.kek_id(), KekId(2));
    let mut bytes = wrapped.as_bytes().to_vec();
    bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
    let relabelled = WrappedDataKey::from_bytes(bytes).unwrap();
    let before = vault.seen().len();
    assert!(matches!(
        kek.unwrap(&relabelled, b"ws").await,
        Err(Error::Decrypt)
    ));
    // Refused before asking Vault.
    assert_eq!(vault.seen().len(), before);
}

impl crate::https::Troubled for Vault {
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
    let vault = Vault::start().await;
    let kek = vault.connect().await;
    let impatient =
        VaultTransitKek::connect(vault.config().with_http_policy(crate::https::impatient()))
            .await
            .unwrap();
    crate::https::resilience(
        &vault,
        &kek,
        &impatient,
        "vault-transit",
        "Vault answered 500",
        "no answer within 200 ms",
        &[TOKEN],
    )
    .await;
}

#[tokio::test]
async fn keys_and_tokens_that_cannot_bind_or_read_are_refused_at_connect() {
    let vault = Vault::start().await;

    let wrong_token =
        VaultTransitConfig::new(&vault.address, SecretString::from("hvs.not-the-token"), KEY)
            .with_ca_pem(vault.ca_pem.as_bytes());
    let err = VaultTransitKek::connect(wrong_token).await.unwrap_err();
    assert!(err.to_string().contains("Vault answered 403"), "{err}");
    assert!(!err.to_string().contains("hvs.not-the-token"), "{err}");

    let missing = VaultTransitConfig::new(&vault.address, SecretString::from(TOKEN), "other")
        .with_ca_pem(vault.ca_pem.as_bytes());
    let err = VaultTransitKek::connect(missing).await.unwrap_err();
    assert!(err.to_string().contains("no transit key `other`"), "{err}");

    vault.with(|s| s.derived = false);
    let err = VaultTransitKek::connect(vault.config()).await.unwrap_err();
    assert!(err.to_string().contains("is not derived"), "{err}");
    vault.with(|s| {
        s.derived = true;
        s.kind = "rsa-4096";
    });
    let err = VaultTransitKek::connect(vault.config()).await.unwrap_err();
    assert!(err.to_string().contains("has type `rsa-4096`"), "{err}");
    vault.with(|s| s.kind = "aes256-gcm96");

    // Without the CA the system roots do not know the server's certificate.
    let untrusted = VaultTransitConfig::new(&vault.address, SecretString::from(TOKEN), KEY)
        .with_http_policy(HttpPolicy {
            attempts: 1,
            ..HttpPolicy::default()
        });
    let err = VaultTransitKek::connect(untrusted).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    for (address, token, key) in [
        (vault.address.as_str(), "", KEY),
        (vault.address.as_str(), TOKEN, "../sys"),
        ("https://127.0.0.1:9/?x", TOKEN, KEY),
    ] {
        let config = VaultTransitConfig::new(address, SecretString::from(token), key)
            .with_ca_pem(vault.ca_pem.as_bytes());
        let err = VaultTransitKek::connect(config).await.unwrap_err();
        assert!(matches!(err, Error::Provider { .. }), "{err:?}");
    }
    let shown = format!("{:?}", vault.connect().await);
    assert!(!shown.contains(TOKEN), "{shown}");
}
