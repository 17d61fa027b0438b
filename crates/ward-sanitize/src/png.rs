//! PNG: checks every chunk's CRC and keeps critical chunks, colour and animation chunks only;
//! every APNG frame's size and position are checked.

use std::io::Read;

use flate2::read::ZlibDecoder;
use flate2::{Decompress, FlushDecompress, Status};

use crate::error::{Error, LimitRule, Result};
use crate::exif;
use crate::kind::FileKind;
use crate::limits::{self, Limits};
use crate::permits::Deadline;
use crate::report::{Category, Report, Stripped};

const KIND: FileKind = FileKind::Png;
const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Ancillary chunks that describe how to show the pixels, or the APNG animation; all others go.
const KEEP_ANCILLARY: &[&[u8; 4]] = &[
    b"tRNS", b"iCCP", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"mDCv", b"cLLi", b"sBIT", b"pHYs",
    b"bKGD", b"acTL", b"fcTL", b"fdAT",
];

/// Drops `tEXt`, `zTXt`, `iTXt`, `eXIf`, `tIME` and every other ancillary chunk not in the
/// allow-list (private chunks included), and anything after `IEND`. Kept chunks are copied with
/// their CRCs, which are verified first. Text is inflated only to count it against
/// [`Limits::max_png_text_bytes`], within that bound.
pub(crate) fn strip(
    input: &[u8],
    limits: &Limits,
    deadline: &Deadline,
    image_data: ImageData,
) -> Result<Stripped> {
    if !input.starts_with(SIGNATURE) {
        return Err(Error::malformed(KIND, "missing png signature"));
    }
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(SIGNATURE);
    let mut report = Report::default();
    let mut orientation = None;
    let mut animated = false;
    let mut text_bytes: u64 = 0;
    let mut pos = SIGNATURE.len();
    let mut first = true;
    let mut dimensions = None;
    let mut frames = 0u32;
    let mut ihdr = Header::default();
    let mut palette_len = 0usize;
    let mut seen_iccp = false;
    // The zlib stream of the image or frame being read (IDAT, or a frame's fdAT chunks).
    let mut stream: Option<ZStream> = None;
    loop {
        deadline.check()?;
        let Some(header) = input.get(pos..pos + 8) else {
            return Err(Error::malformed(KIND, "truncated before IEND"));
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if len > 0x7FFF_FFFF {
            return Err(Error::malformed(KIND, "chunk length above 2^31-1"));
        }
        let len = len as usize;
        let ty: [u8; 4] = [header[4], header[5], header[6], header[7]];
        if !ty.iter().all(u8::is_ascii_alphabetic) {
            return Err(Error::malformed(KIND, "chunk type is not four letters"));
        }
        let Some(chunk) = input.get(pos..pos + 12 + len) else {
            return Err(Error::malformed(
                KIND,
                "chunk runs past the end of the file",
            ));
        };
        let data = &chunk[8..8 + len];
        let crc = u32::from_be_bytes([
            chunk[8 + len],
            chunk[9 + len],
            chunk[10 + len],
            chunk[11 + len],
        ]);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&ty);
        hasher.update(data);
        if hasher.finalize() != crc {
            return Err(Error::malformed(KIND, "chunk crc mismatch"));
        }
        pos += 12 + len;
        if first {
            if &ty != b"IHDR" || len != 13 {
                return Err(Error::malformed(KIND, "first chunk is not a 13-byte IHDR"));
            }
            let width = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
            let height = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            dimensions = Some((width, height));
            // The pixel limits come before anything is inflated.
            limits::check_dimensions(width, height, limits)?;
            ihdr = Header::parse(data)?;
        }
        first = false;
        let critical = ty[0].is_ascii_uppercase();
        match &ty {
            b"IHDR" => out.extend_from_slice(chunk),
            b"PLTE" => {
                if data.is_empty() || data.len() % 3 != 0 || data.len() > 3 * 256 {
                    return Err(Error::malformed(KIND, "PLTE is not 1 to 256 entries"));
                }
                palette_len = data.len() / 3;
                out.extend_from_slice(chunk);
            }
            b"IDAT" => {
                let (width, height) = dimensions.unwrap_or((0, 0));
                stream
                    .get_or_insert_with(|| ZStream::new(ihdr.raw_size(width, height), image_data))
                    .feed(data, deadline)?;
                out.extend_from_slice(chunk);
            }
            b"fdAT" => {
                let (Some(frame), Some(data)) = (stream.as_mut(), data.get(4..)) else {
                    return Err(Error::malformed(
                        KIND,
                        "fdAT before fcTL or shorter than 4 bytes",
                    ));
                };
                frame.feed(data, deadline)?;
                out.extend_from_slice(chunk);
            }
            b"IEND" => {
                if let Some(stream) = stream.take() {
                    stream.finish()?;
                } else {
                    return Err(Error::malformed(KIND, "no image data chunk"));
                }
                out.extend_from_slice(chunk);
                if pos < input.len() {
                    report.add(Category::Trailer, (input.len() - pos) as u64);
                }
                return Ok(Stripped {
                    bytes: out,
                    report,
                    orientation,
                    animated,
                    dimensions,
                });
            }
            _ if critical => return Err(Error::malformed(KIND, "unknown critical chunk")),
            b"tEXt" | b"zTXt" | b"iTXt" => {
                text_bytes = text_bytes.saturating_add(text_len(&ty, data, limits, text_bytes)?);
                if text_bytes > limits.max_png_text_bytes() {
                    return Err(Error::Limit(LimitRule::PngText {
                        limit: limits.max_png_text_bytes(),
                    }));
                }
                report.add(Category::Text, chunk.len() as u64);
            }
            b"eXIf" => {
                if orientation.is_none() {
                    orientation = exif::orientation(exif::tiff_body(data));
                }
                report.add(Category::Exif, chunk.len() as u64);
            }
            b"tIME" => report.add(Category::Time, chunk.len() as u64),
            b"fcTL" => {
                let canvas = dimensions.unwrap_or((0, 0));
                check_frame_control(data, frames, canvas, limits)?;
                frames = frames.saturating_add(1);
                if let Some(previous) = stream.take() {
                    previous.finish()?;
                }
                let at =
                    |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
                stream = Some(ZStream::new(ihdr.raw_size(at(4), at(8)), image_data));
                out.extend_from_slice(chunk);
            }
            b"acTL" => {
                if data.len() != 8 || data[..4] == [0; 4] {
                    return Err(Error::malformed(
                        KIND,
                        "acTL is not 8 bytes or has no frame",
                    ));
                }
                animated = true;
                out.extend_from_slice(chunk);
            }
            b"tRNS" => {
                let valid = match ihdr.color_type {
                    0 => data.len() == 2,
                    2 => data.len() == 6,
                    3 => data.len() <= palette_len,
                    _ => false,
                };
                if !valid {
                    return Err(Error::malformed(KIND, "tRNS does not fit the colour type"));
                }
                out.extend_from_slice(chunk);
            }
            _ if KEEP_ANCILLARY.contains(&&ty) => {
                // Only the first iCCP counts (and is inflated); a second is dropped unread.
                let repeated = &ty == b"iCCP" && std::mem::replace(&mut seen_iccp, true);
                if !repeated && ihdr.ancillary_is_valid(&ty, data, deadline)? {
                    out.extend_from_slice(chunk);
                } else {
                    // A malformed rendering hint is dropped: decoders ignore it or fail on it.
                    report.add(Category::OtherChunk, chunk.len() as u64);
                }
            }
            _ => report.add(Category::OtherChunk, chunk.len() as u64),
        }
    }
}

