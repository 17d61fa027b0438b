//! Whole-database backups ([`Backups`]): the dump encrypted under a key of its own, wrapped by
//! the KEK, beside a manifest of the audit heads, in the object store.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use base64::Engine as _;
use futures::StreamExt as _;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait as _, IsolationLevel,
    Statement, TransactionTrait as _,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncWriteExt as _, ReadBuf};
use uuid::Uuid;
use ward_crypto::stream::{EncryptingReader, StreamDecryptor};
use ward_crypto::{DataKey, DekId, KeyEncryptionKey, WrappedDataKey};
use ward_storage::{
    BackupPart, BoxReader, EncryptionExpectation, KeyPrefix, ObjectKey, ObjectStore,
    ObjectStoreExt as _, PutOptions, RequiredProof, verify_file_encrypted,
};
use ward_types::WorkspaceId;
use zeroize::Zeroizing;

use crate::audit;
use crate::clock;
use crate::entity::workspace;
use crate::error::{Error, Result};

/// The manifest format this ward writes (and the newest it reads).
pub const MANIFEST_VERSION: u32 = 1;

/// The `format` word of every manifest.
const MANIFEST_FORMAT: &str = "ward-backup-manifest";

/// The id the backup's own data key carries in its stream header and wrapped form. Each backup
/// has one data key, so the id only has to be fixed.
const BACKUP_DEK_ID: DekId = DekId(1);

/// The largest manifest read (a manifest holds a line per workspace).
const MAX_MANIFEST_BYTES: usize = 64 << 20;

/// Which database a backup was taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackupEngine {
    /// An SQLite database file (the embedded default), snapshotted with `VACUUM INTO`.
    Sqlite,
    /// A PostgreSQL database, dumped with `pg_dump --format=custom`.
    Postgres,
}

impl BackupEngine {
    /// The engine's name as the manifest writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    fn of(db: &impl ConnectionTrait) -> Result<Self> {
        match db.get_database_backend() {
            DbBackend::Sqlite => Ok(Self::Sqlite),
            DbBackend::Postgres => Ok(Self::Postgres),
            _ => Err(Error::InvalidInput {
                field: "database",
                reason: "backups support SQLite and PostgreSQL only",
            }),
        }
    }
}

impl fmt::Display for BackupEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One workspace's audit chain at the time of the dump: its length and head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceHead {
    /// The workspace id.
    pub id: Uuid,
    /// The number of audit events (the position of the last one).
    pub audit_seq: i64,
    /// The hash of the last audit event, lowercase hex (64 zeros before the first).
    pub audit_head: String,
}

/// What a backup holds: the body of `manifest.json`. Ids, sizes and hashes only; nothing about
/// patients.
///
/// The stored file is `{"format": "ward-backup-manifest", "manifest": {…}, "wrapped_key":
/// "<base64>"}`, where `manifest` is this struct and `wrapped_key` the backup's data key wrapped
/// by the KEK version [`kek_version`](Self::kek_version), bound to this manifest's canonical
/// JSON (see [`Backups`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BackupManifest {
    /// The manifest format version ([`MANIFEST_VERSION`]).
    pub format_version: u32,
    /// The backup id (its objects live under `backups/{id}/`).
    pub backup_id: Uuid,
    /// When the backup was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The database engine dumped.
    pub engine: BackupEngine,
    /// The KEK version that wrapped the backup's data key.
    pub kek_version: u32,
    /// The dump's size in bytes, before encryption.
    pub plaintext_size: u64,
    /// The dump's SHA-256, lowercase hex.
    pub plaintext_sha256: String,
    /// The stored (encrypted) object's size in bytes.
    pub stored_size: u64,
    /// The migrations applied in the dumped database, in order.
    pub migrations: Vec<String>,
    /// Every workspace's audit chain at the time of the dump, by id.
    pub workspaces: Vec<WorkspaceHead>,
}

/// The stored form of a manifest.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredManifest {
    format: String,
    manifest: BackupManifest,
    wrapped_key: String,
}

/// One backup found in the store ([`Backups::list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupListing {
    /// The backup id.
    pub id: Uuid,
    /// The stored size of the dump, `None` when the dump object is missing.
    pub stored_bytes: Option<u64>,
    /// The manifest, when present and authentic under the KEK ring.
    pub manifest: Option<BackupManifest>,
    /// Why the backup is not usable (no manifest, a manifest that does not authenticate, no
    /// dump), `None` when it looks whole. Only [`Backups::verify`] proves a backup restorable.
    pub problem: Option<String>,
}

/// What [`Backups::verify`] or [`Backups::restore`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupCheck {
    /// The backup id.
    pub backup_id: Uuid,
    /// The engine.
    pub engine: BackupEngine,
    /// Decrypted bytes, equal to the manifest's size and SHA-256.
    pub plaintext_size: u64,
    /// Migrations found applied (equal to the manifest's).
    pub migrations: usize,
    /// Workspaces whose audit chain verified and ended at the recorded head.
    pub workspaces: usize,
    /// Audit events checked across those chains.
    pub audit_events: u64,
}

/// Options of [`Backups::restore`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// Replace what the target holds: an SQLite file that exists (moved over, its `-wal`,
    /// `-shm` and `-journal` files removed: nothing may have it open), or a PostgreSQL database
    /// that holds tables (`pg_restore --clean --if-exists`). Off by default: such a target is
    /// refused.
    pub replace: bool,
}

impl RestoreOptions {
    /// Default options: refuse a target that is not empty.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces what the target holds (see [`replace`](Self::replace)).
    pub fn with_replace(mut self, replace: bool) -> Self {
        self.replace = replace;
        self
    }
}

