use std::collections::BTreeSet;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use image::{ImageFormat, Rgb, RgbImage};
use sea_orm::{ConnectionTrait as _, DbBackend, EntityTrait as _, PaginatorTrait as _};
use time::macros::date;
use uuid::Uuid;
use ward_domain::entity::{attachment, audit_event, client, session, upload_intent, workspace};
use ward_domain::{Actor, Attachments, ClientFields, Error, QuotaScope, UploadLimits, WorkspaceId};
use ward_storage::{KeyPrefix, ObjectStoreExt as _, Owner};

use crate::common::Fixture;
use crate::stores::{self, TestStore, set};

/// Text planted in the upload's metadata; no stored byte and no output may contain it.
const SECRET: &[u8] = b"JANE-ROE-SECRET";

/// A small PNG with a text chunk holding [`SECRET`]; `seed` varies the pixels.
pub(crate) fn png_with_secret(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(24, 16, |x, y| Rgb([seed, x as u8 * 9, y as u8 * 13]));
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let mut text = b"Comment\0".to_vec();
    text.extend_from_slice(SECRET);
    let mut chunk = (text.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(b"tEXt");
    chunk.extend_from_slice(&text);
    let crc = crc32fast::hash(&chunk[4..]);
    chunk.extend_from_slice(&crc.to_be_bytes());
    let mut out = png[..33].to_vec();
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&png[33..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A client and one of its sessions.
pub(crate) async fn owners(f: &Fixture) -> (Uuid, Uuid) {
    let c = f
        .domain
        .clients()
        .create(&f.actor, f.ws.id, ClientFields::named("Jane Roe"))
        .await
        .unwrap();
    let s = f
        .domain
        .sessions()
        .create(&f.actor, f.ws.id, c.id, date!(2026 - 12 - 02), None)
        .await
        .unwrap();
    (c.id, s.id)
}

/// The invariants after any failure (and the reconciler): usage equals the live sizes plus the
/// reservations of uploads in flight, on every workspace, client and session; every object has
/// a row or an intent; every unpurged row has its object.
pub(crate) async fn assert_consistent(f: &Fixture, store: &TestStore) {
    let db = f.db();
    let rows = attachment::Entity::find().all(db).await.unwrap();
    let intents = upload_intent::Entity::find().all(db).await.unwrap();
    let live = |pick: &dyn Fn(&attachment::Model) -> bool,
                pick_i: &dyn Fn(&upload_intent::Model) -> bool| {
        rows.iter()
            .filter(|r| r.deleted_at.is_none() && pick(r))
            .map(|r| r.size_bytes)
            .sum::<i64>()
            + intents
                .iter()
                .filter(|i| pick_i(i))
                .map(|i| i.reserved_bytes)
                .sum::<i64>()
    };
    for ws in workspace::Entity::find().all(db).await.unwrap() {
        assert_eq!(
            ws.used_bytes,
            live(&|r| r.workspace_id == ws.id, &|i| i.workspace_id == ws.id),
            "workspace usage on {}",
            store.name
        );
    }
    for c in client::Entity::find().all(db).await.unwrap() {
        assert_eq!(
            c.used_bytes,
            live(&|r| r.client_id == c.id, &|i| i.client_id == c.id)
        );
    }
    for s in session::Entity::find().all(db).await.unwrap() {
        assert_eq!(
            s.used_bytes,
            live(&|r| r.session_id == Some(s.id), &|i| i.session_id
                == Some(s.id))
        );
    }
    let stored: BTreeSet<String> = store
        .store
        .list(&KeyPrefix::all())
        .map(|m| m.unwrap().key.as_str().to_owned())
        .collect()
        .await;
    let expected: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.purged_at.is_none())
        .map(|r| r.object_key.clone())
        .chain(intents.iter().map(|i| i.object_key.clone()))
        .collect();
    assert_eq!(stored, expected, "objects vs rows on {}", store.name);
}

/// Uploads the PNG of `seed` as `name`.
async fn put(
    files: &Attachments,
    actor: &Actor,
    ws: WorkspaceId,
    owner: Owner,
    name: impl AsRef<str>,
    seed: u8,
) -> ward_domain::Result<ward_domain::Attachment> {
    files
        .upload(
            actor,
            ws,
            owner,
            name.as_ref(),
            png_with_secret(seed).as_slice(),
        )
        .await
}

/// A time after every soft delete of a test.
fn far_future() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(1)
}

pub(crate) fn attachments(f: &Fixture, store: &TestStore) -> Attachments {
    f.domain
        .attachments(Arc::clone(&store.store), store.proof.clone())
}

#[tokio::test]
async fn an_upload_is_sanitised_encrypted_proven_listed_and_read_back() {
    for f in Fixture::all().await {
        for store in stores::all().await {
            let (client_id, session_id) = owners(&f).await;
            let files = attachments(&f, &store);
            let png = png_with_secret(1);
            let up = files
                .upload(
                    &f.actor,
                    f.ws.id,
                    Owner::Session(session_id),
                    "../wound photo.PNG",
                    png.as_slice(),
                )
                .await
                .unwrap();
            assert_eq!(up.display_name, "wound photo.PNG");
            assert_eq!(up.kind, ward_storage::FileKind::Png);
            assert_eq!((up.client_id, up.session_id), (client_id, Some(session_id)));
            assert!(up.size_bytes < png.len() as u64, "the text chunk is gone");

            // The store holds ciphertext only; the database holds no name in clear.
            let key = attachment::Entity::find_by_id(up.id)
                .one(f.db())
                .await
                .unwrap()
                .unwrap();
            let raw = store
                .store
                .get(&key.object_key.parse().unwrap())
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(raw.starts_with(b"WARDSTRM"));
            assert!(!contains(&raw, b"IHDR") && !contains(&raw, SECRET));
            assert!(!contains(&key.display_name.0, b"wound"));

            let (meta, body) = files
                .download(&f.actor, f.ws.id, up.id, None)
                .await
                .unwrap();
            let bytes = body.bytes().await.unwrap();
            assert_eq!(meta, up);
            assert_eq!(bytes.len() as u64, up.size_bytes);
            assert!(bytes.starts_with(b"\x89PNG") && !contains(&bytes, SECRET));
            let (_, part) = files
                .download(&f.actor, f.ws.id, up.id, Some(1..4))
                .await
                .unwrap();
            assert_eq!(part.bytes().await.unwrap(), "PNG");
            // In two halves: finding the file reads no bytes and records nothing; the read is
            // audited; another workspace's id is not found.
            let events = audit_event::Entity::find().count(f.db()).await.unwrap();
            let found = files.find_download(f.ws.id, up.id).await.unwrap();
            assert_eq!(found.attachment(), &up);
            assert_eq!(
                audit_event::Entity::find().count(f.db()).await.unwrap(),
                events
            );
            let (meta, part) = files
                .download_found(&f.actor, found, Some(4..8))
                .await
                .unwrap();
            assert_eq!(meta, up);
            assert_eq!(part.bytes().await.unwrap(), &bytes[4..8]);
            assert_eq!(
                audit_event::Entity::find().count(f.db()).await.unwrap(),
                events + 1
            );
            let stranger = f
                .domain
                .workspaces()
                .create("Stranger", None)
                .await
                .unwrap();
            assert!(matches!(
                files.find_download(stranger.id, up.id).await,
                Err(Error::NotFound { .. })
            ));

            let listed = files
                .list(&f.actor, f.ws.id, Owner::Session(session_id))
                .await
                .unwrap();
            assert_eq!(listed, vec![up.clone()]);
            assert_eq!(
                files
                    .list(&f.actor, f.ws.id, Owner::Client(client_id))
                    .await
                    .unwrap()
                    .len(),
                1
            );
            let ws = f.domain.workspaces().get(f.ws.id).await.unwrap();
            assert_eq!(ws.used_bytes, up.size_bytes);
            assert_consistent(&f, &store).await;
            // Leave nothing for the next store's checks.
            files.delete(&f.actor, f.ws.id, up.id).await.unwrap();
            files.purge(far_future()).await.unwrap();
            assert_consistent(&f, &store).await;
        }
        f.cleanup_checking_audit().await;
    }
}

#[tokio::test]
async fn limits_and_quotas_refuse_with_figures_in_mb() {
    for f in Fixture::all().await {
        let store = stores::local();
        let (client_id, session_id) = owners(&f).await;
        let size = {
            let files = attachments(&f, &store);
            let up = put(
                &files,
                &f.actor,
                f.ws.id,
                Owner::Client(client_id),
                "a.png",
                1,
            )
            .await
            .unwrap();
            files.delete(&f.actor, f.ws.id, up.id).await.unwrap();
            up.size_bytes
        };

        // Per file: the read stops just past the limit.
        let files =
            attachments(&f, &store).with_limits(UploadLimits::new().with_max_file_bytes(1000));
        let big = vec![0_u8; 5000];
        let err = files
            .upload(
                &f.actor,
                f.ws.id,
                Owner::Client(client_id),
                "big.png",
                big.as_slice(),
            )
            .await
            .unwrap_err();
        match &err {
            Error::QuotaExceeded(q) => {
                assert_eq!(q.scope, QuotaScope::File);
                assert_eq!(
                    q.file_bytes, 1001,
                    "reading stopped one byte past the limit"
                );
            }
            other => panic!("{other}"),
        }

        // A file already in memory is refused whole, with its own size, before anything else
        // (no owner lookup, no reservation).
        let err = files
            .upload_bytes(
                &f.actor,
                f.ws.id,
                Owner::Client(Uuid::new_v4()),
                "big.png",
                big.clone(),
            )
            .await
            .unwrap_err();
        match &err {
            Error::QuotaExceeded(q) => {
                assert_eq!(q.scope, QuotaScope::File);
                assert_eq!((q.file_bytes, q.quota_bytes), (5000, 1000));
            }
            other => panic!("{other}"),
        }

        // Per session, then per client: room for exactly two files each.
        let limits = UploadLimits::new()
            .with_max_session_bytes(2 * size + size / 2)
            .with_max_client_bytes(4 * size + size / 2);
        let files = attachments(&f, &store).with_limits(limits);
        for i in 0..2 {
            put(
                &files,
                &f.actor,
                f.ws.id,
                Owner::Session(session_id),
                &format!("s{i}.png"),
                1,
            )
            .await
            .unwrap();
        }
        let err = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Session(session_id),
            "s2.png",
            1,
        )
        .await
        .unwrap_err();
        let Error::QuotaExceeded(q) = &err else {
            panic!("{err}")
        };
        assert_eq!(
            (q.scope, q.used_bytes, q.file_bytes),
            (QuotaScope::Session, 2 * size, size)
        );
        assert_eq!(q.overage_bytes(), size / 2 + size % 2);
        let text = err.to_string();
        assert!(
            text.starts_with("session storage quota exceeded:"),
            "{text}"
        );
        assert!(
            text.contains(" MB used of ") && text.contains(" MB over"),
            "{text}"
        );
        for i in 0..2 {
            put(
                &files,
                &f.actor,
                f.ws.id,
                Owner::Client(client_id),
                &format!("c{i}.png"),
                1,
            )
            .await
            .unwrap();
        }
        let err = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Client(client_id),
            "c2.png",
            1,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, Error::QuotaExceeded(q) if q.scope == QuotaScope::Client),
            "{err}"
        );

        // The workspace's own quota.
        let small = f
            .domain
            .workspaces()
            .create("Small", Some(size + size / 2))
            .await
            .unwrap();
        let c = f
            .domain
            .clients()
            .create(&f.actor, small.id, ClientFields::named("A"))
            .await
            .unwrap();
        put(&files, &f.actor, small.id, Owner::Client(c.id), "1.png", 1)
            .await
            .unwrap();
        let err = put(&files, &f.actor, small.id, Owner::Client(c.id), "2.png", 1)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::QuotaExceeded(q) if q.scope == QuotaScope::Workspace),
            "{err}"
        );
        assert_consistent(&f, &store).await;
        f.cleanup().await;
    }
}

