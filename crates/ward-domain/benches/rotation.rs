//! The rotation jobs on PostgreSQL:
//!
//! - `rewrap_10000`: [`KeyRotation::rewrap_keys`] of 10,000 data keys (100 workspaces × 100
//!   keys) from one KEK version to another (a local KEK ring, so the database is what is timed);
//! - `reseal_100000_fields`: [`KeyRotation::reseal`] of 20,000 clients with five sealed fields
//!   each (100,000 fields, and 40,000 blind indexes recomputed) to a new data key, on one worker
//!   and on two at once.
//!
//! Needs PostgreSQL at `WARD_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`);
//! works in a schema of its own, dropped at the end. Run:
//!
//! ```text
//! cargo bench -p ward-domain --bench rotation
//! ```
//!
//! [`KeyRotation::rewrap_keys`]: ward_domain::KeyRotation::rewrap_keys
//! [`KeyRotation::reseal`]: ward_domain::KeyRotation::reseal

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sea_orm::{ConnectionTrait as _, DatabaseConnection};
use time::macros::date;
use uuid::Uuid;
use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
use ward_domain::{Actor, ClientFields, Domain, RotationOptions, WorkspaceId, migration};

const KEYS_WORKSPACES: usize = 100;
const KEYS_PER_WORKSPACE: usize = 100;
const CLIENTS: usize = 20_000;
const FIELDS_PER_CLIENT: usize = 5;

fn quiet(_: ward_domain::Progress) {}

/// A schema of its own on the PostgreSQL server: (admin connection, schema, connection to it).
async fn schema() -> Option<(DatabaseConnection, String, String)> {
    let base = std::env::var("WARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let admin = match ward_domain::connect_with(&base, 2).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("skipping the rotation benchmarks: PostgreSQL does not answer ({e})");
            return None;
        }
    };
    let schema = format!("ward_bench_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    Some((admin, schema, url))
}

/// Two domains over one database: one wraps under KEK version 1, the other under version 2;
/// both rings hold both versions.
async fn domains(url: &str) -> (Domain, Domain) {
    let db = ward_domain::connect(url).await.expect("db");
    migration::up(&db).await.expect("migrate");
    let k1 = KeyMaterial::generate().expect("key");
    let k2 = KeyMaterial::generate().expect("key");
    let ring = |active: u32| {
        let text = format!(
            "1:{}{},2:{}{}",
            k1.to_base64().as_str(),
            if active == 1 { ":active" } else { "" },
            k2.to_base64().as_str(),
            if active == 2 { ":active" } else { "" },
        );
        Arc::new(LocalKek::parse(&text).expect("ring"))
    };
    (
        Domain::new(db.clone(), ring(1), CachePolicy::new()),
        Domain::new(db, ring(2), CachePolicy::new()),
    )
}

fn bench_rewrap(c: &mut Criterion, rt: &tokio::runtime::Runtime, v1: &Domain, v2: &Domain) {
    rt.block_on(async {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..KEYS_WORKSPACES {
            let d = v1.clone();
            tasks.push(tokio::spawn(async move {
                let ws = d.workspaces().create("Keys", None).await.expect("ws").id;
                for _ in 1..KEYS_PER_WORKSPACE {
                    d.keys().rotate(ws).await.expect("rotate");
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        eprintln!(
            "rewrap_10000: {} keys made in {:.1?}",
            KEYS_WORKSPACES * KEYS_PER_WORKSPACE,
            started.elapsed()
        );
    });
    let mut group = c.benchmark_group("rotation");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        (KEYS_WORKSPACES * KEYS_PER_WORKSPACE) as u64,
    ));
    // Each iteration moves every key to the other version, so each does the whole work.
    let mut to_v2 = true;
    group.bench_function("rewrap_10000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let d = if to_v2 { v2 } else { v1 };
                to_v2 = !to_v2;
                let started = Instant::now();
                let report = rt
                    .block_on(d.rotation().rewrap_keys(RotationOptions::new(), &quiet))
                    .expect("rewrap");
                total += started.elapsed();
                assert_eq!(
                    report.rewrapped as usize,
                    KEYS_WORKSPACES * KEYS_PER_WORKSPACE
                );
            }
            total
        });
    });
    group.finish();
}

async fn clients(d: &Domain, actor: &Actor) -> WorkspaceId {
    let ws = d.workspaces().create("Fields", None).await.expect("ws").id;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (d, actor) = (d.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            for i in (t..CLIENTS).step_by(8) {
                let fields = ClientFields::named(format!("Client Number {i}"))
                    .with_email(format!("client{i}@example.org"))
                    .with_phone("+1 555 0100")
                    .with_date_of_birth(date!(1980 - 01 - 31))
                    .with_notes("Allergic to penicillin; prefers morning appointments.");
                d.clients()
                    .create(&actor, ws, fields)
                    .await
                    .expect("client");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    eprintln!(
        "reseal_100000_fields: {CLIENTS} clients made in {:.1?}",
        started.elapsed()
    );
    ws
}

fn bench_reseal(c: &mut Criterion, rt: &tokio::runtime::Runtime, d: &Domain) {
    let actor = Actor::system("rotation");
    let ws = rt.block_on(clients(d, &actor));
    let mut group = c.benchmark_group("rotation");
    group.sample_size(10);
    group.throughput(Throughput::Elements((CLIENTS * FIELDS_PER_CLIENT) as u64));
    for workers in [1_usize, 2] {
        group.bench_function(format!("reseal_100000_fields/{workers}_workers"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // A new key each time, so each iteration re-seals every row.
                    rt.block_on(d.keys().rotate(ws)).expect("rotate");
                    let started = Instant::now();
                    let done: u64 = rt.block_on(async {
                        let tasks: Vec<_> = (0..workers)
                            .map(|_| {
                                let (d, actor) = (d.clone(), actor.clone());
                                tokio::spawn(async move {
                                    d.rotation()
                                        .reseal(&actor, ws, RotationOptions::new(), &quiet)
                                        .await
                                        .expect("reseal")
                                        .total()
                                })
                            })
                            .collect();
                        let mut done = 0;
                        for t in tasks {
                            done += t.await.expect("task");
                        }
                        done
                    });
                    total += started.elapsed();
                    assert_eq!(done as usize, CLIENTS);
                }
                total
            });
        });
    }
    group.finish();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let Some((admin, schema, url)) = rt.block_on(schema()) else {
        return;
    };
    let (v1, v2) = rt.block_on(domains(&url));
    let mut c = Criterion::default().configure_from_args();
    bench_rewrap(&mut c, &rt, &v1, &v2);
    bench_reseal(&mut c, &rt, &v1);
    c.final_summary();
    rt.block_on(async {
        v1.db().clone().close().await.ok();
        v2.db().clone().close().await.ok();
        admin
            .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .await
            .expect("drop the bench schema");
    });
}
