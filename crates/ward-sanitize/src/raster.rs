//! Images: lossless stripping, the full decode within limits, and the EXIF orientation fix.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::kind::FileKind;
use crate::limits::{Limits, check_dimensions};
use crate::permits::{Deadline, DecodePermits};
use crate::png::ImageData;
use crate::report::{Report, Stripped};
use crate::{jpeg, png, webp};

/// JPEG quality used when an orientation fix forces a re-encode.
pub(crate) const REENCODE_JPEG_QUALITY: u8 = 92;

/// Most bytes the decoder may allocate: 50 megapixels at 16-bit RGBA, plus headroom.
pub(crate) const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Strips metadata losslessly, without decoding pixels, checking `deadline` as it walks; PNG
/// image data is inflated and checked only under [`ImageData::Check`].
pub(crate) fn strip(
    kind: FileKind,
    input: &[u8],
    limits: &Limits,
    deadline: &Deadline,
    image_data: ImageData,
) -> Result<Stripped> {
    match kind {
        FileKind::Jpeg => jpeg::strip(input, deadline),
        FileKind::Png => png::strip(input, limits, deadline, image_data),
        FileKind::Webp => webp::strip(input, limits, deadline),
        #[cfg(feature = "heic")]
        FileKind::Heic => crate::heic::strip(input, limits, deadline),
        #[cfg(not(feature = "heic"))]
        FileKind::Heic => Err(Error::UnsupportedType { detected: "heic" }),
        FileKind::Pdf => Err(Error::malformed(kind, "not an image")),
    }
}

/// An image stripped of its metadata, and whether its content check is still to run.
pub(crate) struct Prepared {
    /// The output: the stripped file, or the upright re-encoding of it.
    pub(crate) bytes: Vec<u8>,
    pub(crate) report: Report,
    /// `true` when [`check`] must still pass on `bytes` before they count as valid; `false`
    /// when `bytes` were checked already (an orientation fix decodes the picture to rotate it).
    pub(crate) unchecked: bool,
}

/// Strips (so hostile metadata never reaches a decoder) and checks the dimensions. A picture
/// whose EXIF orientation says it is rotated or mirrored is then checked, decoded, turned
/// upright and encoded again here, since its output depends on the decode; any other is left
/// [`unchecked`](Prepared::unchecked) for [`check`]. Decoding and encoding hold a permit from
/// `permits`; `deadline` is checked between steps and bounds the wait for the permit.
pub(crate) fn prepare(
    kind: FileKind,
    input: &[u8],
    limits: &Limits,
    deadline: &Deadline,
    permits: &DecodePermits,
) -> Result<Prepared> {
    let stripped = strip(kind, input, limits, deadline, ImageData::Check)?;
    if let Some((width, height)) = stripped.dimensions {
        check_dimensions(width, height, limits)?;
    }
    let Some(o @ 2..=8) = stripped.orientation else {
        return Ok(Prepared {
            bytes: stripped.bytes,
            report: stripped.report,
            unchecked: true,
        });
    };
    if stripped.animated {
        return Err(Error::OrientationUnsupported { kind });
    }
    let orientation =
        Orientation::from_exif(o as u8).ok_or(Error::malformed(kind, "bad orientation"))?;
    let _permit = permits.acquire(*deadline, || deadline.exceeded())?;
    deadline.check()?;
    if kind == FileKind::Jpeg {
        // The strict check first: the pixel decoder below is lenient.
        jpeg::check_scans(&stripped.bytes, limits)?;
    }
    let (mut image, icc) = decode(kind, &stripped.bytes, limits)?;
    deadline.check()?;
    image.apply_orientation(orientation);
    let encoded = encode(kind, &image, icc)?;
    deadline.check()?;
    // The encoder's own output goes through the stripper too, so nothing but pixels,
    // colour profile and JFIF header can reach the result.
    // The caller's limits, not the defaults: PNG now checks IHDR's size while stripping,
    // and an upright copy has as many pixels as the picture that passed them.
    let again = strip(kind, &encoded, limits, deadline, ImageData::Check)?;
    let mut report = stripped.report;
    report.merge(&again.report);
    report.set_orientation(o);
    Ok(Prepared {
        bytes: again.bytes,
        report,
        unchecked: false,
    })
}

