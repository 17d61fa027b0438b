//! ward-crypto's integration tests: one binary, one module per concern.
