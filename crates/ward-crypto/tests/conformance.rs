//! One suite every KEK provider passes: the contract of [`KeyEncryptionKey`], checked the same
//! way over the local ring and over every remote provider (each against its server).
//!
//! A provider joins by implementing [`Fixture`]: it builds providers over rings of KEK versions
//! in which a version always stands for the same underlying key, so a key wrapped under version 1
//! by one provider unwraps through another provider whose ring still holds version 1.

use std::sync::Arc;

use ward_crypto::{
    DataKey, DekId, Error, FieldCipher, KekId, KeyEncryptionKey, LocalKek, WrappedDataKey,
};

/// Builds providers of one kind for the suite.
#[async_trait::async_trait]
pub(crate) trait Fixture: Sync {
    /// A provider over the KEK versions `ids`, `active` among them. The same id always stands for
    /// the same key, across calls.
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey>;
}

/// Runs the whole suite over providers from `fixture`.
pub(crate) async fn run(fixture: &dyn Fixture) {
    round_trip_keeps_ids_and_binds_context_and_header(fixture).await;
    tampered_bodies_never_yield_a_key(fixture).await;
    wraps_are_randomised_and_contexts_distinct(fixture).await;
    rotation_keeps_old_versions_readable_until_retired(fixture).await;
}

async fn round_trip_keeps_ids_and_binds_context_and_header(fixture: &dyn Fixture) {
    let kek = fixture.provider(&[1], 1).await;
    assert_eq!(kek.active_id(), KekId(1));
    assert_eq!(kek.key_ids(), vec![KekId(1)]);
    let dek = DataKey::generate(DekId(12)).unwrap();
    let wrapped = kek.wrap(&dek, b"workspace-a").await.unwrap();
    assert_eq!((wrapped.kek_id(), wrapped.dek_id()), (KekId(1), DekId(12)));
    crate::kek::assert_wrapped_is_bound(kek.as_ref(), &dek, &wrapped, 9).await;
}

async fn tampered_bodies_never_yield_a_key(fixture: &dyn Fixture) {
    let kek = fixture.provider(&[1], 1).await;
    let material = ward_crypto::KeyMaterial::generate().unwrap();
    let secret = material.to_base64().to_string();
    let dek = DataKey::new(DekId(3), material);
    let wrapped = kek.wrap(&dek, b"workspace-a").await.unwrap();
    let bytes = wrapped.as_bytes();
    // The header is 9 bytes; flip a bit at the start, middle and end of the provider's body, and
    // cut the body short.
    let mut variants = Vec::new();
    for at in [9, 9 + (bytes.len() - 9) / 2, bytes.len() - 1] {
        let mut flipped = bytes.to_vec();
        flipped[at] ^= 0x20;
        variants.push(flipped);
    }
    variants.push(bytes[..bytes.len() - 1].to_vec());
    variants.push(bytes[..9].to_vec());
    for variant in variants {
        let Ok(tampered) = WrappedDataKey::from_bytes(variant) else {
            continue;
        };
        match kek.unwrap(&tampered, b"workspace-a").await {
            Ok(_) => panic!("a tampered wrapped key yielded a key"),
            Err(e) => {
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains(&secret), "the error shows the key: {shown}");
                assert!(
                    matches!(
                        e,
                        Error::Decrypt | Error::Malformed { .. } | Error::Provider { .. }
                    ),
                    "unexpected error for a tampered key: {e:?}"
                );
            }
        }
    }
}

async fn wraps_are_randomised_and_contexts_distinct(fixture: &dyn Fixture) {
    let kek = fixture.provider(&[1], 1).await;
    let dek = DataKey::generate(DekId(5)).unwrap();
    let first = kek.wrap(&dek, b"").await.unwrap();
    let second = kek.wrap(&dek, b"").await.unwrap();
    assert_ne!(first.as_bytes(), second.as_bytes());
    for wrapped in [&first, &second] {
        assert_eq!(kek.unwrap(wrapped, b"").await.unwrap().id(), DekId(5));
        // An empty context is a context like any other: no other one opens it.
        assert!(matches!(
            kek.unwrap(wrapped, b"workspace-a").await,
            Err(Error::Decrypt)
        ));
    }
}

async fn rotation_keeps_old_versions_readable_until_retired(fixture: &dyn Fixture) {
    let v1 = fixture.provider(&[1], 1).await;
    let dek = DataKey::generate(DekId(8)).unwrap();
    let old = v1.wrap(&dek, b"workspace-r").await.unwrap();
    let sealed = FieldCipher::new(&dek).seal(b"phi", b"t.c:1").unwrap();

    let v2 = fixture.provider(&[1, 2], 2).await;
    assert_eq!(v2.active_id(), KekId(2));
    assert_eq!(v2.key_ids(), vec![KekId(1), KekId(2)]);
    let from_old = v2.unwrap(&old, b"workspace-r").await.unwrap();
    let new = v2.wrap(&from_old, b"workspace-r").await.unwrap();
    assert_eq!((new.kek_id(), new.dek_id()), (KekId(2), DekId(8)));

    let retired = fixture.provider(&[2], 2).await;
    let again = retired.unwrap(&new, b"workspace-r").await.unwrap();
    assert_eq!(
        FieldCipher::new(&again)
            .open(&sealed, b"t.c:1")
            .unwrap()
            .as_slice(),
        b"phi"
    );
    assert!(matches!(
        retired.unwrap(&old, b"workspace-r").await,
        Err(Error::UnknownKekId { kek_id: KekId(1) })
    ));
}

/// Checks that `err` is a failure of the key service `provider` (which may pass: the fault is
/// `Unavailable`), says `says`, and shows none of `hidden` (key bytes, tokens).
#[cfg(any(
    feature = "aws-secrets-manager",
    feature = "azure-key-vault",
    feature = "gcp-kms",
    feature = "vault-transit"
))]
pub(crate) fn assert_service_failure(err: &Error, provider: &str, says: &str, hidden: &[&str]) {
    let shown = format!("{err} {err:?}");
    assert!(
        matches!(err, Error::Provider { provider: p, .. } if *p == provider),
        "{err:?}"
    );
    assert!(shown.contains(says), "{shown}");
    for secret in hidden {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert_eq!(err.fault(), ward_crypto::Fault::Unavailable);
}

/// The local ring: one generated key per version, kept for the fixture's life.
struct Local {
    keys: std::sync::Mutex<std::collections::BTreeMap<u32, String>>,
}

#[async_trait::async_trait]
impl Fixture for Local {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        let mut keys = self.keys.lock().unwrap();
        let ring: Vec<String> = ids
            .iter()
            .map(|&id| {
                let key = keys.entry(id).or_insert_with(|| {
                    ward_crypto::KeyMaterial::generate()
                        .unwrap()
                        .to_base64()
                        .to_string()
                });
                let state = if id == active { ":active" } else { "" };
                format!("{id}:{key}{state}")
            })
            .collect();
        Arc::new(LocalKek::parse(&ring.join("\n")).unwrap())
    }
}

#[tokio::test]
async fn the_local_ring_passes_the_suite() {
    run(&Local {
        keys: Default::default(),
    })
    .await;
}