/// Why a backup operation failed (inside [`Error::Backup`]). No message holds key bytes,
/// credentials or PHI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The manifest is not a ward backup manifest (not JSON of the expected shape).
    #[error("backup manifest is malformed: {reason}")]
    ManifestMalformed {
        /// What is wrong, without echoing the bytes.
        reason: &'static str,
    },
    /// The manifest was written by a newer ward.
    #[error("backup manifest format version {version} is newer than this ward reads")]
    UnsupportedVersion {
        /// The version found.
        version: u32,
    },
    /// The manifest does not authenticate under the KEK ring: it was edited, belongs to another
    /// backup, or was not written by ward.
    #[error(
        "backup manifest does not authenticate under the KEK ring (altered, or another backup's)"
    )]
    ManifestNotAuthentic,
    /// The dump is not what the manifest records.
    #[error("backup {what} does not match its manifest")]
    Mismatch {
        /// What differs: `size`, `sha256`, `stored size`, `migrations`, `workspaces`.
        what: &'static str,
    },
    /// A workspace's audit chain in the restored database is broken or does not end at the
    /// head the manifest recorded.
    #[error("workspace {workspace}: audit chain {detail}")]
    AuditChain {
        /// The workspace.
        workspace: Uuid,
        /// What is wrong (positions and row ids only).
        detail: String,
    },
    /// `pg_dump` or `pg_restore` is not installed.
    #[error("{tool} is not installed or not on PATH (install the PostgreSQL client tools)")]
    ToolMissing {
        /// The tool.
        tool: &'static str,
    },
    /// `pg_dump` or `pg_restore` failed. Its messages are not repeated (they can quote rows): run
    /// it by hand against the same database to see them.
    #[error(
        "{tool} failed ({status}); run it by hand against the same database to see its messages"
    )]
    ToolFailed {
        /// The tool.
        tool: &'static str,
        /// Its exit status.
        status: String,
    },
    /// The restore target already holds tables.
    #[error(
        "the restore target already holds tables; restore into an empty database, or replace them explicitly"
    )]
    TargetNotEmpty,
    /// The SQLite restore target file already exists.
    #[error("the restore target {path} already exists; name a new file, or replace it explicitly")]
    TargetExists {
        /// The file.
        path: PathBuf,
    },
    /// The restore target is the database ward is running on.
    #[error(
        "the restore target is the live database; restore into a new database and point ward at it"
    )]
    TargetIsLive,
    /// The backup's engine differs from the target's.
    #[error("a {backup} backup cannot be restored or verified on {target}")]
    EngineMismatch {
        /// The backup's engine.
        backup: BackupEngine,
        /// The target's engine.
        target: &'static str,
    },
    /// A PostgreSQL backup, verification or restore needs the database URL
    /// ([`Backups::with_database_url`]).
    #[error("a PostgreSQL backup needs the database URL")]
    DatabaseUrlRequired,
    /// A scratch or target file could not be written or read.
    #[error("backup file i/o failed")]
    Io(#[source] io::Error),
}

impl From<BackupError> for Error {
    fn from(e: BackupError) -> Self {
        Self::Backup(e)
    }
}

impl BackupError {
    /// Whose fault it is.
    pub(crate) fn fault(&self) -> ward_types::Fault {
        use ward_types::Fault;
        match self {
            Self::TargetNotEmpty
            | Self::TargetExists { .. }
            | Self::TargetIsLive
            | Self::EngineMismatch { .. } => Fault::Conflict,
            Self::DatabaseUrlRequired => Fault::ClientInput,
            _ => Fault::Server,
        }
    }
}

fn io_err(e: io::Error) -> Error {
    Error::Backup(BackupError::Io(e))
}

/// Whole-database backups in an object store: create, list, verify, restore.
///
/// A backup holds every workspace's rows, so it is PHI, and it cannot use one workspace's data
/// key. It carries its own envelope under the KEK ring instead:
///
/// - **`backups/{id}/database.ward`**: the dump (an online SQLite snapshot taken with
///   `VACUUM INTO`, or `pg_dump --format=custom` of the PostgreSQL database), encrypted in
///   ward-crypto's stream format under a fresh random data key made for this backup alone, bound
///   (like every ward object) to its object key, which names the backup id. Every chunk is
///   authenticated, so truncation, reordering and flipped bytes are all detected.
/// - **`backups/{id}/manifest.json`**: what the backup holds, in plain JSON (ids, counts and
///   hashes only, never anything about patients) plus the data key wrapped by the active KEK.
///   The wrap is bound to the manifest itself: its context is
///   `ward/v1/backup:{id}:{sha256 of the manifest's canonical JSON}`, so a manifest edited in any
///   field (an audit head, a size, a hash) no longer unwraps its key and is refused
///   ([`BackupError::ManifestNotAuthentic`]). Its format is [`BackupManifest`].
///
/// Both objects live under `backups/`, outside every workspace, so no workspace's listing, and
/// not the reconciler's sweep of objects no row names, ever sees them.
///
/// # Proof of encryption
///
/// Every put goes to the configured store, so S3 puts carry its server-side encryption, and each
/// object is proven after the put, fail-closed (the backup is deleted when a proof fails):
///
/// - the dump by [`verify_file_encrypted`]: the server-side encryption reported by a HEAD, or for
///   a store without SSE the stored bytes read back as this object's ward ciphertext under the
///   backup's data key;
/// - the manifest, which holds no secret, by reading it back and authenticating it under the KEK
///   ring (plus the server-side encryption proof on S3).
///
/// # Consistency
///
/// SQLite: `VACUUM INTO` writes a consistent snapshot while the service runs, into a private
/// temporary directory (mode 0700, file 0600, removed afterwards); the audit heads and
/// migrations recorded are read from that snapshot. PostgreSQL: a read-only repeatable-read
/// transaction exports its snapshot, the heads and migrations are read in it and `pg_dump
/// --snapshot` dumps exactly that state; the dump streams from `pg_dump`'s output through
/// encryption into the store and never touches the disk.
///
/// # Verification and restore
///
/// [`Backups::verify`] fetches and decrypts the dump, checks its size and SHA-256 against the
/// manifest, restores it into a scratch database (a temporary SQLite file; for PostgreSQL a
/// database `ward_verify_<random>` made on the same server and dropped afterwards, even on
/// failure) and checks there that the migrations are the recorded ones and that every
/// workspace's audit chain verifies and ends at the head the manifest recorded.
/// [`Backups::restore`] does the same into a target the caller names, never over the live
/// database, refusing a target that already holds tables (or an SQLite file that exists) unless
/// asked to replace it.
///
/// # Credentials and logs
///
/// The database URL may hold a password: it is never printed nor passed on a command line.
/// `pg_dump` and `pg_restore` get the URL without its password as `--dbname` and the password in
/// `PGPASSWORD`; their own messages are discarded (they can quote row data). Logs carry backup
/// ids, sizes and outcomes only.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
/// use ward_domain::{Domain, RestoreOptions, migration};
/// use ward_domain::ward_storage::{LocalStore, RequiredProof};
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
/// let dir = tempfile::tempdir()?;
/// let url = format!("sqlite://{}?mode=rwc", dir.path().join("ward.db").display());
/// let db = ward_domain::connect(&url).await?;
/// migration::up(&db).await?;
/// let ring = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
/// let domain = Domain::new(db, Arc::new(LocalKek::parse(&ring)?), CachePolicy::new());
/// domain.workspaces().create("Riverside Clinic", None).await?;
///
/// std::fs::create_dir(dir.path().join("objects"))?;
/// let store = Arc::new(LocalStore::new(dir.path().join("objects"))?);
/// let backups = domain.backups(store, RequiredProof::ClientSide).with_database_url(&url);
/// let made = backups.create().await?;
/// let checked = backups.verify(made.backup_id).await?;
/// assert_eq!(checked.workspaces, 1);
///
/// let target = format!("sqlite://{}", dir.path().join("restored.db").display());
/// backups.restore(made.backup_id, &target, &RestoreOptions::new()).await?;
/// // A file that exists is never overwritten unless asked.
/// assert!(backups.restore(made.backup_id, &target, &RestoreOptions::new()).await.is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Backups {
    db: DatabaseConnection,
    kek: Arc<dyn KeyEncryptionKey>,
    store: Arc<dyn ObjectStore>,
    proof: RequiredProof,
    database_url: Option<Arc<Zeroizing<String>>>,
    scratch_dir: PathBuf,
}

