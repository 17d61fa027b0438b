//! ward-domain integration tests: one binary, one module per area, each test run on SQLite and
//! on PostgreSQL.

/// The attachment pipeline over LocalStore and moto: sanitising, encryption, quotas, names,
/// deletion, and a failure injected at every step followed by the reconciler.
mod attachments;
/// The audit chain: appends under concurrency, and every kind of tampering named.
mod audit;
/// Whole-database backups: create, verify (tampered dumps and manifests refused), restore (into
/// empty targets only), across a KEK rotation; the reconciler's sweep never deletes one.
mod backup;
/// Databases to test against (a temporary SQLite file; a fresh schema on PostgreSQL) and a
/// domain over each.
mod common;
/// Soft deletion of clients and sessions.
mod deletion;
/// Importing the seed application's formats, resumably.
mod import;
/// Data keys: ids from the database, rotation, destruction, wrapping bound to the workspace.
mod keys;
/// Rate limits counted in the database, and quota changes.
mod limits;
/// Migrations: idempotent, reversible, and safe when two processes run them at once.
mod migrations;
/// Rotation jobs: rewrap under a new KEK, re-seal under a new data key (resumable, several
/// workers), destroy only unused keys.
mod rotation;
/// Malware scanning against a real clamd: verdicts, limits, a stopped and a stalled scanner,
/// and the pipeline refusing what it cannot pass.
mod scan;
/// Sealed cells: plaintext never stored, values bound to their cell, blind-index search.
mod sealed;
/// Object stores for the pipeline tests, and the fault-injecting wrapper.
mod stores;
