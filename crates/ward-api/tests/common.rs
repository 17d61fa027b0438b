use std::io::Cursor;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use image::{ImageFormat, Rgb, RgbImage};
use uuid::Uuid;
use ward_api::{Claims, Keys, Role, Service};
use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
use ward_domain::sea_orm::{self, ConnectionTrait as _};
use ward_domain::ward_storage::bootstrap::ensure_bucket;
use ward_domain::ward_storage::{
    Environment, LocalStore, ObjectStore, RequiredProof, S3StoreBuilder, SsePolicy,
};
use ward_domain::{Domain, RateLimit, Workspace, migration};

/// Whether CI asked for every server (a missing one is then a failure, not a skip).
fn required() -> bool {
    std::env::var_os("WARD_TEST_INTEGRATION").is_some()
}

fn skip(what: &str, why: String) -> Option<Stack> {
    assert!(!required(), "WARD_TEST_INTEGRATION is set and {why}");
    eprintln!("skipping {what}: {why}");
    None
}

fn answers(endpoint: &str) -> bool {
    endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse::<SocketAddr>()
        .ok()
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(1)).ok())
        .is_some()
}

/// The moto S3 server's endpoint, or `None` (with the reason printed, naming `what` skips)
/// when it does not answer; under `WARD_TEST_INTEGRATION` that is a failure.
pub(crate) fn moto_endpoint(what: &str) -> Option<String> {
    let endpoint = std::env::var("WARD_TEST_MOTO_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9100".to_owned());
    if answers(&endpoint) {
        return Some(endpoint);
    }
    let why =
        format!("moto does not answer at {endpoint}; start it with `cargo xtask services up`");
    assert!(!required(), "WARD_TEST_INTEGRATION is set and {why}");
    eprintln!("skipping {what}: {why}");
    None
}

/// A running service on one stack, with a workspace and a token for it.
pub(crate) struct Stack {
    pub(crate) name: &'static str,
    pub(crate) base: String,
    pub(crate) service: Service,
    pub(crate) ws: Workspace,
    pub(crate) token: String,
    secret: String,
    server: tokio::task::JoinHandle<()>,
    cleanup: Option<(sea_orm::DatabaseConnection, String)>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Stack {
    /// A token for `workspace` naming `user`, valid for `seconds` (negative: already expired).
    pub(crate) fn token_for(&self, workspace: Uuid, user: &str, seconds: i64) -> String {
        token(&self.secret, workspace, user, Role::Member, seconds)
    }

    /// A token for this stack's workspace with the admin role.
    pub(crate) fn admin_token(&self) -> String {
        token(
            &self.secret,
            self.ws.id.as_uuid(),
            "admin-1",
            Role::Admin,
            600,
        )
    }

    /// A second workspace of this stack and a token for it.
    pub(crate) async fn other_workspace(&self) -> (Workspace, String) {
        let ws = self
            .service
            .domain()
            .workspaces()
            .create("Other Clinic", None)
            .await
            .expect("second workspace");
        let token = self.token_for(ws.id.as_uuid(), "other-user", 600);
        (ws, token)
    }

    pub(crate) async fn stop(self) {
        self.server.abort();
        if let Some((admin, schema)) = self.cleanup {
            self.service.domain().db().clone().close().await.ok();
            admin
                .execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .await
                .expect("drop the test schema");
        }
    }
}

pub(crate) fn token(secret: &str, workspace: Uuid, user: &str, role: Role, seconds: i64) -> String {
    let keys = Keys::from_base64_secret(secret).expect("keys");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    keys.issue(&Claims {
        sub: user.to_owned(),
        workspace_id: workspace,
        role,
        exp: now.saturating_add_signed(seconds),
        iat: Some(now),
    })
    .expect("token")
}

async fn start(
    name: &'static str,
    db: sea_orm::DatabaseConnection,
    store: Arc<dyn ObjectStore>,
    proof: RequiredProof,
    cleanup: Option<(sea_orm::DatabaseConnection, String)>,
    dirs: Vec<tempfile::TempDir>,
    configure: impl FnOnce(Service) -> Service,
) -> Stack {
    migration::up(&db).await.expect("migrate");
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().expect("key").to_base64().as_str()
    );
    let domain = Domain::new(
        db,
        Arc::new(LocalKek::parse(&ring).expect("ring")),
        CachePolicy::new(),
    );
    let secret = KeyMaterial::generate()
        .expect("key")
        .to_base64()
        .as_str()
        .to_owned();
    let keys = Keys::from_base64_secret(&secret).expect("keys");
    let service = configure(Service::new(
        domain,
        store,
        proof,
        keys,
        Environment::Development,
    ));
    let ws = service
        .domain()
        .workspaces()
        .create("Test Clinic", None)
        .await
        .expect("workspace");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let served = service.clone();
    let server = tokio::spawn(async move {
        ward_api::server::serve(
            listener,
            served,
            std::future::pending(),
            Duration::from_secs(1),
        )
        .await
        .expect("serve");
    });
    let token = token(&secret, ws.id.as_uuid(), "nurse-1", Role::Member, 600);
    Stack {
        name,
        base,
        service,
        ws,
        token,
        secret,
        server,
        cleanup,
        _dirs: dirs,
    }
}

/// SQLite in a temporary file and a LocalStore in a temporary directory.
pub(crate) async fn embedded() -> Stack {
    embedded_with_upload_rate(100).await
}

