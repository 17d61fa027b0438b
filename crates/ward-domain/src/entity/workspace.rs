//! `workspaces`: one tenant (a clinic), its storage quota and usage, and the head of its audit
//! chain.

use sea_orm::entity::prelude::*;

/// A row of `workspaces`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workspaces")]
pub struct Model {
    /// The workspace id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// A label for operators (the clinic's name is not PHI); never shown to other tenants.
    pub name: String,
    /// Bytes the workspace may store.
    pub quota_bytes: i64,
    /// Bytes stored or reserved by uploads in flight; never negative.
    pub used_bytes: i64,
    /// How many audit events the workspace has (the sequence number of the last one).
    pub audit_seq: i64,
    /// The hash of the last audit event (32 zero bytes before the first).
    pub audit_head: Vec<u8>,
    /// When the workspace was created.
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the workspace was crypto-shredded (its keys destroyed, its objects deleted).
    pub shredded_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `workspaces`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
