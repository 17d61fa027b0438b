//! Versioned envelope AES-256-GCM for protected health information at rest.
//!
//! (Crate documentation is completed as the modules land; see README.md.)

mod error;
mod keys;

pub use error::{Error, KeyRingError, Result};
pub use keys::{KEY_LEN, KeyId, KeyMaterial};

pub use secrecy;
