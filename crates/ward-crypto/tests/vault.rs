//! The Vault Transit provider against ward-imitations' Vault: a TLS server on loopback that
//! speaks the part of Vault's documented HTTP API ward calls (key read, encrypt, decrypt with
//! derived keys, token checked, Vault's envelopes and errors). Vault cannot be installed on the
//! machines these tests run on; the imitation's behaviour beyond these calls is not claimed.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ward_crypto::secrecy::SecretString;
use ward_crypto::{
    DataKey, DekId, Error, HttpPolicy, KekId, KeyEncryptionKey, RingRefresh, VaultTransitConfig,
    VaultTransitKek, WrappedDataKey,
};
use ward_imitations::vault::{KEY, TOKEN, Transit};

type Vault = ward_imitations::Imitation<Transit>;

/// A configuration for the imitation, trusting its CA, with quick retries.
fn config(vault: &Vault) -> VaultTransitConfig {
    VaultTransitConfig::new(vault.address(), SecretString::from(TOKEN), KEY)
        .with_ca_pem(vault.ca_pem().as_bytes())
        .with_http_policy(HttpPolicy {
            initial_backoff: Duration::from_millis(10),
            ..HttpPolicy::default()
        })
}

async fn connect(vault: &Vault) -> VaultTransitKek {
    VaultTransitKek::connect(config(vault)).await.unwrap()
}

/// Providers over one server whose key's versions are set to what each ring asks for.
struct Fixture {
    vault: Vault,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        // Vault's versions run from min_decryption_version to latest_version, latest active.
        assert_eq!(Some(&active), ids.iter().max());
        self.vault
            .set_versions(ids.iter().copied().min().unwrap(), active);
        Arc::new(connect(&self.vault).await)
    }
}

#[tokio::test]
async fn vault_transit_passes_the_provider_suite() {
    let vault = ward_imitations::vault::start().await;
    crate::conformance::run(&Fixture {
        vault: vault.clone(),
    })
    .await;

    // Every request carried the token; every wrap pinned the version and sent a context.
    let seen = vault.seen();
    assert!(
        seen.iter()
            .all(|r| r.header("x-vault-token") == Some(TOKEN))
    );
    let encrypts: Vec<_> = seen
        .iter()
        .filter(|r| r.path.contains("/encrypt/"))
        .collect();
    assert!(!encrypts.is_empty());
    for request in encrypts {
        assert_eq!(request.method, "POST");
        assert!(
            request.body["key_version"].as_u64().is_some(),
            "{request:?}"
        );
        assert!(
            request.body["context"]
                .as_str()
                .is_some_and(|c| !c.is_empty())
        );
    }
}

#[tokio::test]
async fn the_context_sent_is_the_header_then_the_callers_context() {
    let vault = ward_imitations::vault::start().await;
    let kek = connect(&vault).await;
    let wrapped = kek
        .wrap(&DataKey::generate(DekId(21)).unwrap(), b"workspace-q")
        .await
        .unwrap();
    let sent = vault
        .seen()
        .into_iter()
        .rfind(|r| r.path.ends_with("/encrypt/ward-kek"))
        .unwrap();
    let context = BASE64
        .decode(sent.body["context"].as_str().unwrap())
        .unwrap();
    assert_eq!(&context[..9], &wrapped.as_bytes()[..9]);
    assert_eq!(&context[9..], b"workspace-q");
    assert_eq!(sent.body["key_version"], 1);
    assert!(wrapped.as_bytes()[9..].starts_with(b"vault:v1:"));
}

#[tokio::test]
async fn a_rotation_in_vault_becomes_the_active_kek_version() {
    let vault = ward_imitations::vault::start().await;
    let quick = config(&vault).with_refresh(RingRefresh {
        max_age: Duration::from_millis(150),
        unknown_key_interval: Duration::from_secs(3600),
    });
    let kek = VaultTransitKek::connect(quick).await.unwrap();
    let early = VaultTransitKek::connect(config(&vault).with_refresh(RingRefresh {
        max_age: Duration::from_secs(3600),
        unknown_key_interval: Duration::ZERO,
    }))
    .await
    .unwrap();
    let dek = DataKey::generate(DekId(3)).unwrap();
    let old = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(old.kek_id(), KekId(1));

    vault.rotate();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let new = kek.wrap(&dek, b"ws").await.unwrap();
    assert_eq!(new.kek_id(), KekId(2));
    assert_eq!(kek.key_ids(), vec![KekId(1), KekId(2)]);

    // A provider that read the key before the rotation reads it again when it meets version 2.
    assert_eq!(early.active_id(), KekId(1));
    assert_eq!(early.unwrap(&new, b"ws").await.unwrap().id(), DekId(3));
    assert_eq!(early.active_id(), KekId(2));
    assert_eq!(early.unwrap(&old, b"ws").await.unwrap().id(), DekId(3));
}

