//! Configuration: read from `WARD_*` environment variables, checked as a whole, and the
//! embedded default for a machine with none.
//!
//! # The settings
//!
//! | variable | meaning | embedded default (development only) |
//! |---|---|---|
//! | `WARD_ENV` | `development`, `staging` or `production`; unset means production, except that an unconfigured ward is development | — |
//! | `WARD_DATABASE_URL` | `postgres://…` or `sqlite://…` | `sqlite://<data dir>/ward.db` |
//! | `WARD_STORE` | `s3` (the bucket from `WARD_S3_*`, see ward-storage) or `local:<directory>` | `local:<data dir>/objects` |
//! | `WARD_KEK_PROVIDER` | where the key-encryption keys live: `local`, `aws-kms`, `aws-secrets-manager`, `vault-transit`, `azure-key-vault` or `gcp-kms` (see [below](#key-encryption-keys)) | `local` |
//! | `WARD_KEK` / `WARD_KEK_FILE` | provider `local`: the KEK ring, inline or in a file of mode 0600 (`<version>:<base64 key>:<state>`, see ward-crypto) | generated once into `<data dir>/kek.ring` |
//! | `WARD_TOKEN_SECRET` / `WARD_TOKEN_SECRET_FILE` | the HS256 token secret, base64 of at least 32 bytes; download links are signed with a key derived from it | generated once into `<data dir>/token.secret` |
//! | `WARD_TOKEN_PUBLIC_KEY_FILE` | the identity provider's Ed25519 or RSA public key (PEM): tokens must be signed by it (EdDSA or RS256) instead of HS256 under the secret, which then signs download links only | unset: HS256 |
//! | `WARD_LISTEN` | the address to listen on | `127.0.0.1:8080` |
//! | `WARD_PUBLIC_URL` | the service's address as browsers reach it (`https://ward.example.org`): download links are absolute under it; https outside development | unset: links are paths relative to the service |
//! | `WARD_UPLOADS_PER_MINUTE` | uploads each user may make per minute, counted in the database across replicas | `10` |
//! | `WARD_UPLOAD_CONCURRENCY` | uploads one replica works on at once; more wait (up to 30 s, then 503) with their bodies unread. Bounds the memory uploads take: about three times the file each | `8` |
//! | `WARD_SCANNER` | the malware scanner every upload passes: clamd at `tcp://host:3310` or `unix:/run/clamav/clamd.ctl`, or `off` (development only, said loudly at start). An upload the scanner cannot judge is refused | `off` in development; required elsewhere |
//! | `WARD_SCANNER_TIMEOUT_SECS` | how long one scan may take, waiting for clamd included (1 to 600) | `60` |
//! | `WARD_SCANNER_MAX_BYTES` | the longest file sent to clamd: set it to clamd's `StreamMaxLength`; a longer upload is refused (413) | `26214400` (25 MiB) |
//! | `WARD_TLS_CERT_FILE`, `WARD_TLS_KEY_FILE` | PEM certificate chain and key: the service terminates TLS 1.3 itself, reloading them when they change (both or neither) | plain HTTP |
//! | `WARD_DATA_DIR` | where the embedded default keeps its files | `./ward-data` |
//!
//! # Which rules apply
//!
//! - **Nothing configured** (none of the database, store, KEK or token settings, and `WARD_ENV`
//!   unset or `development`): the embedded default. Everything lives under the data directory
//!   (mode 0700), keys are generated once (mode 0600) and kept, and the service says loudly that
//!   this is development.
//! - **`WARD_ENV=development` with some settings**: what is set is used; what is missing comes
//!   from the embedded default, each named in a warning.
//! - **Anything else** (`production`, `staging`, or `WARD_ENV` unset with any setting given):
//!   every one of the four must be given; nothing is generated; a missing or malformed setting
//!   stops the start with every problem named at once.
//!
//! # Key-encryption keys
//!
//! `WARD_KEK_PROVIDER` names one provider; each takes its own variables, and a variable of
//! another provider is refused so that nothing configured is silently ignored. Every provider but
//! `local` needs a ward built with the cargo feature of the same name.
//!
//! | provider | variables |
//! |---|---|
//! | `local` | `WARD_KEK` or `WARD_KEK_FILE`; in production also `WARD_KEK_ALLOW_LOCAL=true`, since keys kept beside the service are refused there unless explicitly accepted |
//! | `aws-kms` | `WARD_KEK_AWS_KMS_KEYS`: `<version>:<key id, ARN or alias>[:active]` items, comma- or newline-separated, exactly one active; region and credentials from the standard AWS sources |
//! | `aws-secrets-manager` | `WARD_KEK_SECRET_ID`: the secret (name or ARN) whose string is a ring in the `local` format; region and credentials from the standard AWS sources |
//! | `azure-key-vault` | `WARD_KEK_AZURE_VAULT_URL`, `WARD_KEK_AZURE_KEY`, `WARD_KEK_AZURE_KEY_VERSIONS` (`<version>:<Key Vault key version>[:active]` items); optional `WARD_KEK_AZURE_ALGORITHM` (`RSA-OAEP-256`, or `A256KW` for a Managed HSM), `WARD_KEK_AZURE_CREDENTIAL` (`managed-identity`, the default, `workload-identity` or `client-secret`, each reading the standard `AZURE_*` variables), `WARD_KEK_AZURE_CA_FILE` (a PEM bundle for the vault's certificate), `WARD_KEK_AZURE_VERIFY_CHALLENGE_RESOURCE` (`true`; `false` only for a vault reached at an IP address) |
//! | `gcp-kms` | `WARD_KEK_GCP_KMS_KEYS`: `<version>:projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>[:active]` items, exactly one active; optional `WARD_KEK_GCP_KMS_ENDPOINT` (a regional or Private Service Connect endpoint, `https://…`); credentials are Application Default Credentials |
//! | `vault-transit` | `WARD_KEK_VAULT_ADDR` (`https://…`), `WARD_KEK_VAULT_TOKEN` or `WARD_KEK_VAULT_TOKEN_FILE`, `WARD_KEK_VAULT_KEY`; optional `WARD_KEK_VAULT_MOUNT` (`transit`), `WARD_KEK_VAULT_NAMESPACE`, `WARD_KEK_VAULT_CA_FILE` |
//!
//! The embedded default listens on loopback only: it refuses a `WARD_LISTEN` that is not a
//! loopback address, since its keys sit unprotected beside its data.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ward_crypto::KeyMaterial;
use ward_domain::ward_storage::Environment;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default embedded data directory.
pub const DEFAULT_DATA_DIR: &str = "ward-data";

