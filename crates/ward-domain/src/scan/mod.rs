//! Malware scanning of uploads: the [`Scanner`] trait the upload pipeline calls, and
//! [`ClamdScanner`], which asks a ClamAV daemon.
//!
//! A scan answers [`Verdict::Clean`] or [`Verdict::Infected`], or fails with a [`ScanError`].
//! The pipeline never lets a file through on a failure: an unreachable, slow or confused scanner
//! refuses the upload ([`Error::Scan`](crate::Error::Scan)), in every environment. Turning
//! scanning off is the service's decision (development only), never a fallback.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ward_domain::ScanError> {
//! use ward_domain::{ClamdScanner, Scanner as _, Verdict};
//!
//! let clamd = ClamdScanner::tcp("127.0.0.1:3310");
//! match clamd.scan(b"%PDF-1.7 ...").await? {
//!     Verdict::Clean => println!("clean"),
//!     Verdict::Infected { signature } => println!("refused: {signature}"),
//! }
//! # Ok(()) }
//! ```

mod clamd;

use std::fmt;
use std::time::Duration;

pub use clamd::{ClamdAddress, ClamdScanner};

/// What a scan found: exactly one of two answers, so a caller's `match` has no third arm to
/// fail open in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No signature matched.
    Clean,
    /// A signature matched. The name is for operators and the audit log; it is never shown to
    /// the uploading client.
    Infected {
        /// The matching signature's name, as the scanner reported it.
        signature: Signature,
    },
}

/// A malware signature's name as a scanner reported it (`Win.Test.EICAR_HDB-1`): at most
/// [`Signature::MAX_LEN`] characters of letters, digits and `. _ - : /`, so it can be logged and
/// audited without carrying anything else. Anything outside that is replaced by `?`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signature(String);

impl Signature {
    /// The longest name kept; a longer one is cut.
    pub const MAX_LEN: usize = 128;

    /// The name from a scanner's text, restricted to the allowed characters and length.
    pub fn new(text: &str) -> Self {
        Self(
            text.trim()
                .chars()
                .take(Self::MAX_LEN)
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/') {
                        c
                    } else {
                        '?'
                    }
                })
                .collect(),
        )
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a scan gave no verdict. None of these lets a file through.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// The scanner could not be reached or dropped the connection.
    #[error("the malware scanner at {address} cannot be reached: {reason}")]
    Unavailable {
        /// Where it was asked.
        address: String,
        /// The operating system's reason (`connection refused`, …).
        reason: String,
    },
    /// The scanner did not finish within the deadline (connecting, waiting for a free scan slot,
    /// sending and answering all count).
    #[error("the malware scanner did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The file is longer than the scanner takes in one stream (clamd's `StreamMaxLength`).
    #[error("the file ({size} bytes) is longer than the malware scanner takes in one stream")]
    TooLarge {
        /// The file's size in bytes.
        size: u64,
        /// The scanner's limit in bytes, when ward knows it (clamd's own refusal does not say).
        limit: Option<u64>,
    },
    /// The scanner reported an error of its own.
    #[error("the malware scanner failed: {0}")]
    Scanner(String),
    /// The scanner's answer is not one ward understands.
    #[error("the malware scanner's answer is not understood")]
    Protocol,
}

impl ScanError {
    /// Whose fault it is: a file over the scanner's limit is the upload's ([`Fault::Limit`]);
    /// everything else is the scanner's ([`Fault::Unavailable`]), so the client may retry.
    ///
    /// [`Fault::Limit`]: ward_types::Fault::Limit
    /// [`Fault::Unavailable`]: ward_types::Fault::Unavailable
    pub fn fault(&self) -> ward_types::Fault {
        match self {
            Self::TooLarge { .. } => ward_types::Fault::Limit,
            _ => ward_types::Fault::Unavailable,
        }
    }
}

/// A malware scanner for uploaded bytes.
///
/// Implementations bound their own time and memory: a scan returns within its deadline, with a
/// verdict or an error.
#[async_trait::async_trait]
pub trait Scanner: Send + Sync + fmt::Debug {
    /// Scans `bytes`.
    async fn scan(&self, bytes: &[u8]) -> Result<Verdict, ScanError>;

    /// Checks that the scanner answers (for readiness probes).
    async fn ping(&self) -> Result<(), ScanError>;

    /// A short name for logs and metrics (`clamd`).
    fn name(&self) -> &'static str;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_keep_only_safe_characters_and_a_bounded_length() {
        assert_eq!(
            Signature::new(" Win.Test.EICAR_HDB-1 ").as_str(),
            "Win.Test.EICAR_HDB-1"
        );
        assert_eq!(Signature::new("a b\n<c>").as_str(), "a?b??c?");
        assert_eq!(
            Signature::new(&"x".repeat(1000)).as_str().len(),
            Signature::MAX_LEN
        );
    }

    #[test]
    fn only_a_file_over_the_limit_is_the_uploads_fault() {
        assert_eq!(
            ScanError::TooLarge {
                size: 2,
                limit: Some(1)
            }
            .fault(),
            ward_types::Fault::Limit
        );
        for e in [
            ScanError::Timeout(Duration::from_secs(1)),
            ScanError::Protocol,
            ScanError::Scanner("x".into()),
        ] {
            assert_eq!(e.fault(), ward_types::Fault::Unavailable);
        }
    }
}
