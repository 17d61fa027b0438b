//! The accepted file types, the extension rule and the magic-byte sniffer.

use std::fmt;

use crate::error::{Error, NameRule, Result};

/// A file type ward accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// JPEG (JFIF or EXIF).
    Jpeg,
    /// PNG, including APNG.
    Png,
    /// WebP: lossy, lossless, extended and animated.
    Webp,
    /// PDF.
    Pdf,
}

impl FileKind {
    /// The canonical extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        }
    }

    /// The media type to store and serve the file with.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// Applies the extension rule to an uploaded name: the last suffix of the last path
    /// component (`/` or `\`), compared case-insensitively; NUL or control characters reject.
    ///
    /// ```
    /// use ward_sanitize::FileKind;
    /// assert_eq!(FileKind::from_name("C:\\scans\\Wound.JPEG")?, FileKind::Jpeg);
    /// assert!(FileKind::from_name("consent.pdf.exe").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_name(name: &str) -> Result<Self> {
        if name.chars().any(char::is_control) {
            return Err(Error::Name {
                reason: NameRule::ControlCharacter,
            });
        }
        let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let Some((_, ext)) = last.rsplit_once('.') else {
            return Err(Error::Name {
                reason: NameRule::NoExtension,
            });
        };
        if ext.is_empty() {
            return Err(Error::Name {
                reason: NameRule::NoExtension,
            });
        }
        match ext.to_ascii_lowercase().as_str() {
            "jpg" | "jpeg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            "pdf" => Ok(Self::Pdf),
            "heic" | "heif" => Err(Error::UnsupportedType { detected: "heic" }),
            _ => Err(Error::Name {
                reason: NameRule::NotAllowed,
            }),
        }
    }

    /// Identifies the content from its first bytes. Accepted types give `Ok`; a recognised but
    /// refused type (GIF, TIFF, HEIC, …) or unknown bytes give [`Error::UnsupportedType`].
    ///
    /// ```
    /// use ward_sanitize::FileKind;
    /// assert_eq!(FileKind::sniff(b"%PDF-1.7\n")?, FileKind::Pdf);
    /// assert!(FileKind::sniff(b"GIF89a").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sniff(bytes: &[u8]) -> Result<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Ok(Self::Jpeg);
        }
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Ok(Self::Png);
        }
        if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            return Ok(Self::Webp);
        }
        if bytes.starts_with(b"%PDF-") {
            return Ok(Self::Pdf);
        }
        Err(Error::UnsupportedType {
            detected: refused_type(bytes),
        })
    }
}

/// Names a recognised type that ward refuses, so the error says what the upload really was.
fn refused_type(bytes: &[u8]) -> &'static str {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return match &bytes[8..12] {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => "heic",
            b"avif" | b"avis" => "avif",
            _ => "iso media",
        };
    }
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "gif"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "tiff"
    } else if bytes.starts_with(b"BM") {
        "bmp"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "zip"
    } else if bytes.is_empty() {
        "empty"
    } else {
        "unknown"
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        })
    }
}
