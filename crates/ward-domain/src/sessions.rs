//! `Sessions`: a client's appointments, SOAP notes sealed to their cell.

use std::fmt;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseConnection,
    EntityTrait as _, QueryFilter as _,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ward_storage::Owner;
use ward_types::WorkspaceId;
use zeroize::Zeroize as _;

use crate::attachments::holds_files;
use crate::audit::{self, Action, Actor, AuditMetadata, AuditRecord};
use crate::cells::{Cell, CellCipher, SealedColumn, SealedTable};
use crate::clock;
use crate::db::begin_write;
use crate::entity::{client, session};
use crate::error::{Error, Result};
use crate::import::{Imported, Origin, import_id, insert_once};
use crate::keys::DbWorkspaceKeys;

const SOAP_NOTES: Cell = Cell::new("sessions", "soap_notes");

/// A session about to be inserted.
struct NewSession {
    id: Uuid,
    client_id: Uuid,
    date: Date,
    soap_notes: Option<SoapNotes>,
}

/// The sealed columns of `sessions`.
pub(crate) const SEALED: SealedTable = SealedTable {
    name: "sessions",
    columns: &[SealedColumn::Plain(SOAP_NOTES)],
};

/// Longest SOAP notes, in bytes.
pub const MAX_SOAP_NOTES_BYTES: usize = 256 * 1024;

/// Sealed SOAP notes in plaintext: `Debug` hides them, drop wipes them.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SoapNotes(pub String);

impl Drop for SoapNotes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SoapNotes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SoapNotes({} bytes)", self.0.len())
    }
}

fn validate(notes: Option<&SoapNotes>) -> Result<()> {
    match notes {
        Some(n) if n.0.len() > MAX_SOAP_NOTES_BYTES => Err(Error::InvalidInput {
            field: "soap notes",
            reason: "must be at most 256 KiB",
        }),
        _ => Ok(()),
    }
}

/// A session as read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The session id.
    pub id: Uuid,
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The client seen.
    pub client_id: Uuid,
    /// The day.
    pub date: Date,
    /// The notes, opened.
    pub soap_notes: Option<SoapNotes>,
    /// Bytes of attachments (and uploads in flight) charged to the session.
    pub used_bytes: u64,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// Creates, reads and changes sessions; every call is audited.
#[derive(Debug, Clone)]
pub struct Sessions {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
}

impl Sessions {
    pub(crate) fn new(db: DatabaseConnection, keys: Arc<DbWorkspaceKeys>) -> Self {
        Self { db, keys }
    }

