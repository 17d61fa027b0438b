//! In-test imitations of the key services ward's KEK providers call and that cannot be installed
//! on a test machine: HashiCorp Vault's Transit engine ([`vault`]), Azure Key Vault with a managed
//! identity endpoint ([`azure`]) and Google Cloud KMS with an OAuth token endpoint ([`gcp`]).
//!
//! Each speaks the part of the service's documented HTTP API that ward calls, on loopback (Vault
//! and Key Vault over TLS with a CA made at start, Cloud KMS over plain HTTP since its client
//! trusts only the system's roots), records every request, and can be told to refuse, throttle or
//! stall ([`Troubled`]). They are imitations: the real services' behaviour beyond these calls is
//! not claimed.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use ward_imitations::Troubled as _;
//! let vault = ward_imitations::vault::start().await;
//! assert!(vault.address().starts_with("https://127.0.0.1:"));
//! assert_eq!(vault.requests(), 0);
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod azure;
pub mod gcp;
mod server;
pub mod vault;

pub use server::{Imitation, Seen, Troubled};
