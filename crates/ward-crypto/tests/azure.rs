//! The Azure Key Vault provider against an in-test HTTPS server.
//!
//! Key Vault cannot run on the machines these tests run on, so this module stands one up: a TLS
//! server on loopback that speaks the part of Key Vault's documented REST API ward calls through
//! the official SDK client: `POST /keys/<name>/<version>/wrapkey` and `/unwrapkey` with
//! `?api-version=…`, JSON bodies `{"alg": …, "value": <base64url>}` answered with `{"kid": …,
//! "value": …}`, errors as `{"error": {"code", "message"}}`, and the challenge-based
//! authentication (a request without a token gets `401` with `WWW-Authenticate: Bearer
//! authorization=…, resource=…`). Its wrap is AES-256-GCM under the version's key, opaque to the
//! client as a real wrap is. It also throttles, fails and stalls on request. It is an imitation,
//! said so here: the real service's behaviour beyond these calls is not claimed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, Response, StatusCode};
use ward_crypto::azure_core;
use ward_crypto::azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use ward_crypto::azure_core::time::OffsetDateTime;
use ward_crypto::{
    AzureKeyVaultConfig, AzureKeyVaultKek, DataKey, DekId, Error, HttpPolicy, KekId,
    KeyEncryptionKey, KeyRing, KeyRingEntry,
};

const TOKEN: &str = "azure-test-token-7d1f";
const KEY: &str = "ward-kek";

/// A credential that hands out one fixed token (the real ones come from `azure_identity`).
#[derive(Debug)]
struct StaticToken(&'static str);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, ["https://vault.azure.net/.default"]);
        Ok(AccessToken::new(
            self.0.to_owned(),
            OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    authorization: Option<String>,
    body: serde_json::Value,
}

struct State {
    /// Key version → key material.
    keys: BTreeMap<String, [u8; 32]>,
    trouble: VecDeque<u16>,
    delay: Duration,
    /// When set, answers name this version in `kid` whatever was asked.
    kid_version: Option<String>,
    seen: Vec<Seen>,
}

#[derive(Clone)]
struct Vault {
    state: Arc<Mutex<State>>,
    url: String,
    ca_pem: String,
}

/// The Key Vault version id standing for KEK version `n`.
fn version(n: u32) -> String {
    format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15)
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).unwrap();
    out
}

impl Vault {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            keys: BTreeMap::new(),
            trouble: VecDeque::new(),
            delay: Duration::ZERO,
            kid_version: None,
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
            url: format!("https://127.0.0.1:{port}"),
            ca_pem,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// A ring over KEK versions `ids` (the vault holding every one), `active` among them.
    fn config(&self, ids: &[u32], active: u32) -> AzureKeyVaultConfig {
        self.with(|s| {
            for &id in ids {
                s.keys.entry(version(id)).or_insert_with(random::<32>);
            }
        });
        let ring = KeyRing::new(ids.iter().map(|&id| KeyRingEntry {
            id: KekId(id),
            key: version(id),
            active: id == active,
        }))
        .unwrap();
        AzureKeyVaultConfig::new(&self.url, KEY, ring)
            .with_ca_pem(self.ca_pem.as_bytes())
            // The challenge names vault.azure.net, which 127.0.0.1 is not under.
            .with_challenge_resource_check(false)
            .with_http_policy(HttpPolicy {
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                ..HttpPolicy::default()
            })
    }

    fn connect(&self, config: AzureKeyVaultConfig) -> AzureKeyVaultKek {
        AzureKeyVaultKek::connect(config, Arc::new(StaticToken(TOKEN))).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

async fn answer(
    state: &Mutex<State>,
    request: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
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
            query: query.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
        });
        (s.delay, s.trouble.pop_front())
    };
    tokio::time::sleep(delay).await;
    if authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        response.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static(
                "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"https://vault.azure.net\"",
            ),
        );
        return response;
    }
    if let Some(status) = trouble {
        let status = StatusCode::from_u16(status).unwrap();
        let mut response = error(
            status,
            "Throttled",
            "the test server was asked to refuse this request",
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", hyper::header::HeaderValue::from_static("0"));
        }
        return response;
    }
    if !query.contains("api-version=") {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "api-version is missing",
        );
    }
    let s = state.lock().unwrap();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["keys", name, version, operation] = parts.as_slice() else {
        return error(StatusCode::NOT_FOUND, "NotFound", "unsupported path");
    };
    let Some(key) = s.keys.get(*version).filter(|_| *name == KEY) else {
        return error(
            StatusCode::NOT_FOUND,
            "KeyNotFound",
            "A key with (name/id) was not found in this key vault.",
        );
    };
    let Some(value) = body["value"].as_str().and_then(|v| B64URL.decode(v).ok()) else {
        return error(StatusCode::BAD_REQUEST, "BadParameter", "value is missing");
    };
    if !matches!(body["alg"].as_str(), Some("RSA-OAEP-256" | "A256KW")) {
        return error(StatusCode::BAD_REQUEST, "BadParameter", "unsupported alg");
    }
    let cipher = Aes256Gcm::new(&(*key).into());
    let kid_version = s
        .kid_version
        .clone()
        .unwrap_or_else(|| (*version).to_owned());
    let kid = format!("https://127.0.0.1/keys/{name}/{kid_version}");
    match *operation {
        "wrapkey" => {
            let nonce = random::<12>();
            let sealed = cipher
                .encrypt(&Nonce::try_from(&nonce[..]).unwrap(), value.as_slice())
                .unwrap();
            let mut out = nonce.to_vec();
            out.extend_from_slice(&sealed);
            reply(
                StatusCode::OK,
                serde_json::json!({ "kid": kid, "value": B64URL.encode(out) }),
            )
        }
        "unwrapkey" if value.len() > 12 => {
            let (nonce, sealed) = value.split_at(12);
            match cipher.decrypt(&Nonce::try_from(nonce).unwrap(), sealed) {
                Ok(plain) => reply(
                    StatusCode::OK,
                    serde_json::json!({ "kid": kid, "value": B64URL.encode(plain) }),
                ),
                Err(_) => error(StatusCode::BAD_REQUEST, "BadParameter", "Bad Request"),
            }
        }
        _ => error(StatusCode::BAD_REQUEST, "BadParameter", "Bad Request"),
    }
}

