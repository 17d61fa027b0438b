//! Unit tests that need crate-private access: fixed salts, golden-file generation and writer
//! determinism.
