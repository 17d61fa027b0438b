//! ward-crypto's integration tests: one binary, one module per concern.

// Data-key sources (`DataKeySource` implementations and decorators).
mod dek;

// Field format: round trips, tampering, key commitment, key resolution.
mod field;

// KEK rings and providers: loading errors, wrap/unwrap, context binding.
mod kek;

// Blind indexes.
mod blind;

// Rotation: DEK and KEK rotation, rewrap, crypto-shredding, key-usage reports.
mod rotation;

// Legacy import of the seed application's formats.
mod legacy;

// Golden files of the field format (tests/data/field/), never regenerated.
mod golden;

// Stream format: size edges, async round trips, tampering, range reads, golden files.
mod stream;

// Debug output of every key-holding type lacks the secret.
mod debug;

// The AWS KMS provider against moto on loopback (feature `aws-kms`).
#[cfg(feature = "aws-kms")]
mod kms;
