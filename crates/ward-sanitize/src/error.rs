//! The crate's one error type: every rejection names the rule that failed, never the file's content.

use std::fmt;
use std::time::Duration;

use ward_types::Fault;

use crate::kind::FileKind;

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a file was rejected or could not be cleaned.
///
/// Messages are lowercase, name the failed rule and never contain the file's bytes, metadata
/// values or name, so they are safe to log and to show to the uploader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The uploaded name failed the extension rule.
    #[error("file name rejected: {reason}")]
    Name {
        /// Which part of the extension rule failed.
        reason: NameRule,
    },
    /// The content is a type ward does not accept (GIF, TIFF, HEIC, unknown bytes…).
    #[error("unsupported file type: {detected}")]
    UnsupportedType {
        /// What the magic bytes look like, or `"unknown"`.
        detected: &'static str,
    },
    /// The extension and the magic bytes name different accepted types.
    #[error("extension says {extension} but the content is {content}")]
    Mismatch {
        /// The type the extension claims.
        extension: FileKind,
        /// The type the magic bytes show.
        content: FileKind,
    },
    /// A limit from [`Limits`](crate::Limits) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(LimitRule),
    /// The real parse failed: the file is damaged or hostile.
    #[error("malformed {kind}: {reason}")]
    Malformed {
        /// The type being parsed.
        kind: FileKind,
        /// Which structural rule was broken (a fixed phrase, never file content).
        reason: &'static str,
        /// The decoder's own error, when a library decoder failed.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The file is a legitimate variant of its type that the decoder cannot read, so ward cannot
    /// check it or promise that what it emits opens elsewhere (arithmetic-coded or 12-bit JPEG…).
    #[error("unsupported {kind} variant: {variant}")]
    UnsupportedVariant {
        /// The type.
        kind: FileKind,
        /// Which variant (a fixed phrase, never file content).
        variant: &'static str,
    },
    /// The PDF holds active content and the policy is [`ActiveContentPolicy::Reject`](crate::ActiveContentPolicy::Reject).
    #[error("pdf holds active content: {0}")]
    ActiveContent(ActiveContent),
    /// The PDF is encrypted; encrypted PDFs are never accepted.
    #[error("pdf is encrypted")]
    Encrypted,
    /// The PDF holds an image whose metadata cannot be removed, so the file is refused rather
    /// than passed on with it: a JPEG (`DCTDecode`) stored under a further filter.
    #[error("pdf holds an image that cannot be cleaned: {reason}")]
    PdfImage {
        /// Why the image cannot be cleaned (a fixed phrase, never file content).
        reason: &'static str,
    },
    /// The EXIF orientation asks for a rotation that cannot be applied to this file (an animation).
    #[error("cannot apply the exif orientation to an animated {kind}")]
    OrientationUnsupported {
        /// The animated type.
        kind: FileKind,
    },
    /// Reading the upload failed.
    #[error("could not read the upload")]
    Io {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing the cleaned file failed (an internal fault, not the uploader's).
    #[error("could not write the cleaned {kind}")]
    Encode {
        /// The type being written.
        kind: FileKind,
        /// The encoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// A short stable identifier of the failed rule, for metrics and API error codes
    /// (`"extension"`, `"magic"`, `"mismatch"`, `"limit.file_size"`, `"parse"`, …).
    pub fn rule(&self) -> &'static str {
        match self {
            Self::Name { .. } => "extension",
            Self::UnsupportedType { .. } => "magic",
            Self::Mismatch { .. } => "mismatch",
            Self::Limit(rule) => rule.id(),
            Self::Malformed { .. } => "parse",
            Self::UnsupportedVariant { .. } => "unsupported_variant",
            Self::ActiveContent(_) => "pdf.active_content",
            Self::Encrypted => "pdf.encrypted",
            Self::PdfImage { .. } => "pdf.image",
            Self::OrientationUnsupported { .. } => "orientation",
            Self::Io { .. } => "io",
            Self::Encode { .. } => "encode",
        }
    }

    /// Whose fault this error is, for mapping it to a response.
    ///
    /// | variant | fault | why |
    /// |---|---|---|
    /// | `Name`, `UnsupportedType`, `Mismatch` | `ClientInput` | the upload is not an accepted type (a service may answer 415 for `UnsupportedType`) |
    /// | `Limit` of file size, pixels, PDF pages, objects, streams, inflated bytes, weight or time, PNG text, image time | `Limit` | the upload is too large or too costly to check |
    /// | `Limit` of an empty file, a zero dimension or a frame outside the canvas | `ClientInput` | the upload is broken rather than too big |
    /// | `Malformed`, `UnsupportedVariant`, `ActiveContent`, `Encrypted`, `PdfImage`, `OrientationUnsupported` | `ClientInput` | the upload is damaged, hostile or of a variant ward refuses |
    /// | `Io` | `Server` | reading the upload failed below ward (as before, not counted as the uploader's fault) |
    /// | `Encode` | `Server` | writing the cleaned file failed: ward's fault |
    ///
    /// ```
    /// use ward_sanitize::{Error, Fault};
    ///
    /// assert_eq!(Error::Encrypted.fault(), Fault::ClientInput);
    /// ```
    pub fn fault(&self) -> Fault {
        match self {
            Self::Name { .. }
            | Self::UnsupportedType { .. }
            | Self::Mismatch { .. }
            | Self::Malformed { .. }
            | Self::UnsupportedVariant { .. }
            | Self::ActiveContent(_)
            | Self::Encrypted
            | Self::PdfImage { .. }
            | Self::OrientationUnsupported { .. } => Fault::ClientInput,
            Self::Limit(rule) => rule.fault(),
            Self::Io { .. } | Self::Encode { .. } => Fault::Server,
        }
    }

    /// Whether the uploader is at fault (bad input), as opposed to an I/O or encoder fault:
    /// [`fault`](Self::fault) is one of the client classes.
    pub fn is_client_fault(&self) -> bool {
        self.fault().is_client_fault()
    }

    pub(crate) fn malformed(kind: FileKind, reason: &'static str) -> Self {
        Self::Malformed {
            kind,
            reason,
            source: None,
        }
    }

    pub(crate) fn decoder(
        kind: FileKind,
        reason: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Malformed {
            kind,
            reason,
            source: Some(Box::new(source)),
        }
    }
}

/// The part of the extension rule a name failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameRule {
    /// The name holds a NUL or another control character.
    ControlCharacter,
    /// The last path component has no extension.
    NoExtension,
    /// The extension is not one of `jpg`, `jpeg`, `png`, `webp`, `pdf` (nor, with the `heic`
    /// feature, `heic` or `heif`).
    NotAllowed,
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ControlCharacter => "it contains a control character",
            Self::NoExtension => "it has no extension",
            Self::NotAllowed => "the extension is not an accepted type",
        })
    }
}

