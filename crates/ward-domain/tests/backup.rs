use std::sync::Arc;

use base64::Engine as _;
use sea_orm::{ConnectionTrait as _, DatabaseConnection, EntityTrait as _};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use ward_crypto::{CachePolicy, KeyEncryptionKey, KeyMaterial, LocalKek, WrappedDataKey};
use ward_domain::entity::{attachment, client, session, workspace};
use ward_domain::{
    Actor, BackupError, BackupManifest, Backups, ClientFields, Domain, Error, RestoreOptions,
    WorkspaceId, audit, migration,
};
use ward_storage::{BackupPart, ObjectKey, ObjectStoreExt as _, Owner, RequiredProof};

use crate::attachments::png_with_secret;
use crate::common;
use crate::stores::{self, TestStore};

fn key_b64() -> String {
    KeyMaterial::generate()
        .expect("key")
        .to_base64()
        .as_str()
        .to_owned()
}

/// A database with two workspaces, clients, sessions and attachments in `store`, so every audit
/// chain has events.
async fn populate(domain: &Domain, store: &TestStore) {
    let actor = Actor::new("user:backup-test").unwrap();
    let files = domain.attachments(Arc::clone(&store.store), store.proof.clone());
    for (i, name) in ["North Clinic", "South Clinic"].into_iter().enumerate() {
        let ws = domain.workspaces().create(name, None).await.unwrap();
        let c = domain
            .clients()
            .create(
                &actor,
                ws.id,
                ClientFields::named("Jane Roe").with_email("jane@example.org"),
            )
            .await
            .unwrap();
        let s = domain
            .sessions()
            .create(
                &actor,
                ws.id,
                c.id,
                time::macros::date!(2026 - 12 - 02),
                None,
            )
            .await
            .unwrap();
        files
            .upload(
                &actor,
                ws.id,
                Owner::Session(s.id),
                "wound.png",
                png_with_secret(i as u8).as_slice(),
            )
            .await
            .unwrap();
        files
            .upload(
                &actor,
                ws.id,
                Owner::Client(c.id),
                "consent.png",
                png_with_secret(7 + i as u8).as_slice(),
            )
            .await
            .unwrap();
    }
}

/// The rows a restore must bring back unchanged.
async fn rows(
    db: &DatabaseConnection,
) -> (
    Vec<client::Model>,
    Vec<session::Model>,
    Vec<attachment::Model>,
) {
    let mut c = client::Entity::find().all(db).await.unwrap();
    c.sort_by_key(|r| r.id);
    let mut s = session::Entity::find().all(db).await.unwrap();
    s.sort_by_key(|r| r.id);
    let mut a = attachment::Entity::find().all(db).await.unwrap();
    a.sort_by_key(|r| r.id);
    (c, s, a)
}

async fn assert_chains_intact(db: &DatabaseConnection) -> usize {
    let all = workspace::Entity::find().all(db).await.unwrap();
    for ws in &all {
        let report = audit::verify_chain(db, WorkspaceId::from(ws.id))
            .await
            .unwrap();
        assert!(report.is_intact(), "{:?}", report.first_break);
        assert!(report.events > 0);
    }
    all.len()
}

/// The live database of a backup test, on SQLite or on a fresh PostgreSQL database.
struct Live {
    url: String,
    db: DatabaseConnection,
    dir: tempfile::TempDir,
    pg: Option<PgDatabase>,
}

/// A whole PostgreSQL database made for one test (pg_dump dumps databases, not schemas),
/// dropped by [`PgDatabase::drop_now`].
struct PgDatabase {
    admin: DatabaseConnection,
    names: Vec<String>,
    base: String,
}

impl PgDatabase {
    async fn connect() -> Option<Self> {
        let base = common::postgres_url();
        match ward_domain::connect_with(&base, 2).await {
            Ok(admin) => Some(Self {
                admin,
                names: Vec::new(),
                base,
            }),
            Err(e) => {
                let why = format!("PostgreSQL does not answer ({e})");
                assert!(
                    std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
                    "WARD_TEST_INTEGRATION is set and {why}"
                );
                eprintln!("skipping PostgreSQL backups: {why}");
                None
            }
        }
    }

