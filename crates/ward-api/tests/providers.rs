//! The KEK providers through the `ward` binary: each configured only by its `WARD_KEK_*`
//! variables and the provider's standard credential variables, as an operator would, then the
//! operator commands run over it: a workspace's key made and wrapped, the KEK rotated in the key
//! service, the key rewrapped, the workspace re-encrypted.
//!
//! AWS KMS and Secrets Manager run against moto (a real server, `cargo xtask services up`). Vault,
//! Azure Key Vault and Cloud KMS cannot be installed here: they run against ward-imitations'
//! servers, which speak the documented wire protocol of the calls ward makes (and, for Azure and
//! Google, the token endpoints their credentials call), and nothing beyond.

#![cfg(any(
    feature = "aws-kms",
    feature = "aws-secrets-manager",
    feature = "vault-transit",
    feature = "azure-key-vault",
    feature = "gcp-kms"
))]

use std::path::Path;

use crate::binary::{ward, ward_json};

/// The settings every run shares: development (the imitations and moto speak what only
/// development accepts: plain http, or a CA of the test's own), SQLite and a local store in `dir`.
fn base(dir: &Path) -> Vec<(String, String)> {
    let db = format!("sqlite://{}?mode=rwc", dir.join("ward.db").display());
    let store = format!("local:{}", dir.join("objects").display());
    vec![
        ("WARD_ENV".into(), "development".into()),
        ("WARD_DATABASE_URL".into(), db),
        ("WARD_STORE".into(), store),
        ("WARD_TOKEN_SECRET".into(), key()),
    ]
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A fresh random key, base64 (a KEK for a ring in a secret, or a token secret).
fn key() -> String {
    ward_crypto::KeyMaterial::generate()
        .expect("key")
        .to_base64()
        .as_str()
        .to_owned()
}

/// Writes `text` to `name` in `dir`; returns the path as text.
fn file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a test file");
    path.display().to_string()
}

