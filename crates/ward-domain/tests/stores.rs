//! Object stores for the attachment tests: a real filesystem store, the moto S3 server, and a
//! fault-injecting wrapper around either (the one test double: a real store whose calls can be
//! made to fail or hang on demand, to reach every compensation path).

use std::fmt;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use uuid::Uuid;
use ward_storage::bootstrap::ensure_bucket;
use ward_storage::{
    BoxReader, DeleteOptions, Environment, GetOptions, GetResult, KeyPrefix, ListOptions,
    LocalStore, ObjectKey, ObjectMeta, ObjectStore, PutOptions, PutResult, RequiredProof,
    S3StoreBuilder, SsePolicy,
};

/// A store to run a test on, with the proof it supports.
pub(crate) struct TestStore {
    pub(crate) name: &'static str,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) proof: RequiredProof,
    _dir: Option<tempfile::TempDir>,
}

/// A LocalStore in a temporary directory (client-side proof: it has no SSE).
pub(crate) fn local() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(dir.path()).expect("local store");
    TestStore {
        name: "local",
        store: Arc::new(store),
        proof: RequiredProof::ClientSide,
        _dir: Some(dir),
    }
}

/// A fresh bucket on the moto S3 server with SSE-S3, or `None` (reason printed) when moto is not
/// running; with `WARD_TEST_INTEGRATION` set that is a failure.
pub(crate) async fn moto() -> Option<TestStore> {
    let endpoint = std::env::var("WARD_TEST_MOTO_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned());
    let answers = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse::<SocketAddr>()
        .ok()
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some();
    if !answers {
        let why =
            format!("moto does not answer at {endpoint}; start it with `cargo xtask services up`");
        assert!(
            std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
            "WARD_TEST_INTEGRATION is set and {why}"
        );
        eprintln!("skipping moto: {why}");
        return None;
    }
    let store = S3StoreBuilder::new()
        .with_environment(Environment::Development)
        .with_endpoint(endpoint)
        .with_bucket(format!("wd-{}", &Uuid::new_v4().simple().to_string()[..12]))
        .with_credentials("moto-test-access", "moto-test-secret-key")
        .with_sse(SsePolicy::S3Managed)
        .build()
        .expect("s3 store");
    ensure_bucket(&store).await.expect("bucket");
    Some(TestStore {
        name: "moto",
        store: Arc::new(store),
        proof: RequiredProof::ServerSide(SsePolicy::S3Managed),
        _dir: None,
    })
}

/// Every store the pipeline tests run on.
pub(crate) async fn all() -> Vec<TestStore> {
    let mut out = vec![local()];
    out.extend(moto().await);
    out
}

/// Wraps a real store; each flag makes the matching call fail (or, for `hang_after_put`, store
/// the object and then never return, as a process that dies mid-upload).
#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) fail_put: AtomicBool,
    pub(crate) fail_head: AtomicBool,
    pub(crate) fail_delete: AtomicBool,
    pub(crate) hang_after_put: AtomicBool,
}

pub(crate) fn set(flag: &AtomicBool, on: bool) {
    flag.store(on, Ordering::SeqCst);
}

pub(crate) struct FaultyStore {
    pub(crate) inner: Arc<dyn ObjectStore>,
    pub(crate) faults: Arc<Faults>,
}

impl fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({:?})", self.inner)
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

fn injected(what: &'static str) -> ward_storage::Error {
    ward_storage::Error::Io {
        store: "FaultyStore",
        key: String::new(),
        source: std::io::Error::other(format!("injected {what} failure")),
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        key: &ObjectKey,
        payload: Bytes,
        opts: PutOptions,
    ) -> ward_storage::Result<PutResult> {
        if self.faults.fail_put.load(Ordering::SeqCst) {
            return Err(injected("put"));
        }
        self.inner.put_opts(key, payload, opts).await
    }

    async fn put_stream_opts(
        &self,
        key: &ObjectKey,
        body: BoxReader,
        opts: PutOptions,
    ) -> ward_storage::Result<PutResult> {
        if self.faults.fail_put.load(Ordering::SeqCst) {
            return Err(injected("put"));
        }
        let out = self.inner.put_stream_opts(key, body, opts).await;
        if self.faults.hang_after_put.load(Ordering::SeqCst) {
            futures::future::pending::<()>().await;
        }
        out
    }

    async fn get_opts(&self, key: &ObjectKey, opts: GetOptions) -> ward_storage::Result<GetResult> {
        self.inner.get_opts(key, opts).await
    }

    async fn head(&self, key: &ObjectKey) -> ward_storage::Result<ObjectMeta> {
        if self.faults.fail_head.load(Ordering::SeqCst) {
            return Err(injected("head"));
        }
        self.inner.head(key).await
    }

    async fn delete_opts(&self, key: &ObjectKey, opts: DeleteOptions) -> ward_storage::Result<()> {
        if self.faults.fail_delete.load(Ordering::SeqCst) {
            return Err(injected("delete"));
        }
        self.inner.delete_opts(key, opts).await
    }

    fn list_opts(
        &self,
        prefix: &KeyPrefix,
        opts: ListOptions,
    ) -> BoxStream<'static, ward_storage::Result<ObjectMeta>> {
        self.inner.list_opts(prefix, opts)
    }
}

/// `base` wrapped in a [`FaultyStore`], with the switches.
pub(crate) fn faulty(base: TestStore) -> (TestStore, Arc<Faults>) {
    let faults = Arc::new(Faults::default());
    let store = TestStore {
        name: base.name,
        store: Arc::new(FaultyStore {
            inner: base.store,
            faults: Arc::clone(&faults),
        }),
        proof: base.proof,
        _dir: base._dir,
    };
    (store, faults)
}