impl fmt::Debug for Backups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backups")
            .field("store", &format_args!("{}", self.store))
            .field("proof", &self.proof)
            .field(
                "database_url",
                &self.database_url.as_ref().map(|_| "******"),
            )
            .field("scratch_dir", &self.scratch_dir)
            .finish_non_exhaustive()
    }
}

impl Backups {
    /// Backups of `db` (the live database) into `store`, each put proven encrypted by `proof`,
    /// data keys wrapped by `kek`. Scratch files go under the system's temporary directory.
    pub fn new(
        db: DatabaseConnection,
        kek: Arc<dyn KeyEncryptionKey>,
        store: Arc<dyn ObjectStore>,
        proof: RequiredProof,
    ) -> Self {
        Self {
            db,
            kek,
            store,
            proof,
            database_url: None,
            scratch_dir: std::env::temp_dir(),
        }
    }

    /// The URL of the live database: `pg_dump` dumps it, verification makes its scratch
    /// database on the same server, and a restore refuses it as a target. Required on
    /// PostgreSQL. Never printed.
    pub fn with_database_url(mut self, url: &str) -> Self {
        self.database_url = Some(Arc::new(Zeroizing::new(url.to_owned())));
        self
    }

    /// Puts scratch files (the SQLite snapshot and verification copies, each in a private
    /// directory removed afterwards) under `dir` instead of the system's temporary directory.
    pub fn with_scratch_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.scratch_dir = dir.into();
        self
    }

    /// Backs up the whole database: dumps it consistently, encrypts the dump into
    /// `backups/{id}/database.ward`, proves it encrypted, then writes and proves the manifest.
    /// Returns the manifest.
    ///
    /// Fail-closed: when any step fails, whatever was put is deleted.
    pub async fn create(&self) -> Result<BackupManifest> {
        let id = Uuid::new_v4();
        let engine = BackupEngine::of(&self.db)?;
        match self.create_objects(id, engine).await {
            Ok(manifest) => {
                tracing::info!(
                    backup = %id,
                    engine = engine.as_str(),
                    plaintext_bytes = manifest.plaintext_size,
                    stored_bytes = manifest.stored_size,
                    workspaces = manifest.workspaces.len(),
                    "backup created"
                );
                Ok(manifest)
            }
            Err(e) => {
                self.remove_objects(id).await;
                tracing::warn!(backup = %id, engine = engine.as_str(), "backup failed; its objects were deleted");
                Err(e)
            }
        }
    }

    async fn create_objects(&self, id: Uuid, engine: BackupEngine) -> Result<BackupManifest> {
        let created_at = clock::now();
        let dek = Arc::new(DataKey::generate(BACKUP_DEK_ID)?);
        let db_key = ObjectKey::backup(id, BackupPart::Database);
        let (stored_size, tally, state) = match engine {
            BackupEngine::Sqlite => {
                let scratch = Scratch::new(&self.scratch_dir)?;
                let (path, state) = self.snapshot_sqlite(&scratch).await?;
                let file = tokio::fs::File::open(&path).await.map_err(io_err)?;
                let (size, tally) = self.put_dump(&db_key, &dek, Box::pin(file)).await?;
                drop(scratch);
                (size, tally, state)
            }
            BackupEngine::Postgres => self.dump_postgres(&db_key, &dek).await?,
        };
        self.prove(&db_key, &dek).await?;
        let (plaintext_size, sha256) = tally.finish();
        let manifest = BackupManifest {
            format_version: MANIFEST_VERSION,
            backup_id: id,
            created_at,
            engine,
            kek_version: self.kek.active_id().0,
            plaintext_size,
            plaintext_sha256: hex(&sha256),
            stored_size,
            migrations: state.migrations,
            workspaces: state.workspaces,
        };
        let wrapped = self.kek.wrap(&dek, &wrap_context(&manifest)?).await?;
        let stored = StoredManifest {
            format: MANIFEST_FORMAT.to_owned(),
            manifest: manifest.clone(),
            wrapped_key: base64::engine::general_purpose::STANDARD.encode(wrapped.as_bytes()),
        };
        let body = serde_json::to_vec_pretty(&stored)
            .map_err(|_| Error::Internal("a manifest did not serialize"))?;
        let man_key = ObjectKey::backup(id, BackupPart::Manifest);
        self.store
            .put_opts(
                &man_key,
                body.into(),
                PutOptions::new().with_content_type(BackupPart::Manifest.media_type()),
            )
            .await?;
        // The manifest holds no secret: on S3 it is proven like every object, and on every store
        // what was stored must read back and authenticate under the KEK ring.
        if let RequiredProof::ServerSide(policy) = &self.proof {
            verify_file_encrypted(
                self.store.as_ref(),
                &man_key,
                &EncryptionExpectation::ServerSide(policy.clone()),
            )
            .await?;
        }
        let (read_back, _) = self.read_manifest(id).await?;
        if read_back != manifest {
            return Err(BackupError::ManifestNotAuthentic.into());
        }
        Ok(manifest)
    }

    /// Encrypts `body` into the dump object, counting and hashing the plaintext on the way.
    async fn put_dump(
        &self,
        key: &ObjectKey,
        dek: &DataKey,
        body: BoxReader,
    ) -> Result<(u64, Tally)> {
        let tally = Tally::default();
        let hashing = Hashing {
            inner: body,
            tally: tally.clone(),
        };
        let reader = EncryptingReader::new(dek, hashing, key.as_str().as_bytes())?;
        let put = self
            .store
            .put_stream_opts(
                key,
                Box::pin(reader),
                PutOptions::new().with_content_type(BackupPart::Database.media_type()),
            )
            .await?;
        Ok((put.size, tally))
    }

    /// Proves the dump object encrypted as the store requires (deleting it otherwise).
    async fn prove(&self, key: &ObjectKey, dek: &Arc<DataKey>) -> Result<()> {
        let expectation = match &self.proof {
            RequiredProof::ServerSide(policy) => EncryptionExpectation::ServerSide(policy.clone()),
            RequiredProof::ClientSide => EncryptionExpectation::ClientSide {
                dek: Arc::clone(dek),
            },
            _ => {
                return Err(Error::Internal(
                    "a proof of encryption this ward does not know",
                ));
            }
        };
        verify_file_encrypted(self.store.as_ref(), key, &expectation).await?;
        Ok(())
    }

    /// Deletes a backup's objects (after a failed create); a failure is logged for an operator.
    async fn remove_objects(&self, id: Uuid) {
        for part in BackupPart::ALL {
            let key = ObjectKey::backup(id, part);
            if let Err(e) = self.store.delete(&key).await {
                tracing::error!(alert = true, backup = %id, key = %key, error = %e, "a failed backup's object could not be deleted");
            }
        }
    }

    /// Takes an online snapshot of the SQLite database into `scratch` and reads its state.
    async fn snapshot_sqlite(&self, scratch: &Scratch) -> Result<(PathBuf, DbState)> {
        let path = scratch.dir.join("snapshot.db");
        // VACUUM INTO writes into an empty file: made first, private.
        create_private_file(&path).map_err(io_err)?;
        let text = path.to_str().ok_or(Error::InvalidInput {
            field: "scratch directory",
            reason: "must be a UTF-8 path",
        })?;
        let quoted = text.replace('\'', "''");
        self.db
            .execute_unprepared(&format!("VACUUM INTO '{quoted}'"))
            .await?;
        let snapshot = open_sqlite_file(&path, false).await?;
        let state = read_state(&snapshot).await;
        snapshot.close().await?;
        Ok((path, state?))
    }

    /// Dumps the PostgreSQL database with `pg_dump` from an exported snapshot, streaming its
    /// output through encryption into the store.
    async fn dump_postgres(&self, key: &ObjectKey, dek: &DataKey) -> Result<(u64, Tally, DbState)> {
        let url = self
            .database_url
            .as_ref()
            .ok_or(BackupError::DatabaseUrlRequired)?;
        let conn = PgConn::parse(url, None)?;
        let txn = self
            .db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?;
        let row = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_export_snapshot()",
            ))
            .await?
            .ok_or(Error::Internal("pg_export_snapshot returned no row"))?;
        let snapshot: String = row.try_get_by_index(0)?;
        let state = read_state(&txn).await?;
        let mut child = conn
            .command("pg_dump")
            .arg("--format=custom")
            .arg(format!("--snapshot={snapshot}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("pg_dump", e))?;
        let stdout = child
            .stdout
            .take()
            .ok_or(Error::Internal("pg_dump has no stdout"))?;
        let put = self.put_dump(key, dek, Box::pin(stdout)).await;
        let status = match &put {
            Ok(_) => child.wait().await.map_err(io_err)?,
            Err(_) => {
                let _ = child.kill().await;
                child.wait().await.map_err(io_err)?
            }
        };
        // The snapshot was held until the dump ended.
        txn.rollback().await?;
        let (size, tally) = put?;
        if !status.success() {
            return Err(BackupError::ToolFailed {
                tool: "pg_dump",
                status: status.to_string(),
            }
            .into());
        }
        Ok((size, tally, state))
    }

    /// Every backup in the store, newest first, each with its manifest when it authenticates.
    pub async fn list(&self) -> Result<Vec<BackupListing>> {
        let mut found: BTreeMap<Uuid, (Option<u64>, bool)> = BTreeMap::new();
        let mut listing = self.store.list(&KeyPrefix::backups());
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let Some((id, part)) = meta.key.backup_part() else {
                continue;
            };
            let entry = found.entry(id).or_default();
            match part {
                BackupPart::Database => entry.0 = Some(meta.size),
                _ => entry.1 = true,
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (id, (stored_bytes, has_manifest)) in found {
            let (manifest, mut problem) = if has_manifest {
                match self.read_manifest(id).await {
                    Ok((m, _)) => (Some(m), None),
                    Err(e) => (None, Some(e.to_string())),
                }
            } else {
                (None, Some("no manifest (an unfinished backup)".to_owned()))
            };
            if problem.is_none() && stored_bytes.is_none() {
                problem = Some("the dump object is missing".to_owned());
            }
            out.push(BackupListing {
                id,
                stored_bytes,
                manifest,
                problem,
            });
        }
        out.sort_by(|a, b| {
            let at = |l: &BackupListing| l.manifest.as_ref().map(|m| m.created_at);
            at(b).cmp(&at(a)).then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Reads and authenticates a backup's manifest, returning it and the backup's data key.
    async fn read_manifest(&self, id: Uuid) -> Result<(BackupManifest, Arc<DataKey>)> {
        let key = ObjectKey::backup(id, BackupPart::Manifest);
        let got = match self.store.get(&key).await {
            Err(e) if e.is_not_found() => return Err(Error::not_found("backup", id)),
            other => other?,
        };
        if got.meta.size > MAX_MANIFEST_BYTES as u64 {
            return Err(BackupError::ManifestMalformed {
                reason: "larger than any manifest ward writes",
            }
            .into());
        }
        let bytes = got.bytes().await?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| BackupError::ManifestMalformed { reason: "not JSON" })?;
        if value.get("format").and_then(serde_json::Value::as_str) != Some(MANIFEST_FORMAT) {
            return Err(BackupError::ManifestMalformed {
                reason: "not a ward backup manifest",
            }
            .into());
        }
        let version = value
            .pointer("/manifest/format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or(BackupError::ManifestMalformed {
                reason: "no format version",
            })?;
        if version != u64::from(MANIFEST_VERSION) {
            return Err(BackupError::UnsupportedVersion {
                version: u32::try_from(version).unwrap_or(u32::MAX),
            }
            .into());
        }
        let stored: StoredManifest =
            serde_json::from_value(value).map_err(|_| BackupError::ManifestMalformed {
                reason: "fields missing, unknown or of the wrong type",
            })?;
        let manifest = stored.manifest;
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(stored.wrapped_key.as_bytes())
            .ok()
            .and_then(|b| WrappedDataKey::from_bytes(b).ok())
            .ok_or(BackupError::ManifestMalformed {
                reason: "the wrapped key is not a ward wrapped key",
            })?;
        if manifest.backup_id != id || wrapped.kek_id().0 != manifest.kek_version {
            return Err(BackupError::ManifestNotAuthentic.into());
        }
        let dek = match self.kek.unwrap(&wrapped, &wrap_context(&manifest)?).await {
            Ok(dek) => dek,
            // A KEK version the ring does not hold is named; anything else is an altered manifest.
            Err(e @ ward_crypto::Error::UnknownKekId { .. }) => return Err(e.into()),
            Err(_) => return Err(BackupError::ManifestNotAuthentic.into()),
        };
        Ok((manifest, Arc::new(dek)))
    }

    /// Verifies a backup end to end: the manifest authenticates, the dump decrypts (every chunk
    /// authenticated) to the recorded size and SHA-256, and restored into a scratch database it
    /// holds the recorded migrations and every workspace's audit chain verifies and ends at the
    /// recorded head. The scratch database is removed afterwards, also on failure.
    pub async fn verify(&self, id: Uuid) -> Result<BackupCheck> {
        let (manifest, dek) = self.read_manifest(id).await?;
        let checked = match manifest.engine {
            BackupEngine::Sqlite => {
                let scratch = Scratch::new(&self.scratch_dir)?;
                let path = scratch.dir.join("verify.db");
                self.decrypt_to_file(&manifest, &dek, &path).await?;
                let db = open_sqlite_file(&path, true).await?;
                let checked = check_restored(&db, &manifest).await;
                db.close().await?;
                checked?
            }
            BackupEngine::Postgres => self.verify_postgres(&manifest, &dek).await?,
        };
        tracing::info!(backup = %id, workspaces = checked.workspaces, audit_events = checked.audit_events, "backup verified");
        Ok(checked)
    }

    async fn verify_postgres(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
    ) -> Result<BackupCheck> {
        if BackupEngine::of(&self.db)? != BackupEngine::Postgres {
            return Err(BackupError::EngineMismatch {
                backup: manifest.engine,
                target: "SQLite (verification needs a PostgreSQL server)",
            }
            .into());
        }
        let url = self
            .database_url
            .as_ref()
            .ok_or(BackupError::DatabaseUrlRequired)?;
        let name = format!("ward_verify_{}", Uuid::new_v4().simple());
        self.db
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        let checked = async {
            let scratch_url = PgConn::with_database(url, &name)?;
            let conn = PgConn::parse(url, Some(&name))?;
            self.pg_restore(manifest, dek, &conn, false).await?;
            let db = crate::connect_with(&scratch_url, 2).await?;
            let checked = check_restored(&db, manifest).await;
            db.close().await?;
            checked
        }
        .await;
        if let Err(e) = self
            .db
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await
        {
            tracing::error!(alert = true, database = %name, error = %Error::from(e), "a verification scratch database could not be dropped");
        }
        checked
    }

    /// Restores a backup into `target_url` (`sqlite://path` or `postgres://…`), then checks the
    /// restored database as [`verify`](Self::verify) does.
    ///
    /// Refuses the live database ([`BackupError::TargetIsLive`]), a target of another engine,
    /// and, unless [`RestoreOptions::replace`], an SQLite file that exists or a PostgreSQL
    /// database that holds tables. An SQLite target is written beside itself and moved in place
    /// only once checked; a PostgreSQL restore runs in one transaction fed only authenticated
    /// plaintext (each chunk is released after its tag checks, the last one marked final), so a
    /// dump that fails to decrypt part-way stops `pg_restore` before it commits. The size and
    /// SHA-256 are checked too; that check ends as the input ends, so a mismatch there (which
    /// authenticated chunks under an authentic manifest cannot produce) may come after the
    /// commit: the restore then fails and the target must not be used.
    pub async fn restore(
        &self,
        id: Uuid,
        target_url: &str,
        options: &RestoreOptions,
    ) -> Result<BackupCheck> {
        let (manifest, dek) = self.read_manifest(id).await?;
        let (target, target_name) = if target_url.starts_with("sqlite:") {
            (BackupEngine::Sqlite, "SQLite")
        } else {
            (BackupEngine::Postgres, "PostgreSQL")
        };
        if manifest.engine != target {
            return Err(BackupError::EngineMismatch {
                backup: manifest.engine,
                target: target_name,
            }
            .into());
        }
        let checked = match target {
            BackupEngine::Sqlite => {
                self.restore_sqlite(&manifest, &dek, target_url, options)
                    .await?
            }
            BackupEngine::Postgres => {
                self.restore_postgres(&manifest, &dek, target_url, options)
                    .await?
            }
        };
        tracing::info!(backup = %id, workspaces = checked.workspaces, "backup restored");
        Ok(checked)
    }

    async fn restore_sqlite(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
        target_url: &str,
        options: &RestoreOptions,
    ) -> Result<BackupCheck> {
        let path = sqlite_path(target_url)?;
        if let Some(live) = self.database_url.as_deref()
            && live.starts_with("sqlite:")
            && same_file(&sqlite_path(live)?, &path)
        {
            return Err(BackupError::TargetIsLive.into());
        }
        if path.exists() && !options.replace {
            return Err(BackupError::TargetExists { path }.into());
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let partial = dir.join(format!(".ward-restore-{}.partial", Uuid::new_v4().simple()));
        let done = async {
            self.decrypt_to_file(manifest, dek, &partial).await?;
            let db = open_sqlite_file(&partial, true).await?;
            let checked = check_restored(&db, manifest).await;
            db.close().await?;
            let checked = checked?;
            if options.replace {
                // The replaced database's journal files must not be applied to the restored one.
                for suffix in ["-wal", "-shm", "-journal"] {
                    let mut side = path.clone().into_os_string();
                    side.push(suffix);
                    match std::fs::remove_file(&side) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(e)),
                        _ => {}
                    }
                }
                std::fs::rename(&partial, &path).map_err(io_err)?;
            } else {
                // A hard link never replaces an existing name: a file created meanwhile wins.
                std::fs::hard_link(&partial, &path).map_err(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        Error::from(BackupError::TargetExists { path: path.clone() })
                    } else {
                        io_err(e)
                    }
                })?;
                std::fs::remove_file(&partial).map_err(io_err)?;
            }
            sync_dir(&dir).map_err(io_err)?;
            Ok::<_, Error>(checked)
        }
        .await;
        if done.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        done
    }

    async fn restore_postgres(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
        target_url: &str,
        options: &RestoreOptions,
    ) -> Result<BackupCheck> {
        let conn = PgConn::parse(&Zeroizing::new(target_url.to_owned()), None)?;
        if let Some(live) = self.database_url.as_deref()
            && !live.starts_with("sqlite:")
            && PgConn::parse(live, None)?.same_database(&conn)
        {
            return Err(BackupError::TargetIsLive.into());
        }
        let target = crate::connect_with(target_url, 2).await?;
        let checked = async {
            if BackupEngine::of(&target)? != BackupEngine::Postgres {
                return Err(Error::InvalidInput {
                    field: "database url",
                    reason: "a PostgreSQL backup restores into postgres:// only",
                });
            }
            let tables = target
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT count(*) FROM information_schema.tables \
                     WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
                ))
                .await?
                .map(|r| r.try_get_by_index::<i64>(0))
                .transpose()?
                .unwrap_or(0);
            if tables > 0 && !options.replace {
                return Err(BackupError::TargetNotEmpty.into());
            }
            self.pg_restore(manifest, dek, &conn, options.replace)
                .await?;
            check_restored(&target, manifest).await
        }
        .await;
        target.close().await?;
        checked
    }

    /// Fetches and decrypts the dump into a new private file at `path`, checking size and
    /// SHA-256 against the manifest; the file is removed when a check fails.
    async fn decrypt_to_file(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
        path: &Path,
    ) -> Result<()> {
        let file = create_private_file(path).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::from(BackupError::TargetExists {
                    path: path.to_path_buf(),
                })
            } else {
                io_err(e)
            }
        })?;
        let mut file = tokio::fs::File::from_std(file);
        let written = async {
            let (mut plain, tally) = self.open_dump(manifest, dek).await?;
            tokio::io::copy(&mut plain, &mut file)
                .await
                .map_err(crypto_or_io)?;
            check_tally(manifest, &tally)?;
            file.sync_all().await.map_err(io_err)?;
            Ok::<_, Error>(())
        }
        .await;
        if written.is_err() {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
        written
    }

    /// The dump's plaintext as a reader (every chunk authenticated as it is read), and the
    /// tally of what it yielded.
    async fn open_dump(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
    ) -> Result<(Hashing<BoxReader>, Tally)> {
        let key = ObjectKey::backup(manifest.backup_id, BackupPart::Database);
        let got = match self.store.get(&key).await {
            Err(e) if e.is_not_found() => {
                return Err(Error::not_found("backup dump", manifest.backup_id));
            }
            other => other?,
        };
        if got.meta.size != manifest.stored_size {
            return Err(BackupError::Mismatch {
                what: "stored size",
            }
            .into());
        }
        let plain = StreamDecryptor::new(dek, got.into_reader(), key.as_str().as_bytes());
        let tally = Tally::default();
        Ok((
            Hashing {
                inner: Box::pin(plain),
                tally: tally.clone(),
            },
            tally,
        ))
    }

    /// Streams the decrypted dump into `pg_restore` on `conn`, in one transaction, then checks the
    /// recorded size and SHA-256 (see [`Backups::restore`] for what that order means).
    async fn pg_restore(
        &self,
        manifest: &BackupManifest,
        dek: &DataKey,
        conn: &PgConn,
        clean: bool,
    ) -> Result<()> {
        let (mut plain, tally) = self.open_dump(manifest, dek).await?;
        let mut command = conn.command("pg_restore");
        command
            .arg("--no-owner")
            .arg("--no-privileges")
            .arg("--single-transaction")
            .arg("--exit-on-error");
        if clean {
            command.arg("--clean").arg("--if-exists");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| spawn_error("pg_restore", e))?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or(Error::Internal("pg_restore has no stdin"))?;
        let fed = async {
            tokio::io::copy(&mut plain, &mut stdin).await.map_err(|e| {
                match ward_crypto::Error::from_io(e) {
                    // pg_restore stopped reading: its exit status tells why.
                    ward_crypto::Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                        Error::from(BackupError::ToolFailed {
                            tool: "pg_restore",
                            status: "stopped reading its input".to_owned(),
                        })
                    }
                    ward_crypto::Error::Io(e) => io_err(e),
                    crypto => Error::Crypto(crypto),
                }
            })?;
            check_tally(manifest, &tally)?;
            stdin.shutdown().await.map_err(io_err)?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = fed {
            // The transaction never commits: pg_restore is stopped before its input ends.
            let _ = child.kill().await;
            let _ = child.wait().await;
            return Err(e);
        }
        drop(stdin);
        let status = child.wait().await.map_err(io_err)?;
        if !status.success() {
            return Err(BackupError::ToolFailed {
                tool: "pg_restore",
                status: status.to_string(),
            }
            .into());
        }
        Ok(())
    }
}

