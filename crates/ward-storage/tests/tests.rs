//! ward-storage integration tests: one binary, one module per area.

/// Server endpoints, skip rules and test stores shared by the S3 modules below.
#[cfg(feature = "s3")]
mod common;
/// `LocalStore` on a real filesystem: traversal and symlinks refused, partial writes never
/// visible, owner-only permissions.
mod local;
/// Log output while sealing, proving and refusing objects carries no canary from their content.
mod logs;
/// S3 against real servers on loopback (moto, s3s-fs): conformance, SSE evidence and the
/// fail-closed paths, credentials, presigned URLs, multipart, listing, bootstrap. Built with the
/// `s3` feature only, so the tests also build and run with `--no-default-features`.
#[cfg(feature = "s3")]
mod s3;
