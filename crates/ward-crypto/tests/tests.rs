//! ward-crypto's integration tests: one binary, one module per concern.

// Data-key sources (`DataKeySource` implementations and decorators).
mod dek;