/// Uploads racing for one workspace's quota: exactly the ones that fit succeed.
#[tokio::test]
async fn concurrent_reservations_admit_exactly_what_fits() {
    for f in Fixture::all().await {
        let store = stores::local();
        let probe = Owner::Client(owners(&f).await.0);
        let size = put(
            &attachments(&f, &store),
            &f.actor,
            f.ws.id,
            probe,
            "probe.png",
            1,
        )
        .await
        .unwrap()
        .size_bytes;
        let ws = f
            .domain
            .workspaces()
            .create("Race", Some(5 * size + size / 2))
            .await
            .unwrap();
        let c = f
            .domain
            .clients()
            .create(&f.actor, ws.id, ClientFields::named("A"))
            .await
            .unwrap();
        let files = attachments(&f, &store);
        let mut tasks = Vec::new();
        for i in 0..12 {
            let files = files.clone();
            let actor = f.actor.clone();
            tasks.push(tokio::spawn(async move {
                put(
                    &files,
                    &actor,
                    ws.id,
                    Owner::Client(c.id),
                    format!("f{i}.png"),
                    1,
                )
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(Error::QuotaExceeded(q)) => assert_eq!(q.scope, QuotaScope::Workspace),
                Err(e) => panic!("{:?}: {e}", f.backend()),
            }
        }
        assert_eq!(ok, 5, "{:?}", f.backend());
        assert_eq!(
            f.domain.workspaces().get(ws.id).await.unwrap().used_bytes,
            5 * size
        );
        assert_consistent(&f, &store).await;
        f.cleanup().await;
    }
}

#[tokio::test]
async fn names_are_unique_among_live_files_and_delete_releases_then_purge_removes() {
    for f in Fixture::all().await {
        let store = stores::local();
        let (client_id, session_id) = owners(&f).await;
        let files = attachments(&f, &store);
        let a = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Session(session_id),
            "Consent.png",
            1,
        )
        .await
        .unwrap();
        // Same name in another spelling, even under another owner of the same client.
        let err = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Client(client_id),
            "  consent.PNG",
            2,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        let b = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Client(client_id),
            "other.png",
            2,
        )
        .await
        .unwrap();
        let err = files
            .rename(&f.actor, f.ws.id, b.id, "CONSENT.png")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        let renamed = files
            .rename(&f.actor, f.ws.id, b.id, "x-ray/knee.jpg")
            .await
            .unwrap();
        assert_eq!(
            renamed.display_name, "knee.jpg.png",
            "the file's own extension is kept"
        );

        files.delete(&f.actor, f.ws.id, a.id).await.unwrap();
        assert!(matches!(
            files.download(&f.actor, f.ws.id, a.id, None).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            files.delete(&f.actor, f.ws.id, a.id).await,
            Err(Error::NotFound { .. })
        ));
        assert_eq!(
            f.domain.workspaces().get(f.ws.id).await.unwrap().used_bytes,
            renamed.size_bytes,
            "deleting released the quota"
        );
        // The name is free again once the other file is deleted.
        put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Session(session_id),
            "consent.png",
            3,
        )
        .await
        .unwrap();
        assert_consistent(&f, &store).await;

        let purged = files.purge(far_future()).await.unwrap();
        assert_eq!(purged.purged, 1);
        assert_consistent(&f, &store).await;

        // Another workspace's ids are not found.
        let other = f.domain.workspaces().create("Other", None).await.unwrap();
        assert!(matches!(
            files.download(&f.actor, other.id, b.id, None).await,
            Err(Error::NotFound { .. })
        ));
        assert!(matches!(
            put(
                &files,
                &f.actor,
                other.id,
                Owner::Client(client_id),
                "z.png",
                4
            )
            .await,
            Err(Error::NotFound {
                resource: "client",
                ..
            })
        ));
        f.cleanup_checking_audit().await;
    }
}

