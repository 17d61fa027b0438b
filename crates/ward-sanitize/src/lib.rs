//! Upload validation and metadata removal for files a clinic can trust.
//!
//! Clinicians photograph wounds and scan consent forms; those files carry GPS positions,
//! device serials, author names and edit histories. `ward-sanitize` decides whether a file is
//! what it claims to be, and removes everything but the picture or the document.
//!
//! It deliberately knows no cryptography and no storage: it takes bytes and returns bytes.
//!
//! # What it does
//!
//! - **Validation.** JPEG, PNG, WebP and PDF only. The extension ([`kind_from_name`]),
//!   the magic bytes ([`sniff_kind`]) and a real parse must agree, else an [`Error`] naming
//!   the failed rule ([`Error::rule`]). Every bound is in [`Limits`]. The real parse of PNG
//!   and WebP is a full pixel decode (the first frame of an animation); of a PDF, loading its
//!   object graph; of a JPEG, the check below.
//! - **The JPEG check.** zune-jpeg reads the headers in strict mode (frame, tables, component
//!   count against the colour space). A sequential JPEG (baseline or extended Huffman, the
//!   kind cameras and phones write) is then walked by the crate's own entropy decoder, which
//!   computes no pixels but refuses:
//!   a code that is in no Huffman table, and a table with more codes than fit (libjpeg's rule);
//!   a DC or AC magnitude beyond 8-bit range and a coefficient past the end of its block;
//!   scan data that ends before the last block of the last MCU, or goes on after it;
//!   a restart marker missing or out of sequence; a component in no scan or in two.
//!   A progressive JPEG is decoded by zune-jpeg in strict mode (every coefficient of every
//!   component, to luma or in its own colour space, so without colour conversion), which
//!   refuses a code in no table and a marker where scan data should be; it pads scan data that
//!   ends early with zero bits, as libjpeg does. Neither can see damage that still forms valid
//!   codes (JPEG carries no checksum), and both are stricter than the decoder that makes
//!   pixels for an orientation fix, which logs such faults and returns grey pixels.
//! - **Images, losslessly.** JPEG keeps, by allow-list, only frame headers, tables, the restart
//!   interval, scans, JFIF (without its thumbnail), the ICC profile (cut to its declared size)
//!   and the 12-byte Adobe segment, and drops every other segment, known or not; PNG keeps
//!   critical, colour and APNG chunks with valid CRCs, drops colour chunks of the wrong size or
//!   values, and refuses image data that is not one complete zlib stream, checksum included, of
//!   exactly the image's size; WebP keeps only `VP8X`, `ICCP`, `ANIM`, `ANMF` (rewritten
//!   without unknown sub-chunks), `ALPH`, `VP8 ` and `VP8L`, cut to their real lengths, and
//!   rewrites the VP8X flags and RIFF size to match. The image data is copied byte for byte, so
//!   decoded pixels are identical. Only when EXIF says the picture is rotated or mirrored are
//!   the pixels decoded, turned upright and encoded again (JPEG at quality 92, PNG and WebP
//!   losslessly), and the [`Report`] says so.
//! - **PDF.** Written out as a fresh file without the Info dictionary, XMP streams,
//!   `/PieceInfo`, page metadata, the authors, dates and comment text of annotations (form
//!   field names and the text a FreeText annotation without an appearance shows are kept), or
//!   the signer's name, place, contact, reason, time, application and certificate (the PKCS#7
//!   `/Contents`) in signature dictionaries: the rewrite invalidates a signature anyway, and
//!   the file still shows it was signed, not by whom. Active content is rejected, or
//!   removed under [`ActiveContentPolicy::Remove`], with action types and `/Type` names
//!   resolved through indirect objects as viewers resolve them; encrypted PDFs are rejected
//!   before parsing. JPEG images inside (`/DCTDecode` streams) go through the same JPEG
//!   stripper as uploaded photos: EXIF, GPS and XMP go, the scan data is copied unchanged, and
//!   a JPEG that does not parse, or one under a further filter, refuses the file
//!   ([`Error::PdfImage`]). Other images (raw or deflated pixels, CCITT, JBIG2, JPEG 2000)
//!   are kept as they are.
//! - **Names.** [`display_name`] makes an uploaded name safe to show. Storage names must never
//!   come from it.
//! - **HEIC/HEIF** (feature `heic`, off by default; refused as an unsupported type without
//!   it). ward's own reader of the HEIF boxes rebuilds the file from an allow-list: the
//!   primary image, its tiles, and its thumbnails and auxiliary images (alpha, depth) that no
//!   metadata item describes, with the properties a decoder needs (`hvcC`, `ispe`, `colr`,
//!   `irot`/`imir`, where HEIF keeps orientation, …); the `Exif`, XMP and IPTC items, item
//!   names, unknown properties and other boxes go. The coded image data is copied byte for
//!   byte, every offset written anew, nothing re-encoded. The content check is libheif's
//!   decode of the primary image (every tile of a grid) under ward's pixel and memory limits,
//!   after `ispe` has passed [`Limits::max_pixels`]. libheif and libde265 are LGPL-3.0: the
//!   crate's README says what that asks of a build that links them.
//!
//! # Bounds
//!
//! Never a panic, never a hang. The container parsers are linear walks with bounds-checked
//! reads; a panic inside a third-party decoder is caught and becomes a parse error. Images are
//! decoded only after the header's dimensions pass [`Limits::max_pixels`], with allocation capped
//! at 512 MiB: on the reference machine (2 cores) a 49-megapixel PNG takes 0.1 s; the JPEG
//! check of a 12-megapixel photo (5.3 MB) allocates nothing the size of the picture and takes
//! about 30 ms, so a whole `sanitize` of it costs 0.33 to 0.41 times the CPU time of
//! `exiftool -all=` (`docs/performance.md`). Only the first frame of an animation is decoded,
//! but every frame's size and position is checked first, against [`Limits::max_pixels`] and
//! the canvas ([`LimitRule::FrameOutsideCanvas`]).
//!
//! An image must be cleaned within [`Limits::max_image_time`] (10 s), checked between steps and
//! inside the container walks. Decoding holds one of [`Limits::max_concurrent_decodes`] permits
//! (default: the number of CPUs) shared by a [`Sanitizer`] and its clones, and so does loading a
//! PDF; other uploads wait within their time limit. Decoding memory is therefore bounded by
//! permits × 512 MiB (for example 1 GiB on the 2-core reference machine), however many uploads
//! arrive at once, as long as the service shares one sanitizer.
//!
//! PDFs are bounded before and while lopdf parses them, because lopdf builds a whole object
//! (120 bytes per array element) before any hook sees it:
//!
//! - a file that names `/Encrypt` anywhere is refused before lopdf reads it;
//! - the object syntax is weighed first ([`Limits::max_pdf_weight`]): every object after an
//!   `obj` keyword and every trailer, wherever it sits, and every object stream inflated and
//!   weighed member by member, repeated offsets included, within
//!   [`Limits::max_pdf_stream_bytes`] per stream and [`Limits::max_pdf_inflated_bytes`] in all;
//! - while lopdf loads, the objects kept are counted ([`Limits::max_pdf_objects`]) and weighed
//!   again, and the load is stopped at the first one over, or past [`Limits::max_pdf_time`],
//!   which also bounds cleaning, writing and the check of the written file.
//!
//! Measured with the defaults (peak resident memory of a whole test process, in
//! `tests/pdf_bounds.rs`): the bombs of the 2026-12 review (a 31 KB object stream holding a
//! 16-million-element array, ten of them, the same under `/Encrypt`, a 9 MiB array, members
//! repeated 10,000 times, 70 MiB of inflation) are refused with a [`LimitRule`] (or
//! [`Error::Encrypted`]) at under 16 MiB; a file just under the weight limit is cleaned at
//! about 160 MiB, which is the bound for any PDF the defaults accept.
//!
//! **Built with `panic = "abort"`?** Two of these bounds rely on unwinding: a panic inside a
//! third-party decoder is caught and becomes a parse error, and the load-time budget stops
//! lopdf by unwinding out of its filter. Under `panic = "abort"` either event ends the process
//! instead. The byte-level checks before lopdf runs (`/Encrypt`, weight, inflation) still refuse
//! the review's bombs with a typed error, so such a consumer loses the second line of defence,
//! not the first; run the sanitizer in a worker process if you build that way.
//!
//! # Security promises
//!
//! Errors and logs carry rule names, types, sizes and counts, never file names, metadata values
//! or content. The [`Report`] lists categories and byte counts, never values.
//!
//! # Map
//!
//! - [`Sanitizer`] → [`Sanitized`] (bytes + [`Report`] of [`Removed`] [`Category`]s)
//! - [`Sanitizer::stage`] → [`Staged`]: the same output before an image's content check, which
//!   [`Staged::check`] runs later on another thread (for a caller that stores the output
//!   meanwhile where nothing can read it, as ward-domain's upload does)
//! - [`Limits`], [`ActiveContentPolicy`]
//! - [`Error`] with [`NameRule`], [`LimitRule`], [`ActiveContent`]
//! - [`display_name`]
//!
//! # Features
//!
//! - `heic`: accept HEIC/HEIF photos. Builds libheif 1.23 from the sources bundled in
//!   `libheif-sys` with cmake, and links the system's libde265 (Debian `libde265-dev`).
//!
//! # Example
//!
//! ```
//! use ward_sanitize::{Error, Sanitizer};
//!
//! let sanitizer = Sanitizer::new();
//! // A PNG's bytes uploaded under a `.jpg` name: the checks disagree.
//! let err = sanitizer.sanitize("photo.jpg", b"\x89PNG\r\n\x1a\n....").unwrap_err();
//! assert_eq!(err.rule(), "mismatch");
//! assert_eq!(err.to_string(), "extension says jpeg but the content is png");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod exif;
mod filename;
#[cfg(feature = "heic")]
mod heic;
#[cfg(feature = "heic")]
mod heif_box;
mod jpeg;
mod jpeg_scan;
mod kind;
mod limits;
mod pdf;
mod pdf_scan;
mod permits;
mod png;
mod raster;
mod report;
mod sanitizer;
mod webp;

pub use error::{ActiveContent, Error, LimitRule, NameRule, Result};
pub use filename::{MAX_DISPLAY_NAME_BYTES, display_name};
pub use kind::{FileKind, kind_from_name, sniff_kind};
pub use limits::Limits;
pub use pdf::ActiveContentPolicy;
pub use report::{Category, Removed, Report};
pub use sanitizer::{Sanitized, Sanitizer, Staged};
pub use ward_types::Fault;
