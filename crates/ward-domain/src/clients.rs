//! `Clients`: a workspace's clients, every personal field sealed to its cell, name and email
//! blind-indexed for exact search.

use std::fmt;
use std::sync::Arc;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseConnection,
    EntityTrait as _, QueryFilter as _, QueryOrder as _,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;
use ward_crypto::Normalizer;
use ward_storage::Owner;
use ward_types::WorkspaceId;
use zeroize::Zeroize as _;

use crate::attachments::holds_files;
use crate::audit::{self, Action, Actor, AuditMetadata, AuditRecord};
use crate::cells::{Cell, CellCipher, IndexedCell, SealedColumn, SealedTable};
use crate::clock;
use crate::db::begin_write;
use crate::entity::{client, session};
use crate::error::{Error, Result};
use crate::import::{Imported, Origin, import_id, insert_once};
use crate::keys::DbWorkspaceKeys;

const TABLE: &str = "clients";
const NAME: IndexedCell = IndexedCell {
    cell: Cell::new(TABLE, "name"),
    normalizer: Normalizer::Name,
};
const EMAIL: IndexedCell = IndexedCell {
    cell: Cell::new(TABLE, "email"),
    normalizer: Normalizer::Email,
};
const PHONE: Cell = Cell::new(TABLE, "phone");
const DATE_OF_BIRTH: Cell = Cell::new(TABLE, "date_of_birth");
const NOTES: Cell = Cell::new(TABLE, "notes");

/// The sealed columns of `clients`.
pub(crate) const SEALED: SealedTable = SealedTable {
    name: TABLE,
    columns: &[
        SealedColumn::Indexed {
            cell: NAME,
            index_column: "name_index",
        },
        SealedColumn::Indexed {
            cell: EMAIL,
            index_column: "email_index",
        },
        SealedColumn::Plain(PHONE),
        SealedColumn::Plain(DATE_OF_BIRTH),
        SealedColumn::Plain(NOTES),
    ],
};

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest email, in bytes (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest phone number, in characters.
pub const MAX_PHONE_CHARS: usize = 40;
/// Longest notes, in bytes.
pub const MAX_NOTES_BYTES: usize = 64 * 1024;

/// A client's personal fields, in plaintext: what a caller writes and reads. `Debug` shows which
/// fields are set, never their values; the text is wiped from memory on drop (so fields are
/// read in place or cloned, not moved out; build one with [`named`](Self::named) and the
/// `with_*` methods).
///
/// ```
/// use time::macros::date;
/// use ward_domain::ClientFields;
///
/// let jane = ClientFields::named("Jane Roe")
///     .with_email("jane@example.org")
///     .with_date_of_birth(date!(1984 - 02 - 29));
/// assert_eq!(jane.email.as_deref(), Some("jane@example.org"));
/// assert!(!format!("{jane:?}").contains("Jane"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientFields {
    /// Full name (required).
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// Free-text notes.
    pub notes: Option<String>,
}

impl Drop for ClientFields {
    fn drop(&mut self) {
        self.name.zeroize();
        self.email.zeroize();
        self.phone.zeroize();
        self.notes.zeroize();
    }
}

impl fmt::Debug for ClientFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFields")
            .field("name", &"******")
            .field("email", &self.email.as_ref().map(|_| "******"))
            .field("phone", &self.phone.as_ref().map(|_| "******"))
            .field("date_of_birth", &self.date_of_birth.map(|_| "******"))
            .field("notes", &self.notes.as_ref().map(|_| "******"))
            .finish()
    }
}

