//! ward's data layer for protected health information (PHI): sealed models on PostgreSQL and
//! SQLite, data keys in the database, and a hash-chained audit log.
//!
//! ward-domain is what a clinic's Rust service links to hold PHI. It owns the database and
//! composes ward-crypto (keys, sealing), ward-sanitize (validation) and ward-storage (objects).
//! It knows nothing of HTTP.
//!
//! # Map
//!
//! | concept | types |
//! |---|---|
//! | the handle | [`Domain`]: a database connection and the KEK ring, handing out the repositories |
//! | schema | [`migration`] ([`migration::up`] under a PostgreSQL advisory lock), [`entity`] |
//! | sealed columns | [`SealedBytes`], [`IndexBytes`], [`SealContext`] (table, column, workspace, row) |
//! | keys | [`DataKeys`] (generate, retire, destroy), [`DbKeySource`], [`DbWorkspaceKeys`] (cached; ward-storage's `WorkspaceKeys`) |
//! | repositories | [`Workspaces`], [`Clients`], [`Sessions`]: plaintext in and out, ciphertext in the database; clients and sessions soft-deleted once they hold no file |
//! | files | [`Attachments`]: the upload pipeline (reserve → sanitise → encrypt → put → verify → commit, compensated on failure), list, download, rename, delete, purge, [`Attachments::reconcile`]; [`UploadLimits`], [`QuotaFigures`] |
//! | rotation | [`KeyRotation`]: [`rewrap_keys`](KeyRotation::rewrap_keys) under the active KEK, [`reseal`](KeyRotation::reseal) rows under the active data key (blind indexes too), [`destroy_unused`](KeyRotation::destroy_unused) retired keys; batched, resumable, several workers at once |
//! | import | [`LegacyImport`] opens the seed application's values ([`LegacyValue`]: raw, `v<N>:` text, JSON parts); [`Clients::import`] and [`Sessions::import`] seal them into ward rows, resumable ([`Imported`]) |
//! | limits | [`RateLimits`]: fixed-window counters in the database, atomic, for every replica |
//! | backups | [`Backups`]: the whole database (SQLite snapshot or `pg_dump`) encrypted under a fresh key wrapped by the KEK into the object store, with a [`BackupManifest`] of the audit heads; create, list, verify (restored into a scratch database), restore |
//! | audit | [`audit::append`], [`audit::verify_chain`], [`Actor`], [`Action`], [`AuditMetadata`] |
//!
//! # Sealed columns
//!
//! Every PHI column holds ward-crypto's field format under the workspace's active data key, with
//! the cell as associated data: `ward/v1/cell:{table}.{column}:{workspace}:{row}`. A value copied
//! into another row, column, table or workspace does not open ([`Error::Unsealable`]). NULL
//! stays NULL. Searchable columns (client name and email) carry a blind index beside them; a
//! search computes the index under each of the workspace's keys still in use, so no row is
//! decrypted to search and rows indexed before a key rotation are still found.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
//! use ward_domain::{Actor, ClientFields, Domain, migration};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let db = ward_domain::connect("sqlite::memory:").await?;
//! migration::up(&db).await?;
//! let ring = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
//! let domain = Domain::new(db, Arc::new(LocalKek::parse(&ring)?), CachePolicy::new());
//!
//! let ws = domain.workspaces().create("Riverside Clinic", None).await?;
//! let nurse = Actor::new("user:42")?;
//! let jane = domain
//!     .clients()
//!     .create(&nurse, ws.id, ClientFields::named("Jane Roe").with_email("jane@example.org"))
//!     .await?;
//! let found = domain.clients().find_by_email(&nurse, ws.id, "Jane@Example.org").await?;
//! assert_eq!(found[0].id, jane.id);
//! assert_eq!(found[0].fields.name, "Jane Roe");
//! assert!(ward_domain::audit::verify_chain(domain.db(), ws.id).await?.is_intact());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attachments;
pub mod audit;
mod backup;
mod cells;
mod clients;
mod clock;
mod db;
pub mod entity;
mod error;
mod import;
mod keys;
pub mod migration;
mod quota;
mod rate_limit;
mod rotation;
mod scan;
mod sealed;
mod sessions;
mod workspaces;

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use ward_crypto::{CachePolicy, KeyEncryptionKey};
use ward_storage::{ObjectStore, RequiredProof};

