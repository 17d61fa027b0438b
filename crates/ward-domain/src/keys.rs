//! Data keys in the database: [`DataKeys`] manages a workspace's DEKs (generate, retire,
//! destroy), [`DbKeySource`] serves one workspace's keys to ward-crypto, and [`DbWorkspaceKeys`]
//! serves every workspace's keys, cached, to ward-storage.
//!
//! Each DEK is wrapped by the KEK ring's active version and bound to its workspace (the wrap's
//! associated data names the workspace), so a wrapped key copied to another workspace's row does
//! not unwrap. Key ids come from the database (`data_keys.id`), so two processes generating keys
//! at once never collide.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseConnection,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, TransactionTrait as _,
};
use time::OffsetDateTime;
use ward_crypto::{
    CachePolicy, CachedKeySource, DataKey, DataKeySource, DekId, KekId, KeyEncryptionKey,
    WrappedDataKey,
};
use ward_storage::WorkspaceKeys;
use ward_types::WorkspaceId;

use crate::clock;
use crate::entity::data_key;
use crate::error::{Error, Result};

/// The life of a data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyState {
    /// Being generated: its id is taken, its wrapped form not yet stored. Never used.
    Pending,
    /// Seals new values and objects. At most one per workspace (a unique index holds this).
    Active,
    /// Opens what it sealed; seals nothing new. Destroyed once nothing uses it.
    Retired,
    /// Gone: what it sealed is unreadable (crypto-shredded).
    Destroyed,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retired => "retired",
            Self::Destroyed => "destroyed",
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [Self::Pending, Self::Active, Self::Retired, Self::Destroyed]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(Error::Corrupt("unknown data key state"))
    }
}

/// What is known of a data key without unwrapping it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key id.
    pub id: DekId,
    /// The KEK version it is wrapped under.
    pub kek_id: KekId,
    /// Its state.
    pub state: KeyState,
    /// When it was generated.
    pub created_at: OffsetDateTime,
}

/// The associated data a workspace's DEKs are wrapped with.
pub(crate) fn wrap_context(workspace: WorkspaceId) -> Vec<u8> {
    format!("ward/v1/data-key:{workspace}").into_bytes()
}

/// A data key id in its stored form (`data_keys.id` and the `key_id` columns, a positive 32-bit
/// integer).
pub(crate) fn stored_key_id(id: DekId) -> Result<i32> {
    i32::try_from(id.0).map_err(|_| Error::Corrupt("data key id beyond 2^31"))
}

/// A key id as stored (`data_keys.id`, a positive 32-bit integer).
pub(crate) fn dek_id(id: i32) -> Result<DekId> {
    u32::try_from(id)
        .map(DekId)
        .map_err(|_| Error::Corrupt("negative data key id"))
}

fn db_id(id: DekId) -> Option<i32> {
    i32::try_from(id.0).ok()
}

/// A workspace's data keys in the `data_keys` table, wrapped by a KEK.
#[derive(Clone)]
pub struct DataKeys {
    db: DatabaseConnection,
    kek: Arc<dyn KeyEncryptionKey>,
}

impl fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeys")
            .field("kek", &self.kek)
            .finish_non_exhaustive()
    }
}

impl DataKeys {
    /// Keys in `db`, wrapped by `kek`.
    pub fn new(db: DatabaseConnection, kek: Arc<dyn KeyEncryptionKey>) -> Self {
        Self { db, kek }
    }

    /// The KEK ring the keys are wrapped by.
    pub fn kek(&self) -> &Arc<dyn KeyEncryptionKey> {
        &self.kek
    }

