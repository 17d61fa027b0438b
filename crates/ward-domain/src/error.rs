//! The crate's one error type.

use ward_types::Fault;

/// The result of ward-domain calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in ward-domain. No message holds PHI, key bytes or credentials:
/// rows are named by id, values never.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The row does not exist in this workspace (or another workspace's row was named: the two
    /// are not told apart).
    #[error("{resource} {id} not found")]
    NotFound {
        /// The kind of row (`client`, `session`, `attachment`, `workspace`).
        resource: &'static str,
        /// Its id.
        id: String,
    },

    /// A value the caller gave breaks a rule.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input.
        field: &'static str,
        /// Which rule, without echoing the value.
        reason: &'static str,
    },

    /// The change conflicts with the stored state (a duplicate, or a row changed meanwhile).
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicts, without echoing values.
        reason: &'static str,
    },

    /// An upload exceeds a limit or quota; the figures say by how much (in MB, no names).
    #[error("{0}")]
    QuotaExceeded(crate::quota::QuotaFigures),

    /// A sealed value did not open in the cell it was read from: it was written for another
    /// row, column or workspace, or altered, or its key is gone.
    #[error("sealed value in {table}.{column} of row {row} does not open")]
    Unsealable {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The row id.
        row: String,
        /// Why, from ward-crypto.
        #[source]
        source: ward_crypto::Error,
    },

    /// A value of the seed application did not open ([`LegacyImport`](crate::LegacyImport)):
    /// malformed, under a legacy key version not configured, or altered.
    #[error("invalid legacy value: {0}")]
    Legacy(ward_crypto::Error),

    /// Reading the uploaded body failed (the client went away, or its stream broke).
    #[error("reading the upload failed")]
    UploadRead(#[source] std::io::Error),

    /// A bug in ward (a task panicked, a promise of the code did not hold).
    #[error("internal error: {0}")]
    Internal(&'static str),

    /// A stored value is not what ward writes (a corrupt key state, a malformed row).
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),

    /// Keys, sealing or opening failed.
    #[error(transparent)]
    Crypto(#[from] ward_crypto::Error),

    /// The object store failed.
    #[error(transparent)]
    Storage(#[from] ward_storage::Error),

    /// The malware scanner found a known signature in the upload. The signature is named in the
    /// audit log (`attachment.malware`) and the service's log, never here.
    #[error("the file was refused: the malware scanner recognised it")]
    Infected,

    /// The upload could not be scanned for malware (the scanner is unreachable, too slow or
    /// failed, or the file is longer than it takes); it is refused, never let through.
    #[error("the upload could not be scanned: {0}")]
    Scan(#[from] crate::scan::ScanError),

    /// An upload was refused by validation or sanitising.
    #[error(transparent)]
    Sanitize(#[from] ward_sanitize::Error),

    /// A legacy export file is not in the import format (see `LegacyImport::import_file`); the
    /// import stopped at this line.
    #[error("import file line {line}: {reason}")]
    ImportFile {
        /// The line, from 1.
        line: u64,
        /// What was wrong, never the line's text.
        reason: &'static str,
    },

    /// Reading a legacy export file failed; the import stopped at this line.
    #[error("reading the import file failed at line {line}")]
    ImportRead {
        /// The line, from 1.
        line: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A backup could not be made, verified or restored ([`BackupError`](crate::BackupError)
    /// says which step and why).
    #[error(transparent)]
    Backup(crate::backup::BackupError),

    /// The database failed (connection, query or constraint).
    #[error("database error")]
    Database(#[from] sea_orm::DbErr),
}

impl Error {
    /// Whose fault the error is, for mapping to a response.
    pub fn fault(&self) -> Fault {
        match self {
            Self::NotFound { .. } => Fault::NotFound,
            Self::InvalidInput { .. } => Fault::ClientInput,
            Self::Conflict { .. } => Fault::Conflict,
            Self::QuotaExceeded(_) => Fault::Limit,
            Self::UploadRead(_) | Self::Legacy(_) | Self::ImportFile { .. } => Fault::ClientInput,
            Self::ImportRead { .. } => Fault::Unavailable,
            Self::Unsealable { .. } | Self::Corrupt(_) | Self::Internal(_) => Fault::Server,
            Self::Infected => Fault::ClientInput,
            Self::Scan(e) => e.fault(),
            Self::Crypto(e) => e.fault(),
            Self::Storage(e) => e.fault(),
            Self::Sanitize(e) => e.fault(),
            Self::Backup(e) => e.fault(),
            Self::Database(e) => match e {
                sea_orm::DbErr::Conn(_) | sea_orm::DbErr::ConnectionAcquire(_) => {
                    Fault::Unavailable
                }
                _ => Fault::Server,
            },
        }
    }

    pub(crate) fn not_found(resource: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            resource,
            id: id.to_string(),
        }
    }
}
