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

/// The name of one stored object:
/// `workspaces/{workspace}/{sessions|clients}/{owner}/attachments/{attachment}.{ext}`.
///
/// # Invariants
///
/// - Every id is a UUID in lowercase hyphenated form, and the extension is one of
///   [`FileKind`]'s, so a key holds only `[0-9a-f-]`, `/`, `.`, and the fixed words above.
/// - No segment is empty, `.` or `..`, so a key can never escape its directory on a filesystem.
/// - A key is built only by [`ObjectKey::new`] or by parsing a string that passes every check
///   above; user text (file names, titles) can never reach one.
///
/// # Examples
///
/// ```
/// use ward_storage::{FileKind, ObjectKey, Owner};
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
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    text: String,
    workspace: WorkspaceId,
    owner: Owner,
    attachment: Uuid,
    kind: FileKind,
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
            workspace,
            owner,
            attachment,
            kind,
        }
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The workspace (tenant) id.
    pub fn workspace(&self) -> WorkspaceId {
        self.workspace
    }

    /// The session or client the attachment belongs to.
    pub fn owner(&self) -> Owner {
        self.owner
    }

    /// The attachment id.
    pub fn attachment(&self) -> Uuid {
        self.attachment
    }

    /// The file kind.
    pub fn kind(&self) -> FileKind {
        self.kind
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
        let [ws_word, ws, owner_word, owner, att_word, file] = parts.as_slice() else {
            return Err(Error::InvalidKey {
                reason: "expected six `/`-separated segments",
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

/// A prefix to list under: everything, one workspace, or one owner within a workspace.
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
    /// Every ward object.
    pub fn all() -> Self {
        Self("workspaces/".to_owned())
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
        assert_eq!(key.attachment(), id);
        assert_eq!(key.workspace(), WorkspaceId::from(ws));
        assert_eq!(key.owner(), Owner::Session(owner));
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
                assert_eq!(parsed.kind(), kind);
                assert_eq!(parsed.owner(), owner);
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
        assert!(KeyPrefix::workspace(key.workspace()).contains(&key));
        assert!(KeyPrefix::owner(key.workspace(), key.owner()).contains(&key));
        assert!(!KeyPrefix::workspace(Uuid::new_v4()).contains(&key));
        assert!(!KeyPrefix::owner(key.workspace(), Owner::Client(Uuid::new_v4())).contains(&key));
    }
}
