//! ward-domain beside its raw baselines, in the same run:
//!
//! - `upload_10MiB`: `Attachments::upload` of a 10 MiB JPEG (read, sanitise, reserve, encrypt,
//!   put with SSE, verify, finalise; the content check side by side with the put) against a
//!   raw `S3Store` put of the same bytes, on moto;
//! - `upload_7.5MiB`: the same pair on a 7.5 MiB JPEG, which both sides store in one PUT (10 MiB
//!   goes over the store's 8 MiB multipart threshold);
//! - `upload_steps`: the pipeline's steps alone on the 7.5 MiB file: `sanitize` (every step
//!   of ward-sanitize, the content check included), `stage` (all but the content check), and
//!   `encrypt_put_verify` (`EncryptedStore::put_sealed` with the SSE proof, no database);
//! - `list_1000`: listing 1,000 attachments with their display names opened against the same
//!   query without opening them (both append their audit event), on SQLite.
//!
//! Needs `cargo xtask services up` for the upload pair (it is skipped, with the reason, without
//! moto). Run:
//!
//! ```text
//! cargo bench -p ward-domain --bench domain
//! ```

use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;
use ward_crypto::{CachePolicy, DataKey, DekId, InMemoryKeySource, KeyMaterial, LocalKek};
use ward_domain::entity::attachment;
use ward_domain::{
    Action, Actor, AuditRecord, ClamdAddress, ClamdScanner, ClientFields, Domain, Scanner as _,
    UploadLimits, WorkspaceId, migration,
};
use ward_storage::bootstrap::ensure_bucket;
use ward_storage::{
    BoxReader, EncryptedStore, Environment, FileKind, LocalStore, ObjectKey, ObjectStore, Owner,
    PutOptions, RequiredProof, S3StoreBuilder, SharedAcrossWorkspaces, SsePolicy,
};

const MIB: usize = 1024 * 1024;

