//! PNG: chunk removal with CRCs checked, image data untouched, APNG kept.

use ward_sanitize::{Category, Error, LimitRule, Sanitizer};

use crate::common::*;

#[test]
fn text_exif_time_and_private_chunks_are_removed() {
    let png = encode_png(&picture(40, 30));
    let input = png_insert(&png, &png_metadata_chunks(None));
    assert!(contains(&input, SECRET));
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    for ty in [b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME", b"prVt"] {
        assert!(png_chunks_of(out.bytes(), ty).is_empty(), "{ty:?} left");
    }
    let r = out.report();
    assert_eq!(
        r.removed()
            .iter()
            .find(|x| x.category == Category::Text)
            .unwrap()
            .count,
        3
    );
    assert!(r.has_removed(Category::Exif));
    assert!(r.has_removed(Category::Time));
    assert!(r.has_removed(Category::OtherChunk));
    assert!(!r.re_encoded());
}

#[test]
fn colour_chunks_are_kept_with_valid_crcs() {
    let png = encode_png(&picture(40, 30));
    let icc = [b"prof\0\0".as_slice(), &zlib(&[1u8; 64])].concat();
    let input = png_insert(
        &png,
        &[
            png_chunk(b"iCCP", &icc),
            png_chunk(b"cHRM", &[0u8; 32]),
            png_chunk(b"sRGB", &[0]),
            png_chunk(b"gAMA", &45455u32.to_be_bytes()),
            png_chunk(b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 1]),
        ],
    );
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    for ty in [b"iCCP", b"cHRM", b"sRGB", b"gAMA", b"pHYs"] {
        assert!(!png_chunks_of(out.bytes(), ty).is_empty(), "{ty:?} dropped");
    }
    // Every chunk's CRC is valid (checked here without the crate).
    let b = out.bytes();
    let mut pos = 8;
    while pos < b.len() {
        let len = u32::from_be_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_be_bytes(b[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(crc32fast::hash(&b[pos + 4..pos + 8 + len]), crc);
        pos += 12 + len;
    }
    assert_eq!(pos, b.len());
}

#[test]
fn image_data_is_byte_identical_and_decodes_the_same() {
    let png = encode_png(&picture(70, 50));
    let input = png_insert(&png, &png_metadata_chunks(None));
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    for ty in [b"IHDR", b"IDAT", b"IEND"] {
        assert_eq!(png_chunks_of(&input, ty), png_chunks_of(out.bytes(), ty));
    }
    assert_eq!(
        image::load_from_memory(&input).unwrap().to_rgba8(),
        image::load_from_memory(out.bytes()).unwrap().to_rgba8()
    );
}

#[test]
fn bad_crc_is_rejected() {
    let png = encode_png(&picture(10, 10));
    let mut text = png_chunk(b"tEXt", b"k\0v");
    let n = text.len();
    text[n - 1] ^= 1;
    let err = Sanitizer::new()
        .sanitize("p.png", &png_insert(&png, &[text]))
        .unwrap_err();
    assert_eq!(err.rule(), "parse");
    assert!(err.to_string().contains("crc"), "{err}");
}

#[test]
fn a_chunk_length_is_at_most_2_pow_31_minus_1_and_within_the_file() {
    // The specification's bound, checked before the length is used: 2^31-1 is a legal length
    // (this file is just too short for it), 2^31 is not.
    let png = encode_png(&picture(10, 10));
    for (len, says) in [
        (0x7FFF_FFFF_u32, "runs past the end"),
        (0x8000_0000, "above 2^31-1"),
        (u32::MAX, "above 2^31-1"),
    ] {
        let mut chunk = png_chunk(b"tEXt", b"k\0v");
        chunk[..4].copy_from_slice(&len.to_be_bytes());
        let err = Sanitizer::new()
            .sanitize("p.png", &png_insert(&png, &[chunk]))
            .unwrap_err();
        assert_eq!(err.rule(), "parse", "{len:#x}: {err}");
        assert!(err.to_string().contains(says), "{len:#x}: {err}");
    }
}

#[test]
fn unknown_critical_chunk_is_rejected() {
    let png = encode_png(&picture(10, 10));
    let err = Sanitizer::new()
        .sanitize("p.png", &png_insert(&png, &[png_chunk(b"ABCD", b"x")]))
        .unwrap_err();
    assert_eq!(err.rule(), "parse");
}

#[test]
fn trailing_bytes_after_iend_are_removed() {
    let mut input = encode_png(&picture(10, 10));
    input.extend_from_slice(SECRET);
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    assert!(!contains(out.bytes(), SECRET));
    assert_eq!(
        out.report().removed_bytes(Category::Trailer),
        SECRET.len() as u64
    );
}

#[test]
fn apng_keeps_its_animation_chunks() {
    let png = encode_png(&picture(8, 8));
    // acTL: 1 frame, loop forever; fcTL for the default image (sequence 0).
    let mut fctl = 0u32.to_be_bytes().to_vec();
    fctl.extend_from_slice(&8u32.to_be_bytes());
    fctl.extend_from_slice(&8u32.to_be_bytes());
    fctl.extend_from_slice(&[0; 8]);
    fctl.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
    let input = png_insert(
        &png,
        &[
            png_chunk(b"acTL", &[0, 0, 0, 1, 0, 0, 0, 0]),
            png_chunk(b"fcTL", &fctl),
            png_chunk(b"tEXt", &[b"k\0".as_slice(), SECRET].concat()),
        ],
    );
    let out = Sanitizer::new().sanitize("a.png", &input).unwrap();
    assert_eq!(
        png_chunks_of(out.bytes(), b"acTL"),
        [0, 0, 0, 1, 0, 0, 0, 0]
    );
    assert_eq!(png_chunks_of(out.bytes(), b"fcTL"), fctl);
    assert!(!contains(out.bytes(), SECRET));
}

#[test]
fn exif_orientation_in_png_is_applied_exactly() {
    let img = picture(30, 20);
    for orientation in 2..=8u16 {
        let input = png_insert(&encode_png(&img), &png_metadata_chunks(Some(orientation)));
        let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
        assert_eq!(out.report().orientation_applied(), Some(orientation));
        let shown = image::load_from_memory(out.bytes()).unwrap().to_rgb8();
        assert_eq!(
            shown,
            upright(&img, orientation),
            "orientation {orientation}"
        );
        assert!(!contains(out.bytes(), SECRET));
    }
}

/// An APNG of an 8×8 picture whose default image is frame 0 and whose second frame is
/// `width` × `height` at (`x`, `y`).
fn apng_with_second_frame(width: u32, height: u32, x: u32, y: u32) -> Vec<u8> {
    let png = encode_png(&picture(8, 8));
    let fctl = |sequence: u32, w: u32, h: u32, x: u32, y: u32| {
        let mut c = Vec::new();
        for v in [sequence, w, h, x, y] {
            c.extend_from_slice(&v.to_be_bytes());
        }
        c.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
        png_chunk(b"fcTL", &c)
    };
    let with_first = png_insert(
        &png,
        &[
            png_chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]),
            fctl(0, 8, 8, 0, 0),
        ],
    );
    // The second frame's data: one filter byte and a grey pixel per row, compressed.
    let rows: Vec<u8> = (0..height.min(64))
        .flat_map(|_| {
            std::iter::once(0).chain(std::iter::repeat_n(128, 3 * width.min(64) as usize))
        })
        .collect();
    let fdat = [2u32.to_be_bytes().as_slice(), &zlib(&rows)].concat();
    let iend = with_first.len() - 12;
    [
        &with_first[..iend],
        &fctl(1, width, height, x, y),
        &png_chunk(b"fdAT", &fdat),
        &with_first[iend..],
    ]
    .concat()
}

