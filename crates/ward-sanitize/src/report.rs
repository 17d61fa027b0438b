//! [`Report`]: what cleaning removed or changed, as categories and byte counts, never values.

use std::fmt;

/// A kind of content that cleaning removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Category {
    /// EXIF (camera settings, GPS position, device serials, dates, maker notes, thumbnails).
    Exif,
    /// XMP packets, including JPEG extended XMP.
    Xmp,
    /// IPTC and Photoshop resource blocks (JPEG APP13).
    Iptc,
    /// Comments (JPEG COM).
    Comment,
    /// PNG text chunks (`tEXt`, `zTXt`, `iTXt`).
    Text,
    /// PNG modification time (`tIME`).
    Time,
    /// JPEG application segments other than JFIF, ICC and Adobe (MPF, FlashPix, Ducky, …), the
    /// JFIF thumbnail, and bytes past the end of an ICC profile or an Adobe segment.
    ApplicationData,
    /// JPEG segments outside the allow-list that are not application data: the JPGn
    /// extensions, reserved markers, EXP, DHP, DNL, DAC and standalone markers outside a scan.
    OtherSegment,
    /// Other ancillary PNG chunks or WebP chunks outside the allow-list (private chunks), and
    /// HEIF boxes and item properties outside the allow-list (`free`, `uuid`, entity groups,
    /// user descriptions, camera parameters).
    OtherChunk,
    /// HEIF items other than the image, its tiles, and its thumbnails and auxiliary images
    /// (alpha, depth) that no metadata describes: MIME items that are not XMP, other images
    /// (a burst's other frames, a stereo pair's other eye, described auxiliary images).
    OtherItem,
    /// Bytes after the end of the image or document (trailers, MPO second frames).
    Trailer,
    /// The PDF Info dictionary (title, author, producer, dates).
    PdfInfo,
    /// PDF XMP metadata streams and page-level metadata.
    PdfMetadata,
    /// PDF `/PieceInfo` private application data.
    PdfPieceInfo,
    /// PDF active content removed under [`ActiveContentPolicy::Remove`](crate::ActiveContentPolicy::Remove).
    PdfActiveContent,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exif => "exif",
            Self::Xmp => "xmp",
            Self::Iptc => "iptc",
            Self::Comment => "comment",
            Self::Text => "text",
            Self::Time => "time",
            Self::ApplicationData => "application data",
            Self::OtherSegment => "other segment",
            Self::OtherChunk => "other chunk",
            Self::OtherItem => "other item",
            Self::Trailer => "trailer",
            Self::PdfInfo => "pdf info",
            Self::PdfMetadata => "pdf metadata",
            Self::PdfPieceInfo => "pdf piece info",
            Self::PdfActiveContent => "pdf active content",
        })
    }
}

/// One category of removed content with how much of it there was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removed {
    /// What was removed.
    pub category: Category,
    /// How many items (segments, chunks, objects or entries).
    pub count: u64,
    /// How many bytes of the input they took (for PDF objects, their serialised size is not
    /// known and this is 0).
    pub bytes: u64,
}

/// What cleaning did. Holds only categories, counts and sizes, so it may be logged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    removed: Vec<Removed>,
    orientation: Option<u16>,
    re_encoded: bool,
}

impl Report {
    /// The removed categories, each once, in the order first met.
    pub fn removed(&self) -> &[Removed] {
        &self.removed
    }

    /// Bytes removed in `category` (0 when none).
    pub fn removed_bytes(&self, category: Category) -> u64 {
        self.find(category).map_or(0, |r| r.bytes)
    }

    /// Whether anything of `category` was removed.
    pub fn has_removed(&self, category: Category) -> bool {
        self.find(category).is_some()
    }

    /// The EXIF orientation (2 to 8) that was applied to the pixels, if any.
    pub fn orientation_applied(&self) -> Option<u16> {
        self.orientation
    }

    /// Whether the pixels were decoded and encoded again (only after an orientation fix).
    pub fn re_encoded(&self) -> bool {
        self.re_encoded
    }

    fn find(&self, category: Category) -> Option<&Removed> {
        self.removed.iter().find(|r| r.category == category)
    }

    pub(crate) fn add(&mut self, category: Category, bytes: u64) {
        match self.removed.iter_mut().find(|r| r.category == category) {
            Some(r) => {
                r.count += 1;
                r.bytes += bytes;
            }
            None => self.removed.push(Removed {
                category,
                count: 1,
                bytes,
            }),
        }
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        for r in &other.removed {
            match self.removed.iter_mut().find(|m| m.category == r.category) {
                Some(m) => {
                    m.count += r.count;
                    m.bytes += r.bytes;
                }
                None => self.removed.push(*r),
            }
        }
    }

    pub(crate) fn set_orientation(&mut self, orientation: u16) {
        self.orientation = Some(orientation);
        self.re_encoded = true;
    }
}

/// The outcome of lossless stripping, before decoding.
pub(crate) struct Stripped {
    /// The cleaned file.
    pub(crate) bytes: Vec<u8>,
    /// What was dropped.
    pub(crate) report: Report,
    /// EXIF orientation found in the dropped metadata.
    pub(crate) orientation: Option<u16>,
    /// Whether the file is an animation (APNG or animated WebP).
    pub(crate) animated: bool,
    /// Width and height from the container's own header, when it states them.
    pub(crate) dimensions: Option<(u32, u32)>,
}
