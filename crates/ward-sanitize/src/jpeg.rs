//! JPEG: walks the marker segments, keeps only what decoding and colour need (an allow-list),
//! copies scans byte for byte; then checks that every block of every scan entropy-decodes.

use memchr::memchr;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use crate::error::{Error, Result};
use crate::exif;
use crate::jpeg_scan::{self, Walk};
use crate::kind::FileKind;
use crate::limits::{Limits, check_dimensions};
use crate::permits::Deadline;
use crate::report::{Category, Report, Stripped};

const KIND: FileKind = FileKind::Jpeg;

const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP2: u8 = 0xE2;
const APP13: u8 = 0xED;
const APP14: u8 = 0xEE;
const COM: u8 = 0xFE;

/// Keeps by allow-list: frame headers (SOFn), Huffman and quantisation tables (DHT, DQT), the
/// restart interval (DRI), scan headers (SOS) with their entropy-coded data (restart markers
/// included), APP0 JFIF without its thumbnail, APP2 ICC profile chunks cut to the profile's
/// declared size, and APP14 Adobe cut to its fixed 12 bytes. Everything else goes: every other
/// APPn, COM, the JPGn extensions, reserved markers, EXP, DHP, DNL, DAC, standalone markers
/// outside a scan, and everything after EOI. What is kept is copied unchanged, so decoded pixels
/// are identical.
pub(crate) fn strip(input: &[u8], deadline: &Deadline) -> Result<Stripped> {
    if !input.starts_with(&[0xFF, 0xD8]) {
        return Err(Error::malformed(KIND, "missing start-of-image marker"));
    }
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..2]);
    let mut report = Report::default();
    let mut orientation = None;
    let mut dimensions = None;
    let mut seen_frame = false;
    let mut seen_scan = false;
    let mut icc = IccChunks::default();
    let mut pos = 2;
    loop {
        deadline.check()?;
        // A marker: 0xFF, optional 0xFF fill bytes, then the marker code.
        if input.get(pos) != Some(&0xFF) {
            return Err(Error::malformed(KIND, "expected a marker"));
        }
        while input.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = input.get(pos) else {
            return Err(Error::malformed(KIND, "truncated before end-of-image"));
        };
        pos += 1;
        match marker {
            EOI => {
                if !seen_frame || !seen_scan {
                    return Err(Error::malformed(
                        KIND,
                        "no frame or scan before end-of-image",
                    ));
                }
                icc.finish()?;
                out.extend_from_slice(&[0xFF, EOI]);
                if pos < input.len() {
                    report.add(Category::Trailer, (input.len() - pos) as u64);
                }
                return Ok(Stripped {
                    bytes: out,
                    report,
                    orientation,
                    animated: false,
                    dimensions,
                });
            }
            0xD8 => return Err(Error::malformed(KIND, "second start-of-image marker")),
            0x00 => return Err(Error::malformed(KIND, "invalid marker code")),
            // Standalone markers carry no length; outside a scan they mean nothing to a decoder.
            0x01 | 0xD0..=0xD7 => report.add(Category::OtherSegment, 2),
            _ => {
                let Some(len_bytes) = input.get(pos..pos + 2) else {
                    return Err(Error::malformed(KIND, "truncated segment length"));
                };
                let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
                if len < 2 {
                    return Err(Error::malformed(KIND, "segment length below 2"));
                }
                let Some(body) = input.get(pos + 2..pos + len) else {
                    return Err(Error::malformed(
                        KIND,
                        "segment runs past the end of the file",
                    ));
                };
                let segment = &input[pos - 2..pos + len];
                pos += len;
                match classify(marker, body) {
                    Keep::Yes => out.extend_from_slice(segment),
                    Keep::Jfif => write_jfif_without_thumbnail(&mut out, body, &mut report),
                    Keep::Icc => icc.write(&mut out, body, &mut report)?,
                    Keep::Adobe => {
                        write_segment(&mut out, APP14, &body[..ADOBE_LEN]);
                        if body.len() > ADOBE_LEN {
                            report.add(Category::ApplicationData, (body.len() - ADOBE_LEN) as u64);
                        }
                    }
                    Keep::No(category) => {
                        if category == Category::Exif && orientation.is_none() {
                            orientation = exif::orientation(&body[6..]);
                        }
                        report.add(category, segment.len() as u64);
                    }
                }
                if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
                    if seen_frame {
                        return Err(Error::malformed(KIND, "second frame header"));
                    }
                    // Precision(1), height(2), width(2).
                    if body.len() < 6 {
                        return Err(Error::malformed(KIND, "short frame header"));
                    }
                    check_variant(marker, body[0])?;
                    let height = u32::from(u16::from_be_bytes([body[1], body[2]]));
                    let width = u32::from(u16::from_be_bytes([body[3], body[4]]));
                    dimensions = Some((width, height));
                    seen_frame = true;
                }
                if marker == SOS {
                    if !seen_frame {
                        return Err(Error::malformed(KIND, "scan before frame header"));
                    }
                    seen_scan = true;
                    pos = copy_entropy_coded(input, pos, &mut out)?;
                }
            }
        }
    }
}

