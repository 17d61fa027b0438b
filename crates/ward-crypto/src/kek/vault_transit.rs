//! HashiCorp Vault's Transit engine as a KEK provider (feature `vault-transit`): DEKs are
//! wrapped by Transit `encrypt` and unwrapped by `decrypt` under a derived key; the KEK never
//! leaves Vault, and Vault's key versions are ward's KEK versions.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, StatusCode, Uri};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::env::Environment;
use crate::error::{Error, Result};
use crate::format::wrapped::Header;
use crate::kek::http::{self as kek_http, HttpClient, HttpPolicy, Reply};
use crate::kek::refresh::{Refreshing, RingRefresh};
use crate::kek::{KeyEncryptionKey, WrappedDataKey};
use crate::keys::{DataKey, KekId, KeyMaterial};

const PROVIDER: &str = "vault-transit";
const SERVICE: &str = "vault";
/// The Transit key types ward accepts: AEAD ciphers, whose derived keys authenticate the context.
const AEAD_TYPES: [&str; 3] = ["aes256-gcm96", "chacha20-poly1305", "aes128-gcm96"];
/// The most key versions one ring may hold (`latest_version - min_decryption_version + 1`).
const MAX_VERSIONS: u32 = 4096;
/// The longest Transit ciphertext ward unwraps (a 32-byte key gives about 90 bytes).
const MAX_CIPHERTEXT: usize = 1024;

/// Where and how to reach a Transit key.
///
/// ```
/// use ward_crypto::{RingRefresh, VaultTransitConfig};
/// use ward_crypto::secrecy::SecretString;
///
/// let config = VaultTransitConfig::new(
///     "https://vault.internal:8200",
///     SecretString::from("hvs.example-token"),
///     "ward-kek",
/// )
/// .with_mount("transit")
/// .with_refresh(RingRefresh::default());
/// assert!(!format!("{config:?}").contains("hvs.example-token"));
/// ```
#[derive(Clone)]
pub struct VaultTransitConfig {
    address: String,
    token: SecretString,
    key: String,
    mount: String,
    namespace: Option<String>,
    ca_pem: Option<Vec<u8>>,
    refresh: RingRefresh,
    http: HttpPolicy,
}

impl VaultTransitConfig {
    /// The Transit key `key` of the Vault at `address` (`https://host:port`), read with `token`,
    /// on the mount `transit`, trusting the system's roots.
    pub fn new(address: impl Into<String>, token: SecretString, key: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            token,
            key: key.into(),
            mount: "transit".to_owned(),
            namespace: None,
            ca_pem: None,
            refresh: RingRefresh::default(),
            http: HttpPolicy::default(),
        }
    }

    /// The path the Transit engine is mounted at (default `transit`).
    pub fn with_mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = mount.into();
        self
    }

    /// The Vault namespace (Vault Enterprise, HCP Vault), sent as `X-Vault-Namespace`.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Trusts only the CA certificates of this PEM bundle for Vault's TLS certificate.
    pub fn with_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// How long the key's versions are used before Vault is asked again.
    pub fn with_refresh(mut self, refresh: RingRefresh) -> Self {
        self.refresh = refresh;
        self
    }

    /// Timeouts and retries of the calls to Vault.
    pub fn with_http_policy(mut self, policy: HttpPolicy) -> Self {
        self.http = policy;
        self
    }
}

impl fmt::Debug for VaultTransitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultTransitConfig")
            .field("address", &self.address)
            .field("key", &self.key)
            .field("mount", &self.mount)
            .field("namespace", &self.namespace)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "(set)"))
            .field("refresh", &self.refresh)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

/// The versions of the Transit key, as Vault last reported them.
struct Versions {
    /// `latest_version`: what new DEKs are wrapped under.
    active: KekId,
    /// `min_decryption_version ..= latest_version`.
    ids: Vec<KekId>,
}

