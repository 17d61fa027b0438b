//! The audit log: every create, read, rename and delete of PHI, append-only and hash-chained per
//! workspace.
//!
//! Each event holds ids only: who ([`Actor`]), what ([`Action`]), which resource (type and id),
//! and [`AuditMetadata`], which by construction accepts only ids, counts and fixed words, never
//! names, file names or content. Each workspace's events form a chain: event `n` stores the hash
//! of event `n - 1` and its own hash over that and every field, so an edited, deleted, inserted or
//! reordered row breaks the chain at a place [`verify_chain`] names. The workspace row holds the
//! chain's length and head, so deleting the newest events is caught too.
//!
//! # Hash (version 1)
//!
//! `SHA-256("ward/v1/audit" ‖ prev_hash(32) ‖ workspace(16) ‖ seq(8) ‖ lp(actor) ‖ lp(action) ‖
//! lp(resource_type) ‖ lp(resource_id) ‖ lp(metadata) ‖ occurred_at(8))`, integers big-endian,
//! `lp(x)` = `len(x)` as 4 bytes then `x`, `metadata` the canonical form (keys sorted, each
//! `lp(key) ‖ lp(value as JSON)`), `occurred_at` in microseconds since the Unix epoch.

use std::collections::BTreeMap;
use std::fmt;

use sea_orm::sea_query::{Expr, ExprTrait as _, Query};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    IdenStatic as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;
use ward_types::WorkspaceId;

use crate::clock;
use crate::entity::{audit_event, workspace};
use crate::error::{Error, Result};

/// The hash before a workspace's first event.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Who acted: a user or service id from the caller's authentication (never a name or email).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Actor(String);

impl Actor {
    /// The longest actor id accepted.
    pub const MAX_LEN: usize = 128;

    /// An actor id: 1 to 128 characters of ASCII letters, digits and `-_.:@`.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        let valid = !id.is_empty()
            && id.len() <= Self::MAX_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:@".contains(&b));
        if valid {
            Ok(Self(id))
        } else {
            Err(Error::InvalidInput {
                field: "actor",
                reason: "must be 1 to 128 ASCII letters, digits or -_.:@",
            })
        }
    }

    /// A user by id.
    pub fn user(id: Uuid) -> Self {
        Self(format!("user:{}", id.as_hyphenated()))
    }

    /// A named system job (`reconciler`, `rotation`, …).
    pub fn system(job: &'static str) -> Self {
        Self(format!("system:{job}"))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Actor({})", self.0)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal, $resource:literal;)*) => {
        /// What was done to which kind of resource.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The kind of resource it acts on.
            pub fn resource_type(self) -> &'static str {
                match self {
                    $(Self::$variant => $resource,)*
                }
            }
        }
    };
}