#[test]
fn every_apng_frame_is_checked_against_the_limits_and_the_canvas() {
    let fine = apng_with_second_frame(4, 4, 4, 4);
    Sanitizer::new().sanitize("a.png", &fine).unwrap();
    let huge = apng_with_second_frame(100_000, 100_000, 0, 0);
    let err = Sanitizer::new().sanitize("a.png", &huge).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit(LimitRule::Pixels {
                pixels: 10_000_000_000,
                ..
            })
        ),
        "{err:?}"
    );
    for (w, h, x, y) in [(8, 8, 4, 0), (4, 4, 0, 6), (1, 1, u32::MAX, 0)] {
        let outside = apng_with_second_frame(w, h, x, y);
        let err = Sanitizer::new().sanitize("a.png", &outside).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Limit(LimitRule::FrameOutsideCanvas { frame: 1 })
            ),
            "{w}x{h} at {x},{y}: {err:?}"
        );
        assert_eq!(err.rule(), "limit.frame_outside_canvas");
    }
    let empty = apng_with_second_frame(0, 4, 0, 0);
    let err = Sanitizer::new().sanitize("a.png", &empty).unwrap_err();
    assert_eq!(err.rule(), "limit.zero_dimension");
}

/// `png` with its (single) IDAT chunk's data rewritten by `edit`, CRC recomputed.
fn with_idat(png: &[u8], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let at = png.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
    let mut data = png[at + 8..at + 8 + len].to_vec();
    edit(&mut data);
    [
        &png[..at],
        &png_chunk(b"IDAT", &data),
        &png[at + 12 + len..],
    ]
    .concat()
}

