//! Opens the KEK provider the configuration names.

use std::sync::Arc;

use ward_crypto::{KeyEncryptionKey, LocalKek};

use crate::config::{self, Config, KekSetting};
use crate::error::{Error, Result};

/// The provider of `config.kek`, connected and proven: a remote provider has wrapped a throwaway
/// key under its active KEK once, so a wrong address, certificate, credential, key name or
/// permission stops the start here rather than at the first upload.
pub(crate) async fn open(config: &Config) -> Result<Arc<dyn KeyEncryptionKey>> {
    let kek = connect(config).await?;
    if !matches!(config.kek, KekSetting::Local(_)) {
        let failed = |e: ward_crypto::Error| Error::Config {
            problems: vec![format!(
                "the KEK provider `{}` cannot wrap under its active key: {e}",
                config.kek.provider()
            )],
        };
        let probe = ward_crypto::DataKey::generate(ward_crypto::DekId(0)).map_err(failed)?;
        kek.wrap(&probe, b"ward start-up check")
            .await
            .map_err(failed)?;
    }
    Ok(kek)
}

/// The provider of `config.kek`, connected (a remote one may not have been asked anything yet).
async fn connect(config: &Config) -> Result<Arc<dyn KeyEncryptionKey>> {
    let failed = |e: ward_crypto::Error| Error::Config {
        problems: vec![format!(
            "the KEK provider `{}` does not load: {e}",
            config.kek.provider()
        )],
    };
    match &config.kek {
        KekSetting::Local(ring) => {
            let text = config::read_secret(
                ring,
                "KEK ring",
                config.environment,
                config::generate_kek_ring,
            )?;
            Ok(Arc::new(LocalKek::parse(&text).map_err(failed)?))
        }
        #[cfg(feature = "aws-kms")]
        KekSetting::AwsKms(keys) => {
            let ring = remote_ring(keys).map_err(failed)?;
            Ok(Arc::new(
                ward_crypto::AwsKmsKek::from_env(ring)
                    .await
                    .map_err(failed)?,
            ))
        }
        #[cfg(feature = "aws-secrets-manager")]
        KekSetting::AwsSecretsManager { secret_id } => {
            use ward_crypto::{RingRefresh, SecretsManagerKek};
            Ok(Arc::new(
                SecretsManagerKek::from_env(secret_id.as_str(), RingRefresh::default())
                    .await
                    .map_err(failed)?,
            ))
        }
        #[cfg(feature = "vault-transit")]
        KekSetting::VaultTransit(vault) => {
            use ward_crypto::secrecy::SecretString;
            use ward_crypto::{VaultTransitConfig, VaultTransitKek};
            let token: zeroize::Zeroizing<String> =
                config::read_secret(&vault.token, "Vault token", config.environment, || {
                    Err(Error::Config {
                        problems: vec!["the Vault token is never generated".to_owned()],
                    })
                })?;
            let mut settings = VaultTransitConfig::new(
                vault.address.as_str(),
                SecretString::from(token.trim().to_owned()),
                vault.key.as_str(),
            );
            if let Some(mount) = &vault.mount {
                settings = settings.with_mount(mount.as_str());
            }
            if let Some(namespace) = &vault.namespace {
                settings = settings.with_namespace(namespace.as_str());
            }
            if let Some(path) = &vault.ca_file {
                settings = settings.with_ca_pem(read_ca_file(path, "Vault")?);
            }
            Ok(Arc::new(
                VaultTransitKek::connect(settings).await.map_err(failed)?,
            ))
        }
        #[cfg(feature = "azure-key-vault")]
        KekSetting::AzureKeyVault(azure) => {
            use ward_crypto::{AzureKeyVaultConfig, AzureKeyVaultKek, AzureWrapAlgorithm};
            let ring = remote_ring(&azure.versions).map_err(failed)?;
            let algorithm = if azure.algorithm == "A256KW" {
                AzureWrapAlgorithm::A256Kw
            } else {
                AzureWrapAlgorithm::RsaOaep256
            };
            let credential = azure_credential(&azure.credential).map_err(failed)?;
            let mut settings =
                AzureKeyVaultConfig::new(azure.vault_url.as_str(), azure.key.as_str(), ring)
                    .with_algorithm(algorithm)
                    .with_challenge_resource_check(azure.verify_challenge_resource);
            if let Some(path) = &azure.ca_file {
                settings = settings.with_ca_pem(read_ca_file(path, "Key Vault")?);
            }
            Ok(Arc::new(
                AzureKeyVaultKek::connect(settings, credential).map_err(failed)?,
            ))
        }
        #[cfg(feature = "gcp-kms")]
        KekSetting::GcpKms(gcp) => {
            use ward_crypto::GcpKmsKek;
            let ring = remote_ring(&gcp.keys).map_err(failed)?;
            let kek = match &gcp.endpoint {
                Some(endpoint) => GcpKmsKek::from_env_at(endpoint, ring).await,
                None => GcpKmsKek::from_env(ring).await,
            };
            Ok(Arc::new(kek.map_err(failed)?))
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::Config {
            problems: vec![format!(
                "WARD_KEK_PROVIDER={} needs ward built with the cargo feature `{}`",
                other.provider(),
                other.provider()
            )],
        }),
    }
}

