//! `upload_intents`: an upload in flight, written before any byte moves and removed when the
//! attachment row commits or the upload is compensated.

use sea_orm::entity::prelude::*;

/// A row of `upload_intents`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upload_intents")]
pub struct Model {
    /// The attachment id the upload will commit as.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The workspace.
    pub workspace_id: Uuid,
    /// The client charged.
    pub client_id: Uuid,
    /// The session charged, if any.
    pub session_id: Option<Uuid>,
    /// The object key the bytes go to.
    pub object_key: String,
    /// Bytes reserved against the quotas.
    pub reserved_bytes: i64,
    /// When the reservation was made.
    pub created_at: TimeDateTimeWithTimeZone,
    /// After this the reconciler may resolve the intent.
    pub expires_at: TimeDateTimeWithTimeZone,
}

/// Relations of `upload_intents`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