/// A named edit of a PNG's image data.
type Edit = (&'static str, Box<dyn Fn(&mut Vec<u8>)>);

#[test]
fn image_data_must_be_one_complete_zlib_stream_with_its_checksum() {
    let png = encode_png(&picture(16, 16));
    Sanitizer::new()
        .sanitize("p.png", &with_idat(&png, |_| {}))
        .unwrap();
    let cases: [Edit; 4] = [
        // Decoders that skip the Adler-32 check accept this; others refuse it.
        ("bad adler-32", Box::new(|d| *d.last_mut().unwrap() ^= 0xFF)),
        ("truncated stream", Box::new(|d| d.truncate(d.len() - 6))),
        (
            "bytes after the stream",
            Box::new(|d| d.extend_from_slice(b"GPS")),
        ),
        (
            "a stream of the wrong size",
            Box::new(|d| *d = zlib(&[0u8; 16 * 49 + 1])),
        ),
    ];
    for (what, edit) in cases {
        let err = Sanitizer::new()
            .sanitize("p.png", &with_idat(&png, edit))
            .unwrap_err();
        assert_eq!(err.rule(), "parse", "{what}: {err}");
    }
    // The structural strip alone (not a validator) walks the image data without inflating it.
    let bad_adler = with_idat(&png, |d| *d.last_mut().unwrap() ^= 0xFF);
    assert!(
        Sanitizer::new()
            .strip_image(ward_sanitize::FileKind::Png, &bad_adler)
            .is_ok()
    );
}

#[test]
fn malformed_rendering_hints_are_dropped_and_bad_transparency_refused() {
    let img = picture(8, 8);
    let png = encode_png(&img);
    let good_gama = png_chunk(b"gAMA", &45455u32.to_be_bytes());
    let input = png_insert(
        &png,
        &[
            good_gama.clone(),
            png_chunk(b"cHRM", &[0; 31]),
            png_chunk(b"sRGB", &[9]),
            png_chunk(b"pHYs", &[0, 0, 0, 1, 0, 0, 0, 1, 7]),
            png_chunk(b"iCCP", &[b"icc\0\0".as_slice(), b"not zlib"].concat()),
            png_chunk(b"bKGD", &[0; 5]),
        ],
    );
    let icc = |name: &[u8]| {
        let mut profile = vec![0u8; 200];
        profile[..4].copy_from_slice(&200u32.to_be_bytes());
        png_chunk(b"iCCP", &[name, b"\0\0", &zlib(&profile)].concat())
    };
    // The first well-formed iCCP is kept, a second one dropped.
    let two_profiles = png_insert(&png, &[icc(b"first"), icc(b"second")]);
    let out_icc = Sanitizer::new().sanitize("p.png", &two_profiles).unwrap();
    assert!(contains(out_icc.bytes(), &icc(b"first")));
    assert!(!contains(out_icc.bytes(), b"second"));
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    assert!(contains(out.bytes(), &good_gama));
    for ty in [b"cHRM", b"sRGB", b"pHYs", b"iCCP", b"bKGD"] {
        assert!(
            !contains(out.bytes(), ty),
            "{}",
            String::from_utf8_lossy(ty)
        );
    }
    assert_eq!(out.report().removed()[0].category, Category::OtherChunk);
    assert_eq!(out.report().removed()[0].count, 5);
    assert_eq!(image::load_from_memory(out.bytes()).unwrap().to_rgb8(), img);
    let bad_trns = png_insert(&png, &[png_chunk(b"tRNS", &[0; 4])]);
    let err = Sanitizer::new().sanitize("p.png", &bad_trns).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

/// A 4×2 PNG of `color_type` at bit depth 8 with `chunks` before its image data (a palette
/// image needs its PLTE among them); every pixel is sample value (or palette index) 0.
fn raw_png(color_type: u8, chunks: &[Vec<u8>]) -> Vec<u8> {
    let channels = match color_type {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };
    let (width, height) = (4u32, 2u32);
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
    let rows: Vec<u8> = (0..height)
        .flat_map(|_| std::iter::once(0).chain(std::iter::repeat_n(0, 4 * channels)))
        .collect();
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend(png_chunk(b"IDAT", &zlib(&rows)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// A palette of `n` entries.
fn plte(n: usize) -> Vec<u8> {
    png_chunk(b"PLTE", &vec![7; 3 * n])
}

/// Whether `chunk` comes out of cleaning `png` unchanged; the output must still decode.
fn keeps(png: &[u8], chunk: &[u8]) -> bool {
    let out = Sanitizer::new().sanitize("p.png", png).unwrap();
    image::load_from_memory(out.bytes()).unwrap();
    contains(out.bytes(), chunk)
}

#[test]
fn every_rendering_hint_is_kept_only_at_its_specified_size_and_values() {
    // Each chunk alone in an RGB image: (chunk, kept).
    let cases: &[(&[u8; 4], &[u8], bool)] = &[
        (b"gAMA", &45455u32.to_be_bytes(), true),
        (b"gAMA", &[0, 0, 1], false),
        (b"cHRM", &[0; 32], true),
        (b"cHRM", &[0; 33], false),
        (b"sRGB", &[3], true),
        (b"sRGB", &[4], false),
        (b"sRGB", &[0, 0], false),
        (b"cICP", &[1, 13, 0, 1], true),
        (b"cICP", &[1, 13, 0], false),
        (b"mDCv", &[1; 24], true),
        (b"mDCv", &[1; 23], false),
        (b"cLLi", &[1; 8], true),
        (b"cLLi", &[1; 7], false),
        (b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 0], true),
        (b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 2], false),
        (b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19], false),
        (b"sBIT", &[8, 8, 8], true),
        (b"sBIT", &[8, 8, 8, 8], false),
        (b"bKGD", &[0, 1, 0, 2, 0, 3], true),
        (b"bKGD", &[0, 1], false),
    ];
    let png = encode_png(&picture(8, 8));
    for &(ty, data, kept) in cases {
        let chunk = png_chunk(ty, data);
        let input = png_insert(&png, std::slice::from_ref(&chunk));
        assert_eq!(
            keeps(&input, &chunk),
            kept,
            "{} of {} bytes",
            String::from_utf8_lossy(ty),
            data.len()
        );
    }
}

#[test]
fn sizes_that_depend_on_the_colour_type_follow_it() {
    // (colour type, chunk, kept): sBIT has one byte per channel (three for a palette), bKGD
    // one palette index, a grey level or an RGB triple of 16-bit samples; tRNS one grey level,
    // one RGB triple, or at most one alpha per palette entry, and never with an alpha channel.
    let cases: &[(u8, &[u8; 4], &[u8], bool)] = &[
        (0, b"sBIT", &[8], true),
        (0, b"sBIT", &[8, 8, 8], false),
        (6, b"sBIT", &[8, 8, 8, 8], true),
        (6, b"sBIT", &[8, 8, 8], false),
        (3, b"sBIT", &[8, 8, 8], true),
        (3, b"sBIT", &[8], false),
        (0, b"bKGD", &[0, 9], true),
        (0, b"bKGD", &[9], false),
        (6, b"bKGD", &[0, 1, 0, 2, 0, 3], true),
        (6, b"bKGD", &[0, 1], false),
        (3, b"bKGD", &[1], true),
        (3, b"bKGD", &[0, 1], false),
        (0, b"tRNS", &[0, 9], true),
        (2, b"tRNS", &[0, 1, 0, 2, 0, 3], true),
        (3, b"tRNS", &[0, 255], true),
    ];
    for &(color_type, ty, data, kept) in cases {
        let chunk = png_chunk(ty, data);
        let mut chunks = vec![chunk.clone()];
        if color_type == 3 {
            chunks.insert(0, plte(2));
        }
        assert_eq!(
            keeps(&raw_png(color_type, &chunks), &chunk),
            kept,
            "colour type {color_type}: {} of {} bytes",
            String::from_utf8_lossy(ty),
            data.len()
        );
    }
    // A transparency chunk that does not fit is refused, not dropped.
    for (color_type, data) in [(3u8, &[0u8, 0, 0][..]), (6, &[0, 0]), (0, &[0])] {
        let mut chunks = vec![png_chunk(b"tRNS", data)];
        if color_type == 3 {
            chunks.insert(0, plte(2));
        }
        let err = Sanitizer::new()
            .sanitize("p.png", &raw_png(color_type, &chunks))
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("tRNS does not fit the colour type"),
            "colour type {color_type}: {err}"
        );
    }
}

#[test]
fn a_palette_has_1_to_256_entries() {
    for n in [1, 256] {
        let palette = plte(n);
        assert!(
            keeps(&raw_png(3, std::slice::from_ref(&palette)), &palette),
            "{n}"
        );
    }
    for (what, chunk) in [
        ("empty", png_chunk(b"PLTE", &[])),
        ("257 entries", plte(257)),
        ("not whole entries", png_chunk(b"PLTE", &[7; 4])),
    ] {
        let err = Sanitizer::new()
            .sanitize("p.png", &raw_png(3, &[chunk]))
            .unwrap_err();
        assert!(
            err.to_string().ends_with("PLTE is not 1 to 256 entries"),
            "{what}: {err}"
        );
    }
}

#[test]
fn an_icc_profile_needs_a_name_of_1_to_79_bytes_method_0_and_a_whole_stream() {
    let mut profile = vec![0u8; 200];
    profile[..4].copy_from_slice(&200u32.to_be_bytes());
    let stream = zlib(&profile);
    let iccp = |name: &[u8], method: u8, stream: &[u8]| {
        png_chunk(b"iCCP", &[name, &[0, method], stream].concat())
    };
    let png = encode_png(&picture(8, 8));
    let long = [b'n'; 79];
    let cases = [
        ("79-byte name", iccp(&long, 0, &stream), true),
        ("two-byte name", iccp(b"ab", 0, &stream), true),
        ("empty name", iccp(b"", 0, &stream), false),
        ("80-byte name", iccp(&[b'n'; 80], 0, &stream), false),
        ("method 1", iccp(b"icc", 1, &stream), false),
        (
            "stream cut short",
            iccp(b"icc", 0, &stream[..stream.len() - 4]),
            false,
        ),
    ];
    for (what, chunk, kept) in cases {
        let input = png_insert(&png, std::slice::from_ref(&chunk));
        assert_eq!(keeps(&input, &chunk), kept, "{what}");
    }
}

#[test]
fn the_first_chunk_must_be_a_13_byte_ihdr_and_actl_must_announce_a_frame() {
    let png = encode_png(&picture(8, 8));
    // IHDR with one byte more (CRC valid).
    let long_ihdr = [
        &png[..8],
        &png_chunk(b"IHDR", &[&png[16..29], &[0][..]].concat()),
        &png[33..],
    ]
    .concat();
    // A 13-byte chunk that is not IHDR first.
    let not_ihdr = [&png[..8], &png_chunk(b"tEXt", &png[16..29]), &png[8..]].concat();
    for (what, input) in [("14-byte IHDR", long_ihdr), ("tEXt first", not_ihdr)] {
        let err = Sanitizer::new().sanitize("p.png", &input).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("first chunk is not a 13-byte IHDR"),
            "{what}: {err}"
        );
    }
    for actl in [
        &[0u8, 0, 0, 0, 0, 0, 0, 0][..],
        &[0, 0, 0, 1, 0, 0, 0, 0, 0],
    ] {
        let input = png_insert(&png, &[png_chunk(b"acTL", actl)]);
        let err = Sanitizer::new().sanitize("a.png", &input).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("acTL is not 8 bytes or has no frame"),
            "acTL {actl:?}: {err}"
        );
    }
}