/// The wrap context of a backup's data key: the backup id and the SHA-256 of the manifest's
/// canonical JSON (its fields in declaration order, as serialized by ward).
fn wrap_context(manifest: &BackupManifest) -> Result<Vec<u8>> {
    let canonical = serde_json::to_vec(manifest)
        .map_err(|_| Error::Internal("a manifest did not serialize"))?;
    let digest = Sha256::digest(&canonical);
    Ok(format!("ward/v1/backup:{}:{}", manifest.backup_id, hex(&digest)).into_bytes())
}

/// The migrations and audit heads of a database.
struct DbState {
    migrations: Vec<String>,
    workspaces: Vec<WorkspaceHead>,
}

async fn read_state(db: &impl ConnectionTrait) -> Result<DbState> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version",
        ))
        .await?;
    let migrations = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    let mut workspaces: Vec<WorkspaceHead> = workspace::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|w| WorkspaceHead {
            id: w.id,
            audit_seq: w.audit_seq,
            audit_head: hex(&w.audit_head),
        })
        .collect();
    workspaces.sort_by_key(|w| w.id);
    Ok(DbState {
        migrations,
        workspaces,
    })
}

/// Checks a restored database against its manifest: the same migrations, the same workspaces,
/// and each workspace's audit chain intact and ending at the recorded head.
async fn check_restored(db: &DatabaseConnection, manifest: &BackupManifest) -> Result<BackupCheck> {
    let state = read_state(db).await?;
    if state.migrations != manifest.migrations {
        return Err(BackupError::Mismatch { what: "migrations" }.into());
    }
    let ids = |w: &[WorkspaceHead]| w.iter().map(|h| h.id).collect::<Vec<_>>();
    if ids(&state.workspaces) != ids(&manifest.workspaces) {
        return Err(BackupError::Mismatch { what: "workspaces" }.into());
    }
    let mut audit_events = 0;
    for (found, recorded) in state.workspaces.iter().zip(&manifest.workspaces) {
        if found != recorded {
            return Err(BackupError::AuditChain {
                workspace: recorded.id,
                detail: format!(
                    "holds {} events, the manifest records {} (or its head differs)",
                    found.audit_seq, recorded.audit_seq
                ),
            }
            .into());
        }
        let report = audit::verify_chain(db, WorkspaceId::from(recorded.id)).await?;
        if let Some(broken) = report.first_break {
            return Err(BackupError::AuditChain {
                workspace: recorded.id,
                detail: format!("is broken: {broken}"),
            }
            .into());
        }
        audit_events += report.events;
    }
    Ok(BackupCheck {
        backup_id: manifest.backup_id,
        engine: manifest.engine,
        plaintext_size: manifest.plaintext_size,
        migrations: state.migrations.len(),
        workspaces: state.workspaces.len(),
        audit_events,
    })
}