/// Most bytes an `iCCP` profile may inflate to.
const MAX_ICC_BYTES: u64 = 16 * 1024 * 1024;

/// The IHDR fields that decide how chunks and image data must look.
#[derive(Default)]
struct Header {
    bit_depth: u8,
    color_type: u8,
    interlaced: bool,
}

impl Header {
    /// Checks the bit depth, colour type and methods of a 13-byte IHDR.
    fn parse(data: &[u8]) -> Result<Self> {
        let (bit_depth, color_type) = (data[8], data[9]);
        let depth_ok = match color_type {
            0 => matches!(bit_depth, 1 | 2 | 4 | 8 | 16),
            3 => matches!(bit_depth, 1 | 2 | 4 | 8),
            2 | 4 | 6 => matches!(bit_depth, 8 | 16),
            _ => false,
        };
        if !depth_ok || data[10] != 0 || data[11] != 0 || data[12] > 1 {
            return Err(Error::malformed(KIND, "IHDR fields out of range"));
        }
        Ok(Self {
            bit_depth,
            color_type,
            interlaced: data[12] == 1,
        })
    }

    fn channels(&self) -> u64 {
        match self.color_type {
            2 => 3,
            4 => 2,
            6 => 4,
            _ => 1,
        }
    }

    /// Bytes the image data of a `width` × `height` image or frame inflates to: each row's
    /// filter byte and samples, per Adam7 pass when interlaced.
    fn raw_size(&self, width: u32, height: u32) -> u64 {
        let bits = self.channels() * u64::from(self.bit_depth);
        let rows = |w: u64, h: u64| {
            if w == 0 {
                0
            } else {
                h * (1 + (w * bits).div_ceil(8))
            }
        };
        let (w, h) = (u64::from(width), u64::from(height));
        if !self.interlaced {
            return rows(w, h);
        }
        const PASSES: [(u64, u64, u64, u64); 7] = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        PASSES
            .iter()
            .map(|&(x0, y0, dx, dy)| {
                rows(
                    w.saturating_sub(x0).div_ceil(dx),
                    h.saturating_sub(y0).div_ceil(dy),
                )
            })
            .sum()
    }

