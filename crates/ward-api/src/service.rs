//! `Service`: the composition root. Opens the database (migrated), the object store, the KEK
//! ring and the token keys a [`Config`] names, and hands them to the routes.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use ward_crypto::CachePolicy;
use ward_domain::ward_storage::bootstrap::ensure_bucket;
use ward_domain::ward_storage::{
    Environment, LocalStore, ObjectStore, RequiredProof, S3Store, S3StoreBuilder,
};
use ward_domain::{Attachments, ClamdScanner, Domain, RateLimit, Scanner, migration};

use crate::auth::Keys;
use crate::config::{self, Config, StoreSetting};
use crate::error::{Error, Result};
use crate::metrics::MeteredScanner;

/// Everything a request needs, shared by every handler. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
    public_url: Option<Arc<str>>,
    upload_rate: RateLimit,
    upload_slots: UploadSlots,
}

/// Uploads allowed per user per minute unless configured: 10.
pub const DEFAULT_UPLOADS_PER_MINUTE: u32 = 10;

/// Uploads one replica works on at once unless configured: 8. An upload holds its file, the
/// sanitised copy and a part of ciphertext in memory (about three times the file), so this
/// bounds the memory uploads take: with the 10 MiB file limit, about 240 MiB at most.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 8;

/// How long an upload waits for a slot before it is answered 503 with `Retry-After`: 30 s.
pub const UPLOAD_SLOT_WAIT: Duration = Duration::from_secs(30);

/// How long connecting to clamd may take.
const CLAMD_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The upload slots of one replica: an upload takes one before reading its body, so uploads
/// beyond the limit wait before the service reads their bodies.
#[derive(Debug, Clone)]
struct UploadSlots {
    slots: Arc<Semaphore>,
    count: usize,
    wait: Duration,
}

impl UploadSlots {
    fn new(count: usize, wait: Duration) -> Self {
        let count = count.max(1);
        Self {
            slots: Arc::new(Semaphore::new(count)),
            count,
            wait,
        }
    }
}

#[derive(Debug)]
struct Inner {
    domain: Domain,
    attachments: Attachments,
    store: Arc<dyn ObjectStore>,
    proof: RequiredProof,
    keys: Arc<Keys>,
    environment: Environment,
}

impl AsRef<Keys> for Service {
    fn as_ref(&self) -> &Keys {
        &self.inner.keys
    }
}

impl Service {
    /// Opens what `config` names: connects to the database and applies pending migrations,
    /// opens (or, for S3, checks the bucket of) the object store, loads the KEK ring and the
    /// token secret; the embedded default creates its directory and keys first.
    pub async fn open(config: &Config) -> Result<Self> {
        if config.is_embedded() {
            config::create_private_dir(&config.data_dir)?;
        }
        let kek = crate::kek::open(config).await?;
        let secret = config::read_secret(
            &config.token_secret,
            "token secret",
            config.environment,
            config::generate_token_secret,
        )?;
        let mut keys = Keys::from_base64_secret(&secret)?;
        if let Some(path) = &config.token_public_key {
            let pem = std::fs::read(path).map_err(|source| Error::Io {
                what: format!("reading the token public key {}", path.display()),
                source,
            })?;
            keys = keys.with_public_key_pem(&pem)?;
        }
        let (store, proof) = open_store(config).await?;
        let db = ward_domain::connect(&config.database_url).await?;
        migration::up(&db).await?;
        let domain = Domain::new(db, kek, CachePolicy::new());
        let mut service = Self::new(domain, store, proof, keys, config.environment)
            .with_upload_rate(RateLimit::per_minute(config.uploads_per_minute))
            .with_upload_concurrency(config.upload_concurrency, UPLOAD_SLOT_WAIT);
        if let config::ScannerSetting::Clamd {
            address,
            timeout,
            max_bytes,
        } = &config.scanner
        {
            // A scan happens inside an upload slot, so clamd never sees more at once than that.
            let clamd = ClamdScanner::new(address.clone())
                .with_timeouts(CLAMD_CONNECT_TIMEOUT, *timeout)
                .with_max_stream_bytes(*max_bytes)
                .with_max_concurrent(config.upload_concurrency);
            service = service.with_scanner(Arc::new(clamd));
        }
        Ok(match &config.public_url {
            Some(base) => service.with_public_url(base),
            None => service,
        })
    }

    /// A service over parts already opened (tests, and services that embed ward's routes).
    pub fn new(
        domain: Domain,
        store: Arc<dyn ObjectStore>,
        proof: RequiredProof,
        keys: Keys,
        environment: Environment,
    ) -> Self {
        let attachments = domain.attachments(Arc::clone(&store), proof.clone());
        Self {
            inner: Arc::new(Inner {
                domain,
                attachments,
                store,
                proof,
                keys: Arc::new(keys),
                environment,
            }),
            public_url: None,
            upload_rate: RateLimit::per_minute(DEFAULT_UPLOADS_PER_MINUTE),
            upload_slots: UploadSlots::new(DEFAULT_UPLOAD_CONCURRENCY, UPLOAD_SLOT_WAIT),
        }
    }