fn check_tally(manifest: &BackupManifest, tally: &Tally) -> Result<()> {
    let (size, sha) = tally.finish();
    if size != manifest.plaintext_size {
        return Err(BackupError::Mismatch { what: "size" }.into());
    }
    if hex(&sha) != manifest.plaintext_sha256 {
        return Err(BackupError::Mismatch { what: "sha256" }.into());
    }
    Ok(())
}

/// An I/O error out of a decrypting reader: a failed chunk becomes ward-crypto's decryption error.
fn crypto_or_io(e: io::Error) -> Error {
    match ward_crypto::Error::from_io(e) {
        ward_crypto::Error::Io(e) => io_err(e),
        crypto => Error::Crypto(crypto),
    }
}

fn spawn_error(tool: &'static str, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        BackupError::ToolMissing { tool }.into()
    } else {
        io_err(e)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The plaintext bytes seen and their running SHA-256, shared with the reader that feeds them.
#[derive(Clone, Default)]
struct Tally(Arc<Mutex<(Sha256, u64)>>);

impl Tally {
    fn add(&self, bytes: &[u8]) {
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.0.update(bytes);
        t.1 += bytes.len() as u64;
    }

    /// The size and SHA-256 of everything seen so far.
    fn finish(&self) -> (u64, [u8; 32]) {
        let t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = [0; 32];
        out.copy_from_slice(&t.0.clone().finalize());
        (t.1, out)
    }
}

/// A reader that adds what passes through it to a [`Tally`].
struct Hashing<R> {
    inner: R,
    tally: Tally,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &polled {
            this.tally.add(&buf.filled()[before..]);
        }
        polled
    }
}