/// The settings that decide between the embedded default and explicit configuration.
const EXPLICIT: [&str; 7] = [
    "WARD_DATABASE_URL",
    "WARD_STORE",
    "WARD_KEK_PROVIDER",
    "WARD_KEK",
    "WARD_KEK_FILE",
    "WARD_TOKEN_SECRET",
    "WARD_TOKEN_SECRET_FILE",
];

/// Where the object store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// An S3-compatible bucket configured by `WARD_S3_*` (ward-storage's `S3StoreBuilder::from_env`).
    S3,
    /// A directory on this machine.
    Local(PathBuf),
}

/// Whether and where uploads are scanned for malware (`WARD_SCANNER`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScannerSetting {
    /// clamd at this address.
    Clamd {
        /// Where clamd listens.
        address: ward_domain::ClamdAddress,
        /// How long one scan may take (`WARD_SCANNER_TIMEOUT_SECS`).
        timeout: std::time::Duration,
        /// The longest file sent (`WARD_SCANNER_MAX_BYTES`, clamd's `StreamMaxLength`).
        max_bytes: u64,
    },
    /// No scanning: development only.
    Off,
}

/// The longest file sent to clamd unless configured: 25 MiB (Debian's `StreamMaxLength`).
pub const DEFAULT_SCANNER_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// How long a scan may take unless configured: 60 s.
pub const DEFAULT_SCANNER_TIMEOUT_SECS: u64 = 60;

/// Where a secret comes from.
#[derive(Clone)]
pub enum SecretSetting {
    /// The value itself, from the environment (zeroized when dropped).
    Inline(Zeroizing<String>),
    /// A file that must be readable by its owner only.
    File(PathBuf),
    /// A file of the embedded default, generated when it does not exist yet.
    Generated(PathBuf),
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inline(_) => f.write_str("Inline(<redacted>)"),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
            Self::Generated(p) => f.debug_tuple("Generated").field(p).finish(),
        }
    }
}

/// Where the key-encryption keys live (`WARD_KEK_PROVIDER` and the provider's variables).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KekSetting {
    /// A ring of keys held by the service itself (ward-crypto's `LocalKek`).
    Local(SecretSetting),
    /// AWS KMS keys, one per KEK version: `(version, key id / ARN / alias, active)`.
    AwsKms(Vec<(u32, String, bool)>),
    /// A ring kept in an AWS Secrets Manager secret, by name or ARN.
    AwsSecretsManager {
        /// The secret's name or ARN.
        secret_id: String,
    },
    /// A key of HashiCorp Vault's Transit engine.
    VaultTransit(VaultSetting),
    /// Versions of an Azure Key Vault (or Managed HSM) key.
    AzureKeyVault(AzureSetting),
    /// Google Cloud KMS crypto keys.
    GcpKms(GcpSetting),
}

impl KekSetting {
    /// The provider's name, as `WARD_KEK_PROVIDER` spells it.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::AwsKms(_) => "aws-kms",
            Self::AwsSecretsManager { .. } => "aws-secrets-manager",
            Self::VaultTransit(_) => "vault-transit",
            Self::AzureKeyVault(_) => "azure-key-vault",
            Self::GcpKms(_) => "gcp-kms",
        }
    }
}

/// Where and how to reach a Vault Transit key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VaultSetting {
    /// Vault's address (`https://host:8200`).
    pub address: String,
    /// The token, inline or from a file.
    pub token: SecretSetting,
    /// The Transit key's name.
    pub key: String,
    /// The Transit mount (default `transit`).
    pub mount: Option<String>,
    /// The Vault namespace.
    pub namespace: Option<String>,
    /// A PEM bundle of the CAs that may sign Vault's certificate (default: the system's roots).
    pub ca_file: Option<PathBuf>,
}

/// Where and how to reach an Azure Key Vault key.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AzureSetting {
    /// The vault's URL (`https://<name>.vault.azure.net`, or a Managed HSM's).
    pub vault_url: String,
    /// The key's name.
    pub key: String,
    /// KEK versions: `(ward version, Key Vault key version, active)`.
    pub versions: Vec<(u32, String, bool)>,
    /// `RSA-OAEP-256` (default) or `A256KW` (Managed HSM AES keys).
    pub algorithm: String,
    /// How ward obtains its tokens: `managed-identity`, `workload-identity` or `client-secret`.
    pub credential: String,
    /// A PEM bundle of the CAs that may sign the vault's certificate (default: the system's
    /// roots); the token endpoint keeps the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Whether the resource a vault's authentication challenge names must be a parent domain of
    /// the vault's host (default `true`); only a vault reached at an address outside its
    /// resource's domain (an IP address) needs `false`.
    pub verify_challenge_resource: bool,
}

