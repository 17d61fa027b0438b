//! `ObjectKey`: the only way to name an object, built from ids so no user text reaches a key.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;
pub use ward_types::{FileKind, WorkspaceId};

use crate::error::{Error, Result};

/// Who an attachment belongs to: a session (visit) or a client (patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    /// A session (visit) id.
    Session(Uuid),
    /// A client (patient) id.
    Client(Uuid),
}

impl Owner {
    fn segment(self) -> &'static str {
        match self {
            Self::Session(_) => "sessions",
            Self::Client(_) => "clients",
        }
    }

    fn id(self) -> Uuid {
        match self {
            Self::Session(id) | Self::Client(id) => id,
        }
    }
}

/// Which object of a backup a key names (see [`ObjectKey::backup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum BackupPart {
    /// The encrypted database dump: `database.ward`.
    Database,
    /// The backup's manifest: `manifest.json`.
    Manifest,
}

impl BackupPart {
    /// Every part.
    pub const ALL: [Self; 2] = [Self::Database, Self::Manifest];

    /// The object's file name inside the backup's directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Database => "database.ward",
            Self::Manifest => "manifest.json",
        }
    }

    /// The media type the object is stored with.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Database => "application/octet-stream",
            Self::Manifest => "application/json",
        }
    }

    fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.file_name() == name)
    }
}

/// What an [`ObjectKey`] names: an attachment of a workspace, or a part of a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyScope {
    /// `workspaces/{workspace}/{sessions|clients}/{owner}/attachments/{attachment}.{ext}`.
    Attachment {
        /// The workspace (tenant).
        workspace: WorkspaceId,
        /// The session or client the attachment belongs to.
        owner: Owner,
        /// The attachment id.
        attachment: Uuid,
        /// The file kind.
        kind: FileKind,
    },
    /// `backups/{backup}/{database.ward|manifest.json}`: a whole-database backup, which belongs
    /// to no workspace.
    Backup {
        /// The backup id.
        backup: Uuid,
        /// Which object of the backup.
        part: BackupPart,
    },
}

/// The name of one stored object, in one of two shapes:
///
/// - an attachment:
///   `workspaces/{workspace}/{sessions|clients}/{owner}/attachments/{attachment}.{ext}`;
/// - a part of a whole-database backup: `backups/{backup}/database.ward` or
///   `backups/{backup}/manifest.json`.
///
/// # Invariants
///
/// - Every id is a UUID in lowercase hyphenated form, and the extension is one of
///   [`FileKind`]'s (or a backup part's fixed file name), so a key holds only `[0-9a-f-]`, `/`,
///   `.`, and the fixed words above.
/// - No segment is empty, `.` or `..`, so a key can never escape its directory on a filesystem.
/// - A key is built only by [`ObjectKey::new`], [`ObjectKey::backup`] or by parsing a string
///   that passes every check above; user text (file names, titles) can never reach one.
/// - Backup keys lie outside `workspaces/`, so no workspace prefix (nor [`KeyPrefix::all`], which
///   the reconciler's sweep lists) ever contains one.
///
/// # Examples
///
/// ```
/// use ward_storage::{BackupPart, FileKind, KeyPrefix, ObjectKey, Owner};
/// use uuid::Uuid;
///
/// let ws = Uuid::from_u128(1);
/// let client = Uuid::from_u128(2);
/// let id = Uuid::from_u128(3);
/// let key = ObjectKey::new(ws, Owner::Client(client), id, FileKind::Pdf);
/// assert_eq!(
///     key.as_str(),
///     "workspaces/00000000-0000-0000-0000-000000000001/clients/\
///      00000000-0000-0000-0000-000000000002/attachments/00000000-0000-0000-0000-000000000003.pdf"
/// );
///
/// // Parsing validates: the same string round-trips, anything else is refused.
/// let parsed: ObjectKey = key.as_str().parse()?;
/// assert_eq!(parsed, key);
/// assert!("workspaces/../etc/passwd".parse::<ObjectKey>().is_err());
/// assert!(key.as_str().replace(".pdf", ".exe").parse::<ObjectKey>().is_err());
///
/// // A backup's objects belong to no workspace.
/// let backup = ObjectKey::backup(Uuid::from_u128(9), BackupPart::Manifest);
/// assert_eq!(backup.as_str(), "backups/00000000-0000-0000-0000-000000000009/manifest.json");
/// assert_eq!(backup.workspace(), None);
/// assert!(!KeyPrefix::all().contains(&backup));
/// assert_eq!(backup.as_str().parse::<ObjectKey>()?, backup);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    text: String,
    scope: KeyScope,
}

