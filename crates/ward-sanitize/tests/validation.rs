//! The three-way validation (extension, magic bytes, parse) and every limit at its boundary.

use std::io::Read;
use std::time::Duration;

use ward_sanitize::{Error, FileKind, LimitRule, Limits, NameRule, Sanitizer};

use crate::common::*;

fn small_png() -> Vec<u8> {
    encode_png(&picture(100, 50))
}

#[test]
fn extension_is_the_last_suffix_case_insensitive_after_the_path() {
    assert_eq!(
        ward_sanitize::kind_from_name("a/b\\c.d/Photo.JPG").unwrap(),
        FileKind::Jpeg
    );
    assert_eq!(
        ward_sanitize::kind_from_name("x.jpeg").unwrap(),
        FileKind::Jpeg
    );
    assert_eq!(
        ward_sanitize::kind_from_name("x.PnG").unwrap(),
        FileKind::Png
    );
    assert_eq!(
        ward_sanitize::kind_from_name("x.webp").unwrap(),
        FileKind::Webp
    );
    assert_eq!(
        ward_sanitize::kind_from_name("scan.v2.PDF").unwrap(),
        FileKind::Pdf
    );
}

#[test]
fn extension_rule_rejects_each_bad_name_with_its_reason() {
    let reason = |name: &str| match ward_sanitize::kind_from_name(name) {
        Err(Error::Name { reason }) => reason,
        other => panic!("expected a name error, got {other:?}"),
    };
    assert_eq!(reason("photo.jpg\0.exe"), NameRule::ControlCharacter);
    assert_eq!(reason("photo\n.jpg"), NameRule::ControlCharacter);
    assert_eq!(reason("photo"), NameRule::NoExtension);
    assert_eq!(reason("photo."), NameRule::NoExtension);
    assert_eq!(reason("dir.jpg/photo"), NameRule::NoExtension);
    assert_eq!(reason("photo.jpg.exe"), NameRule::NotAllowed);
    assert_eq!(reason("photo.gif"), NameRule::NotAllowed);
    assert_eq!(reason("photo.svg"), NameRule::NotAllowed);
}

/// Without the `heic` feature HEIC is refused; `tests/heic.rs` covers the feature.
#[cfg(not(feature = "heic"))]
#[test]
fn heic_is_rejected_as_unsupported_by_name_and_by_content() {
    assert!(matches!(
        ward_sanitize::kind_from_name("IMG_0001.HEIC"),
        Err(Error::UnsupportedType { detected: "heic" })
    ));
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let err = Sanitizer::new()
        .sanitize("IMG_0001.jpg", &heic)
        .unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedType { detected: "heic" }),
        "{err:?}"
    );
    assert_eq!(err.rule(), "magic");
}

#[test]
fn magic_bytes_must_be_an_accepted_type() {
    let s = Sanitizer::new();
    for (bytes, detected) in [
        (&b"GIF89a\x01\0\x01\0"[..], "gif"),
        (b"II*\0\x08\0\0\0", "tiff"),
        (b"PK\x03\x04rest", "zip"),
        (b"<html>", "unknown"),
    ] {
        match s.sanitize("x.png", bytes) {
            Err(Error::UnsupportedType { detected: d }) => assert_eq!(d, detected),
            other => panic!("expected unsupported type, got {other:?}"),
        }
    }
}

#[test]
fn extension_and_magic_must_agree() {
    let err = Sanitizer::new()
        .sanitize("photo.jpg", &small_png())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Mismatch {
            extension: FileKind::Jpeg,
            content: FileKind::Png
        }
    ));
    assert_eq!(err.rule(), "mismatch");
}