/// Which Google Cloud KMS crypto keys hold the KEK versions, and where Cloud KMS is reached.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GcpSetting {
    /// KEK versions: `(ward version, crypto key name, active)`.
    pub keys: Vec<(u32, String, bool)>,
    /// Cloud KMS's endpoint, when not the global one (a regional or Private Service Connect
    /// endpoint).
    pub endpoint: Option<String>,
}

/// Every provider name `WARD_KEK_PROVIDER` takes.
pub const KEK_PROVIDERS: [&str; 6] = [
    "local",
    "aws-kms",
    "aws-secrets-manager",
    "vault-transit",
    "azure-key-vault",
    "gcp-kms",
];

/// How the Azure provider may obtain tokens (`WARD_KEK_AZURE_CREDENTIAL`).
pub const AZURE_CREDENTIALS: [&str; 3] = ["managed-identity", "workload-identity", "client-secret"];

/// The variables each provider reads, so another provider's are refused.
const PROVIDER_VARIABLES: [(&str, &[&str]); 6] = [
    (
        "local",
        &["WARD_KEK", "WARD_KEK_FILE", "WARD_KEK_ALLOW_LOCAL"],
    ),
    ("aws-kms", &["WARD_KEK_AWS_KMS_KEYS"]),
    ("aws-secrets-manager", &["WARD_KEK_SECRET_ID"]),
    (
        "vault-transit",
        &[
            "WARD_KEK_VAULT_ADDR",
            "WARD_KEK_VAULT_TOKEN",
            "WARD_KEK_VAULT_TOKEN_FILE",
            "WARD_KEK_VAULT_KEY",
            "WARD_KEK_VAULT_MOUNT",
            "WARD_KEK_VAULT_NAMESPACE",
            "WARD_KEK_VAULT_CA_FILE",
        ],
    ),
    (
        "azure-key-vault",
        &[
            "WARD_KEK_AZURE_VAULT_URL",
            "WARD_KEK_AZURE_KEY",
            "WARD_KEK_AZURE_KEY_VERSIONS",
            "WARD_KEK_AZURE_ALGORITHM",
            "WARD_KEK_AZURE_CREDENTIAL",
            "WARD_KEK_AZURE_CA_FILE",
            "WARD_KEK_AZURE_VERIFY_CHALLENGE_RESOURCE",
        ],
    ),
    (
        "gcp-kms",
        &["WARD_KEK_GCP_KMS_KEYS", "WARD_KEK_GCP_KMS_ENDPOINT"],
    ),
];

/// The service's configuration, checked: every field holds a usable setting.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The deployment environment.
    pub environment: Environment,
    /// The database URL.
    pub database_url: String,
    /// The object store.
    pub store: StoreSetting,
    /// Where the key-encryption keys live.
    pub kek: KekSetting,
    /// The token secret.
    pub token_secret: SecretSetting,
    /// The listening address.
    pub listen: SocketAddr,
    /// The base of absolute download links.
    pub public_url: Option<String>,
    /// The identity provider's public key file, when tokens are verified with it.
    pub token_public_key: Option<PathBuf>,
    /// Uploads each user may make per minute.
    pub uploads_per_minute: u32,
    /// Uploads this replica works on at once (`WARD_UPLOAD_CONCURRENCY`); more wait for a slot.
    pub upload_concurrency: usize,
    /// The malware scanner uploads pass.
    pub scanner: ScannerSetting,
    /// The certificate and key, when the service terminates TLS itself.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The embedded default's directory.
    pub data_dir: PathBuf,
    /// The settings taken from the embedded default, by variable (empty when configured).
    pub defaulted: Vec<&'static str>,
}

