//! PNG: checks every chunk's CRC and keeps critical chunks, colour and animation chunks only;
//! every APNG frame's size and position are checked.

use std::io::Read;

use flate2::read::ZlibDecoder;

use crate::error::{Error, LimitRule, Result};
use crate::exif;
use crate::kind::FileKind;
use crate::limits::Limits;
use crate::permits::Deadline;
use crate::raster::{self, Stripped};
use crate::report::{Category, Report};

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
pub(crate) fn strip(input: &[u8], limits: &Limits, deadline: &Deadline) -> Result<Stripped> {
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
        }
        first = false;
        let critical = ty[0].is_ascii_uppercase();
        match &ty {
            b"IHDR" | b"PLTE" | b"IDAT" => out.extend_from_slice(chunk),
            b"IEND" => {
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
                out.extend_from_slice(chunk);
            }
            _ if KEEP_ANCILLARY.contains(&&ty) => {
                animated |= &ty == b"acTL";
                out.extend_from_slice(chunk);
            }
            _ => report.add(Category::OtherChunk, chunk.len() as u64),
        }
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
    raster::check_frame(frame, (at(12), at(16), at(4), at(8)), canvas, limits)
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
