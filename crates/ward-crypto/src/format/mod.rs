//! Byte layouts of ward's small formats: parsing and writing only, no cryptography.

pub(crate) mod field;
pub(crate) mod wrapped;
