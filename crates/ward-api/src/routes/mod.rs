//! The HTTP routes: one module per resource, assembled by [`router`].
//!
//! Every route under `/api/v1` but the signed file links needs a bearer token, and scopes every
//! query by the token's workspace: an id of another workspace answers 404, exactly like an id
//! that does not exist.

mod attachments;
mod bulk;
mod files;
mod health;
mod records;
mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::error::Error;
use crate::service::Service;

pub use attachments::MAX_UPLOAD_BODY_BYTES;

/// The header carrying each request's id, set when the caller sent none.
pub const REQUEST_ID: &str = "x-request-id";

/// The service's routes, with request ids, panics answered as 500, and tokens kept out of logs.
pub fn router(service: Service) -> Router {
    // The recorder is installed before the first request, so every request is counted.
    let _ = crate::metrics::handle();
    let request_id = HeaderName::from_static(REQUEST_ID);
    let api = Router::new()
        .route(
            "/sessions/{session_id}/attachments",
            post(attachments::upload_to_session)
                .get(attachments::list_session)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES)),
        )
        .route(
            "/sessions/{session_id}/attachments/{id}",
            axum::routing::patch(attachments::rename_session_file)
                .delete(attachments::delete_session_file),
        )
        .route(
            "/sessions/{session_id}/attachments/{id}/download",
            get(attachments::link_session_file),
        )
        .route(
            "/clients/{client_id}/attachments",
            post(attachments::upload_to_client)
                .get(attachments::list_client)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES)),
        )
        .route(
            "/clients/{client_id}/attachments/{id}",
            axum::routing::patch(attachments::rename_client_file)
                .delete(attachments::delete_client_file),
        )
        .route(
            "/clients/{client_id}/attachments/{id}/download",
            get(attachments::link_client_file),
        )
        .route(
            "/clients/{client_id}/attachments/download-multiple",
            post(bulk::download_multiple),
        )
        .route("/files/{id}", get(files::serve))
        .route(
            "/clients",
            post(records::create_client).get(records::find_clients),
        )
        .route(
            "/clients/{client_id}",
            get(records::get_client).patch(records::update_client),
        )
        .route("/sessions", post(records::create_session))
        .route(
            "/sessions/{session_id}",
            get(records::get_session).patch(records::update_session),
        )
        .route("/workspaces/{id}/storage", get(workspaces::storage))
        .route(
            "/workspaces/{id}/storage/quota",
            axum::routing::patch(workspaces::set_quota),
        );
    Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(crate::metrics::render))
        .nest("/api/v1", api)
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        .with_state(service)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path is not logged: ids in it are not PHI, but a query string could be a
                // signed link. Method and matched route are enough.
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("-", |p| p.as_str());
                tracing::info_span!("request", request_id = %id, method = %request.method(), route)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
        ]))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked");
            Error::refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "internal server error",
            )
            .into_response()
        }))
}
