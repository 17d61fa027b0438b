//! `WorkspaceId`: the id of a workspace (tenant).

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The id of a workspace (tenant): a [`Uuid`], displayed in lowercase hyphenated form.
///
/// ```
/// use ward_types::{Uuid, WorkspaceId};
///
/// let ws = WorkspaceId::from(Uuid::from_u128(1));
/// assert_eq!(ws.to_string(), "00000000-0000-0000-0000-000000000001");
/// assert_eq!(ws.to_string().parse::<WorkspaceId>()?, ws);
/// assert_eq!(ws.as_uuid(), Uuid::from_u128(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkspaceId(Uuid);

impl WorkspaceId {
    /// The workspace with this uuid.
    pub const fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The uuid.
    pub const fn as_uuid(self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for WorkspaceId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl From<WorkspaceId> for Uuid {
    fn from(id: WorkspaceId) -> Self {
        id.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.as_hyphenated(), f)
    }
}

impl FromStr for WorkspaceId {
    type Err = uuid::Error;

    /// Parses any form [`Uuid`] accepts; [`Display`](fmt::Display) always writes the lowercase
    /// hyphenated one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

crate::serde_as_text!(WorkspaceId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_lowercase_hyphenated() {
        let ws: WorkspaceId = "A0000000-0000-0000-0000-00000000000B".parse().unwrap();
        assert_eq!(ws.to_string(), "a0000000-0000-0000-0000-00000000000b");
        assert_eq!(Uuid::from(ws), ws.as_uuid());
        assert!("not-a-uuid".parse::<WorkspaceId>().is_err());
    }
}