/// KEK versions held in Vault's Transit engine: the versions of one Transit key.
///
/// - **Versions.** ward's KEK version *n* is the Transit key's version *n*. New DEKs are wrapped
///   under `latest_version` (pinned with `key_version`, and the answer's `vault:vN:` prefix must
///   say so); every version from `min_decryption_version` up unwraps. Rotating the key in Vault
///   (`vault write -f transit/keys/<key>/rotate`) is rotating ward's KEK: new wraps move to the
///   new version within [`RingRefresh::max_age`], and `ward keys rewrap` moves old DEKs over.
///   Raising `min_decryption_version` retires versions.
/// - **Binding.** The key must be a derived AEAD key (`derived=true`, type `aes256-gcm96`,
///   `chacha20-poly1305` or `aes128-gcm96`); [`connect`](Self::connect) refuses any other. The
///   derivation context is the wrapped key's header followed by the caller's context (the
///   workspace), so a wrapped key moved to another workspace or relabelled fails to unwrap
///   ([`Error::Decrypt`]).
/// - **Transport.** HTTPS (rustls on ring) to the address; `http://` only when `WARD_ENV` is
///   `development`. The token travels as `X-Vault-Token` and is never logged or shown. Calls are
///   retried on throttling and server errors as [`HttpPolicy`] says.
/// - **Permissions.** The token's policy needs `read` on `<mount>/keys/<key>` and `update` on
///   `<mount>/encrypt/<key>` and `<mount>/decrypt/<key>`; nothing else.
///
/// As with every remote provider, the DEK crosses the network inside the TLS connection to be
/// wrapped and unwrapped; the request and response bodies inside the HTTP stack are freed without
/// being zeroized.
///
/// ```no_run
/// use ward_crypto::{VaultTransitConfig, VaultTransitKek};
/// use ward_crypto::secrecy::SecretString;
///
/// # async fn example() -> ward_crypto::Result<()> {
/// let config = VaultTransitConfig::new(
///     "https://vault.internal:8200",
///     SecretString::from(std::env::var("VAULT_TOKEN").unwrap_or_default()),
///     "ward-kek",
/// );
/// let kek = VaultTransitKek::connect(config).await?;
/// # Ok(()) }
/// ```
pub struct VaultTransitKek {
    transit: Transit,
    versions: Refreshing<Versions>,
}

/// The calls to one Transit key.
struct Transit {
    http: HttpClient,
    /// `<address>/v1/<mount>`.
    base: String,
    key: String,
    headers: HeaderMap,
}

impl VaultTransitKek {
    /// Checks the configuration, reads the key's metadata and refuses a key ward cannot bind.
    ///
    /// An `http://` address is refused ([`Error::HttpsRequired`]) unless `WARD_ENV` is exactly
    /// `development`; an unset `WARD_ENV` means `production`.
    pub async fn connect(config: VaultTransitConfig) -> Result<Self> {
        let environment = crate::env::from_env()?;
        Self::connect_in(config, environment).await
    }

    async fn connect_in(config: VaultTransitConfig, environment: Environment) -> Result<Self> {
        let address = kek_http::base_address(PROVIDER, SERVICE, &config.address, environment)?;
        check_name("mount", &config.mount, true)?;
        check_name("key name", &config.key, false)?;
        if config.token.expose_secret().trim().is_empty() {
            return Err(provider("the Vault token is empty".to_owned()));
        }
        let mut token =
            kek_http::header_value(PROVIDER, "Vault token", config.token.expose_secret())?;
        token.set_sensitive(true);
        let mut headers = vec![(HeaderName::from_static("x-vault-token"), token)];
        if let Some(namespace) = &config.namespace {
            check_name("namespace", namespace, true)?;
            headers.push((
                HeaderName::from_static("x-vault-namespace"),
                kek_http::header_value(PROVIDER, "namespace", namespace)?,
            ));
        }
        let transit = Transit {
            http: HttpClient::new(PROVIDER, config.ca_pem.as_deref(), config.http)?,
            base: format!("{address}/v1/{}", config.mount.trim_matches('/')),
            key: config.key,
            headers: kek_http::headers(headers),
        };
        let versions = transit.read_versions().await?;
        Ok(Self {
            transit,
            versions: Refreshing::new(versions, config.refresh),
        })
    }
}

impl Transit {
    fn uri(&self, path: &str) -> Result<Uri> {
        format!("{}/{path}/{}", self.base, self.key)
            .parse()
            .map_err(|_| provider(format!("the url for `{path}` is not valid")))
    }

    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<Reply> {
        let uri = self.uri(path)?;
        self.http
            .send(what, method, &uri, &self.headers, body)
            .await
    }

    /// Reads the key's versions and checks it is a derived AEAD key.
    async fn read_versions(&self) -> Result<Versions> {
        let reply = self.call("read key", Method::GET, "keys", None).await?;
        if reply.status != StatusCode::OK {
            return Err(status_error("read key", &self.key, &reply));
        }
        let answer: Answer<KeyInfo> = parse("read key", &reply.body)?;
        versions(&self.key, &answer.data)
    }
}

/// Vault's answer envelope: what a call returns sits under `data`.
#[derive(Deserialize)]
struct Answer<T> {
    data: T,
}

#[derive(Deserialize)]
struct KeyInfo {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    derived: bool,
    latest_version: u32,
    #[serde(default)]
    min_decryption_version: u32,
}

#[derive(Deserialize)]
struct Encrypted {
    ciphertext: String,
}

#[derive(Deserialize)]
struct Decrypted {
    /// Moved into a zeroizing buffer as soon as it is parsed.
    plaintext: String,
}