/// The content check of a stripped image, holding a decode permit: every block of every JPEG
/// scan entropy-decoded ([`jpeg::check_scans`]), every pixel of PNG and WebP decoded, a HEIC's
/// primary image decoded by libheif.
pub(crate) fn check(
    kind: FileKind,
    stripped: &[u8],
    limits: &Limits,
    deadline: &Deadline,
    permits: &DecodePermits,
) -> Result<()> {
    let _permit = permits.acquire(*deadline, || deadline.exceeded())?;
    deadline.check()?;
    match kind {
        FileKind::Jpeg => jpeg::check_scans(stripped, limits)?,
        #[cfg(feature = "heic")]
        FileKind::Heic => crate::heic::check(stripped, limits)?,
        _ => drop(decode(kind, stripped, limits)?),
    }
    deadline.check()
}

/// Reads the header, checks dimensions against the limits, then decodes every pixel of the
/// (first) frame with the decoder's allocation limit set.
pub(crate) fn decode(
    kind: FileKind,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(DynamicImage, Option<Vec<u8>>)> {
    let format = match kind {
        FileKind::Jpeg => ImageFormat::Jpeg,
        FileKind::Png => ImageFormat::Png,
        FileKind::Webp => ImageFormat::WebP,
        // HEIC is decoded by libheif in its own check and never turned by ward (its
        // orientation is in `irot`/`imir`, which are kept).
        FileKind::Heic | FileKind::Pdf => return Err(Error::malformed(kind, "not an image")),
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decode_limits = image::Limits::default();
    decode_limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(decode_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| Error::decoder(kind, "unreadable image header", e))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let icc = decoder.icc_profile().ok().flatten();
    #[cfg(test)]
    let _decoding = tests::Decoding::start();
    let image = DynamicImage::from_decoder(decoder)
        .map_err(|e| Error::decoder(kind, "pixel data does not decode", e))?;
    Ok((image, icc))
}

fn encode(kind: FileKind, image: &DynamicImage, icc: Option<Vec<u8>>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fail = |e: image::ImageError| Error::Encode {
        kind,
        source: Box::new(e),
    };
    match kind {
        FileKind::Jpeg => {
            let mut encoder = JpegEncoder::new_with_quality(&mut out, REENCODE_JPEG_QUALITY);
            if let Some(icc) = icc {
                // A profile the encoder cannot embed is left out rather than failing the upload.
                let _ = encoder.set_icc_profile(icc);
            }
            let image = match image {
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image.clone(),
                other if other.color().has_color() => DynamicImage::ImageRgb8(other.to_rgb8()),
                other => DynamicImage::ImageLuma8(other.to_luma8()),
            };
            image.write_with_encoder(encoder).map_err(fail)?;
        }
        FileKind::Png => {
            let mut encoder = PngEncoder::new(&mut out);
            if let Some(icc) = icc {
                let _ = encoder.set_icc_profile(icc);
            }
            image.write_with_encoder(encoder).map_err(fail)?;
        }
        FileKind::Webp => {
            let mut encoder = WebPEncoder::new_lossless(&mut out);
            if let Some(icc) = icc {
                let _ = encoder.set_icc_profile(icc);
            }
            let image = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            image.write_with_encoder(encoder).map_err(fail)?;
        }
        FileKind::Heic | FileKind::Pdf => return Err(Error::malformed(kind, "not an image")),
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Decodes running now, and the most seen at once, across the whole test binary.
    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    pub(crate) static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Counts one running decode until dropped.
    pub(crate) struct Decoding;

    impl Decoding {
        pub(crate) fn start() -> Self {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            PEAK.fetch_max(now, Ordering::SeqCst);
            Self
        }
    }

    impl Drop for Decoding {
        fn drop(&mut self) {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
