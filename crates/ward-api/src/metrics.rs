//! Service metrics in the Prometheus text format, served at `GET /metrics`.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `ward_http_requests_total` | counter | `method`, `route` (the matched template, never a path with ids), `status` |
//! | `ward_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `ward_http_request_bytes_total`, `ward_http_response_bytes_total` | counter | `route` (bodies with a length: uploads, downloads with `Content-Length`) |
//! | `ward_upload_bytes_total` | counter | — (stored bytes after sanitising) |
//! | `ward_refusals_total` | counter | `reason`: `quota.<scope>`, `rate_limit`, `verify` (an object the store could not prove encrypted), `limit.file_size`, … |
//! | `ward_upload_scans_total` | counter | `outcome`: `clean`, `infected`, `too_large`, `timeout`, `unavailable`, `error` |
//! | `ward_upload_scan_duration_seconds` | histogram | — |
//!
//! The recorder is process-wide: the first [`handle`] installs it, later calls share it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use ward_domain::{ScanError, Scanner, Verdict};

/// Latency buckets in seconds: 5 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's metrics handle, installing the recorder on first use; `None` when another
/// recorder was installed first (the process then exports through that one).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .as_ref()
}

/// `GET /metrics`
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn render() -> Response {
    match handle() {
        Some(h) => {
            h.run_upkeep();
            (
                [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                h.render(),
            )
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Counts a refusal of `reason` (a rule id, never a value).
pub(crate) fn refusal(reason: &'static str) {
    metrics::counter!("ward_refusals_total", "reason" => reason).increment(1);
}

/// A [`Scanner`] that counts its scans by outcome and times them
/// (`ward_upload_scans_total`, `ward_upload_scan_duration_seconds`).
#[derive(Debug)]
pub(crate) struct MeteredScanner {
    inner: std::sync::Arc<dyn Scanner>,
}

impl MeteredScanner {
    pub(crate) fn new(inner: std::sync::Arc<dyn Scanner>) -> Self {
        Self { inner }
    }
}

#[async_trait::async_trait]
impl Scanner for MeteredScanner {
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, ScanError> {
        let started = Instant::now();
        let result = self.inner.scan(bytes).await;
        let outcome = match &result {
            Ok(Verdict::Clean) => "clean",
            Ok(Verdict::Infected { .. }) => "infected",
            Err(ScanError::TooLarge { .. }) => "too_large",
            Err(ScanError::Timeout(_)) => "timeout",
            Err(ScanError::Unavailable { .. }) => "unavailable",
            Err(_) => "error",
        };
        metrics::counter!("ward_upload_scans_total", "outcome" => outcome).increment(1);
        metrics::histogram!("ward_upload_scan_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn ping(&self) -> Result<(), ScanError> {
        self.inner.ping().await
    }

    fn name(&self) -> &'static str {
        self.inner.name()
    }
}

/// Counts stored upload bytes.
pub(crate) fn uploaded(bytes: u64) {
    metrics::counter!("ward_upload_bytes_total").increment(bytes);
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// The middleware that times and counts every request by its matched route.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    if let Some(n) = content_length(request.headers()) {
        metrics::counter!("ward_http_request_bytes_total", "route" => route.clone()).increment(n);
    }
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    if let Some(n) = content_length(response.headers()) {
        metrics::counter!("ward_http_response_bytes_total", "route" => route.clone()).increment(n);
    }
    metrics::histogram!(
        "ward_http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "ward_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => status
    )
    .increment(1);
    response
}
