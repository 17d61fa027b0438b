//! ward-api end-to-end tests: the service on a loopback port, asked over real HTTP, on both
//! stacks (SQLite + a local store; PostgreSQL + the moto S3 server).

/// The `ward` binary itself: the embedded default from nothing, and configuration refusals.
mod binary;
/// Servers for the tests: a database, a store and a running service per stack; an HTTP client.
mod common;
/// Tokens of another workspace, expired and tampered tokens and links.
mod isolation;
/// The KEK providers configured through the binary's variables, each rotated.
mod providers;
/// Every route and status code, on both stacks.
mod routes;
/// Malware scanning through the service against a real clamd: infected uploads refused, an
/// unanswering scanner refusing every upload and failing readiness.
mod scanning;
/// Graceful shutdown: requests in flight finish, up to the deadline.
mod shutdown;
/// Upload slots: uploads past the limit wait, then are refused 503.
mod slots;
/// TLS termination: TLS 1.3 only, two suites, certificates reloaded.
mod tls;
