//! Builders for synthetic inputs with planted metadata, and checks that do not use the crate.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use lopdf::{Dictionary, Document, Object, Stream, dictionary};

/// Text planted in every kind of metadata; no output may contain it.
pub(crate) const SECRET: &[u8] = b"JANE-ROE-SECRET";

/// An image whose four quadrants differ, so any rotation or mirror is visible.
pub(crate) fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let left = x < width / 2;
        let top = y < height / 2;
        let base = match (left, top) {
            (true, true) => [220, 30, 30],
            (false, true) => [30, 200, 40],
            (true, false) => [30, 40, 210],
            (false, false) => [230, 220, 40],
        };
        Rgb([base[0] ^ (x as u8 & 7), base[1] ^ (y as u8 & 7), base[2]])
    })
}

pub(crate) fn encode_png(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

pub(crate) fn encode_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(img)
        .unwrap();
    out
}

/// A TIFF-structured EXIF block: IFD0 with Artist (the secret) and, optionally, Orientation.
pub(crate) fn exif_tiff(orientation: Option<u16>) -> Vec<u8> {
    let mut entries: Vec<[u8; 12]> = Vec::new();
    let count: u16 = 1 + u16::from(orientation.is_some());
    let data_offset: u32 = 8 + 2 + 12 * u32::from(count) + 4;
    // Artist (0x013B), ASCII, stored at data_offset.
    let mut artist = [0u8; 12];
    artist[..2].copy_from_slice(&0x013Bu16.to_be_bytes());
    artist[2..4].copy_from_slice(&2u16.to_be_bytes());
    artist[4..8].copy_from_slice(&(SECRET.len() as u32 + 1).to_be_bytes());
    artist[8..12].copy_from_slice(&data_offset.to_be_bytes());
    entries.push(artist);
    if let Some(o) = orientation {
        let mut e = [0u8; 12];
        e[..2].copy_from_slice(&0x0112u16.to_be_bytes());
        e[2..4].copy_from_slice(&3u16.to_be_bytes());
        e[4..8].copy_from_slice(&1u32.to_be_bytes());
        e[8..10].copy_from_slice(&o.to_be_bytes());
        entries.push(e);
    }
    entries.sort_by_key(|e| u16::from_be_bytes([e[0], e[1]]));
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&count.to_be_bytes());
    for e in entries {
        tiff.extend_from_slice(&e);
    }
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(SECRET);
    tiff.push(0);
    tiff
}

fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
    s.extend_from_slice(body);
    s
}

/// Metadata segments a phone or editor writes: EXIF, XMP, extended XMP, IPTC, a comment, an
/// APP12 "Ducky" block and an MPF APP2.
pub(crate) fn jpeg_metadata_segments(orientation: Option<u16>) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_tiff(orientation));
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>".to_vec();
    xmp.extend_from_slice(SECRET);
    xmp.extend_from_slice(b"</x:xmpmeta>");
    let mut ext_xmp = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
    ext_xmp.extend_from_slice(&[b'0'; 32]);
    ext_xmp.extend_from_slice(SECRET);
    let mut iptc = b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x12\x1c\x02\x50\0\x0f".to_vec();
    iptc.extend_from_slice(SECRET);
    let mut ducky = b"Ducky\0".to_vec();
    ducky.extend_from_slice(SECRET);
    let mut mpf = b"MPF\0".to_vec();
    mpf.extend_from_slice(SECRET);
    [
        segment(0xE1, &exif),
        segment(0xE1, &xmp),
        segment(0xE1, &ext_xmp),
        segment(0xED, &iptc),
        segment(0xFE, SECRET),
        segment(0xEC, &ducky),
        segment(0xE2, &mpf),
    ]
    .concat()
}

/// A JPEG with every kind of metadata planted after SOI, and a trailer after EOI.
pub(crate) fn jpeg_with_metadata(img: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let plain = encode_jpeg(img);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&jpeg_metadata_segments(orientation));
    out.extend_from_slice(&plain[2..]);
    out.extend_from_slice(b"TRAILER");
    out.extend_from_slice(SECRET);
    out
}

