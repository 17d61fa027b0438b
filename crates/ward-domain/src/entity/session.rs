//! `sessions`: a client's appointments, with sealed SOAP notes.

use sea_orm::entity::prelude::*;

use crate::sealed::SealedBytes;

/// A row of `sessions`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// The session id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace the session belongs to.
    pub workspace_id: Uuid,
    /// The client seen.
    pub client_id: Uuid,
    /// The day of the session.
    pub session_date: TimeDate,
    /// SOAP notes, sealed.
    pub soap_notes: Option<SealedBytes>,
    /// Bytes of live attachments and uploads in flight owned by the session.
    pub used_bytes: i64,
    /// The data key every sealed cell and blind index of the row is under; NULL when not known
    /// (rows written before this was recorded). The re-encryption job re-seals rows not under
    /// the workspace's active key.
    pub key_id: Option<i32>,
    /// When the row was created.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the row was last changed.
    pub updated_at: TimeDateTimeWithTimeZone,
    /// When the record was soft-deleted; NULL while it is live.
    pub deleted_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `sessions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
