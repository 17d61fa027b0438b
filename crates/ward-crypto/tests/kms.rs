//! The AWS KMS provider against a real KMS-compatible server on loopback (moto, started by
//! `cargo xtask services up`; endpoint in `WARD_TEST_MOTO_ENDPOINT`, default
//! `http://127.0.0.1:9100`). Without `WARD_TEST_INTEGRATION` a missing server skips with a
//! message; with it, a missing server fails the test.

use std::sync::Arc;

use ward_crypto::aws_sdk_kms::Client;
use ward_crypto::{
    AwsKmsKek, DataKey, DekId, Error, FieldCipher, KekId, KeyEncryptionKey, KeyRing, KeyRingEntry,
    KeyRingError, WrappedKeySource, rewrap_source,
};

use crate::conformance::Fixture as _;
use crate::moto::server;

fn client(endpoint: &str) -> Client {
    Client::new(&crate::moto::sdk_config(endpoint))
}

/// Creates a symmetric KMS key for the test (the provider itself never creates keys).
async fn create_key(client: &Client) -> String {
    create_key_with_arn(client).await.0
}

/// As [`create_key`], returning the key id and the key ARN.
async fn create_key_with_arn(client: &Client) -> (String, String) {
    let out = client
        .create_key()
        .description("ward-crypto integration test KEK")
        .send()
        .await
        .unwrap();
    let meta = out.key_metadata().unwrap();
    (meta.key_id().to_owned(), meta.arn().unwrap().to_owned())
}

/// A fresh alias name, unique per test run.
fn alias_name(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("alias/ward-test-{label}-{}-{nanos}", std::process::id())
}

fn ring(entries: &[(u32, &str, bool)]) -> KeyRing<String> {
    KeyRing::new(entries.iter().map(|(id, key, active)| KeyRingEntry {
        id: KekId(*id),
        key: (*key).to_owned(),
        active: *active,
    }))
    .unwrap()
}

/// KMS keys created on moto, one per KEK version, for the conformance suite.
struct Kms {
    client: Client,
    keys: tokio::sync::Mutex<std::collections::BTreeMap<u32, String>>,
}

#[async_trait::async_trait]
impl crate::conformance::Fixture for Kms {
    async fn provider(&self, ids: &[u32], active: u32) -> Arc<dyn KeyEncryptionKey> {
        let mut keys = self.keys.lock().await;
        for &id in ids {
            if let std::collections::btree_map::Entry::Vacant(entry) = keys.entry(id) {
                entry.insert(create_key(&self.client).await);
            }
        }
        let entries: Vec<(u32, &str, bool)> = ids
            .iter()
            .map(|&id| (id, keys[&id].as_str(), id == active))
            .collect();
        Arc::new(
            AwsKmsKek::connect(self.client.clone(), ring(&entries))
                .await
                .unwrap(),
        )
    }
}

#[tokio::test]
async fn kms_passes_the_provider_suite() {
    let Some(endpoint) = server() else { return };
    let fixture = Kms {
        client: client(&endpoint),
        keys: Default::default(),
    };
    let kek = fixture.provider(&[1], 1).await;
    assert!(format!("{kek:?}").starts_with("AwsKmsKek { active_id: KekId(1)"));
    crate::conformance::run(&fixture).await;
}

#[tokio::test]
async fn kms_kek_rotation_rewraps_without_touching_data() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let (key_a, key_b) = (create_key(&client).await, create_key(&client).await);

    let v1: Arc<dyn KeyEncryptionKey> = Arc::new(
        AwsKmsKek::connect(client.clone(), ring(&[(1, &key_a, true)]))
            .await
            .unwrap(),
    );
    let source = WrappedKeySource::new(v1, "workspace-7");
    let wrapped = source.generate().await.unwrap();
    let data = FieldCipher::from_source(Arc::new(source))
        .await
        .unwrap()
        .seal(b"consent signed", b"clients.consent:3")
        .unwrap();

    let v2: Arc<dyn KeyEncryptionKey> = Arc::new(
        AwsKmsKek::connect(
            client.clone(),
            ring(&[(1, &key_a, false), (2, &key_b, true)]),
        )
        .await
        .unwrap(),
    );
    let rotated = WrappedKeySource::new(v2, "workspace-7");
    rotated.insert(wrapped).unwrap();
    assert_eq!(rewrap_source(&rotated).await.unwrap(), 1);
    let rewrapped = rotated.wrapped(DekId(1)).unwrap();
    assert_eq!(rewrapped.kek_id(), KekId(2));

    // KEK version 1 retired from the ring: the data still opens through version 2.
    let v2_only: Arc<dyn KeyEncryptionKey> = Arc::new(
        AwsKmsKek::connect(client, ring(&[(2, &key_b, true)]))
            .await
            .unwrap(),
    );
    let retired = WrappedKeySource::new(v2_only, "workspace-7");
    retired.insert(rewrapped).unwrap();
    let cipher = FieldCipher::from_source(Arc::new(retired)).await.unwrap();
    assert_eq!(
        cipher.open(&data, b"clients.consent:3").unwrap().as_slice(),
        b"consent signed"
    );
}

