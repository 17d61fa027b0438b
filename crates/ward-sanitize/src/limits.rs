//! [`Limits`]: every size and count bound applied to an upload, in one place.

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
    max_png_text_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_pdf_pages: 1_000,
            max_pdf_objects: 100_000,
            max_pdf_stream_bytes: 32 * 1024 * 1024,
            max_png_text_bytes: 1024 * 1024,
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
    /// (default 32 MiB).
    pub fn max_pdf_stream_bytes(&self) -> usize {
        self.max_pdf_stream_bytes
    }

    /// Most bytes all PNG text chunks together may hold once inflated (default 1 MiB).
    pub fn max_png_text_bytes(&self) -> u64 {
        self.max_png_text_bytes
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

    /// Sets [`max_png_text_bytes`](Self::max_png_text_bytes).
    pub fn with_max_png_text_bytes(mut self, bytes: u64) -> Self {
        self.max_png_text_bytes = bytes;
        self
    }
}