impl ClientFields {
    /// A client with this name and nothing else.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            email: None,
            phone: None,
            date_of_birth: None,
            notes: None,
        }
    }

    /// With this email.
    pub fn with_email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// With this phone number.
    pub fn with_phone(mut self, phone: impl Into<String>) -> Self {
        self.phone = Some(phone.into());
        self
    }

    /// With this date of birth.
    pub fn with_date_of_birth(mut self, date: Date) -> Self {
        self.date_of_birth = Some(date);
        self
    }

    /// With these notes.
    pub fn with_notes(mut self, notes: impl Into<String>) -> Self {
        self.notes = Some(notes.into());
        self
    }

    fn validate(&self) -> Result<()> {
        let bad = |field, reason| Err(Error::InvalidInput { field, reason });
        if self.name.trim().is_empty() || self.name.chars().count() > MAX_NAME_CHARS {
            return bad("client name", "must be 1 to 200 characters");
        }
        if self.name.chars().any(char::is_control) {
            return bad("client name", "must not contain control characters");
        }
        if let Some(email) = &self.email {
            let at = email.find('@');
            let shaped = at.is_some_and(|i| i > 0 && i + 1 < email.len())
                && !email.chars().any(|c| c.is_whitespace() || c.is_control());
            if email.len() > MAX_EMAIL_BYTES || !shaped {
                return bad(
                    "client email",
                    "must be one address of at most 254 bytes, like name@example.org",
                );
            }
        }
        if let Some(phone) = &self.phone {
            let ok = phone.chars().count() <= MAX_PHONE_CHARS
                && phone.chars().any(|c| c.is_ascii_digit())
                && phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !ok {
                return bad(
                    "client phone",
                    "must be at most 40 characters of digits, spaces and + - ( ) .",
                );
            }
        }
        if let Some(notes) = &self.notes
            && notes.len() > MAX_NOTES_BYTES
        {
            return bad("client notes", "must be at most 64 KiB");
        }
        Ok(())
    }
}

/// A client as read: its id and times, and its fields opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Client {
    /// The client id.
    pub id: Uuid,
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The fields, opened.
    pub fields: ClientFields,
    /// Bytes of attachments (and uploads in flight) charged to the client.
    pub used_bytes: u64,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// Creates, reads, changes and searches clients; every call is audited.
#[derive(Debug, Clone)]
pub struct Clients {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
}

impl Clients {
    pub(crate) fn new(db: DatabaseConnection, keys: Arc<DbWorkspaceKeys>) -> Self {
        Self { db, keys }
    }

    /// Creates a client in `workspace`, sealing every field; audited as `client.create`.
    pub async fn create(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        fields: ClientFields,
    ) -> Result<Client> {
        self.insert(actor, workspace, Uuid::new_v4(), fields, Origin::New)
            .await
    }

    /// Imports a client of the seed application, identified there by `legacy_id`, as
    /// [`create`](Self::create) would (fields opened with [`LegacyImport`](crate::LegacyImport)
    /// by the caller). Importing the same `legacy_id` again finds the client made the first
    /// time, so an interrupted import is run again from the start. Audited as `client.create`
    /// with `source: import`.
    pub async fn import(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        legacy_id: &str,
        fields: ClientFields,
    ) -> Result<Imported> {
        let id = import_id(workspace, TABLE, legacy_id)?;
        let exists = self.row(workspace, id).await.is_ok();
        let insert = self.insert(actor, workspace, id, fields, Origin::Import);
        insert_once(id, exists, insert).await
    }

    /// The id [`import`](Self::import) gives (or gave) the seed's client `legacy_id` in
    /// `workspace`, whether or not it is imported yet: how an imported session names its client.
    pub fn imported_id(&self, workspace: WorkspaceId, legacy_id: &str) -> Result<Uuid> {
        import_id(workspace, TABLE, legacy_id)
    }