    /// A new empty database; its URL.
    async fn create(&mut self) -> String {
        let name = format!("ward_bt_{}", Uuid::new_v4().simple());
        self.admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create a test database");
        let mut url = url::Url::parse(&self.base).unwrap();
        url.set_path(&format!("/{name}"));
        self.names.push(name);
        url.into()
    }

    async fn drop_now(self) {
        for name in &self.names {
            self.admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await
                .expect("drop a test database");
        }
    }
}

impl Live {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("live.db").display());
        let db = ward_domain::connect(&url).await.unwrap();
        migration::up(&db).await.unwrap();
        Self {
            url,
            db,
            dir,
            pg: None,
        }
    }

    async fn postgres() -> Option<Self> {
        let mut pg = PgDatabase::connect().await?;
        let url = pg.create().await;
        let db = ward_domain::connect(&url).await.unwrap();
        migration::up(&db).await.unwrap();
        Some(Self {
            url,
            db,
            dir: tempfile::tempdir().unwrap(),
            pg: Some(pg),
        })
    }

    async fn all() -> Vec<Self> {
        let mut out = vec![Self::sqlite().await];
        out.extend(Self::postgres().await);
        out
    }

    /// A URL for a new, empty restore target.
    async fn target(&mut self) -> String {
        match &mut self.pg {
            Some(pg) => pg.create().await,
            None => format!(
                "sqlite://{}",
                self.dir
                    .path()
                    .join(format!("restored-{}.db", Uuid::new_v4().simple()))
                    .display()
            ),
        }
    }

    fn backups(&self, kek: Arc<dyn KeyEncryptionKey>, store: &TestStore) -> Backups {
        Backups::new(
            self.db.clone(),
            kek,
            Arc::clone(&store.store),
            store.proof.clone(),
        )
        .with_database_url(&self.url)
        .with_scratch_dir(self.dir.path())
    }

    async fn cleanup(self) {
        self.db.close().await.ok();
        if let Some(pg) = self.pg {
            pg.drop_now().await;
        }
        // No scratch directory is left behind.
        let left: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("ward-backup-"))
            .collect();
        assert!(left.is_empty(), "scratch left behind: {left:?}");
    }
}

fn kek_v1() -> (String, Arc<LocalKek>) {
    let ring = format!("1:{}:active", key_b64());
    let kek = Arc::new(LocalKek::parse(&ring).unwrap());
    (ring, kek)
}