impl Config {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from `lookup` (a variable's value, or `None` when unset). Every
    /// problem is collected and named together in [`Error::Config`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut problems = Vec::new();
        let env_value = get("WARD_ENV");
        let environment = match Environment::from_env_value(env_value.as_deref()) {
            Ok(e) => e,
            Err(e) => {
                problems.push(format!("WARD_ENV: {e}"));
                Environment::Production
            }
        };
        let configured = EXPLICIT.iter().any(|name| get(name).is_some());
        let environment = if !configured && env_value.is_none() {
            Environment::Development
        } else {
            environment
        };
        let may_default = environment == Environment::Development;
        let data_dir =
            PathBuf::from(get("WARD_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into()));
        let mut defaulted = Vec::new();
        let mut missing = |name: &'static str, problems: &mut Vec<String>| {
            if may_default {
                defaulted.push(name);
            } else {
                problems.push(format!("{name} is not set"));
            }
        };

        let database_url = match get("WARD_DATABASE_URL") {
            Some(url)
                if url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                    || url.starts_with("sqlite:") =>
            {
                url
            }
            Some(_) => {
                problems.push("WARD_DATABASE_URL must be a postgres:// or sqlite: URL".to_owned());
                String::new()
            }
            None => {
                missing("WARD_DATABASE_URL", &mut problems);
                embedded_database_url(&data_dir)
            }
        };
        let store = match get("WARD_STORE").as_deref() {
            Some("s3") => StoreSetting::S3,
            Some(v) if v.starts_with("local:") && v.len() > "local:".len() => {
                StoreSetting::Local(PathBuf::from(&v["local:".len()..]))
            }
            Some(_) => {
                problems.push("WARD_STORE must be `s3` or `local:<directory>`".to_owned());
                StoreSetting::S3
            }
            None => {
                missing("WARD_STORE", &mut problems);
                StoreSetting::Local(data_dir.join("objects"))
            }
        };
        let kek = match kek_setting(&get, environment, &mut problems) {
            Some(kek) => kek,
            None => {
                missing("WARD_KEK", &mut problems);
                KekSetting::Local(SecretSetting::Generated(data_dir.join("kek.ring")))
            }
        };
        let token_secret = secret(
            &get,
            "WARD_TOKEN_SECRET",
            "WARD_TOKEN_SECRET_FILE",
            &mut problems,
        )
        .unwrap_or_else(|| {
            missing("WARD_TOKEN_SECRET", &mut problems);
            SecretSetting::Generated(data_dir.join("token.secret"))
        });
        let listen = match get("WARD_LISTEN")
            .unwrap_or_else(|| DEFAULT_LISTEN.into())
            .parse::<SocketAddr>()
        {
            Ok(a) => a,
            Err(_) => {
                problems.push("WARD_LISTEN must be an address such as 127.0.0.1:8080".to_owned());
                DEFAULT_LISTEN.parse().expect("the default address parses")
            }
        };
        let public_url = get("WARD_PUBLIC_URL");
        if let Some(url) = &public_url {
            let https = url.starts_with("https://");
            if !(https || (url.starts_with("http://") && !environment.is_strict())) {
                problems.push(format!(
                    "WARD_PUBLIC_URL must be an https:// URL in {}",
                    environment.as_str()
                ));
            }
        }
        let uploads_per_minute = match get("WARD_UPLOADS_PER_MINUTE")
            .map(|v| v.trim().parse::<u32>())
        {
            None => crate::service::DEFAULT_UPLOADS_PER_MINUTE,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                problems.push("WARD_UPLOADS_PER_MINUTE must be a whole number above 0".to_owned());
                0
            }
        };
        let upload_concurrency =
            match get("WARD_UPLOAD_CONCURRENCY").map(|v| v.trim().parse::<usize>()) {
                None => crate::service::DEFAULT_UPLOAD_CONCURRENCY,
                Some(Ok(n)) if (1..=1024).contains(&n) => n,
                Some(_) => {
                    problems.push(
                        "WARD_UPLOAD_CONCURRENCY must be a whole number from 1 to 1024".to_owned(),
                    );
                    0
                }
            };
        let scanner = scanner_setting(&get, environment, &mut problems);
        let tls = match (get("WARD_TLS_CERT_FILE"), get("WARD_TLS_KEY_FILE")) {
            (Some(cert), Some(key)) => Some(crate::tls::TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            _ => {
                problems.push(
                    "set both WARD_TLS_CERT_FILE and WARD_TLS_KEY_FILE, or neither".to_owned(),
                );
                None
            }
        };
        let generates = matches!(kek, KekSetting::Local(SecretSetting::Generated(_)))
            || matches!(token_secret, SecretSetting::Generated(_));
        if generates && !listen.ip().is_loopback() {
            problems.push(
                "WARD_LISTEN must be a loopback address while keys are generated by the \
                 embedded default (set WARD_KEK and WARD_TOKEN_SECRET to listen elsewhere)"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(Error::Config { problems });
        }
        Ok(Self {
            environment,
            database_url,
            store,
            kek,
            token_secret,
            listen,
            public_url,
            token_public_key: get("WARD_TOKEN_PUBLIC_KEY_FILE").map(PathBuf::from),
            uploads_per_minute,
            upload_concurrency,
            scanner,
            tls,
            data_dir,
            defaulted,
        })
    }

    /// Whether any setting comes from the embedded default.
    pub fn is_embedded(&self) -> bool {
        !self.defaulted.is_empty()
    }
}

/// The scanner `WARD_SCANNER` names, with its limits; `off` (or unset) outside development is a
/// problem, since every upload is scanned there.
fn scanner_setting(
    get: &impl Fn(&str) -> Option<String>,
    environment: Environment,
    problems: &mut Vec<String>,
) -> ScannerSetting {
    let number = |name: &str,
                  default: u64,
                  range: std::ops::RangeInclusive<u64>,
                  problems: &mut Vec<String>| {
        match get(name).map(|v| v.trim().parse::<u64>()) {
            None => default,
            Some(Ok(n)) if range.contains(&n) => n,
            Some(_) => {
                problems.push(format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ));
                default
            }
        }
    };
    let timeout = number(
        "WARD_SCANNER_TIMEOUT_SECS",
        DEFAULT_SCANNER_TIMEOUT_SECS,
        1..=600,
        problems,
    );
    let max_bytes = number(
        "WARD_SCANNER_MAX_BYTES",
        DEFAULT_SCANNER_MAX_BYTES,
        1..=u64::from(u32::MAX),
        problems,
    );
    let strict = environment != Environment::Development;
    match get("WARD_SCANNER").as_deref().map(str::trim) {
        None | Some("off") if !strict => ScannerSetting::Off,
        None => {
            problems.push(format!(
                "WARD_SCANNER is not set: in {} every upload is scanned (clamd at \
                 tcp://host:3310 or unix:/path/to/clamd.ctl)",
                environment.as_str()
            ));
            ScannerSetting::Off
        }
        Some("off") => {
            problems.push(format!(
                "WARD_SCANNER=off is for development only, not {}",
                environment.as_str()
            ));
            ScannerSetting::Off
        }
        Some(text) => match ward_domain::ClamdAddress::parse(text) {
            Some(address) => ScannerSetting::Clamd {
                address,
                timeout: std::time::Duration::from_secs(timeout),
                max_bytes,
            },
            None => {
                problems.push(
                    "WARD_SCANNER must be tcp://host:port, unix:/path/to/clamd.ctl or off"
                        .to_owned(),
                );
                ScannerSetting::Off
            }
        },
    }
}

/// The KEK setting `WARD_KEK_PROVIDER` names, with its variables checked; `None` when the
/// provider is `local` and no ring is given (the caller defaults it or names it missing).
fn kek_setting(
    get: &impl Fn(&str) -> Option<String>,
    environment: Environment,
    problems: &mut Vec<String>,
) -> Option<KekSetting> {
    let provider = get("WARD_KEK_PROVIDER").map(|p| p.trim().to_ascii_lowercase());
    let provider = provider.as_deref().unwrap_or("local");
    if !KEK_PROVIDERS.contains(&provider) {
        problems.push(format!(
            "WARD_KEK_PROVIDER must be one of {}",
            KEK_PROVIDERS.join(", ")
        ));
        return Some(KekSetting::Local(SecretSetting::Inline(Zeroizing::new(
            String::new(),
        ))));
    }
    for (other, variables) in PROVIDER_VARIABLES {
        if other == provider {
            continue;
        }
        for variable in variables.iter().filter(|v| get(v).is_some()) {
            problems.push(format!(
                "{variable} belongs to WARD_KEK_PROVIDER={other}, not {provider}"
            ));
        }
    }
    if let Some(feature) = missing_feature(provider) {
        problems.push(format!(
            "WARD_KEK_PROVIDER={provider} needs ward built with the cargo feature `{feature}`"
        ));
    }
    let mut required = |name: &str| {
        let value = get(name);
        if value.is_none() {
            problems.push(format!("{name} is not set (WARD_KEK_PROVIDER={provider})"));
        }
        value.unwrap_or_default()
    };
    let setting = match provider {
        "aws-kms" => {
            let keys = required("WARD_KEK_AWS_KMS_KEYS");
            KekSetting::AwsKms(parse_versions("WARD_KEK_AWS_KMS_KEYS", &keys, problems))
        }
        "gcp-kms" => {
            let keys = required("WARD_KEK_GCP_KMS_KEYS");
            KekSetting::GcpKms(GcpSetting {
                keys: parse_versions("WARD_KEK_GCP_KMS_KEYS", &keys, problems),
                endpoint: get("WARD_KEK_GCP_KMS_ENDPOINT"),
            })
        }
        "azure-key-vault" => {
            let vault_url = required("WARD_KEK_AZURE_VAULT_URL");
            let key = required("WARD_KEK_AZURE_KEY");
            let versions = required("WARD_KEK_AZURE_KEY_VERSIONS");
            let algorithm =
                get("WARD_KEK_AZURE_ALGORITHM").unwrap_or_else(|| "RSA-OAEP-256".to_owned());
            if !["RSA-OAEP-256", "A256KW"].contains(&algorithm.as_str()) {
                problems.push("WARD_KEK_AZURE_ALGORITHM must be RSA-OAEP-256 or A256KW".to_owned());
            }
            let credential =
                get("WARD_KEK_AZURE_CREDENTIAL").unwrap_or_else(|| "managed-identity".to_owned());
            if !AZURE_CREDENTIALS.contains(&credential.as_str()) {
                problems.push(format!(
                    "WARD_KEK_AZURE_CREDENTIAL must be one of {}",
                    AZURE_CREDENTIALS.join(", ")
                ));
            }
            let verify_challenge_resource = match get("WARD_KEK_AZURE_VERIFY_CHALLENGE_RESOURCE")
                .as_deref()
                .map(str::trim)
            {
                None | Some("true") => true,
                Some("false") => false,
                Some(_) => {
                    problems.push(
                        "WARD_KEK_AZURE_VERIFY_CHALLENGE_RESOURCE must be `true` or `false`"
                            .to_owned(),
                    );
                    true
                }
            };
            KekSetting::AzureKeyVault(AzureSetting {
                vault_url,
                key,
                versions: parse_versions("WARD_KEK_AZURE_KEY_VERSIONS", &versions, problems),
                algorithm,
                credential,
                ca_file: get("WARD_KEK_AZURE_CA_FILE").map(PathBuf::from),
                verify_challenge_resource,
            })
        }
        "aws-secrets-manager" => KekSetting::AwsSecretsManager {
            secret_id: required("WARD_KEK_SECRET_ID").trim().to_owned(),
        },
        "vault-transit" => {
            let address = required("WARD_KEK_VAULT_ADDR");
            let key = required("WARD_KEK_VAULT_KEY");
            let token = secret(
                get,
                "WARD_KEK_VAULT_TOKEN",
                "WARD_KEK_VAULT_TOKEN_FILE",
                problems,
            )
            .unwrap_or_else(|| {
                problems.push(
                    "WARD_KEK_VAULT_TOKEN or WARD_KEK_VAULT_TOKEN_FILE is not set \
                     (WARD_KEK_PROVIDER=vault-transit)"
                        .to_owned(),
                );
                SecretSetting::Inline(Zeroizing::new(String::new()))
            });
            KekSetting::VaultTransit(VaultSetting {
                address,
                token,
                key,
                mount: get("WARD_KEK_VAULT_MOUNT"),
                namespace: get("WARD_KEK_VAULT_NAMESPACE"),
                ca_file: get("WARD_KEK_VAULT_CA_FILE").map(PathBuf::from),
            })
        }
        _ => {
            let ring = secret(get, "WARD_KEK", "WARD_KEK_FILE", problems)?;
            let allowed = match get("WARD_KEK_ALLOW_LOCAL").as_deref().map(str::trim) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => {
                    problems.push("WARD_KEK_ALLOW_LOCAL must be `true` or `false`".to_owned());
                    false
                }
            };
            if environment == Environment::Production && !allowed {
                problems.push(
                    "the KEK ring is local (WARD_KEK / WARD_KEK_FILE): production keeps its \
                     key-encryption keys in a key service (WARD_KEK_PROVIDER=aws-kms, \
                     aws-secrets-manager, vault-transit, azure-key-vault or gcp-kms); set WARD_KEK_ALLOW_LOCAL=true to \
                     accept local keys anyway"
                        .to_owned(),
                );
            }
            KekSetting::Local(ring)
        }
    };
    Some(setting)
}

