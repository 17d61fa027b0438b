//! Log output carries no PHI: everything the crate logs while cleaning and refusing inputs that
//! carry a canary (in the file name, the metadata and the content) is captured at the most
//! verbose level and searched for it.
//!
//! The work runs in a child process (this test binary again, running only [`capture_child`])
//! whose global subscriber is the capture. A scoped subscriber in the shared test binary is not
//! enough: a log call site that another test thread reached first can be cached as uninteresting,
//! and its lines are then silently missing from the capture.

use std::process::Command;

use ward_sanitize::Sanitizer;

use crate::common::{
    SECRET, encode_png, jpeg_with_metadata, pdf_with_metadata, picture, png_insert,
    png_metadata_chunks, save, webp_with_metadata,
};

/// Set in the child process: run the logged work with the capture as global subscriber.
const CHILD_ENV: &str = "WARD_LOG_CAPTURE_CHILD";

#[test]
fn nothing_logged_while_cleaning_or_refusing_carries_the_canary() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "logs::capture_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let logs = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed: {}\n{logs}",
        String::from_utf8_lossy(&out.stderr)
    );
    let canary = std::str::from_utf8(SECRET).unwrap();
    assert!(
        logs.contains("upload sanitized") && logs.contains("upload rejected"),
        "the capture saw no log lines, so it proves nothing:\n{logs}"
    );
    assert!(
        !logs.contains(canary),
        "a log line carries the canary:\n{logs}"
    );
}

/// The child's half: does nothing unless [`CHILD_ENV`] is set; logs to standard output at the
/// most verbose level.
#[test]
fn capture_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .init();
    let canary = std::str::from_utf8(SECRET).unwrap();
    let sanitizer = Sanitizer::new();
    let img = picture(64, 48);
    let png = png_insert(&encode_png(&img), &png_metadata_chunks(Some(6)));
    let pdf = save(&mut pdf_with_metadata(2));
    #[allow(unused_mut)]
    let mut inputs = vec![
        ("jpg", jpeg_with_metadata(&img, Some(6))),
        ("png", png),
        ("webp", webp_with_metadata(&img, Some(6))),
        ("pdf", pdf),
    ];
    #[cfg(feature = "heic")]
    inputs.push(("heic", heic_with_canary()));
    for (ext, bytes) in inputs {
        let name = format!("{canary} consent.{ext}");
        let cleaned = sanitizer.sanitize(&name, &bytes).unwrap();
        assert!(!cleaned.bytes().windows(SECRET.len()).any(|w| w == SECRET));
        // Refusals: a content/extension mismatch, a cut file, a refused extension.
        let other = if ext == "pdf" { "jpg" } else { "pdf" };
        assert!(
            sanitizer
                .sanitize(&format!("{canary}.{other}"), &bytes)
                .is_err()
        );
        assert!(
            sanitizer
                .sanitize(&name, &bytes[..bytes.len() / 2])
                .is_err()
        );
        assert!(
            sanitizer
                .sanitize(&format!("{canary}.exe"), &bytes)
                .is_err()
        );
        let _ = ward_sanitize::display_name(&name, cleaned.kind());
    }
}

/// A corpus HEIC whose XMP item carries the canary (written over part of its packet).
#[cfg(feature = "heic")]
fn heic_with_canary() -> Vec<u8> {
    let mut heic = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/heic/L_xmp.heif"
    ))
    .unwrap();
    let at = heic
        .windows(10)
        .position(|w| w == b"<x:xmpmeta")
        .expect("an XMP packet")
        + 100;
    heic[at..at + SECRET.len()].copy_from_slice(SECRET);
    heic
}
