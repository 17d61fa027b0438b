//! HEIC/HEIF (feature `heic`): real files from pillow-heif's test images cleaned of EXIF, GPS,
//! XMP and IPTC, judged by exiftool (no metadata left) and by Debian's libheif through
//! `heif-convert` (the output decodes to the very pixels of the input); damaged and hostile
//! containers refused with typed errors.

use std::path::{Path, PathBuf};

use ward_sanitize::{Category, Error, FileKind, Limits, Sanitizer};

use crate::common::*;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus/heic")
            .join(name),
    )
    .unwrap()
}

/// The files that must be accepted, and whether each carries metadata to remove.
const ACCEPTED: [(&str, bool); 7] = [
    ("L_exif_xmp_iptc.heic", true),
    ("L_xmp.heif", true),
    ("RGBA_8__29x100.heif", false),
    ("arrow.heic", true),
    ("entity_groups.heic", false),
    ("pug.heic", true),
    ("zPug_3.heic", false),
];

/// Whether Debian's `heif-convert` (libheif-examples) runs; CI installs it.
fn heif_convert_available() -> bool {
    tool_available(
        "sh",
        &["-c", "command -v heif-convert"],
        "the independent HEIC decode (heif-convert)",
    )
}

/// Every top-level image of `file` decoded by `heif-convert` to PNG, as 8-bit RGBA pixels, in
/// its order (Debian's heif-convert 1.15 writes one PNG per top-level image, `-1`, `-2`, …
/// when there are several).
fn pixels_by_libheif(file: &Path) -> Vec<image::RgbaImage> {
    let png = file.with_extension("png");
    let out = std::process::Command::new("heif-convert")
        .arg(file)
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "heif-convert failed on {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if png.exists() {
        return vec![image::open(&png).unwrap().to_rgba8()];
    }
    let stem = png.with_extension("");
    (1..)
        .map(|n| PathBuf::from(format!("{}-{n}.png", stem.display())))
        .take_while(|p| p.exists())
        .map(|p| image::open(&p).unwrap().to_rgba8())
        .collect()
}

/// exiftool's tags in the groups that hold personal metadata.
fn personal_tags(path: &Path) -> Vec<String> {
    exiftool_tags(path)
        .into_iter()
        .filter(|line| {
            let group = line
                .strip_prefix('[')
                .and_then(|l| l.split_once(']'))
                .map_or("", |(g, _)| g);
            [
                "IFD0",
                "IFD1",
                "ExifIFD",
                "GPS",
                "InteropIFD",
                "IPTC",
                "Photoshop",
                "Apple",
            ]
            .contains(&group)
                || group.starts_with("XMP")
                || group.starts_with("MakerNotes")
        })
        .collect()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn names_and_brands_are_heic() {
    for name in ["IMG_0001.HEIC", "scan.heif", "a.heic"] {
        assert_eq!(ward_sanitize::kind_from_name(name).unwrap(), FileKind::Heic);
    }
    for (name, _) in ACCEPTED {
        assert_eq!(
            ward_sanitize::sniff_kind(&corpus(name)).unwrap(),
            FileKind::Heic
        );
    }
    // A PNG named .heic, and a HEIC named .jpg: the checks disagree.
    let png = encode_png(&picture(4, 4));
    let err = Sanitizer::new().sanitize("a.heic", &png).unwrap_err();
    assert_eq!(err.rule(), "mismatch");
    let err = Sanitizer::new()
        .sanitize("a.jpg", &corpus("L_xmp.heif"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "extension says jpeg but the content is heic"
    );
    // AVIF shares the container but is not accepted.
    let mut avif = vec![0, 0, 0, 20];
    avif.extend_from_slice(b"ftypavif\0\0\0\0mif1");
    assert!(matches!(
        ward_sanitize::sniff_kind(&avif),
        Err(Error::UnsupportedType { detected: "avif" })
    ));
}

#[test]
fn metadata_is_removed_and_the_pixels_are_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let judge = heif_convert_available();
    let exiftool = exiftool_available();
    let sanitizer = Sanitizer::new();
    for (name, has_metadata) in ACCEPTED {
        let input = corpus(name);
        let cleaned = sanitizer
            .sanitize(name, &input)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cleaned.kind(), FileKind::Heic);
        assert!(!cleaned.report().re_encoded(), "{name}");
        assert_eq!(
            cleaned.report().has_removed(Category::Exif)
                || cleaned.report().has_removed(Category::Xmp),
            has_metadata,
            "{name}: {:?}",
            cleaned.report()
        );
        // What ward emits, ward accepts unchanged.
        let again = sanitizer.sanitize(name, cleaned.bytes()).unwrap();
        assert_eq!(again.bytes(), cleaned.bytes(), "{name}");
        let before = write(dir.path(), &format!("in-{name}"), &input);
        let after = write(dir.path(), &format!("out-{name}"), cleaned.bytes());
        if exiftool {
            if has_metadata {
                assert!(!personal_tags(&before).is_empty(), "{name}");
            }
            assert_eq!(personal_tags(&after), Vec::<String>::new(), "{name}");
        }
        if judge {
            // The output holds the primary image alone, with the pixels it had in the input
            // (the input's only image, or one of several top-level images).
            let (before, after) = (pixels_by_libheif(&before), pixels_by_libheif(&after));
            assert_eq!(after.len(), 1, "{name}");
            if before.len() == 1 {
                assert_eq!(before[0].dimensions(), after[0].dimensions(), "{name}");
                assert!(before[0] == after[0], "{name}: the pixels changed");
            } else {
                assert!(before.contains(&after[0]), "{name}: the pixels changed");
            }
        }
    }
}

