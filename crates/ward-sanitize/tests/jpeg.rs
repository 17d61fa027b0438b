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
    let mut profile = vec![7u8; 130];
    profile[..4].copy_from_slice(&130u32.to_be_bytes());
    let icc = [b"ICC_PROFILE\0\x01\x01".as_slice(), &profile].concat();
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

/// A segment with its marker and length.
fn jpeg_segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
    s.extend_from_slice(body);
    s
}

#[test]
fn segments_outside_the_allow_list_and_adobe_trailing_bytes_are_removed() {
    let plain = encode_jpeg(&picture(48, 40));
    let adobe = b"Adobe\0\x64\0\0\0\0\x01";
    let adobe_padded = [adobe.as_slice(), b"GPS 52.1,4.3 behind adobe"].concat();
    let mut hidden = Vec::new();
    // JPGn extensions, a reserved marker, EXP and DHP: decoders skip them, so they could
    // carry anything past a denylist.
    for marker in [0xF0, 0xF7, 0xFD, 0x02, 0xBF, 0xDF, 0xDE] {
        hidden.extend_from_slice(&jpeg_segment(marker, b"GPS 52.1,4.3"));
    }
    let input = [
        &plain[..2],
        &hidden,
        &jpeg_segment(0xEE, &adobe_padded),
        &plain[2..],
    ]
    .concat();
    assert!(contains(&input, b"GPS 52.1,4.3"));
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert!(!contains(out.bytes(), b"GPS"), "payload survived");
    // The Adobe segment is kept at its fixed 12-byte length, the rest counted as removed.
    assert!(contains(out.bytes(), &jpeg_segment(0xEE, adobe)));
    assert_eq!(
        out.report().removed_bytes(Category::ApplicationData),
        (adobe_padded.len() - adobe.len()) as u64
    );
    // The independent decoder refuses JPGn markers, so it judges the output against the
    // encoder's file with a bare Adobe segment; ward's decoder judges it against the input.
    let bare = [&plain[..2], &jpeg_segment(0xEE, adobe), &plain[2..]].concat();
    assert_eq!(
        independent_jpeg_pixels(&bare),
        independent_jpeg_pixels(out.bytes())
    );
    assert_eq!(
        image::load_from_memory(&input).unwrap().to_rgb8(),
        image::load_from_memory(out.bytes()).unwrap().to_rgb8()
    );
}