/// A failure at each step of the pipeline leaves nothing behind once the reconciler has run:
/// no orphan object, no row without its object, usage equal to the live sizes.
#[tokio::test]
async fn a_failure_at_any_step_leaves_nothing_behind() {
    for f in Fixture::all().await {
        for base in stores::all().await {
            let (store, faults) = stores::faulty(base);
            let (client_id, _) = owners(&f).await;
            let files = attachments(&f, &store)
                .with_limits(UploadLimits::new().with_upload_deadline(Duration::from_secs(60)));
            let upload = |name: &'static str| {
                let files = files.clone();
                let actor = f.actor.clone();
                let ws = f.ws.id;
                async move { put(&files, &actor, ws, Owner::Client(client_id), name, 5).await }
            };

            // The put fails.
            set(&faults.fail_put, true);
            assert!(upload("put.png").await.is_err());
            set(&faults.fail_put, false);
            assert_consistent(&f, &store).await;

            // The proof fails (the head after the put): the store deletes, compensation releases.
            set(&faults.fail_head, true);
            assert!(matches!(upload("verify.png").await, Err(Error::Storage(_))));
            set(&faults.fail_head, false);
            assert_consistent(&f, &store).await;
            assert!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .is_empty()
            );

            // The proof fails and every delete fails too (the store's fail-closed delete and the
            // compensation's): the object and the intent stay for the reconciler.
            set(&faults.fail_delete, true);
            set(&faults.fail_head, true);
            assert!(upload("both.png").await.is_err());
            set(&faults.fail_head, false);
            set(&faults.fail_delete, false);
            assert_eq!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_consistent(&f, &store).await;

            // The finalise transaction fails at COMMIT (PostgreSQL; on SQLite at the insert) and
            // the compensation's delete fails as well: the object and intent wait for the
            // reconciler. Then with the delete working, compensation cleans up by itself.
            let fix = break_finalise(&f).await;
            set(&faults.fail_delete, true);
            let err = upload("commit.png").await.unwrap_err();
            assert!(matches!(err, Error::Database(_)), "{err}");
            set(&faults.fail_delete, false);
            assert_eq!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .len(),
                2
            );
            assert_consistent(&f, &store).await;
            assert!(upload("commit2.png").await.is_err());
            assert_eq!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .len(),
                2
            );
            assert_consistent(&f, &store).await;
            f.db().execute_unprepared(fix).await.unwrap();

            // A crash after the put: the future is dropped mid-upload.
            set(&faults.hang_after_put, true);
            let dropped =
                tokio::time::timeout(Duration::from_millis(500), upload("crash.png")).await;
            assert!(dropped.is_err(), "the upload was cut off");
            set(&faults.hang_after_put, false);
            assert_eq!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .len(),
                3
            );
            assert_consistent(&f, &store).await;

            // Before the deadline the reconciler leaves uploads in flight alone; after it, it
            // resolves them.
            let early = files
                .reconcile(time::OffsetDateTime::now_utc(), false)
                .await
                .unwrap();
            assert_eq!(early.intents_resolved, 0);
            let late = files
                .reconcile(
                    time::OffsetDateTime::now_utc() + time::Duration::minutes(2),
                    true,
                )
                .await
                .unwrap();
            assert_eq!(late.intents_resolved, 3, "{}", store.name);
            assert!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert_consistent(&f, &store).await;
            assert_eq!(
                client::Entity::find_by_id(client_id)
                    .one(f.db())
                    .await
                    .unwrap()
                    .unwrap()
                    .used_bytes,
                0
            );

            // An upload still works afterwards, and the sweep deletes an object nobody recorded.
            let ok = upload("fine.png").await.unwrap();
            let stray = ward_storage::ObjectKey::new(
                f.ws.id.as_uuid(),
                Owner::Client(client_id),
                Uuid::new_v4(),
                ward_storage::FileKind::Png,
            );
            store
                .store
                .put(&stray, bytes::Bytes::from_static(b"stray"))
                .await
                .unwrap();
            let swept = files
                .reconcile(time::OffsetDateTime::now_utc(), true)
                .await
                .unwrap();
            assert_eq!(swept.orphans_deleted, 1);
            assert_consistent(&f, &store).await;
            files.delete(&f.actor, f.ws.id, ok.id).await.unwrap();
            files.purge(far_future()).await.unwrap();
        }
        f.cleanup().await;
    }
}