#[test]
fn exif_gps_and_xmp_planted_by_exiftool_are_removed() {
    if !exiftool_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let secret = String::from_utf8(SECRET.to_vec()).unwrap();
    for name in ["RGBA_8__29x100.heif", "arrow.heic"] {
        let plain = write(dir.path(), name, &corpus(name));
        let tagged = dir.path().join(format!("tagged-{name}"));
        let out = std::process::Command::new("exiftool")
            .args([
                "-q",
                "-GPSLatitude=48.137",
                "-GPSLatitudeRef=N",
                "-GPSLongitude=11.575",
                "-GPSLongitudeRef=E",
                &format!("-Artist={secret}"),
                &format!("-XMP-dc:Creator={secret}"),
                &format!("-IPTC:By-line={secret}"),
                "-o",
            ])
            .arg(&tagged)
            .arg(&plain)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tagged_bytes = std::fs::read(&tagged).unwrap();
        assert!(contains(&tagged_bytes, SECRET));
        assert!(
            personal_tags(&tagged)
                .iter()
                .any(|t| t.starts_with("[GPS]")),
            "exiftool wrote no GPS into {name}"
        );
        let cleaned = Sanitizer::new().sanitize(name, &tagged_bytes).unwrap();
        assert!(cleaned.report().has_removed(Category::Exif));
        assert!(cleaned.report().has_removed(Category::Xmp));
        assert!(!contains(cleaned.bytes(), SECRET), "{name}");
        let after = write(dir.path(), &format!("clean-{name}"), cleaned.bytes());
        assert_eq!(personal_tags(&after), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn thumbnails_and_undescribed_auxiliary_images_are_kept() {
    if !heif_convert_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let info = |path: &Path| {
        let out = std::process::Command::new("heif-info")
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // arrow.heic: a 240 × 320 thumbnail without metadata of its own. Only its EXIF item is
    // removed (its data reference box is rewritten, not reported as removed).
    let cleaned = Sanitizer::new()
        .sanitize("arrow.heic", &corpus("arrow.heic"))
        .unwrap();
    let removed: Vec<Category> = cleaned
        .report()
        .removed()
        .iter()
        .map(|r| r.category)
        .collect();
    assert_eq!(removed, vec![Category::Exif]);
    let out = write(dir.path(), "arrow.heic", cleaned.bytes());
    assert!(info(&out).contains("thumbnail: 240x320"), "{}", info(&out));
    // An alpha plane is an auxiliary image: still there.
    let cleaned = Sanitizer::new()
        .sanitize("a.heif", &corpus("RGBA_8__29x100.heif"))
        .unwrap();
    let out = write(dir.path(), "alpha.heif", cleaned.bytes());
    assert!(info(&out).contains("alpha channel: yes"), "{}", info(&out));
}

#[test]
fn damaged_files_are_refused_with_a_parse_error() {
    let sanitizer = Sanitizer::new();
    for name in ["corrupted.heic", "truncated.heic"] {
        let err = sanitizer.sanitize(name, &corpus(name)).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    kind: FileKind::Heic,
                    ..
                } | Error::UnsupportedType { .. }
            ),
            "{name}: {err:?}"
        );
        assert!(err.is_client_fault(), "{name}");
    }
    // Every prefix of a real file is refused or cleaned, never a panic.
    let input = corpus("L_exif_xmp_iptc.heic");
    for end in (12..input.len()).step_by(97) {
        if let Ok(out) = sanitizer.sanitize("a.heic", &input[..end]) {
            assert!(sanitizer.sanitize("a.heic", out.bytes()).is_ok());
        }
    }
}

#[test]
fn the_pixel_limit_applies_before_decoding() {
    let sanitizer = Sanitizer::new().with_limits(Limits::default().with_max_pixels(64 * 64 - 1));
    let err = sanitizer
        .sanitize("a.heic", &corpus("L_exif_xmp_iptc.heic"))
        .unwrap_err();
    assert_eq!(err.rule(), "limit.pixels");
    // 12 megapixels pass the default limit.
    let arrow = Sanitizer::new().sanitize("arrow.heic", &corpus("arrow.heic"));
    assert!(arrow.is_ok());
}

/// Where each box of type `kind` starts, found by its type bytes.
fn find_all(bytes: &[u8], kind: &[u8; 4]) -> Vec<usize> {
    bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| w == kind)
        .map(|(i, _)| i - 4)
        .collect()
}

