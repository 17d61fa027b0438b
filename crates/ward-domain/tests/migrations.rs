use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend, Statement};
use ward_domain::migration;

/// ward's migrations so far.
const MIGRATIONS: usize = 4;

use crate::common::{self, databases};

#[tokio::test]
async fn up_is_idempotent_and_down_reverts_every_table() {
    for t in databases().await {
        let db = &t.db;
        assert!(!migration::is_current(db).await.unwrap());
        assert_eq!(
            migration::up(db).await.unwrap(),
            MIGRATIONS,
            "{:?}",
            t.backend()
        );
        assert_eq!(
            migration::up(db).await.unwrap(),
            0,
            "a second run applies nothing"
        );
        assert!(migration::is_current(db).await.unwrap());
        let status = migration::status(db).await.unwrap();
        assert_eq!(status.len(), MIGRATIONS);
        assert!(status.iter().all(|m| m.applied));
        assert!(status[0].name.starts_with("m20261202_000001"));
        assert!(status[1].name.starts_with("m20261206_000001"));
        assert!(status[2].name.starts_with("m20261207_000001"));
        assert!(status[3].name.starts_with("m20261207_000002"));

        // One step back removes the soft-delete marks, and only them.
        assert_eq!(migration::down(db, Some(1)).await.unwrap(), 1);
        assert!(
            !columns(db, "clients")
                .await
                .contains(&"deleted_at".to_owned())
        );
        assert!(
            !columns(db, "sessions")
                .await
                .contains(&"deleted_at".to_owned())
        );
        assert!(
            columns(db, "attachments")
                .await
                .contains(&"deleted_at".to_owned())
        );
        assert!(
            columns(db, "rate_limits")
                .await
                .contains(&"hits".to_owned())
        );
        // The next removes the rate-limit counters, and only them.
        assert_eq!(migration::down(db, Some(1)).await.unwrap(), 1);
        assert!(columns(db, "rate_limits").await.is_empty());
        assert!(
            columns(db, "attachments")
                .await
                .contains(&"key_id".to_owned())
        );
        // Another removes the recorded keys and leases, and only them.
        assert_eq!(migration::down(db, Some(1)).await.unwrap(), 1);
        let attachments = columns(db, "attachments").await;
        assert!(
            attachments.contains(&"object_key".to_owned()),
            "{attachments:?}"
        );
        assert!(!attachments.contains(&"key_id".to_owned()));
        assert!(!attachments.contains(&"lease_until".to_owned()));
        assert!(!columns(db, "clients").await.contains(&"key_id".to_owned()));
        assert_eq!(migration::up(db).await.unwrap(), 3);
        assert!(
            columns(db, "clients")
                .await
                .contains(&"deleted_at".to_owned())
        );
        assert!(columns(db, "sessions").await.contains(&"key_id".to_owned()));
        assert!(
            columns(db, "rate_limits")
                .await
                .contains(&"hits".to_owned())
        );

        assert_eq!(migration::down(db, None).await.unwrap(), MIGRATIONS);
        assert!(!migration::is_current(db).await.unwrap());
        // The tables are gone: applying again creates them without "already exists".
        assert_eq!(migration::up(db).await.unwrap(), MIGRATIONS);
        assert_eq!(migration::fresh(db).await.unwrap(), MIGRATIONS);
        t.cleanup().await;
    }
}

/// The columns of `table`.
async fn columns(db: &DatabaseConnection, table: &str) -> Vec<String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT column_name AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = '{table}'"
        ),
        _ => format!("SELECT name FROM pragma_table_info('{table}')"),
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect()
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
        assert_eq!(
            applied, MIGRATIONS,
            "exactly one replica applies the migrations"
        );
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