    /// Whether a kept rendering-hint chunk has the size and values the specification allows
    /// (an `iCCP` profile must also inflate, checksum included, within [`MAX_ICC_BYTES`]).
    fn ancillary_is_valid(&self, ty: &[u8; 4], data: &[u8], deadline: &Deadline) -> Result<bool> {
        Ok(match ty {
            b"gAMA" => data.len() == 4,
            b"cHRM" => data.len() == 32,
            b"sRGB" => data.len() == 1 && data[0] <= 3,
            b"cICP" => data.len() == 4,
            b"mDCv" => data.len() == 24,
            b"cLLi" => data.len() == 8,
            b"pHYs" => data.len() == 9 && data[8] <= 1,
            b"sBIT" => {
                data.len() as u64
                    == if self.color_type == 3 {
                        3
                    } else {
                        self.channels()
                    }
            }
            b"bKGD" => {
                data.len()
                    == match self.color_type {
                        3 => 1,
                        2 | 6 => 6,
                        _ => 2,
                    }
            }
            b"iCCP" => {
                let name_end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                if !(1..=79).contains(&name_end) || data.get(name_end + 1) != Some(&0) {
                    return Ok(false);
                }
                let mut profile = ZStream::new(MAX_ICC_BYTES, ImageData::Check);
                profile.exact = false;
                profile.feed(&data[name_end + 2..], deadline).is_ok() && profile.finish().is_ok()
            }
            _ => true,
        })
    }
}

/// Whether the image data (IDAT and fdAT) is inflated to check it, or only walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImageData {
    /// Inflate it and check the stream, checksum and size: what cleaning does.
    Check,
    /// Walk the chunks only (for [`Sanitizer::strip_image`](crate::Sanitizer::strip_image),
    /// which is not a validator).
    Skip,
}

/// One zlib stream read incrementally and thrown away, to prove it is complete, carries a valid
/// Adler-32 checksum, and inflates to exactly (or, when not `exact`, at most) `expected` bytes.
struct ZStream {
    inflater: Decompress,
    expected: u64,
    exact: bool,
    done: bool,
    skip: bool,
}

