use sea_orm::DbBackend;
use ward_domain::migration;

use crate::common::{self, databases};

#[tokio::test]
async fn up_is_idempotent_and_down_reverts_every_table() {
    for t in databases().await {
        let db = &t.db;
        assert!(!migration::is_current(db).await.unwrap());
        assert_eq!(migration::up(db).await.unwrap(), 1, "{:?}", t.backend());
        assert_eq!(
            migration::up(db).await.unwrap(),
            0,
            "a second run applies nothing"
        );
        assert!(migration::is_current(db).await.unwrap());
        let status = migration::status(db).await.unwrap();
        assert_eq!(status.len(), 1);
        assert!(status.iter().all(|m| m.applied));
        assert!(status[0].name.starts_with("m20261202_000001"));

        assert_eq!(migration::down(db, None).await.unwrap(), 1);
        assert!(!migration::is_current(db).await.unwrap());
        // The tables are gone: applying again creates them without "already exists".
        assert_eq!(migration::up(db).await.unwrap(), 1);
        assert_eq!(migration::fresh(db).await.unwrap(), 1);
        t.cleanup().await;
    }
}

/// Two replicas starting at once: on PostgreSQL the advisory lock makes one wait, then find
/// nothing to do. Without it both would create the same tables and one would fail.
#[tokio::test]
async fn replicas_migrating_at_once_do_not_race() {
    for t in databases().await {
        let others: Vec<_> = futures_join(&t, 4).await;
        let applied: usize = others.iter().map(|r| *r.as_ref().unwrap()).sum();
        assert!(
            others.iter().all(Result::is_ok),
            "{:?}: {:?}",
            t.backend(),
            others
                .iter()
                .filter_map(|r| r.as_ref().err())
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
        assert_eq!(applied, 1, "exactly one replica applies the migration");
        t.cleanup().await;
    }
}

async fn futures_join(t: &common::TestDb, n: usize) -> Vec<ward_domain::Result<usize>> {
    let mut tasks = Vec::new();
    for _ in 0..n {
        let db = t.connect_again().await;
        tasks.push(tokio::spawn(async move { migration::up(&db).await }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_bad_database_url_is_refused_without_echoing_it() {
    let err = ward_domain::connect("mysql://user:hunter2@db/ward")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("postgres://"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // Sanity: the backends we test are the two supported.
    for t in databases().await {
        assert!(matches!(
            t.backend(),
            DbBackend::Sqlite | DbBackend::Postgres
        ));
        t.cleanup().await;
    }
}
