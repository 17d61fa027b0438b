//! `S3StoreBuilder`: endpoint, credentials, bucket, SSE policy and the client settings, validated
//! once in `build`, where production rules (the default) refuse plain http and weak credentials.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use ward_crypto::secrecy::{ExposeSecret as _, SecretString};

use super::S3Store;
use super::credential::DefaultChain;
use crate::error::{ConfigRule, Error, Result};
use crate::sse::SsePolicy;

/// Connections kept per host.
pub const POOL_SIZE: usize = 50;
/// Retries after the first attempt (adaptive: the client also slows down when throttled).
pub const RETRIES: u32 = 3;
/// Time allowed to open a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
/// Time allowed between bytes of a response.
pub const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Default multipart part size, which is also the size above which streamed puts go multipart.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's minimum part size (all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Minimum access key length outside `development`.
pub const MIN_ACCESS_KEY_LEN: usize = 12;
/// Minimum secret key length outside `development`.
pub const MIN_SECRET_KEY_LEN: usize = 20;

/// Access keys refused outside `development`: MinIO's root defaults, documentation examples and
/// ward's own test credentials.
const DEFAULT_ACCESS_KEYS: &[&str] = &[
    "minioadmin",
    "minio",
    "admin",
    "root",
    "AKIAIOSFODNN7EXAMPLE",
    "ward-test-access-key",
];
/// Secret keys refused outside `development`, for the same reasons.
const DEFAULT_SECRET_KEYS: &[&str] = &[
    "minioadmin",
    "minio123",
    "password",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ward-test-secret-key-not-for-production",
];

/// The deployment environment a store is built for: ward-types' [`Environment`], re-exported.
///
/// Every environment but `Development` applies the strict rules (https endpoint, no default or
/// weak credentials), and an unset `WARD_ENV` means `Production`. SSE-C over `http://` is refused
/// in every environment, `Development` included.
pub use ward_types::Environment;

/// A string setting of [`S3StoreBuilder`], for configuration files and the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3ConfigKey {
    /// `endpoint` (env `WARD_S3_ENDPOINT`): the server URL; AWS when unset.
    Endpoint,
    /// `region` (env `WARD_S3_REGION`), default `us-east-1`.
    Region,
    /// `bucket` (env `WARD_S3_BUCKET`).
    Bucket,
    /// `access_key_id` (env `WARD_S3_ACCESS_KEY_ID`). With neither key set, the AWS default
    /// credential chain is used ([`S3StoreBuilder::with_credentials`]).
    AccessKeyId,
    /// `secret_access_key` (env `WARD_S3_SECRET_ACCESS_KEY`).
    SecretAccessKey,
    /// `environment` (env `WARD_ENV`), default `production`.
    Environment,
    /// `kms_key_id` (env `WARD_S3_KMS_KEY_ID`): when set, SSE-KMS with this key id or key ARN (an
    /// empty value and a KMS alias are refused by `build`).
    KmsKeyId,
    /// `ca_bundle` (env `WARD_S3_CA_BUNDLE`): a PEM file of the CA certificates that https
    /// endpoints are checked against, instead of the system's roots
    /// ([`S3StoreBuilder::with_ca_bundle`]).
    CaBundle,
}

impl S3ConfigKey {
    /// Every key, in the order `from_env` reads them.
    pub const ALL: [Self; 8] = [
        Self::Endpoint,
        Self::Region,
        Self::Bucket,
        Self::AccessKeyId,
        Self::SecretAccessKey,
        Self::Environment,
        Self::KmsKeyId,
        Self::CaBundle,
    ];

    /// The environment variable holding this setting.
    pub fn env_var(self) -> &'static str {
        match self {
            Self::Endpoint => "WARD_S3_ENDPOINT",
            Self::Region => "WARD_S3_REGION",
            Self::Bucket => "WARD_S3_BUCKET",
            Self::AccessKeyId => "WARD_S3_ACCESS_KEY_ID",
            Self::SecretAccessKey => "WARD_S3_SECRET_ACCESS_KEY",
            Self::Environment => "WARD_ENV",
            Self::KmsKeyId => "WARD_S3_KMS_KEY_ID",
            Self::CaBundle => "WARD_S3_CA_BUNDLE",
        }
    }
}

