use std::sync::Arc;

use sea_orm::{ConnectionTrait as _, DatabaseConnection, DbBackend};
use uuid::Uuid;
use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
use ward_domain::{Actor, Domain, Workspace, migration};

/// The PostgreSQL server the tests use: `WARD_TEST_DATABASE_URL`, else the local test database.
pub(crate) fn postgres_url() -> String {
    std::env::var("WARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database for one test, removed by [`TestDb::cleanup`].
pub(crate) struct TestDb {
    pub(crate) db: DatabaseConnection,
    pub(crate) url: String,
    schema: Option<(DatabaseConnection, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub(crate) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Another connection pool to the same database.
    pub(crate) async fn connect_again(&self) -> DatabaseConnection {
        ward_domain::connect(&self.url)
            .await
            .expect("second connection")
    }

    pub(crate) async fn cleanup(self) {
        if let Some((admin, schema)) = self.schema {
            self.db.close().await.ok();
            admin
                .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await
                .expect("drop the test schema");
        }
    }
}

/// A fresh SQLite database in a temporary file (a file, so several pooled connections share it).
pub(crate) async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("ward.db").display());
    let db = ward_domain::connect(&url).await.expect("open sqlite");
    TestDb {
        db,
        url,
        schema: None,
        _dir: Some(dir),
    }
}

/// A fresh schema on the PostgreSQL server, or `None` (with the reason printed) when the server
/// does not answer. With `WARD_TEST_INTEGRATION` set (CI) a missing server is a failure.
pub(crate) async fn postgres() -> Option<TestDb> {
    let base = postgres_url();
    let admin = match ward_domain::connect_with(&base, 2).await {
        Ok(db) => db,
        Err(e) => {
            let why = format!(
                "PostgreSQL does not answer at WARD_TEST_DATABASE_URL or 127.0.0.1:5432 ({e})"
            );
            assert!(
                std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
                "WARD_TEST_INTEGRATION is set and {why}"
            );
            eprintln!("skipping PostgreSQL: {why}");
            return None;
        }
    };
    let schema = format!("ward_t_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("create a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let db = ward_domain::connect(&url)
        .await
        .expect("connect to the test schema");
    Some(TestDb {
        db,
        url,
        schema: Some((admin, schema)),
        _dir: None,
    })
}

/// Every database the tests run on: SQLite always, PostgreSQL when it answers.
pub(crate) async fn databases() -> Vec<TestDb> {
    let mut out = vec![sqlite().await];
    out.extend(postgres().await);
    out
}

/// A fresh local KEK ring with one active key.
pub(crate) fn kek() -> Arc<LocalKek> {
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().expect("key").to_base64().as_str()
    );
    Arc::new(LocalKek::parse(&ring).expect("ring"))
}

/// A migrated database with a domain over it and one workspace.
pub(crate) struct Fixture {
    pub(crate) test_db: TestDb,
    pub(crate) domain: Domain,
    pub(crate) ws: Workspace,
    pub(crate) actor: Actor,
}

impl Fixture {
    pub(crate) async fn new(test_db: TestDb) -> Self {
        migration::up(&test_db.db).await.expect("migrate");
        let domain = Domain::new(test_db.db.clone(), kek(), CachePolicy::new());
        let ws = domain
            .workspaces()
            .create("Test Clinic", None)
            .await
            .expect("workspace");
        Self {
            test_db,
            domain,
            ws,
            actor: Actor::new("user:test").expect("actor"),
        }
    }

    /// A fixture on each database.
    pub(crate) async fn all() -> Vec<Self> {
        let mut out = Vec::new();
        for db in databases().await {
            out.push(Self::new(db).await);
        }
        out
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.test_db.db
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.test_db.backend()
    }

    /// Asserts the workspace's audit chain is intact, then removes the database.
    pub(crate) async fn cleanup_checking_audit(self) {
        let report = ward_domain::audit::verify_chain(self.db(), self.ws.id)
            .await
            .expect("verify the audit chain");
        assert!(report.is_intact(), "{:?}", report.first_break);
        self.cleanup().await;
    }

    pub(crate) async fn cleanup(self) {
        self.test_db.cleanup().await;
    }
}
