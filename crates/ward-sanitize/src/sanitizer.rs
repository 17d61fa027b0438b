//! [`Sanitizer`]: the one entry point that validates an upload three ways and cleans it.

use std::fmt;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, LimitRule, Result};
use crate::kind::{FileKind, kind_from_name, sniff_kind};
use crate::limits::Limits;
use crate::pdf::{self, ActiveContentPolicy};
use crate::permits::{Deadline, DecodePermits};
use crate::png::ImageData;
use crate::raster;
use crate::report::Report;

/// Validates uploads and removes their metadata. Cheap to build and to clone.
///
/// It holds its settings and a pool of [`Limits::max_concurrent_decodes`] decode permits,
/// shared by its clones: share one sanitizer (or clones of it) across a service so that a burst
/// of uploads decodes at most that many files at once, each within 512 MiB of pixels, and the
/// rest wait (within [`Limits::max_image_time`]). [`with_limits`](Self::with_limits) gives the
/// sanitizer a pool of its own.
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
#[derive(Debug, Clone)]
pub struct Sanitizer {
    limits: Limits,
    active_content: ActiveContentPolicy,
    decodes: DecodePermits,
}

impl Default for Sanitizer {
    fn default() -> Self {
        let limits = Limits::default();
        Self {
            decodes: DecodePermits::new(limits.max_concurrent_decodes()),
            limits,
            active_content: ActiveContentPolicy::default(),
        }
    }
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

