//! Display names: what an uploaded name becomes before it is shown to anyone.

use unicode_normalization::UnicodeNormalization;

use crate::kind::FileKind;

/// Longest display name in bytes (UTF-8), the common file-system limit.
pub const MAX_DISPLAY_NAME_BYTES: usize = 255;

/// Longest suffix (in bytes, without the dot) treated as an extension when shortening a name.
const MAX_EXTENSION_BYTES: usize = 16;

/// Turns an uploaded file name into a name that is safe to show and to offer as a download name.
///
/// The rules, in order: keep the last path component (after `/` or `\`); normalise to Unicode
/// NFC; drop control, bidirectional-override and zero-width characters; turn characters that
/// Windows forbids (`<>:"|?*`) into `_`; collapse runs of white space into one space and runs
/// of dots into one dot; drop leading dots and leading or trailing spaces and dots; prefix `_`
/// to a Windows device name (`CON`, `NUL`, `COM1`, …); end the name with `kind`'s extension
/// when it ends otherwise; and shorten to at most 255 bytes keeping the extension. When nothing
/// is left, the name is `attachment.<ext>`.
///
/// The display name is for people only: storage names are never built from it.
///
/// ```
/// use ward_sanitize::{FileKind, display_name};
/// assert_eq!(display_name("../../etc/wound photo.JPG", FileKind::Jpeg), "wound photo.JPG");
/// assert_eq!(display_name("report\u{202e}fdp.exe", FileKind::Pdf), "reportfdp.exe.pdf");
/// assert_eq!(display_name("CON.pdf", FileKind::Pdf), "_CON.pdf");
/// assert_eq!(display_name("...", FileKind::Png), "attachment.png");
/// ```
pub fn display_name(raw: &str, kind: FileKind) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let mut name = String::with_capacity(last.len());
    for c in last.nfc() {
        if c.is_control() || is_invisible(c) {
            continue;
        }
        let c = if matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
            '_'
        } else if c.is_whitespace() {
            ' '
        } else {
            c
        };
        let prev = name.chars().next_back();
        if (c == ' ' || c == '.') && prev == Some(c) {
            continue;
        }
        name.push(c);
    }
    let name = name.trim_matches(|c| c == ' ' || c == '.');
    let mut name = name.to_owned();

    let (stem, ext) = split_extension(&name);
    let ext_matches = ext.is_some_and(|e| {
        let e = e.to_ascii_lowercase();
        e == kind.extension()
            || (kind == FileKind::Jpeg && e == "jpeg")
            || (kind == FileKind::Heic && e == "heif")
    });
    if stem.is_empty() {
        return format!("attachment.{}", kind.extension());
    }
    if !ext_matches {
        name.push('.');
        name.push_str(kind.extension());
    }
    let (stem, ext) = split_extension(&name);
    let (stem, ext) = (stem.to_owned(), ext.unwrap_or(kind.extension()).to_owned());

    let device_stem = stem.split('.').next().unwrap_or(&stem).trim_end();
    let stem = if is_device_name(device_stem) {
        format!("_{stem}")
    } else {
        stem
    };
    let budget = MAX_DISPLAY_NAME_BYTES - 1 - ext.len();
    let mut end = stem.len().min(budget);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    let stem = stem[..end].trim_end_matches([' ', '.']);
    if stem.is_empty() {
        return format!("attachment.{ext}");
    }
    format!("{stem}.{ext}")
}

/// Splits `name` at its last dot when what follows looks like an extension.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !ext.is_empty()
                && ext.len() <= MAX_EXTENSION_BYTES
                && ext.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            (stem, Some(ext))
        }
        _ => (name, None),
    }
}

/// Bidirectional controls and zero-width characters: they make a name read differently from
/// what it is (`report\u{202e}fdp.exe` shows as `reportexe.pdf`).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Windows reserved device names, compared case-insensitively.
fn is_device_name(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((upper.starts_with("COM") || upper.starts_with("LPT"))
        && upper.len() == 4
        && upper.as_bytes()[3].is_ascii_digit())
        || ((upper.starts_with("COM") || upper.starts_with("LPT"))
            && matches!(&upper[3..], "¹" | "²" | "³"))
}