#[tokio::test]
async fn a_backup_round_trips_with_identical_rows_and_intact_audit_chains() {
    for mut live in Live::all().await {
        // One ring for the live database: each store's pass adds workspaces to it.
        let (_, kek) = kek_v1();
        for store in stores::all().await {
            let domain = Domain::new(live.db.clone(), kek.clone(), CachePolicy::new());
            populate(&domain, &store).await;
            let backups = live.backups(kek.clone(), &store);
            let manifest = backups.create().await.unwrap();
            // Two workspaces per store populated so far.
            let expected = workspace::Entity::find().all(&live.db).await.unwrap().len();
            assert!(expected >= 2);
            assert_eq!(manifest.workspaces.len(), expected);
            assert!(manifest.workspaces.iter().all(|w| w.audit_seq > 0));
            assert!(!manifest.migrations.is_empty());
            let before = rows(&live.db).await;

            // Both objects are stored, the dump is ciphertext: the patient's name is nowhere.
            let dump = store
                .store
                .get(&ObjectKey::backup(manifest.backup_id, BackupPart::Database))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(dump.len() as u64, manifest.stored_size);
            assert!(!dump.windows(8).any(|w| w == b"Jane Roe"));
            let listed = backups.list().await.unwrap();
            let found = listed
                .iter()
                .find(|l| l.id == manifest.backup_id)
                .expect("listed");
            assert_eq!(found.manifest.as_ref(), Some(&manifest));
            assert_eq!(found.problem, None);

            let checked = backups.verify(manifest.backup_id).await.unwrap();
            assert_eq!(checked.workspaces, expected);
            assert!(checked.audit_events > 0);
            assert_eq!(checked.plaintext_size, manifest.plaintext_size);

            let target = live.target().await;
            let restored = backups
                .restore(manifest.backup_id, &target, &RestoreOptions::new())
                .await
                .unwrap();
            assert_eq!(restored.workspaces, expected);
            let restored_db = ward_domain::connect(&target).await.unwrap();
            assert_eq!(rows(&restored_db).await, before, "{}", store.name);
            assert_eq!(assert_chains_intact(&restored_db).await, expected);
            // The restored rows open under the same KEK ring.
            let restored_domain = Domain::new(restored_db.clone(), kek.clone(), CachePolicy::new());
            let (clients, _, _) = before;
            let c = restored_domain
                .clients()
                .get(
                    &Actor::new("user:check").unwrap(),
                    WorkspaceId::from(clients[0].workspace_id),
                    clients[0].id,
                )
                .await
                .unwrap();
            assert_eq!(c.fields.name, "Jane Roe");

            // A target that is not empty is refused (and so is the live database).
            let again = backups
                .restore(manifest.backup_id, &target, &RestoreOptions::new())
                .await
                .unwrap_err();
            assert!(
                matches!(
                    again,
                    Error::Backup(BackupError::TargetNotEmpty | BackupError::TargetExists { .. })
                ),
                "{again:?}"
            );
            restored_db.close().await.ok();
            // Asked explicitly, the target's contents are replaced, and checked again.
            let replaced = backups
                .restore(
                    manifest.backup_id,
                    &target,
                    &RestoreOptions::new().with_replace(true),
                )
                .await
                .unwrap();
            assert_eq!(replaced.workspaces, expected);
            let replaced_db = ward_domain::connect(&target).await.unwrap();
            assert_eq!(assert_chains_intact(&replaced_db).await, expected);
            replaced_db.close().await.ok();
            let live_err = backups
                .restore(
                    manifest.backup_id,
                    &live.url,
                    &RestoreOptions::new().with_replace(true),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(live_err, Error::Backup(BackupError::TargetIsLive)),
                "{live_err:?}"
            );
        }
        live.cleanup().await;
    }
}

#[tokio::test]
async fn a_flipped_byte_in_the_stored_dump_fails_verification() {
    for live in Live::all().await {
        for store in stores::all().await {
            let (_, kek) = kek_v1();
            let domain = Domain::new(live.db.clone(), kek.clone(), CachePolicy::new());
            populate(&domain, &store).await;
            let backups = live.backups(kek.clone(), &store);
            let manifest = backups.create().await.unwrap();
            let key = ObjectKey::backup(manifest.backup_id, BackupPart::Database);
            let mut bytes = store
                .store
                .get(&key)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x01;
            store.store.put(&key, bytes.into()).await.unwrap();
            let err = backups.verify(manifest.backup_id).await.unwrap_err();
            assert!(matches!(err, Error::Crypto(_)), "{}: {err:?}", store.name);
        }
        live.cleanup().await;
    }
}

