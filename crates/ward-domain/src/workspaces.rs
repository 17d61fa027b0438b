//! `Workspaces`: tenants, their quota and usage.

use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseConnection,
    EntityTrait as _, QueryFilter as _,
};
use time::OffsetDateTime;
use uuid::Uuid;
use ward_types::WorkspaceId;

use crate::audit::{self, Action, Actor, AuditMetadata, AuditRecord, GENESIS_HASH};
use crate::clock;
use crate::db::begin_write;
use crate::entity::workspace;
use crate::error::{Error, Result};
use crate::keys::DbWorkspaceKeys;

/// The storage quota of a new workspace unless one is given: 10 GiB.
pub const DEFAULT_WORKSPACE_QUOTA: u64 = 10 * 1024 * 1024 * 1024;

/// A workspace as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Workspace {
    /// Its id.
    pub id: WorkspaceId,
    /// The operators' label.
    pub name: String,
    /// Bytes it may store.
    pub quota_bytes: u64,
    /// Bytes stored or reserved.
    pub used_bytes: u64,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was crypto-shredded.
    pub shredded_at: Option<OffsetDateTime>,
}

pub(crate) fn bytes_from_db(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Corrupt("negative byte count"))
}

pub(crate) fn bytes_to_db(n: u64, field: &'static str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::InvalidInput {
        field,
        reason: "must be below 2^63 bytes",
    })
}

impl TryFrom<workspace::Model> for Workspace {
    type Error = Error;

    fn try_from(row: workspace::Model) -> Result<Self> {
        Ok(Self {
            id: row.id.into(),
            name: row.name,
            quota_bytes: bytes_from_db(row.quota_bytes)?,
            used_bytes: bytes_from_db(row.used_bytes)?,
            created_at: row.created_at,
            shredded_at: row.shredded_at,
        })
    }
}

/// Creates and reads workspaces.
#[derive(Debug, Clone)]
pub struct Workspaces {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
}

impl Workspaces {
    pub(crate) fn new(db: DatabaseConnection, keys: Arc<DbWorkspaceKeys>) -> Self {
        Self { db, keys }
    }

    /// Creates a workspace with a storage quota (default [`DEFAULT_WORKSPACE_QUOTA`]) and its
    /// first data key.
    ///
    /// The label is for operators: 1 to 200 characters, no control characters. It is not PHI and
    /// is stored as given.
    pub async fn create(&self, name: &str, quota_bytes: Option<u64>) -> Result<Workspace> {
        let valid = !name.trim().is_empty()
            && name.chars().count() <= 200
            && !name.chars().any(char::is_control);
        if !valid {
            return Err(Error::InvalidInput {
                field: "workspace name",
                reason: "must be 1 to 200 characters without control characters",
            });
        }
        let quota = quota_bytes.unwrap_or(DEFAULT_WORKSPACE_QUOTA);
        let row = workspace::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(name.to_owned()),
            quota_bytes: Set(bytes_to_db(quota, "workspace quota")?),
            used_bytes: Set(0),
            audit_seq: Set(0),
            audit_head: Set(GENESIS_HASH.to_vec()),
            created_at: Set(clock::now()),
            shredded_at: Set(None),
        }
        .insert(&self.db)
        .await?;
        let ws = Workspace::try_from(row)?;
        self.keys.rotate(ws.id).await?;
        tracing::info!(workspace = %ws.id, quota_bytes = quota, "workspace created");
        Ok(ws)
    }

    /// Sets the workspace's storage quota to `quota_bytes`; audited as `workspace.quota`. A
    /// quota below what is already stored is accepted: nothing is deleted, and uploads are
    /// refused until usage is back under it.
    pub async fn set_quota(
        &self,
        actor: &Actor,
        id: WorkspaceId,
        quota_bytes: u64,
    ) -> Result<Workspace> {
        let quota = bytes_to_db(quota_bytes, "workspace quota")?;
        let txn = begin_write(&self.db).await?;
        let done = workspace::Entity::update_many()
            .col_expr(workspace::Column::QuotaBytes, Expr::value(quota))
            .filter(workspace::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("workspace", id));
        }
        let record = AuditRecord::new(actor, Action::WorkspaceQuota, id.as_uuid())
            .with(AuditMetadata::new().count("quota_bytes", quota));
        audit::append(&txn, id, &record).await?;
        txn.commit().await?;
        tracing::info!(workspace = %id, quota_bytes, "workspace quota changed");
        self.get(id).await
    }

    /// The workspace with this id.
    pub async fn get(&self, id: WorkspaceId) -> Result<Workspace> {
        workspace::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("workspace", id))?
            .try_into()
    }
}