/// Where the first box of type `kind` starts.
fn find(bytes: &[u8], kind: &[u8; 4]) -> usize {
    find_all(bytes, kind)[0]
}

/// Makes the `ispe` box at `at` claim 100,000 × 100,000 pixels, and sanitizes the file.
fn with_huge_ispe(mut input: Vec<u8>, at: usize) -> ward_sanitize::Result<Vec<u8>> {
    input[at + 12..at + 16].copy_from_slice(&100_000u32.to_be_bytes());
    input[at + 16..at + 20].copy_from_slice(&100_000u32.to_be_bytes());
    Sanitizer::new()
        .sanitize("a.heic", &input)
        .map(|s| s.into_bytes())
}

#[test]
fn a_hostile_ispe_is_refused_by_the_pixel_limit_not_decoded() {
    let input = corpus("L_exif_xmp_iptc.heic");
    let at = find(&input, b"ispe");
    let err = with_huge_ispe(input, at).unwrap_err();
    assert_eq!(err.rule(), "limit.pixels");
}

#[test]
fn every_kept_image_passes_the_pixel_limit_not_only_the_primary() {
    // arrow.heic's thumbnail (its third ispe, 320 × 240) made 100,000 × 100,000: the primary
    // image is within the limit and decodes, the thumbnail would be kept, so it is refused.
    let input = corpus("arrow.heic");
    let thumb = find_all(&input, b"ispe")[2];
    assert_eq!(&input[thumb + 12..thumb + 20], &[0, 0, 1, 64, 0, 0, 0, 240]);
    let err = with_huge_ispe(input, thumb).unwrap_err();
    assert_eq!(err.rule(), "limit.pixels");
}

#[test]
fn items_that_share_their_bytes_are_refused() {
    // Every iloc extent pointed at the start of the file with the whole file's length would
    // make the output many times the input: refused as a malformed file.
    let input = corpus("arrow.heic");
    let err = Sanitizer::new()
        .sanitize("a.heic", &with_shared_extents(&input))
        .unwrap_err();
    assert_eq!(err.to_string(), "malformed heic: items share their data");
}

/// The file with every iloc extent claiming the whole file: the tiles of its grid share bytes.
fn with_shared_extents(input: &[u8]) -> Vec<u8> {
    // Rewritten in place: iloc with 4-byte offsets and lengths.
    let mut out = input.to_vec();
    let at = find(&out, b"iloc");
    let version = out[at + 8];
    let sizes = u16::from_be_bytes([out[at + 12], out[at + 13]]);
    assert_eq!(sizes >> 8, 0x44, "fixture layout");
    let base_size = usize::from((sizes >> 4) & 0xF);
    let index_size = if version >= 1 {
        usize::from(sizes & 0xF)
    } else {
        0
    };
    let count = usize::from(u16::from_be_bytes([out[at + 14], out[at + 15]]));
    let whole = (input.len() as u32).to_be_bytes();
    let mut p = at + 16;
    for _ in 0..count {
        p += 2;
        if version >= 1 {
            p += 2;
        }
        p += 2 + base_size;
        let extents = usize::from(u16::from_be_bytes([out[p], out[p + 1]]));
        p += 2;
        for _ in 0..extents {
            p += index_size;
            out[p..p + 4].copy_from_slice(&0u32.to_be_bytes());
            out[p + 4..p + 8].copy_from_slice(&whole);
            p += 8;
        }
    }
    out
}

#[test]
fn a_staged_heic_is_checked_by_the_decode() {
    let sanitizer = Sanitizer::new();
    let staged = sanitizer.stage("a.heic", &corpus("arrow.heic")).unwrap();
    assert!(!staged.is_checked());
    staged.check().unwrap();
    assert_eq!(
        &staged.bytes()[..],
        sanitizer
            .sanitize("a.heic", &corpus("arrow.heic"))
            .unwrap()
            .bytes()
    );
}
