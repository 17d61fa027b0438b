//! Opens the KEK provider the configuration names.

use std::sync::Arc;

use ward_crypto::{KeyEncryptionKey, LocalKek};

use crate::config::{self, Config, KekSetting};
use crate::error::{Error, Result};

/// The provider of `config.kek`, connected: a remote provider has read its key or ring once, so a
/// wrong key name, credential or address stops the start here.
pub(crate) async fn open(config: &Config) -> Result<Arc<dyn KeyEncryptionKey>> {
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
                let pem = std::fs::read(path).map_err(|source| Error::Io {
                    what: format!("reading the Vault CA file {}", path.display()),
                    source,
                })?;
                settings = settings.with_ca_pem(pem);
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
            let settings =
                AzureKeyVaultConfig::new(azure.vault_url.as_str(), azure.key.as_str(), ring)
                    .with_algorithm(algorithm);
            Ok(Arc::new(
                AzureKeyVaultKek::connect(settings, credential).map_err(failed)?,
            ))
        }
        #[cfg(feature = "gcp-kms")]
        KekSetting::GcpKms(keys) => {
            let ring = remote_ring(keys).map_err(failed)?;
            Ok(Arc::new(
                ward_crypto::GcpKmsKek::from_env(ring)
                    .await
                    .map_err(failed)?,
            ))
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
