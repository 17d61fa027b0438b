//! [`Limits`]: every size, count and time bound applied to an upload, in one place.

use std::time::Duration;

use crate::error::{Error, LimitRule, Result};

/// Bounds applied while reading, parsing and decoding an upload.
///
/// The defaults suit clinical photos and scanned forms; each bound is checked at its edge by
/// the crate's tests. A file exactly at a limit is accepted; one unit over is rejected.
///
/// ```
/// use ward_sanitize::Limits;
/// let limits = Limits::default().with_max_file_bytes(2 * 1024 * 1024);
/// assert_eq!(limits.max_file_bytes(), 2 * 1024 * 1024);
/// assert_eq!(limits.max_pixels(), 50_000_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    max_file_bytes: u64,
    max_pixels: u64,
    max_pdf_pages: usize,
    max_pdf_objects: usize,
    max_pdf_stream_bytes: usize,
    max_pdf_inflated_bytes: usize,
    max_pdf_weight: u64,
    max_pdf_time: Duration,
    max_png_text_bytes: u64,
    max_image_time: Duration,
    max_concurrent_decodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_pdf_pages: 1_000,
            max_pdf_objects: 100_000,
            max_pdf_stream_bytes: 4 * 1024 * 1024,
            max_pdf_inflated_bytes: 64 * 1024 * 1024,
            max_pdf_weight: 500_000,
            max_pdf_time: Duration::from_secs(10),
            max_png_text_bytes: 1024 * 1024,
            max_image_time: Duration::from_secs(10),
            max_concurrent_decodes: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Limits {
    /// The defaults (same as [`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest accepted upload in bytes (default 10 MiB). Enforced while reading a stream:
    /// never more than this plus one byte is read.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_bytes
    }

    /// Largest accepted width × height (default 50,000,000); each side must also be above 0.
    pub fn max_pixels(&self) -> u64 {
        self.max_pixels
    }

    /// Most pages a PDF may have (default 1,000); the least is always 1.
    pub fn max_pdf_pages(&self) -> usize {
        self.max_pdf_pages
    }

    /// Most indirect objects a PDF may have (default 100,000).
    pub fn max_pdf_objects(&self) -> usize {
        self.max_pdf_objects
    }

    /// Most bytes a single PDF object or cross-reference stream may inflate to while loading
    /// (default 4 MiB; real ones hold a few hundred objects or entries and stay far below).
    pub fn max_pdf_stream_bytes(&self) -> usize {
        self.max_pdf_stream_bytes
    }

    /// Most bytes all of a PDF's object streams together may inflate to while loading
    /// (default 64 MiB), so many streams each under
    /// [`max_pdf_stream_bytes`](Self::max_pdf_stream_bytes) cannot add up.
    pub fn max_pdf_inflated_bytes(&self) -> usize {
        self.max_pdf_inflated_bytes
    }

    /// Most *weight* the PDF parser may build (default 500,000): one unit per object (array
    /// element, dictionary value, number, name…), per dictionary key and per 128 bytes of
    /// string, name or (for the objects kept) stream data, counted recursively.
    ///
    /// It is checked twice, each time against the whole budget: on the syntax before lopdf
    /// parses it (the file's objects and, twice, every object stream's members, repeated
    /// offsets included) and on the objects lopdf keeps. A unit costs lopdf about 120 to 150
    /// bytes; a file just under the default is cleaned at a peak of about 160 MiB. For scale,
    /// a 260 KB pdfLaTeX manual weighs about 13,000.
    pub fn max_pdf_weight(&self) -> u64 {
        self.max_pdf_weight
    }

    /// Longest a PDF may take to load, clean, write and check (default 10 s), measured on the
    /// wall clock from the start of its cleaning. It is checked between objects and every
    /// thousand dictionaries, so one step may overrun it; each step is bounded by the weight
    /// and inflation limits.
    pub fn max_pdf_time(&self) -> Duration {
        self.max_pdf_time
    }

    /// Most bytes all PNG text chunks together may hold once inflated (default 1 MiB).
    pub fn max_png_text_bytes(&self) -> u64 {
        self.max_png_text_bytes
    }

    /// Longest an image may take to validate and clean (default 10 s), on the wall clock from
    /// the start of [`Sanitizer::sanitize`](crate::Sanitizer::sanitize), waiting for a decode
    /// permit included. It is checked between steps and inside the container walks; one decode
    /// or encode is not interrupted, and is bounded by [`max_pixels`](Self::max_pixels) instead
    /// (a 49-megapixel PNG decodes in about 0.1 s on the reference machine). The default leaves
    /// room for a burst of uploads queued behind the decode permits.
    pub fn max_image_time(&self) -> Duration {
        self.max_image_time
    }

    /// Most decodes one [`Sanitizer`](crate::Sanitizer) and its clones run at once (default:
    /// the number of CPUs, at least 1). Decoding an image (up to 512 MiB of pixels) or loading a
    /// PDF (about 160 MiB at the default limits) holds a permit; further uploads wait, within
    /// their own time limit, so a burst of uploads needs at most this many times 512 MiB for
    /// decoding, however many arrive together.
    pub fn max_concurrent_decodes(&self) -> usize {
        self.max_concurrent_decodes
    }

    /// Sets [`max_file_bytes`](Self::max_file_bytes).
    pub fn with_max_file_bytes(mut self, bytes: u64) -> Self {
        self.max_file_bytes = bytes;
        self
    }

    /// Sets [`max_pixels`](Self::max_pixels).
    pub fn with_max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }

    /// Sets [`max_pdf_pages`](Self::max_pdf_pages).
    pub fn with_max_pdf_pages(mut self, pages: usize) -> Self {
        self.max_pdf_pages = pages;
        self
    }

    /// Sets [`max_pdf_objects`](Self::max_pdf_objects).
    pub fn with_max_pdf_objects(mut self, objects: usize) -> Self {
        self.max_pdf_objects = objects;
        self
    }

    /// Sets [`max_pdf_stream_bytes`](Self::max_pdf_stream_bytes).
    pub fn with_max_pdf_stream_bytes(mut self, bytes: usize) -> Self {
        self.max_pdf_stream_bytes = bytes;
        self
    }

    /// Sets [`max_pdf_inflated_bytes`](Self::max_pdf_inflated_bytes).
    pub fn with_max_pdf_inflated_bytes(mut self, bytes: usize) -> Self {
        self.max_pdf_inflated_bytes = bytes;
        self
    }

    /// Sets [`max_pdf_weight`](Self::max_pdf_weight).
    pub fn with_max_pdf_weight(mut self, weight: u64) -> Self {
        self.max_pdf_weight = weight;
        self
    }

    /// Sets [`max_pdf_time`](Self::max_pdf_time).
    pub fn with_max_pdf_time(mut self, time: Duration) -> Self {
        self.max_pdf_time = time;
        self
    }

    /// Sets [`max_image_time`](Self::max_image_time).
    pub fn with_max_image_time(mut self, time: Duration) -> Self {
        self.max_image_time = time;
        self
    }

    /// Sets [`max_concurrent_decodes`](Self::max_concurrent_decodes); 0 counts as 1.
    pub fn with_max_concurrent_decodes(mut self, decodes: usize) -> Self {
        self.max_concurrent_decodes = decodes.max(1);
        self
    }

    /// Sets [`max_png_text_bytes`](Self::max_png_text_bytes).
    pub fn with_max_png_text_bytes(mut self, bytes: u64) -> Self {
        self.max_png_text_bytes = bytes;
        self
    }
}

/// An animation frame of `width` × `height` at (`x`, `y`): within the pixel limits like any
/// image, and inside the `canvas`.
pub(crate) fn check_frame(
    frame: u32,
    (x, y, width, height): (u32, u32, u32, u32),
    canvas: (u32, u32),
    limits: &Limits,
) -> Result<()> {
    check_dimensions(width, height, limits)?;
    let right = u64::from(x) + u64::from(width);
    let bottom = u64::from(y) + u64::from(height);
    if right > u64::from(canvas.0) || bottom > u64::from(canvas.1) {
        return Err(Error::Limit(LimitRule::FrameOutsideCanvas { frame }));
    }
    Ok(())
}

/// Each side above 0 and width × height within [`Limits::max_pixels`].
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::Limit(LimitRule::ZeroDimension));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels() {
        return Err(Error::Limit(LimitRule::Pixels {
            pixels,
            limit: limits.max_pixels(),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_decodes_are_as_set_and_never_zero() {
        let limits = Limits::default().with_max_concurrent_decodes(3);
        assert_eq!(limits.max_concurrent_decodes(), 3);
        assert_eq!(
            Limits::default()
                .with_max_concurrent_decodes(0)
                .max_concurrent_decodes(),
            1
        );
    }
}
