//! Byte layouts of ward's formats: parsing, writing and length arithmetic only, no cryptography.
//!
//! - [`field`]: field ciphertexts;
//! - [`stream`]: the stream header and the chunk grid's lengths (its public types are
//!   re-exported from [`crate::stream`]);
//! - [`wrapped`]: wrapped data keys.

pub(crate) mod field;
pub(crate) mod stream;
pub(crate) mod wrapped;

use crate::error::{Error, Result};

/// Checks that `bytes` (a value of `format`) is non-empty and starts with `version`, the only
/// version this build reads.
pub(crate) fn check_version(bytes: &[u8], format: &'static str, version: u8) -> Result<()> {
    let (&found, _) = bytes.split_first().ok_or(Error::Malformed {
        format,
        reason: "empty input",
    })?;
    if found != version {
        return Err(Error::UnsupportedVersion { version: found });
    }
    Ok(())
}
