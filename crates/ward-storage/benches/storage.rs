//! Put and get of 10 MiB and 256 MiB through `EncryptedStore` against raw `S3Store` on the same
//! moto server in the same run (and the same against `LocalStore`, where storage is fastest and
//! the encryption overhead shows most), and the peak RSS of a 256 MiB encrypted round trip.
//!
//! moto rather than s3s-fs: s3s-fs names a file after the upload id and the base64 key, which
//! exceeds 255 bytes for ward keys, so it cannot take the multipart uploads these sizes need.
//!
//! Needs `cargo xtask services up`. Run:
//!
//! ```text
//! cargo bench -p ward-storage --bench storage                  # timings
//! WARD_BENCH_RSS=1 cargo bench -p ward-storage --bench storage # peak RSS, 256 MiB
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use uuid::Uuid;
use ward_crypto::{DataKey, DekId, InMemoryKeySource};
use ward_storage::bootstrap::ensure_bucket;
use ward_storage::s3::Environment;
use ward_storage::{
    EncryptedStore, FileKind, LocalStore, ObjectKey, ObjectStore, ObjectStoreExt as _, S3Store,
    S3StoreBuilder, SharedAcrossWorkspaces,
};

const MIB: u64 = 1024 * 1024;

/// `len` bytes generated on the fly, so the source holds nothing.
struct Source {
    left: u64,
    state: u64,
}

impl AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(256 * 1024) as usize;
        let mut word = self.state;
        let out = buf.initialize_unfilled_to(n);
        for b in out.iter_mut() {
            word ^= word << 13;
            word ^= word >> 7;
            word ^= word << 17;
            *b = word as u8;
        }
        buf.advance(n);
        self.state = word;
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

fn source(len: u64) -> ward_storage::BoxReader {
    Box::pin(Source {
        left: len,
        state: 0x9E37_79B9_7F4A_7C15,
    })
}

async fn drain(store: &dyn ObjectStore, key: &ObjectKey) -> u64 {
    let mut reader = store.get(key).await.expect("get").into_reader();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).await.expect("read");
        if n == 0 {
            return total;
        }
        total += n as u64;
    }
}

fn key() -> ObjectKey {
    ward_storage::conformance::fresh_key(FileKind::Pdf)
}

async fn moto_store() -> Option<S3Store> {
    let endpoint = std::env::var("WARD_TEST_MOTO_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned());
    // moto on loopback: plain http, which only `development` accepts.
    let store = S3StoreBuilder::new()
        .with_environment(Environment::Development)
        .with_endpoint(endpoint)
        .with_bucket(format!("wb-{}", &Uuid::new_v4().simple().to_string()[..8]))
        .with_credentials("moto-bench-access", "moto-bench-secret-key")
        .build()
        .expect("store");
    match ensure_bucket(&store).await {
        Ok(_) => Some(store),
        Err(e) => {
            eprintln!("moto is not reachable ({e}); run `cargo xtask services up`");
            None
        }
    }
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

fn measure_rss(rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let Some(raw) = moto_store().await else {
            return;
        };
        let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1)).expect("key"));
        let store = EncryptedStore::new(raw, SharedAcrossWorkspaces(keys));
        let before = peak_rss_mib();
        let k = key();
        store.put_stream(&k, source(256 * MIB)).await.expect("put");
        let read = drain(&store, &k).await;
        assert_eq!(read, 256 * MIB);
        store.delete(&k).await.expect("delete");
        println!(
            "peak RSS for a 256 MiB encrypted put + get: {} MiB (before: {} MiB)",
            peak_rss_mib(),
            before
        );
    });
}

fn bench_pair(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    backend: &str,
    raw: &dyn ObjectStore,
    encrypted: &dyn ObjectStore,
) {
    for size in [10 * MIB, 256 * MIB] {
        let mut group = c.benchmark_group(format!("{backend}_{}MiB", size / MIB));
        group.throughput(Throughput::Bytes(size));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(if size > 100 * MIB { 40 } else { 10 }));
        for (name, store) in [("raw", raw), ("encrypted", encrypted)] {
            let k = key();
            group.bench_function(BenchmarkId::new("put", name), |b| {
                b.to_async(rt).iter(|| async {
                    store.put_stream(&k, source(size)).await.expect("put");
                });
            });
            group.bench_function(BenchmarkId::new("get", name), |b| {
                b.to_async(rt).iter(|| async {
                    assert_eq!(drain(store, &k).await, size);
                });
            });
            rt.block_on(store.delete(&k)).expect("delete");
        }
        group.finish();
    }
}

fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let local = LocalStore::new(dir.path()).expect("local store");
    let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1)).expect("key"));
    let local_encrypted = EncryptedStore::new(local.clone(), SharedAcrossWorkspaces(keys));
    bench_pair(c, rt, "local", &local, &local_encrypted);

    if let Some(raw) = rt.block_on(moto_store()) {
        let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1)).expect("key"));
        let encrypted = EncryptedStore::new(raw.clone(), SharedAcrossWorkspaces(keys));
        bench_pair(c, rt, "moto", &raw, &encrypted);
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("WARD_BENCH_RSS").is_some() {
        measure_rss(&rt);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &rt);
    c.final_summary();
}