#[test]
fn a_frame_size_is_read_from_all_four_bytes() {
    // 65,792 = 0x0001_0100: its two middle bytes differ from each other and from their
    // neighbours in fcTL (the sequence number before, the height's first byte after), so a
    // frame size read from any other byte no longer matches the frame's image data.
    let width = 0x0001_0100;
    let png = encode_png(&picture(width, 1));
    let fctl = |sequence: u32| {
        let mut c = Vec::new();
        for v in [sequence, width, 1, 0, 0] {
            c.extend_from_slice(&v.to_be_bytes());
        }
        c.extend_from_slice(&[0, 1, 0, 10, 0, 0]);
        png_chunk(b"fcTL", &c)
    };
    let with_first = png_insert(
        &png,
        &[png_chunk(b"acTL", &[0, 0, 0, 2, 0, 0, 0, 0]), fctl(0)],
    );
    let row: Vec<u8> = std::iter::once(0)
        .chain(std::iter::repeat_n(128, 3 * width as usize))
        .collect();
    let fdat = [2u32.to_be_bytes().as_slice(), &zlib(&row)].concat();
    let iend = with_first.len() - 12;
    let input = [
        &with_first[..iend],
        &fctl(1),
        &png_chunk(b"fdAT", &fdat),
        &with_first[iend..],
    ]
    .concat();
    let out = Sanitizer::new().sanitize("wide.png", &input).unwrap();
    assert!(out.report().removed().is_empty(), "{:?}", out.report());
}