/// A runtime whose worker keeps an imitation answering while the test runs `ward`.
#[cfg(any(
    feature = "vault-transit",
    feature = "azure-key-vault",
    feature = "gcp-kms"
))]
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs `f` on a fresh current-thread runtime (the moto clients' calls).
#[cfg(any(feature = "aws-kms", feature = "aws-secrets-manager"))]
fn block_on<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The settings moto's AWS clients read: its endpoint for `service`, a region, and credentials
/// moto accepts (any are; these are not secrets), with no shared files or instance metadata.
#[cfg(any(feature = "aws-kms", feature = "aws-secrets-manager"))]
fn moto_env(endpoint_var: &str, moto: &str) -> Vec<(String, String)> {
    [
        (endpoint_var, moto),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_CONFIG_FILE", "/nonexistent/ward/aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/ward/aws-credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// A client of ward-crypto's re-exported AWS SDK crate `$sdk` for moto at `$endpoint`: plain
/// http, a region, and credentials moto accepts (any are; these are not secrets).
#[cfg(any(feature = "aws-kms", feature = "aws-secrets-manager"))]
macro_rules! moto_client {
    ($sdk:ident, $endpoint:expr) => {{
        use ward_crypto::$sdk::{Client, Config, config};
        Client::from_conf(
            Config::builder()
                .behavior_version(config::BehaviorVersion::latest())
                .region(config::Region::new("us-east-1"))
                .endpoint_url($endpoint)
                .credentials_provider(config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "ward-test",
                ))
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .build(),
        )
    }};
}

/// A workspace made through `ward` with `env`: its key is active and wrapped, so nothing needs
/// rewrapping. Returns the workspace's id.
fn first_run(dir: &Path, env: &[(String, String)]) -> String {
    let env = pairs(env);
    let ws = ward_json(dir, &env, &["workspace", "create", "Harbour Clinic"])[0]["workspace_id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(
        ward_json(dir, &env, &["keys", "status", "--workspace", &ws])[0]["state"],
        "active"
    );
    assert_eq!(ward_json(dir, &env, &["keys", "rewrap"])[0]["rewrapped"], 0);
    ws
}

/// After the KEK rotated (`env` as it is now): the workspace's key is rewrapped once, then
/// nothing is left, and the workspace re-encrypts with nothing failed.
fn after_rotation(dir: &Path, env: &[(String, String)], ws: &str) {
    let env = pairs(env);
    assert_eq!(ward_json(dir, &env, &["keys", "rewrap"])[0]["rewrapped"], 1);
    assert_eq!(ward_json(dir, &env, &["keys", "rewrap"])[0]["rewrapped"], 0);
    assert_eq!(
        ward_json(dir, &env, &["keys", "reencrypt", "--workspace", ws])[0]["failed"],
        0
    );
}

/// `ward keys rewrap` with `env` fails, naming `provider` and showing none of `hidden`.
fn refused(dir: &Path, env: &[(String, String)], provider: &str, hidden: &[&str]) {
    let out = ward(dir, &["keys", "rewrap"], &pairs(env))
        .output()
        .expect("run ward");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(provider), "{err}");
    for secret in hidden {
        assert!(!err.contains(secret), "a secret was echoed: {err}");
    }
}

/// `env` with `name` set to `value` (in place of any earlier value).
fn with(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<_> = env.iter().filter(|(k, _)| k != name).cloned().collect();
    env.push((name.to_owned(), value.to_owned()));
    env
}

#[cfg(feature = "aws-kms")]
#[test]
fn aws_kms_keys_serve_the_operator_commands_and_a_rotation() {
    let Some(moto) = crate::common::moto_endpoint("the AWS KMS KEK test") else {
        return;
    };
    let client = moto_client!(aws_sdk_kms, &moto);
    let create = || {
        block_on(client.create_key().description("ward-api test KEK").send())
            .expect("create a KMS key")
            .key_metadata()
            .expect("metadata")
            .key_id()
            .to_owned()
    };
    let (k1, k2) = (create(), create());

    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut env = base(d);
    env.extend(moto_env("AWS_ENDPOINT_URL_KMS", &moto));
    env.push(("WARD_KEK_PROVIDER".into(), "aws-kms".into()));
    let env = with(&env, "WARD_KEK_AWS_KMS_KEYS", &format!("1:{k1}:active"));
    let ws = first_run(d, &env);

    let env = with(
        &env,
        "WARD_KEK_AWS_KMS_KEYS",
        &format!("1:{k1},2:{k2}:active"),
    );
    after_rotation(d, &env, &ws);

    // A key KMS does not hold stops the command with the provider named.
    let missing = with(
        &env,
        "WARD_KEK_AWS_KMS_KEYS",
        "1:alias/ward-test-no-such-key:active",
    );
    refused(d, &missing, "aws-kms", &[]);
}

#[cfg(feature = "aws-secrets-manager")]
#[test]
fn a_kek_ring_in_secrets_manager_serves_the_operator_commands_and_its_rotation() {
    let Some(moto) = crate::common::moto_endpoint("the Secrets Manager KEK test") else {
        return;
    };
    let client = moto_client!(aws_sdk_secretsmanager, &moto);
    let (k1, k2) = (key(), key());
    let secret_id = format!(
        "ward-test/api-kek-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos()
    );
    let put = |ring: String| {
        block_on(
            client
                .put_secret_value()
                .secret_id(&secret_id)
                .secret_string(ring)
                .send(),
        )
        .expect("write the secret");
    };
    block_on(
        client
            .create_secret()
            .name(&secret_id)
            .secret_string(format!("1:{k1}:active"))
            .send(),
    )
    .expect("create the secret");

    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut env = base(d);
    env.extend(moto_env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &moto));
    env.push(("WARD_KEK_PROVIDER".into(), "aws-secrets-manager".into()));
    env.push(("WARD_KEK_SECRET_ID".into(), secret_id.clone()));
    let ws = first_run(d, &env);

    // The KEK rotates in the secret: the next run wraps under version 2; once the key is
    // rewrapped, version 1 can leave the secret.
    put(format!("1:{k1}\n2:{k2}:active"));
    after_rotation(d, &env, &ws);
    put(format!("2:{k2}:active"));
    assert_eq!(
        ward_json(d, &pairs(&env), &["keys", "reencrypt", "--workspace", &ws])[0]["failed"],
        0
    );

    // A secret that does not exist stops the command with the provider named.
    let missing = with(&env, "WARD_KEK_SECRET_ID", "ward-test/no-such-secret");
    refused(d, &missing, "aws-secrets-manager", &[&k2]);
}

#[cfg(feature = "vault-transit")]
#[test]
fn a_vault_transit_key_serves_the_operator_commands_and_its_rotation() {
    use ward_imitations::vault::{KEY, TOKEN};
    let rt = runtime();
    let vault = rt.block_on(ward_imitations::vault::start());
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut env = base(d);
    env.extend([
        ("WARD_KEK_PROVIDER".into(), "vault-transit".into()),
        ("WARD_KEK_VAULT_ADDR".into(), vault.address().to_owned()),
        ("WARD_KEK_VAULT_TOKEN".into(), TOKEN.to_owned()),
        ("WARD_KEK_VAULT_KEY".into(), KEY.to_owned()),
        (
            "WARD_KEK_VAULT_CA_FILE".into(),
            file(d, "vault-ca.pem", vault.ca_pem()),
        ),
    ]);
    let ws = first_run(d, &env);

    // `vault write -f transit/keys/ward-kek/rotate`: ward's active KEK version follows.
    vault.rotate();
    after_rotation(d, &env, &ws);
    assert!(
        vault
            .seen()
            .iter()
            .all(|r| r.header("x-vault-token") == Some(TOKEN))
    );

    let wrong = with(&env, "WARD_KEK_VAULT_TOKEN", "hvs.not-the-token");
    refused(d, &wrong, "vault-transit", &["hvs.not-the-token"]);
}