actions! {
    /// A client was created.
    ClientCreate => "client.create", "client";
    /// A client's sealed fields were read.
    ClientRead => "client.read", "client";
    /// A client's fields were changed.
    ClientUpdate => "client.update", "client";
    /// A client was soft-deleted (its sessions with it).
    ClientDelete => "client.delete", "client";
    /// Clients were searched by a blind index (the resource is the workspace).
    ClientSearch => "client.search", "workspace";
    /// A session was created.
    SessionCreate => "session.create", "session";
    /// A session's notes were read.
    SessionRead => "session.read", "session";
    /// A session's notes were changed.
    SessionUpdate => "session.update", "session";
    /// A session was soft-deleted.
    SessionDelete => "session.delete", "session";
    /// An attachment was uploaded.
    AttachmentUpload => "attachment.upload", "attachment";
    /// An upload was refused because the malware scanner recognised it (the resource is the id
    /// the attachment would have had; the metadata names the signature, the owner and the size).
    AttachmentMalware => "attachment.malware", "attachment";
    /// An attachment was downloaded.
    AttachmentDownload => "attachment.download", "attachment";
    /// Several attachments were downloaded at once (the resource is the owner).
    AttachmentBulkDownload => "attachment.bulk_download", "owner";
    /// An owner's attachments were listed (the resource is the owner).
    AttachmentList => "attachment.list", "owner";
    /// An attachment was renamed.
    AttachmentRename => "attachment.rename", "attachment";
    /// An attachment was soft-deleted.
    AttachmentDelete => "attachment.delete", "attachment";
    /// A soft-deleted attachment's object was purged.
    AttachmentPurge => "attachment.purge", "attachment";
    /// An attachment's object was re-encrypted under the workspace's active data key (the
    /// metadata holds the size and the key id).
    AttachmentReseal => "attachment.reseal", "attachment";
    /// The workspace's storage quota was changed (the metadata holds the new quota in bytes).
    WorkspaceQuota => "workspace.quota", "workspace";
    /// The workspace's keys were destroyed and its objects deleted.
    WorkspaceShred => "workspace.shred", "workspace";
    /// A batch of the workspace's rows was re-sealed under its active data key (the metadata
    /// names the table and counts the rows).
    WorkspaceReseal => "workspace.reseal", "workspace";
    /// A retired data key that nothing used was destroyed (the metadata holds its id).
    DataKeyDestroy => "data_key.destroy", "workspace";
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metadata value: an id, a count, a fixed word chosen by the code, or a malware signature's
/// name (restricted to a safe alphabet by [`Signature`](crate::Signature)); never user text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MetaValue {
    Id(Uuid),
    Count(i64),
    Word(&'static str),
    Signature(crate::Signature),
}

/// Details of an audit event, ids only: each value is a uuid, an integer, a `&'static str`
/// written in the code or a malware signature's name (letters, digits and `. _ - : /`), so no
/// name, file name or content can get in.
///
/// ```
/// use uuid::Uuid;
/// use ward_domain::AuditMetadata;
///
/// let meta = AuditMetadata::new()
///     .id("session_id", Uuid::nil())
///     .count("size_bytes", 1_024)
///     .word("kind", "jpeg");
/// assert_eq!(
///     meta.to_json().to_string(),
///     r#"{"kind":"jpeg","session_id":"00000000-0000-0000-0000-000000000000","size_bytes":1024}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditMetadata(BTreeMap<&'static str, MetaValue>);

impl AuditMetadata {
    /// No details.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an id.
    pub fn id(mut self, key: &'static str, id: Uuid) -> Self {
        self.0.insert(key, MetaValue::Id(id));
        self
    }

    /// Adds a count or size.
    pub fn count(mut self, key: &'static str, n: i64) -> Self {
        self.0.insert(key, MetaValue::Count(n));
        self
    }

    /// Adds a fixed word from the code.
    pub fn word(mut self, key: &'static str, word: &'static str) -> Self {
        self.0.insert(key, MetaValue::Word(word));
        self
    }

    /// Adds a malware signature's name.
    pub fn signature(mut self, key: &'static str, signature: &crate::Signature) -> Self {
        self.0.insert(key, MetaValue::Signature(signature.clone()));
        self
    }

    /// The JSON object stored.
    pub fn to_json(&self) -> serde_json::Value {
        let map = self
            .0
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    MetaValue::Id(id) => serde_json::Value::String(id.as_hyphenated().to_string()),
                    MetaValue::Count(n) => serde_json::Value::from(*n),
                    MetaValue::Word(w) => serde_json::Value::String((*w).to_owned()),
                    MetaValue::Signature(s) => serde_json::Value::String(s.as_str().to_owned()),
                };
                ((*k).to_owned(), v)
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

/// One event to append.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Who acted.
    pub actor: Actor,
    /// What was done.
    pub action: Action,
    /// The resource's id.
    pub resource_id: Uuid,
    /// Ids-only details.
    pub metadata: AuditMetadata,
}

impl AuditRecord {
    /// `actor` did `action` to the resource `resource_id`, with no details.
    pub fn new(actor: &Actor, action: Action, resource_id: Uuid) -> Self {
        Self {
            actor: actor.clone(),
            action,
            resource_id,
            metadata: AuditMetadata::new(),
        }
    }

    /// With these details.
    pub fn with(mut self, metadata: AuditMetadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// The fields an event's hash covers.
struct HashInput<'a> {
    prev_hash: &'a [u8],
    workspace: Uuid,
    seq: i64,
    actor: &'a str,
    action: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    metadata: &'a serde_json::Value,
    occurred_at: OffsetDateTime,
}

fn length_prefixed(hasher: &mut Sha256, bytes: &[u8]) {
    // Every field ward writes is far below 4 GiB; a longer one saturates, which still
    // changes the hash.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

impl HashInput<'_> {
    fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"ward/v1/audit");
        length_prefixed(&mut h, self.prev_hash);
        h.update(self.workspace.as_bytes());
        h.update(self.seq.to_be_bytes());
        length_prefixed(&mut h, self.actor.as_bytes());
        length_prefixed(&mut h, self.action.as_bytes());
        length_prefixed(&mut h, self.resource_type.as_bytes());
        length_prefixed(&mut h, self.resource_id.as_bytes());
        let mut canonical = Vec::new();
        match self.metadata {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                for (k, v) in entries {
                    canonical.extend_from_slice(&(k.len() as u64).to_be_bytes());
                    canonical.extend_from_slice(k.as_bytes());
                    let v = v.to_string();
                    canonical.extend_from_slice(&(v.len() as u64).to_be_bytes());
                    canonical.extend_from_slice(v.as_bytes());
                }
            }
            // Not an object (only a tampered row): hash its text, which cannot match.
            other => canonical.extend_from_slice(other.to_string().as_bytes()),
        }
        length_prefixed(&mut h, &canonical);
        let micros = self.occurred_at.unix_timestamp_nanos() / 1_000;
        h.update(i64::try_from(micros).unwrap_or(i64::MAX).to_be_bytes());
        h.finalize().into()
    }
}

