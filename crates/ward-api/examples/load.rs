//! Load on a running ward, beside the raw S3 server it stores into.
//!
//! `cargo xtask load [--seconds N] [--concurrency C]` builds this example and the `ward` binary
//! with optimisations and runs it; by hand:
//!
//! ```text
//! cargo build --release -p ward-api --bin ward --example load
//! target/release/examples/load --ward target/release/ward --seconds 30 --concurrency 32
//! ```
//!
//! It makes a scratch database on PostgreSQL and a scratch bucket on the S3 server (moto on
//! 127.0.0.1:9100 by default, as `cargo xtask services up` starts it), starts `ward serve` on them
//! as a separate process (development environment, plain HTTP on loopback, the upload rate limit
//! raised out of the way), and runs four phases of `--seconds` each with `--concurrency` workers:
//!
//! 1. **raw PUT**: the JPEG's bytes put straight to the bucket with ward-storage's `S3Store`
//!    (SSE-S3 requested, as ward's own puts are), no service in between;
//! 2. **upload**: `POST /api/v1/clients/{id}/attachments` of the same JPEG (validated,
//!    sanitised, encrypted, put, verified, recorded, audited); a worker moves to a new client
//!    every 80 files so no per-client limit is reached;
//! 3. **raw GET**: the objects of phase 1 read back whole;
//! 4. **download**: a download link asked for (`GET …/download`) and the link fetched whole
//!    (decrypted by the service); both requests count in the latency.
//!
//! It prints each phase's operations, errors, throughput and p50/p99 latency, the ratios the
//! issue sets targets for (uploads ≥ 0.6× raw PUTs, downloads ≥ 0.7× raw GETs), and the
//! service's peak resident memory (`VmHWM` of its process, target ≤ 200 MiB), then stops the
//! service and drops the database. It exits non-zero when a target is missed or any request
//! failed.

use std::collections::VecDeque;
use std::io::Cursor;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use bytes::Bytes;
use clap::Parser;
use futures::{StreamExt as _, TryStreamExt as _};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use image::{ImageFormat, Rgb, RgbImage};
use uuid::Uuid;
use ward_api::{Claims, Keys, Role};
use ward_crypto::KeyMaterial;
use ward_domain::sea_orm::ConnectionTrait as _;
use ward_domain::ward_storage::{
    Environment, FileKind, KeyPrefix, ObjectKey, ObjectStoreExt as _, Owner, S3Store,
    S3StoreBuilder, SsePolicy,
};

/// Load on a running ward beside raw S3 PUTs and GETs of the same bytes.
#[derive(Debug, Parser)]
struct Args {
    /// The `ward` binary to run (build it with `--release`).
    #[arg(long)]
    ward: PathBuf,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Concurrent workers in each phase.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The JPEG's size in KiB (approximately: the encoder decides the last bytes).
    #[arg(long, default_value_t = 1024)]
    size_kib: usize,
    /// A PostgreSQL database to create the scratch database from.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    /// The S3-compatible server.
    #[arg(long, default_value = "http://127.0.0.1:9100")]
    s3_endpoint: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Files a worker uploads to one client before it moves to a new one (the per-client limit is
/// 100 MiB).
const FILES_PER_CLIENT: usize = 80;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(args)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("load: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let jpeg = Bytes::from(make_jpeg(args.size_kib * 1024)?);
    let tag = Uuid::new_v4().simple().to_string()[..12].to_owned();
    let database = format!("ward_load_{tag}");
    let admin = ward_domain::connect_with(&args.database_url, 2)
        .await
        .context("connecting to PostgreSQL")?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
        .await?;
    let result = measure(&args, &jpeg, &database, &tag).await;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        ))
        .await?;
    let report = result?;
    report.print(args.json);
    if !report.targets_met() {
        bail!("a target was missed or a request failed (see above)");
    }
    Ok(())
}