/// A limit that was exceeded; the figures are sizes and counts, never content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitRule {
    /// The upload is larger than [`Limits::max_file_bytes`](crate::Limits::max_file_bytes).
    FileSize {
        /// The limit in bytes.
        limit: u64,
    },
    /// The file is empty.
    Empty,
    /// Width or height is zero.
    ZeroDimension,
    /// Width × height is above [`Limits::max_pixels`](crate::Limits::max_pixels).
    Pixels {
        /// Width × height of the image.
        pixels: u64,
        /// The limit.
        limit: u64,
    },
    /// The PDF has no page or more than [`Limits::max_pdf_pages`](crate::Limits::max_pdf_pages).
    PdfPages {
        /// Pages found.
        pages: usize,
        /// The upper limit (the lower one is always 1).
        limit: usize,
    },
    /// The PDF has more objects than [`Limits::max_pdf_objects`](crate::Limits::max_pdf_objects).
    PdfObjects {
        /// The limit.
        limit: usize,
    },
    /// A PDF object or cross-reference stream inflates to more than
    /// [`Limits::max_pdf_stream_bytes`](crate::Limits::max_pdf_stream_bytes).
    PdfStream {
        /// The limit in bytes.
        limit: usize,
    },
    /// A PDF's object streams together inflate to more than
    /// [`Limits::max_pdf_inflated_bytes`](crate::Limits::max_pdf_inflated_bytes).
    PdfInflated {
        /// The limit in bytes.
        limit: usize,
    },
    /// Parsing the PDF would build more than
    /// [`Limits::max_pdf_weight`](crate::Limits::max_pdf_weight) objects, entries and string
    /// bytes.
    PdfWeight {
        /// The limit in weight units.
        limit: u64,
    },
    /// Cleaning the PDF took longer than [`Limits::max_pdf_time`](crate::Limits::max_pdf_time).
    PdfTime {
        /// The limit.
        limit: Duration,
    },
    /// PNG text chunks decompress to more than [`Limits::max_png_text_bytes`](crate::Limits::max_png_text_bytes).
    PngText {
        /// The limit in bytes.
        limit: u64,
    },
    /// Cleaning an image took longer than
    /// [`Limits::max_image_time`](crate::Limits::max_image_time), waiting for a decode permit
    /// included.
    ImageTime {
        /// The limit.
        limit: Duration,
    },
    /// An animation frame (APNG `fcTL`, WebP `ANMF`) reaches outside the canvas.
    FrameOutsideCanvas {
        /// The frame's position in the file, from 0.
        frame: u32,
    },
}

