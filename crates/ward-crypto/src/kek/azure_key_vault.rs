//! Azure Key Vault (or Managed HSM) as a KEK provider (feature `azure-key-vault`): a one-time key
//! wrapped by Key Vault's `wrapKey` seals each DEK; the KEK never leaves the vault.

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::{
    AsyncRawResponse, ClientOptions, ExponentialRetryOptions, RetryOptions, Transport,
    headers::Headers,
};
use azure_security_keyvault_keys::models::{
    EncryptionAlgorithm, KeyClientUnwrapKeyOptions, KeyClientWrapKeyOptions, KeyOperationParameters,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
use zeroize::Zeroizing;

use crate::aead::AeadKey;
use crate::error::{Error, KeyRingError, Result};
use crate::format::wrapped::Header;
use crate::kek::http::{self as kek_http, HttpClient, HttpPolicy};
use crate::kek::local::{SEALED_KEY_LEN, open_data_key, seal_data_key};
use crate::kek::{KeyEncryptionKey, KeyRing, WrappedDataKey};
use crate::keys::{DataKey, KEY_LEN, KekId, KeyMaterial};

const PROVIDER: &str = "azure-key-vault";
const SERVICE: &str = "key vault";
/// The longest wrapped one-time key ward accepts (an RSA-4096 wrap is 512 bytes).
const MAX_WRAPPED_KEY: usize = 1024;

/// How Key Vault wraps the one-time key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AzureWrapAlgorithm {
    /// `RSA-OAEP-256`, for RSA keys (Key Vault's standard and premium tiers).
    #[default]
    RsaOaep256,
    /// `A256KW` (AES key wrap), for the AES keys of a Managed HSM.
    A256Kw,
}

impl AzureWrapAlgorithm {
    fn sdk(self) -> EncryptionAlgorithm {
        match self {
            Self::RsaOaep256 => EncryptionAlgorithm::RsaOaep256,
            Self::A256Kw => EncryptionAlgorithm::A256Kw,
        }
    }
}

/// Where the vault is and which key versions make up the ring.
///
/// ```
/// use ward_crypto::{AzureKeyVaultConfig, AzureWrapAlgorithm, KekId, KeyRing, KeyRingEntry};
///
/// let versions = KeyRing::new([
///     KeyRingEntry { id: KekId(1), key: "0d3c2b1a9f8e7d6c5b4a39281706f5e4".to_owned(), active: true },
/// ])?;
/// let config = AzureKeyVaultConfig::new("https://clinic-keys.vault.azure.net", "ward-kek", versions)
///     .with_algorithm(AzureWrapAlgorithm::RsaOaep256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AzureKeyVaultConfig {
    vault_url: String,
    key: String,
    versions: KeyRing<String>,
    algorithm: AzureWrapAlgorithm,
    ca_pem: Option<Vec<u8>>,
    http: HttpPolicy,
    challenge_resource_check: bool,
}

impl AzureKeyVaultConfig {
    /// The key `key` of the vault at `vault_url`; each ring entry maps a ward KEK version to a
    /// Key Vault key version (the 32-character id at the end of the key's URL).
    pub fn new(
        vault_url: impl Into<String>,
        key: impl Into<String>,
        versions: KeyRing<String>,
    ) -> Self {
        Self {
            vault_url: vault_url.into(),
            key: key.into(),
            versions,
            algorithm: AzureWrapAlgorithm::default(),
            ca_pem: None,
            http: HttpPolicy::default(),
            challenge_resource_check: true,
        }
    }