struct Fixture {
    vault: Vault,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        Arc::new(self.vault.connect(self.vault.config(ids, active)))
    }
}

#[tokio::test]
async fn azure_key_vault_passes_the_provider_suite() {
    let vault = Vault::start().await;
    crate::conformance::run(&Fixture {
        vault: vault.clone(),
    })
    .await;

    let seen = vault.seen();
    // Each client's first request is the challenge; every other one carries the token.
    let challenged = seen.iter().filter(|r| r.authorization.is_none()).count();
    assert!(challenged >= 1, "no challenge was answered");
    let operations: Vec<_> = seen.iter().filter(|r| r.authorization.is_some()).collect();
    assert!(!operations.is_empty());
    for request in operations {
        assert!(request.query.contains("api-version="), "{request:?}");
        assert_eq!(request.body["alg"], "RSA-OAEP-256", "{request:?}");
        // The version is always in the path: nothing is left to the vault's current version.
        let parts: Vec<&str> = request.path.split('/').collect();
        assert_eq!(parts.len(), 5, "{request:?}");
        assert_eq!(parts[3].len(), 32, "{request:?}");
    }
}

#[tokio::test]
async fn the_one_time_key_is_what_the_vault_wraps_never_the_data_key() {
    let vault = Vault::start().await;
    let kek = vault.connect(vault.config(&[1], 1));
    let material = ward_crypto::KeyMaterial::generate().unwrap();
    let dek_url = B64URL.encode(material.to_base64().as_str());
    let dek_std = material.to_base64().to_string();
    let dek = DataKey::new(DekId(2), material);
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();
    for request in vault.seen() {
        let text = request.body.to_string();
        assert!(
            !text.contains(&dek_std) && !text.contains(&dek_url),
            "{text}"
        );
    }
    assert_eq!(kek.unwrap(&wrapped, b"ws").await.unwrap().id(), DekId(2));
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
    let kek = vault.connect(vault.config(&[1], 1));
    let impatient = vault.connect(
        vault
            .config(&[1], 1)
            .with_http_policy(crate::https::impatient()),
    );
    crate::https::resilience(
        &vault,
        &kek,
        &impatient,
        "azure-key-vault",
        "500",
        "no answer within 200 ms",
        &[TOKEN],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_key_version_or_an_answer_for_another_version_is_refused() {
    let vault = Vault::start().await;
    // The ring names a version the vault does not hold.
    let ring = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: version(77),
        active: true,
    }])
    .unwrap();
    let config = AzureKeyVaultConfig::new(&vault.url, KEY, ring)
        .with_ca_pem(vault.ca_pem.as_bytes())
        .with_challenge_resource_check(false);
    let kek = vault.connect(config);
    let err = kek
        .wrap(&DataKey::generate(DekId(1)).unwrap(), b"ws")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");

    // The vault answers naming another version than the one asked for.
    let kek = vault.connect(vault.config(&[1, 2], 2));
    vault.with(|s| s.kid_version = Some(version(1)));
    let err = kek
        .wrap(&DataKey::generate(DekId(1)).unwrap(), b"ws")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("answered for another key than kek 2"),
        "{err}"
    );
}

#[tokio::test]
async fn configurations_that_cannot_be_used_are_refused_at_connect() {
    let vault = Vault::start().await;
    let connect = |config: AzureKeyVaultConfig| {
        AzureKeyVaultKek::connect(config, Arc::new(StaticToken(TOKEN))).map(|_| ())
    };
    let ring = || {
        KeyRing::new([KeyRingEntry {
            id: KekId(1),
            key: version(1),
            active: true,
        }])
        .unwrap()
    };
    // WARD_ENV is unset in tests: production, where http is refused.
    let err = connect(AzureKeyVaultConfig::new("http://127.0.0.1:9", KEY, ring())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::HttpsRequired {
                service: "key vault",
                ..
            }
        ),
        "{err:?}"
    );
    let err = connect(AzureKeyVaultConfig::new(&vault.url, "../secrets", ring())).unwrap_err();
    assert!(err.to_string().contains("the key name must be"), "{err}");
    let odd = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: "v1/../x".to_owned(),
        active: true,
    }])
    .unwrap();
    let err = connect(AzureKeyVaultConfig::new(&vault.url, KEY, odd)).unwrap_err();
    assert!(err.to_string().contains("the key version must be"), "{err}");

    let kek = vault.connect(vault.config(&[1], 1));
    let shown = format!("{kek:?}");
    assert!(shown.starts_with("AzureKeyVaultKek {"), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");
}
