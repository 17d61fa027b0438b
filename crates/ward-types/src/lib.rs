//! The vocabulary ward's crates share: [`FileKind`], [`WorkspaceId`], [`Environment`] and
//! [`Fault`].
//!
//! This crate is deliberately tiny, like ripgrep's `grep-matcher`: it depends on `uuid` only (and
//! `serde` behind a feature), holds no crypto, does no I/O beyond reading one environment variable,
//! and has no async runtime. Each ward crate uses these types instead of its own copy, so a file
//! kind detected by ward-sanitize is the one ward-storage names objects with, and every crate's
//! `Error::fault()` answers with the same [`Fault`].
//!
//! What it does not do: detect a file's kind from its name or bytes (ward-sanitize does), or
//! validate object keys (ward-storage does).
//!
//! # Map
//!
//! - [`FileKind`]: an accepted file type, its canonical [extension](FileKind::extension) and
//!   [media type](FileKind::media_type).
//! - [`WorkspaceId`]: a workspace (tenant) id, a [`Uuid`] displayed hyphenated and lowercase.
//! - [`Environment`]: the deployment environment from `WARD_ENV`; unset means
//!   [`Production`](Environment::Production), and only an explicit
//!   [`Development`](Environment::Development) relaxes a rule.
//! - [`Fault`]: whose fault an error is, and the HTTP status a service maps it to.
//!
//! # Feature flags
//!
//! - `serde`: `Serialize` and `Deserialize` for [`FileKind`], [`WorkspaceId`] and
//!   [`Environment`], and `Serialize` for [`Fault`], in the same text forms as `Display`
//!   (`"pdf"`, the hyphenated uuid, `"production"`, `"not_found"`).
//!
//! # Example
//!
//! ```
//! use ward_types::{Environment, Fault, FileKind, WorkspaceId};
//!
//! let ws: WorkspaceId = "00000000-0000-0000-0000-000000000001".parse()?;
//! assert_eq!(ws.to_string(), "00000000-0000-0000-0000-000000000001");
//!
//! assert_eq!(FileKind::Pdf.extension(), "pdf");
//! assert_eq!(FileKind::Pdf.media_type(), "application/pdf");
//!
//! // Unset means production, where the strict rules apply.
//! assert_eq!(Environment::from_env_value(None)?, Environment::Production);
//! assert!(Environment::Production.is_strict());
//!
//! assert!(Fault::NotFound.is_client_fault());
//! assert!(!Fault::Server.is_client_fault());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// `Serialize` and `Deserialize` (feature `serde`) for a type whose wire form is its text:
/// written with `Display`, read with `FromStr`, so JSON holds exactly what `to_string` shows and
/// `parse` accepts.
macro_rules! serde_as_text {
    ($ty:ty) => {
        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

mod environment;
mod fault;
mod kind;
mod workspace;

pub use environment::{Environment, InvalidEnvironment, WARD_ENV};
pub use fault::Fault;
pub use kind::{FileKind, UnknownFileKind};
pub use uuid;
pub use uuid::Uuid;
pub use workspace::WorkspaceId;

#[cfg(all(test, feature = "serde"))]
mod serde_tests {
    use super::{Environment, FileKind, WorkspaceId};

    /// The wire form is the text form, and it reads back; other text is refused.
    #[test]
    fn each_type_is_its_text_on_the_wire() {
        let ws: WorkspaceId = "a0000000-0000-4000-8000-00000000000b".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&ws).unwrap(),
            "\"a0000000-0000-4000-8000-00000000000b\""
        );
        assert_eq!(serde_json::to_string(&FileKind::Pdf).unwrap(), "\"pdf\"");
        assert_eq!(
            serde_json::to_string(&Environment::Staging).unwrap(),
            "\"staging\""
        );
        let back: (WorkspaceId, FileKind, Environment) = serde_json::from_str(
            &serde_json::to_string(&(ws, FileKind::Pdf, Environment::Staging)).unwrap(),
        )
        .unwrap();
        assert_eq!(back, (ws, FileKind::Pdf, Environment::Staging));
        assert!(serde_json::from_str::<FileKind>("\"exe\"").is_err());
        assert!(serde_json::from_str::<Environment>("\"Prod\"").is_err());
        assert!(serde_json::from_str::<WorkspaceId>("\"not-a-uuid\"").is_err());
    }
}
