//! `CellCipher`: one workspace's field cipher and blind indexers, sealing each value to its cell.

use std::sync::Arc;

use uuid::Uuid;
use ward_crypto::{BlindIndexer, DataKeySource, DekId, FieldCipher, Normalizer};
use ward_types::WorkspaceId;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::{DbWorkspaceKeys, KeyState, stored_key_id};
use crate::sealed::{IndexBytes, SealContext, SealedBytes};

/// A column that holds sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cell {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
}

impl Cell {
    pub(crate) const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column }
    }
}

/// A blind-indexed column: the purpose label keys the index (`table.column`), the normaliser
/// decides which spellings match.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexedCell {
    pub(crate) cell: Cell,
    pub(crate) normalizer: Normalizer,
}

/// A sealed column as the re-sealing job sees it: a plain sealed cell, or one with a blind index
/// in another column, recomputed from the plaintext whenever the cell is re-sealed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SealedColumn {
    /// A sealed cell.
    Plain(Cell),
    /// A sealed cell with its blind index in `index_column`.
    Indexed {
        cell: IndexedCell,
        index_column: &'static str,
    },
}

impl SealedColumn {
    pub(crate) fn cell(self) -> Cell {
        match self {
            Self::Plain(cell) => cell,
            Self::Indexed { cell, .. } => cell.cell,
        }
    }
}

/// A table whose rows hold sealed cells (and a `key_id` recording the key they are under), with
/// every sealed column listed: what the rotation jobs read and re-seal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SealedTable {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [SealedColumn],
}

/// Seals and opens one workspace's values, each bound to its table, column, workspace and row.
pub(crate) struct CellCipher {
    workspace: WorkspaceId,
    keys: Arc<DbWorkspaceKeys>,
    cipher: FieldCipher,
}

impl CellCipher {
    /// The cipher of `workspace`: seals with its active key, opens with any of its keys.
    pub(crate) async fn new(keys: &Arc<DbWorkspaceKeys>, workspace: WorkspaceId) -> Result<Self> {
        let source: Arc<dyn DataKeySource> = keys.source(workspace);
        Ok(Self {
            workspace,
            keys: Arc::clone(keys),
            cipher: FieldCipher::from_source(source).await?,
        })
    }

    /// The key [`seal`](Self::seal) and [`index`](Self::index) use, in its stored form: what a
    /// row's `key_id` records.
    pub(crate) fn key_id(&self) -> Result<i32> {
        stored_key_id(self.active_id()?)
    }

    /// The workspace whose values this cipher seals.
    pub(crate) fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    fn active_id(&self) -> Result<DekId> {
        Ok(self
            .cipher
            .active_key_id()
            .ok_or(ward_crypto::Error::NoActiveKey)?)
    }

    fn context(&self, cell: Cell, row: Uuid) -> SealContext {
        SealContext::new(cell.table, cell.column, self.workspace, row)
    }

    /// Seals `plaintext` for `cell` of `row`.
    pub(crate) fn seal(&self, cell: Cell, row: Uuid, plaintext: &[u8]) -> Result<SealedBytes> {
        let sealed = self
            .cipher
            .seal(plaintext, self.context(cell, row).as_bytes())?;
        Ok(SealedBytes(sealed))
    }

    /// Seals an optional value; `None` stays NULL.
    pub(crate) fn seal_opt(
        &self,
        cell: Cell,
        row: Uuid,
        plaintext: Option<&str>,
    ) -> Result<Option<SealedBytes>> {
        plaintext
            .map(|p| self.seal(cell, row, p.as_bytes()))
            .transpose()
    }

    /// Opens the value of `cell` in `row`. A value written for another cell, altered, or under a
    /// destroyed key is [`Error::Unsealable`].
    pub(crate) async fn open(
        &self,
        cell: Cell,
        row: Uuid,
        sealed: &SealedBytes,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.cipher
            .open_resolving(sealed.as_bytes(), self.context(cell, row).as_bytes())
            .await
            .map_err(|source| Error::Unsealable {
                table: cell.table,
                column: cell.column,
                row: row.as_hyphenated().to_string(),
                source,
            })
    }

    /// Opens a text value.
    pub(crate) async fn open_text(
        &self,
        cell: Cell,
        row: Uuid,
        sealed: &SealedBytes,
    ) -> Result<String> {
        let bytes = self.open(cell, row, sealed).await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            // Wipe the copy the failed conversion hands back.
            drop(Zeroizing::new(e.into_bytes()));
            Error::Corrupt("a sealed text value is not UTF-8")
        })
    }

    /// Opens an optional text value.
    pub(crate) async fn open_text_opt(
        &self,
        cell: Cell,
        row: Uuid,
        sealed: Option<&SealedBytes>,
    ) -> Result<Option<String>> {
        match sealed {
            Some(s) => Ok(Some(self.open_text(cell, row, s).await?)),
            None => Ok(None),
        }
    }

    fn indexer(&self, cell: IndexedCell, dek: &ward_crypto::DataKey) -> Result<BlindIndexer> {
        Ok(
            BlindIndexer::builder(format!("{}.{}", cell.cell.table, cell.cell.column))
                .with_normalizer(cell.normalizer)
                .build(dek, self.workspace.to_string().as_bytes())?,
        )
    }

    /// The blind index of `value` under the key [`seal`](Self::seal) uses, to store beside the
    /// sealed value.
    pub(crate) async fn index(&self, cell: IndexedCell, value: &str) -> Result<IndexBytes> {
        let dek = self
            .keys
            .source(self.workspace)
            .key(self.active_id()?)
            .await?;
        Ok(self.indexer(cell, &dek)?.index(value).into())
    }

    /// The blind indexes of `value` under every key of the workspace that still opens data, to
    /// search with: rows indexed under an older key are found until they are re-indexed.
    pub(crate) async fn search_indexes(
        &self,
        cell: IndexedCell,
        value: &str,
    ) -> Result<Vec<IndexBytes>> {
        let source = self.keys.source(self.workspace);
        let mut out = Vec::new();
        for info in self.keys.data_keys().list(self.workspace).await? {
            if matches!(info.state, KeyState::Active | KeyState::Retired) {
                let dek = source.key(info.id).await?;
                out.push(self.indexer(cell, &dek)?.index(value).into());
            }
        }
        Ok(out)
    }
}