    async fn insert(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        fields: ClientFields,
        origin: Origin,
    ) -> Result<Client> {
        fields.validate()?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let now = clock::now();
        let sealed = seal_all(&cells, id, &fields).await?;
        let txn = begin_write(&self.db).await?;
        client::ActiveModel {
            id: Set(id),
            workspace_id: Set(workspace.as_uuid()),
            name: Set(sealed.name),
            name_index: Set(sealed.name_index),
            email: Set(sealed.email),
            email_index: Set(sealed.email_index),
            phone: Set(sealed.phone),
            date_of_birth: Set(sealed.date_of_birth),
            notes: Set(sealed.notes),
            used_bytes: Set(0),
            key_id: Set(Some(cells.key_id()?)),
            created_at: Set(now),
            updated_at: Set(now),
            deleted_at: Set(None),
        }
        .insert(&txn)
        .await?;
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::ClientCreate, id)
                .with(origin.tag(AuditMetadata::new())),
        )
        .await?;
        txn.commit().await?;
        Ok(Client {
            id,
            workspace,
            fields,
            used_bytes: 0,
            created_at: now,
            updated_at: now,
        })
    }

    /// Soft-deletes a client of `workspace` and its sessions; audited as `client.delete`.
    /// Refused with [`Error::Conflict`] while the client has live attachments or uploads in
    /// flight (delete its files first: nothing is removed as a side effect). Afterwards the
    /// client and its sessions answer [`Error::NotFound`], searches do not find it, and nothing
    /// can be filed under it.
    pub async fn delete(&self, actor: &Actor, workspace: WorkspaceId, id: Uuid) -> Result<()> {
        let now = clock::now();
        let txn = begin_write(&self.db).await?;
        // The row is marked first, which locks it: an upload reserving against the client
        // either committed before (and is counted below) or finds it deleted.
        let done = client::Entity::update_many()
            .col_expr(client::Column::DeletedAt, Expr::value(now))
            .filter(client::Column::Id.eq(id))
            .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(client::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("client", id));
        }
        if holds_files(&txn, Owner::Client(id)).await? {
            return Err(Error::Conflict {
                reason: "the client still has attachments; delete them first",
            });
        }
        session::Entity::update_many()
            .col_expr(session::Column::DeletedAt, Expr::value(now))
            .filter(session::Column::ClientId.eq(id))
            .filter(session::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::ClientDelete, id),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The client with this id in `workspace`, opened; audited as `client.read`. A client of
    /// another workspace is [`Error::NotFound`], like one that does not exist, or a
    /// soft-deleted one.
    pub async fn get(&self, actor: &Actor, workspace: WorkspaceId, id: Uuid) -> Result<Client> {
        let row = self.row(workspace, id).await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let client = open_row(&cells, workspace, row).await?;
        self.audit(workspace, AuditRecord::new(actor, Action::ClientRead, id))
            .await?;
        Ok(client)
    }

    /// Replaces the client's fields; audited as `client.update`.
    pub async fn update(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        fields: ClientFields,
    ) -> Result<Client> {
        fields.validate()?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let sealed = seal_all(&cells, id, &fields).await?;
        let now = clock::now();
        let txn = begin_write(&self.db).await?;
        let done = client::Entity::update_many()
            .col_expr(client::Column::Name, Expr::value(sealed.name))
            .col_expr(client::Column::NameIndex, Expr::value(sealed.name_index))
            .col_expr(client::Column::Email, Expr::value(sealed.email))
            .col_expr(client::Column::EmailIndex, Expr::value(sealed.email_index))
            .col_expr(client::Column::Phone, Expr::value(sealed.phone))
            .col_expr(
                client::Column::DateOfBirth,
                Expr::value(sealed.date_of_birth),
            )
            .col_expr(client::Column::Notes, Expr::value(sealed.notes))
            .col_expr(client::Column::KeyId, Expr::value(cells.key_id()?))
            .col_expr(client::Column::UpdatedAt, Expr::value(now))
            .filter(client::Column::Id.eq(id))
            .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(client::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("client", id));
        }
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::ClientUpdate, id),
        )
        .await?;
        txn.commit().await?;
        self.get_unaudited(workspace, id).await
    }

    /// Clients whose email matches `email` exactly (after normalising case and spaces), by blind
    /// index: no row is decrypted to search. Audited as `client.search` with the match count.
    pub async fn find_by_email(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        email: &str,
    ) -> Result<Vec<Client>> {
        self.find(actor, workspace, EMAIL, client::Column::EmailIndex, email)
            .await
    }

    /// Clients whose name matches `name` (after normalising case, spaces and accents), by blind
    /// index. Audited as `client.search` with the match count.
    pub async fn find_by_name(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        name: &str,
    ) -> Result<Vec<Client>> {
        self.find(actor, workspace, NAME, client::Column::NameIndex, name)
            .await
    }

    async fn find(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        cell: IndexedCell,
        column: client::Column,
        value: &str,
    ) -> Result<Vec<Client>> {
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let indexes = cells.search_indexes(cell, value).await?;
        let rows = client::Entity::find()
            .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(client::Column::DeletedAt.is_null())
            .filter(column.is_in(indexes))
            .order_by_asc(client::Column::CreatedAt)
            .order_by_asc(client::Column::Id)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(open_row(&cells, workspace, row).await?);
        }
        let record = AuditRecord::new(actor, Action::ClientSearch, workspace.as_uuid()).with(
            AuditMetadata::new()
                .word("by", cell.cell.column)
                .count("matches", out.len() as i64),
        );
        self.audit(workspace, record).await?;
        Ok(out)
    }

    pub(crate) async fn row(&self, workspace: WorkspaceId, id: Uuid) -> Result<client::Model> {
        client::Entity::find_by_id(id)
            .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(client::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("client", id))
    }

    async fn get_unaudited(&self, workspace: WorkspaceId, id: Uuid) -> Result<Client> {
        let row = self.row(workspace, id).await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        open_row(&cells, workspace, row).await
    }

    async fn audit(&self, workspace: WorkspaceId, record: AuditRecord) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        audit::append(&txn, workspace, &record).await?;
        txn.commit().await?;
        Ok(())
    }
}

