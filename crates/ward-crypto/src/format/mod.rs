//! Byte layouts of ward's small formats: parsing and writing only, no cryptography.

pub(crate) mod field;
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
