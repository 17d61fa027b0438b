//! Versioned envelope AES-256-GCM for protected health information at rest.
//!
//! (Crate documentation is completed as the modules land; see README.md.)

// Used by the field and stream modules as they land; removed once they do.
#[expect(dead_code, reason = "consumers land in the next commits")]
mod aead;
mod dek;
mod derive;
mod error;
mod keys;

pub use dek::{DataKeySource, InMemoryKeySource};
pub use error::{Error, KeyRingError, Result};
pub use keys::{DataKey, KEY_LEN, KeyId, KeyMaterial};

pub use secrecy;
