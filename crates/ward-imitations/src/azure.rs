//! Azure Key Vault, as much of it as ward's `AzureKeyVaultKek` calls through the official SDK:
//! `POST /keys/<name>/<version>/wrapkey` and `/unwrapkey` with `?api-version=…`, JSON bodies
//! `{"alg": …, "value": <base64url>}` answered with `{"kid": …, "value": …}`, errors as
//! `{"error": {"code", "message"}}`, and the challenge-based authentication (a request without
//! a token gets `401` with `WWW-Authenticate: Bearer authorization=…, resource=…`). Its wrap is
//! AES-256-GCM under the version's key, opaque to the client as a real wrap is.
//!
//! Beside the vault (TLS) it serves an App Service managed-identity endpoint over plain HTTP
//! ([`Imitation::identity_endpoint`]): `GET` with `api-version`, `resource` and the
//! `X-IDENTITY-HEADER` secret, answered with the vault's token, as `azure_identity`'s
//! `ManagedIdentityCredential` asks for one when `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` are set.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hyper::StatusCode;

use crate::server::{self, Answer, Imitation, Protocol, Seen, Transport, json, random};

/// The bearer token the vault accepts (and the identity endpoint hands out).
pub const TOKEN: &str = "azure-test-token-7d1f";
/// The one key the vault holds.
pub const KEY: &str = "ward-kek";
/// The secret the identity endpoint wants in `X-IDENTITY-HEADER` (`IDENTITY_HEADER`).
pub const IDENTITY_SECRET: &str = "ward-test-identity-header";
/// The identity endpoint's path.
const IDENTITY_PATH: &str = "/msi/token";

/// The vault's state; a test may change any of it.
#[derive(Debug)]
pub struct KeyVault {
    /// Key version id → key material.
    pub keys: BTreeMap<String, [u8; 32]>,
    /// When set, answers name this version in `kid` whatever was asked.
    pub kid_version: Option<String>,
    /// The resource the authentication challenge names.
    pub resource: String,
    identity_endpoint: String,
}

/// The Key Vault version id standing for KEK version `n` (32 hex digits, as Key Vault's are).
pub fn version(n: u32) -> String {
    format!("{:032x}", u128::from(n) * 0x9e37_79b9_7f4a_7c15)
}

/// A vault holding no key version yet, its challenge naming `https://vault.azure.net`.
pub async fn start() -> Imitation<KeyVault> {
    let vault = KeyVault {
        keys: BTreeMap::new(),
        kid_version: None,
        resource: "https://vault.azure.net".to_owned(),
        identity_endpoint: String::new(),
    };
    let imitation = server::start(vault, Transport::Tls).await;
    let identity = server::also_plain(&imitation).await;
    imitation.with(|v| v.identity_endpoint = format!("{identity}{IDENTITY_PATH}"));
    imitation
}

impl Imitation<KeyVault> {
    /// Makes the vault hold the key version standing for KEK version `n`; returns its id.
    pub fn hold(&self, n: u32) -> String {
        let id = version(n);
        self.with(|v| {
            v.keys.entry(id.clone()).or_insert_with(random::<32>);
        });
        id
    }

    /// The managed-identity endpoint (`IDENTITY_ENDPOINT`), plain HTTP on loopback.
    pub fn identity_endpoint(&self) -> String {
        self.with(|v| v.identity_endpoint.clone())
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Answer {
    json(
        status,
        &serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

fn bad(message: &str) -> Answer {
    error(StatusCode::BAD_REQUEST, "BadParameter", message)
}

impl KeyVault {
    /// The App Service managed-identity protocol (api-version 2019-08-01).
    fn identity(&self, request: &Seen) -> Answer {
        if request.header("x-identity-header") != Some(IDENTITY_SECRET) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized", "identity header");
        }
        let query = |name: &str| {
            request
                .query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                .map(str::to_owned)
        };
        let Some(resource) = query("resource").filter(|_| query("api-version").is_some()) else {
            return bad("resource and api-version are required");
        };
        let expires = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() + 3600)
            .unwrap_or_default();
        json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": TOKEN,
                "expires_on": expires.to_string(),
                "resource": resource,
                "token_type": "Bearer",
            }),
        )
    }
}

impl Protocol for KeyVault {
    fn authenticate(&self, request: &Seen) -> Option<Answer> {
        if request.path == IDENTITY_PATH {
            return None;
        }
        if request.header("authorization") == Some(&format!("Bearer {TOKEN}")) {
            return None;
        }
        let mut answer = error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        let challenge = format!(
            "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"{}\"",
            self.resource
        );
        if let Ok(value) = http::HeaderValue::from_str(&challenge) {
            answer.headers_mut().insert("www-authenticate", value);
        }
        Some(answer)
    }

    fn refusal(&self, status: StatusCode) -> Answer {
        error(
            status,
            "Throttled",
            "the test server was asked to refuse this request",
        )
    }

    fn answer(&mut self, request: &Seen) -> Answer {
        if request.path == IDENTITY_PATH {
            return self.identity(request);
        }
        if !request.query.contains("api-version=") {
            return bad("api-version is missing");
        }
        let parts: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
        let ["keys", name, version, operation] = parts.as_slice() else {
            return error(StatusCode::NOT_FOUND, "NotFound", "unsupported path");
        };
        let Some(key) = self.keys.get(*version).filter(|_| *name == KEY) else {
            return error(
                StatusCode::NOT_FOUND,
                "KeyNotFound",
                "A key with (name/id) was not found in this key vault.",
            );
        };
        let Some(value) = request.body["value"]
            .as_str()
            .and_then(|v| B64URL.decode(v).ok())
        else {
            return bad("value is missing");
        };
        if !matches!(
            request.body["alg"].as_str(),
            Some("RSA-OAEP-256" | "A256KW")
        ) {
            return bad("unsupported alg");
        }
        let cipher = Aes256Gcm::new(&(*key).into());
        let kid_version = self.kid_version.as_deref().unwrap_or(version);
        let kid = format!("https://127.0.0.1/keys/{name}/{kid_version}");
        let value = match *operation {
            "wrapkey" => {
                let nonce = random::<12>();
                let Ok(sealed) = cipher.encrypt(&Nonce::from(nonce), value.as_slice()) else {
                    return bad("Bad Request");
                };
                let mut out = nonce.to_vec();
                out.extend_from_slice(&sealed);
                out
            }
            "unwrapkey" if value.len() > 12 => {
                let (nonce, sealed) = value.split_at(12);
                let Ok(nonce) = <[u8; 12]>::try_from(nonce) else {
                    return bad("Bad Request");
                };
                match cipher.decrypt(&Nonce::from(nonce), sealed) {
                    Ok(plain) => plain,
                    Err(_) => return bad("Bad Request"),
                }
            }
            _ => return bad("Bad Request"),
        };
        json(
            StatusCode::OK,
            &serde_json::json!({ "kid": kid, "value": B64URL.encode(value) }),
        )
    }
}