impl AsRef<str> for S3ConfigKey {
    fn as_ref(&self) -> &str {
        match self {
            Self::Endpoint => "endpoint",
            Self::Region => "region",
            Self::Bucket => "bucket",
            Self::AccessKeyId => "access_key_id",
            Self::SecretAccessKey => "secret_access_key",
            Self::Environment => "environment",
            Self::KmsKeyId => "kms_key_id",
            Self::CaBundle => "ca_bundle",
        }
    }
}

impl FromStr for S3ConfigKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_ref() == s)
            .ok_or_else(|| Error::Config {
                rule: ConfigRule::Invalid {
                    setting: "s3 configuration key",
                    reason: "unknown key".to_owned(),
                },
            })
    }
}

/// Builds an [`S3Store`]. `new()` equals `default()`; setters never fail; [`build`](Self::build)
/// validates everything.
///
/// Client settings: a pool of [`POOL_SIZE`] connections per host, [`RETRIES`] adaptive retries,
/// [`CONNECT_TIMEOUT`] and [`READ_TIMEOUT`], SigV4 signing, path-style addressing whenever an
/// endpoint is set (MinIO and other S3-compatible servers), request checksums only where S3
/// requires them (ward's own AEAD already authenticates every byte).
///
/// Production rules are the default ([`Environment`]): unless the builder says `Development`,
/// plain http and default or weak credentials are refused, naming the rule.
///
/// ```
/// use ward_storage::{ConfigRule, Error, S3StoreBuilder, s3::Environment};
///
/// // No environment given: production rules.
/// let err = S3StoreBuilder::new()
///     .with_endpoint("http://minio.internal:9000")
///     .with_bucket("attachments")
///     .with_credentials("minioadmin", "minioadmin")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, Error::Config { rule: ConfigRule::HttpsRequired { .. } }));
/// assert_eq!(
///     err.to_string(),
///     "invalid storage configuration: the production environment requires an https endpoint"
/// );
///
/// // A local MinIO on a developer machine has to say so.
/// let store = S3StoreBuilder::new()
///     .with_endpoint("http://127.0.0.1:9000")
///     .with_bucket("attachments")
///     .with_credentials("minioadmin", "minioadmin")
///     .with_environment(Environment::Development)
///     .build()?;
/// # let _ = store;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct S3StoreBuilder {
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    access_key: Option<String>,
    secret_key: Option<SecretString>,
    environment: Environment,
    environment_error: bool,
    sse: Option<SsePolicy>,
    part_size: Option<usize>,
    allow_presigned_put: bool,
    ca_bundle: Option<PathBuf>,
}

impl fmt::Debug for S3StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3StoreBuilder")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key.as_ref().map(|_| "******"))
            .field("secret_key", &self.secret_key.as_ref().map(|_| "******"))
            .field("environment", &self.environment)
            .field("sse", &self.sse)
            .field("part_size", &self.part_size)
            .field("allow_presigned_put", &self.allow_presigned_put)
            .field("ca_bundle", &self.ca_bundle)
            .finish()
    }
}

impl S3StoreBuilder {
    /// A builder with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder from the `WARD_S3_*` and `WARD_ENV` variables ([`S3ConfigKey::env_var`]). When
    /// `WARD_ENV` is unset the environment stays `production`.
    pub fn from_env() -> Self {
        S3ConfigKey::ALL.into_iter().fold(Self::new(), |b, key| {
            match std::env::var(key.env_var()) {
                Ok(value) => b.with_config(key, value),
                Err(_) => b,
            }
        })
    }

