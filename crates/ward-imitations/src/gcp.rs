//! Google Cloud KMS, as much of it as ward's `GcpKmsKek` calls through the official client:
//! `POST /v1/<crypto key>:encrypt` and `:decrypt`, camelCase JSON with base64 bytes and int64
//! CRC32C values as strings, `name` answered with the key version used, errors as
//! `{"error": {"code", "message", "status"}}`, and a bearer token checked on every request. Its
//! ciphertext is the version number then AES-256-GCM under that version's key with the request's
//! additional authenticated data, opaque to the client as a real one is.
//!
//! It speaks plain HTTP: the official client trusts only the system's roots, so a test CA cannot
//! be given to it. Beside the API it serves an OAuth token endpoint ([`Imitation::token_uri`]) that
//! exchanges [`REFRESH_TOKEN`] for [`TOKEN`], as an `authorized_user` credentials file names one.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::StatusCode;

use crate::server::{self, Answer, Imitation, Protocol, Seen, Transport, json, random};

/// The bearer token the API accepts.
pub const TOKEN: &str = "ya29.gcp-test-token";
/// The refresh token the token endpoint exchanges for [`TOKEN`].
pub const REFRESH_TOKEN: &str = "1//ward-test-refresh-token";
/// The token endpoint's path.
const TOKEN_PATH: &str = "/token";

/// Cloud KMS's state; a test may change any of it.
#[derive(Debug)]
pub struct Kms {
    /// Crypto key name → its versions' keys (version n at index n - 1); the last is primary.
    pub keys: BTreeMap<String, Vec<[u8; 32]>>,
    /// When set, corrupts the CRC32C of every answer.
    pub corrupt: bool,
}

/// The crypto key standing for KEK version `n`.
pub fn key_name(n: u32) -> String {
    format!("projects/clinic-test/locations/europe-west1/keyRings/ward/cryptoKeys/kek-{n}")
}

/// The CRC32C (Castagnoli) of `bytes`, as Cloud KMS writes it: a decimal string.
pub fn crc32c(bytes: &[u8]) -> String {
    const CASTAGNOLI: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);
    CASTAGNOLI.checksum(bytes).to_string()
}

/// Cloud KMS holding no crypto key yet.
pub async fn start() -> Imitation<Kms> {
    let kms = Kms {
        keys: BTreeMap::new(),
        corrupt: false,
    };
    server::start(kms, Transport::Plain).await
}

impl Imitation<Kms> {
    /// Makes Cloud KMS hold the crypto key standing for KEK version `n`; returns its name.
    pub fn hold(&self, n: u32) -> String {
        let name = key_name(n);
        self.with(|k| {
            k.keys.entry(name.clone()).or_insert_with(|| vec![random()]);
        });
        name
    }

    /// Cloud KMS rotates the crypto key of KEK version `n`: a new primary version.
    pub fn rotate(&self, n: u32) {
        self.with(|k| k.keys.entry(key_name(n)).or_default().push(random()));
    }

    /// The OAuth token endpoint (an `authorized_user` file's `token_uri`).
    pub fn token_uri(&self) -> String {
        format!("{}{TOKEN_PATH}", self.address())
    }
}

fn error(code: u16, status: &str, message: &str) -> Answer {
    json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &serde_json::json!({ "error": { "code": code, "message": message, "status": status } }),
    )
}

fn invalid(message: &str) -> Answer {
    error(400, "INVALID_ARGUMENT", message)
}

/// A bytes field: absent is empty; present must be base64.
fn bytes_field(body: &serde_json::Value, field: &str) -> Option<Vec<u8>> {
    match body.get(field) {
        None => Some(Vec::new()),
        Some(v) => v.as_str().and_then(|s| BASE64.decode(s).ok()),
    }
}