impl LimitRule {
    /// `Limit` for a bound the upload exceeds; `ClientInput` for an empty or broken upload.
    fn fault(&self) -> Fault {
        match self {
            Self::FileSize { .. }
            | Self::Pixels { .. }
            | Self::PdfPages { .. }
            | Self::PdfObjects { .. }
            | Self::PdfStream { .. }
            | Self::PdfInflated { .. }
            | Self::PdfWeight { .. }
            | Self::PdfTime { .. }
            | Self::PngText { .. }
            | Self::ImageTime { .. } => Fault::Limit,
            Self::Empty | Self::ZeroDimension | Self::FrameOutsideCanvas { .. } => {
                Fault::ClientInput
            }
        }
    }

    fn id(&self) -> &'static str {
        match self {
            Self::FileSize { .. } => "limit.file_size",
            Self::Empty => "limit.empty",
            Self::ZeroDimension => "limit.zero_dimension",
            Self::Pixels { .. } => "limit.pixels",
            Self::PdfPages { .. } => "limit.pdf_pages",
            Self::PdfObjects { .. } => "limit.pdf_objects",
            Self::PdfStream { .. } => "limit.pdf_stream",
            Self::PdfInflated { .. } => "limit.pdf_inflated",
            Self::PdfWeight { .. } => "limit.pdf_weight",
            Self::PdfTime { .. } => "limit.pdf_time",
            Self::PngText { .. } => "limit.png_text",
            Self::FrameOutsideCanvas { .. } => "limit.frame_outside_canvas",
            Self::ImageTime { .. } => "limit.image_time",
        }
    }
}

impl fmt::Display for LimitRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FileSize { limit } => write!(f, "file is larger than {limit} bytes"),
            Self::Empty => f.write_str("file is empty"),
            Self::ZeroDimension => f.write_str("image width or height is zero"),
            Self::Pixels { pixels, limit } => {
                write!(f, "image has {pixels} pixels, more than {limit}")
            }
            Self::PdfPages { pages, limit } => {
                write!(f, "pdf has {pages} pages, outside 1 to {limit}")
            }
            Self::PdfObjects { limit } => write!(f, "pdf has more than {limit} objects"),
            Self::PdfStream { limit } => {
                write!(f, "a pdf object stream inflates to more than {limit} bytes")
            }
            Self::PdfInflated { limit } => {
                write!(
                    f,
                    "pdf object streams inflate to more than {limit} bytes in all"
                )
            }
            Self::PdfWeight { limit } => {
                write!(f, "pdf objects weigh more than {limit} units")
            }
            Self::PdfTime { limit } => {
                write!(f, "pdf took longer than {} ms to clean", limit.as_millis())
            }
            Self::PngText { limit } => {
                write!(f, "png text chunks decompress to more than {limit} bytes")
            }
            Self::ImageTime { limit } => {
                write!(
                    f,
                    "image took longer than {} ms to clean",
                    limit.as_millis()
                )
            }
            Self::FrameOutsideCanvas { frame } => {
                write!(f, "animation frame {frame} reaches outside the canvas")
            }
        }
    }
}

