use std::thread;
use std::time::Duration;

use ward_sanitize::{FileKind, Limits, Sanitizer};

use crate::common::*;

/// One file of each kind, with planted metadata, and whether staging leaves its check to run.
fn files() -> Vec<(&'static str, Vec<u8>, bool)> {
    let img = picture(64, 48);
    vec![
        ("photo.jpg", jpeg_with_metadata(&img, None), true),
        ("rotated.jpg", jpeg_with_metadata(&img, Some(6)), false),
        (
            "wound.png",
            png_insert(&encode_png(&img), &png_metadata_chunks(None)),
            true,
        ),
        ("wound.webp", webp_with_metadata(&img, None), true),
        ("rotated.webp", webp_with_metadata(&img, Some(3)), false),
        ("consent.pdf", save(&mut pdf_with_metadata(2)), false),
    ]
}

/// A JPEG whose structure strips cleanly but whose scan data holds 64 one-bits, which form no
/// Huffman code: only the content check can see it.
fn jpeg_with_bad_scan() -> Vec<u8> {
    let input = jpeg_with_metadata(&picture(64, 48), None);
    let sos = input.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let start = sos + 2 + usize::from(u16::from_be_bytes([input[sos + 2], input[sos + 3]]));
    let at = (start + 40..input.len())
        .find(|&at| input[at - 1] != 0xFF && input[at] != 0xFF)
        .unwrap();
    let mut damaged = input;
    damaged.splice(at..=at, [0xFF, 0x00].repeat(8));
    damaged
}

#[test]
fn staging_then_checking_gives_what_sanitize_gives() {
    let sanitizer = Sanitizer::new();
    for (name, input, left_to_check) in files() {
        let whole = sanitizer.sanitize(name, &input).unwrap();
        let staged = sanitizer.stage(name, &input).unwrap();
        assert_eq!(staged.is_checked(), !left_to_check, "{name}");
        assert_eq!(staged.kind(), whole.kind(), "{name}");
        assert_eq!(staged.report(), whole.report(), "{name}");
        assert_eq!(&staged.bytes()[..], whole.bytes(), "{name}");
        assert_eq!(staged.len(), whole.bytes().len(), "{name}");
        assert!(!contains(&staged.bytes(), SECRET), "{name}");
        staged.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        let shown = format!("{staged:?}");
        assert!(shown.contains(&format!("len: {}", staged.len())), "{shown}");
        // Type, length, report and the check's state: no more than `Sanitized` shows.
        let summary = format!("{whole:?}");
        assert!(shown.len() < summary.len() + 40, "{name}: {shown}");
    }
}

#[test]
fn a_file_only_the_content_check_refuses_stages_then_fails_the_check_as_sanitize_fails() {
    let sanitizer = Sanitizer::new();
    let damaged = jpeg_with_bad_scan();
    let refused = sanitizer.sanitize("p.jpg", &damaged).unwrap_err();
    let staged = sanitizer.stage("p.jpg", &damaged).unwrap();
    assert_eq!(staged.kind(), FileKind::Jpeg);
    assert!(!staged.is_checked());
    for _ in 0..2 {
        let err = staged.check().unwrap_err();
        assert_eq!(err.rule(), "parse", "{err}");
        assert_eq!(err.to_string(), refused.to_string());
    }
}

#[test]
fn what_staging_refuses_it_refuses_as_sanitize_does() {
    let sanitizer = Sanitizer::new();
    let jpeg = jpeg_with_metadata(&picture(16, 16), None);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("p.png", jpeg.clone()), // magic bytes disagree with the name
        ("p.gif", jpeg.clone()), // extension not allowed
        ("p.jpg", jpeg[..jpeg.len() / 3].to_vec()), // structure cut short
        ("p.jpg", Vec::new()),
    ];
    for (name, input) in cases {
        let whole = sanitizer.sanitize(name, &input).unwrap_err();
        let staged = sanitizer.stage(name, &input).unwrap_err();
        assert_eq!(staged.rule(), whole.rule(), "{name}");
        assert_eq!(staged.to_string(), whole.to_string(), "{name}");
    }
}

#[test]
fn the_image_time_limit_counts_from_staging() {
    let limit = Duration::from_millis(300);
    let sanitizer = Sanitizer::new().with_limits(Limits::default().with_max_image_time(limit));
    let input = jpeg_with_metadata(&picture(64, 48), None);
    let staged = sanitizer.stage("p.jpg", &input).unwrap();
    thread::sleep(limit + Duration::from_millis(100));
    let err = staged.check().unwrap_err();
    assert_eq!(err.rule(), "limit.image_time", "{err}");
    // A file staged afresh passes within the limit.
    sanitizer.stage("p.jpg", &input).unwrap().check().unwrap();
}