impl Kms {
    fn token(request: &Seen) -> Answer {
        if request.body["refresh_token"].as_str() != Some(REFRESH_TOKEN) {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({ "error": "invalid_grant", "error_description": "Bad Request" }),
            );
        }
        json(
            StatusCode::OK,
            &serde_json::json!({
                "access_token": TOKEN,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/cloud-platform",
                "token_type": "Bearer",
            }),
        )
    }

    fn corrupted(&self, crc: String) -> String {
        if self.corrupt { "1".to_owned() } else { crc }
    }

    fn encrypt(
        &self,
        key: &str,
        versions: &[[u8; 32]],
        aad: &[u8],
        body: &serde_json::Value,
    ) -> Answer {
        let Some(plaintext) = bytes_field(body, "plaintext") else {
            return invalid("plaintext is not base64");
        };
        let plaintext_crc = body["plaintextCrc32c"].as_str();
        if plaintext_crc.is_some_and(|c| c != crc32c(&plaintext)) {
            return invalid("plaintextCrc32c did not match");
        }
        let (Some(primary), Ok(version)) = (versions.last(), u32::try_from(versions.len())) else {
            return error(
                400,
                "FAILED_PRECONDITION",
                "the crypto key has no primary version",
            );
        };
        let nonce = random::<12>();
        let Ok(sealed) = Aes256Gcm::new(&(*primary).into()).encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad,
            },
        ) else {
            return invalid("encryption failed");
        };
        let mut ciphertext = version.to_be_bytes().to_vec();
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        json(
            StatusCode::OK,
            &serde_json::json!({
                "name": format!("{key}/cryptoKeyVersions/{version}"),
                "ciphertext": BASE64.encode(&ciphertext),
                "ciphertextCrc32c": self.corrupted(crc32c(&ciphertext)),
                "verifiedPlaintextCrc32c": plaintext_crc.is_some(),
                "verifiedAdditionalAuthenticatedDataCrc32c": body["additionalAuthenticatedDataCrc32c"].is_string(),
                "protectionLevel": 1,
            }),
        )
    }

    fn decrypt(&self, versions: &[[u8; 32]], aad: &[u8], body: &serde_json::Value) -> Answer {
        let failed = || invalid("Decryption failed: the ciphertext is invalid.");
        let Some(ciphertext) = bytes_field(body, "ciphertext") else {
            return failed();
        };
        if body["ciphertextCrc32c"].as_str() != Some(crc32c(&ciphertext).as_str()) {
            return invalid("ciphertextCrc32c did not match");
        }
        let Some((version, rest)) = ciphertext.split_first_chunk::<4>() else {
            return failed();
        };
        let version = u32::from_be_bytes(*version);
        let Some(key) = usize::try_from(version)
            .ok()
            .and_then(|v| v.checked_sub(1))
            .and_then(|v| versions.get(v))
        else {
            return failed();
        };
        let Some((nonce, sealed)) = rest.split_first_chunk::<12>() else {
            return failed();
        };
        match Aes256Gcm::new(&(*key).into())
            .decrypt(&Nonce::from(*nonce), Payload { msg: sealed, aad })
        {
            Ok(plaintext) => json(
                StatusCode::OK,
                &serde_json::json!({
                    "plaintext": BASE64.encode(&plaintext),
                    "plaintextCrc32c": self.corrupted(crc32c(&plaintext)),
                    "usedPrimary": usize::try_from(version).ok() == Some(versions.len()),
                    "protectionLevel": 1,
                }),
            ),
            Err(_) => failed(),
        }
    }
}

impl Protocol for Kms {
    fn authenticate(&self, request: &Seen) -> Option<Answer> {
        if request.path == TOKEN_PATH
            || request.header("authorization") == Some(&format!("Bearer {TOKEN}"))
        {
            return None;
        }
        Some(error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ))
    }

    fn refusal(&self, status: StatusCode) -> Answer {
        let name = match status.as_u16() {
            429 => "RESOURCE_EXHAUSTED",
            503 => "UNAVAILABLE",
            _ => "INTERNAL",
        };
        error(
            status.as_u16(),
            name,
            "the test server was asked to refuse this request",
        )
    }

    fn answer(&mut self, request: &Seen) -> Answer {
        if request.path == TOKEN_PATH {
            return Self::token(request);
        }
        let Some((key, operation)) = request
            .path
            .strip_prefix("/v1/")
            .and_then(|p| p.rsplit_once(':'))
        else {
            return error(404, "NOT_FOUND", "unsupported path");
        };
        let Some(versions) = self.keys.get(key) else {
            return error(404, "NOT_FOUND", "CryptoKey not found.");
        };
        let body = &request.body;
        let Some(aad) = bytes_field(body, "additionalAuthenticatedData") else {
            return invalid("additionalAuthenticatedData is not base64");
        };
        if body["additionalAuthenticatedDataCrc32c"]
            .as_str()
            .is_some_and(|c| c != crc32c(&aad))
        {
            return invalid("additionalAuthenticatedDataCrc32c did not match");
        }
        match operation {
            "encrypt" => self.encrypt(key, versions, &aad, body),
            "decrypt" => self.decrypt(versions, &aad, body),
            _ => error(404, "NOT_FOUND", "unsupported method"),
        }
    }
}