/// The cargo feature a provider needs, when this build lacks it.
fn missing_feature(provider: &str) -> Option<&'static str> {
    match provider {
        "aws-kms" if !cfg!(feature = "aws-kms") => Some("aws-kms"),
        "aws-secrets-manager" if !cfg!(feature = "aws-secrets-manager") => {
            Some("aws-secrets-manager")
        }
        "vault-transit" if !cfg!(feature = "vault-transit") => Some("vault-transit"),
        "azure-key-vault" if !cfg!(feature = "azure-key-vault") => Some("azure-key-vault"),
        "gcp-kms" if !cfg!(feature = "gcp-kms") => Some("gcp-kms"),
        _ => None,
    }
}

/// A ring of remote key names (`WARD_KEK_AWS_KMS_KEYS`, `WARD_KEK_AZURE_KEY_VERSIONS`):
/// `<version>:<key>[:active]` items (a key ARN holds colons itself, so the version is what comes
/// before the first colon and `:active` is a suffix).
fn parse_versions(
    variable: &str,
    text: &str,
    problems: &mut Vec<String>,
) -> Vec<(u32, String, bool)> {
    let mut keys = Vec::new();
    let items = text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|i| !i.is_empty());
    for (n, item) in items.enumerate() {
        let (version, rest) = item.split_once(':').unwrap_or((item, ""));
        let (key, active) = match rest.strip_suffix(":active") {
            Some(key) => (key, true),
            None => (rest, false),
        };
        match version.trim().parse::<u32>() {
            Ok(version) if !key.trim().is_empty() => {
                keys.push((version, key.trim().to_owned(), active));
            }
            _ => problems.push(format!(
                "{variable} item {} must be `<version>:<key>[:active]`",
                n + 1
            )),
        }
    }
    if keys.iter().filter(|(_, _, active)| *active).count() != 1 {
        problems.push(format!("{variable} must mark exactly one key `:active`"));
    }
    keys
}