/// The versions a key's metadata describes, after checking ward can bind it.
fn versions(key: &str, info: &KeyInfo) -> Result<Versions> {
    if !info.derived {
        return Err(provider(format!(
            "transit key `{key}` is not derived: ward binds every wrapped key to its workspace \
             through the key derivation context, so the key must be created with derived=true"
        )));
    }
    if !AEAD_TYPES.contains(&info.kind.as_str()) {
        return Err(provider(format!(
            "transit key `{key}` has type `{}`; ward needs one of {}",
            info.kind,
            AEAD_TYPES.join(", ")
        )));
    }
    let first = info.min_decryption_version.max(1);
    let last = info.latest_version;
    if last < first || last - first >= MAX_VERSIONS {
        return Err(provider(format!(
            "transit key `{key}` reports versions {first}..={last}, which ward cannot use"
        )));
    }
    Ok(Versions {
        active: KekId(last),
        ids: (first..=last).map(KekId).collect(),
    })
}

/// Checks a mount, key or namespace name: letters, digits, `-`, `_`, `.`, and `/` between
/// segments where `segments` allows; nothing that could change the request's path.
fn check_name(what: &str, name: &str, segments: bool) -> Result<()> {
    let trimmed = if segments {
        name.trim_matches('/')
    } else {
        name
    };
    let valid = !trimmed.is_empty()
        && trimmed.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        && (segments || !trimmed.contains('/'));
    if valid {
        Ok(())
    } else {
        Err(provider(format!(
            "the {what} must be letters, digits, `-`, `_` and `.`{}",
            if segments {
                ", in `/`-separated segments"
            } else {
                ""
            }
        )))
    }
}

/// The derivation context of a wrap: the wrapped key's header, then the caller's context.
fn derivation_context(header: &[u8], context: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(header.len() + context.len());
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(context);
    BASE64.encode(bytes)
}

/// The `vault:v<version>:` prefix of a Transit ciphertext under `kek_id`.
fn prefix(kek_id: KekId) -> String {
    format!("vault:v{}:", kek_id.0)
}

fn provider(message: String) -> Error {
    Error::Provider {
        provider: PROVIDER,
        message,
    }
}

fn parse<'a, T: Deserialize<'a>>(what: &str, body: &'a [u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|_| provider(format!("{what}: Vault's answer is not the expected JSON")))
}

/// An answer that is not a success, with Vault's own error texts (which name paths and rules,
/// never key material).
fn status_error(what: &str, key: &str, reply: &Reply) -> Error {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let said = serde_json::from_slice::<Errors>(&reply.body)
        .map(|e| e.errors.join("; "))
        .unwrap_or_default();
    let said: String = said.chars().take(300).collect();
    let hint = match reply.status {
        StatusCode::NOT_FOUND => format!(" (no transit key `{key}` on this mount)"),
        StatusCode::FORBIDDEN => {
            " (the token is invalid or its policy does not allow this)".to_owned()
        }
        StatusCode::SERVICE_UNAVAILABLE => " (Vault is sealed or in standby)".to_owned(),
        _ => String::new(),
    };
    provider(format!(
        "{what}: Vault answered {}{hint}: {said}",
        reply.status.as_u16()
    ))
}