/// Refuses frame types and sample precisions the decoder cannot read: only baseline, extended
/// and progressive Huffman-coded frames (SOF0 to SOF2) with 8-bit samples are accepted.
fn check_variant(marker: u8, precision: u8) -> Result<()> {
    let variant = match marker {
        0xC0..=0xC2 if precision == 8 => return Ok(()),
        0xC0..=0xC2 if precision == 12 => "12-bit samples",
        0xC0..=0xC2 => return Err(Error::malformed(KIND, "sample precision is not 8 bits")),
        0xC3 => "lossless (SOF3)",
        0xC5..=0xC7 => "hierarchical (SOF5 to SOF7)",
        _ => "arithmetic coding (SOF9 to SOF11, SOF13 to SOF15)",
    };
    Err(Error::UnsupportedVariant {
        kind: KIND,
        variant,
    })
}

enum Keep {
    Yes,
    Jfif,
    Icc,
    Adobe,
    No(Category),
}

/// Payload of an APP14 Adobe segment: `Adobe`, version(2), flags0(2), flags1(2), transform(1).
const ADOBE_LEN: usize = 12;
/// `ICC_PROFILE\0`, then the chunk's sequence number and the chunk count.
const ICC_HEADER: &[u8] = b"ICC_PROFILE\0";

fn classify(marker: u8, body: &[u8]) -> Keep {
    match marker {
        // SOFn (not DHT 0xC4, JPG 0xC8 or DAC 0xCC), DHT, DQT, DRI, SOS.
        0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => Keep::Yes,
        0xC4 | 0xDB | 0xDD | SOS => Keep::Yes,
        APP0 if body.starts_with(b"JFIF\0") && body.len() >= 14 => Keep::Jfif,
        APP1 if body.starts_with(b"Exif\0\0") => Keep::No(Category::Exif),
        APP1 if body.starts_with(b"http://ns.adobe.com/xap/1.0/\0") => Keep::No(Category::Xmp),
        APP1 if body.starts_with(b"http://ns.adobe.com/xmp/extension/\0") => {
            Keep::No(Category::Xmp)
        }
        APP2 if body.starts_with(ICC_HEADER) => Keep::Icc,
        APP13 => Keep::No(Category::Iptc),
        APP14 if body.starts_with(b"Adobe") && body.len() >= ADOBE_LEN => Keep::Adobe,
        0xE0..=0xEF => Keep::No(Category::ApplicationData),
        COM => Keep::No(Category::Comment),
        _ => Keep::No(Category::OtherSegment),
    }
}

fn write_segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    // Callers pass at most the body of a segment they read, so the length fits.
    let len = u16::try_from(body.len() + 2).unwrap_or(u16::MAX);
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(body);
}

/// The APP2 ICC chunks seen so far. A profile may span several segments, numbered from 1; the
/// profile's first four bytes give its whole size, and bytes past it are dropped.
#[derive(Default)]
struct IccChunks {
    /// Chunks written so far.
    seen: u8,
    /// The chunk count every chunk must repeat.
    count: u8,
    /// Profile bytes still expected (from the size in the profile header).
    remaining: usize,
}

impl IccChunks {
    /// Smallest valid profile: the 128-byte header.
    const MIN_PROFILE: usize = 128;

    fn write(&mut self, out: &mut Vec<u8>, body: &[u8], report: &mut Report) -> Result<()> {
        let Some(&[sequence, count]) = body.get(ICC_HEADER.len()..ICC_HEADER.len() + 2) else {
            return Err(Error::malformed(KIND, "short icc profile chunk"));
        };
        let payload = &body[ICC_HEADER.len() + 2..];
        if self.seen == 0 {
            let Some(size) = payload.get(..4) else {
                return Err(Error::malformed(KIND, "short icc profile chunk"));
            };
            let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
            if size < Self::MIN_PROFILE {
                return Err(Error::malformed(
                    KIND,
                    "icc profile shorter than its header",
                ));
            }
            self.count = count;
            self.remaining = size;
        }
        if count != self.count || usize::from(sequence) != usize::from(self.seen) + 1 {
            return Err(Error::malformed(KIND, "icc profile chunks out of sequence"));
        }
        if self.remaining == 0 || sequence > count {
            return Err(Error::malformed(
                KIND,
                "more icc profile chunks than the profile",
            ));
        }
        let kept = payload.len().min(self.remaining);
        let header_len = ICC_HEADER.len() + 2;
        write_segment(out, APP2, &body[..header_len + kept]);
        if payload.len() > kept {
            report.add(Category::ApplicationData, (payload.len() - kept) as u64);
        }
        self.remaining -= kept;
        self.seen = sequence;
        Ok(())
    }