    /// Generates a DEK for `workspace`, wraps it under the active KEK and makes it the active key;
    /// the previous active key is retired (it still opens what it sealed). Returns the new id.
    ///
    /// The id is taken first (a `pending` row), the key wrapped outside any transaction (a KMS
    /// call may be slow), then one short transaction retires the old key and activates the new
    /// one. A crash in between leaves a `pending` row that is never used. Two generations racing
    /// in one workspace cannot both activate: the loser gets [`Error::Conflict`].
    pub async fn generate(&self, workspace: WorkspaceId) -> Result<DekId> {
        let now = clock::now();
        let pending = data_key::ActiveModel {
            workspace_id: Set(workspace.as_uuid()),
            kek_id: Set(i32::try_from(self.kek.active_id().0)
                .map_err(|_| Error::Corrupt("kek id beyond 2^31"))?),
            wrapped: Set(Vec::new()),
            state: Set(KeyState::Pending.as_str().to_owned()),
            created_at: Set(now),
            retired_at: Set(None),
            destroyed_at: Set(None),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        let id = dek_id(pending.id)?;
        let dek = DataKey::generate(id)?;
        let wrapped = self.kek.wrap(&dek, &wrap_context(workspace)).await?;
        drop(dek);

        let txn = self.db.begin().await?;
        data_key::Entity::update_many()
            .col_expr(
                data_key::Column::State,
                Expr::value(KeyState::Retired.as_str()),
            )
            .col_expr(data_key::Column::RetiredAt, Expr::value(now))
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.eq(KeyState::Active.as_str()))
            .exec(&txn)
            .await?;
        let activated = data_key::Entity::update_many()
            .col_expr(
                data_key::Column::State,
                Expr::value(KeyState::Active.as_str()),
            )
            .col_expr(
                data_key::Column::Wrapped,
                Expr::value(wrapped.as_bytes().to_vec()),
            )
            .col_expr(
                data_key::Column::KekId,
                Expr::value(i64::from(wrapped.kek_id().0)),
            )
            .filter(data_key::Column::Id.eq(pending.id))
            .filter(data_key::Column::State.eq(KeyState::Pending.as_str()))
            .exec(&txn)
            .await;
        match activated {
            Ok(r) if r.rows_affected == 1 => {}
            Ok(_) => return Err(Error::Corrupt("pending data key vanished")),
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::Conflict {
                    reason: "another data key was activated in this workspace at the same time",
                });
            }
            Err(e) => return Err(e.into()),
        }
        txn.commit().await?;
        tracing::info!(%workspace, dek_id = %id, kek_id = %wrapped.kek_id(), "data key generated and activated");
        Ok(id)
    }

    /// The workspace's keys, oldest first (pending ones left out).
    pub async fn list(&self, workspace: WorkspaceId) -> Result<Vec<KeyInfo>> {
        let rows = data_key::Entity::find()
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.ne(KeyState::Pending.as_str()))
            .order_by_asc(data_key::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(KeyInfo {
                    id: dek_id(row.id)?,
                    kek_id: KekId(
                        u32::try_from(row.kek_id).map_err(|_| Error::Corrupt("negative kek id"))?,
                    ),
                    state: row.state.parse()?,
                    created_at: row.created_at,
                })
            })
            .collect()
    }

    /// Destroys a retired key: its wrapped form is erased, so everything it sealed is unreadable
    /// for good. The active key cannot be destroyed (generate a new one first). The caller
    /// checks that nothing still uses the key (the rotation job does).
    pub async fn destroy(&self, workspace: WorkspaceId, id: DekId) -> Result<()> {
        let Some(row_id) = db_id(id) else {
            return Err(Error::not_found("data key", id));
        };
        let done = data_key::Entity::update_many()
            .col_expr(
                data_key::Column::State,
                Expr::value(KeyState::Destroyed.as_str()),
            )
            .col_expr(data_key::Column::Wrapped, Expr::value(Vec::<u8>::new()))
            .col_expr(data_key::Column::DestroyedAt, Expr::value(clock::now()))
            .filter(data_key::Column::Id.eq(row_id))
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.eq(KeyState::Retired.as_str()))
            .exec(&self.db)
            .await?;
        if done.rows_affected == 0 {
            return match self.row(workspace, id).await? {
                None => Err(Error::not_found("data key", id)),
                Some(row) if row.state == KeyState::Destroyed.as_str() => Ok(()),
                Some(_) => Err(Error::Conflict {
                    reason: "only a retired data key can be destroyed",
                }),
            };
        }
        tracing::info!(%workspace, dek_id = %id, "data key destroyed");
        Ok(())
    }

    /// Destroys every key of the workspace, active included: crypto-shredding.
    pub(crate) async fn destroy_all(&self, workspace: WorkspaceId) -> Result<u64> {
        let done = data_key::Entity::update_many()
            .col_expr(
                data_key::Column::State,
                Expr::value(KeyState::Destroyed.as_str()),
            )
            .col_expr(data_key::Column::Wrapped, Expr::value(Vec::<u8>::new()))
            .col_expr(data_key::Column::DestroyedAt, Expr::value(clock::now()))
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.ne(KeyState::Destroyed.as_str()))
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected)
    }

    /// The key source of one workspace (uncached).
    pub fn source(&self, workspace: WorkspaceId) -> DbKeySource {
        DbKeySource {
            keys: self.clone(),
            workspace,
        }
    }

    async fn row(&self, workspace: WorkspaceId, id: DekId) -> Result<Option<data_key::Model>> {
        let Some(row_id) = db_id(id) else {
            return Ok(None);
        };
        Ok(data_key::Entity::find_by_id(row_id)
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .one(&self.db)
            .await?)
    }

    async fn active_row(&self, workspace: WorkspaceId) -> Result<Option<data_key::Model>> {
        Ok(data_key::Entity::find()
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.eq(KeyState::Active.as_str()))
            .one(&self.db)
            .await?)
    }

    async fn unwrap_row(
        &self,
        workspace: WorkspaceId,
        row: data_key::Model,
    ) -> ward_crypto::Result<Arc<DataKey>> {
        let id =
            dek_id(row.id).map_err(|_| ward_crypto::Error::Internal("negative data key id"))?;
        match row.state.parse::<KeyState>() {
            Ok(KeyState::Active | KeyState::Retired) => {}
            Ok(KeyState::Destroyed) => return Err(ward_crypto::Error::KeyDestroyed { key_id: id }),
            Ok(KeyState::Pending) => return Err(ward_crypto::Error::UnknownKeyId { key_id: id }),
            Err(_) => return Err(ward_crypto::Error::Internal("unknown data key state")),
        }
        let wrapped = WrappedDataKey::from_bytes(row.wrapped)?;
        if wrapped.dek_id() != id {
            // A wrapped key stored under another row's id: refuse rather than use it.
            return Err(ward_crypto::Error::Decrypt);
        }
        let dek = self.kek.unwrap(&wrapped, &wrap_context(workspace)).await?;
        Ok(Arc::new(dek))
    }
}

