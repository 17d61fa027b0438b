//! `Attachments`: the upload pipeline and everything after it (list, download, rename, delete,
//! retention purge, reconciliation).
//!
//! # The pipeline
//!
//! [`Attachments::upload`] takes a display name and a reader and, in order:
//!
//! 1. reads the body, stopping just past the per-file limit;
//! 2. validates and sanitises it (ward-sanitize: extension, magic bytes and a real parse agree;
//!    metadata removed), on a blocking thread, all but an image's content check (step 5);
//! 3. refuses a display name already used by one of the client's live attachments;
//! 4. **reserves**: one short transaction raises the client's, session's and workspace's usage by
//!    the file's size, each only if it stays within its quota, and writes an upload intent
//!    naming the object key. Concurrent uploads that together exceed a quota: exactly the ones
//!    that fit succeed;
//! 5. encrypts and stores the bytes (ward stream, bound to the object key) with the store's
//!    server-side encryption, and proves the stored object encrypted (fail-closed: an object
//!    that cannot be proven is deleted). **No database lock is held while bytes move**. At
//!    the same time, on a blocking thread, the content check of an image (its full decode, or
//!    the entropy decode of every JPEG block: [`Staged::check`](ward_sanitize::Staged::check))
//!    runs over the very bytes being stored; a file that fails it is refused with
//!    [`Error::Sanitize`] and compensated like a failed put;
//! 6. **finalises**: one short transaction removes the intent, inserts the attachment row (sealed
//!    display name, evidence, key id) and appends the audit event.
//!
//! Any failure after step 4 **compensates**: the object is deleted, then the intent removed and
//! the reservation released. If the upload's future is dropped (a crash, a cancelled request),
//! or the compensation itself fails, the intent stays, and [`Attachments::reconcile`] resolves
//! it once its deadline has passed. A row is only ever inserted together with the removal of its
//! intent, so nothing half-written is listed or readable.
//!
//! # The content check
//!
//! Checking an image's content takes about as long as storing it (a 7.5 MiB JPEG: about 50 ms
//! each on a 2-core machine, see `docs/performance.md`), so the two run side by side instead
//! of one after the other. The check's
//! verdict is awaited before the row is recorded: a file refused by it has only ever existed
//! as ciphertext under an upload intent, which is not listed or readable, and is deleted by the
//! compensation (or, if that fails, by the reconciler). Everything that decides the stored
//! bytes, metadata removal included, has run before the first byte is stored.
//!
//! # Malware scanning
//!
//! With a [`Scanner`] ([`Attachments::with_scanner`]), step 2 scans the bytes as received (before
//! anything is removed from them) side by side with validating and sanitising them. A file that
//! fails validation is refused for that; a valid one the scanner recognises is refused with
//! [`Error::Infected`] and an `attachment.malware` audit event naming the signature; a scanner
//! that cannot give a verdict (unreachable, slow, failing, or a file longer than it takes) refuses
//! the upload with [`Error::Scan`]. All of this happens before the reservation: a refused file
//! has taken no quota and stored nothing.
//!
//! # Lock order
//!
//! Every write transaction of ward-domain locks rows in one order: attachment rows, upload
//! intents, client rows, session rows, and the workspace row last (its usage, and the audit
//! chain's head, which every audited write advances last). So two transactions never wait for
//! each other in a circle on PostgreSQL's row locks, however uploads, deletes, edits and the
//! rotation jobs (a batch of one table's rows, then the audit event) interleave.

use std::fmt;
use std::io;
use std::ops::Range;
use std::sync::Arc;

use futures::StreamExt as _;
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait,
    DatabaseConnection, DbBackend, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use uuid::Uuid;
use ward_crypto::{DekId, Normalizer};
use ward_sanitize::Sanitizer;
use ward_storage::{
    BoxReader, EncryptedStore, EncryptionEvidence, FileKind, GetOptions, GetResult, KeyPrefix,
    ObjectKey, ObjectStore, ObjectStoreExt as _, Owner, PutOptions, RequiredProof,
};
use ward_types::WorkspaceId;

use crate::audit::{self, Action, Actor, AuditMetadata, AuditRecord};
use crate::cells::{Cell, CellCipher, IndexedCell, SealedColumn, SealedTable};
use crate::clock;
use crate::db::begin_write;
use crate::entity::{attachment, client, session, upload_intent, workspace};
use crate::error::{Error, Result};
use crate::keys::{DbWorkspaceKeys, is_unique_violation, stored_key_id};
use crate::quota::{QuotaFigures, QuotaScope, UploadLimits};
use crate::rotation::{Progress, ResealReport, RotationOptions};
use crate::scan::{Scanner, Verdict};
use crate::workspaces::{bytes_from_db, bytes_to_db};

/// How the re-sealing of objects is named in reports and progress.
const OBJECTS: &str = "attachments.objects";

const DISPLAY_NAME: IndexedCell = IndexedCell {
    cell: Cell::new("attachments", "display_name"),
    normalizer: Normalizer::Name,
};

/// The sealed columns of `attachments` (the objects are sealed apart, see `stream_key_id`).
pub(crate) const SEALED: SealedTable = SealedTable {
    name: "attachments",
    columns: &[SealedColumn::Indexed {
        cell: DISPLAY_NAME,
        index_column: "display_name_index",
    }],
};

/// Whether `owner` still holds files: live attachments, or uploads in flight (their intents),
/// read in `txn`. A client's count includes its sessions' files.
pub(crate) async fn holds_files(txn: &impl ConnectionTrait, owner: Owner) -> Result<bool> {
    let (files, intents) = match owner {
        Owner::Client(id) => (
            attachment::Column::ClientId.eq(id),
            upload_intent::Column::ClientId.eq(id),
        ),
        Owner::Session(id) => (
            attachment::Column::SessionId.eq(id),
            upload_intent::Column::SessionId.eq(id),
        ),
    };
    let live = attachment::Entity::find()
        .filter(files)
        .filter(attachment::Column::DeletedAt.is_null())
        .count(txn)
        .await?;
    let in_flight = upload_intent::Entity::find()
        .filter(intents)
        .count(txn)
        .await?;
    Ok(live + in_flight > 0)
}

/// The most files one bulk download takes ([`Attachments::download_many`]).
pub const MAX_BULK_FILES: usize = 50;
/// The most bytes (by recorded sizes) one bulk download takes: 100 MiB.
pub const MAX_BULK_BYTES: u64 = 100 * 1024 * 1024;