impl ObjectKey {
    /// The key of an attachment, from its ids and kind. `workspace` is a [`WorkspaceId`] or a
    /// bare [`Uuid`].
    pub fn new(
        workspace: impl Into<WorkspaceId>,
        owner: Owner,
        attachment: Uuid,
        kind: FileKind,
    ) -> Self {
        let workspace = workspace.into();
        let text = format!(
            "{}attachments/{}.{}",
            KeyPrefix::owner(workspace, owner).as_str(),
            attachment.as_hyphenated(),
            kind.extension()
        );
        Self {
            text,
            scope: KeyScope::Attachment {
                workspace,
                owner,
                attachment,
                kind,
            },
        }
    }

    /// The key of one object of a whole-database backup: `backups/{backup}/{part}`.
    pub fn backup(backup: Uuid, part: BackupPart) -> Self {
        let text = format!("{}{}", KeyPrefix::backup(backup).as_str(), part.file_name());
        Self {
            text,
            scope: KeyScope::Backup { backup, part },
        }
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What the key names.
    pub fn scope(&self) -> KeyScope {
        self.scope
    }

    /// The workspace (tenant) id; `None` for a backup's objects, which belong to none.
    pub fn workspace(&self) -> Option<WorkspaceId> {
        match self.scope {
            KeyScope::Attachment { workspace, .. } => Some(workspace),
            KeyScope::Backup { .. } => None,
        }
    }

    /// The session or client the attachment belongs to; `None` for a backup's objects.
    pub fn owner(&self) -> Option<Owner> {
        match self.scope {
            KeyScope::Attachment { owner, .. } => Some(owner),
            KeyScope::Backup { .. } => None,
        }
    }

    /// The attachment id; `None` for a backup's objects.
    pub fn attachment(&self) -> Option<Uuid> {
        match self.scope {
            KeyScope::Attachment { attachment, .. } => Some(attachment),
            KeyScope::Backup { .. } => None,
        }
    }

    /// The attachment's file kind; `None` for a backup's objects.
    pub fn kind(&self) -> Option<FileKind> {
        match self.scope {
            KeyScope::Attachment { kind, .. } => Some(kind),
            KeyScope::Backup { .. } => None,
        }
    }

    /// The backup id and part; `None` for an attachment.
    pub fn backup_part(&self) -> Option<(Uuid, BackupPart)> {
        match self.scope {
            KeyScope::Backup { backup, part } => Some((backup, part)),
            KeyScope::Attachment { .. } => None,
        }
    }

    /// The media type an object under this key is stored with by default: the attachment kind's,
    /// or the backup part's.
    pub fn media_type(&self) -> &'static str {
        match self.scope {
            KeyScope::Attachment { kind, .. } => kind.media_type(),
            KeyScope::Backup { part, .. } => part.media_type(),
        }
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ObjectKey").field(&self.text).finish()
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

fn parse_uuid(segment: &str, what: &'static str) -> Result<Uuid> {
    // Only the canonical lowercase hyphenated form, so one object has exactly one key string.
    let id = Uuid::try_parse(segment).map_err(|_| Error::InvalidKey { reason: what })?;
    if id.as_hyphenated().to_string() != segment {
        return Err(Error::InvalidKey { reason: what });
    }
    Ok(id)
}

impl FromStr for ObjectKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        if let ["backups", backup, file] = parts.as_slice() {
            let backup = parse_uuid(backup, "backup id is not a lowercase uuid")?;
            let part = BackupPart::from_file_name(file).ok_or(Error::InvalidKey {
                reason: "backup object must be `database.ward` or `manifest.json`",
            })?;
            return Ok(Self::backup(backup, part));
        }
        let [ws_word, ws, owner_word, owner, att_word, file] = parts.as_slice() else {
            return Err(Error::InvalidKey {
                reason: "expected six `/`-separated segments (or `backups/{id}/{part}`)",
            });
        };
        if *ws_word != "workspaces" || *att_word != "attachments" {
            return Err(Error::InvalidKey {
                reason: "expected `workspaces/…/attachments/…`",
            });
        }
        let workspace = parse_uuid(ws, "workspace id is not a lowercase uuid")?;
        let owner_id = parse_uuid(owner, "owner id is not a lowercase uuid")?;
        let owner = match *owner_word {
            "sessions" => Owner::Session(owner_id),
            "clients" => Owner::Client(owner_id),
            _ => {
                return Err(Error::InvalidKey {
                    reason: "owner segment must be `sessions` or `clients`",
                });
            }
        };
        let (id, ext) = file.split_once('.').ok_or(Error::InvalidKey {
            reason: "attachment has no extension",
        })?;
        let attachment = parse_uuid(id, "attachment id is not a lowercase uuid")?;
        let kind = FileKind::from_extension(ext).ok_or(Error::InvalidKey {
            reason: "unknown file extension",
        })?;
        Ok(Self::new(workspace, owner, attachment, kind))
    }
}

