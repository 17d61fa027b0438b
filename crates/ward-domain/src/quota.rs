//! Upload limits and storage quotas: what a file, a session, a client and a workspace may hold.

use std::fmt;
use std::time::Duration;

/// Bytes in the "MB" of quota messages (2^20, as the limits are set).
const MB: f64 = 1024.0 * 1024.0;

/// Per-file and per-owner limits of uploads. The workspace's quota is stored on its row
/// ([`Workspace::quota_bytes`](crate::Workspace::quota_bytes)).
///
/// Defaults: 10 MiB per file, 50 MiB per session, 100 MiB per client (a client's total includes
/// its sessions' files), and 15 minutes for an upload to commit before the reconciler may
/// resolve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    max_file_bytes: u64,
    max_session_bytes: u64,
    max_client_bytes: u64,
    upload_deadline: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_session_bytes: 50 * 1024 * 1024,
            max_client_bytes: 100 * 1024 * 1024,
            upload_deadline: Duration::from_secs(15 * 60),
        }
    }
}

impl UploadLimits {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The largest file accepted (after sanitising; the upload read stops just past it).
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// The most one session's live files and uploads in flight may total.
    pub fn max_session_bytes(&self) -> u64 {
        self.max_session_bytes
    }

    /// The most one client's live files and uploads in flight may total, its sessions' included.
    pub fn max_client_bytes(&self) -> u64 {
        self.max_client_bytes
    }

    /// How long an upload may take from reservation to commit; after it the reconciler deletes
    /// what the upload stored and releases its reservation.
    pub fn upload_deadline(&self) -> Duration {
        self.upload_deadline
    }

    /// Sets the per-file limit.
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets the per-session quota.
    pub fn with_max_session_bytes(mut self, bytes: u64) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Sets the per-client quota.
    pub fn with_max_client_bytes(mut self, bytes: u64) -> Self {
        self.max_client_bytes = bytes;
        self
    }

    /// Sets the upload deadline.
    pub fn with_upload_deadline(mut self, deadline: Duration) -> Self {
        self.upload_deadline = deadline;
        self
    }
}

/// Which quota an upload would exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuotaScope {
    /// The per-file limit.
    File,
    /// The session's quota.
    Session,
    /// The client's quota.
    Client,
    /// The workspace's quota.
    Workspace,
    /// The most bytes one bulk download takes ([`MAX_BULK_BYTES`](crate::MAX_BULK_BYTES));
    /// `file_bytes` is the files' total.
    BulkDownload,
}

impl fmt::Display for QuotaScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::File => "file size",
            Self::Session => "session",
            Self::Client => "client",
            Self::Workspace => "workspace",
            Self::BulkDownload => "bulk download",
        })
    }
}

/// The figures of a refused upload: usage before it, the quota, the file's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaFigures {
    /// Which quota.
    pub scope: QuotaScope,
    /// Bytes used (stored and reserved) before this upload; 0 for the per-file limit.
    pub used_bytes: u64,
    /// The quota in bytes.
    pub quota_bytes: u64,
    /// The file's size in bytes.
    pub file_bytes: u64,
}

impl QuotaFigures {
    /// Bytes by which the upload exceeds the quota.
    pub fn overage_bytes(&self) -> u64 {
        (self.used_bytes + self.file_bytes).saturating_sub(self.quota_bytes)
    }
}

impl fmt::Display for QuotaFigures {
    /// For example: `client storage quota exceeded: 99.50 MB used of 100.00 MB, file is 1.00 MB
    /// (0.50 MB over)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |b: u64| b as f64 / MB;
        match self.scope {
            QuotaScope::File => write!(
                f,
                "file is {:.2} MB, the limit is {:.2} MB ({:.2} MB over)",
                mb(self.file_bytes),
                mb(self.quota_bytes),
                mb(self.overage_bytes())
            ),
            QuotaScope::BulkDownload => write!(
                f,
                "the files come to {:.2} MB, a bulk download takes at most {:.2} MB",
                mb(self.file_bytes),
                mb(self.quota_bytes)
            ),
            scope => write!(
                f,
                "{scope} storage quota exceeded: {:.2} MB used of {:.2} MB, file is {:.2} MB \
                 ({:.2} MB over)",
                mb(self.used_bytes),
                mb(self.quota_bytes),
                mb(self.file_bytes),
                mb(self.overage_bytes())
            ),
        }
    }
}