#[tokio::test]
async fn refused_files_name_the_rule_and_store_nothing() {
    for f in Fixture::all().await {
        let store = stores::local();
        let (client_id, _) = owners(&f).await;
        let files = attachments(&f, &store);
        // A PNG named .pdf: extension and content disagree.
        let err = put(
            &files,
            &f.actor,
            f.ws.id,
            Owner::Client(client_id),
            "scan.pdf",
            1,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Sanitize(_)), "{err}");
        assert!(!err.to_string().contains("JANE"), "{err}");
        assert_consistent(&f, &store).await;
        f.cleanup().await;
    }
}

fn small_jpeg() -> Vec<u8> {
    let img = RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8 * 3, y as u8 * 5, 90]));
    let mut jpeg = Vec::new();
    img.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
        .unwrap();
    jpeg
}

/// A JPEG whose structure strips cleanly but whose scan data holds 64 one-bits, which form no
/// Huffman code: only the content check, which runs while the bytes are stored, refuses it.
fn jpeg_failing_its_content_check() -> Vec<u8> {
    let mut jpeg = small_jpeg();
    let sos = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let start = sos + 2 + usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
    let at = (start + 40..jpeg.len())
        .find(|&at| jpeg[at - 1] != 0xFF && jpeg[at] != 0xFF)
        .unwrap();
    jpeg.splice(at..=at, [0xFF, 0x00].repeat(8));
    jpeg
}