    /// The wrapping algorithm (default `RSA-OAEP-256`).
    pub fn with_algorithm(mut self, algorithm: AzureWrapAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Trusts only the CA certificates of this PEM bundle for the vault's TLS certificate
    /// (a private endpoint behind your own CA).
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Timeouts and retries of the calls to the vault.
    pub fn with_http_policy(mut self, policy: HttpPolicy) -> Self {
        self.http = policy;
        self
    }

    /// Whether the resource an authentication challenge names must be a parent domain of the
    /// vault's host (default `true`, as the SDK has it). Only a vault reached at an address that
    /// is not under its resource's domain (a private IP) needs `false`.
    pub fn with_challenge_resource_check(mut self, check: bool) -> Self {
        self.challenge_resource_check = check;
        self
    }
}

/// An Azure SDK transport on ward's HTTPS client (rustls on ring, the system's roots or
/// `ca_pem`), for the vault's client and for the credentials that fetch its tokens
/// (`azure_identity`'s credentials take it in their `ClientOptions`). Each request is one
/// attempt bounded by `policy.request_timeout`; the SDK's retry policy repeats it.
pub fn azure_transport(ca_pem: Option<&[u8]>, policy: HttpPolicy) -> Result<Transport> {
    let single = HttpPolicy {
        attempts: 1,
        ..policy
    };
    Ok(Transport::new(Arc::new(SdkTransport {
        http: HttpClient::new(PROVIDER, ca_pem, single)?,
    })))
}

/// The SDK's HTTP client trait over [`HttpClient`].
struct SdkTransport {
    http: HttpClient,
}

impl fmt::Debug for SdkTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkTransport")
    }
}

#[async_trait::async_trait]
impl azure_core::http::HttpClient for SdkTransport {
    async fn execute_request(
        &self,
        request: &azure_core::http::Request,
    ) -> azure_core::Result<AsyncRawResponse> {
        use azure_core::error::{Error as SdkError, ErrorKind};
        let other = |message: String| SdkError::with_message(ErrorKind::Other, message);
        let uri: http::Uri = request
            .url()
            .as_str()
            .parse()
            .map_err(|_| other("the request url is not valid".to_owned()))?;
        let method = http::Method::from_bytes(request.method().as_str().as_bytes())
            .map_err(|_| other("the request method is not valid".to_owned()))?;
        let mut headers = http::HeaderMap::new();
        for (name, value) in request.headers().iter() {
            let name = http::HeaderName::from_bytes(name.as_str().as_bytes())
                .map_err(|_| other("a request header name is not valid".to_owned()))?;
            let mut value = http::HeaderValue::from_str(value.as_str())
                .map_err(|_| other(format!("the request header {name} is not valid")))?;
            if name == http::header::AUTHORIZATION {
                value.set_sensitive(true);
            }
            headers.append(name, value);
        }
        let body = match request.body() {
            azure_core::http::Body::Bytes(bytes) if bytes.is_empty() => None,
            azure_core::http::Body::Bytes(bytes) => Some(bytes.clone()),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(other(
                    "streamed request bodies are not supported".to_owned(),
                ));
            }
        };
        let reply = self
            .http
            .send("key vault request", method, &uri, &headers, body)
            .await
            // Connection failures and timeouts: the SDK retries I/O errors.
            .map_err(|e| SdkError::with_message(ErrorKind::Io, e.to_string()))?;
        let mut out = Headers::new();
        for (name, value) in &reply.headers {
            if let Ok(value) = value.to_str() {
                out.insert(name.as_str().to_owned(), value.to_owned());
            }
        }
        Ok(AsyncRawResponse::from_bytes(
            azure_core::http::StatusCode::from(reply.status.as_u16()),
            out,
            reply.body,
        ))
    }
}

/// KEK versions held in Azure Key Vault (or a Managed HSM): each version is one version of one
/// Key Vault key.
///
/// - **Wrapping.** Key Vault's `wrapKey` has no associated data, so a wrap is two layers: a fresh
///   one-time 256-bit key seals the DEK with AES-256-GCM over the wrapped key's header and the
///   caller's context (as [`LocalKek`](crate::LocalKek) does), and Key Vault wraps the one-time
///   key under the active version (`RSA-OAEP-256`, or `A256KW` for a Managed HSM). A wrapped key
///   moved to another workspace or relabelled fails to open ([`Error::Decrypt`]).
/// - **Versions.** Each KEK version names a Key Vault key version, and both calls name it in the
///   path, so a key wrapped before the vault key rotated still unwraps under its own version; the
///   `kid` Key Vault answers with must name the same key and version.
/// - **Transport.** The official SDK (`azure_security_keyvault_keys`) over ward's HTTPS client
///   ([`azure_transport`]); Key Vault's challenge-based authentication with the credential given;
///   the SDK's retry policy (throttling honours `Retry-After`), configured from [`HttpPolicy`].
/// - **Permissions.** `wrapKey` and `unwrapKey` on the key (the built-in role *Key Vault Crypto
///   Service Encryption User* grants them, with `get`); nothing else.
///
/// The one-time key crosses the network inside TLS; the copies inside the SDK and HTTP stack are
/// freed without being zeroized. The DEK itself never leaves the process.
pub struct AzureKeyVaultKek {
    client: KeyClient,
    key: String,
    versions: KeyRing<String>,
    algorithm: AzureWrapAlgorithm,
}