/// A PNG chunk with its CRC.
pub(crate) fn png_chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(ty);
    c.extend_from_slice(data);
    let crc = crc32fast::hash(&c[4..]);
    c.extend_from_slice(&crc.to_be_bytes());
    c
}

/// Inserts chunks right after IHDR (8-byte signature + 25-byte IHDR chunk).
pub(crate) fn png_insert(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[33..]);
    out
}

pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every metadata chunk PNG writers produce, each holding the secret.
pub(crate) fn png_metadata_chunks(orientation: Option<u16>) -> Vec<Vec<u8>> {
    let mut text = b"Author\0".to_vec();
    text.extend_from_slice(SECRET);
    let mut ztxt = b"Comment\0\0".to_vec();
    ztxt.extend_from_slice(&zlib(SECRET));
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(SECRET);
    let mut private = b"x".to_vec();
    private.extend_from_slice(SECRET);
    vec![
        png_chunk(b"tEXt", &text),
        png_chunk(b"zTXt", &ztxt),
        png_chunk(b"iTXt", &itxt),
        png_chunk(b"eXIf", &exif_tiff(orientation)),
        png_chunk(b"tIME", &[7, 234, 1, 2, 3, 4, 5]),
        png_chunk(b"prVt", &private),
        png_chunk(b"gAMA", &45455u32.to_be_bytes()),
        png_chunk(b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 1]),
    ]
}

/// The bytes of every chunk of `ty` in a PNG, concatenated (for byte-level pixel checks).
pub(crate) fn png_chunks_of(png: &[u8], ty: &[u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut pos = 8;
    while pos + 12 <= png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        if &png[pos + 4..pos + 8] == ty {
            out.extend_from_slice(&png[pos + 8..pos + 8 + len]);
        }
        pos += 12 + len;
    }
    out
}

/// A lossless WebP of `img` (a simple-format file: one VP8L chunk).
pub(crate) fn encode_webp(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut Cursor::new(&mut out), ImageFormat::WebP)
        .unwrap();
    out
}

/// Wraps a simple WebP's image chunk in an extended (VP8X) file with EXIF and XMP chunks.
pub(crate) fn webp_with_metadata(img: &RgbImage, orientation: Option<u16>) -> Vec<u8> {
    let simple = encode_webp(img);
    let image_chunk = &simple[12..];
    let mut vp8x = vec![0x08 | 0x04, 0, 0, 0];
    vp8x.extend_from_slice(&(img.width() - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(img.height() - 1).to_le_bytes()[..3]);
    let mut xmp = b"<x:xmpmeta>".to_vec();
    xmp.extend_from_slice(SECRET);
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(&riff_chunk(b"VP8X", &vp8x));
    body.extend_from_slice(image_chunk);
    body.extend_from_slice(&riff_chunk(b"EXIF", &exif_tiff(orientation)));
    body.extend_from_slice(&riff_chunk(b"XMP ", &xmp));
    body.extend_from_slice(&riff_chunk(b"ZZZZ", SECRET));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

pub(crate) fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = fourcc.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

/// The RIFF chunks of a WebP as (fourcc, data) pairs.
pub(crate) fn webp_chunks(webp: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= webp.len() {
        let fourcc: [u8; 4] = webp[pos..pos + 4].try_into().unwrap();
        let len = u32::from_le_bytes(webp[pos + 4..pos + 8].try_into().unwrap()) as usize;
        out.push((fourcc, webp[pos + 8..pos + 8 + len].to_vec()));
        pos += 8 + len + (len & 1);
    }
    out
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The picture as the EXIF orientation says it should be displayed, computed here by hand
/// (independent of the crate and of `image`'s own orientation code).
pub(crate) fn upright(img: &RgbImage, orientation: u16) -> RgbImage {
    let (w, h) = img.dimensions();
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    RgbImage::from_fn(ow, oh, |x, y| {
        let (sx, sy) = match orientation {
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (y, h - 1 - x),
            7 => (w - 1 - y, h - 1 - x),
            8 => (w - 1 - y, x),
            _ => (x, y),
        };
        *img.get_pixel(sx, sy)
    })
}

/// Mean absolute difference per channel between two same-sized images.
pub(crate) fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions(), "dimensions differ");
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// Decodes a JPEG with `jpeg-decoder`, a decoder independent of the one the crate uses.
pub(crate) fn independent_jpeg_pixels(jpeg: &[u8]) -> (Vec<u8>, u16, u16) {
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(jpeg));
    let pixels = d.decode().unwrap();
    let info = d.info().unwrap();
    (pixels, info.width, info.height)
}

/// A PDF with `pages` pages of distinct media boxes, an Info dictionary, a catalog XMP stream,
/// page-level metadata and PieceInfo, each holding the secret.
pub(crate) fn pdf_with_metadata(pages: usize) -> Document {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let mut kids = Vec::new();
    for i in 0..pages {
        let content = doc.add_object(Stream::new(dictionary! {}, b"BT ET".to_vec()));
        let page_xmp = doc.add_object(Stream::new(
            dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
            [b"<x:xmpmeta>".as_slice(), SECRET].concat(),
        ));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), (600 + i as i64).into(), 800.into()],
            "Contents" => content,
            "Metadata" => page_xmp,
            "PieceInfo" => dictionary! { "App" => dictionary! { "Private" => Object::string_literal(SECRET) } },
            "LastModified" => Object::string_literal("D:20240101000000Z"),
        });
        kids.push(page.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => pages as i64,
        }),
    );
    let xmp = doc.add_object(Stream::new(
        dictionary! { "Type" => "Metadata", "Subtype" => "XML" },
        [
            b"<x:xmpmeta><dc:creator>".as_slice(),
            SECRET,
            b"</dc:creator></x:xmpmeta>",
        ]
        .concat(),
    ));
    let catalog = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
        "Metadata" => xmp,
    });
    let info = doc.add_object(dictionary! {
        "Author" => Object::string_literal(SECRET),
        "Title" => Object::string_literal("Wound photo"),
        "Producer" => Object::string_literal("Scanner 3000"),
    });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    doc
}