/// The kind of active content found in a PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum ActiveContent {
    /// A JavaScript action, the document-level JavaScript name tree, a `/URI` action whose URI
    /// is `javascript:` (or `vbscript:`), or a 3D stream's `/OnInstantiate` script.
    JavaScript,
    /// An `/OpenAction` that is an action (a plain destination is allowed).
    OpenAction,
    /// An `/AA` additional-actions dictionary.
    AdditionalActions,
    /// A `/Launch` action.
    Launch,
    /// A remote or embedded go-to (`/GoToR`, `/GoToE`).
    RemoteGoTo,
    /// A form submission or data import action (`/SubmitForm`, `/ImportData`).
    FormAction,
    /// Embedded files (the `/EmbeddedFiles` name tree, `/EF` file specifications, file streams).
    EmbeddedFile,
    /// An XFA form.
    Xfa,
    /// RichMedia content (`/RichMediaContent`, `/RichMediaSettings`: Flash, video or 3D run by
    /// the viewer) or a `/RichMediaExecute` action that drives it.
    RichMedia,
}

impl fmt::Display for ActiveContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::JavaScript => "javascript",
            Self::OpenAction => "an open action",
            Self::AdditionalActions => "additional actions (/AA)",
            Self::Launch => "a launch action",
            Self::RemoteGoTo => "a remote go-to action",
            Self::FormAction => "a form submit or import action",
            Self::EmbeddedFile => "an embedded file",
            Self::Xfa => "an xfa form",
            Self::RichMedia => "rich media content or a rich media action",
        })
    }
}

#[cfg(test)]
mod fault_tests {
    use super::*;

    /// One error of every variant (and every limit), each with the fault it must have. The
    /// matches have no wildcard, so a new variant does not compile until it is classified here.
    #[test]
    fn every_variant_is_classified() {
        let limits = [
            LimitRule::FileSize { limit: 1 },
            LimitRule::Empty,
            LimitRule::ZeroDimension,
            LimitRule::Pixels {
                pixels: 2,
                limit: 1,
            },
            LimitRule::PdfPages { pages: 2, limit: 1 },
            LimitRule::PdfObjects { limit: 1 },
            LimitRule::PdfStream { limit: 1 },
            LimitRule::PdfInflated { limit: 1 },
            LimitRule::PdfWeight { limit: 1 },
            LimitRule::PdfTime {
                limit: Duration::from_secs(1),
            },
            LimitRule::PngText { limit: 1 },
            LimitRule::ImageTime {
                limit: Duration::from_secs(1),
            },
            LimitRule::FrameOutsideCanvas { frame: 0 },
        ];
        let mut examples: Vec<Error> = limits.into_iter().map(Error::Limit).collect();
        examples.extend([
            Error::Name {
                reason: NameRule::NotAllowed,
            },
            Error::UnsupportedType { detected: "gif" },
            Error::Mismatch {
                extension: FileKind::Png,
                content: FileKind::Jpeg,
            },
            Error::malformed(FileKind::Pdf, "bad"),
            Error::UnsupportedVariant {
                kind: FileKind::Jpeg,
                variant: "12-bit",
            },
            Error::ActiveContent(ActiveContent::JavaScript),
            Error::Encrypted,
            Error::PdfImage { reason: "filter" },
            Error::OrientationUnsupported {
                kind: FileKind::Webp,
            },
            Error::Io {
                source: std::io::Error::other("reset"),
            },
            Error::Encode {
                kind: FileKind::Png,
                source: "encoder".into(),
            },
        ]);
        for error in examples {
            let expected = match &error {
                Error::Name { .. }
                | Error::UnsupportedType { .. }
                | Error::Mismatch { .. }
                | Error::Malformed { .. }
                | Error::UnsupportedVariant { .. }
                | Error::ActiveContent(_)
                | Error::Encrypted
                | Error::PdfImage { .. }
                | Error::OrientationUnsupported { .. } => Fault::ClientInput,
                Error::Limit(rule) => match rule {
                    LimitRule::FileSize { .. }
                    | LimitRule::Pixels { .. }
                    | LimitRule::PdfPages { .. }
                    | LimitRule::PdfObjects { .. }
                    | LimitRule::PdfStream { .. }
                    | LimitRule::PdfInflated { .. }
                    | LimitRule::PdfWeight { .. }
                    | LimitRule::PdfTime { .. }
                    | LimitRule::PngText { .. }
                    | LimitRule::ImageTime { .. } => Fault::Limit,
                    LimitRule::Empty
                    | LimitRule::ZeroDimension
                    | LimitRule::FrameOutsideCanvas { .. } => Fault::ClientInput,
                },
                Error::Io { .. } | Error::Encode { .. } => Fault::Server,
            };
            assert_eq!(error.fault(), expected, "{error:?}");
            assert_eq!(error.is_client_fault(), expected.is_client_fault());
        }
    }
}
