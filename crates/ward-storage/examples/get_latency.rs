//! Median latency of streamed puts and whole-object gets through `EncryptedStore` beside the raw
//! store, on the same backend in the same run, and of in-memory `decrypt_to_vec` of the same
//! sizes.
//!
//! ```text
//! cargo run --release -p ward-storage --example get_latency -- local   # LocalStore in a temp dir
//! cargo run --release -p ward-storage --example get_latency -- s3s     # s3s-fs on 127.0.0.1:9200
//! cargo run --release -p ward-storage --example get_latency -- moto    # moto on 127.0.0.1:9100
//! ```
//!
//! The S3 servers come from `cargo xtask services up`. s3s-fs cannot take multipart uploads of
//! ward keys (file names over 255 bytes), so it is measured up to 4 MiB. A measuring tool with
//! fixed test credentials for loopback servers, not a way to store real data.

use std::time::Instant;

use tokio::io::AsyncReadExt as _;
use uuid::Uuid;
use ward_crypto::{DataKey, DekId, InMemoryKeySource};
use ward_storage::bootstrap::ensure_bucket;
use ward_storage::conformance::fresh_key;
use ward_storage::s3::Environment;
use ward_storage::{
    EncryptedStore, FileKind, LocalStore, ObjectKey, ObjectStore, ObjectStoreExt as _, S3Store,
    S3StoreBuilder, SharedAcrossWorkspaces,
};

type Failure = Box<dyn std::error::Error>;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// Reads a whole object through a 256 KiB buffer, as a service streaming it out would.
async fn drain(store: &dyn ObjectStore, key: &ObjectKey) -> Result<u64, Failure> {
    let mut reader = store.get(key).await?.into_reader();
    let mut buf = vec![0u8; 256 * KIB];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn data(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i.wrapping_mul(7) >> 3) as u8).collect()
}

/// Gets of the same plaintext through `raw` and `encrypted`, interleaved, `runs` times each.
async fn pair(
    name: &str,
    raw: &dyn ObjectStore,
    encrypted: &dyn ObjectStore,
    size: usize,
    runs: usize,
) -> Result<(), Failure> {
    let (plain_key, sealed_key) = (fresh_key(FileKind::Pdf), fresh_key(FileKind::Pdf));
    let body = bytes::Bytes::from(data(size));
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        raw.put_stream(&plain_key, Box::pin(std::io::Cursor::new(body.clone())))
            .await?;
        plain.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        encrypted
            .put_stream(&sealed_key, Box::pin(std::io::Cursor::new(body.clone())))
            .await?;
        sealed.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report(name, "put", size, plain, sealed);
    let (mut plain, mut sealed) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        drain(raw, &plain_key).await?;
        plain.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        drain(encrypted, &sealed_key).await?;
        sealed.push(t.elapsed().as_secs_f64() * 1e3);
    }
    report(name, "get", size, plain, sealed);
    Ok(())
}

fn report(backend: &str, what: &str, size: usize, plain: Vec<f64>, sealed: Vec<f64>) {
    let (p, s) = (median_ms(plain), median_ms(sealed));
    println!(
        "{backend:>5} {what} {:>6} KiB  raw {p:8.2} ms  encrypted {s:8.2} ms  ratio {:.2}  added {:+.2} ms",
        size / KIB,
        s / p,
        s - p
    );
}

async fn s3(endpoint: &str, access: &str, secret: &str) -> Result<S3Store, Failure> {
    let store = S3StoreBuilder::new()
        .with_environment(Environment::Development)
        .with_endpoint(endpoint)
        .with_bucket(format!("wl-{}", &Uuid::new_v4().simple().to_string()[..8]))
        .with_credentials(access, secret)
        .build()?;
    ensure_bucket(&store).await?;
    Ok(store)
}

fn keys() -> Result<SharedAcrossWorkspaces<InMemoryKeySource>, Failure> {
    Ok(SharedAcrossWorkspaces(InMemoryKeySource::with_active(
        DataKey::generate(DekId(1))?,
    )))
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let backend = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "local".to_owned());
    let runs = 21;
    match backend.as_str() {
        "local" => {
            let dir = tempfile::tempdir()?;
            let raw = LocalStore::new(dir.path())?;
            let encrypted = EncryptedStore::new(raw.clone(), keys()?);
            for size in [MIB, 8 * MIB, 64 * MIB, 256 * MIB] {
                pair("local", &raw, &encrypted, size, runs).await?;
            }
        }
        "s3s" => {
            let raw = s3(
                "http://127.0.0.1:9200",
                "ward-test-access-key",
                "ward-test-secret-key-not-for-production",
            )
            .await?;
            let encrypted = EncryptedStore::new(raw.clone(), keys()?);
            for size in [256 * KIB, MIB, 4 * MIB] {
                pair("s3s", &raw, &encrypted, size, runs).await?;
            }
        }
        "moto" => {
            let raw = s3(
                "http://127.0.0.1:9100",
                "moto-bench-access",
                "moto-bench-secret-key",
            )
            .await?;
            let encrypted = EncryptedStore::new(raw.clone(), keys()?);
            for size in [MIB, 8 * MIB, 64 * MIB] {
                pair("moto", &raw, &encrypted, size, 7).await?;
            }
        }
        other => return Err(format!("unknown backend {other}: local, s3s or moto").into()),
    }
    // The single-core reference: decrypting the same sizes held in memory.
    let dek = DataKey::generate(DekId(1))?;
    for size in [MIB, 8 * MIB, 64 * MIB, 256 * MIB] {
        let sealed = ward_crypto::stream::encrypt_to_vec(&dek, &data(size), b"reference")?;
        let mut samples = Vec::new();
        for _ in 0..runs.min(7) {
            let t = Instant::now();
            let plain = ward_crypto::stream::decrypt_to_vec(&dek, &sealed, b"reference")?;
            samples.push(t.elapsed().as_secs_f64() * 1e3);
            drop(plain);
        }
        println!(
            "memory {:>6} KiB  decrypt_to_vec {:8.2} ms",
            size / KIB,
            median_ms(samples)
        );
    }
    Ok(())
}
