//! The AWS KMS KEK provider (feature `aws-kms`): DEKs are wrapped by KMS `Encrypt` under a KMS
//! key and unwrapped by KMS `Decrypt`; key bytes of the KEK never leave KMS.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, SdkError};
use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::format::wrapped::Header;
use crate::kek::{KeyEncryptionKey, KeyRing, WrappedDataKey};
use crate::keys::{DataKey, KeyId, KeyMaterial};

const PROVIDER: &str = "aws-kms";
/// Encryption-context entry holding the wrapped key's header (version, KEK id, DEK id), in hex.
const CONTEXT_HEADER: &str = "ward:wrapped-dek";
/// Encryption-context entry holding the caller's context (for example the workspace id), in hex.
const CONTEXT_CALLER: &str = "ward:context";

/// KEK versions held in AWS KMS (or a KMS-compatible service): each ring entry maps a ward KEK id
/// to a KMS key id, key ARN or alias.
///
/// The body of a wrapped DEK is the KMS `CiphertextBlob`. The wrapped key's header and the
/// caller's context travel as the KMS *encryption context*, which KMS authenticates, so a wrapped
/// key relabelled or moved to another workspace fails to unwrap ([`Error::Decrypt`]).
///
/// This provider creates nothing: the KMS keys must exist and the caller's credentials must allow
/// `kms:Encrypt` and `kms:Decrypt` on them.
///
/// ```no_run
/// use ward_crypto::{KeyId, KeyRing, KeyRingEntry, AwsKmsKek};
///
/// # async fn example() -> ward_crypto::Result<()> {
/// let ring = KeyRing::new([
///     KeyRingEntry { id: KeyId(1), key: "alias/ward-kek-2025".to_owned(), active: false },
///     KeyRingEntry { id: KeyId(2), key: "alias/ward-kek-2026".to_owned(), active: true },
/// ])?;
/// // Region and credentials from the environment, profile or instance role.
/// let kek = AwsKmsKek::from_env(ring).await;
/// # Ok(()) }
/// ```
pub struct AwsKmsKek {
    client: Client,
    ring: KeyRing<String>,
}

impl AwsKmsKek {
    /// The provider over a configured KMS client.
    pub fn new(client: Client, ring: KeyRing<String>) -> Self {
        Self { client, ring }
    }

    /// The provider with region and credentials from the standard AWS sources (environment,
    /// shared config files, web identity, container or instance role), over HTTPS (rustls).
    pub async fn from_env(ring: KeyRing<String>) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .load()
            .await;
        Self::new(Client::new(&config), ring)
    }

    /// The KMS client, for callers that manage keys themselves.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn kms_key(&self, id: KeyId) -> Result<&str> {
        self.ring
            .get(id)
            .map(String::as_str)
            .ok_or(Error::UnknownKeyId { key_id: id })
    }
}

/// The KMS encryption context binding a wrapped key to its header and the caller's context.
fn encryption_context(header: &[u8], context: &[u8]) -> HashMap<String, String> {
    HashMap::from([
        (CONTEXT_HEADER.to_owned(), hex(header)),
        (CONTEXT_CALLER.to_owned(), hex(context)),
    ])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A KMS failure as a provider error, with the SDK's message (which holds no key material).
fn provider_error<E, R>(operation: &str, err: SdkError<E, R>) -> Error
where
    E: std::error::Error + 'static,
    R: fmt::Debug,
{
    Error::Provider {
        provider: PROVIDER,
        message: format!("{operation}: {}", DisplayErrorContext(&err)),
    }
}

#[async_trait::async_trait]
impl KeyEncryptionKey for AwsKmsKek {
    fn active_id(&self) -> KeyId {
        self.ring.active().0
    }

    fn key_ids(&self) -> Vec<KeyId> {
        self.ring.ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let (kek_id, kms_key) = self.ring.active();
        let header = Header {
            kek_id,
            dek_id: dek.id(),
        };
        let output = self
            .client
            .encrypt()
            .key_id(kms_key)
            .plaintext(Blob::new(dek.material().expose().to_vec()))
            .set_encryption_context(Some(encryption_context(&header.to_bytes(), context)))
            .send()
            .await
            .map_err(|e| provider_error("Encrypt", e))?;
        let blob = output.ciphertext_blob.ok_or_else(|| Error::Provider {
            provider: PROVIDER,
            message: "Encrypt returned no ciphertext".to_owned(),
        })?;
        tracing::debug!(kek_id = %kek_id, dek_id = %dek.id(), "wrapped data key with KMS");
        Ok(WrappedDataKey::from_parts(header, blob.as_ref()))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kms_key = self.kms_key(wrapped.kek_id())?;
        let result = self
            .client
            .decrypt()
            .key_id(kms_key)
            .ciphertext_blob(Blob::new(wrapped.body().to_vec()))
            .set_encryption_context(Some(encryption_context(wrapped.header_bytes(), context)))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            // Wrong context, modified blob or another key: one detail-free variant, as locally.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_ciphertext_exception()) =>
            {
                return Err(Error::Decrypt);
            }
            Err(e) => return Err(provider_error("Decrypt", e)),
        };
        let plaintext = Zeroizing::new(
            output
                .plaintext
                .ok_or_else(|| Error::Provider {
                    provider: PROVIDER,
                    message: "Decrypt returned no plaintext".to_owned(),
                })?
                .into_inner(),
        );
        Ok(DataKey::new(
            wrapped.dek_id(),
            KeyMaterial::from_bytes(&plaintext)?,
        ))
    }
}

impl fmt::Debug for AwsKmsKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsKek")
            .field("active_id", &self.active_id())
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}
