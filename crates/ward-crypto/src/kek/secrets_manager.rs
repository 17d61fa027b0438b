//! A KEK ring kept in AWS Secrets Manager (feature `aws-secrets-manager`): the secret's string
//! is a ring in [`LocalKek`]'s text format, loaded at start, cached for a bounded time and
//! reloaded after the secret rotates.

use std::fmt;

use aws_sdk_secretsmanager::Client;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::kek::refresh::{Refreshing, RingRefresh};
use crate::kek::{KeyEncryptionKey, LocalKek, WrappedDataKey};
use crate::keys::{DataKey, KekId};

const PROVIDER: &str = "aws-secrets-manager";

/// A ring as read from the secret.
struct Loaded {
    ring: LocalKek,
    /// The secret version it came from (`VersionId`).
    version: String,
}

/// KEK versions kept as a ring in an AWS Secrets Manager secret: each version's key lives in the
/// secret, and wrapping is done in the process, as [`LocalKek`] does it.
///
/// The secret's string value (`SecretString`) is the ring in [`LocalKek`]'s text format, one
/// `<version>:<base64 key>[:active]` per line or comma-separated; every rule of that format
/// applies (32-byte keys, no degenerate keys, exactly one active version). Rotating the KEK is
/// writing a new secret version whose ring adds a version and marks it active; the provider picks
/// it up within [`RingRefresh::max_age`], or at once when it meets a wrapped key under the new
/// version. Binary secrets (`SecretBinary`) are refused.
///
/// This provider creates nothing: the secret must exist and the caller's credentials must allow
/// `secretsmanager:GetSecretValue` on it (and `kms:Decrypt` on the secret's KMS key when that is a
/// customer-managed key).
///
/// ```no_run
/// use ward_crypto::{RingRefresh, SecretsManagerKek};
///
/// # async fn example() -> ward_crypto::Result<()> {
/// // Region and credentials from the environment, profile or instance role; an `http://`
/// // endpoint is refused unless `WARD_ENV=development`.
/// let kek = SecretsManagerKek::from_env("ward/kek-ring", RingRefresh::default()).await?;
/// # Ok(()) }
/// ```
pub struct SecretsManagerKek {
    client: Client,
    secret_id: String,
    ring: Refreshing<Loaded>,
}

impl SecretsManagerKek {
    /// The provider over a configured client: reads the secret once and refuses it unless it
    /// holds a valid ring.
    pub async fn connect(
        client: Client,
        secret_id: impl Into<String>,
        refresh: RingRefresh,
    ) -> Result<Self> {
        let secret_id = secret_id.into();
        if secret_id.trim().is_empty() {
            return Err(Error::Provider {
                provider: PROVIDER,
                message: "the secret id is empty".to_owned(),
            });
        }
        let loaded = read(&client, &secret_id).await?;
        Ok(Self {
            client,
            secret_id,
            ring: Refreshing::new(loaded, refresh),
        })
    }

    /// The provider with region and credentials from the standard AWS sources, over HTTPS
    /// (rustls), then [`connect`](Self::connect)ed.
    ///
    /// A Secrets Manager endpoint over `http://` (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, or
    /// `AWS_ENDPOINT_URL` / a profile's `endpoint_url`) is refused ([`Error::HttpsRequired`])
    /// unless `WARD_ENV` is exactly `development`.
    pub async fn from_env(secret_id: impl Into<String>, refresh: RingRefresh) -> Result<Self> {
        let config =
            super::aws::sdk_config("secrets manager", "AWS_ENDPOINT_URL_SECRETS_MANAGER").await?;
        Self::connect(Client::new(&config), secret_id, refresh).await
    }

    /// The secret version the ring in use was read from.
    pub fn secret_version(&self) -> String {
        self.ring.last().value.version.clone()
    }

    /// Reads the secret, logging when its version changed.
    async fn read(&self) -> Result<Loaded> {
        let new = read(&self.client, &self.secret_id).await?;
        if new.version != self.ring.last().value.version {
            tracing::info!(
                active_kek = %new.ring.active_id(),
                "read a new version of the KEK ring secret"
            );
        }
        Ok(new)
    }
}

/// Reads and parses the secret.
async fn read(client: &Client, secret_id: &str) -> Result<Loaded> {
    let output = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| super::aws::provider_error(PROVIDER, "GetSecretValue", e))?;
    let version = output.version_id().unwrap_or_default().to_owned();
    let binary = output.secret_binary().is_some();
    let text = output.secret_string.map(Zeroizing::new);
    let Some(text) = text else {
        return Err(Error::Provider {
            provider: PROVIDER,
            message: if binary {
                "the secret is binary; it must hold the KEK ring as a string".to_owned()
            } else {
                "the secret holds no string value".to_owned()
            },
        });
    };
    let ring = LocalKek::parse(&text)?;
    Ok(Loaded { ring, version })
}

#[async_trait::async_trait]
impl KeyEncryptionKey for SecretsManagerKek {
    fn active_id(&self) -> KekId {
        self.ring.last().value.ring.active_id()
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.ring.last().value.ring.key_ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let loaded = self.ring.fresh(|| self.read()).await?;
        loaded.value.ring.wrap(dek, context).await
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let loaded = self.ring.fresh(|| self.read()).await?;
        match loaded.value.ring.unwrap(wrapped, context).await {
            Err(Error::UnknownKekId { .. }) => {
                // The secret may have rotated since it was read: read it again (at most once per
                // interval), then answer from whatever ring that gives.
                let loaded = self.ring.after_unknown_key(|| self.read()).await?;
                loaded.value.ring.unwrap(wrapped, context).await
            }
            other => other,
        }
    }
}

impl fmt::Debug for SecretsManagerKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerKek")
            .field("secret_id", &self.secret_id)
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .field("refresh", &self.ring.policy())
            .finish_non_exhaustive()
    }
}
