//! `/health` (the process answers) and `/ready` (its database, migrations, store and malware
//! scanner answer).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use ward_domain::migration;
use ward_domain::ward_storage::{KeyPrefix, ObjectStoreExt as _, WorkspaceId};

use crate::service::Service;

/// A readiness answer: each dependency's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Readiness {
    status: &'static str,
    database: &'static str,
    migrations: &'static str,
    store: &'static str,
    /// `ok`, `unavailable`, or `off` (development without scanning).
    scanner: &'static str,
}

#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, description = "the process serves requests")))]
/// `GET /health`: 200 while the process serves requests.
pub(crate) async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/ready", tag = "service", responses((status = 200, description = "database, migrations, store and scanner answer", body = Readiness), (status = 503, description = "what is not ready", body = Readiness)))]
/// `GET /ready`: 200 when the database answers, every migration is applied, the store answers a
/// listing and the malware scanner answers `PING` (or scanning is off, in development); 503
/// naming what is not ready otherwise.
pub(crate) async fn ready(State(service): State<Service>) -> (StatusCode, Json<Readiness>) {
    let db = service.domain().db();
    let database = if db.ping().await.is_ok() {
        "ok"
    } else {
        "unavailable"
    };
    let migrations = match migration::is_current(db).await {
        Ok(true) => "ok",
        Ok(false) => "pending",
        Err(_) => "unavailable",
    };
    let store = store_answers(&service).await;
    let scanner = match service.scanner() {
        Some(scanner) => match scanner.ping().await {
            Ok(()) => "ok",
            Err(_) => "unavailable",
        },
        None => "off",
    };
    let ready = database == "ok" && migrations == "ok" && store == "ok" && scanner != "unavailable";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !ready {
        tracing::warn!(database, migrations, store, scanner, "not ready");
    }
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" },
            database,
            migrations,
            store,
            scanner,
        }),
    )
}

/// Whether the store answers: the first entry of an empty workspace's listing.
async fn store_answers(service: &Service) -> &'static str {
    use futures::StreamExt as _;
    let probe = KeyPrefix::workspace(WorkspaceId::from(uuid::Uuid::nil()));
    let mut listing = service.store().list(&probe);
    match tokio::time::timeout(std::time::Duration::from_secs(5), listing.next()).await {
        Ok(None | Some(Ok(_))) => "ok",
        Ok(Some(Err(_))) | Err(_) => "unavailable",
    }
}
