//! The HTTP routes: one module per resource, assembled by [`router`].
//!
//! Every route under `/api/v1` but the signed file links needs a bearer token, and scopes every
//! query by the token's workspace: an id of another workspace answers 404, exactly like an id
//! that does not exist.

mod attachments;
mod bulk;
mod doc;
mod files;
mod health;
mod records;
mod workspaces;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::CONTENT_TYPE;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse as _;
use axum::routing::get;
use std::sync::Arc;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    let (routes, doc) = documented().split_for_parts();
    let doc: Arc<str> = serde_json::to_string(&doc)
        .unwrap_or_else(|_| "{}".to_owned())
        .into();
    routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = Arc::clone(&doc);
                async move { ([(CONTENT_TYPE, "application/json")], doc.to_string()) }
            }),
        )
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
            })
            // One line per answer: status and latency, at info.
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
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

/// Every route with its documentation: the router and the OpenAPI document come from these
/// calls alone.
pub(crate) fn documented() -> OpenApiRouter<Service> {
    let uploads = OpenApiRouter::new()
        .routes(routes!(
            attachments::upload_to_session,
            attachments::list_session
        ))
        .routes(routes!(
            attachments::upload_to_client,
            attachments::list_client
        ))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY_BYTES));
    let api = OpenApiRouter::new()
        .routes(routes!(
            attachments::rename_session_file,
            attachments::delete_session_file
        ))
        .routes(routes!(attachments::link_session_file))
        .routes(routes!(
            attachments::rename_client_file,
            attachments::delete_client_file
        ))
        .routes(routes!(attachments::link_client_file))
        .routes(routes!(bulk::download_multiple))
        .routes(routes!(files::serve))
        .routes(routes!(records::create_client, records::find_clients))
        .routes(routes!(
            records::get_client,
            records::update_client,
            records::delete_client
        ))
        .routes(routes!(records::create_session))
        .routes(routes!(
            records::get_session,
            records::update_session,
            records::delete_session
        ))
        .routes(routes!(workspaces::storage))
        .routes(routes!(workspaces::set_quota))
        .merge(uploads);
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(crate::metrics::render))
        .nest("/api/v1", api)
}