async fn measure(args: &Args, jpeg: &Bytes, database: &str, tag: &str) -> Result<Report> {
    let database_url = replace_database(&args.database_url, database)?;
    let bucket = format!("ward-load-{tag}");
    let secret = KeyMaterial::generate()?.to_base64().as_str().to_owned();
    let kek = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
    let listen = free_port()?;
    let scratch = std::env::temp_dir().join(format!("ward-load-{tag}"));
    std::fs::create_dir_all(&scratch)?;
    let env: Vec<(&str, String)> = vec![
        ("WARD_ENV", "development".into()),
        ("WARD_DATABASE_URL", database_url),
        ("WARD_STORE", "s3".into()),
        ("WARD_S3_ENDPOINT", args.s3_endpoint.clone()),
        ("WARD_S3_BUCKET", bucket.clone()),
        ("WARD_S3_ACCESS_KEY_ID", "ward-load-access".into()),
        ("WARD_S3_SECRET_ACCESS_KEY", "ward-load-secret-key".into()),
        ("WARD_KEK", kek),
        ("WARD_TOKEN_SECRET", secret.clone()),
        ("WARD_LISTEN", listen.clone()),
        ("WARD_UPLOADS_PER_MINUTE", "1000000".into()),
        ("WARD_DATA_DIR", scratch.display().to_string()),
    ];
    let ward = |args_: &[&str]| {
        let mut c = Command::new(&args.ward);
        c.args(args_)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
        c
    };
    run_ok(ward(&["migrate"]))?;
    run_ok(ward(&["storage", "init"]))?;
    let created = run_ok(ward(&[
        "--json",
        "workspace",
        "create",
        "Load",
        "--quota-bytes",
        "1000000000000",
    ]))?;
    let workspace: Uuid = serde_json::from_str::<serde_json::Value>(&created)?["workspace_id"]
        .as_str()
        .context("workspace id")?
        .parse()?;
    let log = std::fs::File::create(scratch.join("ward.log"))?;
    let child = ward(&["serve"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting ward serve")?;
    let service = Running { child };
    let base = format!("http://{listen}");
    let token = issue_token(&secret, workspace)?;
    let http: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency * 2)
        .build_http();
    wait_healthy(&http, &base).await?;

    let store = Arc::new(
        S3StoreBuilder::new()
            .with_environment(Environment::Development)
            .with_endpoint(args.s3_endpoint.clone())
            .with_bucket(bucket)
            .with_credentials("ward-load-access", "ward-load-secret-key")
            .with_sse(SsePolicy::S3Managed)
            .build()?,
    );
    let seconds = Duration::from_secs(args.seconds);
    let c = args.concurrency;
    let size = jpeg.len() as u64;

    // 1. raw PUT
    let raw_keys = Arc::new(Mutex::new(Vec::new()));
    let raw_put = {
        let (store, jpeg, keys) = (store.clone(), jpeg.clone(), raw_keys.clone());
        phase("raw PUT", seconds, c, move |_worker| {
            let (store, jpeg, keys) = (store.clone(), jpeg.clone(), keys.clone());
            async move {
                let key = ObjectKey::new(
                    Uuid::nil(),
                    Owner::Client(Uuid::nil()),
                    Uuid::new_v4(),
                    FileKind::Jpeg,
                );
                store.put(&key, jpeg).await?;
                lock(&keys).push(key);
                Ok(size)
            }
        })
        .await
    };

    // 2. upload through ward
    let uploaded = Arc::new(Mutex::new(Vec::new()));
    let upload = {
        let clients: Arc<Vec<Mutex<(String, usize)>>> =
            Arc::new((0..c).map(|_| Mutex::new((String::new(), 0))).collect());
        let (http, base, token, jpeg, uploaded) = (
            http.clone(),
            base.clone(),
            token.clone(),
            jpeg.clone(),
            uploaded.clone(),
        );
        phase("upload", seconds, c, move |worker| {
            let (http, base, token, jpeg, uploaded, clients) = (
                http.clone(),
                base.clone(),
                token.clone(),
                jpeg.clone(),
                uploaded.clone(),
                clients.clone(),
            );
            async move {
                let (client, n) = {
                    let mut slot = lock(&clients[worker]);
                    slot.1 += 1;
                    slot.clone()
                };
                let client = if client.is_empty() || n % FILES_PER_CLIENT == 0 {
                    let id = new_client(&http, &base, &token).await?;
                    lock(&clients[worker]).0 = id.clone();
                    id
                } else {
                    client
                };
                let item = upload_file(
                    &http,
                    &base,
                    &token,
                    &client,
                    &format!("scan-{worker}-{n}.jpg"),
                    &jpeg,
                )
                .await?;
                lock(&uploaded).push((client, item));
                Ok(size)
            }
        })
        .await
    };

    // 3. raw GET
    let raw_get = {
        let keys = Arc::new(std::mem::take(&mut *lock(&raw_keys)));
        if keys.is_empty() {
            bail!("no raw object was put; nothing to read");
        }
        let next = Arc::new(AtomicUsize::new(0));
        let store = store.clone();
        phase("raw GET", seconds, c, move |_worker| {
            let (store, keys, next) = (store.clone(), keys.clone(), next.clone());
            async move {
                let key = &keys[next.fetch_add(1, Ordering::Relaxed) % keys.len()];
                let bytes = store.get(key).await?.bytes().await?;
                Ok(bytes.len() as u64)
            }
        })
        .await
    };

    // 4. download through ward
    let download = {
        let files = Arc::new(std::mem::take(&mut *lock(&uploaded)));
        if files.is_empty() {
            bail!("no file was uploaded; nothing to download");
        }
        let next = Arc::new(AtomicUsize::new(0));
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        phase("download", seconds, c, move |_worker| {
            let (http, base, token, files, next) = (
                http.clone(),
                base.clone(),
                token.clone(),
                files.clone(),
                next.clone(),
            );
            async move {
                let (client, id) = &files[next.fetch_add(1, Ordering::Relaxed) % files.len()];
                download_file(&http, &base, &token, client, id).await
            }
        })
        .await
    };

    let peak_rss_kib = service.peak_rss_kib()?;
    drop(service);
    let _ = std::fs::remove_dir_all(&scratch);
    let removed = empty_bucket(&store).await?;
    eprintln!("load: {removed} objects deleted from the run's bucket");
    Ok(Report {
        file_bytes: size,
        concurrency: c,
        phases: vec![raw_put, upload, raw_get, download],
        peak_rss_kib,
    })
}

// --- the phases ---

/// What one phase measured.
struct Phase {
    name: &'static str,
    ops: usize,
    errors: usize,
    first_errors: Vec<String>,
    bytes: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn mib_per_second(&self) -> f64 {
        self.bytes as f64 / (1024.0 * 1024.0) / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[rank]
    }
}

/// Runs `op` on `workers` workers, each in a loop, until `length` has passed; an operation
/// answers the bytes it moved.
async fn phase<F, Fut>(name: &'static str, length: Duration, workers: usize, op: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u64>> + Send + 'static,
{
    eprintln!(
        "load: {name} for {} s with {workers} workers",
        length.as_secs()
    );
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = VecDeque::new();
            let mut error_count = 0;
            let mut bytes = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match (*op)(worker).await {
                    Ok(n) => {
                        latencies.push(t.elapsed());
                        bytes += n;
                    }
                    Err(e) => {
                        error_count += 1;
                        if errors.len() < 3 {
                            errors.push_back(format!("{e:#}"));
                        }
                    }
                }
            }
            (latencies, error_count, errors, bytes)
        }));
    }
    let mut phase = Phase {
        name,
        ops: 0,
        errors: 0,
        first_errors: Vec::new(),
        bytes: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
    };
    for task in tasks {
        match task.await {
            Ok((latencies, errors, first, bytes)) => {
                phase.ops += latencies.len();
                phase.latencies.extend(latencies);
                phase.errors += errors;
                phase.first_errors.extend(first);
                phase.bytes += bytes;
            }
            Err(e) => {
                phase.errors += 1;
                phase.first_errors.push(format!("worker failed: {e}"));
            }
        }
    }
    phase.elapsed = started.elapsed();
    phase.latencies.sort_unstable();
    phase.first_errors.truncate(5);
    phase
}