#[test]
fn a_real_parse_must_succeed() {
    // PNG signature with a valid IHDR, then garbage: magic and extension agree, parse fails.
    let mut png = small_png();
    png.truncate(60);
    let err = Sanitizer::new().sanitize("x.png", &png).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
    // JPEG magic, nothing decodable.
    let err = Sanitizer::new()
        .sanitize(
            "x.jpg",
            b"\xff\xd8\xff\xe0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xff\xd9",
        )
        .unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
    // PDF magic, no document.
    let err = Sanitizer::new()
        .sanitize("x.pdf", b"%PDF-1.7\nnothing here")
        .unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

#[test]
fn corrupt_pixel_data_fails_the_full_decode() {
    let mut png = encode_png(&picture(64, 64));
    let idat = png.windows(4).position(|w| w == b"IDAT").unwrap();
    png[idat + 10] ^= 0xFF;
    // Keep the CRC valid so only the decoder can see the damage.
    let len = u32::from_be_bytes(png[idat - 4..idat].try_into().unwrap()) as usize;
    let crc = crc32fast::hash(&png[idat..idat + 4 + len]);
    png[idat + 4 + len..idat + 8 + len].copy_from_slice(&crc.to_be_bytes());
    let err = Sanitizer::new().sanitize("x.png", &png).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

#[test]
fn file_size_limit_is_inclusive() {
    let png = small_png();
    let n = png.len() as u64;
    let at = Sanitizer::new().with_limits(Limits::default().with_max_file_bytes(n));
    assert!(at.sanitize("x.png", &png).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_file_bytes(n - 1));
    assert!(matches!(
        under.sanitize("x.png", &png),
        Err(Error::Limit(LimitRule::FileSize { limit })) if limit == n - 1
    ));
}

#[test]
fn default_file_size_limit_is_ten_mib() {
    assert_eq!(Limits::default().max_file_bytes(), 10 * 1024 * 1024);
    let mut big = small_png();
    big.resize(10 * 1024 * 1024 + 1, 0);
    assert!(matches!(
        Sanitizer::new().sanitize("x.png", &big),
        Err(Error::Limit(LimitRule::FileSize { .. }))
    ));
}

/// A reader that counts what is taken from it and never ends.
struct Endless {
    read: u64,
}

impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(b'A');
        self.read += buf.len() as u64;
        Ok(buf.len())
    }
}

#[test]
fn stream_reading_stops_one_byte_past_the_limit() {
    let limit = 4096;
    let s = Sanitizer::new().with_limits(Limits::default().with_max_file_bytes(limit));
    let mut endless = Endless { read: 0 };
    let err = s.sanitize_reader("x.png", &mut endless).unwrap_err();
    assert!(matches!(err, Error::Limit(LimitRule::FileSize { .. })));
    assert!(
        endless.read <= limit + 1 + 8192,
        "read {} bytes",
        endless.read
    );

    let png = small_png();
    let ok = Sanitizer::new()
        .with_limits(Limits::default().with_max_file_bytes(png.len() as u64))
        .sanitize_reader("x.png", png.as_slice());
    assert!(ok.is_ok());
}

#[test]
fn a_refused_name_reads_nothing() {
    let mut endless = Endless { read: 0 };
    assert!(
        Sanitizer::new()
            .sanitize_reader("x.exe", &mut endless)
            .is_err()
    );
    assert_eq!(endless.read, 0);
}

#[test]
fn empty_file_is_rejected() {
    assert!(matches!(
        Sanitizer::new().sanitize("x.png", b""),
        Err(Error::Limit(LimitRule::Empty))
    ));
}

#[test]
fn pixel_limit_is_inclusive() {
    let png = small_png(); // 100 × 50 = 5,000 pixels
    let at = Sanitizer::new().with_limits(Limits::default().with_max_pixels(5_000));
    assert!(at.sanitize("x.png", &png).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_pixels(4_999));
    assert!(matches!(
        under.sanitize("x.png", &png),
        Err(Error::Limit(LimitRule::Pixels {
            pixels: 5_000,
            limit: 4_999
        }))
    ));
    let jpeg = encode_jpeg(&picture(100, 50));
    assert!(at.sanitize("x.jpg", &jpeg).is_ok());
    assert!(matches!(
        under.sanitize("x.jpg", &jpeg),
        Err(Error::Limit(LimitRule::Pixels { .. }))
    ));
    let webp = encode_webp(&picture(100, 50));
    assert!(at.sanitize("x.webp", &webp).is_ok());
    assert!(matches!(
        under.sanitize("x.webp", &webp),
        Err(Error::Limit(LimitRule::Pixels { .. }))
    ));
}