/// Whether a database error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A database failure as ward-crypto's key-provider error (ids and the failure kind only).
fn provider_error(e: Error) -> ward_crypto::Error {
    match e {
        Error::Crypto(e) => e,
        other => ward_crypto::Error::Provider {
            provider: "database",
            message: other.to_string(),
        },
    }
}

/// One workspace's data keys, read from `data_keys` and unwrapped by the KEK: ward-crypto's
/// [`DataKeySource`] over the database. Uncached; [`DbWorkspaceKeys`] caches.
#[derive(Debug, Clone)]
pub struct DbKeySource {
    keys: DataKeys,
    workspace: WorkspaceId,
}

#[async_trait]
impl DataKeySource for DbKeySource {
    async fn active_key(&self) -> ward_crypto::Result<Arc<DataKey>> {
        let row = self
            .keys
            .active_row(self.workspace)
            .await
            .map_err(provider_error)?
            .ok_or(ward_crypto::Error::NoActiveKey)?;
        self.keys.unwrap_row(self.workspace, row).await
    }

    async fn key(&self, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        let row = self
            .keys
            .row(self.workspace, id)
            .await
            .map_err(provider_error)?
            .ok_or(ward_crypto::Error::UnknownKeyId { key_id: id })?;
        self.keys.unwrap_row(self.workspace, row).await
    }
}

