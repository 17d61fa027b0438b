//! Key-rotation jobs: [`KeyRotation::rewrap_keys`] moves every data key under the KEK ring's
//! active version, [`KeyRotation::reseal`] moves a workspace's sealed cells and blind indexes
//! under its active data key, and [`KeyRotation::destroy_unused`] destroys the retired keys that
//! nothing uses any more.
//!
//! Each job works in batches read by keyset pagination (`id > cursor ORDER BY id LIMIT n`, never
//! `OFFSET`) and commits each batch on its own, so a crash loses at most one uncommitted batch and
//! a second run carries on from what is left: a done row records the key it is under (`key_id`)
//! and is not selected again. Several workers can run a job at once: on PostgreSQL each batch
//! locks its rows `FOR UPDATE SKIP LOCKED`, so workers take disjoint rows; on SQLite every batch
//! runs under the database's one write lock, so batches take turns.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sea_orm::sea_query::{
    Alias, Expr, ExprTrait as _, LockBehavior, LockType, Order, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    Statement,
};
use time::OffsetDateTime;
use uuid::Uuid;
use ward_crypto::{DekId, KekId, KeyUsage, WrappedDataKey};
use ward_types::WorkspaceId;
use zeroize::Zeroizing;

use crate::audit::{self, Action, Actor, AuditMetadata, AuditRecord};
use crate::cells::{CellCipher, SealedColumn, SealedTable};
use crate::db::begin_write;
use crate::entity::{attachment, data_key, upload_intent};
use crate::error::{Error, Result};
use crate::keys::{DbWorkspaceKeys, KeyState, dek_id, stored_key_id, wrap_context};
use crate::sealed::{IndexBytes, SealedBytes};

/// Every table with sealed cells.
const TABLES: [SealedTable; 3] = [
    crate::clients::SEALED,
    crate::sessions::SEALED,
    crate::attachments::SEALED,
];

/// Rows per batch unless set otherwise.
pub const DEFAULT_BATCH_SIZE: u32 = 500;

/// How a rotation job runs: rows per batch, and optionally a bound on the batches one call runs
/// (to spread a long job over several calls; each call carries on where the last stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationOptions {
    batch_size: u32,
    max_batches: Option<u32>,
}

impl Default for RotationOptions {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            max_batches: None,
        }
    }
}

impl RotationOptions {
    pub(crate) fn limit(self) -> u64 {
        u64::from(self.batch_size)
    }

    pub(crate) fn may_run(self, batches_done: u32) -> bool {
        self.max_batches.is_none_or(|max| batches_done < max)
    }

    /// [`DEFAULT_BATCH_SIZE`] rows per batch, as many batches as there is work.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows per batch (at least 1, at most 10 000): each batch is one transaction.
    #[must_use]
    pub fn with_batch_size(mut self, rows: u32) -> Self {
        self.batch_size = rows.clamp(1, 10_000);
        self
    }

    /// Stops after `batches` committed batches; the next call carries on.
    #[must_use]
    pub fn with_max_batches(mut self, batches: u32) -> Self {
        self.max_batches = Some(batches);
        self
    }
}

/// Where a job stands, handed to the progress callback after every committed batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// What is being worked through: a table, or `attachments.objects` for the objects.
    pub table: &'static str,
    /// Rows (or objects) done in it by this call so far.
    pub done: u64,
}

impl Progress {
    pub(crate) fn new(table: &'static str, done: u64) -> Self {
        Self { table, done }
    }
}

/// What [`KeyRotation::rewrap_keys`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RewrapReport {
    /// Keys rewrapped under the active KEK version.
    pub rewrapped: u64,
    /// Keys another worker (or a destroy) changed first; left to it.
    pub skipped: u64,
    /// Whether the job stopped at [`RotationOptions::with_max_batches`] with work left.
    pub stopped_early: bool,
    /// Live (active or retired) keys per KEK version after the job: a version absent here
    /// wraps nothing and can leave the ring.
    pub kek_versions: BTreeMap<KekId, u64>,
}

/// A row the re-sealing job could not open: named by table and id, never by content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealFailure {
    /// The table.
    pub table: &'static str,
    /// The row id.
    pub row: Uuid,
    /// Why, without any value in it.
    pub reason: String,
}

/// What [`KeyRotation::reseal`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ResealReport {
    /// The key rows are now under.
    pub key_id: Option<DekId>,
    /// Rows re-sealed, per table.
    pub resealed: BTreeMap<&'static str, u64>,
    /// Rows that did not open (altered, or under a destroyed key); left as they were, so the
    /// keys they name are never destroyed by [`KeyRotation::destroy_unused`]. At most
    /// [`ResealReport::MAX_FAILURES_LISTED`] are listed; `failed` counts them all.
    pub failures: Vec<ResealFailure>,
    /// Rows that did not open.
    pub failed: u64,
    /// Whether the job stopped at [`RotationOptions::with_max_batches`] with work left.
    pub stopped_early: bool,
}