/// [`embedded`], each user allowed `uploads_per_minute` uploads.
pub(crate) async fn embedded_with_upload_rate(uploads_per_minute: u32) -> Stack {
    embedded_with(|s| s.with_upload_rate(RateLimit::per_minute(uploads_per_minute))).await
}

/// [`embedded`], its service set up by `configure`.
pub(crate) async fn embedded_with(configure: impl FnOnce(Service) -> Service) -> Stack {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("ward.db").display());
    let db = ward_domain::connect(&url).await.expect("sqlite");
    let objects = tempfile::tempdir().expect("temp dir");
    let store = LocalStore::new(objects.path()).expect("local store");
    start(
        "sqlite+local",
        db,
        Arc::new(store),
        RequiredProof::ClientSide,
        None,
        vec![dir, objects],
        configure,
    )
    .await
}

/// A fresh schema on PostgreSQL and a fresh bucket on moto (SSE-S3), or `None` with the reason
/// printed when either does not answer (a failure under `WARD_TEST_INTEGRATION`).
pub(crate) async fn server_stack() -> Option<Stack> {
    let base = std::env::var("WARD_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let admin = match ward_domain::connect_with(&base, 2).await {
        Ok(db) => db,
        Err(e) => return skip("postgres+moto", format!("PostgreSQL does not answer ({e})")),
    };
    let endpoint = moto_endpoint("postgres+moto")?;
    let schema = format!("ward_api_{}", Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
        .await
        .expect("create a test schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let db = ward_domain::connect(&url).await.expect("connect");
    let store = S3StoreBuilder::new()
        .with_environment(Environment::Development)
        .with_endpoint(endpoint)
        .with_bucket(format!("wa-{}", &Uuid::new_v4().simple().to_string()[..12]))
        .with_credentials("moto-test-access", "moto-test-secret-key")
        .with_sse(SsePolicy::S3Managed)
        .build()
        .expect("s3 store");
    ensure_bucket(&store).await.expect("bucket");
    Some(
        start(
            "postgres+moto",
            db,
            Arc::new(store),
            RequiredProof::ServerSide(SsePolicy::S3Managed),
            Some((admin, schema)),
            Vec::new(),
            |s| s.with_upload_rate(RateLimit::per_minute(100)),
        )
        .await,
    )
}

/// Both stacks (the server one when its servers answer).
pub(crate) async fn stacks() -> Vec<Stack> {
    let mut out = vec![embedded().await];
    out.extend(server_stack().await);
    out
}

/// An answer: status, headers, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: http::HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON ({}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The error answer's rule id.
    pub(crate) fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Sends one request over a fresh loopback connection.
pub(crate) async fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Answer {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Full::new(Bytes::from(body))).expect("request"))
        .await
        .expect("the service answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// A `GET` with an optional token.
pub(crate) async fn get(url: &str, token: Option<&str>) -> Answer {
    send("GET", url, token, None, Vec::new(), &[]).await
}

/// A JSON request.
pub(crate) async fn json(
    method: &str,
    url: &str,
    token: Option<&str>,
    value: &serde_json::Value,
) -> Answer {
    send(
        method,
        url,
        token,
        Some("application/json"),
        serde_json::to_vec(value).expect("json"),
        &[],
    )
    .await
}

pub(crate) const BOUNDARY: &str = "ward-test-boundary-7d3f";

/// A multipart form with one `file` part.
pub(crate) fn form(file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Uploads `bytes` as `file_name` to `path` (`/sessions/{id}` or `/clients/{id}`).
pub(crate) async fn upload(
    stack: &Stack,
    token: &str,
    owner: &str,
    file_name: &str,
    bytes: &[u8],
) -> Answer {
    send(
        "POST",
        &format!("{}/api/v1{owner}/attachments", stack.base),
        Some(token),
        Some(&format!("multipart/form-data; boundary={BOUNDARY}")),
        form(file_name, bytes),
        &[],
    )
    .await
}

/// A small JPEG whose pixels vary with `seed`.
pub(crate) fn jpeg(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(64, 48, |x, y| Rgb([seed, (x * 3) as u8, (y * 5) as u8]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .expect("jpeg");
    out
}

/// A small PNG.
pub(crate) fn png(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(24, 16, |x, y| Rgb([seed, x as u8 * 9, y as u8 * 13]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .expect("png");
    out
}

/// A client and one of its sessions, made through the API; their ids.
pub(crate) async fn client_and_session(stack: &Stack) -> (String, String) {
    let c = json(
        "POST",
        &format!("{}/api/v1/clients", stack.base),
        Some(&stack.token),
        &serde_json::json!({ "name": "Jane Roe", "email": "jane@example.org" }),
    )
    .await;
    assert_eq!(c.status, 201, "{}", String::from_utf8_lossy(&c.body));
    let client = c.json()["id"].as_str().expect("id").to_owned();
    let s = json(
        "POST",
        &format!("{}/api/v1/sessions", stack.base),
        Some(&stack.token),
        &serde_json::json!({ "client_id": client, "session_date": "2026-12-02" }),
    )
    .await;
    assert_eq!(s.status, 201, "{}", String::from_utf8_lossy(&s.body));
    (client, s.json()["id"].as_str().expect("id").to_owned())
}
