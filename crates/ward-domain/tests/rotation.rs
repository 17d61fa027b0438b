use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, sea_query::Expr};
use time::macros::date;
use uuid::Uuid;
use ward_crypto::{CachePolicy, DekId, FieldCipher, KekId, KeyMaterial, LocalKek};
use ward_domain::entity::{attachment, audit_event, client, session};
use ward_domain::{
    Actor, ClientFields, Domain, RotationOptions, SoapNotes, WorkspaceId, migration,
};
use ward_storage::Owner;

use crate::attachments::{assert_consistent, attachments, owners, png_with_secret};
use crate::common::{Fixture, databases};
use crate::stores::{self, set};

fn key_text() -> String {
    KeyMaterial::generate()
        .expect("key")
        .to_base64()
        .as_str()
        .to_owned()
}

fn ring(text: &str) -> Arc<LocalKek> {
    Arc::new(LocalKek::parse(text).expect("ring"))
}

fn quiet(_: ward_domain::Progress) {}

/// `n` clients with every field filled, and a session with notes for each.
async fn fill(f: &Fixture, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let c = f
            .domain
            .clients()
            .create(
                &f.actor,
                f.ws.id,
                ClientFields::named(format!("Client {i}"))
                    .with_email(format!("client{i}@example.org"))
                    .with_phone("+1 555 0100")
                    .with_date_of_birth(date!(1980 - 01 - 31))
                    .with_notes("allergic to penicillin"),
            )
            .await
            .unwrap();
        f.domain
            .sessions()
            .create(
                &f.actor,
                f.ws.id,
                c.id,
                date!(2026 - 12 - 06),
                Some(SoapNotes(format!("S: follow-up {i}"))),
            )
            .await
            .unwrap();
        ids.push(c.id);
    }
    ids
}