impl ZStream {
    fn new(expected: u64, image_data: ImageData) -> Self {
        Self {
            inflater: Decompress::new(true),
            expected,
            exact: true,
            done: false,
            skip: image_data == ImageData::Skip,
        }
    }

    fn feed(&mut self, mut data: &[u8], deadline: &Deadline) -> Result<()> {
        if self.skip {
            return Ok(());
        }
        if self.done {
            return if data.is_empty() {
                Ok(())
            } else {
                Err(Error::malformed(
                    KIND,
                    "image data continues past its zlib stream",
                ))
            };
        }
        let mut scratch = [0u8; 32 * 1024];
        loop {
            deadline.check()?;
            let (before_in, before_out) = (self.inflater.total_in(), self.inflater.total_out());
            let status = self
                .inflater
                .decompress(data, &mut scratch, FlushDecompress::None)
                .map_err(|e| Error::decoder(KIND, "image data does not inflate (zlib)", e))?;
            let consumed = (self.inflater.total_in() - before_in) as usize;
            let produced = (self.inflater.total_out() - before_out) as usize;
            data = &data[consumed..];
            if self.inflater.total_out() > self.expected {
                return Err(Error::malformed(KIND, "image data inflates past its size"));
            }
            if status == Status::StreamEnd {
                self.done = true;
                return self.feed(data, deadline);
            }
            if consumed == 0 && produced == 0 && !data.is_empty() {
                return Err(Error::malformed(KIND, "image data does not inflate (zlib)"));
            }
            if data.is_empty() && produced < scratch.len() {
                return Ok(());
            }
        }
    }

    fn finish(&self) -> Result<()> {
        if self.skip {
            return Ok(());
        }
        if !self.done {
            return Err(Error::malformed(
                KIND,
                "image data ends inside its zlib stream",
            ));
        }
        if self.exact && self.inflater.total_out() != self.expected {
            return Err(Error::malformed(
                KIND,
                "image data inflates to the wrong size",
            ));
        }
        Ok(())
    }
}

/// An APNG frame control chunk: sequence(4), width(4), height(4), x offset(4), y offset(4),
/// delay(2 + 2), dispose(1), blend(1). The frame must pass the pixel limits and lie inside the
/// canvas that IHDR gives.
fn check_frame_control(data: &[u8], frame: u32, canvas: (u32, u32), limits: &Limits) -> Result<()> {
    if data.len() != 26 {
        return Err(Error::malformed(KIND, "fcTL is not 26 bytes"));
    }
    let at = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    limits::check_frame(frame, (at(12), at(16), at(4), at(8)), canvas, limits)
}

/// The text length of one text chunk: raw for `tEXt` and uncompressed `iTXt`, inflated (never
/// past what the remaining budget allows, plus one byte) for `zTXt` and compressed `iTXt`.
fn text_len(ty: &[u8; 4], data: &[u8], limits: &Limits, used: u64) -> Result<u64> {
    let budget = limits.max_png_text_bytes().saturating_sub(used);
    let keyword_end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let compressed = match ty {
        b"zTXt" => data.get(keyword_end + 2..),
        b"iTXt" => match data.get(keyword_end + 1) {
            Some(1) => data.get(keyword_end + 3..).map(|rest| {
                // Skip the language tag and the translated keyword (two NUL-terminated fields).
                let mut rest = rest;
                for _ in 0..2 {
                    let end = rest
                        .iter()
                        .position(|&b| b == 0)
                        .map_or(rest.len(), |e| e + 1);
                    rest = &rest[end..];
                }
                rest
            }),
            _ => None,
        },
        _ => None,
    };
    let Some(compressed) = compressed else {
        return Ok(data.len() as u64);
    };
    let mut inflater = ZlibDecoder::new(compressed).take(budget.saturating_add(1));
    // A corrupt stream counts what inflated before the error: the chunk is dropped either way.
    let mut counted = 0u64;
    let mut buf = [0u8; 8192];
    loop {
        match inflater.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => counted += n as u64,
        }
    }
    Ok(counted)
}