/// The embedded default's database: SQLite in the data directory, created when missing.
fn embedded_database_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("ward.db").display())
}

/// A secret from `inline` or `file` (never both); `None` when neither is set.
fn secret(
    get: &impl Fn(&str) -> Option<String>,
    inline: &'static str,
    file: &'static str,
    problems: &mut Vec<String>,
) -> Option<SecretSetting> {
    match (get(inline), get(file)) {
        (Some(_), Some(_)) => {
            problems.push(format!("set only one of {inline} and {file}"));
            Some(SecretSetting::Inline(Zeroizing::new(String::new())))
        }
        (Some(v), None) => Some(SecretSetting::Inline(Zeroizing::new(v))),
        (None, Some(p)) => Some(SecretSetting::File(PathBuf::from(p))),
        (None, None) => None,
    }
}

/// Reads a secret's text: inline, from its file (owner-only on Unix outside development), or
/// from the embedded file, generated with `generate` when it does not exist yet.
pub(crate) fn read_secret(
    setting: &SecretSetting,
    what: &'static str,
    environment: Environment,
    generate: impl FnOnce() -> Result<Zeroizing<String>>,
) -> Result<Zeroizing<String>> {
    match setting {
        SecretSetting::Inline(v) => Ok(v.clone()),
        SecretSetting::File(path) => read_owner_only(path, what, environment),
        SecretSetting::Generated(path) => {
            if !path.exists() {
                let text = generate()?;
                write_owner_only(path, &text)?;
                tracing::warn!(path = %path.display(), what, "generated a development secret");
            }
            read_owner_only(path, what, environment)
        }
    }
}

/// Reads `path`, refusing (outside development) a file that group or others may read.
fn read_owner_only(
    path: &Path,
    what: &'static str,
    environment: Environment,
) -> Result<Zeroizing<String>> {
    let io = |source| Error::Io {
        what: format!("reading the {what} file {}", path.display()),
        source,
    };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && environment.is_strict() {
            return Err(Error::Config {
                problems: vec![format!(
                    "the {what} file {} has mode {mode:03o}; it must be readable by its owner only (0600)",
                    path.display()
                )],
            });
        }
    }
    let _ = environment;
    Ok(text)
}

/// Creates the directory (0700) and writes `text` to a new file of mode 0600: never over an
/// existing file.
pub(crate) fn write_owner_only(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let io = |source| Error::Io {
        what: format!("writing {}", path.display()),
        source,
    };
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Creates `dir` and its parents, the last one of mode 0700.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| Error::Io {
        what: format!("creating {}", dir.display()),
        source,
    })
}

/// A fresh development KEK ring of one active key, in ward-crypto's text format.
pub(crate) fn generate_kek_ring() -> Result<Zeroizing<String>> {
    let key = KeyMaterial::generate().map_err(ward_domain::Error::from)?;
    Ok(Zeroizing::new(format!(
        "# ward development KEK ring generated by the embedded default (not for production)\n1:{}:active\n",
        key.to_base64().as_str()
    )))
}

