//! The AWS KMS KEK provider (feature `aws-kms`): DEKs are wrapped by KMS `Encrypt` under a KMS
//! key and unwrapped by KMS `Decrypt`; key bytes of the KEK never leave KMS.

use std::collections::HashMap;
use std::fmt;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use zeroize::Zeroizing;

use crate::error::{Error, KeyRingError, Result};
use crate::format::wrapped::Header;
use crate::kek::{KeyEncryptionKey, KeyRing, KeyRingEntry, WrappedDataKey};
use crate::keys::{DataKey, KekId, KeyMaterial};

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
/// `kms:DescribeKey`, `kms:Encrypt` and `kms:Decrypt` on them.
///
/// # Key names are resolved once
///
/// [`connect`](Self::connect) refuses an empty key name
/// ([`KeyRingError::EmptyKmsKeyId`]) and resolves every entry (key id, ARN or `alias/…`) to its
/// key ARN with one `DescribeKey`. From then on `Encrypt` and `Decrypt` name that ARN, and the key
/// ARN KMS reports in each answer must be it ([`Error::KmsKeyMismatch`] otherwise): an alias
/// retargeted while the process runs does not silently move wrapping to another key.
///
/// # Plaintext DEKs
///
/// ward copies an unwrapped DEK out of the SDK's `Blob` into a zeroizing buffer, builds the
/// [`DataKey`] from it and zeroizes what it owns. What it cannot reach stays as the SDK left it:
/// the copy handed to the SDK for `Encrypt`, and the JSON request and response bodies (which carry
/// the DEK base64-encoded) inside the SDK and its HTTP stack are freed without being zeroized.
///
/// ```no_run
/// use ward_crypto::{KekId, KeyRing, KeyRingEntry, AwsKmsKek};
///
/// # async fn example() -> ward_crypto::Result<()> {
/// let ring = KeyRing::new([
///     KeyRingEntry { id: KekId(1), key: "alias/ward-kek-2025".to_owned(), active: false },
///     KeyRingEntry { id: KekId(2), key: "alias/ward-kek-2026".to_owned(), active: true },
/// ])?;
/// // Region and credentials from the environment, profile or instance role; an `http://`
/// // endpoint is refused unless `WARD_ENV=development`.
/// let kek = AwsKmsKek::from_env(ring).await?;
/// # Ok(()) }
/// ```
pub struct AwsKmsKek {
    client: Client,
    /// Each version's key ARN, as `DescribeKey` reported it when connecting.
    ring: KeyRing<String>,
}

impl AwsKmsKek {
    /// The provider over a configured KMS client: refuses an empty key name and resolves every
    /// ring entry to its key ARN (one `DescribeKey` each). The client is used as configured, its
    /// endpoint included; [`from_env`](Self::from_env) applies the https rule.
    pub async fn connect(client: Client, ring: KeyRing<String>) -> Result<Self> {
        let (active, _) = ring.active();
        let ids = ring.ids();
        for &id in &ids {
            if ring.get(id).is_none_or(|name| name.trim().is_empty()) {
                return Err(KeyRingError::EmptyKmsKeyId { kek_id: id }.into());
            }
        }
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids {
            let name = ring.get(id).map(|n| n.trim()).unwrap_or_default();
            let output = client
                .describe_key()
                .key_id(name)
                .send()
                .await
                .map_err(|e| provider_error(&format!("DescribeKey for kek {id}"), e))?;
            let arn = output
                .key_metadata()
                .and_then(|m| m.arn())
                .filter(|arn| !arn.is_empty())
                .ok_or_else(|| Error::Provider {
                    provider: PROVIDER,
                    message: format!("DescribeKey for kek {id} returned no key ARN"),
                })?;
            entries.push(KeyRingEntry {
                id,
                key: arn.to_owned(),
                active: id == active,
            });
        }
        Ok(Self {
            client,
            ring: KeyRing::new(entries)?,
        })
    }