impl AzureKeyVaultKek {
    /// Checks the configuration and builds the client with `credential` (an `azure_identity`
    /// credential built over [`azure_transport`], or any `TokenCredential`).
    ///
    /// An `http://` vault URL is refused ([`Error::HttpsRequired`]) unless `WARD_ENV` is exactly
    /// `development` (the SDK itself never sends a token over http).
    pub fn connect(
        config: AzureKeyVaultConfig,
        credential: Arc<dyn TokenCredential>,
    ) -> Result<Self> {
        let environment = crate::env::from_env()?;
        let url = kek_http::base_address(PROVIDER, SERVICE, &config.vault_url, environment)?;
        check_name("key name", &config.key)?;
        for id in config.versions.ids() {
            let version = config
                .versions
                .get(id)
                .map(String::as_str)
                .unwrap_or_default();
            if version.trim().is_empty() {
                return Err(KeyRingError::EmptyKmsKeyId { kek_id: id }.into());
            }
            check_name("key version", version)?;
        }
        let policy = config.http;
        let max_retries = policy.attempts.max(1) - 1;
        let retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: sdk_duration(policy.initial_backoff),
            max_retries,
            max_total_elapsed: sdk_duration(
                (policy.request_timeout + policy.max_backoff)
                    .saturating_mul(policy.attempts.max(1)),
            ),
            max_delay: sdk_duration(policy.max_backoff),
        });
        let options = KeyClientOptions {
            client_options: ClientOptions {
                transport: Some(azure_transport(config.ca_pem.as_deref(), policy)?),
                retry,
                ..ClientOptions::default()
            },
            verify_challenge_resource: Some(config.challenge_resource_check),
            ..KeyClientOptions::default()
        };
        let client = KeyClient::new(&url, credential, Some(options))
            .map_err(|e| provider(format!("building the client: {e}")))?;
        Ok(Self {
            client,
            key: config.key,
            versions: config.versions,
            algorithm: config.algorithm,
        })
    }

    fn version(&self, id: KekId) -> Result<&str> {
        self.versions
            .get(id)
            .map(String::as_str)
            .ok_or(Error::UnknownKekId { kek_id: id })
    }

    /// Checks that a `kid` names this key at `version`.
    fn check_kid(&self, kek_id: KekId, version: &str, kid: Option<&str>) -> Result<()> {
        let expected = format!("/keys/{}/{version}", self.key);
        if kid.is_some_and(|kid| kid.trim_end_matches('/').ends_with(&expected)) {
            return Ok(());
        }
        Err(provider(format!(
            "key vault answered for another key than kek {kek_id} (`{}` version `{version}`)",
            self.key
        )))
    }
}

fn sdk_duration(duration: std::time::Duration) -> azure_core::time::Duration {
    azure_core::time::Duration::try_from(duration).unwrap_or(azure_core::time::Duration::MAX)
}

/// Key Vault names and versions: letters, digits and `-`, at most 127 characters.
fn check_name(what: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(provider(format!(
            "the {what} must be letters, digits and `-` (at most 127)"
        )))
    }
}

fn provider(message: String) -> Error {
    Error::Provider {
        provider: PROVIDER,
        message,
    }
}

/// An SDK failure, with the vault's status when it answered, and the causes.
fn sdk_error(what: &str, err: &azure_core::Error) -> Error {
    let said = kek_http::error_chain(err);
    match err.http_status() {
        Some(status) => provider(format!(
            "{what}: Key Vault answered {}: {said}",
            u16::from(status)
        )),
        None => provider(format!("{what}: {said}")),
    }
}