#[tokio::test]
async fn a_file_the_content_check_refuses_while_it_is_stored_leaves_nothing() {
    let bad = jpeg_failing_its_content_check();
    for f in Fixture::all().await {
        for store in stores::all().await {
            let (client_id, _) = owners(&f).await;
            let files = attachments(&f, &store);
            let err = files
                .upload(
                    &f.actor,
                    f.ws.id,
                    Owner::Client(client_id),
                    "wound.jpg",
                    bad.as_slice(),
                )
                .await
                .unwrap_err();
            match &err {
                Error::Sanitize(e) => assert_eq!(e.rule(), "parse", "{err}"),
                other => panic!("{other} on {}", store.name),
            }
            assert!(
                upload_intent::Entity::find()
                    .all(f.db())
                    .await
                    .unwrap()
                    .is_empty(),
                "intent left on {}",
                store.name
            );
            assert_consistent(&f, &store).await;
            // The same picture undamaged goes through, under the same name.
            let good = small_jpeg();
            let stored = files
                .upload(
                    &f.actor,
                    f.ws.id,
                    Owner::Client(client_id),
                    "wound.jpg",
                    good.as_slice(),
                )
                .await
                .unwrap();
            assert_eq!(stored.size_bytes, good.len() as u64, "{}", store.name);
            assert_consistent(&f, &store).await;
            // Gone again, so the next store starts with nothing to find.
            files.delete(&f.actor, f.ws.id, stored.id).await.unwrap();
            files.purge(far_future()).await.unwrap();
        }
        f.cleanup().await;
    }
}