#[test]
fn icc_segments_are_kept_at_the_profile_length() {
    let plain = encode_jpeg(&picture(32, 32));
    // A 200-byte "profile" (its first four bytes give its size) split over two chunks, the
    // second followed by bytes beyond the profile.
    let mut profile = [0u8; 200];
    profile[..4].copy_from_slice(&200u32.to_be_bytes());
    profile[36..40].copy_from_slice(b"acsp");
    let first = [b"ICC_PROFILE\0\x01\x02".as_slice(), &profile[..120]].concat();
    let second = [
        b"ICC_PROFILE\0\x02\x02".as_slice(),
        &profile[120..],
        b"GPS 52.1,4.3",
    ]
    .concat();
    let input = [
        &plain[..2],
        &jpeg_segment(0xE2, &first),
        &jpeg_segment(0xE2, &second),
        &plain[2..],
    ]
    .concat();
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert!(!contains(out.bytes(), b"GPS"));
    assert!(contains(out.bytes(), &jpeg_segment(0xE2, &first)));
    assert!(contains(
        out.bytes(),
        &jpeg_segment(0xE2, &second[..second.len() - 12])
    ));
    assert_eq!(out.report().removed_bytes(Category::ApplicationData), 12);
    // Chunks out of sequence are refused, not half-kept.
    let swapped = [
        &plain[..2],
        &jpeg_segment(0xE2, &second),
        &jpeg_segment(0xE2, &first),
        &plain[2..],
    ]
    .concat();
    let err = Sanitizer::new().sanitize("p.jpg", &swapped).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

#[test]
fn variants_the_decoder_cannot_read_are_refused_by_name() {
    let plain = encode_jpeg(&picture(16, 16));
    let sof = plain.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    for (marker, precision, named) in [
        (0xC9, 8, "arithmetic coding"),
        (0xCA, 8, "arithmetic coding"),
        (0xCF, 8, "arithmetic coding"),
        (0xC3, 8, "lossless"),
        (0xC5, 8, "hierarchical"),
        (0xC0, 12, "12-bit samples"),
        (0xC1, 12, "12-bit samples"),
    ] {
        let mut input = plain.clone();
        input[sof + 1] = marker;
        input[sof + 4] = precision;
        let err = Sanitizer::new().sanitize("p.jpg", &input).unwrap_err();
        assert_eq!(err.rule(), "unsupported_variant", "{marker:#x}: {err}");
        assert!(err.to_string().contains(named), "{err}");
        assert!(err.is_client_fault());
    }
    let mut odd = plain;
    odd[sof + 4] = 9;
    let err = Sanitizer::new().sanitize("p.jpg", &odd).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

/// The JPEG variants libjpeg writes (`tests/corpus/libjpeg/`, made by its `make.py`): baseline
/// 4:2:0, 4:2:2 and 4:4:4, optimised tables, restart markers, greyscale, CMYK with the Adobe
/// segment, progressive files of each kind, and sequential files with one scan per component.
fn libjpeg_variants() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/libjpeg");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 14, "{} variants", files.len());
    files
}

/// Where the first scan's entropy-coded data starts and ends (at the first marker that is not
/// a restart marker).
fn first_scan(jpeg: &[u8]) -> (usize, usize) {
    let mut pos = 2;
    loop {
        assert_eq!(jpeg[pos], 0xFF);
        let marker = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        pos += 2 + len;
        if marker == 0xDA {
            let mut end = pos;
            while jpeg[end] != 0xFF || matches!(jpeg[end + 1], 0x00 | 0xD0..=0xD7) {
                end += 1;
            }
            return (pos, end);
        }
    }
}

fn is_progressive(jpeg: &[u8]) -> bool {
    jpeg.windows(2).any(|w| w == [0xFF, 0xC2])
}

fn refused(name: &str, jpeg: &[u8]) -> String {
    match Sanitizer::new().sanitize("p.jpg", jpeg) {
        Ok(_) => panic!("{name}: accepted"),
        Err(e) => {
            assert_eq!(e.rule(), "parse", "{name}: {e}");
            e.to_string()
        }
    }
}

#[test]
fn every_libjpeg_variant_is_accepted_with_pixels_unchanged() {
    for (name, input) in libjpeg_variants() {
        let with_metadata = [&input[..2], &jpeg_metadata_segments(None), &input[2..]].concat();
        let out = Sanitizer::new()
            .sanitize("p.jpg", &with_metadata)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            independent_jpeg_pixels(&input),
            independent_jpeg_pixels(out.bytes()),
            "{name}"
        );
        assert!(!contains(out.bytes(), SECRET), "{name}");
    }
}

#[test]
fn bits_that_form_no_huffman_code_are_refused_in_every_variant() {
    // 64 one-bits: whatever code they start in, a code that begins inside them is at least 16
    // ones long, which no valid table holds. The first scan of a progressive file is its DC scan.
    for (name, input) in libjpeg_variants() {
        let (start, end) = first_scan(&input);
        // In place of a byte a third of the way in, away from any marker or stuffed byte.
        let at = (start + (end - start) / 3..end)
            .find(|&at| input[at - 1] != 0xFF && input[at] != 0xFF)
            .unwrap();
        let mut damaged = input.clone();
        damaged.splice(at..=at, [0xFF, 0x00].repeat(8));
        refused(&name, &damaged);
    }
}

#[test]
fn sequential_scan_data_that_ends_early_is_refused() {
    // Cut in the middle of the scan and closed with a proper end-of-image marker: a decoder
    // that makes pixels pads the rest with zero bits; the walk needs every block's bits.
    for (name, input) in libjpeg_variants() {
        if is_progressive(&input) {
            continue;
        }
        let (start, end) = first_scan(&input);
        let mut cut = input[..start + (end - start) / 2].to_vec();
        if cut.ends_with(&[0xFF]) {
            cut.pop();
        }
        cut.extend_from_slice(&[0xFF, 0xD9]);
        let err = refused(&name, &cut);
        assert!(err.contains("ends before its last block"), "{name}: {err}");
    }
}

