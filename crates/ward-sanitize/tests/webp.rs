//! WebP: EXIF and XMP chunks removed, VP8X flags and RIFF size fixed, image chunks untouched.

use ward_sanitize::{Category, Error, FileKind, LimitRule, Sanitizer};

use crate::common::*;

#[test]
fn exif_xmp_and_unknown_chunks_are_removed_and_flags_fixed() {
    let img = picture(40, 30);
    let input = webp_with_metadata(&img, None);
    assert!(contains(&input, SECRET));
    let out = Sanitizer::new().sanitize("p.webp", &input).unwrap();
    let b = out.bytes();
    assert!(!contains(b, SECRET));
    let chunks = webp_chunks(b);
    let names: Vec<&[u8; 4]> = chunks.iter().map(|(f, _)| f).collect();
    assert_eq!(names, [b"VP8X", b"VP8L"]);
    assert_eq!(
        chunks[0].1[0] & (0x08 | 0x04),
        0,
        "EXIF/XMP flags still set"
    );
    assert_eq!(
        u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize,
        b.len() - 8,
        "RIFF size"
    );
    let r = out.report();
    assert!(r.has_removed(Category::Exif) && r.has_removed(Category::Xmp));
    assert!(r.has_removed(Category::OtherChunk));
    // The image chunk is unchanged and decodes to the same pixels.
    assert_eq!(webp_chunks(&input)[1], chunks[1]);
    assert_eq!(image::load_from_memory(b).unwrap().to_rgb8(), img);
}

#[test]
fn simple_lossless_file_passes_unchanged() {
    let input = encode_webp(&picture(20, 20));
    let out = Sanitizer::new().sanitize("p.webp", &input).unwrap();
    assert_eq!(out.bytes(), input.as_slice());
    assert!(out.report().removed().is_empty());
}

#[test]
fn riff_size_lies_are_rejected_and_trailers_dropped() {
    let mut input = webp_with_metadata(&picture(10, 10), None);
    let mut too_big = input.clone();
    too_big[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Sanitizer::new()
            .sanitize("p.webp", &too_big)
            .unwrap_err()
            .rule(),
        "parse"
    );
    input.extend_from_slice(b"TRAILER");
    let out = Sanitizer::new().sanitize("p.webp", &input).unwrap();
    assert_eq!(out.report().removed_bytes(Category::Trailer), 7);
}

#[test]
fn exif_orientation_in_webp_is_applied_exactly() {
    let img = picture(30, 20);
    for orientation in [3u16, 6, 8] {
        let input = webp_with_metadata(&img, Some(orientation));
        let out = Sanitizer::new().sanitize("p.webp", &input).unwrap();
        assert_eq!(out.kind(), FileKind::Webp);
        assert_eq!(out.report().orientation_applied(), Some(orientation));
        let shown = image::load_from_memory(out.bytes()).unwrap().to_rgb8();
        assert_eq!(shown, upright(&img, orientation));
    }
}

#[test]
fn orientation_on_an_animation_is_refused() {
    let img = picture(10, 10);
    let mut input = webp_with_metadata(&img, Some(6));
    // Mark it animated: the VP8X animation flag.
    input[20] |= 0x02;
    let res = Sanitizer::new().sanitize("p.webp", &input);
    // The decoder may refuse the inconsistent file first; either way it is not accepted.
    match res {
        Err(Error::OrientationUnsupported {
            kind: FileKind::Webp,
        }) => {}
        Err(e) => assert_eq!(e.rule(), "parse", "{e}"),
        Ok(_) => panic!("an animated file with an orientation was accepted"),
    }
}

