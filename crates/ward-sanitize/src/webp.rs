//! WebP: walks the RIFF chunks, drops `EXIF` and `XMP `, fixes the VP8X flags and RIFF size.

use crate::error::{Error, Result};
use crate::exif;
use crate::kind::FileKind;
use crate::raster::Stripped;
use crate::report::{Category, Report};

const KIND: FileKind = FileKind::Webp;

/// VP8X flag bits (WebP container specification).
const FLAG_XMP: u8 = 0x04;
const FLAG_EXIF: u8 = 0x08;
const FLAG_ANIMATION: u8 = 0x02;

/// Keeps `VP8X`, `ICCP`, `ANIM`, `ANMF`, `ALPH`, `VP8 ` and `VP8L` chunks; drops `EXIF`, `XMP `,
/// unknown chunks and bytes after the RIFF body. Image chunks are copied unchanged.
pub(crate) fn strip(input: &[u8]) -> Result<Stripped> {
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
    let mut has_image = false;
    let mut pos = 12;
    while pos < end {
        let Some(header) = input.get(pos..pos + 8).filter(|_| pos + 8 <= end) else {
            return Err(Error::malformed(KIND, "truncated chunk header"));
        };
        let fourcc: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let padded = len + (len & 1);
        let Some(chunk_end) = (pos + 8).checked_add(padded).filter(|&e| e <= end) else {
            return Err(Error::malformed(KIND, "chunk runs past the riff body"));
        };
        let chunk = &input[pos..chunk_end];
        let data = &input[pos + 8..pos + 8 + len];
        match &fourcc {
            b"VP8X" => {
                if pos != 12 || len < 10 {
                    return Err(Error::malformed(KIND, "misplaced or short VP8X chunk"));
                }
                animated = data[0] & FLAG_ANIMATION != 0;
                vp8x_at = Some(out.len());
                out.extend_from_slice(chunk);
            }
            b"VP8 " | b"VP8L" | b"ANMF" => {
                has_image = true;
                out.extend_from_slice(chunk);
            }
            b"ICCP" | b"ANIM" | b"ALPH" => out.extend_from_slice(chunk),
            b"EXIF" => {
                if orientation.is_none() {
                    orientation = exif::orientation(exif::tiff_body(data));
                }
                report.add(Category::Exif, chunk.len() as u64);
            }
            b"XMP " => report.add(Category::Xmp, chunk.len() as u64),
            _ => report.add(Category::OtherChunk, chunk.len() as u64),
        }
        pos = chunk_end;
    }
    if !has_image {
        return Err(Error::malformed(KIND, "no image data chunk"));
    }
    if let Some(at) = vp8x_at {
        out[at + 8] &= !(FLAG_EXIF | FLAG_XMP);
    }
    let body =
        u32::try_from(out.len() - 8).map_err(|_| Error::malformed(KIND, "riff body too large"))?;
    out[4..8].copy_from_slice(&body.to_le_bytes());
    Ok(Stripped {
        bytes: out,
        report,
        orientation,
        animated,
        dimensions: None,
    })
}