#[test]
fn bytes_after_a_scans_last_block_are_refused() {
    for (name, input) in libjpeg_variants() {
        if is_progressive(&input) {
            continue;
        }
        let (_, end) = first_scan(&input);
        let mut padded = input.clone();
        padded.splice(end..end, [0x12, 0x34]);
        let err = refused(&name, &padded);
        assert!(err.contains("extra bytes"), "{name}: {err}");
    }
}

#[test]
fn restart_markers_must_come_in_sequence() {
    for name in [
        "restart_blocks.jpg",
        "restart_rows.jpg",
        "sequential_scans_restart.jpg",
    ] {
        let input = libjpeg_variants()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        let (start, end) = first_scan(&input);
        let rst = start
            + input[start..end]
                .windows(2)
                .position(|w| w == [0xFF, 0xD0])
                .unwrap();
        let mut skipped = input.clone();
        skipped[rst + 1] = 0xD1;
        let err = refused(name, &skipped);
        assert!(
            err.contains("restart marker out of sequence"),
            "{name}: {err}"
        );
        // Without the marker the next interval's bytes run on after the first's last block.
        let mut dropped = input.clone();
        dropped.drain(rst..rst + 2);
        refused(name, &dropped);
    }
}

#[test]
fn a_rotated_jpeg_is_checked_as_strictly_before_its_pixels_are_decoded() {
    // The orientation fix decodes pixels with a lenient decoder; the strict check runs first.
    let input = jpeg_with_metadata(&picture(64, 48), Some(6));
    assert!(Sanitizer::new().sanitize("p.jpg", &input).is_ok());
    let (start, end) = first_scan(&input);
    let at = (start + (end - start) / 2..end)
        .find(|&at| input[at - 1] != 0xFF && input[at] != 0xFF)
        .unwrap();
    let mut damaged = input;
    damaged.splice(at..=at, [0xFF, 0x00].repeat(8));
    let err = refused("rotated", &damaged);
    assert!(err.contains("huffman code not in the table"), "{err}");
}

#[test]
fn single_bit_flips_in_scan_data_are_often_refused() {
    // JPEG has no checksum, so many flips still decode; a lenient decoder (grey pixels instead
    // of an error) refuses none. Prints the share refused; fails if it falls below a tenth.
    let (mut flips, mut refused_flips) = (0, 0);
    for (name, input) in libjpeg_variants() {
        let (start, end) = first_scan(&input);
        let (mut tried, mut refused) = (0, 0);
        for (i, at) in (start + 1..end).step_by(3).enumerate() {
            let mut damaged = input.clone();
            damaged[at] ^= 1 << (i % 8);
            if [input[at - 1], input[at], damaged[at]].contains(&0xFF) {
                continue; // markers and stuffed bytes are the container's business
            }
            tried += 1;
            if let Err(e) = Sanitizer::new().sanitize("p.jpg", &damaged) {
                assert_eq!(e.rule(), "parse", "{name}: {e}");
                refused += 1;
            }
        }
        println!("{name}: {refused} of {tried} single-bit flips refused");
        flips += tried;
        refused_flips += refused;
    }
    println!("all variants: {refused_flips} of {flips} refused");
    assert!(refused_flips * 10 >= flips, "{refused_flips} of {flips}");
}