    /// Scans every upload with `scanner`; an upload it cannot judge is refused (503), an
    /// infected one too (422). Its scans are counted by outcome in the service's metrics. Call
    /// it before the service is cloned: clones made earlier keep the pipeline they had.
    pub fn with_scanner(mut self, scanner: Arc<dyn Scanner>) -> Self {
        let scanner: Arc<dyn Scanner> = Arc::new(MeteredScanner::new(scanner));
        let inner = &*self.inner;
        self.inner = Arc::new(Inner {
            domain: inner.domain.clone(),
            attachments: inner.attachments.clone().with_scanner(scanner),
            store: Arc::clone(&inner.store),
            proof: inner.proof.clone(),
            keys: Arc::clone(&inner.keys),
            environment: inner.environment,
        });
        self
    }

    /// The malware scanner uploads pass, if any.
    pub fn scanner(&self) -> Option<&Arc<dyn Scanner>> {
        self.inner.attachments.scanner()
    }

    /// Works on at most `uploads` uploads at once (at least one); an upload waits up to `wait`
    /// for a slot, then is refused with [`Error::Busy`](crate::Error::Busy) (503).
    pub fn with_upload_concurrency(mut self, uploads: usize, wait: Duration) -> Self {
        self.upload_slots = UploadSlots::new(uploads, wait);
        self
    }

    /// Uploads being worked on now (slots taken).
    pub fn uploads_in_progress(&self) -> usize {
        self.upload_slots
            .count
            .saturating_sub(self.upload_slots.slots.available_permits())
    }

    /// Waits for an upload slot (released when the permit drops).
    pub(crate) async fn upload_slot(&self) -> Result<OwnedSemaphorePermit> {
        let UploadSlots { slots, wait, .. } = &self.upload_slots;
        match tokio::time::timeout(*wait, Arc::clone(slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a closed one is answered like a full one.
            Ok(Err(_)) | Err(_) => Err(Error::Busy {
                retry_after_seconds: 5,
            }),
        }
    }

    /// Limits each user's uploads to `limit` (counted in the database, so across replicas).
    pub fn with_upload_rate(mut self, limit: RateLimit) -> Self {
        self.upload_rate = limit;
        self
    }

    /// Each user's upload limit.
    pub fn upload_rate(&self) -> RateLimit {
        self.upload_rate
    }

    /// Download links are absolute URLs under `base` (`https://ward.example.org`) instead of
    /// paths relative to the service.
    pub fn with_public_url(mut self, base: &str) -> Self {
        self.public_url = Some(Arc::from(base.trim_end_matches('/')));
        self
    }

    /// The data layer.
    pub fn domain(&self) -> &Domain {
        &self.inner.domain
    }

    /// The attachment pipeline over the service's store.
    pub fn attachments(&self) -> &Attachments {
        &self.inner.attachments
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The proof of encryption every put to the store must give.
    pub fn proof(&self) -> &RequiredProof {
        &self.inner.proof
    }

    /// The token and link keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The deployment environment.
    pub fn environment(&self) -> Environment {
        self.inner.environment
    }

    /// The base of absolute download links, when configured.
    pub fn public_url(&self) -> Option<&str> {
        self.public_url.as_deref()
    }
}

/// `ward storage init`: makes the configured store ready: for S3 the bucket is created when
/// missing with default encryption, public access blocked and the multipart lifecycle rule
/// ([`ensure_bucket`]); a local store's directory is created (mode 0700). Returns a line per
/// step, and whether every step is in effect.
pub async fn init_store(config: &Config) -> Result<(Vec<String>, bool)> {
    match &config.store {
        StoreSetting::Local(dir) => {
            config::create_private_dir(dir)?;
            Ok((
                vec![format!("local store directory {} is ready", dir.display())],
                true,
            ))
        }
        StoreSetting::S3 => {
            let store = s3_store(config)?;
            let report = ensure_bucket(&store)
                .await
                .map_err(ward_domain::Error::from)?;
            let mut lines = vec![
                format!("bucket {}: {:?}", report.bucket, report.created),
                format!("default encryption: {:?}", report.default_encryption),
                format!("public access block: {:?}", report.public_access_block),
                format!(
                    "abort-incomplete-multipart lifecycle rule: {:?}",
                    report.abort_multipart_lifecycle
                ),
                format!(
                    "versioning (reported, not changed): {:?}",
                    report.versioning
                ),
            ];
            let complete = report.is_complete();
            if !complete {
                lines.push(format!("not in effect: {}", report.gaps().join(", ")));
            }
            Ok((lines, complete))
        }
    }
}

fn s3_store(config: &Config) -> Result<S3Store> {
    S3StoreBuilder::from_env()
        .with_environment(config.environment)
        .build()
        .map_err(|e| Error::Config {
            problems: vec![format!("WARD_S3_*: {e}")],
        })
}

/// The store `config` names, and the proof of encryption its puts must give.
async fn open_store(config: &Config) -> Result<(Arc<dyn ObjectStore>, RequiredProof)> {
    match &config.store {
        StoreSetting::Local(dir) => {
            config::create_private_dir(dir)?;
            let store = LocalStore::new(dir).map_err(ward_domain::Error::from)?;
            Ok((Arc::new(store), RequiredProof::ClientSide))
        }
        StoreSetting::S3 => {
            let store = s3_store(config)?;
            store
                .verify_bucket_exists()
                .await
                .map_err(ward_domain::Error::from)?;
            let proof = RequiredProof::ServerSide(store.sse_policy().clone());
            Ok((Arc::new(store), proof))
        }
    }
}
