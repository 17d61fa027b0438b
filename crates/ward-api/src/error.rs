//! The crate's one error type, and how every error becomes an HTTP answer.
//!
//! An answer's body is always `{"detail": "...", "code": "..."}`: `detail` is a sentence for a
//! person, `code` a stable rule id for a program. Neither ever holds PHI, a key or a credential:
//! ward's lower crates already write their messages from ids and fixed phrases, and server-side
//! faults are answered with no more than their class (their detail goes to the log, by id).

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ward_domain::{Fault, QuotaScope, ward_sanitize};

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ward-api: a refused request (answered with its status) or a
/// configuration the service will not start with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is refused: the status, a stable rule id and a message without PHI.
    #[error("{detail}")]
    Refused {
        /// The HTTP status to answer with.
        status: StatusCode,
        /// A stable rule id (`not_found`, `token.expired`, `limit.file_size`, …).
        code: &'static str,
        /// A sentence naming what was wrong (never a value the caller sent).
        detail: String,
    },

    /// Too many requests of this kind from this caller; answered 429 with `Retry-After`.
    #[error("too many uploads: retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds until the limit's window ends.
        retry_after_seconds: u64,
    },

    /// Every upload slot of this replica stayed taken for as long as an upload may wait; answered
    /// 503 with `Retry-After`.
    #[error("the service is busy with other uploads: retry in {retry_after_seconds} s")]
    Busy {
        /// Seconds to wait before trying again.
        retry_after_seconds: u64,
    },

    /// The configuration is incomplete or unsafe; every problem found is named.
    #[error("ward will not start: {}", .problems.join("; "))]
    Config {
        /// Each missing or unsafe setting, by its environment variable.
        problems: Vec<String>,
    },

    /// The data layer failed; mapped to a status by its [`Fault`].
    #[error(transparent)]
    Domain(#[from] ward_domain::Error),

    /// Reading or writing the service's own files (the embedded data directory, key files).
    #[error("{what}: {source}")]
    Io {
        /// What was being done, naming the path (never its contents).
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A refusal with `status`, rule id `code` and message `detail`.
    pub fn refused(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 401: no token, or one that is not valid now. The detail never says which check failed
    /// beyond the rule id.
    pub(crate) fn unauthorized(code: &'static str) -> Self {
        Self::refused(
            StatusCode::UNAUTHORIZED,
            code,
            "a valid bearer token is required",
        )
    }

    /// 404 for `resource`: also the answer for another workspace's rows.
    pub(crate) fn not_found(resource: &'static str) -> Self {
        Self::refused(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{resource} not found"),
        )
    }

    /// 400 for a request parameter that breaks a rule.
    pub(crate) fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::refused(StatusCode::BAD_REQUEST, code, detail)
    }

    /// The answer: status, rule id and the message a caller may see.
    pub fn answer(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Refused {
                status,
                code,
                detail,
            } => (*status, code, detail.clone()),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit",
                self.to_string(),
            ),
            Self::Busy { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "upload.busy",
                self.to_string(),
            ),
            Self::Config { .. } | Self::Io { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "internal server error".to_owned(),
            ),
            Self::Domain(e) => domain_answer(e),
        }
    }
}

/// The answer to a data-layer error: the fault class picks the status, the variant the rule id.
fn domain_answer(e: &ward_domain::Error) -> (StatusCode, &'static str, String) {
    use ward_domain::Error as D;
    match e {
        D::NotFound { resource, .. } => (
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{resource} not found"),
        ),
        D::QuotaExceeded(figures) => {
            let (status, code) = match figures.scope {
                QuotaScope::File => (StatusCode::PAYLOAD_TOO_LARGE, "limit.file_size"),
                QuotaScope::Session => (StatusCode::PAYLOAD_TOO_LARGE, "quota.session"),
                QuotaScope::Client => (StatusCode::PAYLOAD_TOO_LARGE, "quota.client"),
                QuotaScope::Workspace => (StatusCode::INSUFFICIENT_STORAGE, "quota.workspace"),
                _ => (StatusCode::PAYLOAD_TOO_LARGE, "quota"),
            };
            (status, code, figures.to_string())
        }
        D::Sanitize(s) => sanitize_answer(s),
        D::Infected => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "upload.malware",
            e.to_string(),
        ),
        D::Scan(ward_domain::ScanError::TooLarge { .. }) => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit.scan_size",
            e.to_string(),
        ),
        D::Scan(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "scan.unavailable",
            "the upload could not be scanned for malware; retry later".to_owned(),
        ),
        D::Conflict { .. } => (StatusCode::CONFLICT, "conflict", e.to_string()),
        D::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "invalid_input", e.to_string()),
        D::UploadRead(_) => (StatusCode::BAD_REQUEST, "upload.read", e.to_string()),
        _ => match e.fault() {
            Fault::NotFound => (StatusCode::NOT_FOUND, "not_found", "not found".to_owned()),
            Fault::ClientInput => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_input",
                e.to_string(),
            ),
            Fault::Conflict => (StatusCode::CONFLICT, "conflict", e.to_string()),
            Fault::Limit => (StatusCode::PAYLOAD_TOO_LARGE, "limit", e.to_string()),
            Fault::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "a dependency of the service is unavailable; retry later".to_owned(),
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "internal server error".to_owned(),
            ),
        },
    }
}

/// A file the sanitiser refused: 415 for a type ward does not take, 413 for one over the size
/// limit, 422 for one that is damaged, mismatched or too complex to check.
fn sanitize_answer(e: &ward_sanitize::Error) -> (StatusCode, &'static str, String) {
    use ward_sanitize::{Error as S, NameRule};
    let status = match e {
        S::UnsupportedType { .. }
        | S::Name {
            reason: NameRule::NoExtension | NameRule::NotAllowed,
        } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        S::Limit(_) if e.rule() == "limit.file_size" => StatusCode::PAYLOAD_TOO_LARGE,
        _ if e.fault().is_client_fault() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server",
                "internal server error".to_owned(),
            );
        }
    };
    (status, e.rule(), e.to_string())
}

/// Whether the store could not prove an object encrypted (the object was deleted, fail-closed).
fn is_verify_failure(e: &Error) -> bool {
    matches!(
        e,
        Error::Domain(ward_domain::Error::Storage(
            ward_domain::ward_storage::Error::EncryptionVerification { .. }
                | ward_domain::ward_storage::Error::EncryptionVerificationCleanup { .. }
        ))
    )
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub(crate) detail: &'a str,
    pub(crate) code: &'a str,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code, detail) = self.answer();
        if matches!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::TOO_MANY_REQUESTS
                | StatusCode::INSUFFICIENT_STORAGE
        ) || matches!(self, Self::Busy { .. })
        {
            crate::metrics::refusal(code);
        }
        if is_verify_failure(&self) {
            crate::metrics::refusal("verify");
        }
        if matches!(self, Self::Busy { .. }) {
            tracing::warn!(code, "upload refused: every upload slot stayed taken");
        } else if status.is_server_error() {
            // The detail of a server fault is for operators: ids and classes only, as every
            // ward error message is.
            tracing::error!(code, status = status.as_u16(), error = %self, "request failed");
        }
        let mut answer = (
            status,
            Json(ErrorBody {
                detail: &detail,
                code,
            }),
        )
            .into_response();
        if let Self::RateLimited {
            retry_after_seconds,
        }
        | Self::Busy {
            retry_after_seconds,
        } = self
        {
            answer
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_seconds));
        }
        answer
    }
}
