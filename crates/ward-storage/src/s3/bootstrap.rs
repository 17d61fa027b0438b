//! Bucket bootstrap: create the bucket, turn default encryption on, block public access, abort
//! stale multipart uploads, report versioning; each step's outcome as the server gave it.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleRule,
    LifecycleRuleFilter, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use serde::{Deserialize, Serialize};

use super::{S3CallError, S3Store};
use crate::error::{Error, Result};
use crate::sse::SsePolicy;

/// Days after which an unfinished multipart upload is aborted by the bucket's lifecycle rule.
pub const ABORT_MULTIPART_AFTER_DAYS: i32 = 7;
/// The id of ward's lifecycle rule.
pub const LIFECYCLE_RULE_ID: &str = "ward-abort-incomplete-multipart-uploads";

/// How one bootstrap step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepOutcome {
    /// The step was applied now.
    Applied,
    /// Nothing to do: it was already so (the bucket existed).
    AlreadyInPlace,
    /// The server does not implement this call (HTTP 501 or `NotImplemented`). Not a success,
    /// but not an error either: see [`ensure_bucket`] for why each step may be missing.
    NotImplemented {
        /// The server's answer.
        detail: String,
    },
    /// The server refused or failed the call. Not a success. [`ensure_bucket`] returns
    /// [`Error::BucketSetup`] instead of a report holding this for its required steps; only the
    /// versioning report can still say `Failed`.
    Failed {
        /// The server's answer.
        detail: String,
    },
}

impl StepOutcome {
    /// Whether the step is in effect.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Applied | Self::AlreadyInPlace)
    }

    fn from_call<T>(result: std::result::Result<T, S3CallError>) -> Self {
        match result {
            Ok(_) => Self::Applied,
            Err(e) if e.is_not_implemented() => Self::NotImplemented {
                detail: e.summary(),
            },
            Err(e) => Self::Failed {
                detail: e.summary(),
            },
        }
    }
}

/// The bucket's versioning as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "versioning", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VersioningReport {
    /// Versioning is on.
    Enabled,
    /// Versioning was on and is suspended.
    Suspended,
    /// Versioning was never turned on.
    Disabled,
    /// The server does not implement the call.
    NotImplemented {
        /// The server's answer.
        detail: String,
    },
    /// The call failed.
    Failed {
        /// The server's answer.
        detail: String,
    },
}

/// What [`ensure_bucket`] did, step by step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BootstrapReport {
    /// The bucket.
    pub bucket: String,
    /// Creating the bucket (`AlreadyInPlace` when it existed).
    pub created: StepOutcome,
    /// Default encryption matching the store's SSE policy.
    pub default_encryption: StepOutcome,
    /// All four public-access blocks on.
    pub public_access_block: StepOutcome,
    /// The lifecycle rule aborting multipart uploads after [`ABORT_MULTIPART_AFTER_DAYS`].
    pub abort_multipart_lifecycle: StepOutcome,
    /// Versioning, reported (ward does not change it).
    pub versioning: VersioningReport,
}

impl BootstrapReport {
    /// Whether every step is in effect.
    pub fn is_complete(&self) -> bool {
        self.gaps().is_empty()
    }

    /// The steps not in effect, by name.
    pub fn gaps(&self) -> Vec<&'static str> {
        [
            ("create bucket", &self.created),
            ("default encryption", &self.default_encryption),
            ("public access block", &self.public_access_block),
            ("abort multipart lifecycle", &self.abort_multipart_lifecycle),
        ]
        .into_iter()
        .filter(|(_, outcome)| !outcome.is_success())
        .map(|(name, _)| name)
        .collect()
    }
}

fn build_error(
    operation: &'static str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> Error {
    Error::Generic {
        store: "S3Store",
        operation,
        source: Box::new(e),
    }
}