    /// Sets one string setting.
    pub fn with_config(self, key: S3ConfigKey, value: impl Into<String>) -> Self {
        let value = value.into();
        match key {
            S3ConfigKey::Endpoint => self.with_endpoint(value),
            S3ConfigKey::Region => self.with_region(value),
            S3ConfigKey::Bucket => self.with_bucket(value),
            S3ConfigKey::AccessKeyId => Self {
                access_key: Some(value),
                ..self
            },
            S3ConfigKey::SecretAccessKey => Self {
                secret_key: Some(SecretString::from(value)),
                ..self
            },
            S3ConfigKey::Environment => match value.parse() {
                Ok(env) => self.with_environment(env),
                // Remembered and reported by `build`, which is where validation happens.
                Err(_) => Self {
                    environment_error: true,
                    ..self
                },
            },
            S3ConfigKey::KmsKeyId => self.with_sse(SsePolicy::Kms { key_id: value }),
            S3ConfigKey::CaBundle => self.with_ca_bundle(value),
        }
    }

    /// The server URL (`https://s3.example.org`, `http://127.0.0.1:9000`); AWS when unset.
    /// Setting an endpoint turns on path-style addressing.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The region (default `us-east-1`).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The bucket every object goes to.
    pub fn with_bucket(mut self, bucket: impl Into<String>) -> Self {
        self.bucket = Some(bucket.into());
        self
    }

    /// Static credentials. They are never printed (`Debug` shows `******`).
    ///
    /// When neither key is set, the store takes its credentials from the AWS default provider
    /// chain (aws-config): the `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` environment, the shared
    /// config and credentials files, web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` +
    /// `AWS_ROLE_ARN`, through STS), the container (ECS/EKS) role, then the instance role, over
    /// the store's own HTTP client (rustls on ring). Temporary credentials are refreshed before
    /// they expire. Setting only one of the two keys is a [`ConfigRule::Missing`] error.
    ///
    /// Strict environments refuse well-known default credentials either way: static keys and
    /// `AWS_*` environment keys when `build` runs ([`ConfigRule::DefaultCredentials`]), and
    /// whatever else the chain finds when it is first used (the request then fails, naming the
    /// rule). The length rules apply only to static keys.
    pub fn with_credentials(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.access_key = Some(access_key.into());
        self.secret_key = Some(SecretString::from(secret_key.into()));
        self
    }

