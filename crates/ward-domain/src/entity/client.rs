//! `clients`: a clinic's clients (patients), every personal field sealed.

use sea_orm::entity::prelude::*;

use crate::sealed::{IndexBytes, SealedBytes};

/// A row of `clients`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    /// The client id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace the client belongs to.
    pub workspace_id: Uuid,
    /// The client's name, sealed.
    pub name: SealedBytes,
    /// Blind index of the name, for exact search.
    pub name_index: IndexBytes,
    /// Email, sealed.
    pub email: Option<SealedBytes>,
    /// Blind index of the email, for exact search.
    pub email_index: Option<IndexBytes>,
    /// Phone, sealed.
    pub phone: Option<SealedBytes>,
    /// Date of birth (ISO 8601 date), sealed.
    pub date_of_birth: Option<SealedBytes>,
    /// Free-text notes, sealed.
    pub notes: Option<SealedBytes>,
    /// Bytes of live attachments and uploads in flight owned by the client (its sessions' too).
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

/// Relations of `clients`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
