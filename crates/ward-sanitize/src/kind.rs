//! Detecting a [`FileKind`]: the extension rule and the magic-byte sniffer.
//!
//! The kinds themselves and their names live in ward-types, shared with ward-storage.

pub use ward_types::FileKind;

use crate::error::{Error, NameRule, Result};

/// Applies the extension rule to an uploaded name: the last suffix of the last path
/// component (`/` or `\`), compared case-insensitively; NUL or control characters reject.
///
/// ```
/// use ward_sanitize::{FileKind, kind_from_name};
/// assert_eq!(kind_from_name("C:\\scans\\Wound.JPEG")?, FileKind::Jpeg);
/// assert!(kind_from_name("consent.pdf.exe").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn kind_from_name(name: &str) -> Result<FileKind> {
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
        "jpg" | "jpeg" => Ok(FileKind::Jpeg),
        "png" => Ok(FileKind::Png),
        "webp" => Ok(FileKind::Webp),
        "pdf" => Ok(FileKind::Pdf),
        #[cfg(feature = "heic")]
        "heic" | "heif" => Ok(FileKind::Heic),
        #[cfg(not(feature = "heic"))]
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
/// use ward_sanitize::{FileKind, sniff_kind};
/// assert_eq!(sniff_kind(b"%PDF-1.7\n")?, FileKind::Pdf);
/// assert!(sniff_kind(b"GIF89a").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn sniff_kind(bytes: &[u8]) -> Result<FileKind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(FileKind::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(FileKind::Png);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        return Ok(FileKind::Webp);
    }
    if bytes.starts_with(b"%PDF-") {
        return Ok(FileKind::Pdf);
    }
    #[cfg(feature = "heic")]
    if bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && crate::heic::BRANDS.iter().any(|b| &bytes[8..12] == *b)
    {
        return Ok(FileKind::Heic);
    }
    Err(Error::UnsupportedType {
        detected: refused_type(bytes),
    })
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