    /// The environment whose rules apply (default `production`; only `development` relaxes them).
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self.environment_error = false;
        self
    }

    /// The server-side encryption requested on every put (default SSE-S3, `AES256`).
    ///
    /// `build` refuses an empty KMS key id and a KMS alias (`alias/…` or an alias ARN: S3 reports
    /// the key's ARN, which an alias never matches, so every object would fail verification;
    /// configure the key id or key ARN), and SSE-C ([`SsePolicy::CustomerKey`]) with an
    /// `http://` endpoint in every environment: the key would travel in clear.
    pub fn with_sse(mut self, sse: SsePolicy) -> Self {
        self.sse = Some(sse);
        self
    }

    /// The multipart part size (default [`DEFAULT_PART_SIZE`], at least [`MIN_PART_SIZE`]).
    /// Streamed bodies more than a 64th over one part go multipart (a sealed part-sized
    /// plaintext still goes in one PUT); memory stays within two parts.
    pub fn with_part_size(mut self, part_size: usize) -> Self {
        self.part_size = Some(part_size);
        self
    }

    /// Whether [`S3Store`] hands out presigned PUT URLs (default `false`: presigning a PUT fails
    /// with [`Error::NotSupported`]).
    ///
    /// A presigned upload goes straight to the bucket, past ward stream encryption, so the store
    /// cannot know that the bytes are ciphertext. Turn this on only for a client that encrypts
    /// itself; [`EncryptedStore`](crate::EncryptedStore) refuses presigned uploads either way.
    pub fn with_allow_presigned_put(mut self, allow: bool) -> Self {
        self.allow_presigned_put = allow;
        self
    }

    /// Trusts only the CA certificates in this PEM file for https endpoints (an endpoint behind
    /// a private CA), instead of the system's root certificates.
    ///
    /// `build` reads the file and checks it the way the client's TLS stack (rustls, the only one
    /// ward uses) will load it: a file that cannot be read, is not PEM, holds no certificate, or
    /// holds a certificate that is not a usable trust anchor is [`Error::Config`] naming
    /// `ca_bundle`. Nothing else about TLS changes: certificates are still checked against the
    /// endpoint's host name, and production rules still require `https://`.
    pub fn with_ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }

    /// Checks every setting and builds the store.
    pub fn build(self) -> Result<S3Store> {
        let missing = |setting| Error::Config {
            rule: ConfigRule::Missing { setting },
        };
        if self.environment_error {
            return Err(Error::Config {
                rule: ConfigRule::Invalid {
                    setting: "environment",
                    reason: "expected development, test, staging or production".to_owned(),
                },
            });
        }
        let bucket = self.bucket.clone().ok_or_else(|| missing("bucket"))?;
        let static_keys = match (self.access_key.clone(), self.secret_key.clone()) {
            (Some(access_key), Some(secret_key)) => Some((access_key, secret_key)),
            (None, None) => None,
            (Some(_), None) => return Err(missing("secret_access_key")),
            (None, Some(_)) => return Err(missing("access_key_id")),
        };
        let part_size = self.part_size.unwrap_or(DEFAULT_PART_SIZE);
        if part_size < MIN_PART_SIZE {
            return Err(Error::Config {
                rule: ConfigRule::Invalid {
                    setting: "part_size",
                    reason: format!("must be at least {MIN_PART_SIZE} bytes"),
                },
            });
        }
        if let Some(endpoint) = &self.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            return Err(Error::Config {
                rule: ConfigRule::Invalid {
                    setting: "endpoint",
                    reason: "must start with https:// or http://".to_owned(),
                },
            });
        }
        match &self.sse {
            Some(SsePolicy::Kms { key_id }) if key_id.trim().is_empty() => {
                return Err(Error::Config {
                    rule: ConfigRule::Invalid {
                        setting: "kms_key_id",
                        reason: "must not be empty".to_owned(),
                    },
                });
            }
            Some(SsePolicy::Kms { key_id }) if is_kms_alias(key_id) => {
                return Err(Error::Config {
                    rule: ConfigRule::Invalid {
                        setting: "kms_key_id",
                        reason: "a kms alias (alias/...) never matches the key arn s3 reports, so \
                                 every upload would fail verification; configure the key id or \
                                 key arn"
                            .to_owned(),
                    },
                });
            }
            Some(SsePolicy::CustomerKey(_))
                if self
                    .endpoint
                    .as_deref()
                    .is_some_and(|e| !e.starts_with("https://")) =>
            {
                return Err(Error::Config {
                    rule: ConfigRule::CustomerKeyRequiresHttps,
                });
            }
            _ => {}
        }
        match &static_keys {
            Some((access_key, secret_key)) => check_strict_rules(
                self.environment,
                self.endpoint.as_deref(),
                access_key,
                secret_key.expose_secret(),
            )?,
            None => check_strict_chain_rules(self.environment, self.endpoint.as_deref())?,
        }

        let mut http_client = aws_smithy_http_client::Builder::new()
            .pool_max_idle_per_host(POOL_SIZE)
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
        if let Some(path) = &self.ca_bundle {
            http_client = http_client.tls_context(ca_bundle_context(path)?);
        }
        let http_client = http_client.build_https();
        let region = Region::new(
            self.region
                .clone()
                .unwrap_or_else(|| "us-east-1".to_owned()),
        );
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(region.clone());
        config = match static_keys {
            Some((access_key, secret_key)) => config.credentials_provider(Credentials::new(
                access_key,
                secret_key.expose_secret(),
                None,
                None,
                "ward-storage",
            )),
            None => config.credentials_provider(DefaultChain::new(
                http_client.clone(),
                region,
                self.environment,
            )),
        };
        let mut config = config
            .http_client(http_client)
            .retry_config(RetryConfig::adaptive().with_max_attempts(RETRIES + 1))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .read_timeout(READ_TIMEOUT)
                    .build(),
            )
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        Ok(S3Store::from_parts(
            aws_sdk_s3::Client::from_conf(config.build()),
            bucket,
            self.sse.unwrap_or(SsePolicy::S3Managed),
            part_size,
            self.endpoint.unwrap_or_else(|| "aws".to_owned()),
            self.allow_presigned_put,
        ))
    }
}