/// A fresh token secret: base64 of 32 random bytes.
pub(crate) fn generate_token_secret() -> Result<Zeroizing<String>> {
    let key = KeyMaterial::generate().map_err(ward_domain::Error::from)?;
    Ok(Zeroizing::new(format!("{}\n", key.to_base64().as_str())))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn nothing_configured_is_the_embedded_development_default() {
        let c = config(&[]).expect("embedded default");
        assert_eq!(c.environment, Environment::Development);
        assert!(c.is_embedded());
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(
            c.store,
            StoreSetting::Local(PathBuf::from("ward-data/objects"))
        );
        assert!(matches!(
            c.kek,
            KekSetting::Local(SecretSetting::Generated(_))
        ));
        assert!(c.database_url.starts_with("sqlite://ward-data/ward.db"));
    }

    #[test]
    fn production_names_every_missing_setting_and_generates_nothing() {
        let Err(Error::Config { problems }) = config(&[("WARD_ENV", "production")]) else {
            panic!("production without settings must be refused");
        };
        for name in [
            "WARD_DATABASE_URL",
            "WARD_STORE",
            "WARD_KEK",
            "WARD_TOKEN_SECRET",
            "WARD_SCANNER",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(name)),
                "{name} not named: {problems:?}"
            );
        }
    }

    #[test]
    fn one_setting_without_ward_env_means_production_rules() {
        let Err(Error::Config { problems }) = config(&[("WARD_STORE", "s3")]) else {
            panic!("a partial configuration must be refused");
        };
        // The database, the KEK, the token secret and the scanner.
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn development_fills_what_is_missing_and_names_it() {
        let c = config(&[
            ("WARD_ENV", "development"),
            ("WARD_STORE", "local:/srv/objects"),
        ])
        .expect("development");
        assert_eq!(c.store, StoreSetting::Local(PathBuf::from("/srv/objects")));
        assert_eq!(
            c.defaulted,
            ["WARD_DATABASE_URL", "WARD_KEK", "WARD_TOKEN_SECRET"]
        );
    }

    #[test]
    fn generated_keys_never_listen_beyond_loopback() {
        let Err(Error::Config { problems }) = config(&[("WARD_LISTEN", "0.0.0.0:8080")]) else {
            panic!("the embedded default must refuse a public address");
        };
        assert!(problems[0].contains("loopback"), "{problems:?}");
    }

    #[test]
    fn malformed_settings_are_named_without_their_values() {
        let Err(Error::Config { problems }) = config(&[
            ("WARD_ENV", "production"),
            ("WARD_DATABASE_URL", "mysql://user:hunter2@db/ward"),
            ("WARD_STORE", "ftp"),
            ("WARD_KEK", "x"),
            ("WARD_KEK_FILE", "/etc/ward/kek"),
            ("WARD_TOKEN_SECRET_FILE", "/etc/ward/token"),
        ]) else {
            panic!("malformed settings must be refused");
        };
        let all = problems.join("\n");
        assert!(
            all.contains("WARD_DATABASE_URL") && all.contains("WARD_STORE"),
            "{all}"
        );
        assert!(
            all.contains("only one of WARD_KEK and WARD_KEK_FILE"),
            "{all}"
        );
        assert!(!all.contains("hunter2"), "a credential was echoed: {all}");
    }

    /// A production configuration apart from the KEK settings.
    fn production(kek: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![
            ("WARD_ENV", "production"),
            ("WARD_DATABASE_URL", "postgres://ward@db/ward"),
            ("WARD_STORE", "s3"),
            ("WARD_TOKEN_SECRET_FILE", "/etc/ward/token"),
            ("WARD_SCANNER", "tcp://clamd:3310"),
        ];
        vars.extend_from_slice(kek);
        vars
    }

    #[test]
    fn uploads_are_scanned_everywhere_but_where_development_turns_it_off() {
        let kek = [
            ("WARD_KEK_FILE", "/etc/ward/kek"),
            ("WARD_KEK_ALLOW_LOCAL", "true"),
        ];
        let c = config(&production(&kek)).expect("production");
        assert_eq!(
            c.scanner,
            ScannerSetting::Clamd {
                address: ward_domain::ClamdAddress::Tcp("clamd:3310".into()),
                timeout: std::time::Duration::from_secs(DEFAULT_SCANNER_TIMEOUT_SECS),
                max_bytes: DEFAULT_SCANNER_MAX_BYTES,
            }
        );
        let without: Vec<_> = production(&kek)
            .into_iter()
            .filter(|(k, _)| *k != "WARD_SCANNER")
            .collect();
        assert!(problems(&without).contains("WARD_SCANNER is not set"));
        let mut off = without.clone();
        off.push(("WARD_SCANNER", "off"));
        assert!(problems(&off).contains("WARD_SCANNER=off is for development only"));
        let mut odd = without.clone();
        odd.extend([
            ("WARD_SCANNER", "clamd.local:3310"),
            ("WARD_SCANNER_TIMEOUT_SECS", "0"),
            ("WARD_SCANNER_MAX_BYTES", "lots"),
        ]);
        let all = problems(&odd);
        assert!(all.contains("WARD_SCANNER must be tcp://"), "{all}");
        assert!(all.contains("WARD_SCANNER_TIMEOUT_SECS must be"), "{all}");
        assert!(all.contains("WARD_SCANNER_MAX_BYTES must be"), "{all}");

        // Development: off unless named, and a socket path is taken as it is.
        assert_eq!(config(&[]).expect("embedded").scanner, ScannerSetting::Off);
        let c = config(&[
            ("WARD_ENV", "development"),
            ("WARD_SCANNER", "unix:/run/clamav/clamd.ctl"),
            ("WARD_SCANNER_TIMEOUT_SECS", "5"),
        ])
        .expect("development");
        assert!(matches!(
            c.scanner,
            ScannerSetting::Clamd { address: ward_domain::ClamdAddress::Unix(_), timeout, .. }
                if timeout == std::time::Duration::from_secs(5)
        ));
    }

    fn problems(vars: &[(&str, &str)]) -> String {
        match config(vars) {
            Err(Error::Config { problems }) => problems.join("\n"),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn production_refuses_a_local_kek_ring_unless_explicitly_allowed() {
        let all = problems(&production(&[("WARD_KEK_FILE", "/etc/ward/kek")]));
        assert!(all.contains("the KEK ring is local"), "{all}");
        assert!(all.contains("WARD_KEK_ALLOW_LOCAL=true"), "{all}");

        let c = config(&production(&[
            ("WARD_KEK_FILE", "/etc/ward/kek"),
            ("WARD_KEK_ALLOW_LOCAL", "true"),
        ]))
        .expect("local keys explicitly allowed");
        assert_eq!(c.kek.provider(), "local");
        let all = problems(&production(&[
            ("WARD_KEK_FILE", "/etc/ward/kek"),
            ("WARD_KEK_ALLOW_LOCAL", "yes"),
        ]));
        assert!(all.contains("WARD_KEK_ALLOW_LOCAL must be"), "{all}");

        // Staging is not production: a local ring is accepted there.
        let mut staging = production(&[("WARD_KEK_FILE", "/etc/ward/kek")]);
        staging[0] = ("WARD_ENV", "staging");
        assert_eq!(config(&staging).expect("staging").kek.provider(), "local");
    }

    #[test]
    fn an_unknown_provider_is_named_with_the_ones_there_are() {
        let all = problems(&production(&[("WARD_KEK_PROVIDER", "azure-kms")]));
        assert!(
            all.contains(
                "WARD_KEK_PROVIDER must be one of local, aws-kms, aws-secrets-manager, vault-transit, azure-key-vault, gcp-kms"
            ),
            "{all}"
        );
    }

    #[test]
    fn each_provider_reads_its_own_variables_and_names_the_missing_ones() {
        let c = config(&production(&[
            ("WARD_KEK_PROVIDER", "aws-kms"),
            (
                "WARD_KEK_AWS_KMS_KEYS",
                "1:alias/ward-kek-2025, 2:arn:aws:kms:eu-west-1:111122223333:key/0f9e:active",
            ),
        ]));
        if cfg!(feature = "aws-kms") {
            let c = c.expect("aws-kms");
            let KekSetting::AwsKms(keys) = &c.kek else {
                panic!("{:?}", c.kek);
            };
            assert_eq!(
                keys,
                &[
                    (1, "alias/ward-kek-2025".to_owned(), false),
                    (
                        2,
                        "arn:aws:kms:eu-west-1:111122223333:key/0f9e".to_owned(),
                        true
                    ),
                ]
            );
        } else {
            assert!(c.is_err());
        }

        let all = problems(&production(&[
            ("WARD_KEK_PROVIDER", "aws-kms"),
            ("WARD_KEK_AWS_KMS_KEYS", "1:alias/a, x:alias/b"),
        ]));
        assert!(all.contains("item 2 must be"), "{all}");
        assert!(all.contains("exactly one key `:active`"), "{all}");

        let all = problems(&production(&[("WARD_KEK_PROVIDER", "vault-transit")]));
        for name in [
            "WARD_KEK_VAULT_ADDR",
            "WARD_KEK_VAULT_KEY",
            "WARD_KEK_VAULT_TOKEN",
        ] {
            assert!(all.contains(name), "{name} not named: {all}");
        }
        let all = problems(&production(&[("WARD_KEK_PROVIDER", "aws-secrets-manager")]));
        assert!(all.contains("WARD_KEK_SECRET_ID is not set"), "{all}");
        let all = problems(&production(&[("WARD_KEK_PROVIDER", "gcp-kms")]));
        assert!(all.contains("WARD_KEK_GCP_KMS_KEYS is not set"), "{all}");

        let all = problems(&production(&[
            ("WARD_KEK_PROVIDER", "azure-key-vault"),
            ("WARD_KEK_AZURE_ALGORITHM", "RSA1_5"),
            ("WARD_KEK_AZURE_CREDENTIAL", "password"),
        ]));
        for name in [
            "WARD_KEK_AZURE_VAULT_URL is not set",
            "WARD_KEK_AZURE_KEY is not set",
            "WARD_KEK_AZURE_KEY_VERSIONS is not set",
            "WARD_KEK_AZURE_ALGORITHM must be RSA-OAEP-256 or A256KW",
            "WARD_KEK_AZURE_CREDENTIAL must be one of managed-identity, workload-identity, client-secret",
        ] {
            assert!(all.contains(name), "{name} not named: {all}");
        }
        if cfg!(feature = "azure-key-vault") {
            let c = config(&production(&[
                ("WARD_KEK_PROVIDER", "azure-key-vault"),
                ("WARD_KEK_AZURE_VAULT_URL", "https://clinic.vault.azure.net"),
                ("WARD_KEK_AZURE_KEY", "ward-kek"),
                (
                    "WARD_KEK_AZURE_KEY_VERSIONS",
                    "1:0d3c2b1a9f8e7d6c5b4a39281706f5e4:active",
                ),
            ]))
            .expect("azure-key-vault");
            let KekSetting::AzureKeyVault(azure) = &c.kek else {
                panic!("{:?}", c.kek);
            };
            assert_eq!(azure.algorithm, "RSA-OAEP-256");
            assert_eq!(azure.credential, "managed-identity");
            assert_eq!(
                azure.versions,
                [(1, "0d3c2b1a9f8e7d6c5b4a39281706f5e4".to_owned(), true)]
            );
        }
    }

    #[test]
    fn another_providers_variables_are_refused_not_ignored() {
        let all = problems(&production(&[
            ("WARD_KEK_PROVIDER", "aws-secrets-manager"),
            ("WARD_KEK_SECRET_ID", "ward/kek-ring"),
            ("WARD_KEK", "1:c2VjcmV0:active"),
            ("WARD_KEK_VAULT_ADDR", "https://vault:8200"),
        ]));
        assert!(
            all.contains("WARD_KEK belongs to WARD_KEK_PROVIDER=local, not aws-secrets-manager"),
            "{all}"
        );
        assert!(all.contains("WARD_KEK_VAULT_ADDR belongs to"), "{all}");
        assert!(!all.contains("c2VjcmV0"), "a key was echoed: {all}");
    }
}
