//! ward-crypto's integration tests: one binary, one module per concern.

// Data-key sources (`DataKeySource` implementations and decorators).
mod dek;

// Field format: round trips, tampering, key commitment, key resolution.
mod field;

// KEK rings and providers: loading errors, wrap/unwrap, context binding.
mod kek;

// Blind indexes.
mod blind;