#[test]
fn app_segments_are_kept_by_their_signature_and_size_not_their_marker() {
    let plain = encode_jpeg(&picture(32, 32));
    // Without the encoder's JFIF APP0, so that no kept segment says JFIF or Adobe.
    let app0_len = usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    let rest = &plain[4 + app0_len..];
    let mut ext_xmp = b"http://ns.adobe.com/xmp/extension/\0".to_vec();
    ext_xmp.extend_from_slice(&[b'0'; 32]);
    ext_xmp.extend_from_slice(SECRET);
    let dropped_app = [
        // JFIF one byte short of its header, a JFXX thumbnail extension.
        jpeg_segment(0xE0, b"JFIF\0\x01\x02\0\0\x01\0\x01\0"),
        jpeg_segment(0xE0, &[b"JFXX\0\x10".as_slice(), &[9; 20]].concat()),
        // An APP14 that is not Adobe's, and Adobe's one byte short of its 12.
        jpeg_segment(0xEE, &[b"NotAdobe".as_slice(), &[0; 12]].concat()),
        jpeg_segment(0xEE, b"Adobe\0\x64\0\0\0\0"),
        // An APP1 that is neither EXIF nor XMP.
        jpeg_segment(0xE1, &[b"FLIR\0\x01".as_slice(), &[0; 20]].concat()),
    ];
    let xmp = jpeg_segment(0xE1, &ext_xmp);
    let input = [&plain[..2], &dropped_app.concat(), &xmp, rest].concat();
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    for gone in [
        &b"JFIF"[..],
        b"JFXX",
        b"Adobe",
        b"FLIR",
        b"xmp/extension",
        SECRET,
    ] {
        assert!(
            !contains(out.bytes(), gone),
            "{}",
            String::from_utf8_lossy(gone)
        );
    }
    let report = out.report();
    assert_eq!(report.removed_bytes(Category::Xmp), xmp.len() as u64);
    assert_eq!(
        report.removed_bytes(Category::ApplicationData),
        dropped_app.iter().map(Vec::len).sum::<usize>() as u64
    );
    // The decoder used here refuses the short Adobe segment: it judges against the encoder's file.
    assert_eq!(
        image::load_from_memory(&plain).unwrap().to_rgb8(),
        image::load_from_memory(out.bytes()).unwrap().to_rgb8()
    );
}

/// The encoder's file with `segments` in place of its JFIF APP0.
fn plain_with(plain: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let app0_len = usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    [&plain[..2], &segments.concat(), &plain[4 + app0_len..]].concat()
}

#[test]
fn a_file_of_kept_segments_at_their_sizes_reports_nothing() {
    // JFIF without a thumbnail (14 bytes), Adobe at its 12 bytes, an ICC chunk holding exactly
    // its profile, and nothing after end-of-image: nothing was removed, nothing is reported.
    let plain = encode_jpeg(&picture(32, 32));
    let jfif = b"JFIF\0\x01\x02\0\0\x01\0\x01\0\0";
    let mut profile = vec![7u8; 128];
    profile[..4].copy_from_slice(&128u32.to_be_bytes());
    let icc = [b"ICC_PROFILE\0\x01\x01".as_slice(), &profile].concat();
    let adobe = b"Adobe\0\x64\0\0\0\0\x01";
    let input = plain_with(
        &plain,
        &[
            jpeg_segment(0xE0, jfif),
            jpeg_segment(0xE2, &icc),
            jpeg_segment(0xEE, adobe),
        ],
    );
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert_eq!(out.bytes(), input.as_slice());
    assert!(out.report().removed().is_empty(), "{:?}", out.report());
}

#[test]
fn standalone_markers_and_empty_segments_outside_a_scan_are_removed() {
    let plain = encode_jpeg(&picture(32, 32));
    // TEM and a restart marker carry no length; an empty comment is a length of 2 alone.
    let input = [
        &plain[..2],
        &[0xFF, 0x01, 0xFF, 0xD0][..],
        &jpeg_segment(0xFE, b""),
        &plain[2..],
    ]
    .concat();
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert_eq!(out.bytes(), plain.as_slice());
    assert_eq!(out.report().removed_bytes(Category::OtherSegment), 4);
    assert_eq!(out.report().removed_bytes(Category::Comment), 4);
}