/// Makes every commit of a transaction that inserted an attachment fail, from inside the
/// database: on PostgreSQL a deferred constraint trigger raises at COMMIT; SQLite has no
/// deferred triggers, so there the insert itself is refused (the same finalise transaction
/// fails). Returns the statement that removes it.
async fn break_finalise(f: &Fixture) -> &'static str {
    match f.backend() {
        DbBackend::Postgres => {
            f.db()
                .execute_unprepared(
                    "CREATE FUNCTION ward_test_refuse() RETURNS trigger LANGUAGE plpgsql AS \
                     $$ BEGIN RAISE EXCEPTION 'injected commit failure'; END $$; \
                     CREATE CONSTRAINT TRIGGER ward_test_refuse AFTER INSERT ON attachments \
                     DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ward_test_refuse();",
                )
                .await
                .unwrap();
            "DROP TRIGGER ward_test_refuse ON attachments; DROP FUNCTION ward_test_refuse();"
        }
        _ => {
            f.db()
                .execute_unprepared(
                    "CREATE TRIGGER ward_test_refuse BEFORE INSERT ON attachments \
                     BEGIN SELECT RAISE(ABORT, 'injected commit failure'); END;",
                )
                .await
                .unwrap();
            "DROP TRIGGER ward_test_refuse;"
        }
    }
}