/// Several attachments opened for one download ([`Attachments::download_many`]): already
/// audited; each file is decrypted as it is read.
pub struct BulkDownload {
    store: EncryptedStore<Arc<dyn ObjectStore>>,
    files: Vec<(Attachment, ObjectKey)>,
}

impl fmt::Debug for BulkDownload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkDownload")
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

impl BulkDownload {
    /// The attachments, in the order asked.
    pub fn files(&self) -> impl ExactSizeIterator<Item = &Attachment> {
        self.files.iter().map(|(a, _)| a)
    }

    /// The total of the files' recorded sizes.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|(a, _)| a.size_bytes).sum()
    }

    /// Opens the `index`th file (in [`files`](Self::files) order) for reading, decrypting as
    /// the caller reads.
    pub async fn open(&self, index: usize) -> Result<GetResult> {
        let (_, key) = self
            .files
            .get(index)
            .ok_or(Error::Internal("no such file in the bulk download"))?;
        Ok(self.store.get_opts(key, GetOptions::new()).await?)
    }
}

/// A live attachment found for a download ([`Attachments::find_download`]): its record read
/// once, its bytes not yet read and the read not yet audited.
#[derive(Debug)]
pub struct FoundDownload {
    attachment: Attachment,
    key: ObjectKey,
}

impl FoundDownload {
    /// The attachment (its size, to check a byte range against).
    pub fn attachment(&self) -> &Attachment {
        &self.attachment
    }
}

/// An attachment as read: ids, its display name opened, and its storage facts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attachment {
    /// The attachment id.
    pub id: Uuid,
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The client it belongs to.
    pub client_id: Uuid,
    /// The session, for a session's attachment.
    pub session_id: Option<Uuid>,
    /// The display name (ward-sanitize's rules, original extension kept).
    pub display_name: String,
    /// The validated content kind.
    pub kind: FileKind,
    /// Size in bytes after sanitising.
    pub size_bytes: u64,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When it committed.
    pub created_at: OffsetDateTime,
    /// The data key that sealed the object.
    pub key_id: DekId,
    /// The store's proof of encryption, as recorded.
    pub evidence: EncryptionEvidence,
}

impl Attachment {
    /// The owner (session or client) the attachment is filed under.
    pub fn owner(&self) -> Owner {
        match self.session_id {
            Some(s) => Owner::Session(s),
            None => Owner::Client(self.client_id),
        }
    }
}

/// What [`Attachments::reconcile`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Expired intents resolved (object deleted, reservation released).
    pub intents_resolved: u64,
    /// Bytes of reservations released.
    pub bytes_released: u64,
    /// Objects with no row and no intent deleted (sweep mode only).
    pub orphans_deleted: u64,
}

/// What [`Attachments::purge`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurgeReport {
    /// Soft-deleted attachments whose objects were deleted.
    pub purged: u64,
}

/// Uploads, lists, downloads, renames and deletes attachments; every access is audited.
#[derive(Debug, Clone)]
pub struct Attachments {
    db: DatabaseConnection,
    keys: Arc<DbWorkspaceKeys>,
    store: EncryptedStore<Arc<dyn ObjectStore>>,
    sanitizer: Arc<Sanitizer>,
    limits: UploadLimits,
    scanner: Option<Arc<dyn Scanner>>,
}

impl Attachments {
    pub(crate) fn new(
        db: DatabaseConnection,
        keys: Arc<DbWorkspaceKeys>,
        store: Arc<dyn ObjectStore>,
        proof: RequiredProof,
    ) -> Self {
        let limits = UploadLimits::default();
        Self {
            db,
            store: EncryptedStore::new(store, Arc::clone(&keys)).with_proof(proof),
            keys,
            sanitizer: Arc::new(sanitizer_for(limits)),
            limits,
            scanner: None,
        }
    }

    /// Scans every upload with `scanner` (see "Malware scanning" in the module docs). Without
    /// one, uploads are not scanned: the service decides that, and says so loudly.
    pub fn with_scanner(mut self, scanner: Arc<dyn Scanner>) -> Self {
        self.scanner = Some(scanner);
        self
    }

    /// The scanner in use, if any.
    pub fn scanner(&self) -> Option<&Arc<dyn Scanner>> {
        self.scanner.as_ref()
    }

