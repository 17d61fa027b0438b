//! `data_keys`: each workspace's data-encryption keys (DEKs), stored wrapped by a KEK.

use sea_orm::entity::prelude::*;

/// A row of `data_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "data_keys")]
pub struct Model {
    /// The DEK id, assigned by the database so concurrent generation never collides. It is the
    /// key id written into every ciphertext the key seals.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The workspace the key belongs to.
    pub workspace_id: Uuid,
    /// The KEK version that wrapped it (for reporting which versions are still in use).
    pub kek_id: i32,
    /// The wrapped key (ward-crypto's wrapped-DEK format); empty while `pending` and once
    /// `destroyed`.
    pub wrapped: Vec<u8>,
    /// `pending`, `active`, `retired` or `destroyed` (see [`KeyState`](crate::KeyState)).
    pub state: String,
    /// When the key was generated (rotation is scheduled by age).
    pub created_at: TimeDateTimeWithTimeZone,
    /// When the key stopped being the active one.
    pub retired_at: Option<TimeDateTimeWithTimeZone>,
    /// When the key was destroyed.
    pub destroyed_at: Option<TimeDateTimeWithTimeZone>,
}

/// Relations of `data_keys`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