/// A TLS context trusting only the certificates in the PEM file at `path`, each checked as the
/// connector's rustls will load it (the connector panics on a bad certificate, so nothing
/// unchecked may reach it).
fn ca_bundle_context(path: &Path) -> Result<TlsContext> {
    let invalid = |reason: String| Error::Config {
        rule: ConfigRule::Invalid {
            setting: "ca_bundle",
            reason,
        },
    };
    let shown = path.display();
    let pem =
        std::fs::read(path).map_err(|e| invalid(format!("cannot read {shown}: {}", e.kind())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| invalid(format!("{shown} is not a PEM certificate file")))?;
    if certs.is_empty() {
        return Err(invalid(format!("{shown} holds no certificate")));
    }
    let mut roots = rustls::RootCertStore::empty();
    for (n, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|_| {
            invalid(format!(
                "certificate {} in {shown} is not a usable ca certificate",
                n + 1
            ))
        })?;
    }
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
        .build()
        .map_err(|e| invalid(format!("the tls context was refused: {e}")))
}

/// Whether a KMS key id names an alias (`alias/name`, or an alias ARN `arn:…:alias/name`), which
/// S3 never reports back: it reports the key's ARN.
fn is_kms_alias(key_id: &str) -> bool {
    let key_id = key_id.trim();
    key_id.starts_with("alias/") || (key_id.starts_with("arn:") && key_id.contains(":alias/"))
}

/// Whether these are well-known default credentials (MinIO's root defaults, documentation
/// examples, ward's test keys), refused in strict environments.
pub(super) fn is_default_credentials(access_key: &str, secret_key: &str) -> bool {
    DEFAULT_ACCESS_KEYS.contains(&access_key) || DEFAULT_SECRET_KEYS.contains(&secret_key)
}

/// The strict rules for a store on the default credential chain: https, and no well-known
/// default keys in the `AWS_*` environment variables (the chain's first source). What the
/// chain finds elsewhere is checked when it is first used.
fn check_strict_chain_rules(environment: Environment, endpoint: Option<&str>) -> Result<()> {
    if !environment.is_strict() {
        return Ok(());
    }
    let env = environment.as_str();
    if endpoint.is_some_and(|e| !e.starts_with("https://")) {
        return Err(Error::Config {
            rule: ConfigRule::HttpsRequired { environment: env },
        });
    }
    let var = |name| std::env::var(name).unwrap_or_default();
    if is_default_credentials(&var("AWS_ACCESS_KEY_ID"), &var("AWS_SECRET_ACCESS_KEY")) {
        return Err(Error::Config {
            rule: ConfigRule::DefaultCredentials { environment: env },
        });
    }
    Ok(())
}