    /// A profile that was started must be complete.
    fn finish(&self) -> Result<()> {
        if self.seen != 0 && (self.remaining != 0 || self.seen != self.count) {
            return Err(Error::malformed(KIND, "icc profile chunks incomplete"));
        }
        Ok(())
    }
}

/// Writes the JFIF APP0 header with its embedded thumbnail dropped (thumbnail size set to 0×0):
/// a thumbnail can show the picture as it was before it was cropped.
fn write_jfif_without_thumbnail(out: &mut Vec<u8>, body: &[u8], report: &mut Report) {
    // JFIF\0, version(2), units(1), Xdensity(2), Ydensity(2), Xthumb(1), Ythumb(1).
    out.extend_from_slice(&[0xFF, APP0, 0x00, 16]);
    out.extend_from_slice(&body[..12]);
    out.extend_from_slice(&[0, 0]);
    if body.len() > 14 {
        report.add(Category::ApplicationData, (body.len() - 14) as u64);
    }
}

/// Copies the entropy-coded data that follows a scan header, up to the next marker that is not
/// a stuffed byte (`FF 00`) or a restart marker, and returns that marker's position.
fn copy_entropy_coded(input: &[u8], start: usize, out: &mut Vec<u8>) -> Result<usize> {
    let mut pos = start;
    loop {
        let Some(off) = memchr(0xFF, &input[pos..]) else {
            return Err(Error::malformed(
                KIND,
                "scan data runs to the end without end-of-image",
            ));
        };
        let at = pos + off;
        match input.get(at + 1) {
            None => return Err(Error::malformed(KIND, "truncated marker in scan data")),
            Some(0x00 | 0xD0..=0xD7) => pos = at + 2,
            Some(_) => {
                out.extend_from_slice(&input[start..at]);
                return Ok(at);
            }
        }
    }
}

/// The real parse of a stripped JPEG, after which every block of every component in every scan
/// has been Huffman-decoded against the file's own tables.
///
/// zune-jpeg (the decoder `image` uses) first reads the headers in strict mode (frame,
/// tables, component count against the colour space) and the dimensions are checked against
/// `limits`. A sequential frame (SOF0, SOF1) is then walked by [`jpeg_scan::walk`]: every code
/// resolved, every coefficient inside its block, the scan data ending exactly after its last
/// block, restart markers in sequence, every component in exactly one scan; no pixels are
/// computed. A progressive frame (SOF2) is decoded by zune-jpeg in strict mode, all
/// coefficients of every component, to luma only (YCbCr, greyscale) or in its own colour space
/// (RGB, CMYK, YCCK): no colour conversion.
///
/// What neither can see is damage that still forms valid codes: JPEG carries no checksum.
pub(crate) fn check_scans(bytes: &[u8], limits: &Limits) -> Result<()> {
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX));
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| Error::decoder(KIND, "unreadable image header", e))?;
    let Some((width, height)) = decoder.dimensions() else {
        return Err(Error::malformed(KIND, "unreadable image header"));
    };
    let side = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    check_dimensions(side(width), side(height), limits)?;
    #[cfg(test)]
    let _decoding = crate::raster::tests::Decoding::start();
    if jpeg_scan::walk(bytes)? == Walk::Checked {
        return Ok(());
    }
    let out = match decoder.input_colorspace() {
        Some(ColorSpace::YCbCr | ColorSpace::Luma) | None => ColorSpace::Luma,
        Some(own) => own,
    };
    decoder.set_options(decoder.options().jpeg_set_out_colorspace(out));
    let Some(size) = decoder.output_buffer_size() else {
        return Err(Error::malformed(KIND, "unreadable image header"));
    };
    // At most max_pixels × 4 bytes (CMYK); the dimensions passed the limit above.
    let mut pixels = vec![0u8; size];
    decoder
        .decode_into(&mut pixels)
        .map_err(|e| Error::decoder(KIND, "pixel data does not decode", e))
}