#[test]
fn a_decompression_bomb_header_is_rejected_before_decoding() {
    // IHDR claims 60,000 × 60,000 (3.6 gigapixels) over a few bytes of data.
    let mut png = small_png();
    png[16..20].copy_from_slice(&60_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60_000u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let err = Sanitizer::new().sanitize("x.png", &png).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit(LimitRule::Pixels {
                pixels: 3_600_000_000,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn zero_width_or_height_is_rejected() {
    let mut png = small_png();
    png[16..20].copy_from_slice(&0u32.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        Sanitizer::new().sanitize("x.png", &png),
        Err(Error::Limit(LimitRule::ZeroDimension))
    ));
    let mut jpeg = encode_jpeg(&picture(16, 16));
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
    assert!(matches!(
        Sanitizer::new().sanitize("x.jpg", &jpeg),
        Err(Error::Limit(LimitRule::ZeroDimension))
    ));
}

#[test]
fn pdf_page_limit_is_inclusive_and_needs_one_page() {
    let pdf = save(&mut pdf_with_metadata(3));
    let at = Sanitizer::new().with_limits(Limits::default().with_max_pdf_pages(3));
    assert!(at.sanitize("x.pdf", &pdf).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_pdf_pages(2));
    assert!(matches!(
        under.sanitize("x.pdf", &pdf),
        Err(Error::Limit(LimitRule::PdfPages { pages: 3, limit: 2 }))
    ));
    let empty = save(&mut pdf_with_metadata(0));
    assert!(matches!(
        Sanitizer::new().sanitize("x.pdf", &empty),
        Err(Error::Limit(LimitRule::PdfPages { pages: 0, .. }))
    ));
    assert_eq!(Limits::default().max_pdf_pages(), 1_000);
}

#[test]
fn pdf_object_limit_is_inclusive() {
    let pdf = save(&mut pdf_with_metadata(2));
    let objects = lopdf::Document::load_mem(&pdf).unwrap().objects.len();
    let at = Sanitizer::new().with_limits(Limits::default().with_max_pdf_objects(objects));
    assert!(at.sanitize("x.pdf", &pdf).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_pdf_objects(objects - 1));
    assert!(matches!(
        under.sanitize("x.pdf", &pdf),
        Err(Error::Limit(LimitRule::PdfObjects { .. }))
    ));
}

#[test]
fn png_text_limit_is_inclusive_and_counts_inflated_text() {
    let png = small_png();
    let text = png_chunk(b"tEXt", &[b"k\0".as_slice(), &[b'a'; 998]].concat());
    let with_text = png_insert(&png, &[text]);
    let at = Sanitizer::new().with_limits(Limits::default().with_max_png_text_bytes(1_000));
    assert!(at.sanitize("x.png", &with_text).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_png_text_bytes(999));
    assert!(matches!(
        under.sanitize("x.png", &with_text),
        Err(Error::Limit(LimitRule::PngText { limit: 999 }))
    ));

    // A zTXt bomb: 8 MiB of zeros in a few kilobytes.
    let bomb = zlib(&vec![0u8; 8 * 1024 * 1024]);
    assert!(bomb.len() < 20_000);
    let ztxt = png_chunk(b"zTXt", &[b"k\0\0".as_slice(), &bomb].concat());
    let err = Sanitizer::new()
        .sanitize("x.png", &png_insert(&png, &[ztxt]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Limit(LimitRule::PngText { limit: 1_048_576 })),
        "{err:?}"
    );
}

#[test]
fn errors_never_echo_the_name_or_content() {
    let name = "Jane Roe wound.gif";
    let err = Sanitizer::new().sanitize(name, SECRET).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("Jane") && !shown.contains("JANE"),
        "{shown}"
    );
}

#[test]
fn pdf_object_limit_counts_objects_inside_object_streams_while_loading() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pypdf");
    // metadata.pdf keeps most of its objects in one compressed object stream.
    let pdf = std::fs::read(dir.join("metadata.pdf")).unwrap();
    assert!(contains(&pdf, b"/ObjStm"));
    assert!(Sanitizer::new().sanitize("m.pdf", &pdf).is_ok());
    let few = Sanitizer::new().with_limits(Limits::default().with_max_pdf_objects(8));
    assert!(matches!(
        few.sanitize("m.pdf", &pdf),
        Err(Error::Limit(LimitRule::PdfObjects { limit: 8 }))
    ));
}

#[test]
fn pdf_stream_inflation_limit_applies_to_object_streams() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pypdf");
    let pdf = std::fs::read(dir.join("metadata.pdf")).unwrap();
    // Its object stream inflates to exactly 1,309 bytes.
    let at = Sanitizer::new().with_limits(Limits::default().with_max_pdf_stream_bytes(1_309));
    assert!(at.sanitize("m.pdf", &pdf).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_pdf_stream_bytes(1_308));
    assert!(matches!(
        under.sanitize("m.pdf", &pdf),
        Err(Error::Limit(LimitRule::PdfStream { limit: 1_308 }))
    ));
    assert_eq!(Limits::default().max_pdf_stream_bytes(), 4 * 1024 * 1024);
}