#[cfg(feature = "azure-key-vault")]
#[test]
fn an_azure_key_vault_key_serves_the_operator_commands_and_its_rotation() {
    use ward_imitations::azure::{IDENTITY_SECRET, KEY, TOKEN};
    let rt = runtime();
    let vault = rt.block_on(ward_imitations::azure::start());
    let v1 = vault.hold(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let mut env = base(d);
    env.extend([
        ("WARD_KEK_PROVIDER".into(), "azure-key-vault".into()),
        (
            "WARD_KEK_AZURE_VAULT_URL".into(),
            vault.address().to_owned(),
        ),
        ("WARD_KEK_AZURE_KEY".into(), KEY.to_owned()),
        (
            "WARD_KEK_AZURE_KEY_VERSIONS".into(),
            format!("1:{v1}:active"),
        ),
        (
            "WARD_KEK_AZURE_CA_FILE".into(),
            file(d, "vault-ca.pem", vault.ca_pem()),
        ),
        // The vault is reached at 127.0.0.1, which is not under vault.azure.net.
        (
            "WARD_KEK_AZURE_VERIFY_CHALLENGE_RESOURCE".into(),
            "false".into(),
        ),
        // The default credential, a managed identity, from App Service's endpoint.
        ("IDENTITY_ENDPOINT".into(), vault.identity_endpoint()),
        ("IDENTITY_HEADER".into(), IDENTITY_SECRET.to_owned()),
    ]);
    let ws = first_run(d, &env);

    // A new key version in the vault becomes KEK version 2.
    let v2 = vault.hold(2);
    let rotated = with(
        &env,
        "WARD_KEK_AZURE_KEY_VERSIONS",
        &format!("1:{v1},2:{v2}:active"),
    );
    after_rotation(d, &rotated, &ws);

    // The token came from the identity endpoint, for the vault's resource.
    let seen = vault.seen();
    assert!(seen.iter().any(|r| {
        r.path == "/msi/token"
            && r.header("x-identity-header") == Some(IDENTITY_SECRET)
            && r.query.contains("resource=https%3A%2F%2Fvault.azure.net")
    }));
    let bearer = format!("Bearer {TOKEN}");
    assert!(seen.iter().any(
        |r| r.path.ends_with("/wrapkey") && r.header("authorization") == Some(bearer.as_str())
    ));

    // Without the CA the vault's certificate is not trusted, and the command says which provider.
    let untrusted: Vec<_> = rotated
        .iter()
        .filter(|(k, _)| k != "WARD_KEK_AZURE_CA_FILE")
        .cloned()
        .collect();
    refused(d, &untrusted, "azure-key-vault", &[TOKEN]);
}

#[cfg(feature = "gcp-kms")]
#[test]
fn cloud_kms_crypto_keys_serve_the_operator_commands_and_a_rotation() {
    use ward_imitations::gcp::{REFRESH_TOKEN, TOKEN};
    let rt = runtime();
    let kms = rt.block_on(ward_imitations::gcp::start());
    let k1 = kms.hold(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // Application Default Credentials from a file, as `gcloud auth application-default login`
    // writes one; its token endpoint is the imitation's.
    let credentials = serde_json::json!({
        "type": "authorized_user",
        "client_id": "ward-test.apps.googleusercontent.com",
        "client_secret": "ward-test-client-secret",
        "refresh_token": REFRESH_TOKEN,
        "token_uri": kms.token_uri(),
    });
    let mut env = base(d);
    env.extend([
        ("WARD_KEK_PROVIDER".into(), "gcp-kms".into()),
        ("WARD_KEK_GCP_KMS_KEYS".into(), format!("1:{k1}:active")),
        ("WARD_KEK_GCP_KMS_ENDPOINT".into(), kms.address().to_owned()),
        (
            "GOOGLE_APPLICATION_CREDENTIALS".into(),
            file(d, "adc.json", &credentials.to_string()),
        ),
    ]);
    let ws = first_run(d, &env);

    // Cloud KMS rotating the crypto key needs nothing of ward.
    kms.rotate(1);
    assert_eq!(
        ward_json(d, &pairs(&env), &["keys", "rewrap"])[0]["rewrapped"],
        0
    );
    // Another crypto key as KEK version 2 does.
    let k2 = kms.hold(2);
    let rotated = with(
        &env,
        "WARD_KEK_GCP_KMS_KEYS",
        &format!("1:{k1},2:{k2}:active"),
    );
    after_rotation(d, &rotated, &ws);

    let bearer = format!("Bearer {TOKEN}");
    let seen = kms.seen();
    assert!(seen.iter().any(|r| r.path == "/token"));
    assert!(
        seen.iter()
            .filter(|r| r.path.starts_with("/v1/"))
            .all(|r| r.header("authorization") == Some(bearer.as_str()))
    );

    // Credentials the token endpoint refuses stop the command at start, before any work.
    let mut refused_grant = credentials;
    refused_grant["refresh_token"] = "1//not-the-refresh-token".into();
    let wrong = with(
        &env,
        "GOOGLE_APPLICATION_CREDENTIALS",
        &file(d, "adc-refused.json", &refused_grant.to_string()),
    );
    refused(d, &wrong, "gcp-kms", &["1//not-the-refresh-token"]);

    // A ring entry that names no crypto key stops the command with the provider named.
    let wrong = with(&env, "WARD_KEK_GCP_KMS_KEYS", "1:alias/ward:active");
    refused(d, &wrong, "gcp-kms", &[REFRESH_TOKEN]);
}