/// Makes the store's bucket ready: creates it if missing, turns default encryption on, blocks
/// all public access, adds a lifecycle rule aborting incomplete multipart uploads after 7 days,
/// and reports versioning.
///
/// # Errors
///
/// A refusal is an error, never a flag in an `Ok` report: failing to reach or create the bucket,
/// and the server refusing or failing default encryption, the public-access block or the
/// lifecycle rule (access denied, a malformed or rejected setting, a server error), return
/// [`Error::BucketSetup`] naming the step (or the S3 call's error for the bucket itself). The
/// steps run in order and the first refusal stops the bootstrap.
///
/// # Steps a server may not implement
///
/// A server that answers a step with HTTP 501 / `NotImplemented` does not have that feature at
/// all; the step is reported as [`StepOutcome::NotImplemented`] (never counted as success, and
/// listed by [`BootstrapReport::gaps`]) and the bootstrap goes on, because each of these steps is
/// a second line of defence that ward does not rely on:
///
/// - **default encryption**: every put already requests the store's [`SsePolicy`] and
///   [`verify_file_encrypted`](crate::verify_file_encrypted) proves each object; a server without
///   server-side encryption (MinIO without KMS, s3s) is run with the client-side proof;
/// - **public access block**: ward never sets ACLs or policies and only hands out presigned URLs;
///   a server without the API (MinIO, s3s) has no per-bucket public-access switch to turn off;
/// - **abort multipart lifecycle**: housekeeping only; a failed multipart upload is aborted by
///   the store itself and is never visible as an object.
///
/// Callers that require every step check [`BootstrapReport::is_complete`].
pub async fn ensure_bucket(store: &S3Store) -> Result<BootstrapReport> {
    let client = store.client();
    let bucket = store.bucket();

    let exists = client.head_bucket().bucket(bucket).send().await;
    let created = match exists {
        Ok(_) => StepOutcome::AlreadyInPlace,
        Err(e) => {
            let e = S3CallError::from_sdk(e);
            if !e.is_not_found() {
                return Err(e.into_error("head_bucket", None));
            }
            let mut req = client.create_bucket().bucket(bucket);
            let region = client.config().region().map(|r| r.as_ref().to_owned());
            if let Some(region) = region.filter(|r| r != "us-east-1") {
                req = req.create_bucket_configuration(
                    CreateBucketConfiguration::builder()
                        .location_constraint(BucketLocationConstraint::from(region.as_str()))
                        .build(),
                );
            }
            req.send()
                .await
                .map_err(|e| S3CallError::from_sdk(e).into_error("create_bucket", None))?;
            tracing::info!(bucket, "bucket created");
            StepOutcome::Applied
        }
    };

    let by_default = match store.sse_policy() {
        SsePolicy::Kms { key_id } => ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(key_id),
        _ => ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
    }
    .build()
    .map_err(|e| build_error("put_bucket_encryption", e))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|e| build_error("put_bucket_encryption", e))?;
    let default_encryption = StepOutcome::from_call(
        client
            .put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(S3CallError::from_sdk),
    );

    refused(bucket, "default encryption", &default_encryption)?;

    let public_access_block = StepOutcome::from_call(
        client
            .put_public_access_block()
            .bucket(bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(S3CallError::from_sdk),
    );

    refused(bucket, "public access block", &public_access_block)?;

    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(ABORT_MULTIPART_AFTER_DAYS)
                .build(),
        )
        .build()
        .map_err(|e| build_error("put_bucket_lifecycle_configuration", e))?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| build_error("put_bucket_lifecycle_configuration", e))?;
    let abort_multipart_lifecycle = StepOutcome::from_call(
        client
            .put_bucket_lifecycle_configuration()
            .bucket(bucket)
            .lifecycle_configuration(lifecycle)
            .send()
            .await
            .map_err(S3CallError::from_sdk),
    );

    refused(
        bucket,
        "abort multipart lifecycle",
        &abort_multipart_lifecycle,
    )?;

    let versioning = match client.get_bucket_versioning().bucket(bucket).send().await {
        Ok(out) => match out.status() {
            Some(BucketVersioningStatus::Enabled) => VersioningReport::Enabled,
            Some(BucketVersioningStatus::Suspended) => VersioningReport::Suspended,
            _ => VersioningReport::Disabled,
        },
        Err(e) => {
            let e = S3CallError::from_sdk(e);
            if e.is_not_implemented() {
                VersioningReport::NotImplemented {
                    detail: e.summary(),
                }
            } else {
                VersioningReport::Failed {
                    detail: e.summary(),
                }
            }
        }
    };

    let report = BootstrapReport {
        bucket: bucket.to_owned(),
        created,
        default_encryption,
        public_access_block,
        abort_multipart_lifecycle,
        versioning,
    };
    if report.is_complete() {
        tracing::info!(bucket, versioning = ?report.versioning, "bucket bootstrap complete");
    } else {
        tracing::warn!(bucket, gaps = ?report.gaps(), "bucket bootstrap incomplete");
    }
    Ok(report)
}

/// Turns a refused step into [`Error::BucketSetup`]; applied and not-implemented steps pass.
fn refused(bucket: &str, step: &'static str, outcome: &StepOutcome) -> Result<()> {
    match outcome {
        StepOutcome::Failed { detail } => {
            tracing::error!(bucket, step, detail, "bucket bootstrap refused");
            Err(Error::BucketSetup {
                bucket: bucket.to_owned(),
                step,
                detail: detail.clone(),
            })
        }
        _ => Ok(()),
    }
}
