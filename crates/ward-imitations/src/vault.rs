//! HashiCorp Vault's Transit engine, as much of it as ward's `VaultTransitKek` calls:
//! `GET /v1/transit/keys/<key>`, `POST /v1/transit/encrypt/<key>` and
//! `POST /v1/transit/decrypt/<key>`, over TLS, with `X-Vault-Token` checked, Vault's answer
//! envelope (`request_id`, `lease_id`, `data`, …), its `{"errors": [...]}` bodies and status
//! codes, and derived keys (HKDF-SHA256 of the version's key with the request's context, then
//! AES-256-GCM, as `aes256-gcm96` derived keys work).

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::StatusCode;

use crate::server::{self, Answer, Imitation, Protocol, Seen, Transport, json, random};

/// The token the imitation accepts.
pub const TOKEN: &str = "hvs.ward-test-token-0f9e7c1a";
/// The one transit key it holds, under the mount `transit`.
pub const KEY: &str = "ward-kek";

/// The Transit key's state; a test may change any of it.
#[derive(Debug)]
pub struct Transit {
    /// Key material of versions 1, 2, …
    pub keys: Vec<[u8; 32]>,
    /// `latest_version`: the version new encryptions use.
    pub latest: u32,
    /// `min_decryption_version`: older versions are refused.
    pub min_decryption: u32,
    /// Whether the key is derived (ward requires it).
    pub derived: bool,
    /// The key's type (ward requires `aes256-gcm96`).
    pub kind: &'static str,
}

/// Vault with one derived `aes256-gcm96` key at version 1.
pub async fn start() -> Imitation<Transit> {
    let transit = Transit {
        keys: vec![random()],
        latest: 1,
        min_decryption: 1,
        derived: true,
        kind: "aes256-gcm96",
    };
    server::start(transit, Transport::Tls).await
}

impl Imitation<Transit> {
    /// `vault write -f transit/keys/<key>/rotate`: a new latest version.
    pub fn rotate(&self) {
        self.with(|t| {
            t.keys.push(random());
            t.latest += 1;
        });
    }

    /// Sets the key's versions to run from `min_decryption` to `latest`, making any missing.
    pub fn set_versions(&self, min_decryption: u32, latest: u32) {
        self.with(|t| {
            while t.keys.len() < usize::try_from(latest).unwrap_or(usize::MAX) {
                t.keys.push(random());
            }
            t.latest = latest;
            t.min_decryption = min_decryption;
        });
    }
}

fn errors(status: StatusCode, texts: &[&str]) -> Answer {
    json(status, &serde_json::json!({ "errors": texts }))
}

/// Vault's envelope around `data`.
fn data(data: serde_json::Value) -> Answer {
    json(
        StatusCode::OK,
        &serde_json::json!({
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
        .expect("32 bytes is a valid HKDF-SHA256 length");
    Aes256Gcm::new(&out.into())
}

fn bad_request(text: &str) -> Answer {
    errors(StatusCode::BAD_REQUEST, &[text])
}

impl Transit {
    fn key(&self, version: u32) -> Option<&[u8; 32]> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.keys.get(index).filter(|_| version <= self.latest)
    }

    fn read_key(&self) -> Answer {
        let keys: serde_json::Map<String, serde_json::Value> = (1..=self.latest)
            .map(|v| (v.to_string(), serde_json::json!(1_700_000_000 + v)))
            .collect();
        data(serde_json::json!({
            "name": KEY,
            "type": self.kind,
            "derived": self.derived,
            "kdf": "hkdf_sha256",
            "latest_version": self.latest,
            "min_decryption_version": self.min_decryption,
            "min_encryption_version": 0,
            "keys": keys,
            "supports_encryption": true,
            "supports_decryption": true,
            "supports_derivation": true,
            "exportable": false,
            "deletion_allowed": false,
        }))
    }

    fn encrypt(&self, body: &serde_json::Value) -> Answer {
        let Some(context) = body["context"].as_str().and_then(|c| BASE64.decode(c).ok()) else {
            return bad_request(
                "missing 'context' for key derivation; the key was created using a derived key",
            );
        };
        let Some(plaintext) = body["plaintext"]
            .as_str()
            .and_then(|p| BASE64.decode(p).ok())
        else {
            return bad_request("failed to base64-decode plaintext");
        };
        let version = match body["key_version"].as_u64() {
            None => self.latest,
            Some(v) => u32::try_from(v).unwrap_or(u32::MAX),
        };
        let Some(key) = self.key(version) else {
            return bad_request(
                "requested version for encryption is higher than the latest key version",
            );
        };
        let nonce = random::<12>();
        let Ok(sealed) = derived(key, &context).encrypt(&Nonce::from(nonce), plaintext.as_slice())
        else {
            return bad_request("encryption failed");
        };
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        data(serde_json::json!({
            "ciphertext": format!("vault:v{version}:{}", BASE64.encode(out)),
            "key_version": version,
        }))
    }

    fn decrypt(&self, body: &serde_json::Value) -> Answer {
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
            return bad_request("invalid ciphertext: no prefix");
        };
        if version < self.min_decryption {
            return bad_request(
                "ciphertext or signature version is disallowed by policy (too old)",
            );
        }
        let Some(key) = self.key(version).filter(|_| sealed.len() >= 12 + 16) else {
            return bad_request("invalid ciphertext: key version");
        };
        let (nonce, sealed) = sealed.split_at(12);
        let Ok(nonce) = <[u8; 12]>::try_from(nonce) else {
            return bad_request("invalid ciphertext: nonce");
        };
        match derived(key, &context).decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: sealed,
                aad: b"",
            },
        ) {
            Ok(plaintext) => data(serde_json::json!({ "plaintext": BASE64.encode(plaintext) })),
            Err(_) => bad_request("cipher: message authentication failed"),
        }
    }
}

impl Protocol for Transit {
    fn authenticate(&self, request: &Seen) -> Option<Answer> {
        (request.header("x-vault-token") != Some(TOKEN))
            .then(|| errors(StatusCode::FORBIDDEN, &["permission denied"]))
    }

    fn refusal(&self, status: StatusCode) -> Answer {
        errors(
            status,
            &["the test server was asked to refuse this request"],
        )
    }

    fn answer(&mut self, request: &Seen) -> Answer {
        let path = request.path.as_str();
        let body = &request.body;
        match (request.method.as_str(), path.strip_prefix("/v1/transit/")) {
            ("GET", Some(p)) if p == format!("keys/{KEY}") => self.read_key(),
            ("POST", Some(p)) if p == format!("encrypt/{KEY}") => self.encrypt(body),
            ("POST", Some(p)) if p == format!("decrypt/{KEY}") => self.decrypt(body),
            ("GET", Some(p)) if p.starts_with("keys/") => errors(StatusCode::NOT_FOUND, &[]),
            _ => errors(StatusCode::NOT_FOUND, &["unsupported path"]),
        }
    }
}
