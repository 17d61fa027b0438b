//! ward-crypto's integration tests: one binary, one module per concern.

// Data-key sources (`DataKeySource` implementations and decorators).
mod dek;

// Field format: round trips, tampering, key commitment, key resolution.
mod field;

// KEK rings and providers: loading errors, wrap/unwrap, context binding.
mod kek;

// The suite every KEK provider passes (run here over the local ring, and in each provider's
// module over that provider).
mod conformance;

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

// moto on loopback, for the AWS providers.
#[cfg(any(feature = "aws-kms", feature = "aws-secrets-manager"))]
mod moto;

// The AWS KMS provider against moto on loopback (feature `aws-kms`).
#[cfg(feature = "aws-kms")]
mod kms;

// A KEK ring kept in Secrets Manager, against moto on loopback (feature `aws-secrets-manager`).
#[cfg(feature = "aws-secrets-manager")]
mod secrets_manager;

// Throttling, outages and timeouts of the HTTP key services, one suite for each provider.
#[cfg(any(
    feature = "vault-transit",
    feature = "azure-key-vault",
    feature = "gcp-kms"
))]
mod resilience;

// The Vault Transit provider against an imitation of Vault (feature `vault-transit`).
#[cfg(feature = "vault-transit")]
mod vault;

// The Azure Key Vault provider against an imitation of Key Vault (feature `azure-key-vault`).
#[cfg(feature = "azure-key-vault")]
mod azure;

// The Google Cloud KMS provider against an imitation of Cloud KMS (feature `gcp-kms`).
#[cfg(feature = "gcp-kms")]
mod gcp;