pub use attachments::{
    Attachment, Attachments, BulkDownload, DEFAULT_RETENTION, FoundDownload, MAX_BULK_BYTES,
    MAX_BULK_FILES, PurgeReport, ReconcileReport,
};
pub use audit::{Action, Actor, AuditMetadata, AuditRecord, ChainBreak, ChainReport};
pub use backup::{
    BackupCheck, BackupEngine, BackupError, BackupListing, BackupManifest, Backups,
    MANIFEST_VERSION, RestoreOptions, WorkspaceHead,
};
pub use clients::{
    Client, ClientFields, Clients, MAX_EMAIL_BYTES, MAX_NAME_CHARS, MAX_NOTES_BYTES,
    MAX_PHONE_CHARS,
};
pub use db::{connect, connect_with};
pub use error::{Error, Result};
pub use import::{
    ImportReport, Imported, LegacyImport, LegacyValue, MAX_IMPORT_LINE_BYTES, MAX_LEGACY_ID_BYTES,
    MAX_LEGACY_VALUE_BYTES, RowFailure,
};
pub use keys::{DataKeys, DbKeySource, DbWorkspaceKeys, KeyInfo, KeyState};
pub use quota::{QuotaFigures, QuotaScope, UploadLimits};
pub use rate_limit::{MAX_SUBJECT_BYTES, RateDecision, RateLimit, RateLimits};
pub use rotation::{
    DEFAULT_BATCH_SIZE, DestroyReport, KeyRotation, KeyUse, Progress, ResealFailure, ResealReport,
    RewrapReport, RotationOptions,
};
pub use scan::{ClamdAddress, ClamdScanner, ScanError, Scanner, Signature, Verdict};
pub use sealed::{IndexBytes, SealContext, SealedBytes};
pub use sessions::{MAX_SOAP_NOTES_BYTES, Session, Sessions, SoapNotes};
pub use workspaces::{DEFAULT_WORKSPACE_QUOTA, Workspace, Workspaces};

pub use sea_orm;
pub use ward_crypto;
pub use ward_sanitize;
pub use ward_storage;
pub use ward_types::{Fault, WorkspaceId};

/// The data layer's handle: the database and the workspace keys, from which the repositories
/// are made. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Domain {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
}

impl Domain {
    /// The data layer over `db` (migrated), with data keys wrapped by `kek` and cached by
    /// `policy`.
    pub fn new(
        db: DatabaseConnection,
        kek: Arc<dyn KeyEncryptionKey>,
        policy: CachePolicy,
    ) -> Self {
        let keys = Arc::new(DbWorkspaceKeys::new(DataKeys::new(db.clone(), kek), policy));
        Self { db, keys }
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Every workspace's data keys (cached); also ward-storage's `WorkspaceKeys`.
    pub fn keys(&self) -> &Arc<DbWorkspaceKeys> {
        &self.keys
    }

    /// Workspaces.
    pub fn workspaces(&self) -> Workspaces {
        Workspaces::new(self.db.clone(), Arc::clone(&self.keys))
    }

    /// Clients.
    pub fn clients(&self) -> Clients {
        Clients::new(self.db.clone(), Arc::clone(&self.keys))
    }

    /// Sessions.
    pub fn sessions(&self) -> Sessions {
        Sessions::new(self.db.clone(), Arc::clone(&self.keys))
    }

    /// Attachments stored in `store`, each put proven encrypted by `proof` (server-side
    /// encryption for S3, the stored ward ciphertext for a store without SSE), with the default
    /// [`UploadLimits`].
    pub fn attachments(&self, store: Arc<dyn ObjectStore>, proof: RequiredProof) -> Attachments {
        Attachments::new(self.db.clone(), Arc::clone(&self.keys), store, proof)
    }

    /// Rate limits counted in the database (every replica sees the same counts).
    pub fn rate_limits(&self) -> RateLimits {
        RateLimits::new(self.db.clone())
    }

    /// Whole-database backups in `store`, each put proven encrypted by `proof`, their keys
    /// wrapped by this domain's KEK ring. On PostgreSQL, give it the database URL
    /// ([`Backups::with_database_url`]).
    pub fn backups(&self, store: Arc<dyn ObjectStore>, proof: RequiredProof) -> Backups {
        Backups::new(
            self.db.clone(),
            Arc::clone(self.keys.data_keys().kek()),
            store,
            proof,
        )
    }

    /// The key-rotation jobs: rewrap data keys, re-seal a workspace's rows, destroy unused keys.
    pub fn rotation(&self) -> KeyRotation {
        KeyRotation::new(self.db.clone(), Arc::clone(&self.keys))
    }
}