/// The strict rules (every environment but `development`), checked in order so the first broken
/// one is named.
fn check_strict_rules(
    environment: Environment,
    endpoint: Option<&str>,
    access_key: &str,
    secret_key: &str,
) -> Result<()> {
    if !environment.is_strict() {
        return Ok(());
    }
    let env = environment.as_str();
    let fail = |rule| Err(Error::Config { rule });
    if endpoint.is_some_and(|e| !e.starts_with("https://")) {
        return fail(ConfigRule::HttpsRequired { environment: env });
    }
    if is_default_credentials(access_key, secret_key) {
        return fail(ConfigRule::DefaultCredentials { environment: env });
    }
    if access_key.chars().count() < MIN_ACCESS_KEY_LEN {
        return fail(ConfigRule::WeakAccessKey {
            environment: env,
            min: MIN_ACCESS_KEY_LEN,
        });
    }
    if secret_key.chars().count() < MIN_SECRET_KEY_LEN {
        return fail(ConfigRule::WeakSecretKey {
            environment: env,
            min: MIN_SECRET_KEY_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(env: Environment, endpoint: &str, ak: &str, sk: &str) -> Result<S3Store> {
        S3StoreBuilder::new()
            .with_endpoint(endpoint)
            .with_bucket("b")
            .with_credentials(ak, sk)
            .with_environment(env)
            .build()
    }

    const GOOD_AK: &str = "AKIAWARDEXAMPLE01";
    const GOOD_SK: &str = "a-long-enough-secret-key-0123";

    #[test]
    fn strict_environments_name_the_rule_they_refuse() {
        for env in [
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            let rule = |r: Result<S3Store>| match r {
                Err(Error::Config { rule }) => rule,
                other => panic!("expected a config error, got {other:?}"),
            };
            assert!(matches!(
                rule(strict(env, "http://s3.internal", GOOD_AK, GOOD_SK)),
                ConfigRule::HttpsRequired { .. }
            ));
            assert!(matches!(
                rule(strict(
                    env,
                    "https://s3.internal",
                    "minioadmin",
                    "minioadmin"
                )),
                ConfigRule::DefaultCredentials { .. }
            ));
            assert!(matches!(
                rule(strict(env, "https://s3.internal", GOOD_AK, "minio123")),
                ConfigRule::DefaultCredentials { .. }
            ));
            assert_eq!(
                rule(strict(env, "https://s3.internal", "short", GOOD_SK)),
                ConfigRule::WeakAccessKey {
                    environment: env.as_str(),
                    min: 12
                }
            );
            assert_eq!(
                rule(strict(
                    env,
                    "https://s3.internal",
                    GOOD_AK,
                    "nineteen-characters"
                )),
                ConfigRule::WeakSecretKey {
                    environment: env.as_str(),
                    min: 20
                }
            );
            assert!(strict(env, "https://s3.internal", GOOD_AK, GOOD_SK).is_ok());
        }
    }

    #[test]
    fn only_development_accepts_loopback_http_and_test_credentials() {
        let dev = Environment::Development;
        assert!(strict(dev, "http://127.0.0.1:9000", "minioadmin", "minioadmin").is_ok());
        for env in [
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            assert!(strict(env, "http://127.0.0.1:9000", "minioadmin", "minioadmin").is_err());
        }
    }

    fn config_rule(result: Result<S3Store>) -> ConfigRule {
        match result {
            Err(Error::Config { rule }) => rule,
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    #[test]
    fn production_rules_apply_when_no_environment_is_given() {
        assert_eq!(Environment::default(), Environment::Production);
        let unset = S3StoreBuilder::new()
            .with_endpoint("http://127.0.0.1:9000")
            .with_bucket("b")
            .with_credentials("minioadmin", "minioadmin")
            .build();
        assert_eq!(
            config_rule(unset),
            ConfigRule::HttpsRequired {
                environment: "production"
            }
        );
        // The same through `from_env` when `WARD_ENV` is not set in this process (the
        // explicit setters below override whatever `WARD_S3_*` holds).
        if std::env::var_os("WARD_ENV").is_none() {
            let from_env = S3StoreBuilder::from_env()
                .with_endpoint("https://s3.internal")
                .with_bucket("b")
                .with_credentials("minioadmin", "minioadmin")
                .with_sse(SsePolicy::S3Managed)
                .build();
            assert_eq!(
                config_rule(from_env),
                ConfigRule::DefaultCredentials {
                    environment: "production"
                }
            );
        }
        // Naming `development` is the only way to relax the rules.
        let dev = S3StoreBuilder::new()
            .with_config(S3ConfigKey::Environment, "development")
            .with_endpoint("http://127.0.0.1:9000")
            .with_bucket("b")
            .with_credentials("minioadmin", "minioadmin")
            .build();
        assert!(dev.is_ok(), "{dev:?}");
    }

    #[test]
    fn sse_c_over_http_is_refused_in_every_environment() {
        let policy = SsePolicy::CustomerKey(crate::SseCustomerKey::generate().unwrap());
        for env in [
            Environment::Development,
            Environment::Test,
            Environment::Staging,
            Environment::Production,
        ] {
            let over_http = S3StoreBuilder::new()
                .with_endpoint("http://127.0.0.1:9000")
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_environment(env)
                .with_sse(policy.clone())
                .build();
            assert_eq!(
                config_rule(over_http),
                ConfigRule::CustomerKeyRequiresHttps,
                "{env}"
            );
            let over_https = S3StoreBuilder::new()
                .with_endpoint("https://s3.internal")
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_environment(env)
                .with_sse(policy.clone())
                .build();
            assert!(over_https.is_ok(), "{env}: {over_https:?}");
        }
        // AWS itself (no endpoint) is https.
        let aws = S3StoreBuilder::new()
            .with_bucket("b")
            .with_credentials(GOOD_AK, GOOD_SK)
            .with_sse(policy)
            .build();
        assert!(aws.is_ok(), "{aws:?}");
    }

    #[test]
    fn an_empty_kms_key_id_is_refused() {
        for key_id in ["", "  "] {
            let err = S3StoreBuilder::new()
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_config(S3ConfigKey::KmsKeyId, key_id)
                .build()
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid storage configuration: setting `kms_key_id` is invalid: must not be empty"
            );
        }
        let named = S3StoreBuilder::new()
            .with_bucket("b")
            .with_credentials(GOOD_AK, GOOD_SK)
            .with_sse(SsePolicy::Kms {
                key_id: "1234abcd-12ab-34cd-56ef-1234567890ab".into(),
            })
            .build();
        assert!(named.is_ok(), "{named:?}");
    }

    /// L6: S3 reports the key ARN, never the alias, so an alias policy would delete every upload.
    #[test]
    fn a_kms_alias_is_refused_with_a_pointer_to_the_key_id() {
        for key_id in [
            "alias/ward",
            " alias/ward",
            "arn:aws:kms:us-east-1:123456789012:alias/ward",
        ] {
            let built = S3StoreBuilder::new()
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_config(S3ConfigKey::KmsKeyId, key_id)
                .build();
            let rule = config_rule(built);
            let ConfigRule::Invalid { setting, reason } = &rule else {
                panic!("{key_id}: {rule:?}");
            };
            assert_eq!(*setting, "kms_key_id");
            assert!(reason.contains("key id or key arn"), "{reason}");
        }
        for key_id in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd",
        ] {
            let built = S3StoreBuilder::new()
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_config(S3ConfigKey::KmsKeyId, key_id)
                .build();
            assert!(built.is_ok(), "{key_id}: {built:?}");
        }
    }

    #[test]
    fn errors_and_debug_never_show_credentials() {
        let secret = "super-secret-value-0123456789";
        let builder = S3StoreBuilder::new().with_credentials("AKIAWARDSECRETID", secret);
        let shown = format!("{builder:?}");
        assert!(!shown.contains(secret) && !shown.contains("AKIAWARDSECRETID"));
        let err = strict(
            Environment::Production,
            "https://x",
            "AKIAWARDSECRETID",
            "short",
        )
        .unwrap_err()
        .to_string();
        assert!(
            !err.contains("short") && !err.contains("AKIAWARDSECRETID"),
            "{err}"
        );
        let store = strict(
            Environment::Development,
            "http://127.0.0.1:1",
            "AKIAWARDSECRETID",
            secret,
        )
        .unwrap();
        let shown = format!("{store:?} {store}");
        assert!(!shown.contains(secret) && !shown.contains("AKIAWARDSECRETID"));
    }

    #[test]
    fn an_unusable_ca_bundle_is_a_config_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, body).unwrap();
            path
        };
        let garbage_cert =
            "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n";
        let cases = [
            (dir.path().join("missing.pem"), "cannot read"),
            (
                write("not-pem.pem", "-----BEGIN CERTIFICATE-----\n%%%\n"),
                "not a PEM",
            ),
            (
                write("empty.pem", "no certificates here\n"),
                "holds no certificate",
            ),
            (write("garbage.pem", garbage_cert), "certificate 1 in"),
        ];
        for (path, wanted) in cases {
            let built = S3StoreBuilder::new()
                .with_endpoint("https://s3.internal")
                .with_bucket("b")
                .with_credentials(GOOD_AK, GOOD_SK)
                .with_ca_bundle(&path)
                .build();
            let rule = config_rule(built);
            let ConfigRule::Invalid { setting, reason } = &rule else {
                panic!("{path:?}: {rule:?}");
            };
            assert_eq!(*setting, "ca_bundle");
            assert!(reason.contains(wanted), "{path:?}: {reason}");
        }
        // The environment variable goes through the same setter.
        assert_eq!(S3ConfigKey::CaBundle.env_var(), "WARD_S3_CA_BUNDLE");
        let from_key = S3StoreBuilder::new()
            .with_endpoint("https://s3.internal")
            .with_bucket("b")
            .with_credentials(GOOD_AK, GOOD_SK)
            .with_config(
                S3ConfigKey::CaBundle,
                dir.path().join("absent.pem").to_string_lossy(),
            )
            .build();
        assert!(matches!(
            config_rule(from_key),
            ConfigRule::Invalid {
                setting: "ca_bundle",
                ..
            }
        ));
    }

    #[test]
    fn without_static_keys_the_default_chain_is_used_and_half_a_key_pair_is_refused() {
        // Nothing is resolved at build time (the chain runs at the first request).
        let chain = S3StoreBuilder::new()
            .with_endpoint("https://s3.internal")
            .with_bucket("b")
            .build();
        assert!(chain.is_ok(), "{chain:?}");
        let only_access = S3StoreBuilder::new()
            .with_bucket("b")
            .with_config(S3ConfigKey::AccessKeyId, GOOD_AK)
            .build();
        assert_eq!(
            config_rule(only_access),
            ConfigRule::Missing {
                setting: "secret_access_key"
            }
        );
        let only_secret = S3StoreBuilder::new()
            .with_bucket("b")
            .with_config(S3ConfigKey::SecretAccessKey, GOOD_SK)
            .build();
        assert_eq!(
            config_rule(only_secret),
            ConfigRule::Missing {
                setting: "access_key_id"
            }
        );
        // The chain does not lift the https rule.
        let http = S3StoreBuilder::new()
            .with_endpoint("http://s3.internal")
            .with_bucket("b")
            .build();
        assert!(matches!(
            config_rule(http),
            ConfigRule::HttpsRequired { .. }
        ));
    }

    #[test]
    fn missing_and_invalid_settings_are_named() {
        let err = S3StoreBuilder::new().build().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid storage configuration: missing setting `bucket`"
        );
        let err = S3StoreBuilder::new()
            .with_config(S3ConfigKey::Environment, "prod")
            .with_bucket("b")
            .with_credentials(GOOD_AK, GOOD_SK)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`environment`"), "{err}");
        let err = S3StoreBuilder::new()
            .with_bucket("b")
            .with_credentials(GOOD_AK, GOOD_SK)
            .with_part_size(1024)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("`part_size`"), "{err}");
        assert_eq!(
            "bucket".parse::<S3ConfigKey>().unwrap(),
            S3ConfigKey::Bucket
        );
        assert!("nope".parse::<S3ConfigKey>().is_err());
    }
}