pub(crate) fn save(doc: &mut Document) -> Vec<u8> {
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

pub(crate) fn catalog_mut(doc: &mut Document) -> &mut Dictionary {
    doc.catalog_mut().unwrap()
}

/// Whether the external judge `tool` runs (`tool version_args` succeeds); CI installs it, and
/// with `WARD_TEST_INTEGRATION` set its absence fails the test instead of skipping `check`.
pub(crate) fn tool_available(tool: &str, version_args: &[&str], check: &str) -> bool {
    let ok = std::process::Command::new(tool)
        .args(version_args)
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("WARD_TEST_INTEGRATION").is_none(),
            "{tool} is required when WARD_TEST_INTEGRATION is set (cargo xtask ci installs it)"
        );
        eprintln!("{tool} not installed: skipping {check}");
    }
    ok
}

/// Whether `exiftool` is installed (see [`tool_available`]).
pub(crate) fn exiftool_available() -> bool {
    tool_available("exiftool", &["-ver"], "the independent metadata check")
}

/// Whether libpng's `pngfix` is installed (Debian's `libpng-tools`). It has no option that
/// exits 0 without a file, so its presence is asked of the shell; otherwise as
/// [`tool_available`].
pub(crate) fn pngfix_available() -> bool {
    tool_available("sh", &["-c", "command -v pngfix"], "the libpng check")
}

/// Whether `qpdf` is installed (see [`tool_available`]).
pub(crate) fn qpdf_available() -> bool {
    tool_available(
        "qpdf",
        &["--version"],
        "the independent pdf structure check",
    )
}

/// The Python that has Pillow: `WARD_TEST_PILLOW_PYTHON` (set by `cargo xtask ci`), else the
/// venv `cargo xtask ci` installs it into (`.services/pillow-venv`). `None`, after printing why
/// the check is skipped, when neither imports Pillow; with `WARD_TEST_INTEGRATION` set that
/// fails the test instead.
pub(crate) fn pillow_python() -> Option<std::path::PathBuf> {
    let python = std::env::var_os("WARD_TEST_PILLOW_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../.services/pillow-venv/bin/python")
        });
    let program = python.to_string_lossy().into_owned();
    tool_available(
        &program,
        &["-c", "import PIL.Image"],
        "the independent image decoder check (Pillow)",
    )
    .then_some(python)
}