/// A JPEG of noise as close under `limit` bytes as 8-pixel steps of its width allow (noise does
/// not compress, so the size is the pixels').
fn noise_jpeg_under(limit: usize) -> Vec<u8> {
    let encode = |width: u32| {
        let mut state = 0x9E37_79B9_u32;
        let img = RgbImage::from_fn(width, width * 3 / 4, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let [a, b, c, _] = state.to_le_bytes();
            Rgb([a, b, c])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .expect("jpeg");
        out
    };
    // Widths in 8-pixel steps; the largest whose file fits, by bisection.
    let (mut fits, mut too_big) = (1600 / 8, 3200 / 8);
    let mut best = encode(fits * 8);
    assert!(
        best.len() <= 10 * MIB,
        "the smallest width is already over 10 MiB"
    );
    while too_big - fits > 1 {
        let mid = (fits + too_big) / 2;
        let out = encode(mid * 8);
        if out.len() <= limit {
            (fits, best) = (mid, out);
        } else {
            too_big = mid;
        }
    }
    best
}

fn small_png(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(8, 8, |x, y| Rgb([seed, x as u8, y as u8]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("png");
    out
}

async fn domain(dir: &std::path::Path) -> Domain {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let db = ward_domain::connect(&url).await.expect("db");
    migration::up(&db).await.expect("migrate");
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().expect("key").to_base64().as_str()
    );
    Domain::new(
        db,
        Arc::new(LocalKek::parse(&ring).expect("ring")),
        CachePolicy::new(),
    )
}

fn limits() -> UploadLimits {
    UploadLimits::new()
        .with_max_client_bytes(u64::MAX / 4)
        .with_max_session_bytes(u64::MAX / 4)
}

async fn client(d: &Domain, actor: &Actor) -> (WorkspaceId, Uuid) {
    let ws = d
        .workspaces()
        .create("Bench", Some(u64::MAX / 4))
        .await
        .expect("ws")
        .id;
    let c = d
        .clients()
        .create(actor, ws, ClientFields::named("Bench Client"))
        .await
        .expect("client")
        .id;
    (ws, c)
}

fn bench_upload(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let endpoint = std::env::var("WARD_TEST_MOTO_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned());
    let store = S3StoreBuilder::new()
        .with_environment(Environment::Development)
        .with_endpoint(endpoint)
        .with_bucket(format!("wdb-{}", &Uuid::new_v4().simple().to_string()[..8]))
        .with_credentials("moto-bench-access", "moto-bench-secret-key")
        .with_sse(SsePolicy::S3Managed)
        .build()
        .expect("store");
    if let Err(e) = rt.block_on(ensure_bucket(&store)) {
        eprintln!(
            "skipping upload_10MiB: moto is not reachable ({e}); run `cargo xtask services up`"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let actor = Actor::new("user:bench").expect("actor");
    let d = rt.block_on(domain(dir.path()));
    let (ws, client_id) = rt.block_on(client(&d, &actor));
    let store: Arc<dyn ObjectStore> = Arc::new(store);
    let files = d
        .attachments(
            Arc::clone(&store),
            RequiredProof::ServerSide(SsePolicy::S3Managed),
        )
        .with_limits(limits());
    // 10 MiB, the default per-file limit: above the store's 8 MiB multipart threshold, so
    // both sides upload in parts. 7.5 MiB: one PUT each (the ciphertext is a little larger
    // than the file, and stays under the threshold too).
    let sizes = [("upload_10MiB", 10 * MIB), ("upload_7.5MiB", 15 * MIB / 2)];
    // A fresh object key of the bench's client.
    let new_key = || {
        ObjectKey::new(
            ws.as_uuid(),
            Owner::Client(client_id),
            Uuid::new_v4(),
            FileKind::Jpeg,
        )
    };
    // The same pipeline with clamd scanning (`cargo xtask services up`), when it answers.
    let clamd = ClamdScanner::new(
        ClamdAddress::parse(
            &std::env::var("WARD_TEST_CLAMD").unwrap_or_else(|_| "tcp://127.0.0.1:3310".into()),
        )
        .expect("a clamd address"),
    );
    let scanned = match rt.block_on(clamd.ping()) {
        Ok(()) => Some(files.clone().with_scanner(Arc::new(clamd.clone()))),
        Err(e) => {
            eprintln!("without the scanned pipeline: clamd does not answer ({e})");
            None
        }
    };
    let n = AtomicU64::new(0);
    let mut last = None;
    for (group_name, limit) in sizes {
        let jpeg = noise_jpeg_under(limit);
        // The raw put stores what the pipeline stores: the sanitised bytes.
        let sanitized = ward_sanitize::Sanitizer::new()
            .sanitize("photo.jpg", &jpeg)
            .expect("sanitize")
            .into_bytes();
        let payload = Bytes::from(sanitized);
        eprintln!(
            "{group_name}: a noise JPEG of {} bytes ({:.2} MiB), {} after sanitising",
            jpeg.len(),
            jpeg.len() as f64 / MIB as f64,
            payload.len()
        );

        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Bytes(jpeg.len() as u64));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(20));
        group.bench_function(BenchmarkId::new("raw_s3_put", jpeg.len()), |b| {
            b.to_async(rt).iter(|| async {
                let key = new_key();
                store
                    .put_opts(&key, payload.clone(), PutOptions::new())
                    .await
                    .expect("put");
            });
        });
        group.bench_function(BenchmarkId::new("pipeline", jpeg.len()), |b| {
            b.to_async(rt).iter(|| async {
                let name = format!("photo {}.jpg", n.fetch_add(1, Ordering::Relaxed));
                files
                    .upload(&actor, ws, Owner::Client(client_id), &name, jpeg.as_slice())
                    .await
                    .expect("upload");
            });
        });
        if let Some(scanned) = &scanned {
            group.bench_function(BenchmarkId::new("pipeline_scanned", jpeg.len()), |b| {
                b.to_async(rt).iter(|| async {
                    let name = format!("photo {}.jpg", n.fetch_add(1, Ordering::Relaxed));
                    scanned
                        .upload(&actor, ws, Owner::Client(client_id), &name, jpeg.as_slice())
                        .await
                        .expect("upload");
                });
            });
        }
        group.finish();
        last = Some((jpeg, payload));
    }
    let (jpeg, payload) = last.expect("two sizes");

    // Where the pipeline's time goes: its steps alone, on the same server, for the last size.
    let mut steps = c.benchmark_group("upload_steps");
    steps.throughput(Throughput::Bytes(jpeg.len() as u64));
    steps.sample_size(10);
    steps.measurement_time(Duration::from_secs(10));
    let sanitizer = ward_sanitize::Sanitizer::new();
    steps.bench_function("sanitize", |b| {
        b.iter(|| sanitizer.sanitize("photo.jpg", &jpeg).expect("sanitize"))
    });
    steps.bench_function("stage", |b| {
        b.iter(|| sanitizer.stage("photo.jpg", &jpeg).expect("stage"))
    });
    if scanned.is_some() {
        steps.bench_function("clamd_scan", |b| {
            b.to_async(rt)
                .iter(|| async { clamd.scan(&jpeg).await.expect("scan") });
        });
    }
    let keys = InMemoryKeySource::with_active(DataKey::generate(DekId(1)).expect("key"));
    let sealed = EncryptedStore::new(Arc::clone(&store), SharedAcrossWorkspaces(keys))
        .with_proof(RequiredProof::ServerSide(SsePolicy::S3Managed));
    steps.bench_function("encrypt_put_verify", |b| {
        b.to_async(rt).iter(|| async {
            let key = new_key();
            let body: BoxReader = Box::pin(Cursor::new(payload.clone()));
            sealed
                .put_sealed(&key, body, PutOptions::new())
                .await
                .expect("sealed put");
        });
    });
    steps.finish();
}

fn bench_list(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let objects = tempfile::tempdir().expect("tempdir");
    let actor = Actor::new("user:bench").expect("actor");
    let d = rt.block_on(domain(dir.path()));
    let (ws, client_id) = rt.block_on(client(&d, &actor));
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(objects.path()).expect("local"));
    let files = d
        .attachments(store, RequiredProof::ClientSide)
        .with_limits(limits());
    rt.block_on(async {
        for i in 0..1_000 {
            files
                .upload(
                    &actor,
                    ws,
                    Owner::Client(client_id),
                    &format!("scan {i}.png"),
                    small_png(i as u8).as_slice(),
                )
                .await
                .expect("upload");
        }
    });

    let mut group = c.benchmark_group("list_1000");
    group.sample_size(20);
    group.bench_function("ids_only", |b| {
        b.to_async(rt).iter(|| async {
            let rows = attachment::Entity::find()
                .filter(attachment::Column::WorkspaceId.eq(ws.as_uuid()))
                .filter(attachment::Column::ClientId.eq(client_id))
                .filter(attachment::Column::DeletedAt.is_null())
                .all(d.db())
                .await
                .expect("query");
            assert_eq!(rows.len(), 1_000);
            let txn = sea_orm::TransactionTrait::begin(d.db()).await.expect("txn");
            ward_domain::audit::append(
                &txn,
                ws,
                &AuditRecord::new(&actor, Action::AttachmentList, client_id),
            )
            .await
            .expect("audit");
            txn.commit().await.expect("commit");
        });
    });
    group.bench_function("names_opened", |b| {
        b.to_async(rt).iter(|| async {
            let listed = files
                .list(&actor, ws, Owner::Client(client_id))
                .await
                .expect("list");
            assert_eq!(listed.len(), 1_000);
        });
    });
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut c = Criterion::default().configure_from_args();
    bench_upload(&mut c, &rt);
    bench_list(&mut c, &rt);
    c.final_summary();
}
