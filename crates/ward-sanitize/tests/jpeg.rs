//! JPEG: segment removal, scans copied byte for byte, orientation applied.

use ward_sanitize::{Category, Sanitizer};

use crate::common::*;

#[test]
fn every_metadata_segment_and_the_trailer_are_removed() {
    let img = picture(64, 48);
    let input = jpeg_with_metadata(&img, None);
    assert!(contains(&input, SECRET));
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    let report = out.report();
    for category in [
        Category::Exif,
        Category::Xmp,
        Category::Iptc,
        Category::Comment,
        Category::ApplicationData,
        Category::Trailer,
    ] {
        assert!(report.has_removed(category), "{category} not reported");
    }
    assert_eq!(
        report.removed_bytes(Category::Trailer),
        7 + SECRET.len() as u64
    );
    assert!(!report.re_encoded());
    assert!(out.bytes().ends_with(&[0xFF, 0xD9]));
}

#[test]
fn report_never_contains_values() {
    let out = Sanitizer::new()
        .sanitize("p.jpg", &jpeg_with_metadata(&picture(16, 16), None))
        .unwrap();
    let shown = format!("{:?}", out.report());
    assert!(!shown.contains("JANE"), "{shown}");
}

#[test]
fn decoded_pixels_are_identical_by_an_independent_decoder() {
    let input = jpeg_with_metadata(&picture(123, 77), None);
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert_eq!(
        independent_jpeg_pixels(&input),
        independent_jpeg_pixels(out.bytes())
    );
}

#[test]
fn scan_data_is_copied_byte_for_byte() {
    let plain = encode_jpeg(&picture(80, 60));
    let sos = plain.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let input = jpeg_with_metadata(&picture(80, 60), None);
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    // Everything from the first scan header to EOI is the encoder's, unchanged.
    assert!(out.bytes().ends_with(&plain[sos..]));
}

#[test]
fn icc_adobe_and_jfif_are_kept_and_the_jfif_thumbnail_is_dropped() {
    let plain = encode_jpeg(&picture(32, 32));
    let icc = [b"ICC_PROFILE\0\x01\x01".as_slice(), &[7u8; 100]].concat();
    let adobe = b"Adobe\0\x64\0\0\0\0\x01".to_vec();
    // JFIF 1.02 with a 2×1 RGB thumbnail.
    let jfif = b"JFIF\0\x01\x02\0\0\x01\0\x01\x02\x01ABCDEF".to_vec();
    let seg = |m: u8, body: &[u8]| {
        let mut s = vec![0xFF, m];
        s.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
        s.extend_from_slice(body);
        s
    };
    // The encoder already wrote a JFIF APP0; replace it with ours.
    let app0_len = usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    let rest = &plain[4 + app0_len..];
    let input = [
        &plain[..2],
        &seg(0xE0, &jfif),
        &seg(0xE2, &icc),
        &seg(0xEE, &adobe),
        rest,
    ]
    .concat();
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert!(contains(out.bytes(), &seg(0xE2, &icc)));
    assert!(contains(out.bytes(), &seg(0xEE, &adobe)));
    assert!(contains(out.bytes(), b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0"));
    assert!(!contains(out.bytes(), b"ABCDEF"));
    assert_eq!(out.report().removed_bytes(Category::ApplicationData), 6);
}

#[test]
fn exif_orientation_is_applied_and_reported() {
    let img = picture(60, 40);
    for orientation in 2..=8u16 {
        let input = jpeg_with_metadata(&img, Some(orientation));
        let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
        assert_eq!(out.report().orientation_applied(), Some(orientation));
        assert!(out.report().re_encoded());
        assert!(!contains(out.bytes(), SECRET));
        let shown = image::load_from_memory(out.bytes()).unwrap().to_rgb8();
        let source = image::load_from_memory(&input).unwrap().to_rgb8();
        let expected = upright(&source, orientation);
        let diff = mean_abs_diff(&shown, &expected);
        assert!(
            diff < 3.0,
            "orientation {orientation}: mean difference {diff}"
        );
    }
}

#[test]
fn orientation_one_changes_nothing_but_metadata() {
    let input = jpeg_with_metadata(&picture(30, 20), Some(1));
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert_eq!(out.report().orientation_applied(), None);
    assert!(!out.report().re_encoded());
}

#[test]
fn truncated_or_broken_structure_is_rejected() {
    let input = jpeg_with_metadata(&picture(30, 20), None);
    let eoi = input.len() - 7 - SECRET.len();
    for cut in [3, 10, 100, eoi - 1] {
        let err = Sanitizer::new()
            .sanitize("p.jpg", &input[..cut])
            .unwrap_err();
        assert_eq!(err.rule(), "parse", "cut at {cut}: {err}");
    }
    // A segment length that runs past the end.
    let mut bad = input;
    bad[4] = 0xFF;
    bad[5] = 0xFF;
    assert_eq!(
        Sanitizer::new().sanitize("p.jpg", &bad).unwrap_err().rule(),
        "parse"
    );
}

#[test]
fn debug_output_of_a_cleaned_file_shows_no_bytes() {
    let out = Sanitizer::new()
        .sanitize("p.jpg", &encode_jpeg(&picture(8, 8)))
        .unwrap();
    let shown = format!("{out:?}");
    assert!(
        shown.contains("len") && !shown.contains("255, 216"),
        "{shown}"
    );
}
