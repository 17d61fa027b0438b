//! Cleaned images judged by readers independent of the crate's parsers and of `image`: Pillow
//! (libjpeg-turbo and libwebp underneath, its own PNG reader) must open and fully load every PNG,
//! WebP and JPEG output, every frame of an animation, and PNGs must pass `Image.verify()`; and
//! libpng itself (its `pngfix` checker) must read every PNG output without a fault.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ward_sanitize::Sanitizer;

use crate::common::*;

/// The script that opens and loads each file (`tests/pillow_judge.py`).
fn judge_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pillow_judge.py")
}

/// What Pillow said about each file: `Ok(frames)` or `Err(its report)`.
fn pillow_judges(python: &Path, files: &[PathBuf]) -> BTreeMap<PathBuf, Result<usize, String>> {
    let out = std::process::Command::new(python)
        .arg(judge_script())
        .args(files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut verdicts = BTreeMap::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("ok ") {
            let (frames, path) = rest.split_once(' ').unwrap();
            verdicts.insert(PathBuf::from(path), Ok(frames.parse().unwrap()));
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (path, report) = rest.split_once(": ").unwrap();
            verdicts.insert(PathBuf::from(path), Err(report.to_owned()));
        }
    }
    assert_eq!(
        verdicts.len(),
        files.len(),
        "the judge did not answer for every file: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    verdicts
}

/// Real files from the corpus and synthetic ones with every kind of metadata, orientation
/// fixes (re-encoded outputs) and animations, as (upload name, bytes).
fn inputs() -> Vec<(String, Vec<u8>)> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files = Vec::new();
    for dir in ["pillow", "libjpeg"] {
        for entry in std::fs::read_dir(corpus.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if [".png", ".jpg", ".webp"].iter().any(|e| name.ends_with(e)) {
                files.push((format!("{dir}-{name}"), std::fs::read(&path).unwrap()));
            }
        }
    }
    let img = picture(37, 23);
    let first = picture(16, 12);
    let second = picture(8, 6);
    let anim = riff_chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]);
    files.extend([
        ("planted.jpg".to_owned(), jpeg_with_metadata(&img, None)),
        ("gps.jpg".to_owned(), jpeg_with_gps_and_xmp(&img)),
        ("rotated.jpg".to_owned(), jpeg_with_metadata(&img, Some(6))),
        (
            "planted.png".to_owned(),
            png_insert(&encode_png(&img), &png_metadata_chunks(None)),
        ),
        (
            "rotated.png".to_owned(),
            png_insert(&encode_png(&img), &png_metadata_chunks(Some(8))),
        ),
        ("planted.webp".to_owned(), webp_with_metadata(&img, None)),
        ("rotated.webp".to_owned(), webp_with_metadata(&img, Some(3))),
        (
            "animated.webp".to_owned(),
            animated_webp(
                16,
                12,
                0x02 | 0x08,
                &[
                    anim,
                    webp_frame(&first, 0, 0, &[riff_chunk(b"ZZZZ", SECRET)]),
                    webp_frame(&second, 2, 4, &[]),
                    riff_chunk(b"EXIF", &exif_tiff(None)),
                ],
            ),
        ),
    ]);
    files.sort();
    files
}