    /// Soft-deletes a session of `workspace`; audited as `session.delete`. Refused with
    /// [`Error::Conflict`] while the session has live attachments or uploads in flight (delete
    /// its files first: nothing is removed as a side effect). Afterwards the session answers
    /// [`Error::NotFound`] and nothing can be filed under it.
    pub async fn delete(&self, actor: &Actor, workspace: WorkspaceId, id: Uuid) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        // The row is marked first, which locks it: an upload reserving against the session
        // either committed before (and is counted below) or finds it deleted.
        let done = session::Entity::update_many()
            .col_expr(session::Column::DeletedAt, Expr::value(clock::now()))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(session::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("session", id));
        }
        if holds_files(&txn, Owner::Session(id)).await? {
            return Err(Error::Conflict {
                reason: "the session still has attachments; delete them first",
            });
        }
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::SessionDelete, id),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The dates of the sessions of `workspace` among `ids` (sessions of other workspaces, and
    /// unknown ids, are left out). Not audited: a caller lists dates beside records whose read is
    /// audited (an attachment listing).
    pub async fn dates(
        &self,
        workspace: WorkspaceId,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Date>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let rows = session::Entity::find()
                .filter(session::Column::WorkspaceId.eq(workspace.as_uuid()))
                .filter(session::Column::Id.is_in(chunk.iter().copied()))
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().map(|r| (r.id, r.session_date)));
        }
        Ok(out)
    }

    /// Creates a session of `client_id` (a client of `workspace`) on `date`; audited as
    /// `session.create`.
    pub async fn create(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        client_id: Uuid,
        date: Date,
        soap_notes: Option<SoapNotes>,
    ) -> Result<Session> {
        let new = NewSession {
            id: Uuid::new_v4(),
            client_id,
            date,
            soap_notes,
        };
        self.insert(actor, workspace, new, Origin::New).await
    }

    /// Imports a session of the seed application, identified there by `legacy_id`, as
    /// [`create`](Self::create) would (notes opened with [`LegacyImport`](crate::LegacyImport)
    /// by the caller). Importing the same `legacy_id` again finds the session made the first
    /// time, so an interrupted import is run again from the start. Audited as `session.create`
    /// with `source: import`.
    pub async fn import(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        legacy_id: &str,
        client_id: Uuid,
        date: Date,
        soap_notes: Option<SoapNotes>,
    ) -> Result<Imported> {
        let id = import_id(workspace, SEALED.name, legacy_id)?;
        let exists = self.row(workspace, id).await.is_ok();
        let new = NewSession {
            id,
            client_id,
            date,
            soap_notes,
        };
        insert_once(
            id,
            exists,
            self.insert(actor, workspace, new, Origin::Import),
        )
        .await
    }

    async fn insert(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        new: NewSession,
        origin: Origin,
    ) -> Result<Session> {
        let NewSession {
            id,
            client_id,
            date,
            soap_notes,
        } = new;
        validate(soap_notes.as_ref())?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let sealed = cells.seal_opt(SOAP_NOTES, id, soap_notes.as_ref().map(|n| n.0.as_str()))?;
        let now = clock::now();
        let txn = begin_write(&self.db).await?;
        let client = client::Entity::find_by_id(client_id)
            .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(client::Column::DeletedAt.is_null())
            .one(&txn)
            .await?;
        if client.is_none() {
            return Err(Error::not_found("client", client_id));
        }
        session::ActiveModel {
            id: Set(id),
            workspace_id: Set(workspace.as_uuid()),
            client_id: Set(client_id),
            session_date: Set(date),
            soap_notes: Set(sealed),
            used_bytes: Set(0),
            key_id: Set(Some(cells.key_id()?)),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let record = AuditRecord::new(actor, Action::SessionCreate, id)
            .with(origin.tag(AuditMetadata::new().id("client_id", client_id)));
        audit::append(&txn, workspace, &record).await?;
        txn.commit().await?;
        Ok(Session {
            id,
            workspace,
            client_id,
            date,
            soap_notes,
            used_bytes: 0,
            created_at: now,
            updated_at: now,
        })
    }

    /// The session with this id in `workspace`, notes opened; audited as `session.read`.
    pub async fn get(&self, actor: &Actor, workspace: WorkspaceId, id: Uuid) -> Result<Session> {
        let row = self.row(workspace, id).await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let notes = cells
            .open_text_opt(SOAP_NOTES, id, row.soap_notes.as_ref())
            .await?
            .map(SoapNotes);
        let txn = begin_write(&self.db).await?;
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::SessionRead, id),
        )
        .await?;
        txn.commit().await?;
        Ok(Session {
            id,
            workspace,
            client_id: row.client_id,
            date: row.session_date,
            soap_notes: notes,
            used_bytes: crate::workspaces::bytes_from_db(row.used_bytes)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Replaces the session's notes (`None` clears them); audited as `session.update`.
    pub async fn update_notes(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        soap_notes: Option<SoapNotes>,
    ) -> Result<()> {
        validate(soap_notes.as_ref())?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let sealed = cells.seal_opt(SOAP_NOTES, id, soap_notes.as_ref().map(|n| n.0.as_str()))?;
        let txn = begin_write(&self.db).await?;
        let done = session::Entity::update_many()
            .col_expr(session::Column::SoapNotes, Expr::value(sealed))
            .col_expr(session::Column::KeyId, Expr::value(cells.key_id()?))
            .col_expr(session::Column::UpdatedAt, Expr::value(clock::now()))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(session::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("session", id));
        }
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::SessionUpdate, id),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn row(&self, workspace: WorkspaceId, id: Uuid) -> Result<session::Model> {
        session::Entity::find_by_id(id)
            .filter(session::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(session::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("session", id))
    }
}