#[test]
fn a_file_without_trailing_bytes_reports_no_trailer() {
    let png = encode_png(&picture(10, 10));
    let out = Sanitizer::new().sanitize("p.png", &png).unwrap();
    assert!(
        !out.report().has_removed(Category::Trailer),
        "{:?}",
        out.report()
    );
    assert_eq!(out.bytes(), png.as_slice());
}

#[test]
fn animation_frame_data_is_checked_like_image_data() {
    // The second frame's fdAT: its stream cut short, and a bare sequence number.
    let fine = apng_with_second_frame(4, 4, 4, 4);
    let at = fine.windows(4).position(|w| w == b"fdAT").unwrap() - 4;
    let len = u32::from_be_bytes(fine[at..at + 4].try_into().unwrap()) as usize;
    let data = &fine[at + 8..at + 8 + len];
    for (what, fdat) in [("cut", &data[..len - 5]), ("bare", &data[..4])] {
        let input = [
            &fine[..at],
            &png_chunk(b"fdAT", fdat),
            &fine[at + 12 + len..],
        ]
        .concat();
        let err = Sanitizer::new().sanitize("a.png", &input).unwrap_err();
        assert_eq!(err.rule(), "parse", "{what}: {err}");
    }
}

#[test]
fn an_icc_profile_may_inflate_to_16_mib_and_no_more() {
    let png = encode_png(&picture(8, 8));
    for (size, kept) in [(16 << 20, true), ((16 << 20) + 1, false)] {
        let mut profile = vec![0u8; size];
        profile[..4].copy_from_slice(&(size as u32).to_be_bytes());
        let chunk = png_chunk(b"iCCP", &[b"icc\0\0".as_slice(), &zlib(&profile)].concat());
        let out = Sanitizer::new()
            .sanitize("p.png", &png_insert(&png, std::slice::from_ref(&chunk)))
            .unwrap();
        assert_eq!(contains(out.bytes(), &chunk), kept, "{size} bytes");
    }
}

