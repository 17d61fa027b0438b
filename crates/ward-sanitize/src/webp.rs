//! WebP: walks the RIFF chunks, keeps known image chunks only (an allow-list), rewrites animation
//! frames without unknown sub-chunks, and fixes the VP8X flags and RIFF size.

use crate::error::{Error, Result};
use crate::exif;
use crate::kind::FileKind;
use crate::limits::{self, Limits};
use crate::permits::Deadline;
use crate::report::{Category, Report, Stripped};

const KIND: FileKind = FileKind::Webp;

/// VP8X flag bits (WebP container specification); every other bit is reserved and written 0.
const FLAG_ANIMATION: u8 = 0x02;
const FLAG_ALPHA: u8 = 0x10;
const FLAG_ICC: u8 = 0x20;

/// Payload sizes fixed by the specification.
const VP8X_LEN: usize = 10;
const ANIM_LEN: usize = 6;
/// The ANMF header before the frame's own chunks: X, Y, width-1, height-1, duration (3 bytes
/// each) and a flags byte.
const ANMF_HEADER_LEN: usize = 16;
/// Smallest valid ICC profile: its 128-byte header.
const MIN_ICC_LEN: usize = 128;

/// Keeps `VP8X`, `ICCP`, `ANIM`, `ANMF`, `ALPH`, `VP8 ` and `VP8L` chunks; drops `EXIF`, `XMP `,
/// unknown chunks and bytes after the RIFF body. `ANMF` frames are rewritten with only their
/// `ALPH`, `VP8 ` and `VP8L` sub-chunks; `VP8X` and `ANIM` are cut to their fixed sizes and
/// `ICCP` to the size its profile header declares. The VP8X flags are rewritten to say what is
/// kept. Every animation frame must pass the pixel limits, lie inside the canvas and match the
/// size its image data states. Image data is copied unchanged.
pub(crate) fn strip(input: &[u8], limits: &Limits, deadline: &Deadline) -> Result<Stripped> {
    if input.len() < 12 || !input.starts_with(b"RIFF") || &input[8..12] != b"WEBP" {
        return Err(Error::malformed(KIND, "missing RIFF WEBP header"));
    }
    let riff_len = u32::from_le_bytes([input[4], input[5], input[6], input[7]]) as usize;
    let Some(end) = riff_len
        .checked_add(8)
        .filter(|&e| e <= input.len() && e >= 12)
    else {
        return Err(Error::malformed(KIND, "riff size does not match the file"));
    };
    let mut report = Report::default();
    if end < input.len() {
        report.add(Category::Trailer, (input.len() - end) as u64);
    }
    let mut out = Vec::with_capacity(end);
    out.extend_from_slice(&input[..12]);
    let mut orientation = None;
    let mut animated = false;
    let mut vp8x_at = None;
    let mut dimensions = None;
    let mut has_icc = false;
    let mut has_image = false;
    let mut frames = 0u32;
    for chunk in Chunks::new(input, 12, end) {
        deadline.check()?;
        let Chunk {
            at,
            fourcc,
            data,
            whole,
        } = chunk?;
        match &fourcc {
            b"VP8X" => {
                if at != 12 || data.len() < VP8X_LEN {
                    return Err(Error::malformed(KIND, "misplaced or short VP8X chunk"));
                }
                animated = data[0] & FLAG_ANIMATION != 0;
                let width = 1 + u24(&data[4..7]);
                let height = 1 + u24(&data[7..10]);
                dimensions = Some((width, height));
                vp8x_at = Some(out.len());
                write_chunk(&mut out, b"VP8X", &data[..VP8X_LEN]);
                report_excess(&mut report, data.len() - VP8X_LEN);
            }
            b"ICCP" => {
                if vp8x_at.is_none() || has_icc {
                    return Err(Error::malformed(KIND, "ICCP without VP8X or repeated"));
                }
                let declared = data
                    .get(..4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    .unwrap_or(0);
                if declared < MIN_ICC_LEN || declared > data.len() {
                    return Err(Error::malformed(
                        KIND,
                        "ICCP length disagrees with its profile",
                    ));
                }
                has_icc = true;
                write_chunk(&mut out, b"ICCP", &data[..declared]);
                report_excess(&mut report, data.len() - declared);
            }
            b"ANIM" => {
                if data.len() < ANIM_LEN {
                    return Err(Error::malformed(KIND, "short ANIM chunk"));
                }
                write_chunk(&mut out, b"ANIM", &data[..ANIM_LEN]);
                report_excess(&mut report, data.len() - ANIM_LEN);
            }
            b"ANMF" => {
                let Some(canvas) = dimensions.filter(|_| animated) else {
                    return Err(Error::malformed(KIND, "ANMF in a file not marked animated"));
                };
                has_image = true;
                write_frame(&mut out, data, frames, canvas, limits, &mut report)?;
                frames = frames.saturating_add(1);
            }
            b"VP8 " | b"VP8L" => {
                has_image = true;
                if vp8x_at.is_none() {
                    // A simple file: its size is the bitstream's, checked before decoding.
                    dimensions = bitstream_dimensions(&fourcc, data);
                }
                out.extend_from_slice(whole);
            }
            b"ALPH" => out.extend_from_slice(whole),
            b"EXIF" => {
                if orientation.is_none() {
                    orientation = exif::orientation(exif::tiff_body(data));
                }
                report.add(Category::Exif, whole.len() as u64);
            }
            b"XMP " => report.add(Category::Xmp, whole.len() as u64),
            _ => report.add(Category::OtherChunk, whole.len() as u64),
        }
    }
    if !has_image {
        return Err(Error::malformed(KIND, "no image data chunk"));
    }
    if let Some(at) = vp8x_at {
        let flags = &mut out[at + 8..at + 12];
        flags[0] = (flags[0] & (FLAG_ALPHA | FLAG_ANIMATION)) | if has_icc { FLAG_ICC } else { 0 };
        flags[1..].fill(0);
    }
    let body =
        u32::try_from(out.len() - 8).map_err(|_| Error::malformed(KIND, "riff body too large"))?;
    out[4..8].copy_from_slice(&body.to_le_bytes());
    Ok(Stripped {
        bytes: out,
        report,
        orientation,
        animated,
        dimensions,
    })
}

/// Writes an `ANMF` chunk holding its 16-byte header and only the frame's `ALPH`, `VP8 ` and
/// `VP8L` sub-chunks, after checking the frame against the limits and the `canvas`.
fn write_frame(
    out: &mut Vec<u8>,
    data: &[u8],
    frame: u32,
    canvas: (u32, u32),
    limits: &Limits,
    report: &mut Report,
) -> Result<()> {
    let Some(header) = data.get(..ANMF_HEADER_LEN) else {
        return Err(Error::malformed(KIND, "short ANMF chunk"));
    };
    let (x, y) = (2 * u24(&header[0..3]), 2 * u24(&header[3..6]));
    let (width, height) = (1 + u24(&header[6..9]), 1 + u24(&header[9..12]));
    limits::check_frame(frame, (x, y, width, height), canvas, limits)?;
    let start = out.len();
    out.extend_from_slice(b"ANMF\0\0\0\0");
    out.extend_from_slice(header);
    let mut has_image = false;
    for sub in Chunks::new(data, ANMF_HEADER_LEN, data.len()) {
        let sub = sub?;
        match &sub.fourcc {
            b"VP8 " | b"VP8L" => {
                if has_image {
                    return Err(Error::malformed(KIND, "animation frame with two images"));
                }
                if bitstream_dimensions(&sub.fourcc, sub.data) != Some((width, height)) {
                    return Err(Error::malformed(
                        KIND,
                        "animation frame size disagrees with its image data",
                    ));
                }
                has_image = true;
                out.extend_from_slice(sub.whole);
            }
            b"ALPH" => out.extend_from_slice(sub.whole),
            _ => report.add(Category::OtherChunk, sub.whole.len() as u64),
        }
    }
    if !has_image {
        return Err(Error::malformed(KIND, "animation frame without image data"));
    }
    let len = u32::try_from(out.len() - start - 8)
        .map_err(|_| Error::malformed(KIND, "riff body too large"))?;
    out[start + 4..start + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn write_chunk(out: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(fourcc);
    // Only ever a prefix of a chunk that was read, so the length fits.
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

fn report_excess(report: &mut Report, bytes: usize) {
    if bytes > 0 {
        report.add(Category::OtherChunk, bytes as u64);
    }
}

/// Width and height as a `VP8 ` (lossy key frame) or `VP8L` (lossless) bitstream states them,
/// or `None` when the header is not one.
fn bitstream_dimensions(fourcc: &[u8; 4], data: &[u8]) -> Option<(u32, u32)> {
    match fourcc {
        // Frame tag(3), start code 9D 01 2A, then 14-bit width and height (2 scale bits each).
        b"VP8 " => {
            let h = data.get(..10).filter(|h| h[3..6] == [0x9D, 0x01, 0x2A])?;
            let width = u32::from(u16::from_le_bytes([h[6], h[7]]) & 0x3FFF);
            let height = u32::from(u16::from_le_bytes([h[8], h[9]]) & 0x3FFF);
            Some((width, height))
        }
        // Signature 0x2F, then 14 bits of width-1 and 14 of height-1, little-endian.
        b"VP8L" => {
            let h = data.get(..5).filter(|h| h[0] == 0x2F)?;
            let bits = u32::from_le_bytes([h[1], h[2], h[3], h[4]]);
            Some((1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)))
        }
        _ => None,
    }
}

fn u24(b: &[u8]) -> u32 {
    u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16
}

/// One RIFF chunk: where it starts, its fourcc, its payload and all its bytes (padding included).
struct Chunk<'a> {
    at: usize,
    fourcc: [u8; 4],
    data: &'a [u8],
    whole: &'a [u8],
}

/// The chunks of `input[pos..end]`, each bounds-checked against `end`.
struct Chunks<'a> {
    input: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Chunks<'a> {
    fn new(input: &'a [u8], pos: usize, end: usize) -> Self {
        Self { input, pos, end }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = Result<Chunk<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let pos = self.pos;
        let Some(header) = self.input.get(pos..pos + 8).filter(|_| pos + 8 <= self.end) else {
            self.pos = self.end;
            return Some(Err(Error::malformed(KIND, "truncated chunk header")));
        };
        let fourcc = [header[0], header[1], header[2], header[3]];
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let padded = len + (len & 1);
        let Some(chunk_end) = (pos + 8).checked_add(padded).filter(|&e| e <= self.end) else {
            self.pos = self.end;
            return Some(Err(Error::malformed(KIND, "chunk runs past the riff body")));
        };
        self.pos = chunk_end;
        Some(Ok(Chunk {
            at: pos,
            fourcc,
            data: &self.input[pos + 8..pos + 8 + len],
            whole: &self.input[pos..chunk_end],
        }))
    }
}
