//! The sea-orm entities: one module per table, as the migrations create them.
//!
//! Columns holding PHI are [`SealedBytes`](crate::SealedBytes) (ciphertext bound to table,
//! column, workspace and row) and, where exact search is needed, [`IndexBytes`](crate::IndexBytes)
//! (a blind index). Entities are plain data: reading and writing PHI goes through the
//! repositories ([`Clients`](crate::Clients), [`Sessions`](crate::Sessions), …), which seal and
//! open, so a caller never handles ciphertext.

pub mod attachment;
pub mod audit_event;
pub mod client;
pub mod data_key;
pub mod session;
pub mod upload_intent;
pub mod workspace;