#[test]
fn animation_frames_lose_unknown_sub_chunks_and_flags_say_what_is_kept() {
    let first = picture(16, 12);
    let second = picture(8, 6);
    let secret_chunk = riff_chunk(b"ZZZZ", SECRET);
    let mut profile = vec![0u8; 130];
    profile[..4].copy_from_slice(&130u32.to_be_bytes());
    let iccp = [profile.as_slice(), SECRET].concat();
    let anim = [[0u8, 0, 0, 0, 0, 0].as_slice(), SECRET].concat();
    // Animation and EXIF flags set, and reserved bits that could carry a few bytes of data.
    let mut input = animated_webp(
        16,
        12,
        0x02 | 0x08 | 0xC1,
        &[
            riff_chunk(b"ICCP", &iccp),
            riff_chunk(b"ANIM", &anim),
            webp_frame(&first, 0, 0, std::slice::from_ref(&secret_chunk)),
            webp_frame(&second, 2, 4, &[secret_chunk]),
        ],
    );
    input[21..24].copy_from_slice(b"GPS");
    let out = Sanitizer::new().sanitize("a.webp", &input).unwrap();
    let b = out.bytes();
    assert!(
        !contains(b, SECRET) && !contains(b, b"GPS"),
        "payload survived"
    );
    let chunks = webp_chunks(b);
    let names: Vec<&[u8; 4]> = chunks.iter().map(|(f, _)| f).collect();
    assert_eq!(names, [b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ANMF"]);
    assert_eq!(chunks[0].1[..4], [0x02 | 0x20, 0, 0, 0], "VP8X flags");
    assert_eq!(chunks[1].1, profile, "ICCP cut to the profile");
    assert_eq!(chunks[2].1.len(), 6, "ANIM cut to its fixed size");
    for (_, frame) in &chunks[3..] {
        let sub: Vec<[u8; 4]> = webp_chunks(&[&[0u8; 12][..], &frame[16..]].concat())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(sub, [*b"VP8L"]);
    }
    assert_eq!(
        u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize,
        b.len() - 8
    );
    assert_eq!(image::load_from_memory(b).unwrap().to_rgb8(), first);
}

/// A one-frame 16 × 12 animation with ICC flag set and `profile` as its ICCP chunk.
fn animation_with_profile(profile: &[u8]) -> Vec<u8> {
    animated_webp(
        16,
        12,
        0x02 | 0x20,
        &[
            riff_chunk(b"ICCP", profile),
            riff_chunk(b"ANIM", &[0; 6]),
            webp_frame(&picture(16, 12), 0, 0, &[]),
        ],
    )
}

#[test]
fn an_iccp_longer_than_its_chunk_is_refused() {
    let mut profile = vec![0u8; 130];
    profile[..4].copy_from_slice(&4000u32.to_be_bytes());
    let input = animation_with_profile(&profile);
    let err = Sanitizer::new().sanitize("a.webp", &input).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

#[test]
fn every_webp_frame_is_checked_against_the_limits_and_the_canvas() {
    let frame = |img: &image::RgbImage, x: u32, y: u32| webp_frame(img, x, y, &[]);
    let anim = || riff_chunk(b"ANIM", &[0; 6]);
    let first = picture(16, 12);
    let fine = animated_webp(
        16,
        12,
        0x02,
        &[anim(), frame(&first, 0, 0), frame(&picture(8, 6), 8, 6)],
    );
    Sanitizer::new().sanitize("a.webp", &fine).unwrap();
    // The second frame sticks out of the canvas.
    let outside = animated_webp(
        16,
        12,
        0x02,
        &[anim(), frame(&first, 0, 0), frame(&picture(8, 6), 10, 0)],
    );
    let err = Sanitizer::new().sanitize("a.webp", &outside).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit(LimitRule::FrameOutsideCanvas { frame: 1 })
        ),
        "{err:?}"
    );
    // The second frame claims 20,000 × 20,000 in its header.
    let mut huge_frame = frame(&picture(8, 6), 0, 0);
    huge_frame[8 + 6..8 + 12].copy_from_slice(&[0x1F, 0x4E, 0, 0x1F, 0x4E, 0]);
    let huge = animated_webp(16, 12, 0x02, &[anim(), frame(&first, 0, 0), huge_frame]);
    let err = Sanitizer::new().sanitize("a.webp", &huge).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit(LimitRule::Pixels {
                pixels: 400_000_000,
                ..
            })
        ),
        "{err:?}"
    );
    // A frame header that disagrees with its image data.
    let mut lying = frame(&picture(8, 6), 0, 0);
    lying[8 + 6] = 3;
    let lying = animated_webp(16, 12, 0x02, &[anim(), frame(&first, 0, 0), lying]);
    let err = Sanitizer::new().sanitize("a.webp", &lying).unwrap_err();
    assert_eq!(err.rule(), "parse", "{err}");
}

/// A lossy WebP with an uncompressed alpha channel of `alpha` everywhere: the corpus's
/// `hopper.webp` image chunk behind a VP8X header with the alpha flag and an `ALPH` chunk.
/// Returns the file and its ALPH chunk.
fn lossy_with_alpha(alpha: u8) -> (Vec<u8>, Vec<u8>) {
    let hopper = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/pillow/hopper.webp"),
    )
    .unwrap();
    let (fourcc, vp8) = &webp_chunks(&hopper)[0];
    assert_eq!(fourcc, b"VP8 ");
    let width = u32::from(u16::from_le_bytes([vp8[6], vp8[7]]) & 0x3FFF);
    let height = u32::from(u16::from_le_bytes([vp8[8], vp8[9]]) & 0x3FFF);
    // Header byte 0: no compression, no filtering, no pre-processing.
    let mut alph = vec![0u8];
    alph.resize(1 + (width * height) as usize, alpha);
    let alph = riff_chunk(b"ALPH", &alph);
    let mut vp8x = vec![0x10, 0, 0, 0];
    vp8x.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let body = [
        b"WEBP".as_slice(),
        &riff_chunk(b"VP8X", &vp8x),
        &alph,
        &riff_chunk(b"VP8 ", vp8),
    ]
    .concat();
    let file = [
        b"RIFF".as_slice(),
        &(body.len() as u32).to_le_bytes(),
        &body,
    ]
    .concat();
    (file, alph)
}