#[test]
fn pillow_opens_and_fully_loads_every_cleaned_image() {
    let Some(python) = pillow_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    for (name, input) in inputs() {
        let Ok(out) = Sanitizer::new().sanitize(&name, &input) else {
            continue; // refused (broken.png): corpus.rs checks the rule
        };
        let ext = out.kind().extension();
        let (in_path, out_path) = (
            tmp.path().join(format!("in-{name}.{ext}")),
            tmp.path().join(format!("out-{name}.{ext}")),
        );
        std::fs::write(&in_path, &input).unwrap();
        std::fs::write(&out_path, out.bytes()).unwrap();
        ins.push(in_path);
        outs.push(out_path);
    }
    assert!(outs.len() >= 30, "only {} images were cleaned", outs.len());
    let before = pillow_judges(&python, &ins);
    let after = pillow_judges(&python, &outs);
    let mut failures = Vec::new();
    for (in_path, out_path) in ins.iter().zip(&outs) {
        match (&before[in_path], &after[out_path]) {
            (_, Err(report)) => failures.push(format!("{}: {report}", out_path.display())),
            // An animation keeps every frame.
            (Ok(was), Ok(now)) if was != now => failures.push(format!(
                "{}: {now} frames, the input had {was}",
                out_path.display()
            )),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // The animations are among what was judged.
    let animated = after
        .values()
        .filter(|v| matches!(v, Ok(n) if *n > 1))
        .count();
    assert!(animated >= 3, "only {animated} animations judged");
}

#[test]
fn pillow_reports_a_damaged_image() {
    // The judge can fail: cleaned files cut short, or with a PNG chunk's CRC broken, do not pass.
    let Some(python) = pillow_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let img = picture(40, 30);
    let mut files = Vec::new();
    for (name, input) in [
        ("p.jpg", jpeg_with_metadata(&img, None)),
        ("p.png", encode_png(&img)),
        ("p.webp", encode_webp(&img)),
    ] {
        let out = Sanitizer::new().sanitize(name, &input).unwrap();
        let bytes = out.bytes();
        let whole = tmp.path().join(format!("whole-{name}"));
        let cut = tmp.path().join(format!("cut-{name}"));
        std::fs::write(&whole, bytes).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        files.extend([whole, cut]);
    }
    let mut png = encode_png(&img);
    let iend = png.len() - 12;
    png[iend - 1] ^= 1; // the last IDAT's CRC
    let bad_crc = tmp.path().join("crc.png");
    std::fs::write(&bad_crc, &png).unwrap();
    files.push(bad_crc);
    for (path, verdict) in pillow_judges(&python, &files) {
        let name = path.file_name().unwrap().to_string_lossy();
        assert_eq!(
            verdict.is_ok(),
            name.starts_with("whole-"),
            "{name}: {verdict:?}"
        );
    }
}

/// What libpng's `pngfix` says of `path`: its exit code, 0 when the file reads with no fault
/// (no CRC, length, zlib or truncation error).
fn pngfix(path: &Path) -> i32 {
    let out = std::process::Command::new("pngfix")
        .arg("--quiet")
        .arg(path)
        .output()
        .unwrap();
    out.status.code().unwrap_or(-1)
}

#[test]
fn libpng_reads_every_cleaned_png_without_a_fault() {
    if !pngfix_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, input) in inputs() {
        let Ok(out) = Sanitizer::new().sanitize(&name, &input) else {
            continue;
        };
        if out.kind().extension() != "png" {
            continue;
        }
        let path = tmp.path().join(format!("out-{name}.png"));
        std::fs::write(&path, out.bytes()).unwrap();
        match pngfix(&path) {
            0 => checked += 1,
            code => failures.push(format!("{name}: pngfix exit {code:#04x}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked >= 5, "only {checked} PNGs checked");
}

#[test]
fn libpng_reports_a_damaged_png() {
    // The judge can fail: a broken CRC and a cut file are faults; the whole file is not.
    if !pngfix_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let png = Sanitizer::new()
        .sanitize("p.png", &encode_png(&picture(40, 30)))
        .unwrap()
        .bytes()
        .to_vec();
    let mut bad_crc = png.clone();
    let iend = bad_crc.len() - 12;
    bad_crc[iend - 1] ^= 1; // the last IDAT's CRC
    for (name, bytes, clean) in [
        ("whole.png", &png[..], true),
        ("crc.png", &bad_crc[..], false),
        ("cut.png", &png[..png.len() * 2 / 3], false),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(pngfix(&path) == 0, clean, "{name}");
    }
}
