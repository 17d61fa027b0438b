//! ward-storage integration tests: one binary, one module per area.

/// Server endpoints, skip rules and test stores shared by the modules below.
mod common;
/// `LocalStore` on a real filesystem: traversal and symlinks refused, partial writes never
/// visible, owner-only permissions.
mod local;
/// Log output while sealing, proving and refusing objects carries no canary from their content.
mod logs;
/// S3 against real servers on loopback (moto, s3s-fs): conformance, SSE evidence and the
/// fail-closed paths, credentials, presigned URLs, multipart, listing, bootstrap.
mod s3;