/// A private scratch directory (mode 0700), removed with everything in it when dropped.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(base: &Path) -> Result<Self> {
        let dir = base.join(format!("ward-backup-{}", Uuid::new_v4().simple()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir).map_err(io_err)?;
        Ok(Self { dir })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(error_kind = ?e.kind(), "a backup scratch directory could not be removed");
        }
    }
}

/// Creates a new file readable by its owner only; fails when it exists.
fn create_private_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Flushes a directory's entries (a rename or link in it) to disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Opens an SQLite file ward made (a snapshot or a restored copy) with one connection, in
/// rollback-journal mode so no WAL file outlives it.
async fn open_sqlite_file(path: &Path, foreign_keys: bool) -> Result<DatabaseConnection> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .foreign_keys(foreign_keys)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| {
            Error::Database(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
                e.into(),
            )))
        })?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// The file an `sqlite:` URL names (`sqlite://path?…` or `sqlite:path?…`).
fn sqlite_path(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or(Error::InvalidInput {
            field: "database url",
            reason: "must start with sqlite: or postgres://",
        })?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(Error::InvalidInput {
            field: "database url",
            reason: "an SQLite restore needs a file path",
        });
    }
    Ok(PathBuf::from(path))
}

/// Whether two paths name the same file (compared canonically when both exist).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A PostgreSQL connection for `pg_dump`/`pg_restore`: the URL without its password, and the
/// password apart (handed over in `PGPASSWORD`, never on a command line).
struct PgConn {
    url: url::Url,
    password: Option<Zeroizing<String>>,
}