/// Every workspace's data keys, each workspace's cached by a [`CachedKeySource`]: ward-storage's
/// [`WorkspaceKeys`] and the field ciphers' source.
///
/// Cached keys are reused within the [`CachePolicy`] (age and use bounds). A key destroyed
/// through [`DbWorkspaceKeys::destroy`] leaves this cache at once; another process's cache forgets
/// it within the policy's maximum age.
pub struct DbWorkspaceKeys {
    keys: DataKeys,
    policy: CachePolicy,
    cache: Mutex<HashMap<WorkspaceId, Arc<CachedKeySource<DbKeySource>>>>,
}

impl fmt::Debug for DbWorkspaceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbWorkspaceKeys")
            .field("keys", &self.keys)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DbWorkspaceKeys {
    /// Keys from `keys`, cached by `policy`.
    pub fn new(keys: DataKeys, policy: CachePolicy) -> Self {
        Self {
            keys,
            policy,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The key table.
    pub fn data_keys(&self) -> &DataKeys {
        &self.keys
    }

    /// The cached key source of `workspace`.
    pub fn source(&self, workspace: WorkspaceId) -> Arc<CachedKeySource<DbKeySource>> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(cache.entry(workspace).or_insert_with(|| {
            Arc::new(CachedKeySource::new(
                self.keys.source(workspace),
                self.policy,
            ))
        }))
    }

    /// Generates and activates a new key for `workspace` ([`DataKeys::generate`]) and makes this
    /// cache use it from now on.
    pub async fn rotate(&self, workspace: WorkspaceId) -> Result<DekId> {
        let id = self.keys.generate(workspace).await?;
        self.forget(workspace);
        Ok(id)
    }

    /// Destroys a retired key ([`DataKeys::destroy`]) and drops it from this cache.
    pub async fn destroy(&self, workspace: WorkspaceId, id: DekId) -> Result<()> {
        self.keys.destroy(workspace, id).await?;
        self.forget(workspace);
        Ok(())
    }

    /// The id of `workspace`'s active key as the database records it, with this cache brought
    /// up to date first: a cached active key that another process has since retired is dropped,
    /// so what seals next uses the recorded one. The rotation jobs start with this (a job must not
    /// re-seal rows under a key that was retired minutes ago).
    pub async fn current_active(&self, workspace: WorkspaceId) -> Result<DekId> {
        let recorded = self
            .keys
            .active_row(workspace)
            .await?
            .ok_or(ward_crypto::Error::NoActiveKey)?;
        let recorded = dek_id(recorded.id)?;
        let cached = DataKeySource::active_key(self.source(workspace).as_ref()).await?;
        if cached.id() != recorded {
            tracing::info!(%workspace, cached = %cached.id(), recorded = %recorded, "cached active data key was stale; refreshed");
            self.forget(workspace);
        }
        Ok(recorded)
    }

    /// Drops every cached key of `workspace`.
    pub fn forget(&self, workspace: WorkspaceId) {
        let removed = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&workspace);
        if let Some(source) = removed {
            source.clear();
        }
    }
}

#[async_trait]
impl WorkspaceKeys for DbWorkspaceKeys {
    async fn active_key(&self, workspace: WorkspaceId) -> ward_crypto::Result<Arc<DataKey>> {
        self.source(workspace).active_key().await
    }

    async fn key(&self, workspace: WorkspaceId, id: DekId) -> ward_crypto::Result<Arc<DataKey>> {
        self.source(workspace).key(id).await
    }
}