/// Appends `record` to `workspace`'s chain, inside the caller's transaction `txn`, so the event
/// commits or rolls back with the change it records. Returns the event's sequence number.
///
/// The workspace row is updated first (its position bumped and its head read in one statement):
/// on PostgreSQL that locks it until the transaction ends, so appends to one workspace take
/// turns (a short wait, never while bytes move).
pub async fn append(
    txn: &impl ConnectionTrait,
    workspace: WorkspaceId,
    record: &AuditRecord,
) -> Result<i64> {
    // One statement takes the next position and reads the chain's head (`RETURNING`: both
    // PostgreSQL and SQLite 3.35 on).
    let bump = Query::update()
        .table(workspace::Entity)
        .value(
            workspace::Column::AuditSeq,
            Expr::col(workspace::Column::AuditSeq).add(1),
        )
        .and_where(workspace::Column::Id.eq(workspace.as_uuid()))
        .returning(
            Query::returning().columns([workspace::Column::AuditSeq, workspace::Column::AuditHead]),
        )
        .to_owned();
    let bumped = txn
        .query_one(&bump)
        .await?
        .ok_or_else(|| Error::not_found("workspace", workspace))?;
    let seq: i64 = bumped.try_get("", workspace::Column::AuditSeq.as_str())?;
    let head: Vec<u8> = bumped.try_get("", workspace::Column::AuditHead.as_str())?;
    let metadata = record.metadata.to_json();
    let occurred_at = clock::now();
    let resource_id = record.resource_id.as_hyphenated().to_string();
    let input = HashInput {
        prev_hash: &head,
        workspace: workspace.as_uuid(),
        seq,
        actor: record.actor.as_str(),
        action: record.action.as_str(),
        resource_type: record.action.resource_type(),
        resource_id: &resource_id,
        metadata: &metadata,
        occurred_at,
    };
    let hash = input.hash();
    audit_event::ActiveModel {
        workspace_id: Set(workspace.as_uuid()),
        seq: Set(seq),
        actor: Set(record.actor.as_str().to_owned()),
        action: Set(record.action.as_str().to_owned()),
        resource_type: Set(record.action.resource_type().to_owned()),
        resource_id: Set(resource_id),
        metadata: Set(metadata),
        occurred_at: Set(occurred_at),
        prev_hash: Set(head),
        hash: Set(hash.to_vec()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    workspace::Entity::update_many()
        .col_expr(workspace::Column::AuditHead, Expr::value(hash.to_vec()))
        .filter(workspace::Column::Id.eq(workspace.as_uuid()))
        .exec(txn)
        .await?;
    Ok(seq)
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainBreak {
    /// The event at this position has fields that do not match its stored hash (edited).
    Altered {
        /// The event's position.
        seq: i64,
        /// Its row id.
        row_id: i64,
    },
    /// The event at this position does not follow its predecessor: an event before it was
    /// deleted, inserted or moved, or its `prev_hash` was edited.
    Unlinked {
        /// The event's position.
        seq: i64,
        /// Its row id.
        row_id: i64,
    },
    /// A position is missing or repeated: the chain expected `expected` and found `found`.
    Gap {
        /// The position expected next.
        expected: i64,
        /// The position found.
        found: i64,
        /// The row found there.
        row_id: i64,
    },
    /// An event lies beyond the workspace's recorded length: it was inserted behind the audit
    /// log's back (appends always advance the workspace row in the same transaction).
    Unrecorded {
        /// The event's position.
        seq: i64,
        /// Its row id.
        row_id: i64,
    },
    /// The chain ends before the workspace's recorded head (newest events deleted) or its last
    /// hash is not the recorded head.
    Truncated {
        /// The length the workspace row records.
        recorded_len: i64,
        /// The length found.
        found_len: i64,
    },
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { seq, row_id } => {
                write!(f, "event {seq} (row {row_id}) was altered")
            }
            Self::Unlinked { seq, row_id } => write!(
                f,
                "event {seq} (row {row_id}) does not follow the event before it"
            ),
            Self::Gap {
                expected,
                found,
                row_id,
            } => write!(
                f,
                "expected event {expected}, found event {found} (row {row_id})"
            ),
            Self::Unrecorded { seq, row_id } => write!(
                f,
                "event {seq} (row {row_id}) lies beyond the recorded end of the chain"
            ),
            Self::Truncated {
                recorded_len,
                found_len,
            } => write!(
                f,
                "chain holds {found_len} events, the workspace records {recorded_len}"
            ),
        }
    }
}

/// The outcome of [`verify_chain`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// The first break found, `None` when the chain is whole.
    pub first_break: Option<ChainBreak>,
}