/// The URL query parameters libpq understands (sqlx's own are dropped for the tools).
const LIBPQ_PARAMS: &[&str] = &[
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslcrl",
    "options",
    "application_name",
    "connect_timeout",
    "host",
    "hostaddr",
    "port",
    "user",
    "target_session_attrs",
];

impl PgConn {
    /// Parses `url`, naming `database` instead of the URL's when given.
    fn parse(url: &Zeroizing<String>, database: Option<&str>) -> Result<Self> {
        let invalid = || Error::InvalidInput {
            field: "database url",
            reason: "is not a valid postgres:// URL",
        };
        let mut parsed = url::Url::parse(url).map_err(|_| invalid())?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(invalid());
        }
        let password = match parsed.password() {
            Some(p) => Some(Zeroizing::new(percent_decode(p).ok_or_else(invalid)?)),
            None => None,
        };
        parsed.set_password(None).map_err(|()| invalid())?;
        if let Some(db) = database {
            parsed.set_path(&format!("/{db}"));
        }
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(k, _)| LIBPQ_PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        parsed.set_query(None);
        if !kept.is_empty() {
            parsed.query_pairs_mut().extend_pairs(kept);
        }
        Ok(Self {
            url: parsed,
            password,
        })
    }

    /// The full URL (password included) of `database` on the server `url` names, for ward's
    /// own connection. Never printed.
    fn with_database(url: &Zeroizing<String>, database: &str) -> Result<Zeroizing<String>> {
        let mut parsed = url::Url::parse(url).map_err(|_| Error::InvalidInput {
            field: "database url",
            reason: "is not a valid postgres:// URL",
        })?;
        parsed.set_path(&format!("/{database}"));
        Ok(Zeroizing::new(parsed.into()))
    }

    /// Whether both name the same database on the same server.
    fn same_database(&self, other: &Self) -> bool {
        self.url.host_str() == other.url.host_str()
            && self.url.port().unwrap_or(5432) == other.url.port().unwrap_or(5432)
            && self.url.path() == other.url.path()
    }

    /// A command running `tool` against this database, its messages discarded, killed when
    /// dropped.
    fn command(&self, tool: &'static str) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(tool);
        command
            .arg("--no-password")
            .arg(format!("--dbname={}", self.url))
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(p) = &self.password {
            command.env("PGPASSWORD", p.as_str());
        }
        command
    }
}