#[test]
fn pdf_total_inflation_limit_is_inclusive() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pypdf");
    let pdf = std::fs::read(dir.join("metadata.pdf")).unwrap();
    // Its one object stream inflates to 1,309 bytes.
    let at = Sanitizer::new().with_limits(Limits::default().with_max_pdf_inflated_bytes(1_309));
    assert!(at.sanitize("m.pdf", &pdf).is_ok());
    let under = Sanitizer::new().with_limits(Limits::default().with_max_pdf_inflated_bytes(1_308));
    let err = under.sanitize("m.pdf", &pdf).unwrap_err();
    assert!(
        matches!(err, Error::Limit(LimitRule::PdfInflated { limit: 1_308 })),
        "{err:?}"
    );
    assert_eq!(err.rule(), "limit.pdf_inflated");
    assert_eq!(Limits::default().max_pdf_inflated_bytes(), 64 * 1024 * 1024);
}

#[test]
fn pdf_weight_limit_names_the_rule() {
    let pdf = save(&mut pdf_with_metadata(2));
    assert!(Sanitizer::new().sanitize("x.pdf", &pdf).is_ok());
    let light = Sanitizer::new().with_limits(Limits::default().with_max_pdf_weight(10));
    let err = light.sanitize("x.pdf", &pdf).unwrap_err();
    assert!(
        matches!(err, Error::Limit(LimitRule::PdfWeight { limit: 10 })),
        "{err:?}"
    );
    assert_eq!(err.rule(), "limit.pdf_weight");
    assert_eq!(
        err.to_string(),
        "limit exceeded: pdf objects weigh more than 10 units"
    );
    assert_eq!(Limits::default().max_pdf_weight(), 500_000);
}

#[test]
fn pdf_time_limit_stops_the_load() {
    let pdf = save(&mut pdf_with_metadata(2));
    let none = Sanitizer::new().with_limits(Limits::default().with_max_pdf_time(Duration::ZERO));
    let err = none.sanitize("x.pdf", &pdf).unwrap_err();
    assert!(
        matches!(err, Error::Limit(LimitRule::PdfTime { limit }) if limit == Duration::ZERO),
        "{err:?}"
    );
    assert_eq!(err.rule(), "limit.pdf_time");
    assert_eq!(Limits::default().max_pdf_time(), Duration::from_secs(10));
}

#[test]
fn an_image_past_its_time_limit_is_refused_with_a_limit_error() {
    let png = encode_png(&picture(16, 16));
    let jpeg = encode_jpeg(&picture(16, 16));
    let webp = encode_webp(&picture(16, 16));
    let none = Sanitizer::new().with_limits(Limits::default().with_max_image_time(Duration::ZERO));
    for (name, bytes) in [("a.png", &png), ("a.jpg", &jpeg), ("a.webp", &webp)] {
        let err = none.sanitize(name, bytes).unwrap_err();
        assert_eq!(err.rule(), "limit.image_time", "{name}: {err}");
        assert!(err.is_client_fault());
        assert!(Sanitizer::new().sanitize(name, bytes).is_ok());
    }
    assert_eq!(Limits::default().max_image_time().as_secs(), 10);
    assert!(Limits::default().max_concurrent_decodes() >= 1);
    assert_eq!(
        Limits::default()
            .with_max_concurrent_decodes(0)
            .max_concurrent_decodes(),
        1
    );
}