/// The PEM bundle of CAs a key service's certificate is checked against.
#[cfg(any(feature = "vault-transit", feature = "azure-key-vault"))]
fn read_ca_file(path: &std::path::Path, service: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        what: format!("reading the {service} CA file {}", path.display()),
        source,
    })
}

/// The `azure_identity` credential `WARD_KEK_AZURE_CREDENTIAL` names, over ward's transport; each
/// reads the standard `AZURE_*` variables.
#[cfg(feature = "azure-key-vault")]
fn azure_credential(
    kind: &str,
) -> ward_crypto::Result<Arc<dyn ward_crypto::azure_core::credentials::TokenCredential>> {
    use ward_crypto::azure_core::http::ClientOptions;
    use ward_crypto::azure_identity::{
        ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
        ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
        WorkloadIdentityCredentialOptions,
    };
    let provider_error = |message: String| ward_crypto::Error::Provider {
        provider: "azure-key-vault",
        message,
    };
    let sdk = |e: ward_crypto::azure_core::Error| provider_error(format!("credential: {e}"));
    let client_options = ClientOptions {
        transport: Some(ward_crypto::azure_transport(
            None,
            ward_crypto::HttpPolicy::default(),
        )?),
        ..ClientOptions::default()
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    Ok(match kind {
        "workload-identity" => {
            let mut options = WorkloadIdentityCredentialOptions::default();
            options.credential_options.client_options = client_options;
            WorkloadIdentityCredential::new(Some(options)).map_err(sdk)?
        }
        "client-secret" => {
            let missing = |name: &str| provider_error(format!("{name} is not set"));
            let tenant = env("AZURE_TENANT_ID").ok_or_else(|| missing("AZURE_TENANT_ID"))?;
            let client = env("AZURE_CLIENT_ID").ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
            let secret =
                env("AZURE_CLIENT_SECRET").ok_or_else(|| missing("AZURE_CLIENT_SECRET"))?;
            let options = ClientSecretCredentialOptions { client_options };
            ClientSecretCredential::new(&tenant, client, secret.into(), Some(options))
                .map_err(sdk)?
        }
        _ => {
            let options = ManagedIdentityCredentialOptions {
                client_options,
                // A user-assigned identity is named by its client id, as the Azure SDKs do.
                user_assigned_id: env("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
            };
            ManagedIdentityCredential::new(Some(options)).map_err(sdk)?
        }
    })
}

/// A ring of remote key names from `(version, name, active)` entries.
#[cfg(any(feature = "aws-kms", feature = "azure-key-vault", feature = "gcp-kms"))]
fn remote_ring(
    entries: &[(u32, String, bool)],
) -> ward_crypto::Result<ward_crypto::KeyRing<String>> {
    Ok(ward_crypto::KeyRing::new(entries.iter().map(
        |(id, key, active)| ward_crypto::KeyRingEntry {
            id: ward_crypto::KekId(*id),
            key: key.clone(),
            active: *active,
        },
    ))?)
}