#[test]
fn the_alpha_channel_of_a_lossy_image_is_kept() {
    let (input, alph) = lossy_with_alpha(77);
    let out = Sanitizer::new().sanitize("p.webp", &input).unwrap();
    assert!(contains(out.bytes(), &alph));
    assert!(out.report().removed().is_empty());
    let shown = image::load_from_memory(out.bytes()).unwrap().to_rgba8();
    assert!(shown.pixels().all(|p| p[3] == 77));
}

#[test]
fn a_file_of_kept_chunks_at_their_sizes_reports_nothing() {
    // A 128-byte profile (the smallest), exactly as long as its chunk; and one of 129 bytes,
    // which the stripper rewrites (cut to its declared size) and must pad to an even length,
    // or every chunk after it would be misread.
    for size in [128_u32, 129] {
        let mut profile = vec![0u8; size as usize];
        profile[..4].copy_from_slice(&size.to_be_bytes());
        let input = animation_with_profile(&profile);
        let out = Sanitizer::new().sanitize("a.webp", &input).unwrap();
        assert_eq!(out.bytes(), input.as_slice(), "{size}");
        assert!(out.report().removed().is_empty(), "{:?}", out.report());
        let chunks: Vec<[u8; 4]> = webp_chunks(out.bytes()).into_iter().map(|c| c.0).collect();
        assert_eq!(chunks, [*b"VP8X", *b"ICCP", *b"ANIM", *b"ANMF"], "{size}");
    }
}

