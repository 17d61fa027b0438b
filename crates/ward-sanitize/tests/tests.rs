//! ward-sanitize integration tests: one binary, one module per area.

/// Builders for synthetic inputs (images with planted metadata, PDFs) and independent checks.
mod common;
/// The real-file corpus under `tests/corpus/`, with exiftool and a second decoder as judges.
mod corpus;
/// Display-name rules.
mod filename;
/// HEIC/HEIF (feature `heic`): metadata items removed, pixels identical, hostile containers.
#[cfg(feature = "heic")]
mod heic;
/// JPEG segment removal, pixels identical, orientation.
mod jpeg;
/// Log output during cleaning and refusals carries no canary from names, metadata or content.
mod logs;
/// Proptest-driven mutation fuzzing of every parser: never a panic, outputs re-validate.
mod mutation;
/// PDF metadata and active content.
mod pdf;
/// PDF bombs cleaned in a child process: typed limit errors and the measured peak memory.
mod pdf_bounds;
/// Images inside PDFs: JPEG image streams cleaned, pixels kept, uncleanable ones refused.
mod pdf_images;
/// Cleaned PDFs (the corpus, a scanned image) judged by `qpdf --check`.
mod pdf_qpdf;
/// Cleaned PNG, WebP and JPEG files judged by Pillow: each opens and fully loads.
mod pillow;
/// PNG chunk removal, APNG, text limits.
mod png;
/// `Sanitizer::stage` and `Staged::check`: the same output, refusals and limits as `sanitize`.
mod staged;
/// The three-way validation and every limit at its boundary.
mod validation;
/// WebP chunk removal, VP8X flags, RIFF size.
mod webp;