/// `png` with IHDR byte `at` (0-based in its data) set to `value` and the CRC made right.
fn with_ihdr_byte(png: &[u8], at: usize, value: u8) -> Vec<u8> {
    let mut data = png[16..29].to_vec();
    data[at] = value;
    let mut out = png[..8].to_vec();
    out.extend(png_chunk(b"IHDR", &data));
    out.extend_from_slice(&png[33..]);
    out
}

#[test]
fn ihdr_methods_other_than_0_and_interlace_methods_above_1_are_refused() {
    let png = encode_png(&picture(8, 8));
    for (at, value) in [(10, 1), (11, 1), (12, 2), (12, 0xFF)] {
        let err = Sanitizer::new()
            .sanitize("p.png", &with_ihdr_byte(&png, at, value))
            .unwrap_err();
        assert!(
            err.to_string().contains("IHDR fields out of range"),
            "byte {at} = {value}: {err}"
        );
    }
    // Interlace method 1 is allowed: this file is refused only because its data is not Adam7.
    let err = Sanitizer::new()
        .sanitize("p.png", &with_ihdr_byte(&png, 12, 1))
        .unwrap_err();
    assert!(!err.to_string().contains("IHDR"), "{err}");
}

#[test]
fn grey_with_alpha_has_two_samples_per_pixel() {
    let grey = image::DynamicImage::ImageRgb8(picture(9, 7));
    for img in [
        image::DynamicImage::ImageLumaA8(grey.to_luma_alpha8()),
        image::DynamicImage::ImageLumaA16(grey.to_luma_alpha16()),
    ] {
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let out = Sanitizer::new().sanitize("p.png", &png).unwrap();
        assert_eq!(image::load_from_memory(out.bytes()).unwrap(), img);
    }
}

