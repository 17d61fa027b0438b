//! `audit_events`: the append-only, per-workspace hash-chained record of every access to PHI.

use sea_orm::entity::prelude::*;

/// A row of `audit_events`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    /// Global row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The workspace whose chain the event is in.
    pub workspace_id: Uuid,
    /// Position in the workspace's chain, from 1.
    pub seq: i64,
    /// Who acted (an actor id).
    pub actor: String,
    /// What was done (`attachment.upload`, `client.read`, …).
    pub action: String,
    /// The kind of resource (`attachment`, `client`, …).
    pub resource_type: String,
    /// The resource's id.
    pub resource_id: String,
    /// Ids-only details (JSON object of strings and numbers; never names or content).
    pub metadata: Json,
    /// When it happened (microsecond precision, UTC).
    pub occurred_at: TimeDateTimeWithTimeZone,
    /// The hash of the previous event in the chain (32 zero bytes for the first).
    pub prev_hash: Vec<u8>,
    /// SHA-256 over `prev_hash` and this event's fields.
    pub hash: Vec<u8>,
}

/// Relations of `audit_events`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
