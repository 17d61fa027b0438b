//! Server-side encryption: the policy requested on every S3 put, and what a server was observed
//! to report.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use ward_crypto::{KEY_LEN, KeyMaterial, derive_sse_c_key};
use zeroize::Zeroizing;

use crate::error::{ConfigRule, Error, Result};
use crate::key::ObjectKey;

/// The `x-amz-server-side-encryption` value for SSE-S3.
pub const SSE_S3_ALGORITHM: &str = "AES256";
/// The `x-amz-server-side-encryption` value for SSE-KMS.
pub const SSE_KMS_ALGORITHM: &str = "aws:kms";
/// The `x-amz-server-side-encryption-customer-algorithm` value for SSE-C.
pub const SSE_C_ALGORITHM: &str = "AES256";

/// The server-side encryption requested on every S3 put, single and multipart.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SsePolicy {
    /// SSE-S3: the server encrypts with keys it manages (`AES256`).
    S3Managed,
    /// SSE-KMS with this KMS key (`aws:kms`).
    Kms {
        /// The KMS key id or key ARN. Not an alias: S3 reports the key's ARN, which an alias
        /// never matches (`S3StoreBuilder::build` refuses `alias/…`).
        key_id: String,
    },
    /// SSE-C: the server encrypts with a key ward sends on every request; a distinct key is
    /// derived for each object from this master key.
    CustomerKey(SseCustomerKey),
}

impl SsePolicy {
    /// The value the server must report: `x-amz-server-side-encryption` for SSE-S3 and SSE-KMS,
    /// the customer algorithm for SSE-C.
    pub fn expected_algorithm(&self) -> &str {
        match self {
            Self::S3Managed => SSE_S3_ALGORITHM,
            Self::Kms { .. } => SSE_KMS_ALGORITHM,
            Self::CustomerKey(_) => SSE_C_ALGORITHM,
        }
    }

    /// A short name for evidence and logs: `sse-s3`, `sse-kms` or `sse-c`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::S3Managed => "sse-s3",
            Self::Kms { .. } => "sse-kms",
            Self::CustomerKey(_) => "sse-c",
        }
    }
}

impl fmt::Debug for SsePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3Managed => f.write_str("S3Managed"),
            Self::Kms { key_id } => f.debug_struct("Kms").field("key_id", key_id).finish(),
            Self::CustomerKey(k) => f.debug_tuple("CustomerKey").field(k).finish(),
        }
    }
}

/// The SSE-C master key: 32 secret bytes from which each object's SSE-C key is derived with
/// [`derive_sse_c_key`] (HKDF-SHA256 bound to the object key), so no two objects share a
/// customer key.
///
/// Built on ward-crypto's [`KeyMaterial`]: the bytes are zeroized on drop, `Debug` prints
/// `******`, equality is constant-time, and the bytes never reach a log or an error. Clones
/// share one allocation.
#[derive(Clone, PartialEq, Eq)]
pub struct SseCustomerKey(Arc<KeyMaterial>);

impl SseCustomerKey {
    /// A master key from standard base64 that decodes to exactly 32 bytes, not degenerate: a key
    /// with fewer than [`MIN_DISTINCT_KEY_BYTES`](ward_crypto::MIN_DISTINCT_KEY_BYTES) (16)
    /// distinct byte values (all zeros, a repeated placeholder) is refused, the same rule as
    /// ward-crypto's loaded keys. A random key fails it with probability about 3 × 10⁻¹⁷.
    pub fn from_base64(encoded: &str) -> Result<Self> {
        match KeyMaterial::from_base64(encoded) {
            Ok(key) => Ok(Self(Arc::new(key))),
            Err(ward_crypto::Error::InvalidKeyEncoding) => {
                Err(config_invalid("base64 decoding failed"))
            }
            Err(ward_crypto::Error::InvalidKeyLength { actual, .. }) => Err(config_invalid(
                &format!("must be {KEY_LEN} bytes, got {actual}"),
            )),
            Err(other) => Err(config_invalid(&other.to_string())),
        }
    }

    /// A fresh random master key.
    pub fn generate() -> Result<Self> {
        KeyMaterial::generate()
            .map(|key| Self(Arc::new(key)))
            .map_err(|_| config_invalid("the operating system's random generator failed"))
    }

    /// The SSE-C key for one object, base64-encoded as the `x-amz-…-customer-key` header wants.
    pub(crate) fn object_key_base64(&self, key: &ObjectKey) -> Zeroizing<String> {
        derive_sse_c_key(&self.0, key.as_str()).to_base64()
    }
}

fn config_invalid(reason: &str) -> Error {
    Error::Config {
        rule: ConfigRule::Invalid {
            setting: "sse_customer_key",
            reason: reason.to_owned(),
        },
    }
}

impl fmt::Debug for SseCustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SseCustomerKey(******)")
    }
}

/// The base64 MD5 of a base64 SSE-C key, as `x-amz-server-side-encryption-customer-key-MD5`
/// carries it.
pub(crate) fn customer_key_md5(key_b64: &str) -> String {
    use md5::{Digest as _, Md5};
    let raw = Zeroizing::new(STANDARD.decode(key_b64).unwrap_or_default());
    STANDARD.encode(Md5::digest(raw.as_slice()))
}

/// Server-side encryption exactly as a server reported it: each field is the header's value, or
/// `None` when the header was absent. Nothing is filled in or assumed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObservedSse {
    /// `x-amz-server-side-encryption`.
    pub algorithm: Option<String>,
    /// `x-amz-server-side-encryption-aws-kms-key-id`.
    pub kms_key_id: Option<String>,
    /// `x-amz-server-side-encryption-customer-algorithm`.
    pub customer_algorithm: Option<String>,
    /// `x-amz-server-side-encryption-customer-key-MD5`.
    pub customer_key_md5: Option<String>,
}

