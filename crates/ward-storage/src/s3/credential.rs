//! Credentials for `S3Store` when no static keys are configured: the AWS default provider chain
//! (environment, shared profile, web identity, container and instance roles), built on first use
//! on the store's own HTTP client, with the strict environments' refusal of well-known default
//! credentials applied to whatever the chain finds.

use std::fmt;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_s3::config::{Region, SharedHttpClient};
use tokio::sync::OnceCell;

use super::builder::{Environment, is_default_credentials};

/// The default chain, resolved lazily (building it is async, `S3StoreBuilder::build` is not).
/// The SDK's identity cache in front of it keeps credentials until they near expiry.
pub(crate) struct DefaultChain {
    config: ProviderConfig,
    chain: OnceCell<DefaultCredentialsChain>,
    environment: Environment,
}

impl DefaultChain {
    pub(crate) fn new(http: SharedHttpClient, region: Region, environment: Environment) -> Self {
        Self {
            config: ProviderConfig::default()
                .with_http_client(http)
                .with_region(Some(region)),
            chain: OnceCell::new(),
            environment,
        }
    }
}

impl fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultChain")
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for DefaultChain {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let chain = self
                .chain
                .get_or_init(|| {
                    DefaultCredentialsChain::builder()
                        .configure(self.config.clone())
                        .build()
                })
                .await;
            let credentials = chain.provide_credentials().await?;
            if self.environment.is_strict()
                && is_default_credentials(
                    credentials.access_key_id(),
                    credentials.secret_access_key(),
                )
            {
                return Err(CredentialsError::invalid_configuration(format!(
                    "the {} environment refuses default credentials",
                    self.environment
                )));
            }
            Ok(credentials)
        })
    }
}
