//! The Azure Key Vault provider against ward-imitations' Key Vault: a TLS server on loopback that
//! speaks the part of Key Vault's documented REST API ward calls through the official SDK client
//! (wrapkey, unwrapkey, the challenge-based authentication, Key Vault's errors). Key Vault cannot
//! run on the machines these tests run on; the imitation's behaviour beyond these calls is not
//! claimed.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ward_crypto::azure_core;
use ward_crypto::azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use ward_crypto::azure_core::time::OffsetDateTime;
use ward_crypto::{
    AzureKeyVaultConfig, AzureKeyVaultKek, DataKey, DekId, Error, HttpPolicy, KekId,
    KeyEncryptionKey, KeyRing, KeyRingEntry,
};
use ward_imitations::azure::{KEY, KeyVault, TOKEN, version};

type Vault = ward_imitations::Imitation<KeyVault>;

/// A credential that hands out one fixed token (the real ones come from `azure_identity`).
#[derive(Debug)]
struct StaticToken(&'static str);

#[async_trait::async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, ["https://vault.azure.net/.default"]);
        Ok(AccessToken::new(
            self.0.to_owned(),
            OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// A ring over KEK versions `ids` (the vault holding every one), `active` among them.
fn config(vault: &Vault, ids: &[u32], active: u32) -> AzureKeyVaultConfig {
    let ring = KeyRing::new(ids.iter().map(|&id| KeyRingEntry {
        id: KekId(id),
        key: vault.hold(id),
        active: id == active,
    }))
    .unwrap();
    AzureKeyVaultConfig::new(vault.address(), KEY, ring)
        .with_ca_pem(vault.ca_pem().as_bytes())
        // The challenge names vault.azure.net, which 127.0.0.1 is not under.
        .with_challenge_resource_check(false)
        .with_http_policy(HttpPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            ..HttpPolicy::default()
        })
}

fn connect(config: AzureKeyVaultConfig) -> AzureKeyVaultKek {
    AzureKeyVaultKek::connect(config, Arc::new(StaticToken(TOKEN))).unwrap()
}

struct Fixture {
    vault: Vault,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Fixture {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        Arc::new(connect(config(&self.vault, ids, active)))
    }
}

#[tokio::test]
async fn azure_key_vault_passes_the_provider_suite() {
    let vault = ward_imitations::azure::start().await;
    crate::conformance::run(&Fixture {
        vault: vault.clone(),
    })
    .await;

    let seen = vault.seen();
    // Each client's first request is the challenge; every other one carries the token.
    let challenged = seen
        .iter()
        .filter(|r| r.header("authorization").is_none())
        .count();
    assert!(challenged >= 1, "no challenge was answered");
    let operations: Vec<_> = seen
        .iter()
        .filter(|r| r.header("authorization").is_some())
        .collect();
    assert!(!operations.is_empty());
    for request in operations {
        assert!(request.query.contains("api-version="), "{request:?}");
        assert_eq!(request.body["alg"], "RSA-OAEP-256", "{request:?}");
        // The version is always in the path: nothing is left to the vault's current version.
        let parts: Vec<&str> = request.path.split('/').collect();
        assert_eq!(parts.len(), 5, "{request:?}");
        assert_eq!(parts[3].len(), 32, "{request:?}");
    }
}

#[tokio::test]
async fn the_one_time_key_is_what_the_vault_wraps_never_the_data_key() {
    let vault = ward_imitations::azure::start().await;
    let kek = connect(config(&vault, &[1], 1));
    let material = ward_crypto::KeyMaterial::generate().unwrap();
    let dek_url = B64URL.encode(material.to_base64().as_str());
    let dek_std = material.to_base64().to_string();
    let dek = DataKey::new(DekId(2), material);
    let wrapped = kek.wrap(&dek, b"ws").await.unwrap();
    for request in vault.seen() {
        let text = request.body.to_string();
        assert!(
            !text.contains(&dek_std) && !text.contains(&dek_url),
            "{text}"
        );
    }
    assert_eq!(kek.unwrap(&wrapped, b"ws").await.unwrap().id(), DekId(2));
}

#[tokio::test]
async fn throttling_errors_and_timeouts_are_retried_or_typed() {
    let vault = ward_imitations::azure::start().await;
    let kek = connect(config(&vault, &[1], 1));
    let impatient =
        connect(config(&vault, &[1], 1).with_http_policy(crate::resilience::impatient()));
    crate::resilience::resilience(
        &vault,
        &kek,
        &impatient,
        "azure-key-vault",
        "500",
        "no answer within 200 ms",
        &[TOKEN],
    )
    .await;
}

#[tokio::test]
async fn a_wrong_key_version_or_an_answer_for_another_version_is_refused() {
    let vault = ward_imitations::azure::start().await;
    // The ring names a version the vault does not hold.
    let ring = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: version(77),
        active: true,
    }])
    .unwrap();
    let missing = AzureKeyVaultConfig::new(vault.address(), KEY, ring)
        .with_ca_pem(vault.ca_pem().as_bytes())
        .with_challenge_resource_check(false);
    let kek = connect(missing);
    let err = kek
        .wrap(&DataKey::generate(DekId(1)).unwrap(), b"ws")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");

    // The vault answers naming another version than the one asked for.
    let kek = connect(config(&vault, &[1, 2], 2));
    vault.with(|s| s.kid_version = Some(version(1)));
    let err = kek
        .wrap(&DataKey::generate(DekId(1)).unwrap(), b"ws")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("answered for another key than kek 2"),
        "{err}"
    );
}

#[tokio::test]
async fn configurations_that_cannot_be_used_are_refused_at_connect() {
    let vault = ward_imitations::azure::start().await;
    let try_connect = |config: AzureKeyVaultConfig| {
        AzureKeyVaultKek::connect(config, Arc::new(StaticToken(TOKEN))).map(|_| ())
    };
    let ring = || {
        KeyRing::new([KeyRingEntry {
            id: KekId(1),
            key: version(1),
            active: true,
        }])
        .unwrap()
    };
    // WARD_ENV is unset in tests: production, where http is refused.
    let err = try_connect(AzureKeyVaultConfig::new("http://127.0.0.1:9", KEY, ring())).unwrap_err();
    assert!(
        matches!(
            err,
            Error::HttpsRequired {
                service: "key vault",
                ..
            }
        ),
        "{err:?}"
    );
    let err = try_connect(AzureKeyVaultConfig::new(
        vault.address(),
        "../secrets",
        ring(),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("the key name must be"), "{err}");
    let odd = KeyRing::new([KeyRingEntry {
        id: KekId(1),
        key: "v1/../x".to_owned(),
        active: true,
    }])
    .unwrap();
    let err = try_connect(AzureKeyVaultConfig::new(vault.address(), KEY, odd)).unwrap_err();
    assert!(err.to_string().contains("the key version must be"), "{err}");

    let kek = connect(config(&vault, &[1], 1));
    let shown = format!("{kek:?}");
    assert!(shown.starts_with("AzureKeyVaultKek {"), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");
}