#[test]
fn bytes_past_the_fixed_sizes_are_counted_exactly() {
    let mut vp8x = vec![0x02 | 0x20, 0, 0, 0];
    vp8x.extend_from_slice(&15u32.to_le_bytes()[..3]);
    vp8x.extend_from_slice(&11u32.to_le_bytes()[..3]);
    vp8x.extend_from_slice(b"xy");
    let mut profile = vec![0u8; 130];
    profile[..4].copy_from_slice(&130u32.to_be_bytes());
    let body = [
        b"WEBP".as_slice(),
        &riff_chunk(b"VP8X", &vp8x),
        &riff_chunk(b"ICCP", &[profile.as_slice(), SECRET].concat()),
        &riff_chunk(b"ANIM", &[0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        &webp_frame(&picture(16, 12), 0, 0, &[]),
    ]
    .concat();
    let input = [
        b"RIFF".as_slice(),
        &(body.len() as u32).to_le_bytes(),
        &body,
    ]
    .concat();
    let out = Sanitizer::new().sanitize("a.webp", &input).unwrap();
    // Two bytes after VP8X, the secret after the profile, four after ANIM.
    assert_eq!(
        out.report().removed_bytes(Category::OtherChunk),
        2 + SECRET.len() as u64 + 4
    );
    assert!(!contains(out.bytes(), SECRET));
}

#[test]
fn misplaced_short_or_repeated_header_chunks_are_refused() {
    let simple = encode_webp(&picture(16, 12));
    let image_chunk = &simple[12..];
    let mut vp8x = vec![0x20, 0, 0, 0];
    vp8x.extend_from_slice(&15u32.to_le_bytes()[..3]);
    vp8x.extend_from_slice(&11u32.to_le_bytes()[..3]);
    let mut profile = vec![0u8; 130];
    profile[..4].copy_from_slice(&130u32.to_be_bytes());
    let iccp = riff_chunk(b"ICCP", &profile);
    let mut small = profile.clone();
    small[..4].copy_from_slice(&100u32.to_be_bytes());
    let file = |chunks: &[&[u8]]| {
        let body = [&[b"WEBP".as_slice()], chunks].concat().concat();
        [
            b"RIFF".as_slice(),
            &(body.len() as u32).to_le_bytes(),
            &body,
        ]
        .concat()
    };
    let cases = [
        (
            "misplaced or short VP8X",
            file(&[image_chunk, &riff_chunk(b"VP8X", &vp8x)]),
        ),
        (
            "misplaced or short VP8X",
            file(&[&riff_chunk(b"VP8X", &vp8x[..9]), image_chunk]),
        ),
        ("ICCP without VP8X or repeated", file(&[&iccp, image_chunk])),
        (
            "ICCP without VP8X or repeated",
            file(&[&riff_chunk(b"VP8X", &vp8x), &iccp, &iccp, image_chunk]),
        ),
        (
            "ICCP length disagrees with its profile",
            file(&[
                &riff_chunk(b"VP8X", &vp8x),
                &riff_chunk(b"ICCP", &small),
                image_chunk,
            ]),
        ),
        (
            "short ANIM chunk",
            animated_webp(
                16,
                12,
                0x02,
                &[
                    riff_chunk(b"ANIM", &[0; 5]),
                    webp_frame(&picture(16, 12), 0, 0, &[]),
                ],
            ),
        ),
    ];
    // Refused by the rule itself, not later by a decoder.
    for (reason, input) in cases {
        let err = Sanitizer::new().sanitize("p.webp", &input).unwrap_err();
        assert!(err.to_string().contains(reason), "{reason}: {err}");
    }
}

#[test]
fn a_riff_size_past_the_end_is_refused_before_any_chunk_is_read() {
    // The RIFF size and the image chunk's length both grow by 100: the chunk would run past
    // the end of the file.
    let mut input = encode_webp(&picture(10, 10));
    for at in [4, 16] {
        let n = u32::from_le_bytes(input[at..at + 4].try_into().unwrap()) + 100;
        input[at..at + 4].copy_from_slice(&n.to_le_bytes());
    }
    let err = Sanitizer::new().sanitize("p.webp", &input).unwrap_err();
    assert!(err.to_string().contains("riff size"), "{err}");
}

#[test]
fn the_riff_webp_header_is_checked_by_the_stripper_itself() {
    // `Sanitizer::strip_image` reaches the stripper without the magic-byte sniffing of
    // `sanitize`, so the stripper's own header check is what stands between it and a short or
    // foreign file.
    let sanitizer = Sanitizer::new();
    for input in [
        b"".as_slice(),
        b"RIFF",
        b"RIFF\x04\0\0\0WEB",
        b"RIFX\x04\0\0\0WEBP",
        b"RIFF\x04\0\0\0WAVE",
        b"RIFF\x10\0\0\0WAVEfmt \x04\0\0\0abcd",
    ] {
        let err = sanitizer.strip_image(FileKind::Webp, input).unwrap_err();
        assert!(
            err.to_string().contains("missing RIFF WEBP header"),
            "{input:?}: {err}"
        );
    }
    // Twelve bytes are a whole header: what is missing then is the image.
    let err = sanitizer
        .strip_image(FileKind::Webp, b"RIFF\x04\0\0\0WEBP")
        .unwrap_err();
    assert!(!err.to_string().contains("header"), "{err}");
}

#[test]
fn the_alpha_channel_of_a_lossy_animation_frame_is_kept() {
    let (still, alph) = lossy_with_alpha(99);
    let chunks = webp_chunks(&still);
    let vp8x = &chunks[0].1;
    let width = 1 + u32::from_le_bytes([vp8x[4], vp8x[5], vp8x[6], 0]);
    let height = 1 + u32::from_le_bytes([vp8x[7], vp8x[8], vp8x[9], 0]);
    let mut frame = Vec::new();
    for v in [0, 0, width - 1, height - 1, 100] {
        frame.extend_from_slice(&v.to_le_bytes()[..3]);
    }
    frame.push(0x02);
    frame.extend_from_slice(&alph);
    frame.extend_from_slice(&riff_chunk(b"VP8 ", &chunks[2].1));
    let input = animated_webp(
        width,
        height,
        0x02 | 0x10,
        &[riff_chunk(b"ANIM", &[0; 6]), riff_chunk(b"ANMF", &frame)],
    );
    let out = Sanitizer::new().sanitize("a.webp", &input).unwrap();
    assert!(contains(out.bytes(), &alph));
    assert!(out.report().removed().is_empty(), "{:?}", out.report());
}

#[test]
fn a_canvas_size_is_read_from_all_three_bytes() {
    // A canvas 65,552 pixels wide (its width's third byte is 1) with a frame at x = 65,536:
    // inside the canvas only if all three bytes of the width count.
    let input = animated_webp(
        65_552,
        12,
        0x02,
        &[
            riff_chunk(b"ANIM", &[0; 6]),
            webp_frame(&picture(16, 12), 65_536, 0, &[]),
        ],
    );
    Sanitizer::new().sanitize("a.webp", &input).unwrap();
}

#[test]
fn a_chunk_header_cut_by_the_end_of_the_riff_body_is_refused_as_such() {
    // The RIFF body ends four bytes into what would be the next chunk's header; the bytes
    // after the body (a trailer) must not be read as the rest of it.
    let simple = encode_webp(&picture(16, 12));
    let mut body = simple[8..].to_vec();
    body.extend_from_slice(b"EXIF");
    let mut input = [
        b"RIFF".as_slice(),
        &(body.len() as u32).to_le_bytes(),
        &body,
    ]
    .concat();
    input.extend_from_slice(&[4, 0, 0, 0, 1, 2, 3, 4]);
    let err = Sanitizer::new().sanitize("p.webp", &input).unwrap_err();
    assert!(err.to_string().contains("truncated chunk header"), "{err}");
}