    /// The provider with region and credentials from the standard AWS sources (environment,
    /// shared config files, web identity, container or instance role), over HTTPS (rustls), then
    /// [`connect`](Self::connect)ed.
    ///
    /// A KMS endpoint over `http://` (`AWS_ENDPOINT_URL_KMS`, or `AWS_ENDPOINT_URL` / a profile's
    /// `endpoint_url`) is refused ([`Error::HttpsRequired`]) unless `WARD_ENV` is exactly
    /// `development`; an unset `WARD_ENV` means `production`, as in ward-storage, and an
    /// unknown value is [`Error::InvalidEnvironment`].
    pub async fn from_env(ring: KeyRing<String>) -> Result<Self> {
        let config = super::aws::sdk_config("kms", "AWS_ENDPOINT_URL_KMS").await?;
        Self::connect(Client::new(&config), ring).await
    }

    /// The KMS client, for callers that manage keys themselves.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The key ARN of KEK version `id`, as resolved when connecting.
    pub fn key_arn(&self, id: KekId) -> Option<&str> {
        self.ring.get(id).map(String::as_str)
    }

    fn kms_key(&self, id: KekId) -> Result<&str> {
        self.key_arn(id).ok_or(Error::UnknownKekId { kek_id: id })
    }
}

/// The key ARN KMS reported must be the one the KEK version resolved to.
fn check_reported_key(kek_id: KekId, expected: &str, reported: Option<&str>) -> Result<()> {
    if reported == Some(expected) {
        return Ok(());
    }
    Err(Error::KmsKeyMismatch {
        kek_id,
        expected: expected.to_owned(),
        reported: reported.unwrap_or_default().to_owned(),
    })
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

/// A KMS failure as a provider error.
fn provider_error(operation: &str, err: impl std::error::Error) -> Error {
    super::aws::provider_error(PROVIDER, operation, err)
}

#[async_trait::async_trait]
impl KeyEncryptionKey for AwsKmsKek {
    fn active_id(&self) -> KekId {
        self.ring.active().0
    }

    fn key_ids(&self) -> Vec<KekId> {
        self.ring.ids()
    }

    async fn wrap(&self, dek: &DataKey, context: &[u8]) -> Result<WrappedDataKey> {
        let (kek_id, kms_key) = self.ring.active();
        let header = Header {
            kek_id,
            dek_id: dek.id(),
        };
        // This copy belongs to the SDK from here on (see the type's docs).
        let output = self
            .client
            .encrypt()
            .key_id(kms_key)
            .plaintext(Blob::new(dek.material().expose().to_vec()))
            .set_encryption_context(Some(encryption_context(&header.to_bytes(), context)))
            .send()
            .await
            .map_err(|e| provider_error("Encrypt", e))?;
        check_reported_key(kek_id, kms_key, output.key_id())?;
        let blob = output.ciphertext_blob.ok_or_else(|| Error::Provider {
            provider: PROVIDER,
            message: "Encrypt returned no ciphertext".to_owned(),
        })?;
        tracing::debug!(kek_id = %kek_id, dek_id = %dek.id(), "wrapped data key with KMS");
        Ok(WrappedDataKey::from_parts(header, blob.as_ref()))
    }

    async fn unwrap(&self, wrapped: &WrappedDataKey, context: &[u8]) -> Result<DataKey> {
        let kek_id = wrapped.kek_id();
        let kms_key = self.kms_key(kek_id)?;
        let result = self
            .client
            .decrypt()
            .key_id(kms_key)
            .ciphertext_blob(Blob::new(wrapped.body().to_vec()))
            .set_encryption_context(Some(encryption_context(wrapped.header_bytes(), context)))
            .send()
            .await;
        let mut output = match result {
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
        // Take the plaintext out of the output first, so it is zeroized on every path below:
        // `into_inner` moves the Blob's own buffer (no copy) into the zeroizing wrapper.
        let plaintext = output
            .plaintext
            .take()
            .map(|blob| Zeroizing::new(blob.into_inner()));
        check_reported_key(kek_id, kms_key, output.key_id())?;
        let plaintext = plaintext.ok_or_else(|| Error::Provider {
            provider: PROVIDER,
            message: "Decrypt returned no plaintext".to_owned(),
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reported_key_must_be_the_resolved_arn() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/0f9e";
        assert!(check_reported_key(KekId(1), arn, Some(arn)).is_ok());
        for reported in [
            None,
            Some(""),
            Some("arn:aws:kms:us-east-1:123456789012:key/other"),
        ] {
            assert!(matches!(
                check_reported_key(KekId(1), arn, reported),
                Err(Error::KmsKeyMismatch {
                    kek_id: KekId(1),
                    ..
                })
            ));
        }
    }
}
