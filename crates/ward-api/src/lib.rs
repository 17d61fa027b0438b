//! The ward service: an HTTP API over ward-domain's sealed records and encrypted attachments,
//! and the `ward` command that runs and operates it.
//!
//! The crate is thin. It routes, authenticates, maps errors to statuses and reads
//! configuration; every rule (validation, sanitising, encryption, quotas, audit) lives in the
//! crates below it.
//!
//! # Map
//!
//! | concept | where |
//! |---|---|
//! | configuration, the embedded default | [`config`]: [`Config`] from `WARD_*` variables |
//! | the composition root | [`Service`]: database, store, keys |
//! | tokens and download links | [`auth`]: [`Keys`], [`Claims`], [`Caller`] |
//! | routes | [`router`]: `/health`, `/ready`, `/metrics` and `/api/v1/...` |
//! | metrics | [`metrics`]: requests, latency, bytes and refusals, in the Prometheus format |
//! | serving with a bounded drain | [`server::serve`]; over TLS 1.3 with reloads, [`tls::serve_tls`] |
//! | errors as answers | [`Error`]: `{"detail": ..., "code": ...}` |
//!
//! # Example
//!
//! A service on the embedded stack (SQLite in memory, an in-memory store), asked over its
//! router:
//!
//! ```
//! use std::sync::Arc;
//! use ward_api::{Keys, Service};
//! use ward_crypto::{CachePolicy, KeyMaterial, LocalKek};
//! use ward_domain::ward_storage::{Environment, MemoryStore, RequiredProof};
//! use ward_domain::{Domain, migration};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(async {
//! let db = ward_domain::connect("sqlite::memory:").await?;
//! migration::up(&db).await?;
//! let ring = format!("1:{}:active", KeyMaterial::generate()?.to_base64().as_str());
//! let domain = Domain::new(db, Arc::new(LocalKek::parse(&ring)?), CachePolicy::new());
//! let keys = Keys::from_base64_secret(KeyMaterial::generate()?.to_base64().as_str())?;
//! let service = Service::new(
//!     domain,
//!     Arc::new(MemoryStore::new()),
//!     RequiredProof::ClientSide,
//!     keys,
//!     Environment::Development,
//! );
//! let app = ward_api::router(service);
//! # let _ = app;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
pub mod config;
mod error;
mod kek;
pub mod metrics;
mod routes;
pub mod server;
mod service;
pub mod tls;

pub use auth::{Caller, Claims, Keys, Role};
pub use config::Config;
pub use error::{Error, Result};
pub use routes::{MAX_UPLOAD_BODY_BYTES, REQUEST_ID, router};
pub use service::{
    DEFAULT_UPLOAD_CONCURRENCY, DEFAULT_UPLOADS_PER_MINUTE, Service, UPLOAD_SLOT_WAIT, init_store,
};