impl ResealReport {
    /// Failures listed by id; the rest are only counted.
    pub const MAX_FAILURES_LISTED: usize = 100;

    /// Counts a failure and lists it while the list is short.
    pub(crate) fn record_failure(&mut self, table: &'static str, row: Uuid, error: &Error) {
        self.failed += 1;
        if self.failures.len() < Self::MAX_FAILURES_LISTED {
            self.failures.push(ResealFailure {
                table,
                row,
                reason: error.to_string(),
            });
        }
    }

    /// Rows re-sealed in every table.
    pub fn total(&self) -> u64 {
        self.resealed.values().sum()
    }
}

/// What uses each of a workspace's keys, read from the ciphertexts themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct KeyUse {
    /// Sealed cells per key id (read from each cell's header; a row's blind indexes are always
    /// under the same key as its cells).
    pub cells: BTreeMap<DekId, u64>,
    /// Stored objects (attachments not yet purged) per key id.
    pub objects: BTreeMap<DekId, u64>,
    /// Cells whose header could not be read: while any exist no key is called unused.
    pub unreadable: u64,
    /// Uploads in flight (intents not yet finalised), whose key is not recorded yet.
    pub uploads_in_flight: u64,
}

impl KeyUse {
    /// Whether nothing uses `id`, as far as can be known.
    pub fn is_unused(&self, id: DekId) -> bool {
        self.unreadable == 0
            && self.uploads_in_flight == 0
            && !self.cells.contains_key(&id)
            && !self.objects.contains_key(&id)
    }
}

/// What [`KeyRotation::destroy_unused`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DestroyReport {
    /// Keys destroyed.
    pub destroyed: Vec<DekId>,
    /// Retired keys kept because something still uses them (or might: see [`KeyUse`]).
    pub in_use: Vec<DekId>,
    /// Retired keys kept because they were retired after the cut-off.
    pub too_recent: Vec<DekId>,
    /// The usage the decision was made on.
    pub usage: KeyUse,
}

/// The rotation jobs, from [`Domain::rotation`](crate::Domain::rotation).
#[derive(Clone)]
pub struct KeyRotation {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
}

impl fmt::Debug for KeyRotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRotation").finish_non_exhaustive()
    }
}

impl KeyRotation {
    pub(crate) fn new(db: DatabaseConnection, keys: Arc<DbWorkspaceKeys>) -> Self {
        Self { db, keys }
    }