impl ChainReport {
    /// Whether the chain is whole.
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Events read per query while verifying.
const VERIFY_BATCH: u64 = 1_000;

/// Checks `workspace`'s whole chain, in order of position, in batches (keyset pagination on the
/// position), and names the first break: an edited field, a deleted, inserted or reordered
/// event, or deleted newest events.
///
/// The chain is checked up to the length the workspace row records when the check starts, so
/// events appended meanwhile are neither checked nor reported; an event beyond the recorded
/// length at the end of the check (one no append wrote) is [`ChainBreak::Unrecorded`] (the
/// newest such event is named).
pub async fn verify_chain(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<ChainReport> {
    let ws = workspace::Entity::find_by_id(workspace.as_uuid())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("workspace", workspace))?;
    let mut prev = GENESIS_HASH.to_vec();
    let mut expected = 1_i64;
    let mut events = 0_u64;
    loop {
        let batch = audit_event::Entity::find()
            .filter(audit_event::Column::WorkspaceId.eq(workspace.as_uuid()))
            .filter(audit_event::Column::Seq.gte(expected))
            .filter(audit_event::Column::Seq.lte(ws.audit_seq))
            .order_by_asc(audit_event::Column::Seq)
            .order_by_asc(audit_event::Column::Id)
            .limit(VERIFY_BATCH)
            .all(db)
            .await?;
        let done = (batch.len() as u64) < VERIFY_BATCH;
        for row in batch {
            events += 1;
            if let Some(found) = check_event(&row, workspace, expected, &prev) {
                return Ok(ChainReport {
                    events,
                    first_break: Some(found),
                });
            }
            prev = row.hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let found_len = expected - 1;
    if found_len != ws.audit_seq || prev != ws.audit_head {
        return Ok(ChainReport {
            events,
            first_break: Some(ChainBreak::Truncated {
                recorded_len: ws.audit_seq,
                found_len,
            }),
        });
    }
    // The newest row beyond the length read at the start: an append made during the check, or
    // one made behind the log's back. An append commits its row and the workspace's new length
    // together, so once the row is visible, so is the length: read the row first, the length
    // second, and a row still beyond the length was never appended.
    let newest = audit_event::Entity::find()
        .filter(audit_event::Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(audit_event::Column::Seq.gt(ws.audit_seq))
        .order_by_desc(audit_event::Column::Seq)
        .one(db)
        .await?;
    let mut first_break = None;
    if let Some(row) = newest {
        let recorded_now = workspace::Entity::find_by_id(workspace.as_uuid())
            .one(db)
            .await?
            .map_or(ws.audit_seq, |w| w.audit_seq);
        if row.seq > recorded_now {
            first_break = Some(ChainBreak::Unrecorded {
                seq: row.seq,
                row_id: row.id,
            });
        }
    }
    Ok(ChainReport {
        events,
        first_break,
    })
}

/// The break at `row`, if any, given the position and hash expected before it.
fn check_event(
    row: &audit_event::Model,
    workspace: WorkspaceId,
    expected: i64,
    prev: &[u8],
) -> Option<ChainBreak> {
    if row.seq != expected {
        return Some(ChainBreak::Gap {
            expected,
            found: row.seq,
            row_id: row.id,
        });
    }
    let recomputed = HashInput {
        prev_hash: &row.prev_hash,
        workspace: workspace.as_uuid(),
        seq: row.seq,
        actor: &row.actor,
        action: &row.action,
        resource_type: &row.resource_type,
        resource_id: &row.resource_id,
        metadata: &row.metadata,
        occurred_at: row.occurred_at,
    }
    .hash();
    if recomputed.as_slice() != row.hash.as_slice() {
        return Some(ChainBreak::Altered {
            seq: row.seq,
            row_id: row.id,
        });
    }
    if row.prev_hash.as_slice() != prev {
        return Some(ChainBreak::Unlinked {
            seq: row.seq,
            row_id: row.id,
        });
    }
    None
}