/// Decodes `%XX` escapes (a URL's password); `None` when malformed or not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Zeroizing<String> {
        Zeroizing::new(s.to_owned())
    }

    #[test]
    fn the_password_leaves_the_url_and_sqlx_parameters_are_dropped() {
        let conn = PgConn::parse(
            &url("postgres://ward:s%40cret@db.example:6543/ward?sslmode=require&statement-cache-capacity=5"),
            None,
        )
        .unwrap();
        assert_eq!(
            conn.url.as_str(),
            "postgres://ward@db.example:6543/ward?sslmode=require"
        );
        assert_eq!(conn.password.as_deref().map(String::as_str), Some("s@cret"));
        let scratch = PgConn::parse(&url("postgres://u:p@h/ward"), Some("ward_verify_x")).unwrap();
        assert_eq!(scratch.url.as_str(), "postgres://u@h/ward_verify_x");
        assert!(scratch.same_database(
            &PgConn::parse(&url("postgresql://h:5432/ward_verify_x"), None).unwrap()
        ));
        assert!(!scratch.same_database(&conn));
        assert!(PgConn::parse(&url("mysql://h/db"), None).is_err());
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/a.db?mode=rwc").unwrap(),
            PathBuf::from("/tmp/a.db")
        );
        assert_eq!(sqlite_path("sqlite:a.db").unwrap(), PathBuf::from("a.db"));
        assert!(sqlite_path("sqlite::memory:").is_err());
        assert!(sqlite_path("postgres://h/db").is_err());
    }

    #[test]
    fn the_wrap_context_changes_with_every_field() {
        let manifest = BackupManifest {
            format_version: MANIFEST_VERSION,
            backup_id: Uuid::from_u128(7),
            created_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            engine: BackupEngine::Sqlite,
            kek_version: 1,
            plaintext_size: 10,
            plaintext_sha256: "00".repeat(32),
            stored_size: 99,
            migrations: vec!["m1".into()],
            workspaces: vec![WorkspaceHead {
                id: Uuid::from_u128(1),
                audit_seq: 3,
                audit_head: "ab".repeat(32),
            }],
        };
        let base = wrap_context(&manifest).unwrap();
        assert!(base.starts_with(b"ward/v1/backup:00000000-0000-0000-0000-000000000007:"));
        let mut edited = manifest.clone();
        edited.workspaces[0].audit_seq = 2;
        assert_ne!(wrap_context(&edited).unwrap(), base);
        let mut edited = manifest;
        edited.plaintext_size = 11;
        assert_ne!(wrap_context(&edited).unwrap(), base);
    }

    #[test]
    fn percent_decoding_refuses_malformed_escapes() {
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("a%2"), None);
        assert_eq!(percent_decode("a%zz"), None);
    }
}
