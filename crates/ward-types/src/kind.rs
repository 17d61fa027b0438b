//! `FileKind`: the file types ward accepts, with their extension and media type.

use std::fmt;
use std::str::FromStr;

/// A file type ward accepts.
///
/// Detecting a kind from an uploaded name or from magic bytes is ward-sanitize's job; this type
/// only names the kinds and their fixed spellings.
///
/// The enum is deliberately exhaustive (not `#[non_exhaustive]`): every crate matches on it
/// without a wildcard, so accepting a new kind is a breaking change that makes each of them
/// decide how to validate, clean and name it.
///
/// ```
/// use ward_types::FileKind;
///
/// assert_eq!(FileKind::Jpeg.extension(), "jpg");
/// assert_eq!(FileKind::Jpeg.media_type(), "image/jpeg");
/// assert_eq!(FileKind::Jpeg.to_string(), "jpeg");
/// assert_eq!("jpg".parse::<FileKind>()?, FileKind::Jpeg);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// JPEG (JFIF or EXIF), extension `.jpg`.
    Jpeg,
    /// PNG, including APNG, extension `.png`.
    Png,
    /// WebP (lossy, lossless, extended and animated), extension `.webp`.
    Webp,
    /// PDF, extension `.pdf`.
    Pdf,
    /// HEIC or HEIF still image (HEVC-coded, as phones save photos), extension `.heic`.
    /// ward-sanitize accepts it only when built with its `heic` feature.
    Heic,
}

impl FileKind {
    /// Every kind, for parsing and tests.
    pub const ALL: [Self; 5] = [Self::Jpeg, Self::Png, Self::Webp, Self::Pdf, Self::Heic];

    /// The canonical extension, lowercase, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
            Self::Heic => "heic",
        }
    }

    /// The media type to store and serve the file with.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Heic => "image/heic",
        }
    }

    /// The kind whose canonical [extension](Self::extension) is exactly `ext` (lowercase, no
    /// dot); `None` otherwise. This is not the upload name rule, which ward-sanitize applies.
    pub fn from_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.extension() == ext)
    }

    /// The short lowercase name (`jpeg`, `png`, `webp`, `pdf`, `heic`), as `Display` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
            Self::Heic => "heic",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`FileKind`] from text that names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownFileKind;

impl fmt::Display for UnknownFileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected jpeg, jpg, png, webp, pdf or heic")
    }
}

impl std::error::Error for UnknownFileKind {}

impl FromStr for FileKind {
    type Err = UnknownFileKind;

    /// Accepts the `Display` name or the canonical extension, lowercase.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.extension() == s)
            .ok_or(UnknownFileKind)
    }
}

crate::serde_as_text!(FileKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in FileKind::ALL {
            assert_eq!(FileKind::from_extension(kind.extension()), Some(kind));
            assert_eq!(kind.as_str().parse::<FileKind>(), Ok(kind));
            assert_eq!(kind.extension().parse::<FileKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(FileKind::from_extension("jpeg"), None);
        assert_eq!(FileKind::from_extension("PDF"), None);
        assert_eq!("exe".parse::<FileKind>(), Err(UnknownFileKind));
    }
}