#[test]
fn image_data_split_over_idat_chunks_is_checked_as_one_stream() {
    // Noise, so each part inflates to far more than the checker's 32 KiB buffer; the image
    // time limit is short so that a checker that never finishes a part fails fast.
    let mut state = 0x2545_F491_u32;
    let noise = image::RgbImage::from_fn(160, 120, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [r, g, b, _] = state.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let png = encode_png(&noise);
    let at = png.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
    let data = &png[at + 8..at + 8 + len];
    let parts: Vec<Vec<u8>> = data
        .chunks(len / 3 + 1)
        .map(|part| png_chunk(b"IDAT", part))
        .collect();
    assert_eq!(parts.len(), 3);
    let split = [&png[..at], &parts.concat(), &png[at + 12 + len..]].concat();
    let sanitizer = Sanitizer::new().with_limits(
        ward_sanitize::Limits::default().with_max_image_time(std::time::Duration::from_secs(2)),
    );
    let out = sanitizer.sanitize("p.png", &split).unwrap();
    assert_eq!(out.bytes(), split.as_slice());
}

#[test]
fn an_empty_idat_chunk_between_others_is_allowed() {
    let png = encode_png(&picture(30, 20));
    let at = png.windows(4).position(|w| w == b"IDAT").unwrap() - 4;
    let len = u32::from_be_bytes(png[at..at + 4].try_into().unwrap()) as usize;
    let data = &png[at + 8..at + 8 + len];
    let (first, second) = data.split_at(len / 2);
    let parts = [
        png_chunk(b"IDAT", first),
        png_chunk(b"IDAT", &[]),
        png_chunk(b"IDAT", second),
    ]
    .concat();
    let input = [&png[..at], &parts, &png[at + 12 + len..]].concat();
    let out = Sanitizer::new().sanitize("p.png", &input).unwrap();
    assert_eq!(out.bytes(), input.as_slice());
}

#[test]
fn a_highly_compressed_image_is_inflated_to_its_last_byte() {
    // 1,000 × 1,000 black pixels: 3 MB of samples in a few kilobytes of deflate, so each
    // buffer of the checker fills while input is still waiting.
    // The whole stream in one IDAT chunk.
    let raw = vec![0u8; 1_000 * (1 + 3 * 1_000)];
    let mut ihdr = 1_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&1_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let png = [
        b"\x89PNG\r\n\x1a\n".as_slice(),
        &png_chunk(b"IHDR", &ihdr),
        &png_chunk(b"IDAT", &zlib(&raw)),
        &png_chunk(b"IEND", &[]),
    ]
    .concat();
    assert!(png.len() < 32 * 1024, "{} bytes", png.len());
    let out = Sanitizer::new().sanitize("black.png", &png).unwrap();
    assert_eq!(out.bytes(), png.as_slice());
}

#[test]
fn compressed_text_counts_at_its_inflated_size() {
    let limits = ward_sanitize::Limits::default().with_max_png_text_bytes(1_000);
    let sanitizer = Sanitizer::new().with_limits(limits);
    let png = encode_png(&picture(8, 8));
    let ztxt = |text: &[u8]| png_chunk(b"zTXt", &[b"Comment\0\0".as_slice(), &zlib(text)].concat());
    let itxt = |text: &[u8]| {
        png_chunk(
            b"iTXt",
            &[b"Comment\0\x01\0en-GB\0Kommentar\0".as_slice(), &zlib(text)].concat(),
        )
    };
    let plain_itxt = |text: &[u8]| {
        png_chunk(
            b"iTXt",
            &[b"Comment\0\0\0en-GB\0Kommentar\0".as_slice(), text].concat(),
        )
    };
    let under = vec![b'a'; 900];
    let over = vec![b'a'; 2_000];
    for (what, chunk, refused) in [
        ("zTXt under", ztxt(&under), false),
        ("zTXt over", ztxt(&over), true),
        ("compressed iTXt under", itxt(&under), false),
        ("compressed iTXt over", itxt(&over), true),
        ("plain iTXt under", plain_itxt(&under), false),
    ] {
        let result = sanitizer.sanitize("p.png", &png_insert(&png, &[chunk]));
        match result {
            Err(Error::Limit(LimitRule::PngText { limit: 1_000 })) => assert!(refused, "{what}"),
            Ok(out) => {
                assert!(!refused, "{what}: accepted");
                assert!(out.report().has_removed(Category::Text), "{what}");
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}