/// The stored manifest's JSON and the backup's data key, unwrapped as ward does.
async fn open_manifest(
    store: &TestStore,
    kek: &LocalKek,
    id: Uuid,
) -> (serde_json::Value, ward_crypto::DataKey) {
    let key = ObjectKey::backup(id, BackupPart::Manifest);
    let bytes = store.store.get(&key).await.unwrap().bytes().await.unwrap();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let manifest: BackupManifest = serde_json::from_value(value["manifest"].clone()).unwrap();
    let wrapped = WrappedDataKey::from_bytes(
        base64::engine::general_purpose::STANDARD
            .decode(value["wrapped_key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let dek = kek
        .unwrap(&wrapped, &context(&manifest))
        .await
        .expect("the documented wrap context");
    (value, dek)
}

/// The wrap context the module docs give: `ward/v1/backup:{id}:{sha256 of the manifest JSON}`.
fn context(manifest: &BackupManifest) -> Vec<u8> {
    let digest = Sha256::digest(serde_json::to_vec(manifest).unwrap());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("ward/v1/backup:{}:{hex}", manifest.backup_id).into_bytes()
}

#[tokio::test]
async fn a_manifest_whose_audit_head_disagrees_fails_verification() {
    for live in Live::all().await {
        let store = stores::local();
        let (_, kek) = kek_v1();
        let domain = Domain::new(live.db.clone(), kek.clone(), CachePolicy::new());
        populate(&domain, &store).await;
        let backups = live.backups(kek.clone(), &store);
        let made = backups.create().await.unwrap();
        let key = ObjectKey::backup(made.backup_id, BackupPart::Manifest);
        let (original, dek) = open_manifest(&store, &kek, made.backup_id).await;

        // Edited in place: the key no longer unwraps, the manifest is refused.
        let mut edited = original.clone();
        edited["manifest"]["workspaces"][0]["audit_head"] = serde_json::json!("00".repeat(32));
        store
            .store
            .put(&key, serde_json::to_vec(&edited).unwrap().into())
            .await
            .unwrap();
        let err = backups.verify(made.backup_id).await.unwrap_err();
        assert!(
            matches!(err, Error::Backup(BackupError::ManifestNotAuthentic)),
            "{err:?}"
        );

        // Even re-sealed by someone holding the KEK, a head the dump does not end at fails the
        // check in the restored database.
        let mut manifest: BackupManifest =
            serde_json::from_value(original["manifest"].clone()).unwrap();
        manifest.workspaces[0].audit_head = "00".repeat(32);
        let wrapped = kek.wrap(&dek, &context(&manifest)).await.unwrap();
        let mut resealed = original.clone();
        resealed["manifest"] = serde_json::to_value(&manifest).unwrap();
        resealed["wrapped_key"] =
            serde_json::json!(base64::engine::general_purpose::STANDARD.encode(wrapped.as_bytes()));
        store
            .store
            .put(&key, serde_json::to_vec(&resealed).unwrap().into())
            .await
            .unwrap();
        let err = backups.verify(made.backup_id).await.unwrap_err();
        assert!(
            matches!(err, Error::Backup(BackupError::AuditChain { workspace, .. }) if workspace == manifest.workspaces[0].id),
            "{err:?}"
        );

        // The untouched manifest verifies again.
        store
            .store
            .put(&key, serde_json::to_vec(&original).unwrap().into())
            .await
            .unwrap();
        backups.verify(made.backup_id).await.unwrap();
        live.cleanup().await;
    }
}

#[tokio::test]
async fn a_backup_made_under_kek_v1_restores_after_v2_becomes_active() {
    for mut live in Live::all().await {
        let store = stores::local();
        let v1 = key_b64();
        let ring1 = Arc::new(LocalKek::parse(&format!("1:{v1}:active")).unwrap());
        let domain = Domain::new(live.db.clone(), ring1.clone(), CachePolicy::new());
        populate(&domain, &store).await;
        let made = live.backups(ring1, &store).create().await.unwrap();
        assert_eq!(made.kek_version, 1);

        let ring2 = Arc::new(LocalKek::parse(&format!("1:{v1}\n2:{}:active", key_b64())).unwrap());
        let backups = live.backups(ring2.clone(), &store);
        backups.verify(made.backup_id).await.unwrap();
        let target = live.target().await;
        backups
            .restore(made.backup_id, &target, &RestoreOptions::new())
            .await
            .unwrap();
        // New backups are wrapped under v2; a ring without v1 cannot open the old one.
        assert_eq!(backups.create().await.unwrap().kek_version, 2);
        let only_v2 = Arc::new(LocalKek::parse(&format!("2:{}:active", key_b64())).unwrap());
        let err = live
            .backups(only_v2, &store)
            .verify(made.backup_id)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Crypto(_)), "{err:?}");
        live.cleanup().await;
    }
}

#[tokio::test]
async fn the_reconciler_sweep_never_deletes_a_backup() {
    for live in Live::all().await {
        for store in stores::all().await {
            let (_, kek) = kek_v1();
            let domain = Domain::new(live.db.clone(), kek.clone(), CachePolicy::new());
            populate(&domain, &store).await;
            let backups = live.backups(kek.clone(), &store);
            let made = backups.create().await.unwrap();
            let files = domain.attachments(Arc::clone(&store.store), store.proof.clone());
            files
                .reconcile(
                    time::OffsetDateTime::now_utc() + time::Duration::days(1),
                    true,
                )
                .await
                .unwrap();
            for part in BackupPart::ALL {
                store
                    .store
                    .head(&ObjectKey::backup(made.backup_id, part))
                    .await
                    .unwrap_or_else(|e| panic!("{}: {part:?} swept: {e}", store.name));
            }
            backups.verify(made.backup_id).await.unwrap();
        }
        live.cleanup().await;
    }
}

#[tokio::test]
async fn a_create_that_cannot_be_proven_encrypted_leaves_nothing() {
    let live = Live::sqlite().await;
    let store = stores::local();
    let (_, kek) = kek_v1();
    // A store without SSE, asked for the server-side proof: the dump's proof fails.
    let backups = Backups::new(
        live.db.clone(),
        kek,
        Arc::clone(&store.store),
        RequiredProof::ServerSide(ward_storage::SsePolicy::S3Managed),
    )
    .with_scratch_dir(live.dir.path());
    let err = backups.create().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Storage(ward_storage::Error::EncryptionVerification { .. })
        ),
        "{err:?}"
    );
    assert!(backups.list().await.unwrap().is_empty());
    live.cleanup().await;
    drop(store);
}