#[tokio::test]
async fn a_header_naming_another_version_than_the_ciphertext_is_refused() {
    let vault = ward_imitations::vault::start().await;
    vault.rotate();
    let kek = connect(&vault).await;
    let wrapped = kek
        .wrap(&DataKey::generate(DekId(4)).unwrap(), b"ws")
        .await
        .unwrap();
    assert_eq!(wrapped.kek_id(), KekId(2));
    let mut bytes = wrapped.as_bytes().to_vec();
    bytes[1..5].copy_from_slice(&1u32.to_be_bytes());
    let relabelled = WrappedDataKey::from_bytes(bytes).unwrap();
    let before = vault.seen().len();
    assert!(matches!(
        kek.unwrap(&relabelled, b"ws").await,
        Err(Error::Decrypt)
    ));
    // Refused before asking Vault.
    assert_eq!(vault.seen().len(), before);
}

#[tokio::test]
async fn throttling_errors_and_timeouts_are_retried_or_typed() {
    let vault = ward_imitations::vault::start().await;
    let kek = connect(&vault).await;
    let impatient =
        VaultTransitKek::connect(config(&vault).with_http_policy(crate::resilience::impatient()))
            .await
            .unwrap();
    crate::resilience::resilience(
        &vault,
        &kek,
        &impatient,
        "vault-transit",
        "Vault answered 500",
        "no answer within 200 ms",
        &[TOKEN],
    )
    .await;
}

#[tokio::test]
async fn keys_and_tokens_that_cannot_bind_or_read_are_refused_at_connect() {
    let vault = ward_imitations::vault::start().await;

    let wrong_token = VaultTransitConfig::new(
        vault.address(),
        SecretString::from("hvs.not-the-token"),
        KEY,
    )
    .with_ca_pem(vault.ca_pem().as_bytes());
    let err = VaultTransitKek::connect(wrong_token).await.unwrap_err();
    assert!(err.to_string().contains("Vault answered 403"), "{err}");
    assert!(!err.to_string().contains("hvs.not-the-token"), "{err}");

    let missing = VaultTransitConfig::new(vault.address(), SecretString::from(TOKEN), "other")
        .with_ca_pem(vault.ca_pem().as_bytes());
    let err = VaultTransitKek::connect(missing).await.unwrap_err();
    assert!(err.to_string().contains("no transit key `other`"), "{err}");

    vault.with(|s| s.derived = false);
    let err = VaultTransitKek::connect(config(&vault)).await.unwrap_err();
    assert!(err.to_string().contains("is not derived"), "{err}");
    vault.with(|s| {
        s.derived = true;
        s.kind = "rsa-4096";
    });
    let err = VaultTransitKek::connect(config(&vault)).await.unwrap_err();
    assert!(err.to_string().contains("has type `rsa-4096`"), "{err}");
    vault.with(|s| s.kind = "aes256-gcm96");

    // Without the CA the system roots do not know the server's certificate.
    let untrusted = VaultTransitConfig::new(vault.address(), SecretString::from(TOKEN), KEY)
        .with_http_policy(HttpPolicy {
            attempts: 1,
            ..HttpPolicy::default()
        });
    let err = VaultTransitKek::connect(untrusted).await.unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");

    for (address, token, key) in [
        (vault.address(), "", KEY),
        (vault.address(), TOKEN, "../sys"),
        ("https://127.0.0.1:9/?x", TOKEN, KEY),
    ] {
        let config = VaultTransitConfig::new(address, SecretString::from(token), key)
            .with_ca_pem(vault.ca_pem().as_bytes());
        let err = VaultTransitKek::connect(config).await.unwrap_err();
        assert!(matches!(err, Error::Provider { .. }), "{err:?}");
    }
    let shown = format!("{:?}", connect(&vault).await);
    assert!(!shown.contains(TOKEN), "{shown}");
}
