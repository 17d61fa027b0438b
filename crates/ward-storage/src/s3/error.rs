//! The S3 backend's private error: status, error code and message of a failed call, mapped into
//! the crate's `Error` (not found and refused credentials map across; the rest is `Generic`).

use std::fmt;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::{BoxError, Error};
use crate::key::ObjectKey;

use super::STORE;

/// One failed S3 call.
#[derive(Debug)]
pub(crate) struct S3CallError {
    /// The HTTP status, when a response arrived.
    pub(crate) status: Option<u16>,
    /// The S3 error code (`NoSuchKey`, `SignatureDoesNotMatch`, `NotImplemented`, …).
    pub(crate) code: Option<String>,
    message: Option<String>,
    source: BoxError,
}

impl S3CallError {
    pub(crate) fn from_sdk<E>(err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        Self {
            status,
            code: err.code().map(str::to_owned),
            message: err.message().map(str::to_owned),
            source: format!("{}", DisplayErrorContext(&err)).into(),
        }
    }

    /// Whether the server said it does not implement the call (HTTP 501 or `NotImplemented`).
    pub(crate) fn is_not_implemented(&self) -> bool {
        self.status == Some(501) || self.code.as_deref() == Some("NotImplemented")
    }

    /// Whether the server said the thing asked about does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        self.status == Some(404)
            || matches!(
                self.code.as_deref(),
                Some("NoSuchKey" | "NotFound" | "NoSuchBucket")
            )
    }

    /// Whether the server refused the credentials or signature.
    pub(crate) fn is_unauthorized(&self) -> bool {
        self.status == Some(403)
            || matches!(
                self.code.as_deref(),
                Some(
                    "InvalidAccessKeyId"
                        | "SignatureDoesNotMatch"
                        | "AccessDenied"
                        | "ExpiredToken"
                        | "InvalidToken"
                )
            )
    }

    /// Maps into the crate's error for `operation` on `key`.
    pub(crate) fn into_error(self, operation: &'static str, key: Option<&ObjectKey>) -> Error {
        if self.is_unauthorized() {
            return Error::Unauthorized {
                store: STORE,
                message: self.summary(),
            };
        }
        if let Some(key) = key
            && self.is_not_found()
            && self.code.as_deref() != Some("NoSuchBucket")
        {
            return Error::NotFound {
                key: key.to_string(),
            };
        }
        Error::Generic {
            store: STORE,
            operation,
            source: Box::new(self),
        }
    }

    /// `status 403, SignatureDoesNotMatch: …`, from what the server sent.
    pub(crate) fn summary(&self) -> String {
        let mut out = String::new();
        if let Some(status) = self.status {
            out.push_str(&format!("status {status}"));
        }
        if let Some(code) = &self.code {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(code);
        }
        if let Some(message) = &self.message {
            out.push_str(": ");
            out.push_str(message);
        }
        if self.code.is_none() && self.message.is_none() {
            // No S3 error document: the cause is in the client's own error (a response it
            // could not parse, a timeout, a refused connection).
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&self.source.to_string());
        }
        out
    }
}

impl fmt::Display for S3CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for S3CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}