    /// Rewraps every live data key (active or retired, every workspace) that is not under the KEK
    /// ring's active version, and reports which versions still wrap keys.
    ///
    /// The data keys themselves do not change, so nothing they sealed is touched and caches stay
    /// valid. Each batch is unwrapped and rewrapped outside any transaction (a KMS call may be
    /// slow), then written in one transaction, each row only if it still holds what was read
    /// (another worker, or a destroy, may have changed it first). A key whose KEK version has
    /// left the ring stops the job with that error: the ring must be fixed first.
    pub async fn rewrap_keys(
        &self,
        options: RotationOptions,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<RewrapReport> {
        let kek = Arc::clone(self.keys.data_keys().kek());
        let active = i64::from(kek.active_id().0);
        let live = [KeyState::Active.as_str(), KeyState::Retired.as_str()];
        let mut report = RewrapReport::default();
        let mut cursor = 0_i32;
        let mut batches = 0_u32;
        loop {
            if !options.may_run(batches) {
                report.stopped_early = true;
                break;
            }
            let rows = data_key::Entity::find()
                .filter(data_key::Column::State.is_in(live))
                .filter(data_key::Column::KekId.ne(active))
                .filter(data_key::Column::Id.gt(cursor))
                .order_by_asc(data_key::Column::Id)
                .limit(options.limit())
                .all(&self.db)
                .await?;
            let Some(last) = rows.last() else { break };
            cursor = last.id;
            let mut rewrapped = Vec::with_capacity(rows.len());
            for row in rows {
                let workspace = WorkspaceId::from(row.workspace_id);
                let id = dek_id(row.id)?;
                let wrapped = WrappedDataKey::from_bytes(row.wrapped.clone())?;
                if wrapped.dek_id() != id {
                    return Err(Error::Corrupt(
                        "a wrapped data key is stored under another id",
                    ));
                }
                let new = ward_crypto::rewrap(
                    kek.as_ref(),
                    &wrapped,
                    &wrap_context(workspace),
                )
                .await
                .inspect_err(|e| {
                    tracing::error!(%workspace, dek_id = %id, kek_id = %wrapped.kek_id(), error = %e, "data key did not rewrap");
                })?;
                rewrapped.push((row.id, row.wrapped, new));
            }
            let total = rewrapped.len() as u64;
            let done = self
                .db
                .execute_raw(rewrap_statement(
                    self.db.get_database_backend(),
                    &rewrapped,
                )?)
                .await?
                .rows_affected();
            report.rewrapped += done;
            report.skipped += total - done;
            batches += 1;
            progress(Progress::new("data_keys", report.rewrapped));
        }
        let versions: Vec<(i32, i64)> = data_key::Entity::find()
            .select_only()
            .column(data_key::Column::KekId)
            .column_as(data_key::Column::Id.count(), "keys")
            .filter(data_key::Column::State.is_in(live))
            .group_by(data_key::Column::KekId)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (kek_id, keys) in versions {
            let kek_id = u32::try_from(kek_id).map_err(|_| Error::Corrupt("negative kek id"))?;
            report
                .kek_versions
                .insert(KekId(kek_id), u64::try_from(keys).unwrap_or(0));
        }
        tracing::info!(
            rewrapped = report.rewrapped,
            skipped = report.skipped,
            "data keys rewrapped"
        );
        Ok(report)
    }

    /// Re-seals every row of `workspace` not recorded as under its active data key (as the
    /// database records it: a stale cached key is refreshed first): each sealed
    /// cell is opened (under whichever key sealed it) and sealed again under the active key, each
    /// blind index recomputed under it, and the row's `key_id` set. Objects are not touched.
    ///
    /// Batches are audited as [`Action::WorkspaceReseal`] by `actor` with the table and row
    /// count. A row that does not open is reported and left as it was; the job goes on. Runs
    /// until a pass over every table finds nothing left that it could do.
    pub async fn reseal(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        options: RotationOptions,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ResealReport> {
        let recorded = self.keys.current_active(workspace).await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let active = cells.key_id()?;
        if active != stored_key_id(recorded)? {
            return Err(Error::Conflict {
                reason: "the workspace's active data key changed as the job started; run it again",
            });
        }
        let mut report = ResealReport {
            key_id: Some(dek_id(active)?),
            ..ResealReport::default()
        };
        let mut batches = 0_u32;
        let mut failed = std::collections::HashSet::new();
        // A worker that crashed (or skipped rows another worker held) leaves rows behind its
        // cursor; a further pass from the start picks them up. A pass that re-seals nothing ends
        // the job, so rows that never open cannot keep it running.
        loop {
            let mut pass = 0_u64;
            for table in TABLES {
                let mut cursor = Uuid::nil();
                loop {
                    if !options.may_run(batches) {
                        report.stopped_early = true;
                        return Ok(report);
                    }
                    let batch = self
                        .reseal_batch(actor, &cells, table, active, cursor, options.limit())
                        .await?;
                    let Some(last) = batch.last else { break };
                    cursor = last;
                    batches += 1;
                    pass += batch.resealed;
                    *report.resealed.entry(table.name).or_default() += batch.resealed;
                    for (row, error) in batch.failures {
                        // A row that fails again on a later pass is counted once.
                        if failed.insert((table.name, row)) {
                            report.record_failure(table.name, row, &error);
                        }
                    }
                    progress(Progress::new(table.name, report.resealed[table.name]));
                }
            }
            if pass == 0 {
                break;
            }
        }
        tracing::info!(%workspace, resealed = report.total(), failed = report.failed, "workspace re-sealed");
        Ok(report)
    }

    /// One batch of [`reseal`](Self::reseal): rows after `cursor` not under `active`, locked,
    /// re-sealed and written in one transaction.
    async fn reseal_batch(
        &self,
        actor: &Actor,
        cells: &CellCipher,
        table: SealedTable,
        active: i32,
        cursor: Uuid,
        limit: u64,
    ) -> Result<Batch> {
        let workspace = cells.workspace();
        let txn = begin_write(&self.db).await?;
        let backend = txn.get_database_backend();
        let mut select = sealed_cells(table, workspace, cursor, limit);
        select.and_where(
            Expr::col(Alias::new("key_id"))
                .is_null()
                .or(Expr::col(Alias::new("key_id")).ne(active)),
        );
        if backend == DbBackend::Postgres {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = txn.query_all(&select).await?;
        let mut batch = Batch::default();
        for row in rows {
            let id: Uuid = row.try_get_by_index(0)?;
            batch.last = Some(id);
            let mut values = Vec::with_capacity(table.columns.len());
            for (i, _) in table.columns.iter().enumerate() {
                let sealed: Option<Vec<u8>> = row.try_get_by_index(i + 1)?;
                values.push(sealed.map(SealedBytes));
            }
            match reseal_row(cells, table, id, &values).await {
                Ok(sets) => {
                    update_row(&txn, table, workspace, id, active, sets).await?;
                    batch.resealed += 1;
                }
                Err(e) => {
                    tracing::warn!(%workspace, table = table.name, row = %id, error = %e, "row did not re-seal; left as it was");
                    batch.failures.push((id, e));
                }
            }
        }
        if batch.resealed > 0 {
            let record = AuditRecord::new(actor, Action::WorkspaceReseal, workspace.as_uuid())
                .with(
                    AuditMetadata::new()
                        .word("table", table.name)
                        .count("rows", i64::try_from(batch.resealed).unwrap_or(i64::MAX)),
                );
            audit::append(&txn, workspace, &record).await?;
        }
        txn.commit().await?;
        Ok(batch)
    }

    /// What uses each of `workspace`'s keys: every sealed cell's header is read (a full pass over
    /// the workspace's rows, by keyset pagination), every live object's recorded key counted.
    pub async fn key_usage(&self, workspace: WorkspaceId) -> Result<KeyUse> {
        let mut usage = KeyUsage::new();
        for table in TABLES {
            let mut cursor = Uuid::nil();
            loop {
                let select =
                    sealed_cells(table, workspace, cursor, u64::from(DEFAULT_BATCH_SIZE) * 4);
                let rows = self.db.query_all(&select).await?;
                let Some(last) = rows.last() else { break };
                cursor = last.try_get_by_index(0)?;
                for row in &rows {
                    for i in 0..table.columns.len() {
                        let sealed: Option<Vec<u8>> = row.try_get_by_index(i + 1)?;
                        if let Some(sealed) = sealed {
                            usage.record_field(&sealed);
                        }
                    }
                }
            }
        }
        let mut out = KeyUse {
            unreadable: usage.unreadable(),
            ..KeyUse::default()
        };
        for (id, n) in usage.by_key() {
            out.cells.insert(id, n);
        }
        let objects: Vec<(i32, i64)> = attachment::Entity::find()
            .select_only()
            .column(attachment::Column::StreamKeyId)
            .column_as(attachment::Column::Id.count(), "objects")
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::PurgedAt.is_null())
            .group_by(attachment::Column::StreamKeyId)
            .into_tuple()
            .all(&self.db)
            .await?;
        for (id, n) in objects {
            out.objects
                .insert(dek_id(id)?, u64::try_from(n).unwrap_or(u64::MAX));
        }
        out.uploads_in_flight = upload_intent::Entity::find()
            .filter(upload_intent::Column::WorkspaceId.eq(workspace.as_uuid()))
            .count(&self.db)
            .await?;
        Ok(out)
    }

    /// Destroys each of `workspace`'s retired keys that was retired at or before
    /// `retired_before` and that nothing uses ([`key_usage`](Self::key_usage), read from the
    /// ciphertexts, not from the recorded `key_id`s). Each destruction is audited as
    /// [`Action::DataKeyDestroy`].
    ///
    /// `retired_before` must leave time for every process to stop sealing with the key:
    /// at least the key cache's maximum age after the rotation, and the longest upload (an
    /// upload seals its object with the key that was active when it began). Use `now - 1 day`
    /// unless those are known to be shorter.
    pub async fn destroy_unused(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        retired_before: OffsetDateTime,
    ) -> Result<DestroyReport> {
        let retired = data_key::Entity::find()
            .filter(data_key::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(data_key::Column::State.eq(KeyState::Retired.as_str()))
            .order_by_asc(data_key::Column::Id)
            .all(&self.db)
            .await?;
        let usage = self.key_usage(workspace).await?;
        let mut report = DestroyReport::default();
        for row in retired {
            let id = dek_id(row.id)?;
            if row.retired_at.is_none_or(|at| at > retired_before) {
                report.too_recent.push(id);
            } else if !usage.is_unused(id) {
                report.in_use.push(id);
            } else {
                self.keys.destroy(workspace, id).await?;
                let record = AuditRecord::new(actor, Action::DataKeyDestroy, workspace.as_uuid())
                    .with(AuditMetadata::new().count("data_key_id", i64::from(row.id)));
                let txn = begin_write(&self.db).await?;
                audit::append(&txn, workspace, &record).await?;
                txn.commit().await?;
                report.destroyed.push(id);
            }
        }
        report.usage = usage;
        Ok(report)
    }
}

/// One statement writing a batch of rewrapped keys, each row only if it still holds the wrapped
/// form that was read and is still live (compare-and-set): `WITH v(…) AS (VALUES …) UPDATE
/// data_keys … FROM v`, which PostgreSQL and SQLite (3.33 and later) both run. One statement
/// per batch instead of one per key: the round trips were most of the job's time.
fn rewrap_statement(
    backend: DbBackend,
    rows: &[(i32, Vec<u8>, WrappedDataKey)],
) -> Result<Statement> {
    let mut sql = String::from("WITH v(id, was_wrapped, now_wrapped, now_kek) AS (VALUES ");
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 4);
    for (i, (id, old, new)) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for j in 0..4 {
            if j > 0 {
                sql.push_str(", ");
            }
            match backend {
                DbBackend::Postgres => sql.push_str(&format!("${}", i * 4 + j + 1)),
                _ => sql.push('?'),
            }
        }
        sql.push(')');
        let kek =
            i32::try_from(new.kek_id().0).map_err(|_| Error::Corrupt("kek id beyond 2^31"))?;
        values.extend([
            (*id).into(),
            old.clone().into(),
            new.as_bytes().to_vec().into(),
            kek.into(),
        ]);
    }
    sql.push_str(&format!(
        ") UPDATE data_keys SET wrapped = v.now_wrapped, kek_id = v.now_kek FROM v \
         WHERE data_keys.id = v.id AND data_keys.wrapped = v.was_wrapped \
         AND data_keys.state IN ('{}', '{}')",
        KeyState::Active.as_str(),
        KeyState::Retired.as_str()
    ));
    Ok(Statement::from_sql_and_values(backend, sql, values))
}

/// `SELECT id, <sealed columns> FROM <table>`: the workspace's next `limit` rows after `cursor`,
/// in id order (keyset pagination).
fn sealed_cells(
    table: SealedTable,
    workspace: WorkspaceId,
    cursor: Uuid,
    limit: u64,
) -> SelectStatement {
    let mut select = Query::select();
    select
        .column(Alias::new("id"))
        .columns(table.columns.iter().map(|c| Alias::new(c.cell().column)))
        .from(Alias::new(table.name))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(workspace.as_uuid()))
        .and_where(Expr::col(Alias::new("id")).gt(cursor))
        .order_by(Alias::new("id"), Order::Asc)
        .limit(limit);
    select
}