#[async_trait::async_trait]
impl KeyEncryptionKey for VaultTransitKek {
    fn active_id(&self) -> KekId {
        self.versions.last().value.active
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.versions.last().value.ids.clone()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let transit = &self.transit;
        let active = self
            .versions
            .fresh(|| transit.read_versions())
            .await?
            .value
            .active;
        let header = Header {
            kek_id: active,
            dek_id: dek.id(),
        };
        let plaintext = Zeroizing::new(BASE64.encode(dek.material().expose()));
        let body = serde_json::json!({
            "plaintext": plaintext.as_str(),
            "context": derivation_context(&header.to_bytes(), context),
            "key_version": active.0,
        });
        // This copy belongs to the HTTP stack from here on (see the type's docs).
        let body = Bytes::from(body.to_string());
        let reply = transit
            .call("encrypt", Method::POST, "encrypt", Some(body))
            .await?;
        if reply.status != StatusCode::OK {
            return Err(status_error("encrypt", &transit.key, &reply));
        }
        let answer: Answer<Encrypted> = parse("encrypt", &reply.body)?;
        let ciphertext = answer.data.ciphertext;
        if !ciphertext.starts_with(&prefix(active)) || ciphertext.len() > MAX_CIPHERTEXT {
            return Err(provider(format!(
                "encrypt: Vault did not answer with a ciphertext under version {}",
                active.0
            )));
        }
        tracing::debug!(kek_id = %active, dek_id = %dek.id(), "wrapped data key with Vault Transit");
        Ok(WrappedDataKey::from_parts(header, ciphertext.as_bytes()))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kek_id = wrapped.kek_id();
        let transit = &self.transit;
        let versions = self.versions.fresh(|| transit.read_versions()).await?;
        if !versions.value.ids.contains(&kek_id) {
            // The key may have rotated in Vault since its versions were read.
            let again = self
                .versions
                .after_unknown_key(|| transit.read_versions())
                .await?;
            if !again.value.ids.contains(&kek_id) {
                return Err(Error::UnknownKekId { kek_id });
            }
        }
        let ciphertext = std::str::from_utf8(wrapped.body()).map_err(|_| Error::Decrypt)?;
        // The version Vault would use is the one in the ciphertext: it must be the header's.
        if !ciphertext.starts_with(&prefix(kek_id)) || ciphertext.len() > MAX_CIPHERTEXT {
            return Err(Error::Decrypt);
        }
        let body = serde_json::json!({
            "ciphertext": ciphertext,
            "context": derivation_context(wrapped.header_bytes(), context),
        });
        let reply = transit
            .call(
                "decrypt",
                Method::POST,
                "decrypt",
                Some(Bytes::from(body.to_string())),
            )
            .await?;
        match reply.status {
            StatusCode::OK => {}
            // Wrong context, modified ciphertext: one detail-free variant, as locally.
            StatusCode::BAD_REQUEST => return Err(Error::Decrypt),
            _ => return Err(status_error("decrypt", &transit.key, &reply)),
        }
        let answer: Answer<Decrypted> = parse("decrypt", &reply.body)?;
        let encoded = Zeroizing::new(answer.data.plaintext);
        let key = Zeroizing::new(
            BASE64
                .decode(encoded.as_bytes())
                .map_err(|_| provider("decrypt: the plaintext is not base64".to_owned()))?,
        );
        Ok(DataKey::new(
            wrapped.dek_id(),
            KeyMaterial::from_bytes(&key)?,
        ))
    }
}

impl fmt::Debug for VaultTransitKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultTransitKek")
            .field("base", &self.transit.base)
            .field("key", &self.transit.key)
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .field("refresh", &self.versions.policy())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: &str, derived: bool, latest: u32, min_dec: u32) -> KeyInfo {
        KeyInfo {
            kind: kind.to_owned(),
            derived,
            latest_version: latest,
            min_decryption_version: min_dec,
        }
    }

    #[test]
    fn only_derived_aead_keys_with_sane_versions_are_used() {
        let v = versions("k", &info("aes256-gcm96", true, 3, 2)).unwrap();
        assert_eq!(v.active, KekId(3));
        assert_eq!(v.ids, vec![KekId(2), KekId(3)]);
        let v = versions("k", &info("chacha20-poly1305", true, 1, 0)).unwrap();
        assert_eq!(v.ids, vec![KekId(1)]);

        for (bad, says) in [
            (info("aes256-gcm96", false, 1, 1), "is not derived"),
            (info("rsa-4096", true, 1, 1), "has type `rsa-4096`"),
            (info("aes256-gcm96", true, 0, 1), "versions 1..=0"),
            (info("aes256-gcm96", true, 2, 3), "versions 3..=2"),
            (info("aes256-gcm96", true, 5000, 1), "versions 1..=5000"),
        ] {
            let err = versions("k", &bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn names_that_could_change_the_path_are_refused() {
        for good in ["transit", "kv/transit", "ward-kek_2.v1"] {
            assert!(check_name("mount", good, true).is_ok(), "{good}");
        }
        assert!(check_name("mount", "/transit/", true).is_ok());
        for bad in ["", "a/../b", "..", "a b", "a?b", "a#b", "a%2f", "a//b"] {
            assert!(check_name("mount", bad, true).is_err(), "{bad}");
        }
        assert!(check_name("key name", "a/b", false).is_err());
        assert!(check_name("key name", "ward-kek", false).is_ok());
    }

    #[tokio::test]
    async fn an_http_address_is_refused_outside_development_before_any_request() {
        let config = VaultTransitConfig::new(
            "http://127.0.0.1:9",
            SecretString::from("token"),
            "ward-kek",
        );
        let err = VaultTransitKek::connect_in(config.clone(), Environment::Production)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::HttpsRequired {
                environment: "production",
                service: "vault"
            }
        ));
        // In development the address is used: nothing listens there, so the call fails.
        let err = VaultTransitKek::connect_in(
            config.with_http_policy(HttpPolicy {
                attempts: 1,
                ..HttpPolicy::default()
            }),
            Environment::Development,
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("read key: request failed"),
            "{err}"
        );
    }
}
