//! A KEK ring kept in AWS Secrets Manager, against moto's Secrets Manager on loopback (see
//! [`crate::moto`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ward_crypto::aws_sdk_secretsmanager::{Client, primitives::Blob};
use ward_crypto::{
    DataKey, DekId, Error, KekId, KeyEncryptionKey, KeyMaterial, RingRefresh, SecretsManagerKek,
};

use crate::moto::server;

fn client(endpoint: &str) -> Client {
    Client::new(&crate::moto::sdk_config(endpoint))
}

/// A secret name unique to this run and `label`.
fn secret_name(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ward-test/{label}-{}-{nanos}", std::process::id())
}

/// Ring text over `keys` (version → base64 key) with `active` marked.
fn ring_text(keys: &BTreeMap<u32, String>, ids: &[u32], active: u32) -> String {
    ids.iter()
        .map(|id| {
            let state = if *id == active { ":active" } else { "" };
            format!("{id}:{}{state}", keys[id])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn new_key() -> String {
    KeyMaterial::generate().unwrap().to_base64().to_string()
}

async fn create_secret(client: &Client, name: &str, text: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .unwrap();
}

async fn put_secret(client: &Client, name: &str, text: &str) {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(text)
        .send()
        .await
        .unwrap();
}

/// One secret per provider, each holding the ring asked for; a version's key stays the same.
struct Secrets {
    client: Client,
    keys: std::sync::Mutex<BTreeMap<u32, String>>,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Secrets {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        let text = {
            let mut keys = self.keys.lock().unwrap();
            for id in ids {
                keys.entry(*id).or_insert_with(new_key);
            }
            ring_text(&keys, ids, active)
        };
        let name = secret_name("suite");
        create_secret(&self.client, &name, &text).await;
        Arc::new(
            SecretsManagerKek::connect(self.client.clone(), name, RingRefresh::default())
                .await
                .unwrap(),
        )
    }
}

#[tokio::test]
async fn secrets_manager_passes_the_provider_suite() {
    let Some(endpoint) = server() else { return };
    crate::conformance::run(&Secrets {
        client: client(&endpoint),
        keys: Default::default(),
    })
    .await;
}

#[tokio::test]
async fn a_rotated_secret_is_read_after_its_lifetime() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let keys = BTreeMap::from([(1, new_key()), (2, new_key())]);
    let name = secret_name("rotate");
    create_secret(&client, &name, &ring_text(&keys, &[1], 1)).await;
    let refresh = RingRefresh {
        max_age: Duration::from_millis(200),
        unknown_key_interval: Duration::from_secs(3600),
    };
    let kek = SecretsManagerKek::connect(client.clone(), &name, refresh)
        .await
        .unwrap();
    let first_version = kek.secret_version();
    let dek = DataKey::generate(DekId(1)).unwrap();
    let old = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(old.kek_id(), KekId(1));

    put_secret(&client, &name, &ring_text(&keys, &[1, 2], 2)).await;
    // Within its lifetime the ring read at connect is used.
    assert_eq!(kek.wrap(&dek, b"ws").await.unwrap().kek_id(), KekId(1));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(new.kek_id(), KekId(2));
    assert_eq!(kek.active_id(), KekId(2));
    assert_eq!(kek.key_ids(), vec![KekId(1), KekId(2)]);
    assert_ne!(kek.secret_version(), first_version);
    assert_eq!(kek.unwrap(&old, b"ws").await.unwrap().id(), DekId(1));
}

#[tokio::test]
async fn a_wrapped_key_under_a_newer_version_makes_the_ring_read_at_once() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let keys = BTreeMap::from([(1, new_key()), (2, new_key())]);
    let name = secret_name("unknown");
    create_secret(&client, &name, &ring_text(&keys, &[1], 1)).await;
    let long = RingRefresh {
        max_age: Duration::from_secs(3600),
        unknown_key_interval: Duration::ZERO,
    };
    let early = SecretsManagerKek::connect(client.clone(), &name, long)
        .await
        .unwrap();

    // Another process reads the rotated secret and wraps under version 2.
    put_secret(&client, &name, &ring_text(&keys, &[1, 2], 2)).await;
    let late = SecretsManagerKek::connect(client.clone(), &name, long)
        .await
        .unwrap();
    let dek = DataKey::generate(DekId(6)).unwrap();
    let wrapped = late.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(wrapped.kek_id(), KekId(2));

    assert_eq!(early.active_id(), KekId(1));
    assert_eq!(early.unwrap(&wrapped, b"ws").await.unwrap().id(), DekId(6));
    assert_eq!(early.active_id(), KekId(2));

    // A version the secret never held stays unknown after the read.
    let mut bytes = wrapped.as_bytes().to_vec();
    bytes[1..5].copy_from_slice(&7u32.to_be_bytes());
    let other = ward_crypto::WrappedDataKey::from_bytes(bytes).unwrap();
    assert!(matches!(
        early.unwrap(&other, b"ws").await,
        Err(Error::UnknownKekId { kek_id: KekId(7) })
    ));
}

#[tokio::test]
async fn the_ring_is_not_used_past_its_lifetime_when_the_secret_cannot_be_read() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let keys = BTreeMap::from([(1, new_key())]);
    let name = secret_name("gone");
    create_secret(&client, &name, &ring_text(&keys, &[1], 1)).await;
    let refresh = RingRefresh {
        max_age: Duration::from_millis(100),
        unknown_key_interval: Duration::from_secs(3600),
    };
    let kek = SecretsManagerKek::connect(client.clone(), &name, refresh)
        .await
        .unwrap();
    let dek = DataKey::generate(DekId(2)).unwrap();
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();

    client
        .delete_secret()
        .secret_id(&name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    for result in [
        kek.wrap(&dek, b"ws").await.map(|_| ()),
        kek.unwrap(&wrapped, b"ws").await.map(|_| ()),
    ] {
        crate::conformance::assert_service_failure(
            &result.unwrap_err(),
            "aws-secrets-manager",
            "GetSecretValue",
            &[],
        );
    }
}

#[tokio::test]
async fn secrets_that_hold_no_valid_ring_are_refused_without_echoing_them() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let connect = |name: String| {
        let client = client.clone();
        async move { SecretsManagerKek::connect(client, name, RingRefresh::default()).await }
    };

    let binary = secret_name("binary");
    client
        .create_secret()
        .name(&binary)
        .secret_binary(Blob::new(vec![7u8; 32]))
        .send()
        .await
        .unwrap();
    let err = connect(binary).await.unwrap_err();
    assert!(err.to_string().contains("the secret is binary"), "{err}");

    // A ring whose only key is one byte value repeated, and one without an active version.
    let degenerate = secret_name("degenerate");
    let weak = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=";
    create_secret(&client, &degenerate, &format!("1:{weak}:active")).await;
    let err = connect(degenerate).await.unwrap_err();
    assert!(matches!(err, Error::KeyRing(_)), "{err:?}");
    assert!(!err.to_string().contains(weak), "{err}");

    let inactive = secret_name("inactive");
    create_secret(&client, &inactive, &format!("1:{}", new_key())).await;
    let err = connect(inactive).await.unwrap_err();
    assert!(matches!(err, Error::KeyRing(_)), "{err:?}");

    let missing = connect(secret_name("missing")).await.unwrap_err();
    assert!(
        matches!(
            missing,
            Error::Provider {
                provider: "aws-secrets-manager",
                ..
            }
        ),
        "{missing:?}"
    );
    let empty = connect("  ".to_owned()).await.unwrap_err();
    assert!(
        empty.to_string().contains("the secret id is empty"),
        "{empty}"
    );
}
