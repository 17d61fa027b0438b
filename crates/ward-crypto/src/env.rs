//! The deployment environment, read from `WARD_ENV`: ward-types' [`Environment`], shared with
//! ward-storage, so both crates parse the variable the same way.

pub(crate) use ward_types::Environment;

use crate::error::{Error, Result};

/// The environment named by `WARD_ENV`; `Production` when it is unset, and
/// [`Error::InvalidEnvironment`] for a value that names none.
pub(crate) fn from_env() -> Result<Environment> {
    Environment::from_env().map_err(|_| Error::InvalidEnvironment)
}
