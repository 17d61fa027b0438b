//! `attachments`: files (photos, PDFs) of a client or one of its sessions, stored encrypted.

use sea_orm::entity::prelude::*;

use crate::sealed::{IndexBytes, SealedBytes};

/// A row of `attachments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachments")]
pub struct Model {
    /// The attachment id (also the object key's file name).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace the attachment belongs to.
    pub workspace_id: Uuid,
    /// The client the attachment belongs to (directly, or through its session).
    pub client_id: Uuid,
    /// The session, for a session's attachment.
    pub session_id: Option<Uuid>,
    /// The display name, sealed.
    pub display_name: SealedBytes,
    /// Blind index of the display name, for refusing duplicates among a client's live files.
    pub display_name_index: IndexBytes,
    /// The content type ward-sanitize sniffed and validated.
    pub content_type: String,
    /// Size in bytes after sanitising (the plaintext stored).
    pub size_bytes: i64,
    /// The object key in the store.
    pub object_key: String,
    /// The id of the data key that sealed the object.
    pub stream_key_id: i32,
    /// The data key every sealed cell and blind index of the row is under; NULL when not known
    /// (rows written before this was recorded). The re-encryption job re-seals rows not under
    /// the workspace's active key.
    pub key_id: Option<i32>,
    /// Until when a re-sealing worker holds the row's object (NULL: nobody).
    pub lease_until: Option<TimeDateTimeWithTimeZone>,
    /// The evidence of encryption the store gave (JSON).
    pub encryption_evidence: Json,
    /// Who uploaded it (an actor id).
    pub uploaded_by: String,
    /// When the upload committed.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When it was soft-deleted.
    pub deleted_at: Option<TimeDateTimeWithTimeZone>,
    /// When its object was deleted by the retention purge.
    pub purged_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `attachments`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