    /// Uses these limits, with a new pool of
    /// [`max_concurrent_decodes`](Limits::max_concurrent_decodes) permits (clones made before
    /// this call keep the old pool).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.decodes = DecodePermits::new(limits.max_concurrent_decodes());
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
        kind_from_name(name)?;
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
    /// The extension ([`kind_from_name`]), the magic bytes ([`sniff_kind`]) and a
    /// real parse must agree. Images are stripped losslessly and the stripped file is checked
    /// within the limits (PNG and WebP decoded in full, JPEG entropy-decoded block by block:
    /// see the crate docs); PDFs are loaded, cleaned and written out fresh.
    pub fn sanitize(&self, name: &str, bytes: &[u8]) -> Result<Sanitized> {
        let started = Instant::now();
        let result = self.sanitize_inner(name, bytes, started);
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

    fn sanitize_inner(&self, name: &str, bytes: &[u8], started: Instant) -> Result<Sanitized> {
        let cleaned = self.clean(name, bytes, started)?;
        if let Some(deadline) = cleaned.unchecked {
            check_image(
                cleaned.kind,
                &cleaned.bytes,
                &self.limits,
                &deadline,
                &self.decodes,
            )?;
        }
        Ok(Sanitized {
            kind: cleaned.kind,
            bytes: cleaned.bytes,
            report: cleaned.report,
        })
    }

    /// Validates and cleans `bytes` as [`sanitize`](Self::sanitize) does, except the content
    /// check of an image (the full decode of PNG, WebP and HEIC, the entropy decode of JPEG), which
    /// [`Staged::check`] runs, so that a caller can check on one thread while it already
    /// encrypts and stores the output on another. The output is the same bytes `sanitize`
    /// returns; it is not valid until `check` has returned `Ok`.
    ///
    /// Everything else has run when this returns: the extension and magic bytes agree, the size
    /// and dimension limits hold, the metadata is gone; a PDF is fully loaded and cleaned, and
    /// a picture turned upright was checked and decoded to do so, so neither leaves a check
    /// (`check` then returns `Ok` at once). The image time limit runs from this call, so it
    /// bounds the check too.
    ///
    /// ```
    /// use ward_sanitize::{FileKind, Sanitizer};
    /// # let mut png = Vec::new();
    /// # image::RgbImage::new(2, 2).write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    /// let sanitizer = Sanitizer::new();
    /// let staged = sanitizer.stage("wound.png", &png)?;
    /// let output = staged.bytes(); // e.g. start encrypting these on another task
    /// staged.check()?;             // only now are they a valid PNG
    /// assert_eq!(&output[..], sanitizer.sanitize("wound.png", &png)?.bytes());
    /// assert_eq!(staged.kind(), FileKind::Png);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stage(&self, name: &str, bytes: &[u8]) -> Result<Staged> {
        let started = Instant::now();
        let cleaned = self.clean(name, bytes, started);
        match &cleaned {
            Ok(c) => tracing::debug!(
                kind = %c.kind,
                input_bytes = bytes.len(),
                output_bytes = c.bytes.len(),
                unchecked = c.unchecked.is_some(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload staged"
            ),
            Err(e) => tracing::debug!(
                rule = e.rule(),
                input_bytes = bytes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload rejected"
            ),
        }
        let cleaned = cleaned?;
        Ok(Staged {
            kind: cleaned.kind,
            bytes: Arc::from(cleaned.bytes),
            report: cleaned.report,
            unchecked: cleaned.unchecked,
            limits: self.limits.clone(),
            decodes: self.decodes.clone(),
        })
    }

    /// Every step of [`sanitize`](Self::sanitize) but an image's content check; the deadline
    /// that check must keep is returned with the output when it is still to run.
    fn clean(&self, name: &str, bytes: &[u8], started: Instant) -> Result<Cleaned> {
        let extension = kind_from_name(name)?;
        let kind = self.check_content(extension, bytes)?;
        let deadline = Deadline::new(started, self.limits.max_image_time());
        let cleaned = guard_decoder(kind, || match kind {
            FileKind::Pdf => {
                // Loading a PDF holds a decode permit too; the wait is bounded by the PDF time
                // limit, which pdf::clean then applies to the cleaning itself.
                let limit = self.limits.max_pdf_time();
                let _permit = self.decodes.acquire(Deadline::new(started, limit), || {
                    Error::Limit(LimitRule::PdfTime { limit })
                })?;
                let (bytes, report) = pdf::clean(bytes, &self.limits, self.active_content)?;
                Ok((bytes, report, None))
            }
            image => {
                let prepared =
                    raster::prepare(image, bytes, &self.limits, &deadline, &self.decodes)?;
                let unchecked = prepared.unchecked.then_some(deadline);
                Ok((prepared.bytes, prepared.report, unchecked))
            }
        })?;
        let (bytes, report, unchecked) = cleaned;
        Ok(Cleaned {
            kind,
            bytes,
            report,
            unchecked,
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
        let content = sniff_kind(bytes)?;
        if content != extension {
            return Err(Error::Mismatch { extension, content });
        }
        Ok(content)
    }

    /// Removes image metadata losslessly without decoding the pixels or applying the
    /// orientation: the structural parse only. For measuring and for callers that have already
    /// run [`sanitize`](Self::sanitize) on the same bytes; it is not a validator.
    ///
    /// The walk is bounded by [`Limits::max_image_time`]; no decode permit is taken, and PNG
    /// image data is not inflated (so its zlib checksum is not checked).
    pub fn strip_image(&self, kind: FileKind, bytes: &[u8]) -> Result<(Vec<u8>, Report)> {
        let deadline = Deadline::new(Instant::now(), self.limits.max_image_time());
        let stripped = raster::strip(kind, bytes, &self.limits, &deadline, ImageData::Skip)?;
        Ok((stripped.bytes, stripped.report))
    }
}

/// The output of [`Sanitizer::clean`]: `unchecked` holds the deadline of the content check
/// still to run, if any.
struct Cleaned {
    kind: FileKind,
    bytes: Vec<u8>,
    report: Report,
    unchecked: Option<Deadline>,
}

/// Runs `f`, turning a panic inside a third-party decoder on hostile input into a parse error
/// for that file instead of taking the caller down (defence in depth).
fn guard_decoder<T>(kind: FileKind, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => Err(Error::malformed(kind, "decoder fault on this input")),
    }
}

/// An image's content check ([`raster::check`]) behind the decoder guard.
fn check_image(
    kind: FileKind,
    bytes: &[u8],
    limits: &Limits,
    deadline: &Deadline,
    decodes: &DecodePermits,
) -> Result<()> {
    guard_decoder(kind, || {
        raster::check(kind, bytes, limits, deadline, decodes)
    })
}

/// A file cleaned by [`Sanitizer::stage`] whose content check may still be to run.
///
/// [`bytes`](Self::bytes) are the output [`Sanitizer::sanitize`] would return, shared so that
/// they can be encrypted and stored while [`check`](Self::check) runs on another thread. Until
/// `check` returns `Ok` they are **not** validated: store them only where nothing can read them
/// yet, and delete them if the check fails. Its `Debug` output shows the type, size and
/// whether the check is pending, never the bytes.
#[must_use = "the output is not valid until `check` has returned `Ok`"]
pub struct Staged {
    kind: FileKind,
    bytes: Arc<[u8]>,
    report: Report,
    unchecked: Option<Deadline>,
    limits: Limits,
    decodes: DecodePermits,
}

impl fmt::Debug for Staged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Staged")
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .field("unchecked", &self.unchecked.is_some())
            .field("report", &self.report)
            .finish()
    }
}