#[tokio::test]
async fn kms_alias_resolves_once_to_its_key_arn() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let (key_a, arn_a) = create_key_with_arn(&client).await;
    let (key_b, arn_b) = create_key_with_arn(&client).await;
    let alias = alias_name("resolve");
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key_a)
        .send()
        .await
        .unwrap();

    let kek = AwsKmsKek::connect(client.clone(), ring(&[(1, &alias, true)]))
        .await
        .unwrap();
    assert_eq!(kek.key_arn(KekId(1)), Some(arn_a.as_str()));
    let dek = DataKey::generate(DekId(4)).unwrap();
    let first = kek.wrap(&dek, b"workspace-a").await.unwrap();

    // The alias moves to key B while the provider runs: it keeps wrapping under key A, so a
    // ring naming key A by its ARN opens both wraps.
    client
        .update_alias()
        .alias_name(&alias)
        .target_key_id(&key_b)
        .send()
        .await
        .unwrap();
    let second = kek.wrap(&dek, b"workspace-a").await.unwrap();
    let by_arn = AwsKmsKek::connect(client.clone(), ring(&[(1, &arn_a, true)]))
        .await
        .unwrap();
    for wrapped in [&first, &second] {
        let again = by_arn.unwrap(wrapped, b"workspace-a").await.unwrap();
        assert_eq!(again.id(), DekId(4));
    }
    // A provider connected now resolves the alias to key B.
    let later = AwsKmsKek::connect(client.clone(), ring(&[(1, &alias, true)]))
        .await
        .unwrap();
    assert_eq!(later.key_arn(KekId(1)), Some(arn_b.as_str()));

    // An alias that does not exist fails at connect, not at the first wrap.
    let missing = AwsKmsKek::connect(client, ring(&[(1, &alias_name("missing"), true)])).await;
    assert!(
        matches!(
            missing,
            Err(Error::Provider {
                provider: "aws-kms",
                ..
            })
        ),
        "{missing:?}"
    );
}

#[tokio::test]
async fn kms_empty_key_ids_are_refused_before_any_request() {
    // No server is needed: the ring is refused before KMS is asked anything.
    let client = client("http://127.0.0.1:9");
    for empty in ["", "   "] {
        let err = AwsKmsKek::connect(
            client.clone(),
            ring(&[(1, "alias/ward-kek", false), (2, empty, true)]),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::KeyRing(KeyRingError::EmptyKmsKeyId { kek_id: KekId(2) })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "invalid key ring: key 2 names no kms key (empty key id)"
        );
    }
}

#[tokio::test]
async fn kms_unwrap_under_another_key_is_refused() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let (key_a, key_b) = (create_key(&client).await, create_key(&client).await);
    let kek_a = AwsKmsKek::connect(client.clone(), ring(&[(1, &key_a, true)]))
        .await
        .unwrap();
    let wrapped = kek_a
        .wrap(&DataKey::generate(DekId(2)).unwrap(), b"ws")
        .await
        .unwrap();
    // KEK version 1 configured as key B: whether the server refuses or answers for key A, the
    // provider never returns a key.
    let kek_b = AwsKmsKek::connect(client, ring(&[(1, &key_b, true)]))
        .await
        .unwrap();
    let err = kek_b.unwrap(&wrapped, b"ws").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::KmsKeyMismatch { .. } | Error::Provider { .. } | Error::Decrypt
        ),
        "{err:?}"
    );
}

/// Environment variable carrying the KMS key id to the child run of [`from_env_child`].
const FROM_ENV_KEY: &str = "WARD_TEST_KMS_FROM_ENV_KEY";

/// Runs [`from_env_child`] in a child process with the given `WARD_ENV` (unset for `None`) and a
/// KMS endpoint of `endpoint`; returns what the child printed.
fn run_from_env_child(ward_env: Option<&str>, endpoint: &str, key: &str) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "kms::from_env_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(FROM_ENV_KEY, key)
        .env("AWS_ENDPOINT_URL_KMS", endpoint)
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_REGION", "us-east-1")
        // moto accepts any credentials; these are not secrets.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/nonexistent/ward/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ward/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
    match ward_env {
        Some(value) => command.env("WARD_ENV", value),
        None => command.env_remove("WARD_ENV"),
    };
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    stdout
}

#[test]
fn kms_from_env_refuses_an_http_endpoint_unless_development() {
    // Edition 2024 makes `set_var` unsafe (and unsafe code is forbidden), so each environment is
    // given to a child run of this test binary.
    let endpoint = "http://127.0.0.1:9";
    for ward_env in [None, Some("production"), Some("staging"), Some("test")] {
        let shown = ward_env.unwrap_or("production");
        let stdout = run_from_env_child(ward_env, endpoint, "alias/ward-kek");
        assert!(
            stdout.contains(&format!(
                "from_env: the {shown} environment requires an https kms endpoint"
            )),
            "{ward_env:?}: {stdout}"
        );
    }
    let stdout = run_from_env_child(Some("prod"), endpoint, "alias/ward-kek");
    assert!(
        stdout.contains("from_env: WARD_ENV must be development, test, staging or production"),
        "{stdout}"
    );

    // In development the http endpoint is accepted: against moto the provider connects.
    let Some(moto) = server() else { return };
    let key = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { create_key(&client(&moto)).await });
    let stdout = run_from_env_child(Some("development"), &moto, &key);
    assert!(stdout.contains("from_env: connected, active 1"), "{stdout}");
}

#[test]
fn from_env_child() {
    let Some(key) = std::env::var_os(FROM_ENV_KEY) else {
        return; // Run directly, not as the child: nothing to do.
    };
    let key = key.into_string().unwrap();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(AwsKmsKek::from_env(ring(&[(1, &key, true)])));
    match result {
        Ok(kek) => println!("from_env: connected, active {}", kek.active_id()),
        Err(e) => println!("from_env: {e}"),
    }
}