/// Serialized as its string; deserializing validates like parsing.
impl serde::Serialize for ObjectKey {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for ObjectKey {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

/// A prefix to list under: every workspace's objects, one workspace, one owner within a
/// workspace, or backups (all of them, or one).
///
/// ```
/// use ward_storage::{KeyPrefix, Owner};
/// use uuid::Uuid;
///
/// let p = KeyPrefix::owner(Uuid::from_u128(1), Owner::Session(Uuid::from_u128(2)));
/// assert!(p.as_str().ends_with("/sessions/00000000-0000-0000-0000-000000000002/"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Every workspace's objects (`workspaces/`): every attachment. Backups lie outside it
    /// ([`backups`](Self::backups)), so a job that lists this prefix (the reconciler's sweep of
    /// objects no row names) never sees one.
    pub fn all() -> Self {
        Self("workspaces/".to_owned())
    }

    /// Every backup's objects (`backups/`).
    pub fn backups() -> Self {
        Self("backups/".to_owned())
    }

    /// One backup's objects (`backups/{backup}/`).
    pub fn backup(backup: Uuid) -> Self {
        Self(format!("backups/{}/", backup.as_hyphenated()))
    }

    /// Every object of one workspace.
    pub fn workspace(workspace: impl Into<WorkspaceId>) -> Self {
        Self(format!("workspaces/{}/", workspace.into()))
    }

    /// Every object of one session or client.
    pub fn owner(workspace: impl Into<WorkspaceId>, owner: Owner) -> Self {
        let workspace: WorkspaceId = workspace.into();
        Self(format!(
            "workspaces/{}/{}/{}/",
            workspace,
            owner.segment(),
            owner.id().as_hyphenated()
        ))
    }

    /// The prefix as a string; it always ends in `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `key` lies under this prefix.
    pub fn contains(&self, key: &ObjectKey) -> bool {
        key.as_str().starts_with(&self.0)
    }
}

impl fmt::Display for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectKey {
        crate::conformance::fresh_key(FileKind::Jpeg)
    }

    #[test]
    fn accessors_debug_and_as_ref_show_the_parts_and_the_text() {
        let (ws, owner, id) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let key = ObjectKey::new(ws, Owner::Session(owner), id, FileKind::Png);
        assert_eq!(key.attachment(), Some(id));
        assert_eq!(key.workspace(), Some(WorkspaceId::from(ws)));
        assert_eq!(key.owner(), Some(Owner::Session(owner)));
        assert_eq!(key.kind(), Some(FileKind::Png));
        assert_eq!(key.backup_part(), None);
        assert_eq!(key.media_type(), FileKind::Png.media_type());
        let as_ref: &str = key.as_ref();
        assert_eq!(as_ref, key.as_str());
        assert_eq!(format!("{key:?}"), format!("ObjectKey({:?})", key.as_str()));
        assert_eq!(key.to_string(), key.as_str());
        let prefix = KeyPrefix::owner(ws, Owner::Session(owner));
        assert_eq!(prefix.to_string(), prefix.as_str());
        assert!(key.as_str().starts_with(&prefix.to_string()));
    }