    /// Uses these limits (and a sanitizer whose file-size limit matches).
    pub fn with_limits(mut self, limits: UploadLimits) -> Self {
        self.limits = limits;
        self.sanitizer = Arc::new(sanitizer_for(limits));
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// Uploads a file for `owner` (a session or client of `workspace`): validate, sanitise,
    /// reserve, encrypt, store, verify, commit (see the module docs). Audited as
    /// `attachment.upload`.
    ///
    /// Errors: [`Error::QuotaExceeded`] (with the figures), [`Error::Sanitize`] (the file was
    /// refused, naming the rule), [`Error::Conflict`] (a live attachment of the client has the
    /// same name), [`Error::NotFound`] (no such owner in the workspace), store and database
    /// failures. After an error nothing is stored and nothing stays reserved, or an intent is
    /// left for [`reconcile`](Self::reconcile).
    pub async fn upload<R>(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        owner: Owner,
        display_name: &str,
        body: R,
    ) -> Result<Attachment>
    where
        R: AsyncRead + Send + Unpin,
    {
        let raw = read_limited(body, self.limits.max_file_bytes()).await?;
        self.upload_bytes(actor, workspace, owner, display_name, raw)
            .await
    }

    /// [`upload`](Self::upload) of a file already in memory (a service that has read the
    /// request body), without copying it again. The same checks, errors and audit; a file over
    /// the per-file limit is refused with [`Error::QuotaExceeded`] before anything else.
    pub async fn upload_bytes(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        owner: Owner,
        display_name: &str,
        raw: Vec<u8>,
    ) -> Result<Attachment> {
        check_file_size(raw.len(), self.limits.max_file_bytes())?;
        let (client_id, session_id) = self.resolve_owner(workspace, owner).await?;

        let sanitizer = Arc::clone(&self.sanitizer);
        let name = display_name.to_owned();
        let raw = Arc::new(raw);
        let received = raw.len() as u64;
        // Everything but an image's content check, which runs below while the output is
        // encrypted and stored (see "The content check" in the module docs), side by side with
        // the malware scan of the bytes as received.
        let staging = {
            let raw = Arc::clone(&raw);
            tokio::task::spawn_blocking(move || sanitizer.stage(&name, &raw))
        };
        let scanning = async {
            match &self.scanner {
                Some(scanner) => Some(scanner.scan(&raw).await),
                None => None,
            }
        };
        let (staged, scanned) = tokio::join!(staging, scanning);
        drop(raw);
        // A file that is not what it claims is refused for that first; only a valid file's
        // verdict counts.
        let staged = staged.map_err(|_| Error::Internal("the sanitising task failed"))??;
        let kind = staged.kind();
        let id = Uuid::new_v4();
        if let Some(Verdict::Infected { signature }) = scanned.transpose()? {
            tracing::warn!(%workspace, attachment = %id, size = received, signature = %signature, "upload refused: malware");
            let mut meta = AuditMetadata::new()
                .signature("signature", &signature)
                .id("client_id", client_id)
                .count("size_bytes", bytes_to_db(received, "file size")?)
                .word("kind", kind.as_str());
            if let Some(s) = session_id {
                meta = meta.id("session_id", s);
            }
            let record = AuditRecord::new(actor, Action::AttachmentMalware, id).with(meta);
            self.audit(workspace, &record).await?;
            return Err(Error::Infected);
        }
        check_file_size(staged.len(), self.limits.max_file_bytes())?;
        let size = staged.len() as u64;

        let shown = ward_sanitize::display_name(display_name, kind);
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let sealed_name = cells.seal(DISPLAY_NAME.cell, id, shown.as_bytes())?;
        let name_index = cells.index(DISPLAY_NAME, &shown).await?;
        self.refuse_duplicate(&cells, client_id, &shown, None)
            .await?;

        let key = ObjectKey::new(workspace.as_uuid(), owner, id, kind);
        self.reserve(workspace, client_id, session_id, &key, size)
            .await?;

        let committed = async {
            let output = staged.bytes();
            let checking = tokio::task::spawn_blocking(move || staged.check());
            let body: BoxReader = Box::pin(io::Cursor::new(output));
            let stored = self.store.put_sealed(
                &key,
                body,
                PutOptions::new().with_content_type(kind.media_type()),
            );
            let (stored, checked) = tokio::join!(stored, checking);
            // A file that fails the check is refused like one that failed to store: the
            // compensation below deletes the object and releases the reservation.
            checked.map_err(|_| Error::Internal("the content check task failed"))??;
            let sealed = stored?;
            let evidence = sealed
                .evidence
                .ok_or(Error::Internal("the store gave no evidence of encryption"))?;
            let row = attachment::ActiveModel {
                id: Set(id),
                workspace_id: Set(workspace.as_uuid()),
                client_id: Set(client_id),
                session_id: Set(session_id),
                display_name: Set(sealed_name),
                display_name_index: Set(name_index),
                content_type: Set(kind.media_type().to_owned()),
                size_bytes: Set(bytes_to_db(size, "file size")?),
                object_key: Set(key.as_str().to_owned()),
                stream_key_id: Set(stored_key_id(sealed.key_id)?),
                key_id: Set(Some(cells.key_id()?)),
                lease_until: Set(None),
                encryption_evidence: Set(serde_json::to_value(&evidence)
                    .map_err(|_| Error::Internal("evidence did not serialise"))?),
                uploaded_by: Set(actor.as_str().to_owned()),
                created_at: Set(clock::now()),
                deleted_at: Set(None),
                purged_at: Set(None),
            };
            self.finalise(actor, workspace, id, row).await
        }
        .await;

        match committed {
            Ok(row) => {
                tracing::info!(%workspace, attachment = %id, size, kind = kind.as_str(), "attachment uploaded");
                to_attachment(row, shown)
            }
            Err(e) => {
                tracing::warn!(%workspace, attachment = %id, error = %e, "upload failed; compensating");
                match self.compensate(&key, id).await {
                    Compensation::CommittedAfterAll(row) => to_attachment(*row, shown),
                    Compensation::Done | Compensation::LeftToReconciler => Err(e),
                }
            }
        }
    }

    /// The live attachments of `owner`, oldest first, display names opened. Audited as
    /// `attachment.list` with the count.
    pub async fn list(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        owner: Owner,
    ) -> Result<Vec<Attachment>> {
        let (client_id, session_id) = self.resolve_owner(workspace, owner).await?;
        let mut query = attachment::Entity::find()
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::ClientId.eq(client_id))
            .filter(attachment::Column::DeletedAt.is_null());
        if let Some(s) = session_id {
            query = query.filter(attachment::Column::SessionId.eq(s));
        }
        let rows = query
            .order_by_asc(attachment::Column::CreatedAt)
            .order_by_asc(attachment::Column::Id)
            .all(&self.db)
            .await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(open_row(&cells, row).await?);
        }
        let owner_id = session_id.unwrap_or(client_id);
        let record = AuditRecord::new(actor, Action::AttachmentList, owner_id)
            .with(AuditMetadata::new().count("count", out.len() as i64));
        self.audit(workspace, &record).await?;
        Ok(out)
    }

    /// Opens several live attachments of client `client_id` for one download: all of them or
    /// none ([`Error::NotFound`] when any id is not a live file of the client, in this
    /// workspace). `ids` holds 1 to [`MAX_BULK_FILES`] ids (repeats count once) whose recorded
    /// sizes come to at most [`MAX_BULK_BYTES`] ([`Error::QuotaExceeded`] with
    /// [`QuotaScope::BulkDownload`] otherwise). Audited once, as `attachment.bulk_download`
    /// of the client with the count and total size, before any byte is read; the files are then
    /// read, in the order asked, through [`BulkDownload::open`].
    pub async fn download_many(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        client_id: Uuid,
        ids: &[Uuid],
    ) -> Result<BulkDownload> {
        let mut unique: Vec<Uuid> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(*id);
            }
        }
        if unique.is_empty() || unique.len() > MAX_BULK_FILES {
            return Err(Error::InvalidInput {
                field: "attachment_ids",
                reason: "must name 1 to 50 attachments",
            });
        }
        let rows = attachment::Entity::find()
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::ClientId.eq(client_id))
            .filter(attachment::Column::DeletedAt.is_null())
            .filter(attachment::Column::Id.is_in(unique.iter().copied()))
            .all(&self.db)
            .await?;
        if rows.len() != unique.len() {
            return Err(Error::not_found("attachment", "(one of several)"));
        }
        let total: u64 = rows
            .iter()
            .map(|r| bytes_from_db(r.size_bytes))
            .sum::<Result<u64>>()?;
        if total > MAX_BULK_BYTES {
            return Err(Error::QuotaExceeded(QuotaFigures {
                scope: QuotaScope::BulkDownload,
                used_bytes: 0,
                quota_bytes: MAX_BULK_BYTES,
                file_bytes: total,
            }));
        }
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let mut files = Vec::with_capacity(rows.len());
        for id in &unique {
            let row = rows
                .iter()
                .find(|r| r.id == *id)
                .cloned()
                .ok_or(Error::Internal("a fetched row went missing"))?;
            let key: ObjectKey = row.object_key.parse()?;
            files.push((open_row(&cells, row).await?, key));
        }
        let record = AuditRecord::new(actor, Action::AttachmentBulkDownload, client_id).with(
            AuditMetadata::new()
                .count("count", files.len() as i64)
                .count("size_bytes", total as i64),
        );
        self.audit(workspace, &record).await?;
        Ok(BulkDownload {
            store: self.store.clone(),
            files,
        })
    }

    /// The record of a live attachment of `workspace` (display name opened), without reading
    /// its bytes and without an audit event: for a caller that checks where a file belongs
    /// before an audited call ([`download`](Self::download), [`rename`](Self::rename),
    /// [`delete`](Self::delete)). Another workspace's id is [`Error::NotFound`].
    pub async fn metadata(&self, workspace: WorkspaceId, id: Uuid) -> Result<Attachment> {
        let row = self.live_row(workspace, id).await?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        open_row(&cells, row).await
    }

    /// Opens a live attachment for reading, decrypting as the caller reads (`range` in
    /// plaintext bytes, `None` for all). Audited as `attachment.download`.
    pub async fn download(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        range: Option<Range<u64>>,
    ) -> Result<(Attachment, GetResult)> {
        let found = self.find_download(workspace, id).await?;
        self.download_found(actor, found, range).await
    }

    /// The first half of [`download`](Self::download): finds a live attachment of `workspace`
    /// (display name opened) without reading its bytes or auditing, so a caller can check a
    /// byte range against its size before [`download_found`](Self::download_found) reads it.
    /// Another workspace's id is [`Error::NotFound`].
    pub async fn find_download(&self, workspace: WorkspaceId, id: Uuid) -> Result<FoundDownload> {
        let row = self.live_row(workspace, id).await?;
        let key: ObjectKey = row.object_key.parse()?;
        let cells = CellCipher::new(&self.keys, workspace).await?;
        let attachment = open_row(&cells, row).await?;
        Ok(FoundDownload { attachment, key })
    }

    /// The second half of [`download`](Self::download): opens the file `found` for reading,
    /// decrypting as the caller reads (`range` in plaintext bytes, `None` for all). Audited as
    /// `attachment.download`.
    pub async fn download_found(
        &self,
        actor: &Actor,
        found: FoundDownload,
        range: Option<Range<u64>>,
    ) -> Result<(Attachment, GetResult)> {
        let FoundDownload { attachment, key } = found;
        let mut opts = GetOptions::new();
        if let Some(r) = range.clone() {
            opts = opts.with_range(r);
        }
        let got = self.store.get_opts(&key, opts).await?;
        let mut meta = AuditMetadata::new().count("size_bytes", attachment.size_bytes as i64);
        if let Some(r) = range {
            meta = meta
                .count("range_start", r.start as i64)
                .count("range_end", r.end as i64);
        }
        let record = AuditRecord::new(actor, Action::AttachmentDownload, attachment.id).with(meta);
        self.audit(attachment.workspace, &record).await?;
        Ok((attachment, got))
    }

    /// Renames a live attachment with the display-name rules (its extension is kept); a name
    /// used by another live attachment of the client is [`Error::Conflict`]. Audited as
    /// `attachment.rename`.
    pub async fn rename(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        new_name: &str,
    ) -> Result<Attachment> {
        let row = self.live_row(workspace, id).await?;
        let kind = kind_of(&row)?;
        let shown = ward_sanitize::display_name(new_name, kind);
        let cells = CellCipher::new(&self.keys, workspace).await?;
        self.refuse_duplicate(&cells, row.client_id, &shown, Some(id))
            .await?;
        let sealed = cells.seal(DISPLAY_NAME.cell, id, shown.as_bytes())?;
        let index = cells.index(DISPLAY_NAME, &shown).await?;
        let txn = begin_write(&self.db).await?;
        let done = attachment::Entity::update_many()
            .col_expr(attachment::Column::DisplayName, Expr::value(sealed))
            .col_expr(attachment::Column::DisplayNameIndex, Expr::value(index))
            .col_expr(attachment::Column::KeyId, Expr::value(cells.key_id()?))
            .filter(attachment::Column::Id.eq(id))
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::DeletedAt.is_null())
            .exec(&txn)
            .await;
        match done {
            Ok(r) if r.rows_affected == 1 => {}
            Ok(_) => return Err(Error::not_found("attachment", id)),
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            Err(e) => return Err(e.into()),
        }
        audit::append(
            &txn,
            workspace,
            &AuditRecord::new(actor, Action::AttachmentRename, id),
        )
        .await?;
        txn.commit().await?;
        let row = self.live_row(workspace, id).await?;
        to_attachment(row, shown)
    }

    /// Soft-deletes a live attachment and releases its bytes from the quotas, in one
    /// transaction; the object stays until [`purge`](Self::purge). Audited as
    /// `attachment.delete`.
    pub async fn delete(&self, actor: &Actor, workspace: WorkspaceId, id: Uuid) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        let row = attachment::Entity::find_by_id(id)
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::DeletedAt.is_null())
            .one(&txn)
            .await?
            .ok_or_else(|| Error::not_found("attachment", id))?;
        let done = attachment::Entity::update_many()
            .col_expr(attachment::Column::DeletedAt, Expr::value(clock::now()))
            .filter(attachment::Column::Id.eq(id))
            .filter(attachment::Column::DeletedAt.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(Error::not_found("attachment", id));
        }
        release(
            &txn,
            row.workspace_id,
            row.client_id,
            row.session_id,
            row.size_bytes,
        )
        .await?;
        let record = AuditRecord::new(actor, Action::AttachmentDelete, id)
            .with(AuditMetadata::new().count("size_bytes", row.size_bytes));
        audit::append(&txn, workspace, &record).await?;
        txn.commit().await?;
        tracing::info!(%workspace, attachment = %id, size = row.size_bytes, "attachment deleted");
        Ok(())
    }

    /// Deletes the objects of attachments soft-deleted before `deleted_before` (the retention
    /// purge; default retention is 30 days, see [`DEFAULT_RETENTION`]) and marks them purged.
    /// Each purge is audited as `attachment.purge` by `system:retention`.
    pub async fn purge(&self, deleted_before: OffsetDateTime) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        let actor = Actor::system("retention");
        loop {
            let batch = attachment::Entity::find()
                .filter(attachment::Column::DeletedAt.lt(deleted_before))
                .filter(attachment::Column::PurgedAt.is_null())
                .order_by_asc(attachment::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            for row in batch {
                let key: ObjectKey = row.object_key.parse()?;
                self.store.delete(&key).await?;
                let txn = begin_write(&self.db).await?;
                attachment::Entity::update_many()
                    .col_expr(attachment::Column::PurgedAt, Expr::value(clock::now()))
                    .filter(attachment::Column::Id.eq(row.id))
                    .exec(&txn)
                    .await?;
                audit::append(
                    &txn,
                    row.workspace_id.into(),
                    &AuditRecord::new(&actor, Action::AttachmentPurge, row.id),
                )
                .await?;
                txn.commit().await?;
                report.purged += 1;
            }
        }
    }

    /// Crypto-shreds `workspace`: destroys every data key it has (so every sealed field and
    /// object it wrote is unreadable for good), then deletes its objects and marks its
    /// attachments purged. Audited as `workspace.shred`. Idempotent: a second call finds no keys
    /// and no objects.
    pub async fn shred(&self, actor: &Actor, workspace: WorkspaceId) -> Result<u64> {
        let destroyed = self.keys.data_keys().destroy_all(workspace).await?;
        self.keys.forget(workspace);
        let mut listing = self.store.inner().list(&KeyPrefix::workspace(workspace));
        let mut deleted = 0_u64;
        while let Some(meta) = listing.next().await {
            self.store.delete(&meta?.key).await?;
            deleted += 1;
        }
        let txn = begin_write(&self.db).await?;
        let now = clock::now();
        attachment::Entity::update_many()
            .col_expr(attachment::Column::PurgedAt, Expr::value(now))
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::PurgedAt.is_null())
            .exec(&txn)
            .await?;
        workspace::Entity::update_many()
            .col_expr(workspace::Column::ShreddedAt, Expr::value(now))
            .filter(workspace::Column::Id.eq(workspace.as_uuid()))
            .exec(&txn)
            .await?;
        let record = AuditRecord::new(actor, Action::WorkspaceShred, workspace.as_uuid()).with(
            AuditMetadata::new()
                .count("keys_destroyed", destroyed as i64)
                .count("objects_deleted", deleted as i64),
        );
        audit::append(&txn, workspace, &record).await?;
        txn.commit().await?;
        tracing::warn!(%workspace, keys = destroyed, objects = deleted, "workspace crypto-shredded");
        Ok(deleted)
    }

    /// Resolves uploads that never committed: every intent whose deadline passed before `now`
    /// has its object deleted and its reservation released. With `sweep`, also lists the store
    /// and deletes every object under `workspaces/` that has neither an attachment row (live or
    /// awaiting purge) nor an intent.
    pub async fn reconcile(&self, now: OffsetDateTime, sweep: bool) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        loop {
            let expired = upload_intent::Entity::find()
                .filter(upload_intent::Column::ExpiresAt.lt(now))
                .order_by_asc(upload_intent::Column::ExpiresAt)
                .order_by_asc(upload_intent::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            if expired.is_empty() {
                break;
            }
            for intent in expired {
                let key: ObjectKey = intent.object_key.parse()?;
                self.store.delete(&key).await?;
                if let Some(bytes) = self.release_intent(intent.id).await? {
                    report.intents_resolved += 1;
                    report.bytes_released += bytes;
                    tracing::info!(attachment = %intent.id, bytes, "expired upload resolved");
                }
            }
        }
        if sweep {
            report.orphans_deleted = self.sweep().await?;
        }
        Ok(report)
    }

    /// Re-encrypts `workspace`'s live objects under its active data key, so that a retired key
    /// stops being used by them (the rows' sealed cells are [`KeyRotation::reseal`]'s work).
    ///
    /// Each object not under the active key is decrypted and encrypted again into a new object
    /// (a new object key: a stream is bound to its key), proven encrypted like an upload, then
    /// the row switched to it in one transaction and the old object deleted. The new object is
    /// covered by an upload intent until the switch, so a crash leaves it to
    /// [`reconcile`](Self::reconcile) and a bucket sweep never takes it for an orphan; an old
    /// object whose delete fails is left to the sweep. A row deleted or switched by another
    /// worker meanwhile keeps what it has and the copy is deleted.
    ///
    /// Batches are claimed with a lease (`lease_until`, the upload deadline long), so several
    /// workers take different objects on either database; an object that fails is reported and
    /// retried after its lease. Each switch is audited as `attachment.reseal` by `actor`. Soft-
    /// deleted attachments are left to the retention purge. A download that began before its
    /// object was switched may fail and be retried.
    ///
    /// [`KeyRotation::reseal`]: crate::KeyRotation::reseal
    pub async fn reseal_objects(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        options: RotationOptions,
        progress: &(dyn Fn(Progress) + Send + Sync),
    ) -> Result<ResealReport> {
        let active = self.keys.current_active(workspace).await?;
        let mut report = ResealReport {
            key_id: Some(active),
            ..ResealReport::default()
        };
        let mut done = 0_u64;
        let mut batches = 0_u32;
        loop {
            if !options.may_run(batches) {
                report.stopped_early = true;
                break;
            }
            let claimed = self
                .claim_for_reseal(workspace, stored_key_id(active)?, options.limit())
                .await?;
            if claimed.is_empty() {
                break;
            }
            batches += 1;
            for row in claimed {
                match self.reseal_object(actor, workspace, &row).await {
                    Ok(true) => done += 1,
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(%workspace, attachment = %row.id, error = %e, "object did not re-seal; retried after its lease");
                        report.record_failure(OBJECTS, row.id, &e);
                    }
                }
            }
            report.resealed.insert(OBJECTS, done);
            progress(Progress::new(OBJECTS, done));
        }
        tracing::info!(%workspace, resealed = done, failed = report.failed, "objects re-sealed");
        Ok(report)
    }

    /// Takes up to `limit` live attachments of `workspace` whose object is not under `active`
    /// and that no other worker holds, and leases them for the upload deadline.
    async fn claim_for_reseal(
        &self,
        workspace: WorkspaceId,
        active: i32,
        limit: u64,
    ) -> Result<Vec<attachment::Model>> {
        let txn = begin_write(&self.db).await?;
        let now = clock::now();
        let mut select = attachment::Entity::find()
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::DeletedAt.is_null())
            .filter(attachment::Column::PurgedAt.is_null())
            .filter(attachment::Column::StreamKeyId.ne(active))
            .filter(
                Condition::any()
                    .add(attachment::Column::LeaseUntil.is_null())
                    .add(attachment::Column::LeaseUntil.lt(now)),
            )
            .order_by_asc(attachment::Column::Id)
            .limit(limit);
        if txn.get_database_backend() == DbBackend::Postgres {
            select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = select.all(&txn).await?;
        if !rows.is_empty() {
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::LeaseUntil,
                    Expr::value(now + self.deadline()?),
                )
                .filter(attachment::Column::Id.is_in(rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows)
    }

    /// Copies one object under the active key and switches the row to the copy. `Ok(false)`
    /// when the row changed meanwhile (the copy is then deleted).
    async fn reseal_object(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        row: &attachment::Model,
    ) -> Result<bool> {
        let old: ObjectKey = row.object_key.parse()?;
        let kind = kind_of(row)?;
        let owner = match row.session_id {
            Some(s) => Owner::Session(s),
            None => Owner::Client(row.client_id),
        };
        let new_id = Uuid::new_v4();
        let new = ObjectKey::new(workspace, owner, new_id, kind);
        let now = clock::now();
        upload_intent::ActiveModel {
            id: Set(new_id),
            workspace_id: Set(workspace.as_uuid()),
            client_id: Set(row.client_id),
            session_id: Set(row.session_id),
            object_key: Set(new.as_str().to_owned()),
            reserved_bytes: Set(0),
            created_at: Set(now),
            expires_at: Set(now + self.deadline()?),
        }
        .insert(&self.db)
        .await?;
        let switched = async {
            let body = self
                .store
                .get_opts(&old, GetOptions::new())
                .await?
                .into_reader();
            let sealed = self
                .store
                .put_sealed(
                    &new,
                    body,
                    PutOptions::new().with_content_type(kind.media_type()),
                )
                .await?;
            if bytes_to_db(sealed.result.size, "file size")? != row.size_bytes {
                return Err(Error::Corrupt(
                    "a re-sealed object differs in size from its row",
                ));
            }
            let evidence = sealed
                .evidence
                .ok_or(Error::Internal("the store gave no evidence of encryption"))?;
            let txn = begin_write(&self.db).await?;
            let done = attachment::Entity::update_many()
                .col_expr(attachment::Column::ObjectKey, Expr::value(new.as_str()))
                .col_expr(
                    attachment::Column::StreamKeyId,
                    Expr::value(stored_key_id(sealed.key_id)?),
                )
                .col_expr(
                    attachment::Column::EncryptionEvidence,
                    Expr::value(
                        serde_json::to_value(&evidence)
                            .map_err(|_| Error::Internal("evidence did not serialise"))?,
                    ),
                )
                .col_expr(
                    attachment::Column::LeaseUntil,
                    Expr::value(Option::<OffsetDateTime>::None),
                )
                .filter(attachment::Column::Id.eq(row.id))
                .filter(attachment::Column::ObjectKey.eq(old.as_str()))
                .filter(attachment::Column::DeletedAt.is_null())
                .exec(&txn)
                .await?;
            if done.rows_affected != 1 {
                return Ok(false);
            }
            upload_intent::Entity::delete_by_id(new_id)
                .exec(&txn)
                .await?;
            let record = AuditRecord::new(actor, Action::AttachmentReseal, row.id).with(
                AuditMetadata::new()
                    .count("size_bytes", row.size_bytes)
                    .count("data_key_id", i64::from(stored_key_id(sealed.key_id)?)),
            );
            audit::append(&txn, workspace, &record).await?;
            txn.commit().await?;
            Ok(true)
        }
        .await;
        match switched {
            Ok(true) => {
                if let Err(e) = self.store.delete(&old).await {
                    tracing::warn!(%workspace, attachment = %row.id, error = %e, "the old object was not deleted; left to the sweep");
                }
                Ok(true)
            }
            Ok(false) => {
                self.compensate(&new, new_id).await;
                Ok(false)
            }
            Err(e) => {
                self.compensate(&new, new_id).await;
                Err(e)
            }
        }
    }

    /// How long an upload (or an object's re-sealing) may take.
    fn deadline(&self) -> Result<time::Duration> {
        time::Duration::try_from(self.limits.upload_deadline()).map_err(|_| Error::InvalidInput {
            field: "upload deadline",
            reason: "is too long",
        })
    }

    /// Deletes objects that no row and no intent names.
    async fn sweep(&self) -> Result<u64> {
        let mut listing = self.store.inner().list(&KeyPrefix::all());
        let mut deleted = 0;
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            // Only attachments are ever swept: an object outside every workspace (a backup's)
            // is never named by a row, and must never be taken for an orphan. `all()` lists
            // `workspaces/` only, so none comes here; this holds even if that changed.
            if meta.key.workspace().is_none() {
                continue;
            }
            let key = meta.key.as_str().to_owned();
            let rows = attachment::Entity::find()
                .filter(attachment::Column::ObjectKey.eq(key.clone()))
                .filter(attachment::Column::PurgedAt.is_null())
                .count(&self.db)
                .await?;
            let intents = upload_intent::Entity::find()
                .filter(upload_intent::Column::ObjectKey.eq(key))
                .count(&self.db)
                .await?;
            if rows == 0 && intents == 0 {
                self.store.delete(&meta.key).await?;
                tracing::info!(key = %meta.key, "orphan object deleted");
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// The client and session an owner names, checked to be in `workspace`.
    async fn resolve_owner(
        &self,
        workspace: WorkspaceId,
        owner: Owner,
    ) -> Result<(Uuid, Option<Uuid>)> {
        match owner {
            Owner::Client(c) => {
                let found = client::Entity::find_by_id(c)
                    .filter(client::Column::WorkspaceId.eq(workspace.as_uuid()))
                    .filter(client::Column::DeletedAt.is_null())
                    .count(&self.db)
                    .await?;
                if found == 0 {
                    return Err(Error::not_found("client", c));
                }
                Ok((c, None))
            }
            Owner::Session(s) => {
                let row = session::Entity::find_by_id(s)
                    .filter(session::Column::WorkspaceId.eq(workspace.as_uuid()))
                    .filter(session::Column::DeletedAt.is_null())
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| Error::not_found("session", s))?;
                Ok((row.client_id, Some(s)))
            }
        }
    }

    /// Refuses `name` when a live attachment of the client other than `except` has it.
    async fn refuse_duplicate(
        &self,
        cells: &CellCipher,
        client_id: Uuid,
        name: &str,
        except: Option<Uuid>,
    ) -> Result<()> {
        let indexes = cells.search_indexes(DISPLAY_NAME, name).await?;
        let mut query = attachment::Entity::find()
            .filter(attachment::Column::ClientId.eq(client_id))
            .filter(attachment::Column::DeletedAt.is_null())
            .filter(attachment::Column::DisplayNameIndex.is_in(indexes));
        if let Some(id) = except {
            query = query.filter(attachment::Column::Id.ne(id));
        }
        if query.count(&self.db).await? > 0 {
            return Err(duplicate_name());
        }
        Ok(())
    }

    /// The short reservation transaction: raise usage within each quota, write the intent.
    async fn reserve(
        &self,
        workspace: WorkspaceId,
        client_id: Uuid,
        session_id: Option<Uuid>,
        key: &ObjectKey,
        size: u64,
    ) -> Result<()> {
        let n = bytes_to_db(size, "file size")?;
        let txn = begin_write(&self.db).await?;
        let max_client = bytes_to_db(self.limits.max_client_bytes(), "client quota")?;
        let c = client::Entity::update_many()
            .col_expr(
                client::Column::UsedBytes,
                Expr::col(client::Column::UsedBytes).add(n),
            )
            .filter(client::Column::Id.eq(client_id))
            .filter(client::Column::DeletedAt.is_null())
            .filter(Expr::col(client::Column::UsedBytes).add(n).lte(max_client))
            .exec(&txn)
            .await?;
        if c.rows_affected != 1 {
            let row = client::Entity::find_by_id(client_id)
                .filter(client::Column::DeletedAt.is_null())
                .one(&txn)
                .await?
                .ok_or_else(|| Error::not_found("client", client_id))?;
            return Err(quota_error(
                QuotaScope::Client,
                row.used_bytes,
                max_client,
                size,
            ));
        }
        if let Some(session_id) = session_id {
            let max_session = bytes_to_db(self.limits.max_session_bytes(), "session quota")?;
            let s = session::Entity::update_many()
                .col_expr(
                    session::Column::UsedBytes,
                    Expr::col(session::Column::UsedBytes).add(n),
                )
                .filter(session::Column::Id.eq(session_id))
                .filter(session::Column::DeletedAt.is_null())
                .filter(
                    Expr::col(session::Column::UsedBytes)
                        .add(n)
                        .lte(max_session),
                )
                .exec(&txn)
                .await?;
            if s.rows_affected != 1 {
                let row = session::Entity::find_by_id(session_id)
                    .filter(session::Column::DeletedAt.is_null())
                    .one(&txn)
                    .await?
                    .ok_or_else(|| Error::not_found("session", session_id))?;
                return Err(quota_error(
                    QuotaScope::Session,
                    row.used_bytes,
                    max_session,
                    size,
                ));
            }
        }
        // The workspace row last: see "Lock order" in the module docs.
        let ws = workspace::Entity::update_many()
            .col_expr(
                workspace::Column::UsedBytes,
                Expr::col(workspace::Column::UsedBytes).add(n),
            )
            .filter(workspace::Column::Id.eq(workspace.as_uuid()))
            .filter(
                Expr::col(workspace::Column::UsedBytes)
                    .add(n)
                    .lte(Expr::col(workspace::Column::QuotaBytes)),
            )
            .exec(&txn)
            .await?;
        if ws.rows_affected != 1 {
            let row = workspace::Entity::find_by_id(workspace.as_uuid())
                .one(&txn)
                .await?
                .ok_or_else(|| Error::not_found("workspace", workspace))?;
            return Err(quota_error(
                QuotaScope::Workspace,
                row.used_bytes,
                row.quota_bytes,
                size,
            ));
        }
        let now = clock::now();
        let deadline = self.deadline()?;
        upload_intent::ActiveModel {
            id: Set(key
                .attachment()
                .ok_or(Error::Internal("an upload's key names no attachment"))?),
            workspace_id: Set(workspace.as_uuid()),
            client_id: Set(client_id),
            session_id: Set(session_id),
            object_key: Set(key.as_str().to_owned()),
            reserved_bytes: Set(n),
            created_at: Set(now),
            expires_at: Set(now + deadline),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The short finalising transaction: remove the intent (it must still be there), insert the
    /// row, append the audit event.
    async fn finalise(
        &self,
        actor: &Actor,
        workspace: WorkspaceId,
        id: Uuid,
        row: attachment::ActiveModel,
    ) -> Result<attachment::Model> {
        let txn = begin_write(&self.db).await?;
        let removed = upload_intent::Entity::delete_by_id(id).exec(&txn).await?;
        if removed.rows_affected != 1 {
            return Err(Error::Conflict {
                reason: "the upload passed its deadline before it committed and was released",
            });
        }
        let row = match row.insert(&txn).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => return Err(duplicate_name()),
            Err(e) => return Err(e.into()),
        };
        let mut meta = AuditMetadata::new()
            .id("client_id", row.client_id)
            .count("size_bytes", row.size_bytes)
            .word("kind", kind_of(&row)?.as_str());
        if let Some(s) = row.session_id {
            meta = meta.id("session_id", s);
        }
        let record = AuditRecord::new(actor, Action::AttachmentUpload, id).with(meta);
        audit::append(&txn, workspace, &record).await?;
        txn.commit().await?;
        Ok(row)
    }

    /// Undoes a failed upload: unless its row committed after all (a commit whose answer was
    /// lost), deletes the object, then removes the intent and releases the reservation. Anything
    /// that fails here is left to the reconciler.
    async fn compensate(&self, key: &ObjectKey, id: Uuid) -> Compensation {
        match attachment::Entity::find_by_id(id).one(&self.db).await {
            Ok(Some(row)) => return Compensation::CommittedAfterAll(Box::new(row)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(attachment = %id, error = %e, "compensation could not read the row; left to the reconciler");
                return Compensation::LeftToReconciler;
            }
        }
        if let Err(e) = self.store.delete(key).await {
            tracing::warn!(attachment = %id, error = %e, "compensation could not delete the object; left to the reconciler");
            return Compensation::LeftToReconciler;
        }
        match self.release_intent(id).await {
            Ok(_) => Compensation::Done,
            Err(e) => {
                tracing::warn!(attachment = %id, error = %e, "compensation could not release the reservation; left to the reconciler");
                Compensation::LeftToReconciler
            }
        }
    }

    /// Removes an intent and releases its reservation, in one transaction; `None` when the
    /// intent was already gone (someone else released it).
    async fn release_intent(&self, id: Uuid) -> Result<Option<u64>> {
        let txn = begin_write(&self.db).await?;
        let Some(intent) = upload_intent::Entity::find_by_id(id).one(&txn).await? else {
            return Ok(None);
        };
        let removed = upload_intent::Entity::delete_by_id(id).exec(&txn).await?;
        if removed.rows_affected != 1 {
            return Ok(None);
        }
        release(
            &txn,
            intent.workspace_id,
            intent.client_id,
            intent.session_id,
            intent.reserved_bytes,
        )
        .await?;
        txn.commit().await?;
        Ok(Some(bytes_from_db(intent.reserved_bytes)?))
    }

    async fn live_row(&self, workspace: WorkspaceId, id: Uuid) -> Result<attachment::Model> {
        attachment::Entity::find_by_id(id)
            .filter(attachment::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(attachment::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(|| Error::not_found("attachment", id))
    }

    async fn audit(&self, workspace: WorkspaceId, record: &AuditRecord) -> Result<()> {
        let txn = begin_write(&self.db).await?;
        audit::append(&txn, workspace, record).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// How long soft-deleted attachments are kept before [`Attachments::purge`] deletes their
/// objects, unless the caller chooses otherwise: 30 days.
pub const DEFAULT_RETENTION: time::Duration = time::Duration::days(30);

/// Rows handled per query by the purge and the reconciler.
const BATCH: u64 = 100;

enum Compensation {
    Done,
    CommittedAfterAll(Box<attachment::Model>),
    LeftToReconciler,
}

fn sanitizer_for(limits: UploadLimits) -> Sanitizer {
    Sanitizer::new()
        .with_limits(ward_sanitize::Limits::new().with_max_file_bytes(limits.max_file_bytes()))
}

fn duplicate_name() -> Error {
    Error::Conflict {
        reason: "another live attachment of this client has the same name",
    }
}

fn quota_error(scope: QuotaScope, used: i64, quota: i64, size: u64) -> Error {
    Error::QuotaExceeded(QuotaFigures {
        scope,
        used_bytes: u64::try_from(used).unwrap_or(0),
        quota_bytes: u64::try_from(quota).unwrap_or(0),
        file_bytes: size,
    })
}

/// Lowers usage of the workspace, client and (if any) session by `bytes`, in `txn`. The
/// columns' `CHECK (… >= 0)` refuses anything that would go negative.
async fn release(
    txn: &impl ConnectionTrait,
    workspace_id: Uuid,
    client_id: Uuid,
    session_id: Option<Uuid>,
    bytes: i64,
) -> Result<()> {
    client::Entity::update_many()
        .col_expr(
            client::Column::UsedBytes,
            Expr::col(client::Column::UsedBytes).sub(bytes),
        )
        .filter(client::Column::Id.eq(client_id))
        .exec(txn)
        .await?;
    if let Some(s) = session_id {
        session::Entity::update_many()
            .col_expr(
                session::Column::UsedBytes,
                Expr::col(session::Column::UsedBytes).sub(bytes),
            )
            .filter(session::Column::Id.eq(s))
            .exec(txn)
            .await?;
    }
    // The workspace row last: see "Lock order" in the module docs.
    workspace::Entity::update_many()
        .col_expr(
            workspace::Column::UsedBytes,
            Expr::col(workspace::Column::UsedBytes).sub(bytes),
        )
        .filter(workspace::Column::Id.eq(workspace_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Reads `body` to its end, or fails once it passes `limit` bytes (having read at most
/// `limit + 1`).
async fn read_limited<R: AsyncRead + Send + Unpin>(body: R, limit: u64) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut limited = body.take(limit.saturating_add(1));
    limited
        .read_to_end(&mut buf)
        .await
        .map_err(Error::UploadRead)?;
    check_file_size(buf.len(), limit)?;
    Ok(buf)
}

/// Refuses a file of `len` bytes over the per-file `limit`, with the figures.
fn check_file_size(len: usize, limit: u64) -> Result<()> {
    if len as u64 > limit {
        return Err(Error::QuotaExceeded(QuotaFigures {
            scope: QuotaScope::File,
            used_bytes: 0,
            quota_bytes: limit,
            file_bytes: len as u64,
        }));
    }
    Ok(())
}

fn kind_of(row: &attachment::Model) -> Result<FileKind> {
    FileKind::ALL
        .into_iter()
        .find(|k| k.media_type() == row.content_type)
        .ok_or(Error::Corrupt("unknown attachment content type"))
}

fn to_attachment(row: attachment::Model, display_name: String) -> Result<Attachment> {
    Ok(Attachment {
        id: row.id,
        workspace: row.workspace_id.into(),
        client_id: row.client_id,
        session_id: row.session_id,
        kind: kind_of(&row)?,
        display_name,
        size_bytes: bytes_from_db(row.size_bytes)?,
        uploaded_by: row.uploaded_by,
        created_at: row.created_at,
        key_id: DekId(
            u32::try_from(row.stream_key_id).map_err(|_| Error::Corrupt("negative key id"))?,
        ),
        evidence: serde_json::from_value(row.encryption_evidence)
            .map_err(|_| Error::Corrupt("encryption evidence is not ward's JSON"))?,
    })
}

async fn open_row(cells: &CellCipher, row: attachment::Model) -> Result<Attachment> {
    let name = cells
        .open_text(DISPLAY_NAME.cell, row.id, &row.display_name)
        .await?;
    to_attachment(row, name)
}