/// Deletes every object of the run's bucket (it is the run's own): an S3 server that keeps
/// objects in memory, as moto does, gets it back for the next run.
async fn empty_bucket(store: &S3Store) -> Result<usize> {
    let keys: Vec<ObjectKey> = store
        .list(&KeyPrefix::all())
        .map_ok(|meta| meta.key)
        .try_collect()
        .await?;
    let count = keys.len();
    futures::stream::iter(keys)
        .map(|key| async move { store.delete(&key).await })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(count)
}

// --- requests ---

async fn send(
    http: &HttpClient,
    method: &str,
    url: &str,
    token: &str,
    content_type: Option<&str>,
    body: Bytes,
) -> Result<(u16, Bytes)> {
    let mut req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = http.request(req.body(Full::new(body))?).await?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn expect(status: u16, want: u16, body: &[u8], what: &str) -> Result<serde_json::Value> {
    if status != want {
        // The error body is ward's `{detail, code}`: no PHI, safe to print.
        bail!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(serde_json::from_slice(body).unwrap_or(serde_json::Value::Null))
}

async fn new_client(http: &HttpClient, base: &str, token: &str) -> Result<String> {
    let body = serde_json::to_vec(&serde_json::json!({ "name": "Load Test" }))?;
    let (status, body) = send(
        http,
        "POST",
        &format!("{base}/api/v1/clients"),
        token,
        Some("application/json"),
        Bytes::from(body),
    )
    .await?;
    let value = expect(status, 201, &body, "create client")?;
    Ok(value["id"].as_str().context("client id")?.to_owned())
}

const BOUNDARY: &str = "ward-load-boundary-51c2";

async fn upload_file(
    http: &HttpClient,
    base: &str,
    token: &str,
    client: &str,
    name: &str,
    jpeg: &[u8],
) -> Result<String> {
    let mut form = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: image/jpeg\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(jpeg);
    form.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let (status, body) = send(
        http,
        "POST",
        &format!("{base}/api/v1/clients/{client}/attachments"),
        token,
        Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
        Bytes::from(form),
    )
    .await?;
    let value = expect(status, 201, &body, "upload")?;
    Ok(value["id"].as_str().context("attachment id")?.to_owned())
}

async fn download_file(
    http: &HttpClient,
    base: &str,
    token: &str,
    client: &str,
    id: &str,
) -> Result<u64> {
    let (status, body) = send(
        http,
        "GET",
        &format!("{base}/api/v1/clients/{client}/attachments/{id}/download"),
        token,
        None,
        Bytes::new(),
    )
    .await?;
    let value = expect(status, 200, &body, "download link")?;
    let link = value["download_url"].as_str().context("download_url")?;
    let url = if link.starts_with('/') {
        format!("{base}{link}")
    } else {
        link.to_owned()
    };
    let res = http
        .request(http::Request::get(url).body(Full::new(Bytes::new()))?)
        .await?;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await?.to_bytes();
    if status != 200 {
        bail!("download: {status}");
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        bail!("download: the body is not a JPEG");
    }
    Ok(bytes.len() as u64)
}

// --- the service process ---

/// `ward serve`, stopped with SIGTERM (killed if it does not stop) when dropped.
struct Running {
    child: Child,
}

impl Running {
    /// The peak resident set of the service process (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .context("reading the service's /proc status")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmHWM in /proc status")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..350 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_healthy(http: &HttpClient, base: &str) -> Result<()> {
    for _ in 0..300 {
        if let Ok(res) = http
            .request(http::Request::get(format!("{base}/ready")).body(Full::new(Bytes::new()))?)
            .await
            && res.status() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("ward did not become ready within 30 s (see its log)")
}

/// Runs a `ward` subcommand to completion; its stdout.
fn run_ok(mut command: Command) -> Result<String> {
    let out = command.output().context("running ward")?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            command.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn issue_token(secret: &str, workspace: Uuid) -> Result<String> {
    let now = ward_api::auth::unix_now();
    Ok(Keys::from_base64_secret(secret)?.issue(&Claims {
        sub: "load-user".into(),
        workspace_id: workspace,
        role: Role::Member,
        exp: now + 3600,
        iat: Some(now),
    })?)
}

fn free_port() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// `url` with its database name replaced by `database` (query kept).
fn replace_database(url: &str, database: &str) -> Result<String> {
    let (head, query) = url
        .split_once('?')
        .map_or((url, None), |(h, q)| (h, Some(q)));
    let slash = head
        .rfind('/')
        .filter(|&i| i > "postgres://".len())
        .context("the database URL names no database")?;
    let mut out = format!("{}/{database}", &head[..slash]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A JPEG of noise of about `target` bytes (noise keeps the encoder from shrinking it).
fn make_jpeg(target: usize) -> Result<Vec<u8>> {
    let mut side = 512_f64;
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let mut out = Vec::new();
    for _ in 0..4 {
        let w = side.round() as u32;
        let h = (side * 0.75).round() as u32;
        let img = RgbImage::from_fn(w, h, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let [r, g, b, ..] = state.to_le_bytes();
            Rgb([r, g, b])
        });
        out.clear();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)?;
        side *= (target as f64 / out.len() as f64).sqrt();
    }
    Ok(out)
}

// --- the report ---

struct Report {
    file_bytes: u64,
    concurrency: usize,
    phases: Vec<Phase>,
    peak_rss_kib: u64,
}

const UPLOAD_TARGET: f64 = 0.6;
const DOWNLOAD_TARGET: f64 = 0.7;
const RSS_TARGET_MIB: f64 = 200.0;

impl Report {
    fn phase(&self, name: &str) -> &Phase {
        self.phases
            .iter()
            .find(|p| p.name == name)
            .unwrap_or(&self.phases[0])
    }

    fn upload_ratio(&self) -> f64 {
        self.phase("upload").per_second() / self.phase("raw PUT").per_second()
    }

    fn download_ratio(&self) -> f64 {
        self.phase("download").per_second() / self.phase("raw GET").per_second()
    }

    fn peak_rss_mib(&self) -> f64 {
        self.peak_rss_kib as f64 / 1024.0
    }

    fn errors(&self) -> usize {
        self.phases.iter().map(|p| p.errors).sum()
    }

    fn targets_met(&self) -> bool {
        self.upload_ratio() >= UPLOAD_TARGET
            && self.download_ratio() >= DOWNLOAD_TARGET
            && self.errors() == 0
            && self.peak_rss_mib() <= RSS_TARGET_MIB
    }

    fn print(&self, json: bool) {
        if json {
            let phases: Vec<_> = self
                .phases
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "phase": p.name, "ops": p.ops, "errors": p.errors,
                        "ops_per_second": p.per_second(), "mib_per_second": p.mib_per_second(),
                        "p50_ms": p.percentile(0.5).as_secs_f64() * 1e3,
                        "p99_ms": p.percentile(0.99).as_secs_f64() * 1e3,
                        "first_errors": p.first_errors,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::json!({
                    "file_bytes": self.file_bytes, "concurrency": self.concurrency,
                    "phases": phases, "upload_ratio": self.upload_ratio(),
                    "download_ratio": self.download_ratio(),
                    "service_peak_rss_mib": self.peak_rss_mib(), "targets_met": self.targets_met(),
                })
            );
            return;
        }
        println!(
            "\nfile {} bytes, concurrency {}\n",
            self.file_bytes, self.concurrency
        );
        println!(
            "{:<10} {:>7} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "phase", "ops", "errors", "files/s", "MiB/s", "p50 ms", "p99 ms"
        );
        for p in &self.phases {
            println!(
                "{:<10} {:>7} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                p.name,
                p.ops,
                p.errors,
                p.per_second(),
                p.mib_per_second(),
                p.percentile(0.5).as_secs_f64() * 1e3,
                p.percentile(0.99).as_secs_f64() * 1e3
            );
            for e in &p.first_errors {
                println!("    error: {e}");
            }
        }
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        println!();
        println!(
            "upload / raw PUT     {:.2}x  (target >= {UPLOAD_TARGET}x: {})",
            self.upload_ratio(),
            mark(self.upload_ratio() >= UPLOAD_TARGET)
        );
        println!(
            "download / raw GET   {:.2}x  (target >= {DOWNLOAD_TARGET}x: {})",
            self.download_ratio(),
            mark(self.download_ratio() >= DOWNLOAD_TARGET)
        );
        println!(
            "errors               {}     (target 0: {})",
            self.errors(),
            mark(self.errors() == 0)
        );
        println!(
            "service peak RSS     {:.1} MiB (target <= {RSS_TARGET_MIB} MiB: {})",
            self.peak_rss_mib(),
            mark(self.peak_rss_mib() <= RSS_TARGET_MIB)
        );
    }
}
