//! The AWS KMS provider against a real KMS-compatible server on loopback (moto, started by
//! `cargo xtask services up`; endpoint in `WARD_TEST_MOTO_ENDPOINT`, default
//! `http://127.0.0.1:9100`). Without `WARD_TEST_INTEGRATION` a missing server skips with a
//! message; with it, a missing server fails the test.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ward_crypto::aws_sdk_kms::{Client, Config, config};
use ward_crypto::{
    AwsKmsKek, DataKey, FieldCipher, KeyEncryptionKey, KeyId, KeyRing, KeyRingEntry,
    WrappedKeySource, rewrap_source,
};

fn endpoint() -> String {
    std::env::var("WARD_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned())
}

/// The endpoint if its server answers; `None` (after saying why) when the test should skip.
fn server() -> Option<String> {
    let endpoint = endpoint();
    let authority = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let reachable = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    match (
        reachable,
        std::env::var_os("WARD_TEST_INTEGRATION").is_some(),
    ) {
        (true, _) => Some(endpoint),
        (false, true) => panic!(
            "WARD_TEST_INTEGRATION is set but no KMS server answers at {endpoint}; \
             run `cargo xtask services up`"
        ),
        (false, false) => {
            eprintln!(
                "skipping AWS KMS test: no server at {endpoint} (run `cargo xtask services up`, \
                 or set WARD_TEST_INTEGRATION to make this a failure)"
            );
            None
        }
    }
}

fn client(endpoint: &str) -> Client {
    let config = Config::builder()
        .behavior_version(config::BehaviorVersion::latest())
        .region(config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        // moto accepts any credentials; these are not secrets.
        .credentials_provider(config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "ward-test",
        ))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

/// Creates a symmetric KMS key for the test (the provider itself never creates keys).
async fn create_key(client: &Client) -> String {
    let out = client
        .create_key()
        .description("ward-crypto integration test KEK")
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().key_id().to_owned()
}

fn ring(entries: &[(u32, &str, bool)]) -> KeyRing<String> {
    KeyRing::new(entries.iter().map(|(id, key, active)| KeyRingEntry {
        id: KeyId(*id),
        key: (*key).to_owned(),
        active: *active,
    }))
    .unwrap()
}

#[tokio::test]
async fn kms_wraps_and_unwraps_bound_to_context_and_header() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let key_a = create_key(&client).await;
    let kek = AwsKmsKek::new(client, ring(&[(1, &key_a, true)]));
    assert!(format!("{kek:?}").starts_with("AwsKmsKek { active_id: KeyId(1)"));

    let dek = DataKey::generate(KeyId(12)).unwrap();
    let wrapped = kek.wrap(&dek, b"workspace-a").await.unwrap();
    assert_eq!((wrapped.kek_id(), wrapped.dek_id()), (KeyId(1), KeyId(12)));

    crate::kek::assert_wrapped_is_bound(&kek, &dek, &wrapped, 9).await;
}

#[tokio::test]
async fn kms_kek_rotation_rewraps_without_touching_data() {
    let Some(endpoint) = server() else { return };
    let client = client(&endpoint);
    let (key_a, key_b) = (create_key(&client).await, create_key(&client).await);

    let v1: Arc<dyn KeyEncryptionKey> =
        Arc::new(AwsKmsKek::new(client.clone(), ring(&[(1, &key_a, true)])));
    let source = WrappedKeySource::new(v1, "workspace-7");
    let wrapped = source.generate().await.unwrap();
    let data = FieldCipher::from_source(Arc::new(source))
        .await
        .unwrap()
        .seal(b"consent signed", b"clients.consent:3")
        .unwrap();

    let v2: Arc<dyn KeyEncryptionKey> = Arc::new(AwsKmsKek::new(
        client.clone(),
        ring(&[(1, &key_a, false), (2, &key_b, true)]),
    ));
    let rotated = WrappedKeySource::new(v2, "workspace-7");
    rotated.insert(wrapped).unwrap();
    assert_eq!(rewrap_source(&rotated).await.unwrap(), 1);
    let rewrapped = rotated.wrapped(KeyId(1)).unwrap();
    assert_eq!(rewrapped.kek_id(), KeyId(2));

    // KEK version 1 retired from the ring: the data still opens through version 2.
    let v2_only: Arc<dyn KeyEncryptionKey> =
        Arc::new(AwsKmsKek::new(client, ring(&[(2, &key_b, true)])));
    let retired = WrappedKeySource::new(v2_only, "workspace-7");
    retired.insert(rewrapped).unwrap();
    let cipher = FieldCipher::from_source(Arc::new(retired)).await.unwrap();
    assert_eq!(
        cipher.open(&data, b"clients.consent:3").unwrap().as_slice(),
        b"consent signed"
    );
}