/// `qpdf --check` on a file, every stream decoded (JPEG images included): `Err` with qpdf's
/// report when it finds an error or a warning.
pub(crate) fn qpdf_check(path: &std::path::Path) -> Result<(), String> {
    let out = std::process::Command::new("qpdf")
        .args(["--check", "--decode-level=all"])
        .arg(path)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Tags exiftool reports for a file, as `Group:Tag` lines (groups from `-G1`).
pub(crate) fn exiftool_tags(path: &std::path::Path) -> Vec<String> {
    let out = std::process::Command::new("exiftool")
        .args(["-a", "-G1", "-s", "-s", "-n"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The tags exiftool found that are not on the allow-list of structural tags: anything left is
/// metadata the cleaning missed.
pub(crate) fn leftover_metadata(tags: &[String]) -> Vec<String> {
    const WHOLE_GROUPS: &[&str] = &[
        "ExifTool",
        "System",
        "JFIF",
        "Composite",
        "Adobe",
        "RIFF",
        "APNG",
    ];
    const FILE: &[&str] = &[
        "FileType",
        "FileTypeExtension",
        "MIMEType",
        "ImageWidth",
        "ImageHeight",
        "EncodingProcess",
        "BitsPerSample",
        "ColorComponents",
        "YCbCrSubSampling",
    ];
    const PNG: &[&str] = &[
        "ImageWidth",
        "ImageHeight",
        "BitDepth",
        "ColorType",
        "Compression",
        "Filter",
        "Interlace",
        "Gamma",
        "WhitePointX",
        "WhitePointY",
        "RedX",
        "RedY",
        "GreenX",
        "GreenY",
        "BlueX",
        "BlueY",
        "BackgroundColor",
        "SRGBRendering",
        "Palette",
        "Transparency",
        "ProfileName",
        "AnimationFrames",
        "AnimationPlays",
        "SignificantBits",
    ];
    const PDF: &[&str] = &[
        "PDFVersion",
        "Linearized",
        "PageCount",
        "Language",
        "TaggedPDF",
        "PageMode",
        "PageLayout",
        "HasXFA",
    ];
    tags.iter()
        .filter(|line| {
            let Some((group, rest)) = line.strip_prefix('[').and_then(|l| l.split_once(']')) else {
                return true;
            };
            let tag = rest.trim_start().split(':').next().unwrap_or("").trim();
            let allowed = WHOLE_GROUPS.contains(&group)
                || group.starts_with("ICC")
                || group.starts_with("PNG-")
                || (group == "File" && FILE.contains(&tag))
                || (group == "PNG" && PNG.contains(&tag))
                || (group == "PDF" && PDF.contains(&tag));
            !allowed
        })
        .cloned()
        .collect()
}

/// One `ANMF` frame at (`x`, `y`) (even) holding a lossless image of `img` and `extra`
/// sub-chunks after it; it replaces the canvas under it (no blending).
pub(crate) fn webp_frame(img: &RgbImage, x: u32, y: u32, extra: &[Vec<u8>]) -> Vec<u8> {
    let simple = encode_webp(img);
    let mut data = Vec::new();
    for v in [x / 2, y / 2, img.width() - 1, img.height() - 1, 100] {
        data.extend_from_slice(&v.to_le_bytes()[..3]);
    }
    data.push(0x02);
    data.extend_from_slice(&simple[12..]);
    for chunk in extra {
        data.extend_from_slice(chunk);
    }
    riff_chunk(b"ANMF", &data)
}

/// An animated WebP: a VP8X header for a `width` × `height` canvas with `flags`, then `chunks`.
pub(crate) fn animated_webp(width: u32, height: u32, flags: u8, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(&riff_chunk(b"VP8X", &vp8x));
    for chunk in chunks {
        body.extend_from_slice(chunk);
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A TIFF-structured EXIF block as a phone camera writes it: IFD0 with Make (the secret) and a
/// pointer to a GPS IFD holding a latitude and longitude.
pub(crate) fn exif_tiff_with_gps() -> Vec<u8> {
    fn entry(tag: u16, ty: u16, count: u32, value: u32) -> Vec<u8> {
        [
            tag.to_be_bytes().as_slice(),
            &ty.to_be_bytes(),
            &count.to_be_bytes(),
            &value.to_be_bytes(),
        ]
        .concat()
    }
    const ASCII: u16 = 2;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    // Header (8), IFD0 with 2 entries (2 + 24 + 4), GPS IFD with 4 entries (2 + 48 + 4), data.
    let gps_ifd: u32 = 8 + 2 + 24 + 4;
    let data: u32 = gps_ifd + 2 + 48 + 4;
    let make_len = SECRET.len() as u32 + 1;
    let latitude = data + make_len;
    let longitude = latitude + 24;
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend(entry(0x010F, ASCII, make_len, data));
    tiff.extend(entry(0x8825, LONG, 1, gps_ifd));
    tiff.extend_from_slice(&[0; 4]);
    tiff.extend_from_slice(&4u16.to_be_bytes());
    // GPSLatitudeRef "N", GPSLatitude, GPSLongitudeRef "E", GPSLongitude (values inline or at
    // the offsets after the secret).
    tiff.extend(entry(0x0001, ASCII, 2, u32::from_be_bytes(*b"N\0\0\0")));
    tiff.extend(entry(0x0002, RATIONAL, 3, latitude));
    tiff.extend(entry(0x0003, ASCII, 2, u32::from_be_bytes(*b"E\0\0\0")));
    tiff.extend(entry(0x0004, RATIONAL, 3, longitude));
    tiff.extend_from_slice(&[0; 4]);
    tiff.extend_from_slice(SECRET);
    tiff.push(0);
    for (deg, min, sec) in [(52u32, 5u32, 1234u32), (4, 18, 5678)] {
        for (num, den) in [(deg, 1u32), (min, 1), (sec, 100)] {
            tiff.extend_from_slice(&num.to_be_bytes());
            tiff.extend_from_slice(&den.to_be_bytes());
        }
    }
    tiff
}

/// A camera JPEG of `img` as a scan-to-PDF app embeds it: an EXIF APP1 with a GPS IFD and an
/// XMP APP1, both holding the secret, right after SOI.
pub(crate) fn jpeg_with_gps_and_xmp(img: &RgbImage) -> Vec<u8> {
    let plain = encode_jpeg(img);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_tiff_with_gps());
    let mut xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>".to_vec();
    xmp.extend_from_slice(SECRET);
    xmp.extend_from_slice(b"</exif:GPSLatitude></x:xmpmeta>");
    let mut out = plain[..2].to_vec();
    out.extend(segment(0xE1, &exif));
    out.extend(segment(0xE1, &xmp));
    out.extend_from_slice(&plain[2..]);
    out
}

/// A one-page PDF (with [`pdf_with_metadata`]'s planted metadata) that draws one image
/// XObject: `content` stored with the stream dictionary entry `/Filter filter`. Returns the
/// document and the image's object id.
pub(crate) fn pdf_with_image(
    content: Vec<u8>,
    filter: Object,
    (width, height): (u32, u32),
) -> (Document, lopdf::ObjectId) {
    let mut doc = pdf_with_metadata(1);
    let image = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => i64::from(width),
            "Height" => i64::from(height),
            "ColorSpace" => "DeviceRGB",
            "BitsPerComponent" => 8,
            "Filter" => filter,
        },
        content,
    ));
    let draw = doc.add_object(Stream::new(
        dictionary! {},
        format!("q {width} 0 0 {height} 0 0 cm /Im1 Do Q").into_bytes(),
    ));
    let page = *doc.get_pages().values().next().unwrap();
    let page = doc.get_dictionary_mut(page).unwrap();
    page.set("Contents", draw);
    page.set(
        "Resources",
        dictionary! { "XObject" => dictionary! { "Im1" => image } },
    );
    (doc, image)
}