impl Staged {
    /// The type the extension and magic bytes agreed on (and the parse so far).
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The cleaned file, shared; valid once [`check`](Self::check) has returned `Ok`.
    pub fn bytes(&self) -> Arc<[u8]> {
        Arc::clone(&self.bytes)
    }

    /// The cleaned file's length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the cleaned file is empty (never, for a file that staged).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// What was removed or changed.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Whether [`check`](Self::check) still has work to do (an image not turned upright).
    pub fn is_checked(&self) -> bool {
        self.unchecked.is_none()
    }

    /// The content check [`Sanitizer::sanitize`] runs last: every pixel of a PNG or WebP
    /// decoded, every block of a JPEG entropy-decoded, a HEIC's primary image decoded by
    /// libheif (feature `heic`), holding one of the sanitizer's decode
    /// permits, within the image time limit counted from [`Sanitizer::stage`]. Blocks for as long
    /// as that takes: call it from a thread that may block. `Ok` at once when nothing is left
    /// to check; the same answer every time it is called.
    pub fn check(&self) -> Result<()> {
        let Some(deadline) = self.unchecked else {
            return Ok(());
        };
        let started = Instant::now();
        let result = check_image(
            self.kind,
            &self.bytes,
            &self.limits,
            &deadline,
            &self.decodes,
        );
        // Outcome, type and sizes only, as for `sanitize`.
        match &result {
            Ok(()) => tracing::debug!(
                kind = %self.kind,
                output_bytes = self.bytes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload checked"
            ),
            Err(e) => tracing::debug!(
                rule = e.rule(),
                output_bytes = self.bytes.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "upload rejected"
            ),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, Barrier, Mutex, PoisonError};
    use std::thread;
    use std::time::Duration;

    use super::*;
    use crate::raster::tests::PEAK;

    /// The decode counter is global: tests in this module that decode run one at a time.
    static DECODING_TESTS: Mutex<()> = Mutex::new(());

    fn png(side: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(side, side, |x, y| {
            image::Rgb([(x * 7 + y) as u8, (x ^ y) as u8, (x * y) as u8])
        });
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn a_burst_of_uploads_never_decodes_more_than_the_permits_at_once() {
        let _alone = DECODING_TESTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let permits = 2;
        let sanitizer =
            Sanitizer::new().with_limits(Limits::default().with_max_concurrent_decodes(permits));
        let file = Arc::new(png(600));
        let threads = 8;
        let start = Arc::new(Barrier::new(threads));
        PEAK.store(0, Ordering::SeqCst);
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (sanitizer, file, start) = (sanitizer.clone(), file.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    for _ in 0..3 {
                        sanitizer.sanitize("burst.png", &file).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let peak = PEAK.load(Ordering::SeqCst);
        assert!((1..=permits).contains(&peak), "{peak} decodes at once");
    }

    #[test]
    fn waiting_for_a_permit_counts_against_the_image_time() {
        let _alone = DECODING_TESTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let limits = Limits::default()
            .with_max_concurrent_decodes(1)
            .with_max_image_time(Duration::from_millis(50));
        let sanitizer = Sanitizer::new().with_limits(limits);
        let forever = Deadline::new(Instant::now(), Duration::from_secs(60));
        let held = sanitizer
            .decodes
            .acquire(forever, || forever.exceeded())
            .unwrap();
        let err = sanitizer.sanitize("p.png", &png(8)).unwrap_err();
        assert_eq!(err.rule(), "limit.image_time", "{err}");
        drop(held);
        assert!(sanitizer.sanitize("p.png", &png(8)).is_ok());
    }
}