struct SealedClient {
    name: crate::SealedBytes,
    name_index: crate::IndexBytes,
    email: Option<crate::SealedBytes>,
    email_index: Option<crate::IndexBytes>,
    phone: Option<crate::SealedBytes>,
    date_of_birth: Option<crate::SealedBytes>,
    notes: Option<crate::SealedBytes>,
}

async fn seal_all(cells: &CellCipher, id: Uuid, fields: &ClientFields) -> Result<SealedClient> {
    let email_index = match &fields.email {
        Some(email) => Some(cells.index(EMAIL, email).await?),
        None => None,
    };
    let dob = fields
        .date_of_birth
        .map(|d| d.format(&DATE_FORMAT))
        .transpose()
        .map_err(|_| Error::InvalidInput {
            field: "client date of birth",
            reason: "must be a date between years 1 and 9999",
        })?;
    Ok(SealedClient {
        name: cells.seal(NAME.cell, id, fields.name.as_bytes())?,
        name_index: cells.index(NAME, &fields.name).await?,
        email: cells.seal_opt(EMAIL.cell, id, fields.email.as_deref())?,
        email_index,
        phone: cells.seal_opt(PHONE, id, fields.phone.as_deref())?,
        date_of_birth: cells.seal_opt(DATE_OF_BIRTH, id, dob.as_deref())?,
        notes: cells.seal_opt(NOTES, id, fields.notes.as_deref())?,
    })
}

async fn open_row(
    cells: &CellCipher,
    workspace: WorkspaceId,
    row: client::Model,
) -> Result<Client> {
    let id = row.id;
    let date_of_birth = match cells
        .open_text_opt(DATE_OF_BIRTH, id, row.date_of_birth.as_ref())
        .await?
    {
        Some(text) => Some(parse_date(&text)?),
        None => None,
    };
    let fields = ClientFields {
        name: cells.open_text(NAME.cell, id, &row.name).await?,
        email: cells
            .open_text_opt(EMAIL.cell, id, row.email.as_ref())
            .await?,
        phone: cells.open_text_opt(PHONE, id, row.phone.as_ref()).await?,
        date_of_birth,
        notes: cells.open_text_opt(NOTES, id, row.notes.as_ref()).await?,
    };
    Ok(Client {
        id,
        workspace,
        fields,
        used_bytes: crate::workspaces::bytes_from_db(row.used_bytes)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// How a date is sealed: ISO 8601 calendar date.
const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// A date as sealed (`YYYY-MM-DD`).
fn parse_date(text: &str) -> Result<Date> {
    Date::parse(text, &DATE_FORMAT).map_err(|_| Error::Corrupt("a sealed date is not YYYY-MM-DD"))
}
