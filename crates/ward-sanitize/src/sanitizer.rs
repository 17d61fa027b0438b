//! [`Sanitizer`]: the one entry point that validates an upload three ways and cleans it.

use std::fmt;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use crate::error::{Error, LimitRule, Result};
use crate::kind::FileKind;
use crate::limits::Limits;
use crate::pdf::{self, ActiveContentPolicy};
use crate::raster;
use crate::report::Report;

/// Validates uploads and removes their metadata. Cheap to build and to clone; holds settings only.
///
/// ```
/// use ward_sanitize::{Category, FileKind, Sanitizer};
/// # let mut png = Vec::new();
/// # image::RgbImage::new(2, 2).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
/// # let end = png.len() - 12;
/// # let mut chunk = Vec::new();
/// # chunk.extend_from_slice(&10u32.to_be_bytes());
/// # chunk.extend_from_slice(b"tEXtAuthor\0Doe");
/// # let crc = crc32fast::hash(&chunk[4..]);
/// # chunk.extend_from_slice(&crc.to_be_bytes());
/// # png.splice(end..end, chunk);
/// // `png` is a PNG whose tEXt chunk names its author.
/// let cleaned = Sanitizer::new().sanitize("wound.png", &png)?;
/// assert_eq!(cleaned.kind(), FileKind::Png);
/// assert!(cleaned.report().has_removed(Category::Text));
/// assert!(!cleaned.bytes().windows(3).any(|w| w == b"Doe"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Sanitizer {
    limits: Limits,
    active_content: ActiveContentPolicy,
}

/// A validated, cleaned file. Its `Debug` output shows the type, size and report, never the bytes.
#[derive(Clone)]
pub struct Sanitized {
    kind: FileKind,
    bytes: Vec<u8>,
    report: Report,
}

impl fmt::Debug for Sanitized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sanitized")
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .field("report", &self.report)
            .finish()
    }
}

impl Sanitized {
    /// The type all three checks agreed on.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The cleaned file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The cleaned file, owned.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// What was removed or changed.
    pub fn report(&self) -> &Report {
        &self.report
    }
}

impl Sanitizer {
    /// A sanitizer with default [`Limits`] that rejects PDF active content.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses these limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets what happens to PDF active content.
    pub fn with_active_content(mut self, policy: ActiveContentPolicy) -> Self {
        self.active_content = policy;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Reads an upload from a stream, never more than [`Limits::max_file_bytes`] plus one
    /// byte, then validates and cleans it as [`sanitize`](Self::sanitize) does.
    ///
    /// The name is checked before a byte is read, so a refused extension costs no I/O.
    pub fn sanitize_reader(&self, name: &str, reader: impl Read) -> Result<Sanitized> {
        FileKind::from_name(name)?;
        let limit = self.limits.max_file_bytes();
        let mut bytes = Vec::new();
        reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|source| Error::Io { source })?;
        self.sanitize(name, &bytes)
    }

    /// Validates `bytes` uploaded under `name` and returns the cleaned file.
    ///
    /// The extension ([`FileKind::from_name`]), the magic bytes ([`FileKind::sniff`]) and a
    /// real parse must agree. Images are stripped losslessly and the stripped file is decoded
    /// in full within the limits; PDFs are loaded, cleaned and written out fresh.
    pub fn sanitize(&self, name: &str, bytes: &[u8]) -> Result<Sanitized> {
        let started = Instant::now();
        let result = self.sanitize_inner(name, bytes);
        // Outcome, type and sizes only: names and content may be PHI.
        match &result {
            Ok(s) => tracing::debug!(
                kind = %s.kind,
                input_bytes = bytes.len(),
                output_bytes = s.bytes.len(),
                re_encoded = s.report.re_encoded(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload sanitized"
            ),
            Err(e) => tracing::debug!(
                rule = e.rule(),
                input_bytes = bytes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload rejected"
            ),
        }
        result
    }

    fn sanitize_inner(&self, name: &str, bytes: &[u8]) -> Result<Sanitized> {
        let extension = FileKind::from_name(name)?;
        let kind = self.check_content(extension, bytes)?;
        // Defence in depth: a panic inside a third-party decoder on hostile input becomes a
        // parse error for that file instead of taking the caller down.
        let cleaned = panic::catch_unwind(AssertUnwindSafe(|| match kind {
            FileKind::Pdf => pdf::clean(bytes, &self.limits, self.active_content),
            image => raster::clean(image, bytes, &self.limits),
        }));
        let (bytes, report) = match cleaned {
            Ok(result) => result?,
            Err(_) => return Err(Error::malformed(kind, "decoder fault on this input")),
        };
        Ok(Sanitized {
            kind,
            bytes,
            report,
        })
    }

    /// Size limits and the magic-byte check against the extension's type.
    fn check_content(&self, extension: FileKind, bytes: &[u8]) -> Result<FileKind> {
        if bytes.len() as u64 > self.limits.max_file_bytes() {
            return Err(Error::Limit(LimitRule::FileSize {
                limit: self.limits.max_file_bytes(),
            }));
        }
        if bytes.is_empty() {
            return Err(Error::Limit(LimitRule::Empty));
        }
        let content = FileKind::sniff(bytes)?;
        if content != extension {
            return Err(Error::Mismatch { extension, content });
        }
        Ok(content)
    }

    /// Removes image metadata losslessly without decoding the pixels or applying the
    /// orientation: the structural parse only. For measuring and for callers that have already
    /// run [`sanitize`](Self::sanitize) on the same bytes; it is not a validator.
    pub fn strip_image(&self, kind: FileKind, bytes: &[u8]) -> Result<(Vec<u8>, Report)> {
        let stripped = raster::strip(kind, bytes, &self.limits)?;
        Ok((stripped.bytes, stripped.report))
    }
}