#[test]
fn broken_structure_is_refused_with_its_reason() {
    let plain = encode_jpeg(&picture(32, 32));
    let sos = plain.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let sof = plain.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let sof_len = usize::from(u16::from_be_bytes([plain[sof + 2], plain[sof + 3]]));
    let insert = |at: usize, bytes: &[u8]| [&plain[..at], bytes, &plain[at..]].concat();
    let cases = [
        (insert(2, &[0xFF, 0xD8]), "second start-of-image marker"),
        (insert(2, &[0xFF, 0x00]), "invalid marker code"),
        (
            insert(2, &[0xFF, 0xFE, 0x00, 0x00]),
            "segment length below 2",
        ),
        (
            insert(2, &[0xFF, 0xFE, 0x00, 0x01]),
            "segment length below 2",
        ),
        (
            [&plain[..sos], &[0xFF, 0xD9][..]].concat(),
            "no frame or scan before end-of-image",
        ),
        (
            // Precision, height and width, one byte short of the width.
            [
                &plain[..sof],
                &jpeg_segment(0xC0, &[8, 0, 32, 0, 32]),
                &plain[sof + 2 + sof_len..],
            ]
            .concat(),
            "short frame header",
        ),
    ];
    for (input, reason) in cases {
        let err = refused(reason, &input);
        assert!(err.contains(reason), "{reason}: {err}");
    }
}

#[test]
fn of_two_exif_segments_the_first_gives_the_orientation() {
    let plain = encode_jpeg(&picture(40, 30));
    let exif = |o: u16| [b"Exif\0\0".as_slice(), &exif_tiff(Some(o))].concat();
    let input = plain_with(
        &plain,
        &[jpeg_segment(0xE1, &exif(6)), jpeg_segment(0xE1, &exif(3))],
    );
    let out = Sanitizer::new().sanitize("p.jpg", &input).unwrap();
    assert_eq!(out.report().orientation_applied(), Some(6));
}

/// An ICC chunk: its sequence number, the chunk count, then part of the profile.
fn icc_chunk(sequence: u8, count: u8, payload: &[u8]) -> Vec<u8> {
    let body = [b"ICC_PROFILE\0".as_slice(), &[sequence, count], payload].concat();
    jpeg_segment(0xE2, &body)
}

#[test]
fn icc_chunks_must_agree_with_each_other_and_with_the_profile_size() {
    let plain = encode_jpeg(&picture(32, 32));
    let profile = |size: u32, len: usize| {
        let mut p = vec![7u8; len];
        p[..4].copy_from_slice(&size.to_be_bytes());
        p
    };
    let p200 = profile(200, 200);
    let cases = [
        // The second chunk says there are three.
        (
            vec![icc_chunk(1, 2, &p200[..120]), icc_chunk(2, 3, &p200[120..])],
            "icc profile chunks out of sequence",
        ),
        // The count says three chunks, the profile is complete after two: a third is refused.
        (
            vec![
                icc_chunk(1, 3, &p200[..120]),
                icc_chunk(2, 3, &p200[120..]),
                icc_chunk(3, 3, b""),
            ],
            "more icc profile chunks than the profile",
        ),
        // A profile smaller than the 128-byte header it must have.
        (
            vec![icc_chunk(1, 1, &profile(127, 127))],
            "icc profile shorter than its header",
        ),
        // The count says two chunks, the profile ended in the first and no second came.
        (
            vec![icc_chunk(1, 2, &p200)],
            "icc profile chunks incomplete",
        ),
        // One chunk of one, shorter than the profile it declares.
        (
            vec![icc_chunk(1, 1, &p200[..150])],
            "icc profile chunks incomplete",
        ),
        // The first chunk of two, and no second.
        (
            vec![icc_chunk(1, 2, &p200[..120])],
            "icc profile chunks incomplete",
        ),
    ];
    for (chunks, reason) in cases {
        let err = refused(reason, &plain_with(&plain, &chunks));
        assert!(err.contains(reason), "{reason}: {err}");
    }
    // The smallest profile, its header alone, is kept whole.
    let smallest = icc_chunk(1, 1, &profile(128, 128));
    let out = Sanitizer::new()
        .sanitize(
            "p.jpg",
            &plain_with(&plain, std::slice::from_ref(&smallest)),
        )
        .unwrap();
    assert!(contains(out.bytes(), &smallest));
}
