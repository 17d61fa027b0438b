//! Shared helpers: where the test servers are, whether to skip, and test-only stores.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use uuid::Uuid;
use ward_storage::bootstrap::ensure_bucket;
use ward_storage::s3::Environment;
use ward_storage::{S3Store, S3StoreBuilder, SsePolicy};

/// A server the tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Server {
    /// moto: reports SSE like AWS, checks no signatures.
    Moto,
    /// s3s-fs: checks signatures and presigned expiry, drops SSE headers.
    S3s,
}

impl Server {
    pub(crate) fn endpoint(self) -> String {
        let (var, default) = match self {
            Self::Moto => ("WARD_TEST_MOTO_ENDPOINT", "http://127.0.0.1:9100"),
            Self::S3s => ("WARD_TEST_S3S_ENDPOINT", "http://127.0.0.1:9200"),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_owned())
    }

    /// The credentials the server accepts (moto accepts any).
    pub(crate) fn credentials(self) -> (String, String) {
        match self {
            Self::Moto => ("moto-test-access".into(), "moto-test-secret-key".into()),
            Self::S3s => (
                std::env::var("WARD_TEST_S3S_ACCESS_KEY")
                    .unwrap_or_else(|_| "ward-test-access-key".into()),
                std::env::var("WARD_TEST_S3S_SECRET_KEY")
                    .unwrap_or_else(|_| "ward-test-secret-key-not-for-production".into()),
            ),
        }
    }

    fn answers(self) -> bool {
        let endpoint = self.endpoint();
        let addr = endpoint.trim_start_matches("http://").trim_end_matches('/');
        addr.parse::<SocketAddr>()
            .ok()
            .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
            .is_some()
    }

    /// Whether the test can run: the server answers. When it does not, the test prints why and
    /// is skipped, unless `WARD_TEST_INTEGRATION` is set, where that is a failure.
    pub(crate) fn available(self) -> bool {
        if self.answers() {
            return true;
        }
        let why = format!(
            "{self:?} does not answer at {}; start it with `cargo xtask services up`",
            self.endpoint()
        );
        assert!(
            std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
            "WARD_TEST_INTEGRATION is set and {why}"
        );
        eprintln!("skipping: {why}");
        false
    }

    /// A builder for a fresh bucket on this server. The servers listen on plain http with test
    /// credentials, which only the `development` environment accepts.
    pub(crate) fn builder(self) -> S3StoreBuilder {
        let (ak, sk) = self.credentials();
        S3StoreBuilder::new()
            .with_environment(Environment::Development)
            .with_endpoint(self.endpoint())
            // Short: s3s-fs keeps metadata in one file named after base64(bucket) + base64(key),
            // which must fit in 255 bytes.
            .with_bucket(format!("wt-{}", &Uuid::new_v4().simple().to_string()[..8]))
            .with_credentials(ak, sk)
    }

    /// A store on a fresh, bootstrapped bucket, or `None` when the server is not running.
    pub(crate) async fn store(self, sse: SsePolicy) -> Option<S3Store> {
        self.store_from(self.builder().with_sse(sse)).await
    }

    /// A store built by `builder` (from [`Self::builder`]) on its bootstrapped bucket, or `None`
    /// when the server is not running.
    pub(crate) async fn store_from(self, builder: S3StoreBuilder) -> Option<S3Store> {
        if !self.available() {
            return None;
        }
        let store = builder.build().unwrap();
        ensure_bucket(&store).await.unwrap();
        Some(store)
    }

    /// A plain aws-sdk-s3 client on this server, for what ward's store deliberately never does
    /// (writing without SSE, turning versioning on, listing versions).
    pub(crate) fn raw_client(self) -> aws_sdk_s3::Client {
        use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
        let (ak, sk) = self.credentials();
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ak, sk, None, None, "ward-tests"))
            .http_client(http)
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A store on a fresh bucket created with `raw` alone: no default encryption, no bootstrap.
    pub(crate) async fn bare_store(
        self,
        builder: S3StoreBuilder,
    ) -> Option<(S3Store, aws_sdk_s3::Client)> {
        if !self.available() {
            return None;
        }
        let store = builder.build().unwrap();
        let raw = self.raw_client();
        raw.create_bucket()
            .bucket(store.bucket())
            .send()
            .await
            .unwrap();
        Some((store, raw))
    }

    /// A store on the same bucket as `store` with a wrong secret key.
    pub(crate) fn wrong_credentials(self, store: &S3Store) -> S3Store {
        let (ak, _) = self.credentials();
        S3StoreBuilder::new()
            .with_environment(Environment::Development)
            .with_endpoint(self.endpoint())
            .with_bucket(store.bucket())
            .with_credentials(ak, "definitely-not-the-secret-key")
            .build()
            .unwrap()
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub(crate) fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