#[async_trait::async_trait]
impl KeyEncryptionKey for AzureKeyVaultKek {
    fn active_id(&self) -> KekId {
        self.versions.active().0
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.versions.ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let (kek_id, version) = self.versions.active();
        let header = Header {
            kek_id,
            dek_id: dek.id(),
        };
        let one_time = KeyMaterial::generate()?;
        let sealed = seal_data_key(&AeadKey::new(&one_time), &header.to_bytes(), context, dek)?;
        let parameters = KeyOperationParameters {
            algorithm: Some(self.algorithm.sdk()),
            // This copy belongs to the SDK from here on (see the type's docs).
            value: Some(one_time.expose().to_vec()),
            ..KeyOperationParameters::default()
        };
        let options = KeyClientWrapKeyOptions {
            key_version: Some(version.clone()),
            ..KeyClientWrapKeyOptions::default()
        };
        let result = self
            .client
            .wrap_key(
                &self.key,
                parameters
                    .try_into()
                    .map_err(|e| sdk_error("wrapKey", &e))?,
                Some(options),
            )
            .await
            .map_err(|e| sdk_error("wrapKey", &e))?
            .into_model()
            .map_err(|e| sdk_error("wrapKey", &e))?;
        self.check_kid(kek_id, version, result.kid.as_deref())?;
        let wrapped = result
            .result
            .filter(|w| !w.is_empty() && w.len() <= MAX_WRAPPED_KEY)
            .ok_or_else(|| provider("wrapKey: the answer holds no wrapped key".to_owned()))?;
        let len = u16::try_from(wrapped.len())
            .map_err(|_| provider("wrapKey: the wrapped key is too long".to_owned()))?;
        let mut body = Vec::with_capacity(2 + wrapped.len() + SEALED_KEY_LEN);
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&wrapped);
        body.extend_from_slice(&sealed);
        tracing::debug!(kek_id = %kek_id, dek_id = %dek.id(), "wrapped data key with Azure Key Vault");
        Ok(WrappedDataKey::from_parts(header, &body))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kek_id = wrapped.kek_id();
        let version = self.version(kek_id)?;
        let malformed = || Error::Malformed {
            format: "wrapped data key",
            reason: "an Azure Key Vault body must be a length, the wrapped key and a sealed key",
        };
        let (len, rest) = wrapped
            .body()
            .split_first_chunk::<2>()
            .ok_or_else(malformed)?;
        let len = usize::from(u16::from_be_bytes(*len));
        if len == 0 || len > MAX_WRAPPED_KEY || rest.len() != len + SEALED_KEY_LEN {
            return Err(malformed());
        }
        let (one_time_wrapped, sealed) = rest.split_at(len);
        let parameters = KeyOperationParameters {
            algorithm: Some(self.algorithm.sdk()),
            value: Some(one_time_wrapped.to_vec()),
            ..KeyOperationParameters::default()
        };
        let answer = self
            .client
            .unwrap_key(
                &self.key,
                version,
                parameters
                    .try_into()
                    .map_err(|e| sdk_error("unwrapKey", &e))?,
                Some(KeyClientUnwrapKeyOptions::default()),
            )
            .await;
        let result = match answer {
            Ok(response) => response
                .into_model()
                .map_err(|e| sdk_error("unwrapKey", &e))?,
            // A modified wrapped key: one detail-free variant, as locally.
            Err(e) if e.http_status().map(u16::from) == Some(400) => return Err(Error::Decrypt),
            Err(e) => return Err(sdk_error("unwrapKey", &e)),
        };
        self.check_kid(kek_id, version, result.kid.as_deref())?;
        let one_time = Zeroizing::new(result.result.unwrap_or_default());
        if one_time.len() != KEY_LEN {
            return Err(Error::Decrypt);
        }
        let one_time = KeyMaterial::from_bytes(&one_time)?;
        open_data_key(&AeadKey::new(&one_time), wrapped, sealed, context)
    }
}

impl fmt::Debug for AzureKeyVaultKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureKeyVaultKek")
            .field("vault", &self.client.endpoint().as_str())
            .field("key", &self.key)
            .field("algorithm", &self.algorithm)
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}
