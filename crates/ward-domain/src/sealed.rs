//! Column types for PHI: [`SealedBytes`] holds a ward-crypto field ciphertext, [`IndexBytes`] a
//! blind index, and [`SealContext`] names the cell a ciphertext is bound to.
//!
//! Both column types hold bytes only and have no key access: sealing and opening happen in the
//! repositories, which know the workspace's keys. Their `Debug` shows a length, never the bytes.

use std::fmt;

use sea_orm::DeriveValueType;
use uuid::Uuid;
use ward_types::WorkspaceId;

/// A sealed column value: ward-crypto's field format (`version | key id | commitment | nonce |
/// ciphertext | tag`), bound to its [`SealContext`]. Stored as `bytea` (PostgreSQL) or `blob`
/// (SQLite); `Option<SealedBytes>` is a nullable column and NULL stays NULL.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct SealedBytes(pub Vec<u8>);

impl SealedBytes {
    /// The ciphertext.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedBytes({} bytes)", self.0.len())
    }
}

/// A blind-index column value: ward-crypto's blind-index format (`version | key id | tag`), an
/// HMAC of the normalised plaintext under a per-workspace key, for exact-match search.
#[derive(Clone, PartialEq, Eq, Hash, DeriveValueType)]
pub struct IndexBytes(pub Vec<u8>);

impl IndexBytes {
    /// The index bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<ward_crypto::BlindIndex> for IndexBytes {
    fn from(index: ward_crypto::BlindIndex) -> Self {
        Self(index.as_bytes().to_vec())
    }
}

impl fmt::Debug for IndexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexBytes({} bytes)", self.0.len())
    }
}

/// The cell a sealed value belongs to: table, column, workspace and row id. Its bytes are the
/// associated data of the seal, so a value copied into another row, column, table or workspace
/// fails to open.
///
/// ```
/// use uuid::Uuid;
/// use ward_domain::SealContext;
///
/// let ws = Uuid::nil().into();
/// let row = Uuid::nil();
/// let ctx = SealContext::new("clients", "email", ws, row);
/// assert_eq!(
///     ctx.as_bytes(),
///     b"ward/v1/cell:clients.email:00000000-0000-0000-0000-000000000000:00000000-0000-0000-0000-000000000000"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SealContext(Vec<u8>);

impl SealContext {
    /// The context of `table.column` in `row` of `workspace`.
    pub fn new(table: &str, column: &str, workspace: WorkspaceId, row: Uuid) -> Self {
        Self(
            format!(
                "ward/v1/cell:{table}.{column}:{workspace}:{}",
                row.as_hyphenated()
            )
            .into_bytes(),
        )
    }

    /// The associated-data bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids only: the context holds no PHI.
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}