impl ObservedSse {
    /// Whether the server said nothing at all about server-side encryption.
    pub fn is_empty(&self) -> bool {
        self.algorithm.is_none()
            && self.kms_key_id.is_none()
            && self.customer_algorithm.is_none()
            && self.customer_key_md5.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{FileKind, Owner};
    use uuid::Uuid;

    fn key() -> ObjectKey {
        ObjectKey::new(
            Uuid::new_v4(),
            Owner::Client(Uuid::new_v4()),
            Uuid::new_v4(),
            FileKind::Png,
        )
    }

    /// Objects already written with SSE-C are read with the key derived for them then: the
    /// derivation (HKDF-SHA256, empty salt, info = `ward/v1/storage/sse-c/object-key` ‖ object
    /// key) must give these exact bytes forever. The expected values were computed independently
    /// of this crate (RFC 5869 by hand over HMAC-SHA256).
    #[test]
    fn customer_key_derivation_is_pinned() {
        let master =
            SseCustomerKey::from_base64("Wn8QNc7jhFlyFyjN5rtccQovwOW+U3QJIseYvVZrDCE=").unwrap();
        let key: ObjectKey = "workspaces/00000000-0000-0000-0000-000000000001/clients/\
                              00000000-0000-0000-0000-000000000002/attachments/\
                              00000000-0000-0000-0000-000000000003.png"
            .parse()
            .unwrap();
        let derived = master.object_key_base64(&key);
        assert_eq!(
            derived.as_str(),
            "BJdFOtT9PMLjfakPOZv2Yp5wksuAV+ddRxGiBar7t9A="
        );
        assert_eq!(customer_key_md5(&derived), "GkfixUqX54/oachLZV/ikg==");
    }

    #[test]
    fn customer_keys_differ_per_object_and_repeat_per_key() {
        let master = SseCustomerKey::generate().unwrap();
        let (a, b) = (key(), key());
        assert_ne!(*master.object_key_base64(&a), *master.object_key_base64(&b));
        assert_eq!(*master.object_key_base64(&a), *master.object_key_base64(&a));
        let other = SseCustomerKey::generate().unwrap();
        assert_ne!(*master.object_key_base64(&a), *other.object_key_base64(&a));
    }

    #[test]
    fn customer_key_debug_and_errors_hide_the_bytes() {
        let varied: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5A);
        let encoded = STANDARD.encode(varied);
        let master = SseCustomerKey::from_base64(&encoded).unwrap();
        let policy = SsePolicy::CustomerKey(master);
        let shown = format!("{policy:?}");
        assert!(shown.contains("******"));
        assert!(!shown.contains(&encoded));

        let short = STANDARD.encode([7u8; 31]);
        let err = SseCustomerKey::from_base64(&short).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid storage configuration: setting `sse_customer_key` is invalid: must be 32 bytes, got 31"
        );
        assert!(SseCustomerKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn degenerate_customer_keys_are_refused_naming_the_rule_not_the_bytes() {
        let mut pattern = [0u8; 32];
        for (i, b) in pattern.iter_mut().enumerate() {
            *b = b"0123456789abcdef"[i % 15];
        }
        for bad in [[0u8; 32], [7u8; 32], pattern] {
            let encoded = STANDARD.encode(bad);
            let err = SseCustomerKey::from_base64(&encoded).unwrap_err();
            assert_eq!(
                err.to_string(),
                "invalid storage configuration: setting `sse_customer_key` is invalid: \
                 degenerate key material: fewer than 16 distinct byte values in 32 bytes"
            );
            assert!(!format!("{err:?}").contains(&encoded[..8]));
        }
        assert!(SseCustomerKey::generate().is_ok());
    }

    #[test]
    fn customer_keys_are_equal_only_with_the_same_bytes() {
        let varied: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5A);
        let a = SseCustomerKey::from_base64(&STANDARD.encode(varied)).unwrap();
        let again = SseCustomerKey::from_base64(&STANDARD.encode(varied)).unwrap();
        let other = SseCustomerKey::generate().unwrap();
        assert_eq!(a, again);
        assert_ne!(a, other);
        assert_eq!(
            SsePolicy::CustomerKey(a.clone()),
            SsePolicy::CustomerKey(again)
        );
        assert_ne!(SsePolicy::CustomerKey(a), SsePolicy::CustomerKey(other));
    }

    #[test]
    fn observed_sse_is_empty_only_when_every_header_is_absent() {
        assert!(ObservedSse::default().is_empty());
        let one = |set: fn(&mut ObservedSse)| {
            let mut observed = ObservedSse::default();
            set(&mut observed);
            observed
        };
        for observed in [
            one(|o| o.algorithm = Some("AES256".into())),
            one(|o| o.kms_key_id = Some("k".into())),
            one(|o| o.customer_algorithm = Some("AES256".into())),
            one(|o| o.customer_key_md5 = Some("bWQ1".into())),
        ] {
            assert!(!observed.is_empty(), "{observed:?}");
        }
    }

    #[test]
    fn expected_algorithms_are_the_exact_header_values() {
        assert_eq!(SsePolicy::S3Managed.expected_algorithm(), "AES256");
        let kms = SsePolicy::Kms { key_id: "k".into() };
        assert_eq!(kms.expected_algorithm(), "aws:kms");
        assert!(ObservedSse::default().is_empty());
    }
}