/// The key id in the header of every sealed cell of the workspace's clients and sessions.
async fn cell_keys(f: &Fixture) -> BTreeMap<DekId, usize> {
    let mut out = BTreeMap::new();
    let clients = client::Entity::find()
        .filter(client::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
        .all(f.db())
        .await
        .unwrap();
    let sessions = session::Entity::find()
        .filter(session::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
        .all(f.db())
        .await
        .unwrap();
    let cells = clients
        .iter()
        .flat_map(|c| {
            [
                Some(&c.name),
                c.email.as_ref(),
                c.phone.as_ref(),
                c.date_of_birth.as_ref(),
                c.notes.as_ref(),
            ]
        })
        .chain(sessions.iter().map(|s| s.soap_notes.as_ref()))
        .flatten();
    for sealed in cells {
        *out.entry(FieldCipher::key_id_of(sealed.as_bytes()).unwrap())
            .or_default() += 1;
    }
    out
}

async fn reseal_events(f: &Fixture) -> i64 {
    let rows = audit_event::Entity::find()
        .filter(audit_event::Column::WorkspaceId.eq(f.ws.id.as_uuid()))
        .filter(audit_event::Column::Action.eq("workspace.reseal"))
        .all(f.db())
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.metadata["rows"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn rewrap_moves_every_key_under_the_active_kek_and_reports_versions() {
    for test_db in databases().await {
        migration::up(&test_db.db).await.unwrap();
        let (k1, k2) = (key_text(), key_text());
        let old = Domain::new(
            test_db.db.clone(),
            ring(&format!("1:{k1}:active")),
            CachePolicy::new(),
        );
        let a = old.workspaces().create("A", None).await.unwrap();
        let b = old.workspaces().create("B", None).await.unwrap();
        old.keys().rotate(a.id).await.unwrap(); // a: one retired, one active
        let actor = Actor::new("user:test").unwrap();
        let jane = old
            .clients()
            .create(&actor, a.id, ClientFields::named("Jane Roe"))
            .await
            .unwrap();

        let both = Domain::new(
            test_db.db.clone(),
            ring(&format!("1:{k1},2:{k2}:active")),
            CachePolicy::new(),
        );
        let rotation = both.rotation();
        // One key per call: stops early, then carries on where it stopped.
        let one = RotationOptions::new()
            .with_batch_size(1)
            .with_max_batches(1);
        let first = rotation.rewrap_keys(one, &quiet).await.unwrap();
        assert_eq!((first.rewrapped, first.stopped_early), (1, true));
        assert_eq!(
            first.kek_versions,
            BTreeMap::from([(KekId(1), 2), (KekId(2), 1)])
        );
        let rest = rotation
            .rewrap_keys(RotationOptions::new().with_batch_size(2), &quiet)
            .await
            .unwrap();
        assert_eq!(
            (rest.rewrapped, rest.skipped, rest.stopped_early),
            (2, 0, false)
        );
        assert_eq!(rest.kek_versions, BTreeMap::from([(KekId(2), 3)]));
        let again = rotation.rewrap_keys(one, &quiet).await.unwrap();
        assert_eq!((again.rewrapped, again.stopped_early), (0, false));

        // Version 1 can now leave the ring: a ring of version 2 alone opens everything.
        let new = Domain::new(
            test_db.db.clone(),
            ring(&format!("2:{k2}:active")),
            CachePolicy::new(),
        );
        let read = new.clients().get(&actor, a.id, jane.id).await.unwrap();
        assert_eq!(read.fields.name, "Jane Roe");
        new.clients()
            .create(&actor, b.id, ClientFields::named("John Doe"))
            .await
            .unwrap();

        // Two workers at once: each key is rewrapped by one of them (compare-and-set), once.
        for _ in 0..20 {
            old.keys().rotate(b.id).await.unwrap();
        }
        let five = RotationOptions::new().with_batch_size(5);
        let second = both.rotation();
        let (x, y) = tokio::join!(
            rotation.rewrap_keys(five, &quiet),
            second.rewrap_keys(five, &quiet)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.rewrapped + y.rewrapped, 20, "{x:?} {y:?}");
        let after = rotation.rewrap_keys(five, &quiet).await.unwrap();
        assert_eq!(after.kek_versions, BTreeMap::from([(KekId(2), 3 + 20)]));

        // A key whose KEK version left the ring stops the job with that error.
        let lost = Domain::new(
            test_db.db.clone(),
            ring(&format!("3:{}:active", key_text())),
            CachePolicy::new(),
        );
        assert!(lost.rotation().rewrap_keys(one, &quiet).await.is_err());
        test_db.cleanup().await;
    }
}

#[tokio::test]
async fn reseal_moves_every_cell_and_index_to_the_active_key_resumably() {
    for f in Fixture::all().await {
        let ids = fill(&f, 5).await;
        let old = f.domain.keys().data_keys().list(f.ws.id).await.unwrap()[0].id;
        let index_before = client::Entity::find_by_id(ids[0])
            .one(f.db())
            .await
            .unwrap()
            .unwrap()
            .email_index;
        let new = f.domain.keys().rotate(f.ws.id).await.unwrap();
        // A row written before `key_id` was recorded is re-sealed too, whatever it is under.
        let unknown = f
            .domain
            .clients()
            .create(&f.actor, f.ws.id, ClientFields::named("Late"))
            .await
            .unwrap();
        client::Entity::update_many()
            .col_expr(client::Column::KeyId, Expr::value(Option::<i32>::None))
            .filter(client::Column::Id.eq(unknown.id))
            .exec(f.db())
            .await
            .unwrap();
        assert_eq!(cell_keys(&f).await[&old], 5 * 5 + 5);

        let rotation = f.domain.rotation();
        let two = RotationOptions::new().with_batch_size(2);
        let first = rotation
            .reseal(&f.actor, f.ws.id, two.with_max_batches(1), &quiet)
            .await
            .unwrap();
        assert_eq!((first.total(), first.stopped_early), (2, true));
        let seen = std::sync::Mutex::new(Vec::new());
        let rest = rotation
            .reseal(&f.actor, f.ws.id, two, &|p| {
                seen.lock().unwrap().push(p.table)
            })
            .await
            .unwrap();
        assert!(!rest.stopped_early);
        assert_eq!(rest.key_id, Some(new));
        // 6 clients and 5 sessions, each re-sealed exactly once over the two calls.
        assert_eq!(first.total() + rest.total(), 11);
        assert_eq!(rest.failed, 0);
        assert!(seen.lock().unwrap().contains(&"sessions"));
        assert_eq!(reseal_events(&f).await, 11);

        assert_eq!(cell_keys(&f).await, BTreeMap::from([(new, 5 * 5 + 1 + 5)]));
        let rows = client::Entity::find().all(f.db()).await.unwrap();
        assert!(rows.iter().all(|r| r.key_id == Some(new.0 as i32)));
        // The blind index was recomputed under the new key, and search still finds.
        let row = rows.iter().find(|r| r.id == ids[0]).unwrap();
        assert_ne!(row.email_index, index_before);
        let found = f
            .domain
            .clients()
            .find_by_email(&f.actor, f.ws.id, "CLIENT0@example.org")
            .await
            .unwrap();
        assert_eq!(found[0].id, ids[0]);
        assert_eq!(
            found[0].fields.notes.as_deref(),
            Some("allergic to penicillin")
        );

        // Nothing left: a third call does nothing.
        let none = rotation
            .reseal(&f.actor, f.ws.id, two, &quiet)
            .await
            .unwrap();
        assert_eq!(none.total(), 0);

        // The old key: kept while too recent, destroyed once nothing uses it.
        let now = time::OffsetDateTime::now_utc();
        let early = rotation
            .destroy_unused(&f.actor, f.ws.id, now - time::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            (early.too_recent.clone(), early.destroyed.len()),
            (vec![old], 0)
        );
        let done = rotation
            .destroy_unused(&f.actor, f.ws.id, now)
            .await
            .unwrap();
        assert_eq!(done.destroyed, vec![old]);
        // Search now uses the new index alone, and still finds; everything opens.
        let found = f
            .domain
            .clients()
            .find_by_name(&f.actor, f.ws.id, "client 3")
            .await
            .unwrap();
        assert_eq!(found[0].id, ids[3]);
        for id in &ids {
            f.domain
                .clients()
                .get(&f.actor, f.ws.id, *id)
                .await
                .unwrap();
        }
        f.cleanup_checking_audit().await;
    }
}

#[tokio::test]
async fn a_job_seals_under_the_key_the_database_names_active_not_a_stale_cached_one() {
    for f in Fixture::all().await {
        fill(&f, 2).await; // this process now caches the first key as active
        let other = Domain::new(
            f.test_db.connect_again().await,
            f.domain.keys().data_keys().kek().clone(),
            CachePolicy::new(),
        );
        let new = other.keys().rotate(f.ws.id).await.unwrap(); // another process rotates
        let report = f
            .domain
            .rotation()
            .reseal(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
            .await
            .unwrap();
        assert_eq!(report.key_id, Some(new));
        assert_eq!(report.total(), 4, "2 clients and 2 sessions");
        assert_eq!(cell_keys(&f).await, BTreeMap::from([(new, 2 * 5 + 2)]));
        f.cleanup_checking_audit().await;
    }
}

#[tokio::test]
async fn a_key_still_used_by_a_row_or_an_object_is_never_destroyed() {
    for f in Fixture::all().await {
        let ids = fill(&f, 3).await;
        let store = stores::local();
        let files = f
            .domain
            .attachments(Arc::clone(&store.store), store.proof.clone());
        let png = png_with_secret(7);
        files
            .upload(
                &f.actor,
                f.ws.id,
                Owner::Client(ids[0]),
                "scan.png",
                png.as_slice(),
            )
            .await
            .unwrap();
        let old = f.domain.keys().data_keys().list(f.ws.id).await.unwrap()[0].id;
        f.domain.keys().rotate(f.ws.id).await.unwrap();

        // One client's notes altered: that row does not re-seal, is named, and is left alone.
        let broken = client::Entity::find_by_id(ids[1])
            .one(f.db())
            .await
            .unwrap()
            .unwrap();
        let mut notes = broken.notes.unwrap().0;
        let last = notes.len() - 1;
        notes[last] ^= 1;
        client::Entity::update_many()
            .col_expr(client::Column::Notes, Expr::value(notes))
            .filter(client::Column::Id.eq(ids[1]))
            .exec(f.db())
            .await
            .unwrap();

        let rotation = f.domain.rotation();
        let report = rotation
            .reseal(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
            .await
            .unwrap();
        assert_eq!(report.failed, 1);
        assert_eq!(
            (report.failures[0].table, report.failures[0].row),
            ("clients", ids[1])
        );
        assert!(!report.failures[0].reason.contains("penicillin"));
        // 2 clients, 3 sessions and the attachment's name re-sealed.
        assert_eq!(report.total(), 6);

        let now = time::OffsetDateTime::now_utc();
        let kept = rotation
            .destroy_unused(&f.actor, f.ws.id, now)
            .await
            .unwrap();
        assert_eq!((kept.in_use.clone(), kept.destroyed.len()), (vec![old], 0));
        assert_eq!(kept.usage.cells[&old], 5, "the broken row's cells");
        assert_eq!(kept.usage.objects[&old], 1, "the object");

        // With the row mended (its notes cleared) it re-seals; the object still holds the key.
        client::Entity::update_many()
            .col_expr(client::Column::Notes, Expr::value(Option::<Vec<u8>>::None))
            .filter(client::Column::Id.eq(ids[1]))
            .exec(f.db())
            .await
            .unwrap();
        let mended = rotation
            .reseal(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
            .await
            .unwrap();
        assert_eq!((mended.total(), mended.failed), (1, 0));
        let kept = rotation
            .destroy_unused(&f.actor, f.ws.id, now)
            .await
            .unwrap();
        assert_eq!(kept.in_use, vec![old]);
        assert!(!kept.usage.cells.contains_key(&old));
        // Once the object is re-encrypted, nothing uses the key and it goes.
        let objects = files
            .reseal_objects(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
            .await
            .unwrap();
        assert_eq!(objects.total(), 1);
        let gone = rotation
            .destroy_unused(&f.actor, f.ws.id, now)
            .await
            .unwrap();
        assert_eq!(gone.destroyed, vec![old]);
        f.cleanup().await;
    }
}

#[tokio::test]
async fn several_workers_reseal_each_row_exactly_once() {
    for f in Fixture::all().await {
        fill(&f, 24).await;
        let new = f.domain.keys().rotate(f.ws.id).await.unwrap();
        let other = Domain::new(
            f.test_db.connect_again().await,
            f.domain.keys().data_keys().kek().clone(),
            CachePolicy::new(),
        );
        let workers: Vec<_> = (0..4)
            .map(|i| {
                let rotation = if i % 2 == 0 {
                    f.domain.rotation()
                } else {
                    other.rotation()
                };
                let actor = Actor::new(format!("job:reseal-{i}")).unwrap();
                let ws: WorkspaceId = f.ws.id;
                tokio::spawn(async move {
                    rotation
                        .reseal(
                            &actor,
                            ws,
                            RotationOptions::new().with_batch_size(3),
                            &quiet,
                        )
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut total = 0;
        for w in workers {
            total += w.await.unwrap().total();
        }
        assert_eq!(total, 48, "24 clients and 24 sessions, each once");
        assert_eq!(reseal_events(&f).await, 48);
        assert_eq!(cell_keys(&f).await, BTreeMap::from([(new, 24 * 5 + 24)]));
        f.cleanup_checking_audit().await;
    }
}

#[tokio::test]
async fn objects_are_re_encrypted_into_new_objects_and_the_old_ones_deleted() {
    for f in Fixture::all().await {
        for store in stores::all().await {
            let (store, faults) = stores::faulty(store);
            let files = attachments(&f, &store);
            let (jane, visit) = owners(&f).await;
            let mut before = BTreeMap::new();
            for (i, owner) in [
                Owner::Client(jane),
                Owner::Client(jane),
                Owner::Session(visit),
                Owner::Session(visit),
            ]
            .into_iter()
            .enumerate()
            {
                let up = files
                    .upload(
                        &f.actor,
                        f.ws.id,
                        owner,
                        &format!("scan {i}.png"),
                        png_with_secret(i as u8).as_slice(),
                    )
                    .await
                    .unwrap();
                let (_, body) = files
                    .download(&f.actor, f.ws.id, up.id, None)
                    .await
                    .unwrap();
                before.insert(up.id, body.bytes().await.unwrap());
            }
            let old_keys: Vec<String> = attachment::Entity::find()
                .all(f.db())
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.object_key)
                .collect();
            let new = f.domain.keys().rotate(f.ws.id).await.unwrap();

            // A put that fails: reported, the copy and its intent gone, the old object kept.
            set(&faults.fail_put, true);
            let failed = files
                .reseal_objects(
                    &f.actor,
                    f.ws.id,
                    RotationOptions::new()
                        .with_batch_size(1)
                        .with_max_batches(1),
                    &quiet,
                )
                .await
                .unwrap();
            set(&faults.fail_put, false);
            assert_eq!((failed.total(), failed.failed), (0, 1));
            assert_consistent(&f, &store).await;

            // Two workers share the rest; the failed one waits for its lease.
            let (a, b) = tokio::join!(
                files.reseal_objects(
                    &f.actor,
                    f.ws.id,
                    RotationOptions::new().with_batch_size(1),
                    &quiet
                ),
                files.reseal_objects(
                    &f.actor,
                    f.ws.id,
                    RotationOptions::new().with_batch_size(1),
                    &quiet
                ),
            );
            assert_eq!(a.unwrap().total() + b.unwrap().total(), 3);
            // Expire the lease of the failed one; a further run does it.
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::LeaseUntil,
                    Expr::value(Option::<time::OffsetDateTime>::None),
                )
                .exec(f.db())
                .await
                .unwrap();
            let last = files
                .reseal_objects(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
                .await
                .unwrap();
            assert_eq!((last.total(), last.failed), (1, 0));

            for (id, bytes) in &before {
                let (meta, body) = files.download(&f.actor, f.ws.id, *id, None).await.unwrap();
                assert_eq!(meta.key_id, new);
                assert_eq!(&body.bytes().await.unwrap(), bytes);
            }
            let rows = attachment::Entity::find().all(f.db()).await.unwrap();
            for r in rows.iter().filter(|r| r.purged_at.is_none()) {
                let name = store.name;
                assert!(
                    !old_keys.contains(&r.object_key),
                    "{} kept its object on {name}",
                    r.id
                );
                assert_eq!(r.lease_until, None, "{} on {name}", r.id);
            }
            assert_consistent(&f, &store).await;

            // Names re-sealed too; then the old key is unused and goes, and everything still opens.
            f.domain
                .rotation()
                .reseal(&f.actor, f.ws.id, RotationOptions::new(), &quiet)
                .await
                .unwrap();
            let gone = f
                .domain
                .rotation()
                .destroy_unused(&f.actor, f.ws.id, time::OffsetDateTime::now_utc())
                .await
                .unwrap();
            assert!(!gone.destroyed.is_empty(), "{gone:?}");
            for id in before.keys() {
                files.download(&f.actor, f.ws.id, *id, None).await.unwrap();
            }
            for id in before.keys() {
                files.delete(&f.actor, f.ws.id, *id).await.unwrap();
            }
            files
                .purge(time::OffsetDateTime::now_utc() + time::Duration::days(1))
                .await
                .unwrap();
            assert_consistent(&f, &store).await;
        }
        f.cleanup_checking_audit().await;
    }
}