/// One committed batch.
#[derive(Debug, Default)]
struct Batch {
    last: Option<Uuid>,
    resealed: u64,
    failures: Vec<(Uuid, Error)>,
}

/// The new values of one row's sealed columns (and their indexes), in `table.columns` order.
async fn reseal_row(
    cells: &CellCipher,
    table: SealedTable,
    row: Uuid,
    values: &[Option<SealedBytes>],
) -> Result<Vec<(&'static str, SimpleExpr)>> {
    let mut sets = Vec::with_capacity(values.len() * 2);
    for (column, value) in table.columns.iter().zip(values) {
        let cell = column.cell();
        let plaintext = match value {
            Some(sealed) => Some(cells.open(cell, row, sealed).await?),
            None => None,
        };
        let resealed = plaintext
            .as_ref()
            .map(|p| cells.seal(cell, row, p))
            .transpose()?;
        sets.push((cell.column, Expr::value(resealed.map(|s| s.0))));
        if let SealedColumn::Indexed {
            cell: indexed,
            index_column,
        } = *column
        {
            let index: Option<IndexBytes> = match &plaintext {
                Some(p) => {
                    let text = Zeroizing::new(
                        std::str::from_utf8(p)
                            .map_err(|_| Error::Corrupt("a sealed text value is not UTF-8"))?
                            .to_owned(),
                    );
                    Some(cells.index(indexed, &text).await?)
                }
                None => None,
            };
            sets.push((index_column, Expr::value(index.map(|i| i.0))));
        }
    }
    Ok(sets)
}

async fn update_row(
    txn: &DatabaseTransaction,
    table: SealedTable,
    workspace: WorkspaceId,
    id: Uuid,
    active: i32,
    sets: Vec<(&'static str, SimpleExpr)>,
) -> Result<()> {
    let mut update = Query::update();
    update.table(Alias::new(table.name));
    for (column, value) in sets {
        update.value(Alias::new(column), value);
    }
    update
        .value(Alias::new("key_id"), active)
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .and_where(Expr::col(Alias::new("workspace_id")).eq(workspace.as_uuid()));
    txn.execute(&update).await?;
    Ok(())
}