#[tokio::test]
async fn unknown_backups_and_missing_manifests_are_named() {
    let live = Live::sqlite().await;
    let store = stores::local();
    let (_, kek) = kek_v1();
    let backups = live.backups(kek, &store);
    let err = backups.verify(Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    // A dump without its manifest (a create that died half-way) is listed as unusable.
    let made = backups.create().await.unwrap();
    store
        .store
        .delete(&ObjectKey::backup(made.backup_id, BackupPart::Manifest))
        .await
        .unwrap();
    let listed = backups.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].manifest.is_none());
    assert!(listed[0].problem.is_some());
    live.cleanup().await;
}

#[tokio::test]
async fn a_failed_pg_dump_is_named_without_the_password_and_leaves_nothing() {
    let Some(live) = Live::postgres().await else {
        return;
    };
    let store = stores::local();
    let (_, kek) = kek_v1();
    // The live connection is fine; the URL handed to pg_dump names a database that does not
    // exist, with a password that must never be shown.
    let mut url = url::Url::parse(&live.url).unwrap();
    url.set_password(Some("canary-s3cret")).unwrap();
    url.set_path(&format!("/ward_missing_{}", Uuid::new_v4().simple()));
    let backups = Backups::new(
        live.db.clone(),
        kek,
        Arc::clone(&store.store),
        store.proof.clone(),
    )
    .with_database_url(url.as_str())
    .with_scratch_dir(live.dir.path());
    assert!(!format!("{backups:?}").contains("canary-s3cret"));
    let err = backups.create().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Backup(BackupError::ToolFailed {
                tool: "pg_dump",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("canary-s3cret"));
    assert!(!format!("{err:?}").contains("canary-s3cret"));
    assert!(backups.list().await.unwrap().is_empty());
    live.cleanup().await;
}