    #[test]
    fn every_kind_round_trips_through_its_string() {
        for kind in FileKind::ALL {
            for owner in [
                Owner::Session(Uuid::new_v4()),
                Owner::Client(Uuid::new_v4()),
            ] {
                let key = ObjectKey::new(Uuid::new_v4(), owner, Uuid::new_v4(), kind);
                let parsed: ObjectKey = key.as_str().parse().unwrap();
                assert_eq!(parsed, key);
                assert_eq!(parsed.kind(), Some(kind));
                assert_eq!(parsed.owner(), Some(owner));
            }
        }
    }

    #[test]
    fn parsing_refuses_anything_but_the_canonical_form() {
        let good = sample().as_str().to_owned();
        let bad = [
            String::new(),
            "workspaces".to_owned(),
            good.replace("workspaces/", "../"),
            good.replace("sessions", "users"),
            good.replace("attachments", ".."),
            good.replace(".jpg", ""),
            good.replace(".jpg", ".jpg.exe"),
            good.to_uppercase(),
            format!("/{good}"),
            format!("{good}/"),
            good.replace('-', ""),
            good.replace("workspaces/", "workspaces//"),
        ];
        for b in bad {
            assert!(
                matches!(b.parse::<ObjectKey>(), Err(Error::InvalidKey { .. })),
                "accepted {b:?}"
            );
        }
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let key = sample();
        let json = serde_json::to_string(&key).unwrap();
        assert_eq!(json, format!("\"{key}\""));
        assert_eq!(serde_json::from_str::<ObjectKey>(&json).unwrap(), key);
        let err = serde_json::from_str::<ObjectKey>("\"workspaces/../x\"").unwrap_err();
        assert!(err.to_string().contains("invalid object key"), "{err}");
    }

    #[test]
    fn prefixes_contain_their_keys_only() {
        let key = sample();
        assert!(KeyPrefix::all().contains(&key));
        let (ws, owner) = (key.workspace().unwrap(), key.owner().unwrap());
        assert!(KeyPrefix::workspace(ws).contains(&key));
        assert!(KeyPrefix::owner(ws, owner).contains(&key));
        assert!(!KeyPrefix::workspace(Uuid::new_v4()).contains(&key));
        assert!(!KeyPrefix::owner(ws, Owner::Client(Uuid::new_v4())).contains(&key));
        assert!(!KeyPrefix::backups().contains(&key));
    }

    #[test]
    fn backup_keys_round_trip_and_stay_outside_every_workspace_prefix() {
        let id = Uuid::new_v4();
        for part in BackupPart::ALL {
            let key = ObjectKey::backup(id, part);
            assert_eq!(
                key.as_str(),
                format!("backups/{}/{}", id.as_hyphenated(), part.file_name())
            );
            let parsed: ObjectKey = key.as_str().parse().unwrap();
            assert_eq!(parsed, key);
            assert_eq!(parsed.scope(), KeyScope::Backup { backup: id, part });
            assert_eq!(parsed.backup_part(), Some((id, part)));
            assert_eq!(parsed.workspace(), None);
            assert_eq!(parsed.owner(), None);
            assert_eq!(parsed.attachment(), None);
            assert_eq!(parsed.kind(), None);
            assert_eq!(parsed.media_type(), part.media_type());
            assert!(KeyPrefix::backups().contains(&key));
            assert!(KeyPrefix::backup(id).contains(&key));
            assert!(!KeyPrefix::backup(Uuid::new_v4()).contains(&key));
            assert!(!KeyPrefix::all().contains(&key));
        }
        let good = ObjectKey::backup(id, BackupPart::Database)
            .as_str()
            .to_owned();
        for bad in [
            good.replace("database.ward", "other.ward"),
            good.replace("database.ward", ""),
            good.replace("database.ward", "../database.ward"),
            good.replace("backups/", "backup/"),
            good.to_uppercase(),
            format!("{good}/x"),
            good.replace('-', ""),
        ] {
            assert!(
                matches!(bad.parse::<ObjectKey>(), Err(Error::InvalidKey { .. })),
                "accepted {bad:?}"
            );
        }
    }
}
